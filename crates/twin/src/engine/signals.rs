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
                Light { phase: None, remain: f64::INFINITY, external: false }
            } else {
                for (k, m) in i.movements.iter().enumerate() {
                    green[m.idx()] = i.phases[0].green[k];
                }
                Light { phase: Some(0), remain: i.phases[0].duration, external: false }
            }
        })
        .collect();
    (lights, green)
}

impl Sim {
    /// CityFlow's `TrafficLight::passTime` for every intersection on its fixed plan.
    pub(super) fn pass_time(&mut self) {
        let dt = self.cfg.dt;
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
        self.lights[i.idx()] = Light { phase: Some(phase), remain: p.duration, external: true };
        true
    }

    /// Apply an arbitrary green set (one flag per local movement) and hold it. Missing
    /// flags count as red. This is the hook the control layer's safety layer drives.
    pub fn set_green(&mut self, i: IntersectionId, green: &[bool]) {
        let inter = &self.net.intersections[i.idx()];
        for (k, m) in inter.movements.iter().enumerate() {
            self.green[m.idx()] = green.get(k).copied().unwrap_or(false);
        }
        let l = &mut self.lights[i.idx()];
        l.external = true;
        l.phase = None;
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
        self.lights[i.idx()] = Light { phase: Some(0), remain: inter.phases[0].duration, external: false };
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
