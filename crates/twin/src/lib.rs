//! # twin: citybrain's digital twin
//!
//! A microscopic traffic simulator that plays the city: it reads CityFlow and CBEngine
//! scenario files, runs a fixed-step car-following simulation that follows CityFlow's
//! vehicle model, takes signal commands and exposes observations for virtual sensors.
//!
//! ## Glossary
//! - **Intersection**: a junction (signalised or not) or a *virtual* boundary node where
//!   vehicles enter and leave the network.
//! - **Road**: a directed link between two intersections with one or more **lanes**;
//!   lane 0 is the innermost (leftmost) lane.
//! - **Movement** (CityFlow `roadLink`): a permitted turn from one road onto another at
//!   an intersection, of kind straight, left or right.
//! - **Lane link** (CityFlow `laneLink`): a lane-to-lane path through the junction that
//!   realises a movement; it has its own geometry and length.
//! - **Drivable**: a lane or a lane link; a vehicle is always on exactly one.
//! - **Cross**: the point where two lane links of one intersection cross; vehicles
//!   negotiate right of way there.
//! - **Phase**: a set of movements that have green together, with a duration in the
//!   fixed-time plan.
//! - **Flow**: demand that releases a vehicle every `interval` seconds along a route.
//! - **Step**: one tick of simulated time, `dt` seconds (1 s by default).
//! - **Vehicle update**: one vehicle advanced by one step; the unit of simulator speed.
//!
//! ## Invariants
//! - No IO: this crate never touches files, sockets or clocks. Importers take `&str`.
//! - Determinism: a [`engine::Sim`] built from the same scenario and seed produces
//!   bit-identical results on every run, whatever the thread count.
//! - Entities are addressed by typed indices ([`ids`]); maps whose iteration order
//!   matters are `BTreeMap`s or ordered `Vec`s.

pub mod demand;
pub mod engine;
pub mod gen;
pub mod geom;
pub mod ids;
pub mod import;
pub mod network;
pub mod sensors;
pub mod spec;
#[cfg(test)]
mod testutil;

pub use demand::{Demand, Flow, VehicleParams};
pub use engine::{Metrics, Sim, SimConfig, VehicleId};
pub use geom::Point;
pub use ids::*;
pub use network::{BuildError, Network};
pub use spec::{NetworkSpec, Turn};

/// A network together with its demand: everything a simulation run needs.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub network: Network,
    pub demand: Demand,
}
