//! CityBrain: citybrain's own adaptive policy, model-predictive control with the digital
//! twin. At each decision it asks the [`Forecast`] what-if questions: for every junction
//! and every sequence of `segments` phases (each requested for `segment_s` seconds), how
//! many vehicle-seconds do the vehicles that still have to cross the junction spend on
//! its incoming lanes (and entry buffers) over the horizon? It requests the first phase
//! of the cheapest sequence and decides again at the next decision (receding horizon).
//!
//! ## Search
//! A rollout simulates the whole network with the real timing (the copied safety
//! layer), so one rollout answers for every junction at once: in rollout `q` every
//! junction plays sequence `q`, and each junction keeps its cheapest sequence. This is
//! exact for one junction's cost as long as junctions do not interact within the
//! horizon: the forecast cuts each vehicle's route after its next road and the cost
//! counts only vehicles whose route goes on, so a junction's cost does not depend on
//! what its neighbours send it; they interact only through spillback (a full exit road
//! blocks discharge), which the rollout simulates under the neighbours' same sequence.
//! Ties go to the sequence that holds the phase the [`CityBrain`] heuristic picks.
//!
//! Without a forecast, or on networks with more than [`MPC_MAX_JUNCTIONS`] signals, it is
//! the heuristic alone: a decision costs about signals × rollouts × horizon steps
//! (Hangzhou 4x4, 16 signals: ~15 ms per 2 s operational decision, ~0.3 s per 30 s
//! benchmark decision), too much for Nanchang's 859 signals and for the live brain's
//! 36-signal demo city run 60× faster than real time.

use twin::LaneId;

use super::{CityBrain, CityBrainParams, Policy, PolicyContext};
use crate::forecast::{incoming_lanes, Forecast};
use crate::junction::Junction;
use crate::observe::Observation;
use crate::safety::{Request, SignalState, Target, Timing};

/// Networks with more signals than this get the heuristic only (no rollouts).
pub const MPC_MAX_JUNCTIONS: usize = 32;

/// Search settings of [`CityBrainMpc`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MpcParams {
    /// Seconds each phase of a candidate sequence is requested for.
    pub segment_s: f64,
    /// Phases per candidate sequence (horizon = `segments × segment_s`).
    pub segments: usize,
}

impl MpcParams {
    /// Settings for the decision period of `timing` (chosen on Hangzhou 4x4 + Jinan
    /// 3x4, see BENCHMARKS.md): under 30 s locked decisions, three decisions ahead;
    /// under field timing, two 7 s segments.
    pub fn for_timing(timing: &Timing) -> MpcParams {
        if timing.decision_interval >= 15.0 {
            MpcParams { segment_s: timing.decision_interval, segments: 3 }
        } else {
            MpcParams { segment_s: 7.0, segments: 2 }
        }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct CityBrainMpc {
    heuristic: CityBrain,
    junctions: Vec<Junction>,
    /// Per junction, its incoming lanes: the lanes its cost counts.
    groups: Vec<Vec<LaneId>>,
    /// `None`: heuristic only.
    params: Option<MpcParams>,
    cost: Vec<f64>,
}

impl CityBrainMpc {
    /// MPC with `params` (`None`: the heuristic alone), starting from and falling back to
    /// the heuristic tuned for the context's timing.
    pub fn new(ctx: &PolicyContext, params: Option<MpcParams>) -> CityBrainMpc {
        let groups = ctx.junctions.iter().map(incoming_lanes).collect();
        CityBrainMpc {
            heuristic: CityBrain::new(ctx, CityBrainParams::for_timing(&ctx.timing)),
            junctions: ctx.junctions.to_vec(),
            groups,
            params,
            cost: vec![0.0; ctx.junctions.len()],
        }
    }

    /// The default: [`MpcParams::for_timing`], or the heuristic alone on networks with
    /// more than [`MPC_MAX_JUNCTIONS`] signals.
    pub fn for_context(ctx: &PolicyContext) -> CityBrainMpc {
        let params = (ctx.junctions.len() <= MPC_MAX_JUNCTIONS).then(|| MpcParams::for_timing(&ctx.timing));
        CityBrainMpc::new(ctx, params)
    }
}

/// Digit `s` of sequence `q` in base `base`: the phase at segment `s`.
fn digit(q: usize, s: usize, base: usize) -> usize {
    (q / base.pow(s as u32)) % base
}

impl Policy for CityBrainMpc {
    fn name(&self) -> &str {
        "CityBrain"
    }

    fn decide(&mut self, obs: &Observation, now: f64) -> Vec<Request> {
        self.heuristic.decide(obs, now)
    }

    fn wants_forecast(&self) -> bool {
        self.params.is_some()
    }

    fn decide_with_forecast(&mut self, obs: &Observation, forecast: &Forecast, now: f64) -> Vec<Request> {
        let start = self.heuristic.decide(obs, now);
        let Some(params) = self.params else { return start };
        let n = self.junctions.len();
        let segs = params.segments.max(1);
        let base = self.junctions.iter().map(|j| j.phases.len()).max().unwrap_or(1);
        let pow = |s: usize| base.pow(s as u32);
        // Junctions the heuristic decides for; their default is its phase held throughout.
        let mut held: Vec<Option<usize>> = vec![None; n];
        for r in &start {
            let k = self.junctions.iter().position(|j| j.id == r.intersection);
            if let (Some(k), Target::Phase(p)) = (k, r.target) {
                if matches!(obs.junctions[k].state, SignalState::Green { .. } | SignalState::Startup) {
                    held[k] = Some((0..segs).map(|s| p * pow(s)).sum());
                }
            }
        }
        let valid = |k: usize, q: usize| (0..segs).all(|s| digit(q, s, base) < self.junctions[k].phases.len());
        let mut best: Vec<(f64, Option<usize>)> = vec![(f64::INFINITY, None); n];
        for q in 0..pow(segs) {
            let plan = |k: usize, s: usize| {
                let seq = if valid(k, q) { Some(q) } else { held[k] };
                held[k].and(seq).map(|seq| digit(seq, s, base))
            };
            forecast.rollout(segs, params.segment_s, plan, &self.groups, &mut self.cost);
            for k in (0..n).filter(|&k| held[k].is_some() && valid(k, q)) {
                let c = self.cost[k];
                if c < best[k].0 - 1e-9 || (c <= best[k].0 + 1e-9 && Some(q) == held[k]) {
                    best[k] = (c, Some(q));
                }
            }
        }
        (0..n)
            .filter_map(|k| {
                let q = best[k].1.or(held[k])?;
                Some(Request { intersection: self.junctions[k].id, target: Target::Phase(digit(q, 0, base)) })
            })
            .collect()
    }
}
