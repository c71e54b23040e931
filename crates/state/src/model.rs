//! The snapshot types ([`CityState`] and its parts), settings, and the pure rules that map
//! speeds to grades and congestion shares to the traffic performance index.

use city::{IntersectionId, RoadId};

/// Road class for congestion thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoadClass {
    /// Speed limit at least `arterial_min_limit` or at least `arterial_min_lanes` lanes.
    Arterial,
    Local,
}

/// Congestion grade of one road.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    Free,
    Slow,
    Congested,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Free => "free",
            Grade::Slow => "slow",
            Grade::Congested => "congested",
        }
    }
}

/// DB11/T 785 traffic performance index grades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TpiGrade {
    /// 0 <= TPI < 2.
    Smooth,
    /// 2 <= TPI < 4.
    BasicallySmooth,
    /// 4 <= TPI < 6.
    LightlyCongested,
    /// 6 <= TPI < 8.
    ModeratelyCongested,
    /// 8 <= TPI <= 10.
    SeverelyCongested,
}

impl TpiGrade {
    pub fn of(tpi: f64) -> TpiGrade {
        match tpi {
            t if t < 2.0 => TpiGrade::Smooth,
            t if t < 4.0 => TpiGrade::BasicallySmooth,
            t if t < 6.0 => TpiGrade::LightlyCongested,
            t if t < 8.0 => TpiGrade::ModeratelyCongested,
            _ => TpiGrade::SeverelyCongested,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TpiGrade::Smooth => "smooth",
            TpiGrade::BasicallySmooth => "basically-smooth",
            TpiGrade::LightlyCongested => "lightly-congested",
            TpiGrade::ModeratelyCongested => "moderately-congested",
            TpiGrade::SeverelyCongested => "severely-congested",
        }
    }
}

/// Speed thresholds of one road class, m/s: `>= free` is free, `< congested` is congested.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub free: f64,
    pub congested: f64,
}

impl Thresholds {
    pub fn grade(&self, speed: f64) -> Grade {
        if speed >= self.free {
            Grade::Free
        } else if speed < self.congested {
            Grade::Congested
        } else {
            Grade::Slow
        }
    }
}

/// Estimator settings. Defaults are documented per field.
#[derive(Clone, Debug, PartialEq)]
pub struct StateConfig {
    /// Evidence older than this (s) is dropped. Default 300.
    pub horizon_s: f64,
    /// Recency decay constant (s): a sample of age `a` weighs `exp(-a / tau_s)`. Default 120.
    pub tau_s: f64,
    /// Weight of one loop-timed vehicle. Default 1.
    pub loop_weight: f64,
    /// Weight of one probe fix. Default 1.
    pub probe_weight: f64,
    /// A loop with no passing vehicle but at least this occupancy reports a standing queue
    /// (speed 0, weight `loop_weight`). Default 0.3.
    pub jam_occupancy: f64,
    /// Probes farther than this from every lane (m) are not matched. Default 30.
    pub match_radius_m: f64,
    /// Largest angle between probe heading and lane direction for a match (rad). Default π/3.
    pub heading_tolerance: f64,
    /// Travel time index cap (speed 0 maps here). Default 10.
    pub max_tti: f64,
    /// Arterial when the speed limit is at least this (m/s; default 50 km/h) ...
    pub arterial_min_limit: f64,
    /// ... or the road has at least this many lanes. Default 3.
    pub arterial_min_lanes: u32,
    /// Default 30 / 20 km/h (DB11/T 785 main roads: >= 30 smooth or basically smooth, < 20
    /// moderately or severely congested).
    pub arterial: Thresholds,
    /// Default 25 / 15 km/h (DB11/T 785 secondary and local roads).
    pub local: Thresholds,
    /// District grid over the network's bounding box: (columns, rows). Default (2, 2).
    pub districts: (usize, usize),
    /// TPI breakpoints (congested VKT share, TPI), increasing; linear in between, capped at
    /// the last TPI. Default (0, 0), (4 %, 2), (8 %, 4), (11 %, 6), (14 %, 8), (24 %, 10).
    pub tpi_breakpoints: Vec<(f64, f64)>,
}

impl Default for StateConfig {
    fn default() -> Self {
        let kmh = |v: f64| v / 3.6;
        StateConfig {
            horizon_s: 300.0,
            tau_s: 120.0,
            loop_weight: 1.0,
            probe_weight: 1.0,
            jam_occupancy: 0.3,
            match_radius_m: 30.0,
            heading_tolerance: std::f64::consts::FRAC_PI_3,
            max_tti: 10.0,
            arterial_min_limit: kmh(50.0),
            arterial_min_lanes: 3,
            arterial: Thresholds { free: kmh(30.0), congested: kmh(20.0) },
            local: Thresholds { free: kmh(25.0), congested: kmh(15.0) },
            districts: (2, 2),
            tpi_breakpoints: vec![(0.0, 0.0), (0.04, 2.0), (0.08, 4.0), (0.11, 6.0), (0.14, 8.0), (0.24, 10.0)],
        }
    }
}

impl StateConfig {
    /// The one road classification, used by the estimator, replay and the map: arterial
    /// when the free-flow speed (m/s) reaches `arterial_min_limit` or the road has at
    /// least `arterial_min_lanes` lanes.
    pub fn classify(&self, free_speed: f64, lanes: u32) -> RoadClass {
        if free_speed >= self.arterial_min_limit - 1e-9 || lanes >= self.arterial_min_lanes {
            RoadClass::Arterial
        } else {
            RoadClass::Local
        }
    }

    pub fn thresholds(&self, class: RoadClass) -> Thresholds {
        match class {
            RoadClass::Arterial => self.arterial,
            RoadClass::Local => self.local,
        }
    }
}

/// Piecewise-linear TPI of a congested share (0..1), clamped to the breakpoints' range.
pub fn tpi_from_share(share: f64, breakpoints: &[(f64, f64)]) -> f64 {
    let Some(&(x0, y0)) = breakpoints.first() else { return 0.0 };
    if share.is_nan() || share <= x0 {
        return y0;
    }
    for w in breakpoints.windows(2) {
        let ((xa, ya), (xb, yb)) = (w[0], w[1]);
        if share <= xb {
            return if xb > xa { ya + (yb - ya) * (share - xa) / (xb - xa) } else { yb };
        }
    }
    breakpoints.last().map_or(0.0, |b| b.1)
}

/// Estimated state of one road.
#[derive(Clone, Debug, PartialEq)]
pub struct RoadState {
    pub road: RoadId,
    pub class: RoadClass,
    pub length_m: f64,
    /// Free-flow speed (the speed limit), m/s.
    pub free_speed: f64,
    /// Fused speed, m/s; `None` without recent evidence.
    pub speed: Option<f64>,
    /// Actual over free-flow travel time (`free_speed / speed`, capped at `max_tti`).
    pub tti: Option<f64>,
    pub grade: Option<Grade>,
    /// Flow over the road's loops, vehicles per hour (sum over lanes of the latest interval).
    pub flow_vph: Option<f64>,
    /// Vehicles timed by loops and probe fixes in the horizon (raw, before decay).
    pub loop_vehicles: u32,
    pub probe_fixes: u32,
}

/// Estimated state of one signalised intersection.
#[derive(Clone, Debug, PartialEq)]
pub struct IntersectionState {
    pub intersection: IntersectionId,
    /// Longest latest queue over the approaches, metres.
    pub queue_m: f64,
    /// Latest waiting vehicles summed over the approaches.
    pub waiting: u32,
    /// Mean delay per vehicle by Little's law: mean waiting vehicles / throughput (s).
    pub delay_s: Option<f64>,
    /// Vehicles per second through the intersection (camera movement counts).
    pub throughput_vps: Option<f64>,
}

/// Indices of a district or of the whole city.
#[derive(Clone, Debug, PartialEq)]
pub struct AreaState {
    pub name: String,
    /// Roads with a speed estimate / roads in the area.
    pub roads_covered: usize,
    pub roads_total: usize,
    /// Length-weighted mean TTI of covered roads (AMap-style delay index); `None` if none.
    pub delay_index: Option<f64>,
    /// Space-mean speed over covered roads: total length / total travel time (m/s).
    pub mean_speed: Option<f64>,
    /// VKT-weighted share of covered road length that is congested, 0..1.
    pub congested_share: f64,
    /// Traffic performance index 0..10 (DB11/T 785 style).
    pub tpi: f64,
    pub tpi_grade: TpiGrade,
}

/// One snapshot of the whole city.
#[derive(Clone, Debug, PartialEq)]
pub struct CityState {
    pub time: f64,
    /// One per network road, indexed by road id.
    pub roads: Vec<RoadState>,
    /// One per signalised intersection, ordered by id.
    pub intersections: Vec<IntersectionState>,
    /// One per district, in district order.
    pub areas: Vec<AreaState>,
    pub city: AreaState,
}
