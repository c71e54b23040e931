//! Actuated control: hold the green while the detectors of the green movements keep
//! calling (a vehicle within [`crate::observe::DETECTOR_M`] of the stop line), end it
//! on gap-out (no call) or max-out, and go to the next phase in cycle order that has a
//! call; phases without calls are skipped.

use super::{Policy, PolicyContext};
use crate::junction::Junction;
use crate::observe::Observation;
use crate::safety::{Request, SignalState, Target};

/// Maximum green used when the timing sets none.
const DEFAULT_MAX_GREEN: f64 = 45.0;

#[derive(Clone, Debug)]
pub struct Actuated {
    junctions: Vec<Junction>,
    max_green: f64,
    min_green: f64,
}

impl Actuated {
    pub fn new(ctx: &PolicyContext) -> Actuated {
        let max_green = if ctx.timing.max_green.is_finite() { ctx.timing.max_green } else { DEFAULT_MAX_GREEN };
        Actuated { junctions: ctx.junctions.to_vec(), max_green, min_green: ctx.timing.min_green.max(5.0) }
    }
}

fn calls(j: &Junction, obs: &Observation, phase: usize) -> u32 {
    (0..j.len())
        .filter(|&m| j.phases[phase][m] && !j.always[m])
        .flat_map(|m| j.in_lanes[m].iter())
        .map(|l| {
            let o = &obs.lanes[l.idx()];
            o.near + o.waiting
        })
        .sum()
}

impl Policy for Actuated {
    fn name(&self) -> &str {
        "Actuated"
    }
    /// It ends a green when the detectors see a gap.
    fn termination(&self) -> twin::Termination {
        twin::Termination::GapOut
    }
    fn decide(&mut self, obs: &Observation, _now: f64) -> Vec<Request> {
        let mut out = Vec::with_capacity(self.junctions.len());
        for (j, o) in self.junctions.iter().zip(&obs.junctions) {
            let n = j.phases.len();
            let next_with_call = |from: usize| (1..=n).map(|d| (from + d) % n).find(|&p| calls(j, obs, p) > 0);
            let target = match o.state {
                SignalState::Startup => next_with_call(n - 1).unwrap_or(0),
                SignalState::Green { phase } => {
                    let gap_out = o.since_green >= self.min_green && calls(j, obs, phase) == 0;
                    let max_out = o.since_green >= self.max_green;
                    if gap_out || max_out {
                        next_with_call(phase).unwrap_or(phase)
                    } else {
                        phase
                    }
                }
                _ => continue,
            };
            out.push(Request { intersection: j.id, target: Target::Phase(target) });
        }
        out
    }
}
