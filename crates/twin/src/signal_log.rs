//! The virtual signal controller's high-resolution event log (ATSPM / Indiana enumerations),
//! part of the virtual sensors.
//!
//! - **Phase events** per NEMA phase ([`city::signal::Nema`]), from the green masks the
//!   twin shows, whoever sets them (the fixed plan or a policy behind the safety layer):
//!   a phase is green while any of its movements other than right turns is. Green
//!   begins: 1. Green ends: 7 (green termination), then 4, 5 or 6 (gap out, max out,
//!   force off) and 8 (begin yellow), all at the instant the mask changed; `yellow`
//!   later 9 (end yellow) and 10 (begin red clearance); `yellow + red` after the change
//!   11 (end red clearance). The clearance and the termination come from what the
//!   controller reported ([`crate::Sim::clearance`], the safety layer's timing); under
//!   the roadnet's plan a following stage that gives green to right turns only is the
//!   intergreen (its first `yellow_s` seconds yellow, the rest red clearance), a direct
//!   change has none, and every end is a force-off. Times are when the mask began to
//!   govern the vehicles ([`crate::Sim::signal_changed_at`]).
//! - **Phase calls** 43 (registered) and 44 (dropped), locking memory: a detector of the
//!   phase ([`city::signal::Detector::phase`]) turning on while the phase is not green,
//!   or occupied when its green ends, registers a call; the call is dropped when the
//!   phase's green begins (served).
//! - **Coordination** 131 (pattern) and 132 (cycle length, seconds) when the log starts
//!   and whenever the intersection changes hands: on the roadnet's own plan pattern 1
//!   with the plan's cycle; under an external controller (a policy behind the safety
//!   layer, or a preemption) pattern 254, "free", with cycle 0.
//! - **Detector events** 82 (on) and 81 (off) of the stop-bar presence and advance
//!   zones ([`city::signal::detectors`]): a zone is occupied while any part of a vehicle
//!   is over it. Within a step a vehicle moves at its new speed, so on and off times are
//!   interpolated inside the step; a vehicle that crossed the stop line keeps the
//!   presence zone occupied until its rear has passed.

use city::signal::{detectors, DetectorLayout, Nema};
use city::{IntersectionId, LaneId, MovementId, Turn};

use crate::engine::SimEvent;
use crate::sensors::Reading;
use crate::{Sim, Termination};

const EPS: f64 = 1e-9;

/// One NEMA phase being tracked.
#[derive(Clone, Debug)]
struct PhaseTrack {
    phase: u8,
    movements: Vec<MovementId>,
    green: bool,
    /// `(end of yellow, end of red clearance, yellow already ended)`.
    clearing: Option<(f64, f64, bool)>,
    /// A call is registered and not yet served.
    called: bool,
    /// When the phase's last green ended (0 before any).
    red_since: f64,
}

/// One detector zone being tracked.
#[derive(Clone, Copy, Debug)]
struct DetTrack {
    channel: u32,
    /// NEMA phase the detector calls (0: none).
    phase: u8,
    /// Zone along the lane, `(start, end)`.
    zone: (f64, f64),
    /// Whether the zone is at the stop line.
    stop_bar: bool,
    on: bool,
    /// Until when the zone is known to be occupied.
    cover_end: f64,
}

#[derive(Clone, Debug)]
struct Controller {
    id: IntersectionId,
    phases: Vec<PhaseTrack>,
    /// The intersection's approach lanes with their detectors.
    lanes: Vec<(LaneId, Vec<DetTrack>)>,
    /// The coordination pattern and cycle last reported (`None` before the first).
    coord: Option<(u32, u32)>,
    /// The plan's cycle, seconds.
    plan_cycle_s: u32,
}

/// ATSPM's pattern number for free operation.
pub const PATTERN_FREE: u32 = 254;

/// The event log of every signalised intersection of a twin.
#[derive(Clone, Debug)]
pub struct SignalLog {
    ctrls: Vec<Controller>,
    yellow_s: f64,
    /// Per lane: whether it has detectors.
    lane_slot: Vec<bool>,
    scratch: Vec<(f64, f64)>,
}

impl SignalLog {
    /// Track every signalised intersection of `sim`'s network, with detectors placed by
    /// `layout`; `yellow_s` is the yellow of a plan's intergreen.
    pub fn new(sim: &Sim, layout: &DetectorLayout, yellow_s: f64) -> SignalLog {
        let net = sim.network();
        let mut ctrls = Vec::new();
        let mut lane_slot = vec![false; net.lanes.len()];
        for (i, inter) in net.intersections.iter().enumerate() {
            if !inter.is_signalised() {
                continue;
            }
            let id = IntersectionId(i as u32);
            let nema = Nema::of(net, id);
            let phases = nema
                .phases
                .iter()
                .map(|p| {
                    let movements: Vec<MovementId> = p.movements.iter().map(|&k| inter.movements[k]).collect();
                    let green = movements.iter().any(|&m| sim.movement_green(m));
                    PhaseTrack { phase: p.phase, movements, green, clearing: None, called: false, red_since: 0.0 }
                })
                .collect();
            let mut lanes: Vec<(LaneId, Vec<DetTrack>)> = Vec::new();
            for d in detectors(net, id, &nema, layout) {
                let zone = d.zone(net.lane(d.lane).length);
                let t = DetTrack {
                    channel: d.channel,
                    phase: d.phase,
                    zone,
                    stop_bar: d.distance_m == 0.0,
                    on: false,
                    cover_end: 0.0,
                };
                match lanes.iter_mut().find(|(l, _)| *l == d.lane) {
                    Some((_, v)) => v.push(t),
                    None => {
                        lane_slot[d.lane.idx()] = true;
                        lanes.push((d.lane, vec![t]));
                    }
                }
            }
            let plan_cycle_s = inter.phases.iter().map(|p| p.duration).sum::<f64>().round().clamp(0.0, 999.0) as u32;
            ctrls.push(Controller { id, phases, lanes, coord: None, plan_cycle_s });
        }
        SignalLog { ctrls, yellow_s, lane_slot, scratch: Vec::new() }
    }

    /// Read the twin after a step and append the events of that step to `out`.
    pub fn observe(&mut self, sim: &Sim, out: &mut Vec<Reading>) {
        let now = sim.time();
        for c in 0..self.ctrls.len() {
            self.phase_events(sim, c, now, out);
        }
        self.detector_events(sim, now, out);
    }

    fn phase_events(&mut self, sim: &Sim, c: usize, now: f64, out: &mut Vec<Reading>) {
        let net = sim.network();
        let ctrl = &mut self.ctrls[c];
        let id = ctrl.id;
        let at = sim.signal_changed_at(id).min(now);
        let ev = |time: f64, code: u16, phase: u8| Reading::SignalEvent { intersection: id, time, code, param: u32::from(phase) };
        let coord = if sim.is_external(id) { (PATTERN_FREE, 0) } else { (1, ctrl.plan_cycle_s) };
        if ctrl.coord != Some(coord) {
            out.push(Reading::SignalEvent { intersection: id, time: at, code: 131, param: coord.0 });
            out.push(Reading::SignalEvent { intersection: id, time: at, code: 132, param: coord.1 });
            ctrl.coord = Some(coord);
        }
        let mut clearance: Option<(f64, f64, Termination)> = None;
        let yellow_s = self.yellow_s;
        let mut clearance_of = || {
            *clearance.get_or_insert_with(|| match sim.clearance(id) {
                Some(cl) => (cl.yellow_s, cl.red_s, cl.termination),
                None if sim.is_external(id) => (yellow_s, 0.0, Termination::ForceOff),
                None => {
                    let inter = net.intersection(id);
                    let intergreen = sim.current_phase(id).and_then(|p| inter.phases.get(p)).filter(|p| {
                        inter.movements.iter().zip(&p.green).all(|(&m, &g)| !g || net.movement(m).turn == Turn::Right)
                    });
                    match intergreen {
                        Some(p) => (yellow_s.min(p.duration), (p.duration - yellow_s).max(0.0), Termination::ForceOff),
                        None => (0.0, 0.0, Termination::ForceOff),
                    }
                }
            })
        };
        for ph in &mut ctrl.phases {
            let green = ph.movements.iter().any(|&m| sim.movement_green(m));
            if green != ph.green {
                ph.green = green;
                if green {
                    // A green that begins ends whatever clearance was left.
                    if let Some((ey, er, yd)) = ph.clearing.take() {
                        if !yd {
                            out.push(ev(ey.min(at), 9, ph.phase));
                            out.push(ev(ey.min(at), 10, ph.phase));
                        }
                        out.push(ev(er.min(at), 11, ph.phase));
                    }
                    if ph.called {
                        out.push(ev(at, 44, ph.phase));
                        ph.called = false;
                    }
                    out.push(ev(at, 1, ph.phase));
                } else {
                    let (y, r, why) = clearance_of();
                    out.push(ev(at, 7, ph.phase));
                    out.push(ev(at, why.code(), ph.phase));
                    out.push(ev(at, 8, ph.phase));
                    ph.clearing = Some((at + y, at + y + r, false));
                    ph.red_since = at;
                    // Locking memory: a vehicle still on a detector of the phase calls it.
                    let waiting = ctrl.lanes.iter().flat_map(|(_, d)| d).any(|d| d.on && d.phase == ph.phase);
                    if waiting && !ph.called {
                        out.push(ev(at, 43, ph.phase));
                        ph.called = true;
                    }
                }
            }
            if let Some((ey, er, yd)) = ph.clearing.as_mut() {
                if !*yd && now + EPS >= *ey {
                    out.push(ev(*ey, 9, ph.phase));
                    out.push(ev(*ey, 10, ph.phase));
                    *yd = true;
                }
                if now + EPS >= *er {
                    out.push(ev(*er, 11, ph.phase));
                    ph.clearing = None;
                }
            }
        }
    }

    fn detector_events(&mut self, sim: &Sim, now: f64, out: &mut Vec<Reading>) {
        let dt = sim.dt();
        let start = now - dt;
        // Vehicles that crossed a stop line this step: they may still cover its presence zone.
        let mut exits: Vec<(LaneId, f64, f64, f64)> = Vec::new();
        for e in sim.step_events() {
            if let SimEvent::LaneExit { veh, lane, speed, .. } = *e {
                if !self.lane_slot[lane.idx()] {
                    continue;
                }
                let len_lane = sim.network().lane(lane).length;
                let (past, len) = match sim.vehicle(veh) {
                    Some(v) if v.lane_link.is_some() => (v.dis, v.length),
                    Some(v) => (speed * dt * 0.5, v.length),
                    None => (speed * dt * 0.5, 5.0),
                };
                exits.push((lane, len_lane + past, speed, len));
            }
        }
        let mut actuations: Vec<(u8, f64)> = Vec::new();
        for c in 0..self.ctrls.len() {
            actuations.clear();
            for s in 0..self.ctrls[c].lanes.len() {
                let lane = self.ctrls[c].lanes[s].0;
                let id = self.ctrls[c].id;
                for d in 0..self.ctrls[c].lanes[s].1.len() {
                    let det = self.ctrls[c].lanes[s].1[d];
                    let (z0, z1) = det.zone;
                    let iv = &mut self.scratch;
                    iv.clear();
                    // `gone`: the vehicle has left the lane, so its rear's passage is predicted.
                    let cover = |front: f64, speed: f64, len: f64, gone: bool, iv: &mut Vec<(f64, f64)>| {
                        let prev = front - speed * dt;
                        let t_on = if prev >= z0 {
                            start
                        } else if front >= z0 && speed > 0.0 {
                            start + (z0 - prev) / speed
                        } else {
                            return;
                        };
                        if prev - len > z1 {
                            return;
                        }
                        let t_off = if front - len <= z1 && !(gone && speed > 0.0) {
                            now
                        } else if speed > 0.0 {
                            start + (z1 + len - prev) / speed
                        } else {
                            return;
                        };
                        if t_off >= t_on {
                            iv.push((t_on, t_off));
                        }
                    };
                    for (_, dis, speed, len) in sim.lane_vehicles(lane) {
                        cover(dis, speed, len, false, iv);
                    }
                    if det.stop_bar {
                        for &(l, front, speed, len) in &exits {
                            if l == lane {
                                cover(front, speed, len, true, iv);
                            }
                        }
                    }
                    iv.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let t = &mut self.ctrls[c].lanes[s].1[d];
                    let ev = |time: f64, code: u16| Reading::DetectorEvent { intersection: id, channel: det.channel, time, code };
                    for &(a, b) in iv.iter() {
                        if t.on && a <= t.cover_end + EPS {
                            t.cover_end = t.cover_end.max(b);
                        } else {
                            if t.on {
                                out.push(ev(t.cover_end, 81));
                            }
                            out.push(ev(a, 82));
                            t.on = true;
                            t.cover_end = b;
                            actuations.push((det.phase, a));
                        }
                    }
                    if t.on && t.cover_end < now - EPS {
                        out.push(ev(t.cover_end, 81));
                        t.on = false;
                    }
                }
            }
            // An actuation while its phase is not green registers a call (once).
            let id = self.ctrls[c].id;
            for &(phase, a) in &actuations {
                if let Some(ph) = self.ctrls[c].phases.iter_mut().find(|p| p.phase == phase) {
                    if !ph.green && !ph.called && a + EPS >= ph.red_since {
                        out.push(Reading::SignalEvent { intersection: id, time: a, code: 43, param: u32::from(phase) });
                        ph.called = true;
                    }
                }
            }
        }
    }
}
