//! Self-organising traffic lights (Gershenson 2005, "sotl-platoon"): each intersection
//! integrates vehicles waiting at red (vehicles × seconds); when the integral passes a
//! threshold and the green has run its minimum, it switches to the red phase with most
//! demand, unless a short platoon is about to cross on green.

use super::{argmax, phase_sum, waiting_on, Policy, PolicyContext};
use crate::junction::Junction;
use crate::observe::Observation;
use crate::safety::{Request, SignalState, Target};

/// Threshold on waiting vehicles × seconds.
pub const THETA: f64 = 60.0;
/// Platoon protection: keep green when 1..=MU vehicles are about to cross.
pub const MU: u32 = 3;

#[derive(Clone, Debug)]
pub struct Sotl {
    junctions: Vec<Junction>,
    kappa: Vec<f64>,
    last: f64,
    min_green: f64,
}

impl Sotl {
    pub fn new(ctx: &PolicyContext) -> Sotl {
        Sotl {
            junctions: ctx.junctions.to_vec(),
            kappa: vec![0.0; ctx.junctions.len()],
            last: 0.0,
            min_green: ctx.timing.min_green.max(5.0),
        }
    }
}

impl Policy for Sotl {
    fn name(&self) -> &str {
        "SOTL"
    }
    fn decide(&mut self, obs: &Observation, now: f64) -> Vec<Request> {
        let dt = (now - self.last).max(0.0);
        self.last = now;
        let mut out = Vec::with_capacity(self.junctions.len());
        for ((j, o), kappa) in self.junctions.iter().zip(&obs.junctions).zip(&mut self.kappa) {
            let demand: Vec<f64> = (0..j.phases.len()).map(|p| phase_sum(j, p, |m| waiting_on(j, obs, m))).collect();
            let phase = match o.state {
                SignalState::Startup => {
                    out.push(Request { intersection: j.id, target: Target::Phase(argmax(demand.iter().copied(), None)) });
                    continue;
                }
                SignalState::Green { phase } => phase,
                _ => continue,
            };
            let red_waiting: f64 =
                (0..j.len()).filter(|&m| !j.phases[phase][m] && !j.always[m]).map(|m| waiting_on(j, obs, m)).sum();
            *kappa += red_waiting * dt;
            let platoon: u32 = (0..j.len())
                .filter(|&m| j.phases[phase][m] && !j.always[m])
                .flat_map(|m| j.in_lanes[m].iter())
                .map(|l| obs.lanes[l.idx()].near)
                .sum();
            if o.since_green >= self.min_green && *kappa >= THETA && !(platoon > 0 && platoon <= MU) {
                let mut scores = demand.clone();
                scores[phase] = f64::NEG_INFINITY;
                let best = argmax(scores.into_iter(), None);
                if best != phase && demand[best] > 0.0 {
                    *kappa = 0.0;
                    out.push(Request { intersection: j.id, target: Target::Phase(best) });
                }
            }
        }
        out
    }
}
