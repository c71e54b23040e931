//! Whose a subscription is. A subscription is a standing read: whoever may read a tenant
//! may subscribe to it, and each notification is a read on the subscriber's behalf, so
//! it is authorised again when it is due (`Brain::authorize_standing`: a revoked grant
//! or a disabled account stops it at once). The subscription itself (filters, endpoint,
//! receiver secrets) belongs to the subscriber's department: `Action::ReadOwned` decides
//! who else sees or changes it (nobody; a grant of the tenant does not open it). The same
//! rule keeps a context source registration's `contextSourceInfo` its registrant's.

use brain::{Action, Caller, Role, Scopes};
use serde::{Deserialize, Serialize};

use crate::service::Ngsi;
use crate::subs::Subscription;

/// The caller who made a subscription, as stored with it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Subscriber {
    pub principal: String,
    pub department: Option<String>,
    pub role: String,
    pub scopes: u8,
}

impl Subscriber {
    pub fn of(c: &Caller) -> Subscriber {
        Subscriber {
            principal: c.principal.clone(),
            department: c.department.clone(),
            role: c.role.as_str().into(),
            scopes: c.scopes.0,
        }
    }

    /// The caller a notification of subscription `id` reads as.
    pub fn caller(&self, id: &str) -> Caller {
        Caller {
            principal: self.principal.clone(),
            department: self.department.clone(),
            role: Role::parse(&self.role).unwrap_or(Role::Public),
            scopes: Scopes(self.scopes),
            purpose: Some(format!("NGSI-LD subscription {id}")),
        }
    }
}

impl Ngsi {
    /// Whether `caller` may see and change subscription `s` of `tenant`.
    pub(crate) fn owns_sub(&self, caller: &Caller, tenant: &str, s: &Subscription) -> bool {
        self.owns(caller, tenant, s.subscriber.as_ref().and_then(|x| x.department.as_deref()))
    }

    /// Whether `caller` may see a record department `owner` keeps in `tenant` for itself
    /// (`None`: a record stored before its owner was kept, nobody's but the system's).
    pub(crate) fn owns(&self, caller: &Caller, tenant: &str, owner: Option<&str>) -> bool {
        let Some(b) = self.brain() else { return false };
        b.authorize(caller, Action::ReadOwned { dataset: &Ngsi::dataset(tenant), owner: owner.unwrap_or("") }).is_ok()
    }

    /// Whether `s` may notify now: its subscriber, as the account stands, may read
    /// `tenant`. A subscription stored without its subscriber notifies nobody.
    pub(crate) fn may_deliver(&self, tenant: &str, s: &Subscription) -> bool {
        let ok = match (self.brain(), &s.subscriber) {
            (Some(b), Some(sub)) => {
                b.authorize_standing(&sub.caller(&s.id), Action::Read { dataset: &Ngsi::dataset(tenant) }).is_ok()
            }
            _ => false,
        };
        if !ok {
            self.notifier.withheld.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        ok
    }

    /// Notifications not sent because their subscriber may no longer read the tenant.
    pub fn notifications_withheld(&self) -> u64 {
        self.notifier.withheld.load(std::sync::atomic::Ordering::Relaxed)
    }
}
