//! # corridor: an emergency green corridor, then the city back
//!
//! A capability plug-in of the brain ([`CorridorPlugin`], registered by the binary's
//! `plugins.rs` through [`Corridors::install`]). A request (origin, destination, vehicle
//! type, priority, requester, reason) becomes a route on live travel times; the
//! emergency vehicle drives it in the twin; at every signal of the route the engine
//! predicts its arrival each step, places a preemption call on the safety layer early
//! enough that the queue ahead is flushed and its movement is green on arrival, holds
//! it until the vehicle has passed, and then serves the queues it built (recovery).
//!
//! ## Glossary
//! - **Corridor** ([`Corridor`]): one request, its route, its vehicle and a
//!   [`SignalPlan`] per signalised intersection on the route.
//! - **ETA**: predicted arrival at a signal's stop line, updated every step from the
//!   vehicle's live position: the rest of the way at its desired speed (links at its turn
//!   speed), at the traffic's speed on its road behind another vehicle, halfway between
//!   on later roads with vehicles on its lanes, plus the time to accelerate.
//!   With [`EngineConfig::eta`] set to a car-following model ([`predict`]), a small
//!   simulation of the vehicle's lane ahead instead: the vehicles on it (seen by
//!   detectors, or perfectly: a bound) follow each other and stop at signals not yet
//!   green; the vehicle catches up with them and is held to their speed.
//! - **Route**: the fastest on live travel times (as without a corridor), or with
//!   [`RouteMode::Lanes`] the fastest for a vehicle with green signals that cannot
//!   overtake ([`route`]), taken only where the car-following prediction expects it
//!   faster.
//! - **Lead**: how long before the ETA the call is placed: minimum green + yellow +
//!   all-red (the worst wait for a phase change) + the flush of the queue ahead
//!   (2 s per queued vehicle per lane) + a margin, at most 90 s.
//! - **Call**: a [`control::Call`] on [`control::SafetyLayer::preempt`]: `Preempt` for
//!   the vehicle's movement, `Recovery` for a starved movement afterwards.
//! - **Recovery**: after the vehicle passed a signal, the movements the preemption kept
//!   red are served in order of their waiting queues (at most 30 s each, until the queue
//!   is down to one), then the policy resumes.
//! - **Stuck**: a vehicle standing still for `model::STUCK_S` (30 s) with its green held
//!   is held by something else (a crash, a queue that cannot move): the corridor gives
//!   its calls back and calls again once the vehicle moves.
//! - **Cost**: vehicle-seconds other traffic waits at a signal's other approaches while
//!   it is preempted; the paired evaluation ([`eval`]) measures the full cost.
//!
//! ## Invariants
//! - **Preemption only through the safety layer.** The engine never sets a signal: it
//!   places and releases calls; the safety layer keeps minimum green, yellow and
//!   all-red, and shows no conflicting greens.
//! - **Business rule.** Only a dispatch with a priority flag
//!   ([`incidents::IncidentType::corridor_priority`]) or a caller that
//!   [`brain::Brain::authorize`] allows `Action::StartCorridor` (emergency services'
//!   operators and services in `governance::authz`) starts a corridor. Every corridor is
//!   recorded ([`brain::Brain::record_decision`]) with who asked and why when accepted,
//!   and with what it cost when it ends; both are journaled (topic `corridor`).
//! - **Deterministic.** Concurrent calls at one intersection are ranked by priority,
//!   then corridor id; corridors are stepped in id order.
//! - **No IO of its own**; the twin is driven only through `Sim::spawn_vehicle_as`
//!   (as a dispatched unit, or as a CityFlow flow entry for the external check:
//!   [`external`], [`EngineConfig::spawn`]).

pub mod engine;
pub mod eta_causes;
pub mod eval;
pub mod external;
pub mod kpi;
pub mod model;
pub mod predict;
pub mod report;
pub mod route;
mod service;

pub use engine::{CorridorError, Engine, EngineConfig};
pub use kpi::MonthCosts;
pub use model::{Corridor, Request, Requester, SignalPlan, Stage, Status, VehicleType, MAX_PRIORITY};
pub use predict::EtaModel;
pub use report::Report;
pub use route::RouteMode;
pub use service::{route_names, CorridorPlugin, Corridors, CorridorsError, StartInput, MAX_REASON};
