//! # twin: citybrain's digital twin
//!
//! A microscopic traffic simulator that plays the city: it runs a scenario (imported by
//! `city` from CityFlow, CBEngine or SUMO files, or generated) with a fixed-step
//! car-following simulation that follows CityFlow's vehicle model, takes signal commands
//! and exposes observations for virtual sensors.
//!
//! The network model, IDs, geometry, demand and the importers live in the `city` crate
//! (re-exported here for convenience); this crate adds the engine ([`engine`]), the
//! virtual sensors ([`sensors`]), the city generator ([`gen`]) and the adapter from
//! sensor readings to the wire format ([`wire`]).
//!
//! ## Glossary
//! See `city` for the network terms (intersection, road, lane, movement, lane link,
//! drivable, cross, phase, flow).
//! - **Step**: one tick of simulated time, `dt` seconds (1 s by default).
//! - **Vehicle update**: one vehicle advanced by one step; the unit of simulator speed.
//! - **Incident** ([`incident`]): something that goes wrong for a while: a lane
//!   **obstacle** (crash, stalled vehicle, illegal parking, road works), a closed road
//!   (flood) or a signal fault (dark, flashing). A **decoy** is a demand surge with no
//!   incident. The **ground truth** is the list of incidents as CSV.
//! - **Lane change** (CityFlow's `laneChange: true`, [`engine::SimConfig::lane_change`]): a
//!   vehicle signals for an adjacent lane; when it may go, a **shadow** copy of it enters
//!   the target lane and both move together until the change completes (the shadow
//!   becomes the vehicle) or aborts (the shadow leaves).
//! - **Unit**: a vehicle spawned on demand on a given route ([`Sim::spawn_vehicle`]), e.g. a
//!   dispatched ambulance ([`engine::VehicleClass::Emergency`]), tracked to arrival.
//! - **Teleport** (jam resolution, SUMO's `time-to-teleport`): a lane's front vehicle that
//!   has stood longer than [`SimConfig::teleport_after`] jumps to the next lane of its
//!   route and is counted ([`Metrics::teleports`]); off unless configured.
//! - **Reading**: what a virtual sensor reports ([`sensors::Reading`]); [`wire`] turns it
//!   into the record a real device would send.
//!
//! ## Invariants
//! - No IO: this crate never touches files, sockets or clocks.
//! - Determinism: a [`engine::Sim`] built from the same scenario and seed produces
//!   bit-identical results on every run, whatever the thread count.
//! - Without incidents in effect and without spawned units, the engine takes exactly the
//!   code paths it took before they existed: outputs stay bit-identical (fidelity test).
//! - With lane changing off the engine takes none of its code paths (`Sim::lc` is
//!   `None`); with it on, priorities and entry lanes come from CityFlow's `mt19937` stream.
//! - With `teleport_after` unset (the default) the engine runs no jam-resolution code:
//!   CityFlow runs stay bit-identical.
//! - Spawned units draw from their own random stream: spawning one never changes what the
//!   scenario's flows draw.
//! - Entities are addressed by `city`'s typed indices; maps whose iteration order
//!   matters are `BTreeMap`s or ordered `Vec`s.

pub mod engine;
pub mod gen;
#[cfg(test)]
mod import_runs;
pub mod incident;
pub mod sensors;
pub mod signal_log;
pub mod wire;

// The city model, re-exported so that users of the simulator need one import path.
pub use city::ids::*;
pub use city::{demand, geo, geom, heap, ids, import, network, signal, spec};
pub use city::{BuildError, Demand, Flow, Network, NetworkSpec, Point, Scenario, Turn, VehicleParams};
pub use engine::{Clearance, Metrics, Sim, SimConfig, Termination, VehicleId};
pub use incident::{Incident, IncidentKind, IncidentPlan, SignalFault};
