//! # store: citybrain's embedded storage
//!
//! Everything the brain must remember, behind the [`Store`] trait, with one
//! implementation on a single SQLite file ([`SqliteStore`]).
//!
//! ## Glossary
//! - **Raw observation**: one accepted [`sense::Observation`], stored losslessly (one
//!   row, fixed numeric columns per kind, see [`codec`]); kept for `Retention::raw_s`.
//! - **Aggregate**: per road and bucket of 1 or 15 minutes: vehicles counted by the
//!   road's loops (bucketed by the aggregate's end time) and the mean of the fused speeds
//!   of the state snapshots in the bucket.
//! - **Snapshot**: a [`state::CityState`] reduced to the city KPIs, per-district KPIs and
//!   a compact blob of per-road speeds (little-endian `f32` per road id, NaN = unknown).
//! - **Scope / resolution**: what a history query covers (a road, a district by name, the
//!   city) and at which step (every snapshot, 1 minute, 15 minutes).
//! - **Simulated time**: all times are seconds on the city clock the observations carry;
//!   the store never reads a wall clock.
//!
//! ## Invariants
//! - Durability: when an `append*` call returns `Ok`, its rows are one committed SQLite
//!   transaction in the write-ahead log (WAL mode, `synchronous=NORMAL`): they survive a
//!   crash or kill of the process; an OS crash or power loss may lose the last
//!   transactions committed since the last checkpoint (but never corrupts the file).
//!   A failed append leaves nothing of its batch behind. The WAL is checkpointed into the
//!   main file every 64 MiB (and on close), so up to that much may live only in
//!   `<file>-wal`; copy both files (or reopen and close first) when backing up.
//! - Restart continuity: reopening a file sees everything committed before;
//!   [`Store::last_time`] is the latest simulated time stored.
//! - Aggregates are additive upserts, so a bucket that straddles a restart is completed,
//!   not overwritten.
//! - [`Store::prune`] only deletes rows older than their retention window.

pub mod codec;
mod sqlite;

pub use sqlite::{SqliteStore, SCHEMA_VERSION};

use city::{IntersectionId, RoadId};
use sense::EventCode;
use sense::{Observation, Rejected, SensorRegistry};
use state::CityState;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{path}: schema version {found} is not supported (expected {expected})")]
    Schema { path: String, found: String, expected: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// How long each kind of row is kept, seconds of simulated time (`None` = forever).
#[derive(Clone, Debug, PartialEq)]
pub struct Retention {
    /// Raw observations (incl. signal events). Default 24 h.
    pub raw_s: Option<f64>,
    /// State snapshots. Default 7 days.
    pub snapshots_s: Option<f64>,
    /// 1-minute aggregates. Default 30 days.
    pub minute_s: Option<f64>,
    /// 15-minute aggregates. Default 400 days.
    pub quarter_s: Option<f64>,
    /// Rejected records. Default 7 days.
    pub rejected_s: Option<f64>,
    /// Signal plans. Default forever.
    pub plans_s: Option<f64>,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: f64 = 86_400.0;
        Retention {
            raw_s: Some(DAY),
            snapshots_s: Some(7.0 * DAY),
            minute_s: Some(30.0 * DAY),
            quarter_s: Some(400.0 * DAY),
            rejected_s: Some(7.0 * DAY),
            plans_s: None,
        }
    }
}

/// Rows deleted by one [`Store::prune`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub raw: u64,
    pub snapshots: u64,
    pub aggregates: u64,
    pub rejected: u64,
    pub plans: u64,
}

/// What a history query covers.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    Road(RoadId),
    /// A district by name (as in [`state::AreaState::name`]).
    Area(String),
    City,
}

/// Step of a history query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Every stored snapshot.
    Snapshot,
    Minute,
    FifteenMinutes,
}

impl Resolution {
    /// Bucket length in seconds (`None` for snapshots).
    pub fn seconds(self) -> Option<f64> {
        match self {
            Resolution::Snapshot => None,
            Resolution::Minute => Some(60.0),
            Resolution::FifteenMinutes => Some(900.0),
        }
    }
}

/// One point of a history series. `time` is the snapshot time or the bucket start.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPoint {
    pub time: f64,
    /// Road: mean fused speed; area / city: mean space-mean speed (m/s).
    pub speed: Option<f64>,
    /// Vehicles counted by loops (roads, and the city at 1 / 15 min).
    pub count: Option<u64>,
    /// Road: TTI is not stored; area / city: mean delay index.
    pub delay_index: Option<f64>,
    /// Area / city: mean TPI.
    pub tpi: Option<f64>,
}

/// City KPIs of a stored snapshot, with the per-road speeds.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSnapshot {
    pub time: f64,
    pub delay_index: Option<f64>,
    pub tpi: f64,
    pub mean_speed: Option<f64>,
    pub congested_share: f64,
    /// Per road id, m/s (`f32` precision).
    pub road_speeds: Vec<Option<f32>>,
}

/// A stored rejected record.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRejection {
    /// Simulated time at which the batch was received.
    pub time: f64,
    pub batch: u64,
    pub index: u64,
    pub error: String,
    pub raw: String,
}

/// A stored signal plan.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredPlan {
    pub time: f64,
    pub intersection: String,
    /// The plan as the caller's JSON (opaque to the store).
    pub plan: String,
}

/// The brain's storage.
pub trait Store {
    /// Append accepted observations in one transaction (also feeding loop counts into
    /// the 1- and 15-minute aggregates).
    fn append(&mut self, registry: &SensorRegistry, obs: &[Observation]) -> Result<(), StoreError>;
    /// Append a state snapshot (city and district KPIs, per-road speeds) and fold its
    /// road speeds into the aggregates.
    fn append_snapshot(&mut self, s: &CityState) -> Result<(), StoreError>;
    /// Record a signal plan (opaque JSON) that took effect at `time`.
    fn append_plan(&mut self, time: f64, intersection: &str, plan_json: &str) -> Result<(), StoreError>;
    /// Record rejected records received at `time`.
    fn append_rejected(&mut self, time: f64, rejected: &[Rejected]) -> Result<(), StoreError>;
    /// Delete rows older than their retention window before `now`.
    fn prune(&mut self, now: f64) -> Result<PruneReport, StoreError>;
    /// History of a scope over `[from, to)` at a resolution, in time order.
    fn history(&self, scope: &Scope, from: f64, to: f64, res: Resolution) -> Result<Vec<HistoryPoint>, StoreError>;
    /// Raw observations with `from <= time < to`, in insertion order, at most `limit`.
    /// Rows whose sensor is not in `registry` are skipped.
    fn observations(&self, registry: &SensorRegistry, from: f64, to: f64, limit: usize) -> Result<Vec<Observation>, StoreError>;
    /// ATSPM events (phase and detector) of one controller with `from <= time < to`, in
    /// insertion order: `(time, code, param)`. Read from the raw observations, so they
    /// are kept for `Retention::raw_s`.
    fn signal_events(&self, intersection: IntersectionId, from: f64, to: f64) -> Result<Vec<(f64, EventCode, u32)>, StoreError>;
    /// The latest snapshot, if any.
    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError>;
    /// The latest snapshot at or before `t` (the earliest one if all are later), for replay.
    fn snapshot_at(&self, t: f64) -> Result<Option<StoredSnapshot>, StoreError>;
    /// The most recent rejections, newest first.
    fn rejected(&self, limit: usize) -> Result<Vec<StoredRejection>, StoreError>;
    /// Plans of an intersection (all when `None`) with `from <= time < to`, in time order.
    fn plans(&self, intersection: Option<&str>, from: f64, to: f64) -> Result<Vec<StoredPlan>, StoreError>;
    /// The latest simulated time of any stored observation or snapshot.
    fn last_time(&self) -> Result<Option<f64>, StoreError>;
}

#[cfg(test)]
mod tests;
