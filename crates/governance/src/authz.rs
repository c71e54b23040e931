//! The decision: [`Governance::decide`] is the one function behind
//! [`brain::Brain::authorize`] (through [`Access`]), and governance's own calls use it
//! too. Reads and writes of non-public data it allows are audited; so are refusals of
//! authenticated principals.

use std::sync::Arc;

use brain::{Action, Authorizer, Caller, Decision, Denied, Role, Scopes};
use serde::Serialize;

use crate::audit::{AuditKind, AuditRecord, Entry};
use crate::error::GovError;
use crate::gov::{check_name, forbidden, now, Governance};
use crate::model::{datasets, Classification, Dataset, Grant};

/// [`Governance`] as the brain's [`Authorizer`].
#[derive(Clone)]
pub struct Access(pub Arc<Governance>);

impl Authorizer for Access {
    fn authorize(&self, caller: &Caller, action: &Action<'_>) -> Result<(), Denied> {
        self.0.decide(caller, action)
    }
    fn decision(&self, d: &Decision) {
        self.0.record(Entry {
            kind: Some(AuditKind::Decision),
            actor: d.source.clone(),
            dataset: Some(datasets::TRANSPARENCY.into()),
            detail: format!("{} {} at city time {:.0}: {}", d.kind, d.subject, d.time, d.reason),
            ..Default::default()
        });
    }
    fn standing(&self, caller: &Caller) -> Option<Caller> {
        self.0.standing(caller)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    Manage,
}

/// The dataset and operation an action is about.
fn target<'a>(action: &'a Action<'a>) -> Option<(&'a str, Op)> {
    use datasets::*;
    #[allow(unreachable_patterns)]
    Some(match action {
        Action::Ingest | Action::IngestFor { .. } | Action::ReadOwned { .. } => return None,
        Action::Read { dataset } => (dataset, Op::Read),
        Action::Write { dataset } => (dataset, Op::Write),
        Action::Manage { dataset } => (dataset, Op::Manage),
        Action::ReadLive => (ROAD_STATE, Op::Read),
        Action::ReadHistory => (AGGREGATES, Op::Read),
        Action::ReadRaw { .. } => (SIGNAL_EVENTS, Op::Read),
        Action::ReadRejected => (REJECTED, Op::Read),
        Action::ReadSensors => (SENSORS, Op::Read),
        Action::ReadEvents => (EVENTS, Op::Read),
        Action::ReadMetrics => (METRICS, Op::Read),
        // Reports of incidents come from anyone (citizens, cameras): they only raise
        // candidates, which the fusion weighs and an operator reviews.
        Action::ReportIncident => return None,
        Action::ReadIncidents => (INCIDENTS, Op::Read),
        Action::OperateIncidents | Action::ActAsUnit { .. } => (INCIDENTS, Op::Write),
        // The right to start a green corridor: emergency services' operators and services.
        Action::StartCorridor => (CORRIDORS, Op::Write),
        Action::ReadCorridors => (CORRIDORS, Op::Read),
        // An action this crate does not know yet: nobody but the system.
        _ => ("unmapped-action", Op::Manage),
    })
}

/// A grant as listed to its owner or grantee.
#[derive(Clone, Debug, Serialize)]
pub struct GrantView {
    #[serde(flatten)]
    pub grant: Grant,
    pub owner: String,
    pub active: bool,
}

impl Governance {
    /// The dataset called `name`: the catalogue's, or a department's ticket queue
    /// (`tickets:<department>`, personal, owned by that department) or the department
    /// itself (`department:<id>`, for administration), or its NGSI-LD tenant
    /// (`ngsi-ld:<department>`, restricted: its own systems write it, others read with a
    /// grant).
    pub fn dataset(&self, name: &str) -> Option<Dataset> {
        if let Some(d) = self.cache().datasets.get(name) {
            return Some(d.clone());
        }
        let (kind, dept) = name.split_once(':')?;
        if !self.cache().departments.contains_key(dept) {
            return None;
        }
        let class = match kind {
            "tickets" => Classification::Personal,
            "department" | "ngsi-ld" => Classification::Restricted,
            _ => return None,
        };
        Some(Dataset { name: name.into(), owner: dept.into(), class, description: String::new() })
    }

    /// `caller` as it stands now: an account of this store that was disabled or removed is
    /// `None`; one that exists gets its recorded department and role, and its scopes
    /// capped by the role's. Callers this store does not hold (OpenID Connect users, the
    /// edge's conformance caller, the system) are as they were; accounts are disabled,
    /// never deleted.
    pub fn standing(&self, caller: &Caller) -> Option<Caller> {
        if caller.role == Role::System || caller.is_public() {
            return Some(caller.clone());
        }
        let c = self.cache();
        match c.principals.get(&caller.principal) {
            Some(p) if p.disabled => None,
            Some(p) => Some(Caller {
                department: Some(p.department.clone()),
                role: p.role,
                scopes: brain::Scopes(caller.scopes.0 & crate::model::role_scopes(p.role).0),
                ..caller.clone()
            }),
            None => Some(caller.clone()),
        }
    }

    /// Decide whether `caller` may do `action`; audit what must be.
    pub fn decide(&self, caller: &Caller, action: &Action<'_>) -> Result<(), Denied> {
        if caller.role == Role::System {
            return Ok(());
        }
        if let Action::IngestFor { sensor, owner } = action {
            // Per record on the ingestion path: no audit here (the batch is audited once).
            return if caller.department.as_deref() == Some(*owner) && caller.scopes.contains(Scopes::WRITE) {
                Ok(())
            } else {
                Err(Denied(format!(
                    "sensor {sensor} belongs to {owner}; {} may not post for it",
                    if caller.principal.is_empty() { "the public" } else { &caller.principal }
                )))
            };
        }
        if let Action::Ingest = action {
            // The batch: any department's writer; each record is then checked for its
            // sensor's owner (`IngestFor`). Audited once per batch.
            let ok = !caller.is_public() && caller.scopes.contains(Scopes::WRITE) && caller.role != Role::Viewer;
            if !ok {
                return Err(Denied(if caller.is_public() {
                    "posting observations needs a department's service token".into()
                } else {
                    format!("{} may not post observations (needs the write scope)", caller.principal)
                }));
            }
            self.record(Entry {
                kind: Some(AuditKind::Write),
                actor: caller.principal.clone(),
                department: caller.department.clone(),
                dataset: Some(datasets::OBSERVATIONS.into()),
                owner: caller.department.clone(),
                purpose: caller.purpose.clone(),
                detail: "observation batch".into(),
            });
            return Ok(());
        }
        if let Action::ReadOwned { dataset, owner } = action {
            // A lookup among records of `dataset` (the dataset's read was audited when
            // the caller got there): not audited again, a mismatch is "not yours".
            if caller.department.as_deref() != Some(*owner) {
                return Err(Denied(format!("this record of {dataset} belongs to {owner}")));
            }
            return self.check(caller, dataset, Op::Read).map(|_| ());
        }
        let Some((name, op)) = target(action) else { return Ok(()) };
        let outcome = self.check(caller, name, op);
        match &outcome {
            Ok(Some(_)) if op == Op::Manage => {} // the change itself is audited with its detail
            Ok(Some((ds, purpose))) => self.record(Entry {
                kind: Some(if op == Op::Read { AuditKind::Read } else { AuditKind::Write }),
                actor: caller.principal.clone(),
                department: caller.department.clone(),
                dataset: Some(ds.name.clone()),
                owner: Some(ds.owner.clone()),
                purpose: match (purpose, &caller.purpose) {
                    (Some(g), Some(d)) => Some(format!("{g}; declared: {d}")),
                    (g, d) => g.clone().or_else(|| d.clone()),
                },
                detail: format!("{action:?}"),
            }),
            Ok(None) => {}
            Err(d) if !caller.is_public() => self.record(Entry {
                kind: Some(AuditKind::Denied),
                actor: caller.principal.clone(),
                department: caller.department.clone(),
                dataset: Some(name.into()),
                owner: self.dataset(name).map(|d| d.owner),
                purpose: caller.purpose.clone(),
                detail: d.0.clone(),
            }),
            Err(_) => {}
        }
        outcome.map(|_| ())
    }

    /// `Ok(None)`: allowed, nothing to audit (public data); `Ok(Some((dataset, grant
    /// purpose)))`: allowed and audited.
    fn check(&self, caller: &Caller, name: &str, op: Op) -> Result<Option<(Dataset, Option<String>)>, Denied> {
        let ds = self.dataset(name).ok_or_else(|| Denied(format!("{name}: no such dataset, so no rule allows it")))?;
        let who = if caller.principal.is_empty() { "the public".to_string() } else { caller.principal.clone() };
        let own = caller.department.as_deref() == Some(ds.owner.as_str());
        match op {
            Op::Read => {
                if ds.class == Classification::Public {
                    return Ok(None);
                }
                if caller.is_public() {
                    return Err(Denied(format!("{name} is {}: authentication required", ds.class.as_str())));
                }
                if !caller.scopes.contains(Scopes::READ) {
                    return Err(Denied(format!("this credential of {who} has no read scope")));
                }
                if ds.class == Classification::Internal || own {
                    return Ok(Some((ds, None)));
                }
                let t = now();
                let c = self.cache();
                let grant = c.grants.iter().find(|g| {
                    g.dataset == name
                        && g.active(t)
                        && (g.grantee == caller.principal || Some(g.grantee.as_str()) == caller.department.as_deref())
                });
                match grant {
                    Some(g) => {
                        let purpose = Some(format!("grant {}: {}", g.id, g.purpose));
                        drop(c);
                        Ok(Some((ds, purpose)))
                    }
                    None => Err(Denied(format!(
                        "{name} is {} data of {}: {who} needs a grant from its owner",
                        ds.class.as_str(),
                        ds.owner
                    ))),
                }
            }
            Op::Write => {
                let ok = own && caller.scopes.contains(Scopes::WRITE) && caller.role != Role::Viewer;
                if ok {
                    Ok(Some((ds, None)))
                } else {
                    Err(Denied(format!("only {}'s services and operators may write {name}; not {who}", ds.owner)))
                }
            }
            Op::Manage => {
                if own && caller.role == Role::Admin && caller.scopes.contains(Scopes::ADMIN) {
                    Ok(Some((ds, None)))
                } else {
                    Err(Denied(format!("only an administrator of {} may manage {name}; not {who}", ds.owner)))
                }
            }
        }
    }

    /// Issue a grant on `dataset` (restricted or personal) to `grantee` (a department or
    /// a principal) for `purpose` until `expires` (Unix seconds). Only the owner's
    /// administrators may.
    pub fn grant(&self, by: &Caller, dataset: &str, grantee: &str, purpose: &str, expires: f64) -> Result<Grant, GovError> {
        self.decide(by, &Action::Manage { dataset }).map_err(forbidden)?;
        let ds = self.dataset(dataset).ok_or_else(|| GovError::NotFound { what: "dataset", id: dataset.into() })?;
        if matches!(ds.class, Classification::Public | Classification::Internal) {
            return Err(GovError::Invalid(format!("dataset: {dataset} is {}, it needs no grant", ds.class.as_str())));
        }
        check_name("grantee", grantee)?;
        let known = {
            let c = self.cache();
            c.departments.contains_key(grantee) || c.principals.contains_key(grantee)
        };
        if !known {
            return Err(GovError::NotFound { what: "grantee (department or principal)", id: grantee.into() });
        }
        let purpose = purpose.trim();
        if purpose.is_empty() || purpose.chars().count() > 200 {
            return Err(GovError::Invalid("purpose: 1-200 characters saying why the data is needed".into()));
        }
        let t = now();
        if !(expires.is_finite() && expires > t && expires <= t + 366.0 * 86_400.0) {
            return Err(GovError::Invalid(format!("expires: a Unix time within the next year, got {expires}")));
        }
        let mut g = Grant {
            id: 0,
            dataset: dataset.into(),
            grantee: grantee.into(),
            purpose: purpose.into(),
            expires,
            issued_by: by.principal.clone(),
            created: t,
            revoked: None,
        };
        g.id = self.with_db(|c| crate::db::insert_grant(c, &g))?;
        self.cache.write().unwrap_or_else(|e| e.into_inner()).grants.push(g.clone());
        self.record(Entry {
            kind: Some(AuditKind::Grant),
            actor: by.principal.clone(),
            department: by.department.clone(),
            dataset: Some(dataset.into()),
            owner: Some(ds.owner),
            purpose: Some(g.purpose.clone()),
            detail: format!("grant {} to {grantee} until {expires:.0}", g.id),
        });
        Ok(g)
    }

    /// Revoke a grant: the next request of the grantee is refused.
    pub fn revoke_grant(&self, by: &Caller, id: u64) -> Result<(), GovError> {
        let g = self
            .cache()
            .grants
            .iter()
            .find(|g| g.id == id)
            .cloned()
            .ok_or_else(|| GovError::NotFound { what: "grant", id: id.to_string() })?;
        self.decide(by, &Action::Manage { dataset: &g.dataset }).map_err(forbidden)?;
        if g.revoked.is_some() {
            return Ok(());
        }
        let t = now();
        self.with_db(|c| crate::db::revoke_grant(c, id, t))?;
        if let Some(x) = self.cache.write().unwrap_or_else(|e| e.into_inner()).grants.iter_mut().find(|g| g.id == id) {
            x.revoked = Some(t);
        }
        self.record(Entry {
            kind: Some(AuditKind::Grant),
            actor: by.principal.clone(),
            department: by.department.clone(),
            dataset: Some(g.dataset.clone()),
            owner: self.dataset(&g.dataset).map(|d| d.owner),
            purpose: Some(g.purpose.clone()),
            detail: format!("grant {id} to {} revoked", g.grantee),
        });
        Ok(())
    }

    /// Grants on the caller's department's datasets, and grants held by the caller.
    pub fn grants(&self, by: &Caller) -> Vec<GrantView> {
        let t = now();
        let grants = self.cache().grants.clone();
        grants
            .into_iter()
            .filter_map(|g| {
                let owner = self.dataset(&g.dataset)?.owner;
                let mine = by.department.as_deref() == Some(owner.as_str())
                    || g.grantee == by.principal
                    || Some(g.grantee.as_str()) == by.department.as_deref();
                (mine && !by.is_public()).then(|| GrantView { active: g.active(t), owner, grant: g })
            })
            .collect()
    }

    /// The audit trail of the caller's department's data: who read or wrote it, when and
    /// for what purpose, and the grant changes. Administrators of the owner only.
    pub fn audit_of(&self, by: &Caller, dataset: Option<&str>, limit: usize) -> Result<Vec<AuditRecord>, GovError> {
        let dept = by.department.clone().ok_or_else(|| GovError::Forbidden("the public has no audit trail".into()))?;
        self.decide(by, &Action::Manage { dataset: &format!("department:{dept}") }).map_err(forbidden)?;
        self.audit.query(limit, |r| {
            r.owner.as_deref() == Some(dept.as_str())
                && dataset.is_none_or(|d| r.dataset.as_deref() == Some(d))
                && r.kind != AuditKind::Decision
        })
    }

    /// The public transparency log: automated decisions acting on the city.
    pub fn transparency(&self, limit: usize) -> Result<Vec<AuditRecord>, GovError> {
        self.audit.query(limit, |r| r.kind == AuditKind::Decision)
    }
}
