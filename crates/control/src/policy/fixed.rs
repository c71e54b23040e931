//! FixedTime: the roadnet's own fixed-time plan.

use super::{Policy, PolicyContext};
use crate::observe::Observation;
use crate::safety::{Request, Target};

/// Hands every intersection to its own plan at the first decision.
#[derive(Clone, Debug)]
pub struct FixedTime {
    started: bool,
}

impl FixedTime {
    pub fn new(_ctx: &PolicyContext) -> FixedTime {
        FixedTime { started: false }
    }
}

impl Policy for FixedTime {
    fn name(&self) -> &str {
        "FixedTime"
    }
    fn decide(&mut self, obs: &Observation, _now: f64) -> Vec<Request> {
        if std::mem::replace(&mut self.started, true) {
            return Vec::new();
        }
        obs.junctions.iter().map(|j| Request { intersection: j.id, target: Target::Plan }).collect()
    }
}
