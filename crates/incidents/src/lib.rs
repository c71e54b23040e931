//! # incidents: notice what went wrong, and send someone
//!
//! A capability plug-in of the brain ([`IncidentsPlugin`], registered by the binary's
//! `plugins.rs` through [`Incidents::install`]). It detects incidents on the brain's own
//! feeds, fuses them with camera analytics and citizen reports, carries each event
//! through a reviewed lifecycle and dispatches the response unit that arrives first.
//!
//! ## Glossary
//! - **Report**: one piece of evidence ([`Report`]): a type, a place, a time, a
//!   confidence and its source ([`SourceKind`]: occupancy, speed drop, spillback, queue
//!   gap, signal log, camera, citizen).
//! - **Queue gap**: an approach camera's queue reading much longer than its waiting
//!   vehicles could make: the front of the queue is a vehicle stopped far up the road,
//!   behind something that is not the signal (the strongest detector evidence).
//! - **Alarm**: an event whose confidence reached `auto_verify`; the evaluation counts
//!   detections and false alarms on alarms, from the time they became one
//!   ([`Incident::alarm_at`]).
//! - **Event** ([`Incident`]): reports fused by space–time proximity and type
//!   compatibility ([`IncidentType::compatible`]); its confidence is
//!   `1 − Π(1 − c)` over the best confidence of each distinct source kind, so it rises
//!   only with *independent* corroboration. Congestion reports count only for a
//!   congestion event: a queue never corroborates an obstruction.
//! - **Lifecycle** ([`Status`]): detected → verified → dispatched → on scene → cleared →
//!   closed, or rejected / merged. Every transition is an [`Entry`]: time, from, to,
//!   [`Actor`] (system, operator or unit) and a note; each is journaled in the brain's
//!   store (topic `incident`).
//! - **Penalty types**: illegal parking, red light, wrong way
//!   ([`IncidentType::penalises`]).
//! - **Unit** ([`Unit`]): police, ambulance, tow truck or fire engine with a home base, a
//!   status and a live position on the network.
//! - **Live travel time**: Dijkstra over roads at the brain's fused speeds
//!   ([`dispatch::fastest`]).
//! - **Escalation**: an alert not accepted within `accept_timeout_s` goes to the next unit.
//! - **Reassignment**: a unit that frees up and would arrive `reassign_margin_s` sooner
//!   than the one on its way takes over.
//! - **Dispatch queue**: events verified with no suitable unit free wait, recorded in
//!   [`Incident::queued_at`], and are served on every tick by
//!   [`IncidentType::dispatch_priority`], then by time waiting; a life-threatening event
//!   that finds none takes a unit on its way (not yet on scene) to an event that is not.
//! - **Mutual aid** ([`UnitKind::aids`]): police for tow-truck work, a fire engine for a
//!   collision, only when none of the type's own units is free.
//!
//! ## Invariants
//! - **No automated penalty path.** An event of a penalty type reaches `verified` only by
//!   an operator's action, and is never dispatched before; `verified_by` names the
//!   operator. The type of an event is refined by later reports only while it is
//!   `detected`, so a system verification never covers a type that penalises.
//! - **Every transition is attributed and stored**: the timeline in memory and the
//!   journal in the store receive the same entries, the journal after the capability's
//!   lock is released (no IO under the lock).
//! - **Dispatch by travel time**: the chosen unit is the suitable free one with the
//!   smallest live travel time on the network, never the straight-line nearest.
//! - **Deterministic**: no clock or randomness of its own; times come from the brain,
//!   virtual cameras draw from a seeded generator, maps iterate in key order.
//! - **Every runtime call passes [`brain::Brain::authorize`]** with its `Action`
//!   (`ReportIncident`, `ReadIncidents`, `OperateIncidents`, `ActAsUnit`).

pub mod cameras;
pub mod core;
pub mod detect;
pub mod detect_flow;
pub mod detect_log;
pub mod dispatch;
pub mod fusion;
pub mod model;
pub mod score;
mod service;

pub use crate::core::{Clearance, Core, IncidentsConfig, PriorityDispatch};
pub use dispatch::{Speeds, Spot, Unit, UnitStatus};
pub use fusion::{Fusion, FusionConfig, Incident};
pub use model::{Actor, Entry, IncidentType, LifecycleError, Report, SourceKind, Status, UnitKind};
pub use service::{validate, Incidents, IncidentsError, IncidentsPlugin, ReportInput, Watch, MAX_TEXT};
