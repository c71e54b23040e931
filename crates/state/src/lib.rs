//! # state: traffic state estimation
//!
//! Turns the stream of accepted [`sense::Observation`]s into a [`CityState`] snapshot:
//! fused road speeds, travel time indices and congestion grades, intersection queues and
//! delays, and district and city indices.
//!
//! ## Glossary
//! - **Evidence / sample**: a speed measurement attached to a road: a loop aggregate
//!   (mean spot speed of `count` vehicles) or a probe fix map-matched to the road.
//! - **Horizon**: how long evidence counts (`horizon_s`); **tau**: its recency decay.
//! - **Free-flow speed**: the road's speed limit (fastest lane).
//! - **TTI** (travel time index): actual over free-flow travel time of a road,
//!   `free_speed / speed`, capped at `max_tti`.
//! - **Road class**: arterial (speed limit >= 50 km/h or >= 3 lanes) or local; each has
//!   its own speed thresholds for the grades free / slow / congested.
//! - **District**: a cell of a `cols x rows` grid over the network's bounding box; a
//!   road belongs to the district containing its midpoint.
//! - **Delay index** (AMap style): length-weighted mean TTI of the covered roads of an
//!   area.
//! - **Congested share**: VKT-weighted share of covered road length graded congested.
//!   VKT weight per metre of road is the mean loop flow of the road's class (city-wide),
//!   as DB11/T 785 weights road grades by their VKT; with no flow data every metre weighs
//!   the same.
//! - **TPI** (traffic performance index, Beijing DB11/T 785): 0..10, piecewise linear in
//!   the congested share through the breakpoints 4 % -> 2, 8 % -> 4, 11 % -> 6,
//!   14 % -> 8, 24 % -> 10 (configurable); grades 0-2 smooth, 2-4 basically smooth,
//!   4-6 lightly, 6-8 moderately, 8-10 severely congested.
//! - **Intersection delay**: Little's law, mean waiting vehicles over the approaches
//!   divided by the throughput counted by the camera.
//!
//! ## Invariants
//! - A snapshot has one [`RoadState`] per network road (indexed by road id), one
//!   [`IntersectionState`] per signalised intersection and one [`AreaState`] per
//!   district; the city is the union of the districts.
//! - Speeds are weighted means of sample speeds, so they lie within the range of the
//!   samples; TTI is in `[free/limit .. max_tti]`; TPI is in `[0, 10]`.
//! - `update(now)` only forgets evidence older than `now - horizon_s`; observing the
//!   same evidence in any order gives the same snapshot.
//! - Depends on the city model (`city`) and `sense`, never on the simulator.

pub mod estimator;
pub mod model;
pub mod spatial;

pub use estimator::{Area, StateEstimator};
pub use model::*;
pub use spatial::LaneGrid;

#[cfg(test)]
mod tests;
