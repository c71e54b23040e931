//! Signal state: each intersection either cycles its fixed-time plan or holds whatever
//! green set an external controller last applied.

use super::Sim;
use city::ids::{IntersectionId, MovementId};
use city::network::Network;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Light {
    /// Current plan phase, or `None` while an external mask that is not a plan phase holds.
    pub phase: Option<usize>,
    pub remain: f64,
    pub external: bool,
    /// When the green set last changed: the time from which it governs the vehicles.
    pub changed_at: f64,
    /// What the external controller reported with its last mask.
    pub clearance: Option<Clearance>,
}

/// Why a green ended, as a controller's event log says it (ATSPM codes 4, 5, 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// An actuated phase ended because its detectors saw a gap in traffic.
    GapOut,
    /// The phase reached its maximum green.
    MaxOut,
    /// The controller (a plan, a coordinator or an adaptive policy) ended it.
    ForceOff,
}

impl Termination {
    /// The ATSPM event code: 4 gap out, 5 max out, 6 force off.
    pub fn code(self) -> u16 {
        match self {
            Termination::GapOut => 4,
            Termination::MaxOut => 5,
            Termination::ForceOff => 6,
        }
    }
}

/// What an external controller reports along with a green mask: the clearance that
/// follows a green it ends (yellow, then red clearance; the twin has no amber, so a
/// movement in clearance is red to vehicles not yet in the junction) and why the green
/// ended. The twin only keeps it for the virtual signal controller's event log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clearance {
    pub yellow_s: f64,
    pub red_s: f64,
    pub termination: Termination,
}

/// An ATSPM preemption event a controller reported for an intersection (codes 102 call
/// on, 104 call off, 105 entry started, 107 begin dwell, 111 begin exit; `channel` is
/// the preempt input). The twin only keeps them for its virtual controllers to report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PreemptEvent {
    pub time: f64,
    pub intersection: IntersectionId,
    pub code: u16,
    pub channel: u32,
}

pub(crate) fn init(net: &Network) -> (Vec<Light>, Vec<bool>) {
    let mut green = vec![false; net.movements.len()];
    let lights = net
        .intersections
        .iter()
        .map(|i| {
            if i.phases.is_empty() {
                // Unsignalised junction: every movement may always go (yielding at crosses).
                for m in &i.movements {
                    green[m.idx()] = true;
                }
                Light { phase: None, remain: f64::INFINITY, external: false, changed_at: 0.0, clearance: None }
            } else {
                for (k, m) in i.movements.iter().enumerate() {
                    green[m.idx()] = i.phases[0].green[k];
                }
                Light { phase: Some(0), remain: i.phases[0].duration, external: false, changed_at: 0.0, clearance: None }
            }
        })
        .collect();
    (lights, green)
}

impl Sim {
    /// CityFlow's `TrafficLight::passTime` for every intersection on its fixed plan.
    pub(super) fn pass_time(&mut self) {
        let dt = self.cfg.dt;
        // The new phase governs the vehicles from the next step on.
        let from = (self.step + 1) as f64 * dt;
        for i in 0..self.lights.len() {
            let light = &mut self.lights[i];
            if light.external || light.phase.is_none() {
                continue;
            }
            light.remain -= dt;
            if light.remain > 0.0 {
                continue;
            }
            let phases = &self.net.intersections[i].phases;
            let mut p = light.phase.unwrap_or(0);
            while light.remain <= 0.0 {
                p = (p + 1) % phases.len();
                light.remain += phases[p].duration.max(1e-9);
            }
            light.phase = Some(p);
            light.changed_at = from;
            for (k, m) in self.net.intersections[i].movements.iter().enumerate() {
                self.green[m.idx()] = phases[p].green[k];
            }
        }
    }

    /// Switch `i` to phase `phase` of its plan and hold it (external control). Out-of-range
    /// phases are ignored and reported as `false`.
    pub fn set_phase(&mut self, i: IntersectionId, phase: usize) -> bool {
        let inter = &self.net.intersections[i.idx()];
        let Some(p) = inter.phases.get(phase) else { return false };
        for (k, m) in inter.movements.iter().enumerate() {
            self.green[m.idx()] = p.green[k];
        }
        let clearance = self.lights[i.idx()].clearance;
        self.lights[i.idx()] =
            Light { phase: Some(phase), remain: p.duration, external: true, changed_at: self.time(), clearance };
        true
    }

    /// Apply an arbitrary green set (one flag per local movement) and hold it. Missing
    /// flags count as red. This is the hook the control layer's safety layer drives.
    pub fn set_green(&mut self, i: IntersectionId, green: &[bool]) {
        let inter = &self.net.intersections[i.idx()];
        for (k, m) in inter.movements.iter().enumerate() {
            self.green[m.idx()] = green.get(k).copied().unwrap_or(false);
        }
        let now = self.time();
        let l = &mut self.lights[i.idx()];
        l.external = true;
        l.phase = None;
        l.changed_at = now;
    }

    /// Record what the controller of `i` reports with its masks (see [`Clearance`]);
    /// kept until the intersection returns to its plan.
    pub fn report_clearance(&mut self, i: IntersectionId, c: Clearance) {
        self.lights[i.idx()].clearance = Some(c);
    }

    /// What the external controller of `i` last reported (`None` on its plan).
    pub fn clearance(&self, i: IntersectionId) -> Option<Clearance> {
        let l = &self.lights[i.idx()];
        if l.external {
            l.clearance
        } else {
            None
        }
    }

    /// Whether an external controller holds `i` (else it runs its plan).
    pub fn is_external(&self, i: IntersectionId) -> bool {
        self.lights[i.idx()].external
    }

    /// When the green set of `i` last changed: the first time it governed the vehicles.
    pub fn signal_changed_at(&self, i: IntersectionId) -> f64 {
        self.lights[i.idx()].changed_at
    }

    /// The plan stage `i` shows: its plan phase, or under external control the first plan
    /// phase whose non-right-turn greens are exactly those shown (`None` when none is).
    pub fn displayed_stage(&self, i: IntersectionId) -> Option<usize> {
        if let Some(p) = self.current_phase(i) {
            return Some(p);
        }
        let inter = &self.net.intersections[i.idx()];
        let relevant = |k: usize| self.net.movements[inter.movements[k].idx()].turn != city::Turn::Right;
        inter.phases.iter().position(|p| {
            (0..inter.movements.len()).filter(|&k| relevant(k)).all(|k| p.green[k] == self.green[inter.movements[k].idx()])
        })
    }

    /// Return `i` to its fixed-time plan, starting the plan's phase 0.
    pub fn release_to_plan(&mut self, i: IntersectionId) {
        let inter = &self.net.intersections[i.idx()];
        if inter.phases.is_empty() {
            return;
        }
        for (k, m) in inter.movements.iter().enumerate() {
            self.green[m.idx()] = inter.phases[0].green[k];
        }
        self.lights[i.idx()] =
            Light { phase: Some(0), remain: inter.phases[0].duration, external: false, changed_at: self.time(), clearance: None };
    }

    /// Whether movement `m` may go now.
    pub fn movement_green(&self, m: MovementId) -> bool {
        self.green[m.idx()]
    }

    /// The plan phase `i` shows, if it shows one.
    pub fn current_phase(&self, i: IntersectionId) -> Option<usize> {
        self.lights[i.idx()].phase
    }

    /// Seconds left in the current fixed-time phase (infinite under external control).
    pub fn phase_remaining(&self, i: IntersectionId) -> f64 {
        let l = &self.lights[i.idx()];
        if l.external {
            f64::INFINITY
        } else {
            l.remain
        }
    }

    /// Record a preemption event at the current time (the control layer's safety layer
    /// calls this when it preempts; the virtual controllers report it).
    pub fn log_preempt(&mut self, i: IntersectionId, code: u16, channel: u32) {
        let time = self.time();
        self.preempt_log.push(PreemptEvent { time, intersection: i, code, channel });
    }

    /// Every preemption event recorded so far, oldest first.
    pub fn preempt_log(&self) -> &[PreemptEvent] {
        &self.preempt_log
    }
}
