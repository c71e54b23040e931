//! CityBrainHeuristic: the observation-only part of citybrain's own policy (the
//! starting point and fallback of the model-predictive [`super::CityBrainMpc`], which
//! `by_name("CityBrain")` builds). Max-pressure on what the next green can actually serve:
//! - demand of a movement = queued vehicles + approaching vehicles within 150 m,
//!   weighted by how soon they reach the stop line;
//! - minus the vehicles already on its exit lanes (pressure), and a movement whose
//!   exit lanes are nearly full is damped (spillback prevention: a green it cannot use
//!   is lost time for everyone else);
//! - hysteresis: the current phase gets a bonus worth the vehicles that the yellow and
//!   all-red of a change would cost, so it only switches when the gain pays for the
//!   lost time; a green whose movements have nothing left to serve is dropped at once.

use super::{argmax, phase_sum, Policy, PolicyContext};
use crate::junction::Junction;
use crate::observe::Observation;
use crate::safety::{Request, SignalState, Target, Timing};

/// Tuning knobs of [`CityBrain`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CityBrainParams {
    /// Weight of approaching vehicles relative to queued ones.
    pub approach: f64,
    /// Weight of vehicles arriving before the next decision (any distance).
    pub arrival: f64,
    /// Weight of exit-lane vehicles (the pressure term).
    pub downstream: f64,
    /// Exit-lane occupancy (vehicles / jam capacity) above which a movement is damped.
    pub spill_occupancy: f64,
    /// Factor applied to a spilling movement's demand.
    pub spill_damp: f64,
    /// Bonus of the current phase, vehicles per second of lost time.
    pub switch_penalty_per_s: f64,
    /// Most vehicles one lane can discharge before the next decision (∞: no cap). Capping
    /// demand at what a green can serve prefers phases that serve many lanes.
    pub lane_cap: f64,
}

impl CityBrainParams {
    /// Parameters tuned for the decision period of `timing`.
    pub fn for_timing(timing: &Timing) -> CityBrainParams {
        if timing.decision_interval >= 15.0 {
            // Tuned on Hangzhou 4x4 + Jinan 3x4, benchmark protocol (examples/tune.rs).
            CityBrainParams {
                approach: 1.0,
                arrival: 0.3,
                downstream: 1.0,
                spill_occupancy: 0.8,
                spill_damp: 0.2,
                switch_penalty_per_s: 0.0,
                lane_cap: f64::INFINITY,
            }
        } else {
            // Tuned on Hangzhou 4x4 + Jinan 3x4, operational protocol (examples/tune.rs).
            CityBrainParams {
                approach: 1.0,
                arrival: 0.0,
                downstream: 0.0,
                spill_occupancy: 0.8,
                spill_damp: 0.2,
                switch_penalty_per_s: 0.4,
                lane_cap: f64::INFINITY,
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct CityBrain {
    junctions: Vec<Junction>,
    params: CityBrainParams,
    lost_time: f64,
    values: Vec<f64>,
    demand: Vec<f64>,
}

impl CityBrain {
    pub fn new(ctx: &PolicyContext, params: CityBrainParams) -> CityBrain {
        CityBrain {
            junctions: ctx.junctions.to_vec(),
            params,
            lost_time: ctx.timing.lost_time(),
            values: Vec::new(),
            demand: Vec::new(),
        }
    }
}

impl Policy for CityBrain {
    fn name(&self) -> &str {
        "CityBrainHeuristic"
    }
    fn decide(&mut self, obs: &Observation, _now: f64) -> Vec<Request> {
        let p = self.params;
        let mut out = Vec::with_capacity(self.junctions.len());
        for (j, o) in self.junctions.iter().zip(&obs.junctions) {
            let current = match o.state {
                SignalState::Green { phase } => Some(phase),
                SignalState::Startup => None,
                _ => continue,
            };
            self.values.clear();
            self.demand.clear();
            for m in 0..j.len() {
                let d: f64 = j.in_lanes[m]
                    .iter()
                    .map(|l| {
                        let o = &obs.lanes[l.idx()];
                        (o.waiting as f64 + p.approach * o.approach_weight + p.arrival * o.arriving as f64).min(p.lane_cap)
                    })
                    .sum();
                let (mut down, mut occ) = (0.0, 0.0f64);
                for l in &j.out_lanes[m] {
                    let o = &obs.lanes[l.idx()];
                    down += o.count as f64;
                    occ = occ.max(o.count as f64 / o.capacity);
                }
                let scale = j.in_lanes[m].len() as f64 / j.out_lanes[m].len().max(1) as f64;
                let mut v = d - p.downstream * down * scale;
                if occ >= p.spill_occupancy {
                    v = v.min(d * p.spill_damp);
                }
                self.values.push(v);
                self.demand.push(d);
            }
            let (values, demand) = (&self.values, &self.demand);
            let bonus = p.switch_penalty_per_s * self.lost_time;
            let scores = (0..j.phases.len()).map(|ph| {
                let s = phase_sum(j, ph, |m| values[m]);
                if Some(ph) == current && phase_sum(j, ph, |m| demand[m]) > 0.0 {
                    s + bonus
                } else {
                    s
                }
            });
            let best = argmax(scores, current);
            out.push(Request { intersection: j.id, target: Target::Phase(best) });
        }
        out
    }
}
