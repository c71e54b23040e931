//! CityBrainMPC: model-predictive control with the digital twin. At each decision the
//! policy asks the [`Forecast`] what-if questions: for every junction and every sequence
//! of `segments` phases (one per `segment_s` seconds), how many vehicle-seconds do the
//! junction's incoming lanes hold over the horizon? It requests the first phase of the
//! best sequence and decides again at the next decision (receding horizon).
//!
//! ## Search
//! A rollout simulates the whole network, so one rollout answers for every junction at
//! once: the forecast cuts each vehicle's route after its next road, so a junction's
//! cost depends on its own signals and, through spillback, on its neighbours'. The
//! search is coordinate descent done in parallel:
//! 1. every junction plays sequence `q` in rollout `q` (one rollout per sequence);
//!    each junction keeps its cheapest sequence;
//! 2. `sweeps` times, per colour of a proper colouring of the junction graph (junctions
//!    joined by a road get different colours, so no two junctions that share a road
//!    change together): the junctions of that colour play each sequence while all others
//!    play their current best; each keeps its cheapest.
//!
//! Ties go to the sequence that holds the heuristic [`CityBrain`]'s choice, which also
//! decides when no forecast is given.

use twin::{IntersectionId, LaneId, Network};

use super::{CityBrain, CityBrainParams, Policy, PolicyContext};
use crate::forecast::Forecast;
use crate::junction::Junction;
use crate::observe::Observation;
use crate::safety::{Request, SignalState, Target};

/// Search settings of [`CityBrainMpc`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MpcParams {
    /// Seconds each phase of a candidate sequence is requested for.
    pub segment_s: f64,
    /// Phases per candidate sequence (horizon = `segments × segment_s`).
    pub segments: usize,
    /// Colour sweeps after the first all-junction round.
    pub sweeps: usize,
}

impl MpcParams {
    /// Benchmark protocol: two 30 s decisions ahead, one colour sweep.
    pub fn benchmark() -> MpcParams {
        MpcParams { segment_s: 30.0, segments: 2, sweeps: 1 }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct CityBrainMpc {
    heuristic: CityBrain,
    junctions: Vec<Junction>,
    /// Per junction, its incoming lanes (deduplicated): the lanes its cost counts.
    groups: Vec<Vec<LaneId>>,
    colour: Vec<usize>,
    colours: usize,
    params: MpcParams,
}

impl CityBrainMpc {
    pub fn new(ctx: &PolicyContext, params: MpcParams) -> CityBrainMpc {
        let groups = ctx
            .junctions
            .iter()
            .map(|j| {
                let mut v: Vec<LaneId> = j.in_lanes.iter().flatten().copied().collect();
                v.sort();
                v.dedup();
                v
            })
            .collect();
        let colour = colouring(ctx.net, ctx.junctions);
        let colours = colour.iter().max().map_or(0, |c| c + 1);
        CityBrainMpc {
            heuristic: CityBrain::new(ctx, CityBrainParams::for_timing(&ctx.timing)),
            junctions: ctx.junctions.to_vec(),
            groups,
            colour,
            colours,
            params,
        }
    }
}

/// Greedy colouring of the junctions (in order): junctions joined by a road in either
/// direction get different colours.
fn colouring(net: &Network, junctions: &[Junction]) -> Vec<usize> {
    let mut index = vec![usize::MAX; net.intersections.len()];
    for (k, j) in junctions.iter().enumerate() {
        index[j.id.idx()] = k;
    }
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); junctions.len()];
    for (k, j) in junctions.iter().enumerate() {
        for l in j.out_lanes.iter().flatten() {
            let to: IntersectionId = net.road(net.lane(*l).road).to;
            let o = index[to.idx()];
            if o != usize::MAX && o != k {
                adj[k].push(o);
                adj[o].push(k);
            }
        }
    }
    let mut colour = vec![usize::MAX; junctions.len()];
    for k in 0..junctions.len() {
        let mut c = 0;
        while adj[k].iter().any(|&o| colour[o] == c) {
            c += 1;
        }
        colour[k] = c;
    }
    colour
}

/// Digit `s` of sequence `q` in base `base`: the phase at segment `s`.
fn digit(q: usize, s: usize, base: usize) -> usize {
    (q / base.pow(s as u32)) % base
}

impl Policy for CityBrainMpc {
    fn name(&self) -> &str {
        "CityBrainMPC"
    }

    fn decide(&mut self, obs: &Observation, now: f64) -> Vec<Request> {
        self.heuristic.decide(obs, now)
    }

    fn wants_forecast(&self) -> bool {
        true
    }

    fn decide_with_forecast(&mut self, obs: &Observation, forecast: &Forecast, now: f64) -> Vec<Request> {
        let start = self.heuristic.decide(obs, now);
        let n = self.junctions.len();
        let segs = self.params.segments.max(1);
        let base = self.junctions.iter().map(|j| j.phases.len()).max().unwrap_or(1);
        let nseq = base.pow(segs as u32);
        // The heuristic's phase held for the whole horizon, as a sequence number.
        let mut free = vec![false; n];
        let mut best = vec![0usize; n];
        for r in &start {
            if let (Some(k), Target::Phase(p)) = (self.junctions.iter().position(|j| j.id == r.intersection), r.target) {
                free[k] = true;
                best[k] = (0..segs).map(|s| p * base.pow(s as u32)).sum();
            }
        }
        for (k, o) in obs.junctions.iter().enumerate() {
            free[k] &= matches!(o.state, SignalState::Green { .. } | SignalState::Startup);
        }
        let valid = |k: usize, q: usize| (0..segs).all(|s| digit(q, s, base) < self.junctions[k].phases.len());
        let mut best_cost = vec![f64::INFINITY; n];
        let mut cost = vec![0.0; n];
        let held = best.clone();
        // Round 0: everyone plays q; then colour sweeps with the others at their best.
        let rounds: Vec<Option<usize>> =
            std::iter::once(None).chain((0..self.params.sweeps).flat_map(|_| (0..self.colours).map(Some))).collect();
        for round in rounds {
            let moving = |k: usize| free[k] && round.is_none_or(|c| self.colour[k] == c);
            let fixed = best.clone();
            for q in 0..nseq {
                let plan = |k: usize, s: usize| {
                    if !free[k] {
                        None
                    } else if moving(k) && valid(k, q) {
                        Some(digit(q, s, base))
                    } else {
                        Some(digit(fixed[k], s, base))
                    }
                };
                forecast.rollout(segs, self.params.segment_s, plan, &self.groups, &mut cost);
                for k in (0..n).filter(|&k| moving(k) && valid(k, q)) {
                    let better = cost[k] < best_cost[k] - 1e-9 || (cost[k] <= best_cost[k] + 1e-9 && q == held[k]);
                    if better {
                        best_cost[k] = cost[k];
                        best[k] = q;
                    }
                }
            }
            // Costs of the next round are measured against new neighbours.
            best_cost.iter_mut().for_each(|c| *c = f64::INFINITY);
        }
        (0..n)
            .filter(|&k| free[k])
            .map(|k| Request { intersection: self.junctions[k].id, target: Target::Phase(digit(best[k], 0, base)) })
            .collect()
    }
}
