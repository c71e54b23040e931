//! Incidents drawn at random with a seed: the same settings and seed give the same plan.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Decoy, Incident, IncidentKind, IncidentPlan, Location, SignalFault};
use city::ids::{IntersectionId, RoadId};
use city::network::Network;

/// Settings of [`IncidentPlan::random`].
#[derive(Clone, Debug, PartialEq)]
pub struct RandomIncidents {
    pub seed: u64,
    /// Incidents to draw.
    pub count: usize,
    /// Congestion-only decoys to draw.
    pub decoys: usize,
    /// Incidents start in `[start_s, end_s)`.
    pub start_s: f64,
    pub end_s: f64,
    /// Durations are drawn in `[min_duration_s, max_duration_s)` (road works last three
    /// times as long).
    pub min_duration_s: f64,
    pub max_duration_s: f64,
    /// Kinds to draw from, uniformly (by default the four lane-blocking kinds; add
    /// `SignalFailure` and `Flood` for the others).
    pub kinds: Vec<IncidentKind>,
    /// Decoy surge, vehicles per hour.
    pub decoy_vehicles_per_hour: f64,
}

impl Default for RandomIncidents {
    fn default() -> Self {
        RandomIncidents {
            seed: 0,
            count: 10,
            decoys: 0,
            start_s: 0.0,
            end_s: 3600.0,
            min_duration_s: 300.0,
            max_duration_s: 900.0,
            kinds: vec![IncidentKind::Crash, IncidentKind::Stalled, IncidentKind::IllegalParking, IncidentKind::RoadWorks],
            decoy_vehicles_per_hour: 900.0,
        }
    }
}

/// Roads shorter than this get no lane-blocking incident (no room to place one).
const MIN_ROAD_M: f64 = 60.0;

impl IncidentPlan {
    /// Draw a plan on `net`. Lane-blocking incidents go on roads at least 60 m long, at
    /// 20–80 % of their length; two incidents never overlap in time on the same road or
    /// junction (a draw that would is redrawn, up to a bound). Ids are 1, 2, ... and the
    /// decoys' ids follow the incidents'.
    pub fn random(net: &Network, cfg: &RandomIncidents) -> IncidentPlan {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        // Roads that end at a junction with signals or start at one: inside the network.
        let roads: Vec<RoadId> = (0..net.roads.len())
            .map(RoadId::from)
            .filter(|&r| {
                let road = net.road(r);
                road.lane_count > 0
                    && net.road_length(r) >= MIN_ROAD_M
                    && !(net.intersection(road.from).is_virtual && net.intersection(road.to).is_virtual)
            })
            .collect();
        let junctions: Vec<IntersectionId> =
            (0..net.intersections.len()).map(IntersectionId::from).filter(|&i| net.intersection(i).is_signalised()).collect();
        let mut plan = IncidentPlan::default();
        let kinds: Vec<IncidentKind> = cfg
            .kinds
            .iter()
            .copied()
            .filter(|k| if *k == IncidentKind::SignalFailure { !junctions.is_empty() } else { !roads.is_empty() })
            .collect();
        if kinds.is_empty() {
            return plan;
        }
        let span = (cfg.end_s - cfg.start_s).max(1.0);
        let dur = (cfg.max_duration_s - cfg.min_duration_s).max(0.0);
        let mut next_id = 1u32;
        let mut tries = 0;
        while plan.incidents.len() < cfg.count && tries < cfg.count * 50 {
            tries += 1;
            let kind = kinds[rng.gen_range(0..kinds.len())];
            let start = (cfg.start_s + rng.gen::<f64>() * span).floor();
            let mut d = (cfg.min_duration_s + rng.gen::<f64>() * dur).floor().max(1.0);
            if kind == IncidentKind::RoadWorks {
                d *= 3.0;
            }
            let location = match kind {
                IncidentKind::SignalFailure => {
                    let i = junctions[rng.gen_range(0..junctions.len())];
                    let fault = if rng.gen::<bool>() { SignalFault::Dark } else { SignalFault::Flashing };
                    Location::Junction { intersection: i, fault }
                }
                IncidentKind::Flood => Location::Road { road: roads[rng.gen_range(0..roads.len())] },
                _ => {
                    let r = roads[rng.gen_range(0..roads.len())];
                    let n = net.road(r).lane_count;
                    let lanes = match kind {
                        IncidentKind::IllegalParking => vec![n - 1],
                        IncidentKind::Crash if n > 2 => {
                            // One or two adjacent lanes, never all of them.
                            let w = rng.gen_range(1..=2u32);
                            let first = rng.gen_range(0..=n - w);
                            (first..first + w).collect()
                        }
                        _ => vec![rng.gen_range(0..n)],
                    };
                    let pos = (net.road_length(r) * (0.2 + 0.6 * rng.gen::<f64>())).floor();
                    Location::Lanes { road: r, lanes, pos_m: pos, length_m: kind.default_length_m() }
                }
            };
            let inc = Incident { id: next_id, kind, location, start_s: start, end_s: start + d };
            if plan.incidents.iter().any(|o| same_place(o, &inc) && o.start_s < inc.end_s && inc.start_s < o.end_s) {
                continue;
            }
            plan.incidents.push(inc);
            next_id += 1;
        }
        if !roads.is_empty() {
            for _ in 0..cfg.decoys {
                let road = roads[rng.gen_range(0..roads.len())];
                let start = (cfg.start_s + rng.gen::<f64>() * span).floor();
                let d = (cfg.min_duration_s + rng.gen::<f64>() * dur).floor().max(1.0);
                plan.decoys.push(Decoy {
                    id: next_id,
                    road,
                    start_s: start,
                    end_s: start + d,
                    vehicles_per_hour: cfg.decoy_vehicles_per_hour,
                });
                next_id += 1;
            }
        }
        plan
    }
}

/// Whether two incidents are on the same road or junction.
fn same_place(a: &Incident, b: &Incident) -> bool {
    let key = |i: &Incident| match &i.location {
        Location::Lanes { road, .. } | Location::Road { road } => (0, road.0),
        Location::Junction { intersection, .. } => (1, intersection.0),
    };
    key(a) == key(b)
}
