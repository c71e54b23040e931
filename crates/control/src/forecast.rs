//! The forecast: a what-if model of the city a policy may roll forward ("what happens if
//! these signals do this?"), City Brain's use of the digital twin.
//!
//! ## What the forecast knows
//! It is built from what a vehicle-level City Brain observes **now**
//! ([`twin::Sim::forecast_copy`]): the vehicles in the network and in entry buffers, with
//! position, speed, lane and type, and the signal controllers' state. It never sees a
//! vehicle not yet created (every flow of the copy is stopped; no synthetic arrivals are
//! added). A vehicle's route is known only as far as the road its current lane leads to
//! (the turn its lane serves); after that road it leaves the model. So the forecast
//! does not use where a vehicle is going beyond the next junction.
//!
//! [`Forecast::with_routes`] with `full_routes` keeps instead the whole route of each
//! vehicle present, as a navigation feed would report it (CityBrain's closed-loop search
//! asks for that); it still never holds a vehicle not yet created.
//!
//! ## Invariants
//! - The forecast owns a *copy* of the simulation and a *copy* of the safety layer; the
//!   live simulation is never touched, and inside the forecast too only the (copied)
//!   [`SafetyLayer`] changes signals, with the protocol's real timing (yellow, all-red,
//!   minimum and maximum green).
//! - Deterministic: the same live state gives the same rollouts.

use city::LaneId;
use twin::Sim;

use crate::junction::Junction;
use crate::observe::{Observation, Observer};
use crate::safety::{Request, SafetyLayer, Target};

/// A what-if model built from the present state (see the module docs).
#[derive(Clone)]
pub struct Forecast {
    sim: Sim,
    safety: SafetyLayer,
}

impl Forecast {
    /// Snapshot what an observer sees of `live` now, with the signal state of `safety`.
    pub fn new(live: &Sim, safety: &SafetyLayer) -> Forecast {
        Forecast { sim: live.forecast_copy(), safety: safety.clone() }
    }

    /// As [`Forecast::new`]; with `full_routes` the vehicles present keep their whole
    /// routes ([`twin::Sim::forecast_copy_with`]).
    pub fn with_routes(live: &Sim, safety: &SafetyLayer, full_routes: bool) -> Forecast {
        Forecast { sim: live.forecast_copy_with(full_routes), safety: safety.clone() }
    }

    /// The time of the snapshot.
    pub fn time(&self) -> f64 {
        self.sim.time()
    }

    /// Vehicles the model knows (running or waiting in entry buffers).
    pub fn vehicles(&self) -> usize {
        self.sim.vehicles_present()
    }

    /// Roll the model forward `segments × segment_s` seconds. At the start of segment `s`
    /// the phase `plan(k, s)` is requested for junction `k` (in
    /// [`SafetyLayer::junctions`] order; `None`: no request); the copied safety layer
    /// carries the requests out. After every step, `cost[g]` adds the vehicles on the
    /// lanes of group `g` (and in their entry buffers) that still have the junction at
    /// the lane's end to cross: vehicle-seconds spent waiting for it within the horizon.
    pub fn rollout(
        &self,
        segments: usize,
        segment_s: f64,
        plan: impl Fn(usize, usize) -> Option<usize>,
        groups: &[Vec<LaneId>],
        cost: &mut [f64],
    ) {
        let requests = |_: &Sim, safety: &SafetyLayer, s: usize| -> Vec<Request> {
            let js = safety.junctions().iter().enumerate();
            js.filter_map(|(k, j)| plan(k, s).map(|p| Request { intersection: j.id, target: Target::Phase(p) })).collect()
        };
        self.run(segments, segment_s, requests, groups, cost);
    }

    /// The rollout loop both kinds share: at the start of decision `d`, `requests(model,
    /// its safety layer, d)` goes to the copied safety layer; after every step `cost[g]`
    /// adds the continuing vehicles of group `g`. Returns the vehicle-seconds of every
    /// vehicle the model holds.
    fn run(
        &self,
        decisions: usize,
        decision_s: f64,
        mut requests: impl FnMut(&Sim, &SafetyLayer, usize) -> Vec<Request>,
        groups: &[Vec<LaneId>],
        cost: &mut [f64],
    ) -> f64 {
        let mut sim = self.sim.clone();
        let mut safety = self.safety.clone();
        cost.iter_mut().for_each(|c| *c = 0.0);
        let steps = (decision_s / sim.dt()).round().max(1.0) as usize;
        let mut total = 0.0;
        for d in 0..decisions {
            let r = requests(&sim, &safety, d);
            safety.request(&r);
            for _ in 0..steps {
                let now = sim.time();
                safety.tick(&mut sim, now);
                sim.step();
                let m = sim.metrics();
                total += (m.vehicles_running + m.vehicles_waiting) as f64;
                for (c, lanes) in cost.iter_mut().zip(groups) {
                    *c += lanes.iter().map(|&l| sim.lane_continuing(l) as f64).sum::<f64>();
                }
            }
        }
        total
    }
}

impl Forecast {
    /// Roll the model forward `decisions × decision_s` seconds in closed loop: at the
    /// start of decision `d` the model is observed (`observer`, as the live brain is)
    /// and `decide(obs, d)` answers with requests that the copied safety layer carries
    /// out. After every step, `cost[g]` adds the vehicles on the lanes of group `g` (and
    /// in their entry buffers) that still have the junction at the lane's end to cross.
    /// Returns the vehicle-seconds of every vehicle the model holds (running or in an
    /// entry buffer), the integral CityFlow's average travel time is made of.
    pub fn rollout_closed_loop(
        &self,
        decisions: usize,
        decision_s: f64,
        observer: &mut Observer,
        mut decide: impl FnMut(&Observation, usize) -> Vec<Request>,
        groups: &[Vec<LaneId>],
        cost: &mut [f64],
    ) -> f64 {
        self.run(decisions, decision_s, |sim, safety, d| decide(observer.observe(sim, safety), d), groups, cost)
    }
}

/// The distinct incoming lanes of `j`'s movements (the lane group of its forecast cost).
pub fn incoming_lanes(j: &Junction) -> Vec<LaneId> {
    let mut v: Vec<LaneId> = j.in_lanes.iter().flatten().copied().collect();
    v.sort();
    v.dedup();
    v
}
