//! Observations: the plain data policies decide on, built from the twin (or, later,
//! from real detectors) once per decision. Policies never see the simulator itself.

use city::{IntersectionId, LaneId, Network};
use twin::Sim;

use crate::junction::Junction;
use crate::safety::{SafetyLayer, SignalState};

/// Vehicles within this distance of the stop line count as approaching.
pub const APPROACH_M: f64 = 150.0;
/// Vehicles within this distance of the stop line are on the detector (actuated call).
pub const DETECTOR_M: f64 = 30.0;
/// Time to stop line at which an approaching vehicle's weight falls to zero.
pub const APPROACH_HORIZON_S: f64 = 20.0;
/// Moving vehicles that reach the stop line within this time count as arriving.
pub const ARRIVAL_HORIZON_S: f64 = 30.0;
/// Speed below which a vehicle counts as waiting (CityFlow's definition).
pub const WAITING_SPEED: f64 = 0.1;
/// Jam spacing used for lane capacity: vehicle length plus minimum gap.
pub const JAM_SPACING_M: f64 = 7.5;

/// One lane's state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LaneObs {
    pub count: u32,
    /// Vehicles slower than [`WAITING_SPEED`].
    pub waiting: u32,
    /// From the stop line to the back of the last waiting vehicle of the stop-line queue.
    pub queue_m: f64,
    /// Moving vehicles within [`APPROACH_M`] of the stop line.
    pub approaching: u32,
    /// Approaching vehicles weighted by `1 - time_to_stop_line / APPROACH_HORIZON_S` (≥ 0).
    pub approach_weight: f64,
    /// Moving vehicles anywhere on the lane that reach the stop line within
    /// [`ARRIVAL_HORIZON_S`] at their current speed.
    pub arriving: u32,
    /// Vehicles within [`DETECTOR_M`] of the stop line (a detector call).
    pub near: u32,
    /// Vehicles the lane holds at jam spacing.
    pub capacity: f64,
}

/// One controlled intersection's signal state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JunctionObs {
    pub id: IntersectionId,
    pub state: SignalState,
    /// The green phase, or the phase being changed to.
    pub phase: Option<usize>,
    /// Seconds since the current (or last) green began.
    pub since_green: f64,
}

/// Everything a policy sees at one decision.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub time: f64,
    /// Indexed by `LaneId`; only lanes of controlled movements are filled.
    pub lanes: Vec<LaneObs>,
    /// Indexed by `MovementId`: waiting vehicles on the movement's incoming lanes minus
    /// vehicles on its outgoing lanes (scaled to the number of incoming lanes).
    pub movement_pressure: Vec<f64>,
    /// Indexed like [`SafetyLayer::junctions`].
    pub junctions: Vec<JunctionObs>,
}

/// Builds [`Observation`]s, reusing its buffers.
#[derive(Clone, Debug)]
pub struct Observer {
    lanes: Vec<LaneId>,
    lane_len: Vec<f64>,
    obs: Observation,
}

impl Observer {
    pub fn new(net: &Network, junctions: &[Junction]) -> Observer {
        let mut lanes: Vec<LaneId> =
            junctions.iter().flat_map(|j| j.in_lanes.iter().chain(j.out_lanes.iter()).flat_map(|v| v.iter().copied())).collect();
        lanes.sort();
        lanes.dedup();
        let lane_len = net.lanes.iter().map(|l| l.length).collect();
        let obs = Observation {
            time: 0.0,
            lanes: vec![LaneObs::default(); net.lanes.len()],
            movement_pressure: vec![0.0; net.movements.len()],
            junctions: Vec::with_capacity(junctions.len()),
        };
        Observer { lanes, lane_len, obs }
    }

    /// Observe `sim` now. Signal states come from the safety layer.
    pub fn observe(&mut self, sim: &Sim, safety: &SafetyLayer) -> &Observation {
        let now = sim.time();
        self.obs.time = now;
        for &l in &self.lanes {
            let len = self.lane_len[l.idx()];
            let mut o = LaneObs { capacity: (len / JAM_SPACING_M).max(1.0), ..Default::default() };
            let mut in_queue = true;
            for (_, dis, speed, vlen) in sim.lane_vehicles(l) {
                o.count += 1;
                let to_line = (len - dis).max(0.0);
                if speed < WAITING_SPEED {
                    o.waiting += 1;
                    if in_queue {
                        o.queue_m = (len - (dis - vlen)).max(0.0);
                    }
                } else {
                    in_queue = false;
                    if to_line <= speed * ARRIVAL_HORIZON_S {
                        o.arriving += 1;
                    }
                    if to_line <= APPROACH_M {
                        o.approaching += 1;
                        let tts = to_line / speed;
                        o.approach_weight += (1.0 - tts / APPROACH_HORIZON_S).max(0.0);
                    }
                }
                if to_line <= DETECTOR_M {
                    o.near += 1;
                }
            }
            self.obs.lanes[l.idx()] = o;
        }
        self.obs.junctions.clear();
        for (k, j) in safety.junctions().iter().enumerate() {
            for (m, &mid) in j.movements.iter().enumerate() {
                let w: f64 = j.in_lanes[m].iter().map(|l| self.obs.lanes[l.idx()].waiting as f64).sum();
                let out: f64 = j.out_lanes[m].iter().map(|l| self.obs.lanes[l.idx()].count as f64).sum();
                let scale = j.in_lanes[m].len() as f64 / j.out_lanes[m].len().max(1) as f64;
                self.obs.movement_pressure[mid.idx()] = w - out * scale;
            }
            let (state, _) = safety.state(k);
            let phase = match state {
                SignalState::Green { phase } => Some(phase),
                SignalState::Yellow { to: crate::Target::Phase(p), .. }
                | SignalState::AllRed { to: crate::Target::Phase(p), .. } => Some(p),
                _ => None,
            };
            self.obs.junctions.push(JunctionObs { id: j.id, state, phase, since_green: now - safety.green_since(k) });
        }
        &self.obs
    }
}
