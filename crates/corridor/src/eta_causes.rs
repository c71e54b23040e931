//! Why an arrival prediction missed (issue 17's ETA target): the corridor's vehicle is
//! sampled every step, and the time it lost between a prediction (60 s before it reached
//! a signal) and its arrival there is split by what held it:
//!
//! - **following**: moving slower than its desired speed with a vehicle less than
//!   `FOLLOW_GAP_M` ahead on its lane (it cannot overtake without a free lane);
//! - **queue**: standing with a vehicle less than `FOLLOW_GAP_M` ahead (a queue ahead of
//!   it still discharging);
//! - **red**: standing at the head of its lane with its movement red (the preemption not
//!   yet served: minimum green and clearance of the running phase);
//! - **other**: the rest (accelerating from a stop, turning, links).
//!
//! Lost time is `dt × (1 − v / v_desired)` per step. A late arrival (the prediction was
//! early) is put down to the cause that lost the most time; an early arrival means the
//! prediction expected a delay that did not come (`pessimistic`), split by whether a
//! vehicle was ahead of it on its lane when the prediction was made.

use control::SafetyLayer;
use twin::{Sim, VehicleId};

/// A vehicle this close ahead (metres, bumper to bumper) holds the corridor's vehicle.
pub const FOLLOW_GAP_M: f64 = 30.0;

/// One step of the corridor's vehicle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvSample {
    pub t: f64,
    pub speed: f64,
    /// Its desired speed where it is (its own, at most its factor times the lane's limit).
    pub v_free: f64,
    /// Gap to the vehicle ahead on its lane (none on a link or with nobody ahead).
    pub gap_m: Option<f64>,
    /// Whether its movement at the next signal it has not passed is green.
    pub green: Option<bool>,
}

/// Sample the vehicle `ev` now (`None` unless it is on the road); `green` is whether its
/// movement at the next signal of its route is green ([`movement_green`]).
pub fn sample(sim: &Sim, ev: VehicleId, safety: &SafetyLayer) -> Option<EvSample> {
    let t = sim.tracked(ev)?;
    let (p, limit) = sim.unit_params(ev)?;
    let net = sim.network();
    let (v_free, gap_m) = match t.lane {
        Some(l) => {
            let v = p.max_speed.min(limit * net.lane(l).max_speed);
            let ahead = sim
                .lane_vehicles(l)
                .filter(|&(o, dis, _, _)| o != ev && dis > t.pos_m)
                .map(|(_, dis, _, len)| dis - len - t.pos_m);
            (v, ahead.fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.min(g)))))
        }
        None if t.road.is_none() && t.state == twin::engine::TripState::Running => (p.max_speed.min(p.turn_speed), None),
        None => return None,
    };
    let green = movement_green(sim, &t, safety);
    Some(EvSample { t: sim.time(), speed: t.speed, v_free: v_free.max(0.1), gap_m, green })
}

/// Whether the movement of tracked vehicle `t` at the end of its road is green (`None`
/// on a link, or where the road ends at no signal).
pub fn movement_green(sim: &Sim, t: &twin::engine::Tracked, safety: &SafetyLayer) -> Option<bool> {
    let net = sim.network();
    let r = t.road?;
    let next = *t.route.get(t.route_index + 1)?;
    let jk = safety.index_of(net.road(r).to)?;
    let j = &safety.junctions()[jk];
    let m = (0..j.len()).find(|&m| {
        let mv = net.movement(j.movements[m]);
        mv.from_road == r && mv.to_road == next
    })?;
    safety.mask(jk).get(m).copied()
}

/// Seconds the vehicle lost over its whole trip, by cause (following, queue, red, other),
/// from its samples.
pub fn trip_losses(samples: &[EvSample], dt: f64) -> [f64; 4] {
    lost_between(samples, f64::NEG_INFINITY, f64::INFINITY, dt)
}

/// Seconds lost in `[t0, t1)` by cause: following, queue, red, other.
pub fn lost_between(samples: &[EvSample], t0: f64, t1: f64, dt: f64) -> [f64; 4] {
    let mut lost = [0.0; 4];
    for s in samples.iter().filter(|s| s.t >= t0 - 1e-9 && s.t < t1 - 1e-9) {
        let l = dt * (1.0 - (s.speed / s.v_free).min(1.0));
        let close = s.gap_m.is_some_and(|g| g < FOLLOW_GAP_M);
        let k = if s.speed >= 0.5 {
            if close {
                0
            } else {
                3
            }
        } else if close {
            1
        } else if s.green == Some(false) {
            2
        } else {
            3
        };
        lost[k] += l;
    }
    lost
}

/// The cause names, in the order of [`lost_between`], then the two kinds of early arrival.
pub const CAUSES: [&str; 6] = ["following", "queue", "red", "other", "pessimistic, vehicle ahead", "pessimistic, lane free"];

/// The cause of a prediction error `error_s` (predicted − actual) made at `t_pred` for a
/// passage at `t_pass`: an index into [`CAUSES`].
pub fn classify(samples: &[EvSample], error_s: f64, t_pred: f64, t_pass: f64, dt: f64) -> usize {
    if error_s > 0.0 {
        let ahead = samples.iter().min_by(|a, b| (a.t - t_pred).abs().total_cmp(&(b.t - t_pred).abs())).and_then(|s| s.gap_m);
        return if ahead.is_some_and(|g| g < 100.0) { 4 } else { 5 };
    }
    let lost = lost_between(samples, t_pred, t_pass, dt);
    (0..4).max_by(|&a, &b| lost[a].total_cmp(&lost[b]).then(b.cmp(&a))).unwrap_or(3)
}
