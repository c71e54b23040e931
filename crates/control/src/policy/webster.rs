//! Webster: a fixed cycle per intersection computed from planned demand.
//! Cycle `C = (1.5 L + 5) / (1 - Y)`, green splits proportional to each phase's critical
//! flow ratio `y = q / s` (q from the flows routed through each movement over the
//! horizon, s a saturation flow per lane).

use std::collections::HashMap;

use city::{MovementId, RoadId};

use super::{Policy, PolicyContext};
use crate::junction::{Junction, PhaseSet};
use crate::observe::Observation;
use crate::safety::{Request, SignalState, Target};

/// Saturation flow per lane, vehicles per second (about 1,400 veh/h with CityFlow's
/// 2 s headway and 2.5 m gap).
pub const SATURATION_PER_LANE: f64 = 0.39;
const MIN_CYCLE: f64 = 30.0;
const MAX_CYCLE: f64 = 150.0;
const Y_CAP: f64 = 0.9;

#[derive(Clone, Debug)]
struct Plan {
    /// Candidate phase indices in cycle order, with their green times.
    order: Vec<(usize, f64)>,
    pos: usize,
}

#[derive(Clone, Debug)]
pub struct Webster {
    junctions: Vec<Junction>,
    plans: Vec<Plan>,
    /// Cycle length per junction, seconds.
    pub cycles: Vec<f64>,
}

impl Webster {
    pub fn new(ctx: &PolicyContext) -> Webster {
        let mut by_pair: HashMap<(RoadId, RoadId), MovementId> = HashMap::new();
        for j in ctx.junctions {
            for &m in &j.movements {
                let mv = ctx.net.movement(m);
                by_pair.insert((mv.from_road, mv.to_road), m);
            }
        }
        let mut flow = vec![0.0; ctx.net.movements.len()];
        for f in &ctx.demand.flows {
            let one = city::Demand { flows: vec![f.clone()] };
            let n = one.vehicles_until(ctx.horizon_s) as f64;
            for w in f.route.windows(2) {
                if let Some(m) = by_pair.get(&(w[0], w[1])) {
                    flow[m.idx()] += n;
                }
            }
        }
        let horizon = ctx.horizon_s.max(1.0);
        let lost = ctx.timing.lost_time();
        let min_green = ctx.timing.min_green.max(5.0);
        let mut plans = Vec::new();
        let mut cycles = Vec::new();
        for j in ctx.junctions {
            // Prefer the four through/left phases when the candidate set contains them.
            let four = crate::junction::Junction::new(ctx.net, j.id, PhaseSet::Four).map(|f| f.phases).unwrap_or_default();
            let mut idx: Vec<usize> = four.iter().filter_map(|m| j.phases.iter().position(|p| p == m)).collect();
            if idx.len() != four.len() || idx.is_empty() {
                idx = (0..j.phases.len()).collect();
            }
            let y: Vec<f64> = idx
                .iter()
                .map(|&p| {
                    (0..j.len())
                        .filter(|&m| j.phases[p][m] && !j.always[m])
                        .map(|m| flow[j.movements[m].idx()] / horizon / (SATURATION_PER_LANE * j.in_lanes[m].len().max(1) as f64))
                        .fold(0.0, f64::max)
                })
                .collect();
            let big_y: f64 = y.iter().sum::<f64>().min(Y_CAP);
            let l = idx.len() as f64 * lost;
            let c = ((1.5 * l + 5.0) / (1.0 - big_y)).clamp(MIN_CYCLE.max(l + min_green * idx.len() as f64), MAX_CYCLE);
            let ysum: f64 = y.iter().sum();
            let order = idx
                .iter()
                .zip(&y)
                .map(|(&p, &yp)| {
                    let share = if ysum > 0.0 { yp / ysum } else { 1.0 / idx.len() as f64 };
                    (p, ((c - l) * share).max(min_green))
                })
                .collect();
            plans.push(Plan { order, pos: 0 });
            cycles.push(c);
        }
        Webster { junctions: ctx.junctions.to_vec(), plans, cycles }
    }
}

impl Policy for Webster {
    fn name(&self) -> &str {
        "Webster"
    }
    fn decide(&mut self, obs: &Observation, _now: f64) -> Vec<Request> {
        let mut out = Vec::with_capacity(self.junctions.len());
        for ((j, o), plan) in self.junctions.iter().zip(&obs.junctions).zip(&mut self.plans) {
            let (p, g) = plan.order[plan.pos];
            let target = match o.state {
                SignalState::Startup => p,
                SignalState::Green { phase } if phase == p && o.since_green + 1e-6 >= g => {
                    plan.pos = (plan.pos + 1) % plan.order.len();
                    plan.order[plan.pos].0
                }
                _ => p,
            };
            out.push(Request { intersection: j.id, target: Target::Phase(target) });
        }
        out
    }
}
