//! # control: signal control for citybrain
//!
//! Policies decide which phase each signalised intersection should show; the safety
//! layer turns those wishes into safe signal commands for the twin; the evaluation
//! harness runs a policy on a scenario and reports metrics.
//!
//! ## Glossary
//! - **Movement**: a permitted turn at an intersection (`city` `Movement`); *local*
//!   movement `k` is the `k`-th of its intersection, the index of green masks.
//! - **Approach**: the arm a movement arrives from (N/E/S/W), from the heading of the
//!   last segment of the incoming road.
//! - **Conflict**: two movements whose paths cross inside the junction
//!   (`Network::movements_conflict`), except right turns, movements sharing a from- or
//!   to-road, opposing left turns (NEMA dual left), and pairs some phase of the
//!   roadnet's own plan runs together, which may go together.
//! - **Phase**: a conflict-free green mask; a [`Junction`] has candidate phases
//!   ([`PhaseSet::Four`]: E–W through, N–S through, E–W left, N–S left; or the roadnet's
//!   own [`PhaseSet::Plan`]), right turns green in all of them.
//! - **Yellow / all-red**: the clearance between phases. The twin has no amber, so a
//!   yellow movement is red for vehicles that have not yet entered the junction.
//! - **Pressure**: vehicles waiting to take a movement minus vehicles on its exit lanes.
//! - **Observation**: plain per-lane and per-junction data ([`Observation`]) a policy
//!   decides on; built from the twin now, from real detectors later.
//! - **Protocol**: phase set + [`Timing`] ([`Protocol::Benchmark`], [`Protocol::Operational`]).
//! - **Forecast**: a what-if copy of the twin built from what is observable now (no
//!   future vehicles; routes only to each vehicle's next road, or the present vehicles'
//!   whole routes when the policy asks) that a policy may roll forward ([`Forecast`]);
//!   CityBrain is model-predictive control on it.
//! - **Policy name**: each policy has one command-line name ([`policy::CLI_NAMES`]:
//!   `fixed`, `webster`, `actuated`, `sotl`, `maxpressure`, `citybrainheuristic`,
//!   `citybrain`), which also keys `citybrain eval --json`, and a display name for tables
//!   ([`policy::NAMES`]); [`policy::cli_name`] maps every accepted spelling (display
//!   names, `fixedtime`, `mp`, any case) to the command-line name.
//!
//! ## Invariants
//! - **Only the safety layer touches signals.** Policies get an [`Observation`], never a
//!   `Sim`; only [`SafetyLayer::tick`] calls `set_green` / `release_to_plan`. A
//!   [`Forecast`] holds copies of the twin and the safety layer, never the live ones.
//! - No green mask ever shown contains two conflicting movements; every candidate phase
//!   and every plan handed to the twin passes [`validate_plan`] at construction.
//! - A movement that loses green is followed by `yellow + all_red` seconds before any
//!   movement conflicting with it gets green; a green lasts at least `min_green`
//!   (unless it ends by `max_green`, which is ≥ `min_green`) and at most `max_green`.
//! - Deterministic: the same scenario, policy, protocol and seed give the same result.
//! - The network model comes from `city`; `twin` is a dependency only because the
//!   safety layer ticks a `Sim`, forecasts copy it and the evaluation harness runs it.

pub mod error;
pub mod eval;
pub mod forecast;
pub mod grid;
pub mod junction;
pub mod observe;
pub mod policy;
pub mod preempt;
pub mod report;
pub mod safety;

pub use error::ControlError;
pub use eval::{kdd_score, run, Controller, KddScore, Protocol, RunResult};
pub use forecast::Forecast;
pub use junction::{approach_of, junctions, movements_conflict, validate_plan, Approach, Junction, PhaseSet};
pub use observe::{LaneObs, Observation, Observer};
pub use policy::{Policy, PolicyContext};
pub use preempt::{Call, CallKind, Serving};
pub use report::{markdown_table, svg_plot};
pub use safety::{Request, SafetyLayer, SignalSink, SignalState, Target, Timing, PREEMPT_MAX_DWELL_S};
