//! CityBrain: citybrain's own adaptive policy, model-predictive control with the digital
//! twin. At each decision it asks the [`Forecast`] what-if questions and requests, per
//! junction, the phase whose future costs least: the vehicle-seconds that vehicles still
//! to cross the junction spend on its incoming lanes (and entry buffers) over the
//! horizon. It decides again at the next decision (receding horizon). Two searches, by
//! the decision period ([`MpcParams::for_timing`]):
//!
//! ## Locked 30 s decisions (benchmark protocol): open-loop sequences
//! For every junction and every sequence of `segments` phases (each requested for
//! `segment_s` seconds), the cost over `segments × segment_s`; it requests the first
//! phase of the cheapest sequence. A rollout simulates the whole network with the real
//! timing (the copied safety layer), so one rollout answers for every junction at once:
//! in rollout `q` every junction plays sequence `q`, and each junction keeps its cheapest
//! sequence. This is exact for one junction's cost as long as junctions do not interact
//! within the horizon: the forecast cuts each vehicle's route after its next road and
//! the cost counts only vehicles whose route goes on, so a junction's cost does not
//! depend on what its neighbours send it; they interact only through spillback (a full
//! exit road blocks discharge), which the rollout simulates under the neighbours' same
//! sequence. Ties go to the sequence that holds the phase the [`CityBrain`] heuristic
//! picks.
//!
//! ## Field timing (operational protocol): closed-loop rollout by colour
//! See [`super::rollout`]: deviations from the heuristic (request phase `p` now, or hold
//! the current phase one more decision and then request `p`), each judged by a rollout
//! of `decisions` decisions (40 s) in which the heuristic then keeps deciding on what
//! the model shows (rollout over a base policy), the junctions taking turns by colour
//! of a greedy colouring, so neighbours never deviate in the same rollout and a
//! junction's cost includes its neighbours' closed-loop response to what it sends them.
//! Here the forecast keeps the whole routes of the vehicles present (as a navigation
//! feed would report them; still no future vehicle), so the cost counts the vehicles
//! that upstream junctions send within the horizon. Rollouts per decision: colours ×
//! (2 × phases + 1) at most, for the junctions whose minimum green lets a change start before the
//! next decision.
//!
//! Without a forecast, or on networks with more than [`MPC_MAX_JUNCTIONS`] signals, it is
//! the heuristic alone: a decision costs about signals × rollouts × horizon steps
//! (Hangzhou 4x4, 16 signals: tens of ms per 2 s operational decision, ~0.1-0.3 s per
//! 30 s benchmark decision), too much for Nanchang's 859 signals and for the live
//! brain's 36-signal demo city run 60× faster than real time.

use city::LaneId;

use super::rollout::ClosedLoop;
use super::{CityBrain, CityBrainParams, Policy, PolicyContext};
use crate::forecast::{incoming_lanes, Forecast};
use crate::junction::Junction;
use crate::observe::Observation;
use crate::safety::{Request, SignalState, Target, Timing};

/// Networks with more signals than this get the heuristic only (no rollouts).
pub const MPC_MAX_JUNCTIONS: usize = 32;

/// Search settings of [`CityBrainMpc`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MpcParams {
    /// Open loop: every junction's best sequence of `segments` phases, each requested
    /// for `segment_s` seconds (horizon = `segments × segment_s`), routes cut after the
    /// next road.
    Sequences { segment_s: f64, segments: usize },
    /// Closed loop (see [`super::rollout`]): deviations from the heuristic over the first
    /// `ahead` decisions (hold the current phase for `t < ahead` decisions, then request
    /// phase `p`), judged over `decisions` decisions in which the
    /// heuristic keeps deciding after the deviation, junctions taking turns by colour; the
    /// forecast keeps the whole routes of the vehicles present.
    ClosedLoop { decisions: usize, ahead: usize },
}

impl MpcParams {
    /// Settings for the decision period of `timing` (chosen on Hangzhou 4x4 + Jinan
    /// 3x4, see docs/signal-control-search.md): under 30 s locked decisions, sequences of three
    /// decisions; under field timing, closed loop over 40 s (20 decisions at 2 s) with
    /// deviations over the first two decisions (switch now or one decision later).
    pub fn for_timing(timing: &Timing) -> MpcParams {
        if timing.decision_interval >= 15.0 {
            MpcParams::Sequences { segment_s: timing.decision_interval, segments: 3 }
        } else {
            MpcParams::ClosedLoop { decisions: (40.0 / timing.decision_interval).round().max(1.0) as usize, ahead: 2 }
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
    closed: Option<ClosedLoop>,
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
            closed: match params {
                Some(MpcParams::ClosedLoop { decisions, ahead }) => Some(ClosedLoop::new(ctx, decisions, ahead)),
                _ => None,
            },
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

    fn forecast_full_routes(&self) -> bool {
        self.closed.is_some()
    }

    fn decide_with_forecast(&mut self, obs: &Observation, forecast: &Forecast, now: f64) -> Vec<Request> {
        if let Some(closed) = &mut self.closed {
            return closed.decide(&mut self.heuristic, &self.junctions, &self.groups, &mut self.cost, obs, forecast, now);
        }
        let start = self.heuristic.decide(obs, now);
        let Some(MpcParams::Sequences { segment_s, segments }) = self.params else { return start };
        let n = self.junctions.len();
        let segs = segments.max(1);
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
            forecast.rollout(segs, segment_s, plan, &self.groups, &mut self.cost);
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
