//! MaxPressure (Varaiya 2013, as in the CityFlow/LibSignal reference): pick the phase
//! with the largest summed movement pressure, pressure on waiting vehicles.

use super::{argmax, phase_sum, Policy, PolicyContext};
use crate::junction::Junction;
use crate::observe::Observation;
use crate::safety::{Request, Target};

#[derive(Clone, Debug)]
pub struct MaxPressure {
    junctions: Vec<Junction>,
}

impl MaxPressure {
    pub fn new(ctx: &PolicyContext) -> MaxPressure {
        MaxPressure { junctions: ctx.junctions.to_vec() }
    }
}

impl Policy for MaxPressure {
    fn name(&self) -> &str {
        "MaxPressure"
    }
    fn decide(&mut self, obs: &Observation, _now: f64) -> Vec<Request> {
        self.junctions
            .iter()
            .zip(&obs.junctions)
            .map(|(j, o)| {
                let scores = (0..j.phases.len()).map(|p| phase_sum(j, p, |m| obs.movement_pressure[j.movements[m].idx()]));
                Request { intersection: j.id, target: Target::Phase(argmax(scores, o.phase)) }
            })
            .collect()
    }
}
