//! A seeded synthetic-city generator: a signalised street grid with arterials, T- and
//! four-leg junctions, virtual boundary nodes, an optional ring road and an AM-peak
//! commuter demand, all produced in CityFlow's conventions.
//!
//! ## Design
//! 1. **Layout** (`layout`): `rows x cols` grid junctions whose row and column gaps
//!    are drawn around `block_m` (±20 %). Every `arterial_every`-th row and column is an
//!    *arterial* (3 lanes per direction, 16.7 m/s); the others are *local streets* (1 or
//!    2 lanes, 11.1 or 13.9 m/s, drawn once per street). A seeded share of the interior
//!    local-street segments is removed (both directions), each removal turning two
//!    four-leg junctions into T-junctions; removals that would disconnect the grid are
//!    put back (checked with a union-find), and the built road graph is verified to be
//!    strongly connected. Every street leaving the grid ends in a *virtual* boundary
//!    node. With `ring_road`, each boundary street first crosses a signalised junction
//!    on a two-lane 70 km/h loop one block outside the grid (the loop turns its corners
//!    with bent road polylines, so every junction keeps axis-aligned legs).
//! 2. **Junctions** (`junction`): one movement per (approach, exit) pair except
//!    U-turns. Lane use: lane 0 turns left, middle lanes go straight, the outermost lane
//!    goes straight and right; a single-lane road does everything from lane 0. Every
//!    movement links each allowed start lane to every lane of the exit road (as
//!    CityFlow's grid generator does), so any road-level route can be followed; the
//!    links carry CityFlow's Bézier curve, sampled at 4 segments instead of 10 to keep
//!    the builder's crossing search cheap. Plans, per axis: when both approaches have
//!    two or more lanes, a through phase and then each approach's protected left
//!    together with its own through (CityFlow's "straight + left" phases; opposing
//!    lefts never share a green because their lane links cross in the junction box);
//!    otherwise split phasing, one phase per approach. A T-junction's stem gets its
//!    own phase (3 greens). Greens last 15-40 s by lane count. Right turns are green in
//!    every phase; phase 0 and the phase after every green are 4 s right-turns-only
//!    clearances (CityFlow's phase 0). No two movements green together cross.
//! 3. **Demand** (`od`): the horizon `duration_s` is cut into 5-minute slices whose
//!    rate follows a bell-shaped AM peak (30 % off-peak floor, peak in the middle at
//!    `peak_vehicles_per_hour`). Each vehicle enters on a boundary road (weighted by lane
//!    count) and heads for an interior road (65 %, weighted towards the city centre) or
//!    a boundary exit (35 %). Routes are shortest expected-travel-time paths (free-flow
//!    time plus a per-turn signal-delay penalty) from a Dijkstra per origin, run in
//!    parallel with deterministic output order. Each vehicle is one single-release
//!    [`Flow`] at a whole second, sorted by release time.
//!
//! Everything is drawn from one `ChaCha8Rng` seeded with `seed`, in a fixed order, so the
//! same configuration always yields the identical city.

mod junction;
mod layout;
mod od;
#[cfg(test)]
mod tests;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use city::demand::{Demand, Flow};
use city::network::{BuildError, Network};
use city::spec::NetworkSpec;

/// Upper bound on the vehicles one city may release (keeps memory bounded).
pub const MAX_VEHICLES: f64 = 5_000_000.0;

/// Settings of the synthetic city.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Grid junctions north-south, 3..=100.
    pub rows: u32,
    /// Grid junctions east-west, 3..=100.
    pub cols: u32,
    pub seed: u64,
    /// Add a ring road one block outside the grid.
    pub ring_road: bool,
    /// Vehicles per hour released city-wide at the height of the peak.
    pub peak_vehicles_per_hour: f64,
    /// Mean junction spacing in metres (gaps are drawn within ±20 %), 150..=500.
    pub block_m: f64,
    /// Every this-many-th row and column is an arterial (starting with the second); 0 = none.
    pub arterial_every: u32,
    /// Demand horizon in seconds, 300..=86400.
    pub duration_s: f64,
    /// Share of interior local-street segments removed to form T-junctions, 0..=0.3.
    pub t_junction_share: f64,
}

impl GenConfig {
    /// The demo city: 6x6 with arterials on rows/columns 2 and 6, a ring road and a
    /// one-hour AM peak of 3,000 vehicles per hour.
    pub fn demo() -> GenConfig {
        GenConfig {
            rows: 6,
            cols: 6,
            seed: 1,
            ring_road: true,
            peak_vehicles_per_hour: 3000.0,
            block_m: 300.0,
            arterial_every: 4,
            duration_s: 3600.0,
            t_junction_share: 0.1,
        }
    }

    /// Check every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), GenError> {
        for (field, v) in [("rows", self.rows), ("cols", self.cols)] {
            if !(3..=100).contains(&v) {
                return Err(GenError::new(field, format!("must be between 3 and 100, got {v}")));
            }
        }
        if !(self.peak_vehicles_per_hour.is_finite() && (0.0..=2_000_000.0).contains(&self.peak_vehicles_per_hour)) {
            return Err(GenError::new(
                "peak_vehicles_per_hour",
                format!("must be between 0 and 2000000, got {}", self.peak_vehicles_per_hour),
            ));
        }
        if !(self.block_m.is_finite() && (150.0..=500.0).contains(&self.block_m)) {
            return Err(GenError::new("block_m", format!("must be between 150 and 500 metres, got {}", self.block_m)));
        }
        if self.arterial_every == 1 || self.arterial_every > 100 {
            return Err(GenError::new(
                "arterial_every",
                format!("must be 0 (no arterials) or between 2 and 100, got {}", self.arterial_every),
            ));
        }
        if !(self.duration_s.is_finite() && (300.0..=86_400.0).contains(&self.duration_s)) {
            return Err(GenError::new("duration_s", format!("must be between 300 and 86400 seconds, got {}", self.duration_s)));
        }
        let vehicles = self.peak_vehicles_per_hour * self.duration_s / 3600.0;
        if vehicles > MAX_VEHICLES {
            return Err(GenError::new(
                "peak_vehicles_per_hour",
                format!(
                    "{} vehicles per hour over {} s could release up to {vehicles:.0} vehicles; at most {MAX_VEHICLES} are supported",
                    self.peak_vehicles_per_hour, self.duration_s
                ),
            ));
        }
        if !(self.t_junction_share.is_finite() && (0.0..=0.3).contains(&self.t_junction_share)) {
            return Err(GenError::new("t_junction_share", format!("must be between 0 and 0.3, got {}", self.t_junction_share)));
        }
        Ok(())
    }
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig::demo()
    }
}

/// A configuration the generator cannot honour, or (never expected) an internal
/// inconsistency, located by the field or stage it concerns.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct GenError {
    pub field: String,
    pub message: String,
}

impl GenError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        GenError { field: field.into(), message: message.into() }
    }
}

impl From<BuildError> for GenError {
    fn from(e: BuildError) -> Self {
        GenError::new("network", format!("generated network is invalid (generator bug): {e}"))
    }
}

/// A generated city: the spec (for export), its built network and the demand on it.
#[derive(Clone, Debug)]
pub struct GenCity {
    pub spec: NetworkSpec,
    pub demand: Demand,
    pub network: Network,
}

impl GenCity {
    /// The city as a runnable scenario.
    pub fn scenario(&self) -> city::Scenario {
        city::Scenario { network: self.network.clone(), demand: self.demand.clone() }
    }
}

/// Generate the city described by `cfg`.
pub fn generate(cfg: &GenConfig) -> Result<GenCity, GenError> {
    cfg.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let lay = layout::Layout::generate(cfg, &mut rng);
    let spec = lay.to_spec();
    let network = Network::build(&spec)?;
    let succ = od::successors(&spec);
    od::check_strongly_connected(&lay, &succ)?;
    let flows: Vec<Flow> = od::demand(cfg, &lay, &network, &succ, &mut rng)?;
    Ok(GenCity { spec, demand: Demand { flows }, network })
}
