//! Retention per dataset class, applied continuously, and the data-protection report.

use serde::Serialize;

use crate::audit::{AuditKind, Entry};
use crate::error::GovError;
use crate::gov::{now, Governance};
use crate::model::Classification;

const DAY: f64 = 86_400.0;

/// How long data of each class is kept, seconds (`None`: no limit).
#[derive(Clone, Debug, PartialEq)]
pub struct RetentionPolicy {
    pub public_s: Option<f64>,
    pub internal_s: Option<f64>,
    pub restricted_s: Option<f64>,
    /// Personal data (plate tokens, citizens' texts): short. Default 7 days.
    pub personal_s: f64,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy { public_s: None, internal_s: Some(400.0 * DAY), restricted_s: Some(90.0 * DAY), personal_s: 7.0 * DAY }
    }
}

impl RetentionPolicy {
    pub fn of(&self, class: Classification) -> Option<f64> {
        match class {
            Classification::Public => self.public_s,
            Classification::Internal => self.internal_s,
            Classification::Restricted => self.restricted_s,
            Classification::Personal => Some(self.personal_s),
        }
    }
}

/// The shorter of two keep times (`None` = forever).
fn min_keep(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Something the brain holds outside governance's own store (the binary fills these in:
/// raw observations with plate tokens in the store, the plate keys in the keystore).
#[derive(Clone, Debug, Serialize)]
pub struct Holding {
    pub dataset: String,
    pub what: String,
    pub where_: String,
    /// Seconds it is kept.
    pub kept_s: Option<f64>,
}

/// One line of the data-protection report.
#[derive(Clone, Debug, Serialize)]
pub struct DpEntry {
    pub dataset: String,
    pub class: String,
    pub owner: String,
    pub description: String,
    /// Seconds the class is kept.
    pub retention_s: Option<f64>,
    /// Who else may read it now: active grants (grantee, purpose, until).
    pub readers: Vec<(String, String, f64)>,
}

/// What personal and restricted data is held, by whom, for how long.
#[derive(Clone, Debug, Serialize)]
pub struct DpReport {
    pub generated: f64,
    pub datasets: Vec<DpEntry>,
    pub holdings: Vec<Holding>,
    /// Citizens' tickets whose text and place are still held, and the oldest one's time.
    pub tickets_with_personal_data: u64,
    pub oldest_ticket: Option<f64>,
}

impl Governance {
    /// Apply retention at `t` (wall clock): erase the personal parts of old tickets and
    /// drop expired sessions. Returns what was erased (and audits it when anything was).
    pub fn apply_retention(&self, t: f64) -> Result<usize, GovError> {
        let erased = self.erase_tickets_before(t - self.cfg.retention.personal_s)?;
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, s| s.expires > t);
        self.with_db(|c| crate::db::purge_sessions(c, t))?;
        if erased > 0 {
            self.record(Entry {
                kind: Some(AuditKind::Retention),
                actor: "system".into(),
                detail: format!(
                    "personal parts of {erased} ticket(s) erased after {:.0} days",
                    self.cfg.retention.personal_s / DAY
                ),
                ..Default::default()
            });
        }
        Ok(erased)
    }

    /// The store's retention windows under this policy: each kind of stored row is kept
    /// no longer than the class of the catalogue dataset(s) it belongs to allows (the
    /// classes as the catalogue says now), and no longer than `base` (the storage
    /// budget). Raw observations hold `observations` and the controllers' `signal-events`;
    /// snapshots and aggregates are `aggregates`; rejected records `rejected`; plans
    /// `signal-plans`.
    pub fn store_retention(&self, base: &brain::Retention) -> brain::Retention {
        use crate::model::datasets::*;
        let class_limit = |names: &[&str]| -> Option<f64> {
            let c = self.cache();
            names
                .iter()
                // An unknown dataset counts as personal: the shortest window (fail safe).
                .map(|n| self.cfg.retention.of(c.datasets.get(*n).map_or(Classification::Personal, |d| d.class)))
                .fold(None, min_keep)
        };
        let raw = class_limit(&[OBSERVATIONS, SIGNAL_EVENTS]);
        let aggregates = class_limit(&[AGGREGATES]);
        brain::Retention {
            raw_s: min_keep(base.raw_s, raw),
            snapshots_s: min_keep(base.snapshots_s, aggregates),
            minute_s: min_keep(base.minute_s, aggregates),
            quarter_s: min_keep(base.quarter_s, aggregates),
            rejected_s: min_keep(base.rejected_s, class_limit(&[REJECTED])),
            plans_s: min_keep(base.plans_s, class_limit(&[SIGNAL_PLANS])),
        }
    }

    /// The data-protection report; `holdings` are what the rest of the brain holds.
    pub fn dp_report(&self, holdings: Vec<Holding>) -> Result<DpReport, GovError> {
        let t = now();
        let grants = self.cache().grants.clone();
        let datasets = self
            .datasets()
            .into_iter()
            .filter(|d| matches!(d.class, Classification::Personal | Classification::Restricted))
            .map(|d| DpEntry {
                readers: grants
                    .iter()
                    .filter(|g| g.dataset == d.name && g.active(t))
                    .map(|g| (g.grantee.clone(), g.purpose.clone(), g.expires))
                    .collect(),
                retention_s: self.cfg.retention.of(d.class),
                class: d.class.as_str().into(),
                owner: d.owner,
                description: d.description,
                dataset: d.name,
            })
            .collect();
        let (held, oldest) = self.tickets_held()?;
        Ok(DpReport { generated: t, datasets, holdings, tickets_with_personal_data: held, oldest_ticket: oldest })
    }
}
