//! # city: citybrain's model of the city
//!
//! The road network and everything that describes the city independently of how it is
//! simulated or observed: typed IDs, geometry, the build spec, travel demand and the
//! importers and writers for CityFlow, CBEngine and SUMO files, and the georeference
//! that places the network on Earth. The simulator (`twin`),
//! the nerves (`sense`), the state estimator (`state`), the store and the controllers
//! all build on it; a deployment without a twin links no simulator.
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
//! - **Georeference** ([`Georef`], module [`geo`]): where the network's metres are on
//!   Earth: a projection ([`Crs`]: local plane, CBEngine's equirectangular, UTM) plus
//!   an offset; `to_lonlat` / `to_local` convert between network metres and WGS84.
//! - **Spec** ([`NetworkSpec`]): the unvalidated description an importer or generator
//!   produces; [`Network::build`] validates it and derives the geometry.
//!
//! ## Invariants
//! - No IO: this crate never touches files, sockets or clocks. Importers take `&str`
//!   and the file name (for error messages only).
//! - Determinism: building the same spec gives the same network, bit for bit.
//! - Entities are addressed by typed indices ([`ids`]); maps whose iteration order
//!   matters are `BTreeMap`s or ordered `Vec`s.
//! - Every network carries a georeference. Files that say where they are (CBEngine
//!   lat/lon, SUMO `<location>` with UTM) keep exactly that; the others get an
//!   *assumed* local plane at [`geo::DEFAULT_ORIGIN`] that `--origin` replaces. The
//!   georeference never changes the geometry the twin simulates.
//! - Bad input is an [`import::ImportError`] or a [`BuildError`] naming the file and the
//!   line or JSON path, never a panic.

pub mod demand;
pub mod geo;
pub mod geom;
pub mod heap;
pub mod ids;
pub mod import;
pub mod network;
pub mod signal;
pub mod spec;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;

pub use demand::{Demand, Flow, VehicleParams};
pub use geo::{Crs, GeoError, Georef};
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
