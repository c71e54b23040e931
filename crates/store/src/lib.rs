//! # store: citybrain's embedded storage
//!
//! Everything the brain must remember, behind the backend-neutral [`Store`] trait
//! (shared as `Arc<dyn Store>`), with one implementation on a single SQLite file
//! ([`SqliteStore`]). A second backend (PostgreSQL) implements the same trait, reuses
//! [`agg`] (bucketing, aggregation, snapshot blobs), [`codec`] and [`keys`], and must pass
//! the `conformance` suite unchanged (module `store::conformance`, cargo feature
//! `conformance`).
//!
//! ## Glossary
//! - **Raw observation**: one accepted [`sense::Observation`], stored losslessly (one
//!   row, fixed numeric columns per kind, see [`codec`]); kept for `Retention::raw_s`.
//! - **Key**: the store's integer for a road or intersection **name** (a dictionary in
//!   storage, see [`keys`]). Storage never holds the dense [`city::RoadId`] /
//!   [`city::IntersectionId`] of one import (they change with import order); the API takes
//!   and returns the typed ids of the network the store was opened with and maps them
//!   through the names. Sensors are stored by their external id, lanes as (road, index in
//!   road), movements as (from road, to road).
//! - **Aggregate**: per road key and bucket of 1 or 15 minutes: vehicles counted by the
//!   road's loops (bucketed by the aggregate's end time) and the sum and number of the
//!   fused speeds of the state snapshots in the bucket (see [`agg`]).
//! - **Snapshot**: a [`state::CityState`] reduced to the city KPIs, per-district KPIs and
//!   a compact blob of per-road speeds (little-endian `f32` at position = road key,
//!   NaN = unknown).
//! - **Scope / resolution**: what a history query covers (a road, a district by name, the
//!   city) and at which step (every snapshot, 1 minute, 15 minutes).
//! - **Time**: `f64` seconds of the brain's clock, as the caller passes them (Unix
//!   seconds UTC in a deployment); buckets are aligned on multiples of their length;
//!   the store never reads a wall clock and assumes no epoch (no "seconds since midnight").
//! - **Schema version**: [`SCHEMA_VERSION`] (3). A version-2 file is migrated in place on
//!   open, in one transaction; a newer version is refused ([`StoreErrorKind::Schema`]).
//!
//! ## Invariants
//! - Durability: when an `append*` call returns `Ok`, its rows are one committed SQLite
//!   transaction in the write-ahead log (WAL mode, `synchronous=NORMAL`) and visible to
//!   every later read from any thread: they survive a crash or kill of the process; an OS
//!   crash or power loss may lose the last transactions committed since the last
//!   checkpoint (but never corrupts the file). A failed append (e.g. disk full) leaves
//!   nothing of its batch behind. The WAL is checkpointed into the main file every 64 MiB
//!   (and on close), so up to that much may live only in `<file>-wal`; copy both files
//!   (or reopen and close first) when backing up.
//! - Restart continuity: reopening a file sees everything committed before;
//!   [`Store::last_time`] is the latest time stored.
//! - Aggregates are additive upserts, so a bucket that straddles a restart is completed,
//!   not overwritten.
//! - [`Store::prune`] only deletes rows older than their retention window, and refuses
//!   a `now` that is not finite or more than [`PRUNE_MAX_AHEAD_S`] (1 day) beyond the
//!   newest stored time: one absurd time never wipes the store. `now` must be the brain's
//!   clock (which never jumps), not a record's time.
//! - Bounded reads: `history`, `signal_events`, `observations` and `rejected` take a
//!   `limit`; the caller bounds the time window. Rejected raw bodies are stored truncated
//!   to [`agg::MAX_REJECTED_RAW`] bytes with the marker `…[truncated, N bytes total]`.
//! - Errors are [`StoreError`] (a kind + the backend's message as text; `Send + Sync`);
//!   [`StoreError::is_unavailable`] (full or unavailable) means "503", and
//!   [`Store::health`] reports it until a write succeeds again.
//!
//! ## Lock discipline ([`SqliteStore`])
//! - `writer` (mutex around the one writer connection): held for exactly one write
//!   transaction (`append*`, `prune`, the `health` probe). Never held across a read, a
//!   call into caller code, or a wait for anything but SQLite's own file lock. `health`
//!   only `try_lock`s it (a running write means the writer works).
//! - `readers` (mutex around the idle read connections): held only to pop or push one
//!   connection, never during a query. Reads run on their own WAL connection and see the
//!   last committed state, so a long history or events read never blocks a write, and a
//!   write never blocks a read.
//! - `sensors` (RwLock, sensor name dictionary): read briefly during an append or a
//!   decode; written after the writer's commit (order: `writer` then `sensors`).
//! - `write_failure` (mutex, last write error): a leaf, held for a copy.
//! - `prune` holds the writer for its whole delete transaction: appends wait for it (run
//!   it at a quiet moment or with a short retention step), reads do not.

pub mod agg;
pub mod codec;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
pub mod keys;
mod sqlite;

pub use error::{StoreError, StoreErrorKind};
pub use sqlite::{SqliteStore, SCHEMA_VERSION};

use std::sync::Arc;

use city::{IntersectionId, RoadId};
use sense::EventCode;
use sense::{Observation, ObservationSink, Rejected, SensorRegistry, SinkError};
use state::CityState;

/// How far `prune`'s `now` may lie beyond the newest stored time, seconds (1 day): a
/// later `now` is refused, so one absurd time can never make retention delete
/// everything.
pub const PRUNE_MAX_AHEAD_S: f64 = 86_400.0;

/// How long each kind of row is kept, seconds of the brain's clock (`None` = forever).
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
    /// Store-assigned id, increasing with insertion: the cursor of [`Store::rejected`].
    pub id: u64,
    /// Brain time at which the batch was received.
    pub time: f64,
    pub batch: u64,
    pub index: u64,
    /// The validation error (at most [`agg::MAX_REJECTED_ERROR`] bytes plus the marker).
    pub error: String,
    /// The raw record (at most [`agg::MAX_REJECTED_RAW`] bytes, then
    /// `…[truncated, N bytes total]`).
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

/// One entry of the journal: an append-only record kept for a capability (incident
/// lifecycle transitions, ...), opaque to the store.
#[derive(Clone, Debug, PartialEq)]
pub struct JournalEntry {
    /// Assigned by the store, increasing.
    pub id: u64,
    /// What the entry belongs to (`incident`).
    pub topic: String,
    /// The entity inside the topic (an event id).
    pub key: String,
    pub time: f64,
    /// The caller's JSON (opaque to the store).
    pub body: String,
}

/// The brain's storage, shared as `Arc<dyn Store>`: every method takes `&self`, writes
/// are serialised inside the implementation and reads never wait for writes.
///
/// Ids in the API are the typed ids of the network the store was opened with; storage
/// keeps names (see [`keys`]). All times are the caller's `f64` seconds (the brain's
/// clock); the store never reads a wall clock and assumes nothing about the epoch.
pub trait Store: Send + Sync {
    /// Append accepted observations in one transaction (also feeding loop counts into
    /// the 1- and 15-minute aggregates). When it returns `Ok`, the rows are durable and
    /// visible to every later read; on `Err` nothing of the batch is stored.
    fn append(&self, registry: &SensorRegistry, obs: &[Observation]) -> Result<(), StoreError>;
    /// As [`Store::append`], for observations that may carry the device's record id
    /// (`ids[i]` belongs to `obs[i]`; both slices have the same length). A record is
    /// identified by its sensor, time and id (a device may reuse ids at other times, e.g.
    /// a daily sequence). An observation whose key is already stored (by an earlier call,
    /// or earlier in this batch) is not stored again: a unique index on the key decides
    /// in the same transaction as the rows, so two concurrent calls never both store one
    /// record. Returns, per observation, whether it was stored now (`false`: a
    /// duplicate). Record ids are kept as long as raw observations (`Retention::raw_s`,
    /// by the observation's time). A backend without record ids stores batches without
    /// any id and refuses the others.
    fn append_identified(
        &self,
        registry: &SensorRegistry,
        obs: &[Observation],
        ids: &[Option<&str>],
    ) -> Result<Vec<bool>, StoreError> {
        if ids.len() != obs.len() {
            return Err(StoreError::invalid(format!("{} record ids for {} observations", ids.len(), obs.len())));
        }
        if ids.iter().all(Option::is_none) {
            return self.append(registry, obs).map(|()| vec![true; obs.len()]);
        }
        Err(StoreError::backend("this store keeps no record ids".to_string()))
    }
    /// For each `(sensor id, time, record id)`, whether it is already stored. A read, so a
    /// key being stored concurrently may be missed: [`Store::append_identified`] decides.
    fn known_record_ids(&self, keys: &[(&str, f64, &str)]) -> Result<Vec<bool>, StoreError> {
        Ok(vec![false; keys.len()])
    }
    /// Append a state snapshot (city and district KPIs, per-road speeds) and fold its
    /// road speeds into the aggregates.
    fn append_snapshot(&self, s: &CityState) -> Result<(), StoreError>;
    /// Record a signal plan (opaque JSON) that took effect at `time`.
    fn append_plan(&self, time: f64, intersection: &str, plan_json: &str) -> Result<(), StoreError>;
    /// Record rejected records received at `time` (raw bodies and errors truncated to
    /// a bound with a marker).
    fn append_rejected(&self, time: f64, rejected: &[Rejected]) -> Result<(), StoreError>;
    /// Replace the retention windows (the governance policy may change them while the
    /// store runs); the next [`Store::prune`] applies them.
    fn set_retention(&self, retention: Retention);
    /// Delete rows older than their retention window before `now`. `now` is the brain's
    /// clock (which never jumps); a non-finite `now`, or one more than
    /// [`PRUNE_MAX_AHEAD_S`] beyond the newest stored time, is refused with
    /// [`StoreErrorKind::InvalidArgument`] and deletes nothing.
    fn prune(&self, now: f64) -> Result<PruneReport, StoreError>;
    /// History of a scope over `[from, to)` at a resolution, in time order, at most
    /// `limit` points (the earliest ones).
    fn history(&self, scope: &Scope, from: f64, to: f64, res: Resolution, limit: usize) -> Result<Vec<HistoryPoint>, StoreError>;
    /// Raw observations with `from <= time < to`, in insertion order, at most `limit`.
    /// Rows whose sensor is not in `registry` (or whose road / intersection is not in the
    /// store's network) are skipped.
    fn observations(&self, registry: &SensorRegistry, from: f64, to: f64, limit: usize) -> Result<Vec<Observation>, StoreError>;
    /// ATSPM events (phase and detector) of one controller with `from <= time < to`, in
    /// insertion order, at most `limit`: `(time, code, param)`. Read from the raw
    /// observations, so they are kept for `Retention::raw_s`.
    fn signal_events(
        &self,
        intersection: IntersectionId,
        from: f64,
        to: f64,
        limit: usize,
    ) -> Result<Vec<(f64, EventCode, u32)>, StoreError>;
    /// The latest snapshot, if any.
    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError>;
    /// The latest snapshot at or before `t` (the earliest one if all are later), for replay.
    fn snapshot_at(&self, t: f64) -> Result<Option<StoredSnapshot>, StoreError>;
    /// Stored rejections newest first: at most `limit` with `id < before` (all when
    /// `None`). The next page is `before = Some(last.id)`.
    fn rejected(&self, before: Option<u64>, limit: usize) -> Result<Vec<StoredRejection>, StoreError>;
    /// Plans of an intersection (all when `None`) with `from <= time < to`, in time order.
    fn plans(&self, intersection: Option<&str>, from: f64, to: f64) -> Result<Vec<StoredPlan>, StoreError>;
    /// The latest time of any stored observation or snapshot.
    fn last_time(&self) -> Result<Option<f64>, StoreError>;
    /// Whether the store can write now: `Err` (usually [`StoreErrorKind::Full`] or
    /// [`StoreErrorKind::Unavailable`]) if the last data write failed and none has
    /// succeeded since, or a tiny write probe fails. Never waits for a running write.
    fn health(&self) -> Result<(), StoreError>;
    /// Append an entry to the journal (kept until deleted; retention does not prune it).
    /// Returns its id. Backends without a journal refuse with
    /// [`StoreErrorKind::Backend`].
    fn append_journal(&self, topic: &str, key: &str, time: f64, body: &str) -> Result<u64, StoreError> {
        let _ = (topic, key, time, body);
        Err(StoreError::backend("this store keeps no journal".to_string()))
    }
    /// Journal entries of `topic` (and of `key` when given) in id order, at most `limit`
    /// (the earliest ones).
    fn journal(&self, topic: &str, key: Option<&str>, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let _ = (topic, key, limit);
        Err(StoreError::backend("this store keeps no journal".to_string()))
    }
}

/// A [`Store`] as a pipeline sink (appends each accepted batch).
#[derive(Clone)]
pub struct StoreSink(pub Arc<dyn Store>);

impl ObservationSink for StoreSink {
    fn accept(&mut self, batch: &[Observation], registry: &SensorRegistry) -> Result<(), SinkError> {
        self.0.append(registry, batch).map_err(|e| SinkError { sink: "store".into(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests;
