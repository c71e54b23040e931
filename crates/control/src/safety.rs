//! The safety layer: the only code that changes signals. Policies hand it [`Request`]s;
//! it turns them into green masks that respect minimum green, yellow, all-red clearance
//! and maximum green, and never show two conflicting movements green at once.
//!
//! ## State machine (per intersection)
//! `Startup` (right turns only) → `Green{p}` → `Yellow{from, to}` → `AllRed{from, to}` →
//! `Green{to}` … A request for another phase starts the change only once the current
//! green has lasted `min_green`; a green that reaches `max_green` is ended even without a
//! request (to the requested phase if any, else the next candidate phase). During yellow
//! and all-red only movements green in both the old and the new phase (right turns
//! among them) stay green: like CityFlow's phase-0 clearance, yellow is red for
//! vehicles that have not yet entered the junction. `Plan` hands the intersection to
//! the roadnet's own fixed-time plan (validated at construction); it is terminal for
//! policies, and only a preemption call takes an intersection back from it.
//!
//! ## Preemption (emergency green corridors)
//! [`SafetyLayer::preempt`] places a call for one movement at one intersection; while
//! calls are present they override the policy's requests (see `preempt.rs`): the layer
//! moves to a phase serving the winning call through the same yellow and all-red, never
//! cutting the current minimum green, and holds that phase (past `max_green`, up to
//! [`PREEMPT_MAX_DWELL_S`]) until the call is released. Calls are ranked by kind
//! (preemption before recovery), then priority (higher first), then id (older first),
//! so concurrent calls resolve deterministically. ATSPM preempt events (102 call on,
//! 105 entry started, 107 begin dwell, 104 call off, 111 begin exit) go to
//! [`SignalSink::preempt_event`].

use city::{IntersectionId, Network};
use twin::{Clearance, Sim, Termination};

use crate::junction::{validate_plan, Junction};
use crate::ControlError;

const EPS: f64 = 1e-6;

/// Signal timing constraints and the decision period, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    pub min_green: f64,
    pub yellow: f64,
    pub all_red: f64,
    /// A green this long is ended even without a request (`f64::INFINITY` = never).
    pub max_green: f64,
    /// Seconds between policy decisions.
    pub decision_interval: f64,
}

impl Timing {
    /// The LLMLight/LibSignal benchmark: a decision every 30 s, a 5 s yellow taken inside
    /// the 30 s when the phase changes, no minimum or maximum green beyond that.
    pub fn benchmark() -> Timing {
        Timing { min_green: 0.0, yellow: 5.0, all_red: 0.0, max_green: f64::INFINITY, decision_interval: 30.0 }
    }
    /// Field-style operation: minimum green 8 s, 3 s yellow plus 2 s all-red, a decision
    /// every 2 s, maximum green 60 s.
    pub fn operational() -> Timing {
        Timing { min_green: 8.0, yellow: 3.0, all_red: 2.0, max_green: 60.0, decision_interval: 2.0 }
    }
    /// Seconds lost to yellow and all-red at each change.
    pub fn lost_time(&self) -> f64 {
        self.yellow + self.all_red
    }
    /// Reject negative or non-numeric values and a maximum below the minimum green.
    pub fn validate(&self) -> Result<(), ControlError> {
        let fields = [
            ("min_green", self.min_green),
            ("yellow", self.yellow),
            ("all_red", self.all_red),
            ("max_green", self.max_green),
            ("decision_interval", self.decision_interval),
        ];
        for (field, v) in fields {
            if v.is_nan() || v < 0.0 {
                return Err(ControlError::BadTiming { field, message: format!("must be a non-negative number, got {v}") });
            }
        }
        if self.decision_interval <= 0.0 || !self.decision_interval.is_finite() {
            return Err(ControlError::BadTiming {
                field: "decision_interval",
                message: format!("must be positive and finite, got {}", self.decision_interval),
            });
        }
        if self.max_green < self.min_green {
            return Err(ControlError::BadTiming {
                field: "max_green",
                message: format!("{} is below min_green {}", self.max_green, self.min_green),
            });
        }
        Ok(())
    }
}

/// What a policy asks for at one intersection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Candidate phase `k` of the intersection's [`Junction::phases`].
    Phase(usize),
    /// Hand the intersection to the roadnet's fixed-time plan.
    Plan,
}

/// A policy's request for one intersection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub intersection: IntersectionId,
    pub target: Target,
}

/// Where signal commands go: the twin, or a recorder in tests.
pub trait SignalSink {
    fn set_green(&mut self, i: IntersectionId, mask: &[bool]);
    fn release_to_plan(&mut self, i: IntersectionId);
    /// What `i` shows while it runs its own plan: the green mask and how long that plan
    /// phase has been shown. `None` (the default) makes a preemption from the plan assume
    /// every movement may be green and the phase has just begun.
    fn shown(&self, _i: IntersectionId) -> Option<(Vec<bool>, f64)> {
        None
    }
    /// An ATSPM preemption event (`code` 102, 104, 105, 107 or 111 on `channel`).
    fn preempt_event(&mut self, _i: IntersectionId, _code: u16, _channel: u32) {}
    /// What the signal displays beyond the mask (clearance times, why the last green
    /// ended), for the controller's event log; ignored by default.
    fn report_clearance(&mut self, _i: IntersectionId, _c: Clearance) {}
}

impl SignalSink for Sim {
    fn set_green(&mut self, i: IntersectionId, mask: &[bool]) {
        Sim::set_green(self, i, mask)
    }
    fn release_to_plan(&mut self, i: IntersectionId) {
        Sim::release_to_plan(self, i)
    }
    fn shown(&self, i: IntersectionId) -> Option<(Vec<bool>, f64)> {
        let inter = self.network().intersection(i);
        let mask = inter.movements.iter().map(|&m| self.movement_green(m)).collect();
        let elapsed = match self.current_phase(i) {
            Some(p) if self.phase_remaining(i).is_finite() => (inter.phases[p].duration - self.phase_remaining(i)).max(0.0),
            _ => 0.0,
        };
        Some((mask, elapsed))
    }
    fn report_clearance(&mut self, i: IntersectionId, c: Clearance) {
        Sim::report_clearance(self, i, c)
    }
    fn preempt_event(&mut self, i: IntersectionId, code: u16, channel: u32) {
        Sim::log_preempt(self, i, code, channel)
    }
}

/// The signal state of one intersection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalState {
    /// Before the first request: right turns only.
    Startup,
    Green {
        phase: usize,
    },
    Yellow {
        from: usize,
        to: Target,
    },
    AllRed {
        from: usize,
        to: Target,
    },
    /// Running the roadnet's own plan.
    Plan,
}

#[derive(Clone, Debug)]
pub(crate) struct Ctrl {
    pub(crate) state: SignalState,
    /// When the current state began.
    pub(crate) since: f64,
    /// When the current (or last) green began.
    pub(crate) green_since: f64,
    /// The policy's latest request not yet carried out.
    pub(crate) pending: Option<Target>,
    pub(crate) mask: Vec<bool>,
    pub(crate) dirty: bool,
    /// Preemption and recovery calls (see `preempt.rs`).
    pub(crate) pre: crate::preempt::PreState,
    /// Why the last green ended.
    pub(crate) ended_by: Termination,
}

/// Sits between every policy and the signals. See the module docs.
#[derive(Clone, Debug)]
pub struct SafetyLayer {
    pub(crate) junctions: Vec<Junction>,
    timing: Timing,
    by_id: Vec<u32>,
    pub(crate) ctrl: Vec<Ctrl>,
    rejected: u64,
    changes: u64,
    /// How a green ended at the policy's request is logged.
    requested_end: Termination,
}

/// Longest a preempted phase is held past its minimum green, seconds: a call still
/// present then is dropped (logged 111) and the intersection returns to its policy.
pub const PREEMPT_MAX_DWELL_S: f64 = 180.0;

impl SafetyLayer {
    /// Take control of `junctions`. Validates the timing, every candidate phase and each
    /// intersection's own plan (which [`Target::Plan`] runs).
    pub fn new(net: &Network, junctions: Vec<Junction>, timing: Timing) -> Result<SafetyLayer, ControlError> {
        timing.validate()?;
        let mut by_id = vec![u32::MAX; net.intersections.len()];
        for (k, j) in junctions.iter().enumerate() {
            validate_plan(net, j.id, &j.phases)?;
            let plan: Vec<Vec<bool>> = net.intersection(j.id).phases.iter().map(|p| p.green.clone()).collect();
            validate_plan(net, j.id, &plan)?;
            if let Some(slot) = by_id.get_mut(j.id.idx()) {
                *slot = k as u32;
            }
        }
        let ctrl = junctions
            .iter()
            .map(|j| Ctrl {
                state: SignalState::Startup,
                since: 0.0,
                green_since: 0.0,
                pending: None,
                mask: j.always.clone(),
                dirty: true,
                pre: Default::default(),
                ended_by: Termination::ForceOff,
            })
            .collect();
        Ok(SafetyLayer { junctions, timing, by_id, ctrl, rejected: 0, changes: 0, requested_end: Termination::ForceOff })
    }

    /// How greens the policy ends are logged (a gap-out for actuated control; force-off
    /// by default). A green ended by the maximum is always a max-out, one a preemption
    /// ends a force-off.
    pub fn set_requested_termination(&mut self, t: Termination) {
        self.requested_end = t;
    }

    pub fn junctions(&self) -> &[Junction] {
        &self.junctions
    }
    pub fn timing(&self) -> &Timing {
        &self.timing
    }
    /// Position of intersection `i` in [`Self::junctions`].
    pub fn index_of(&self, i: IntersectionId) -> Option<usize> {
        self.by_id.get(i.idx()).copied().filter(|&k| k != u32::MAX).map(|k| k as usize)
    }
    /// State of junction `k` and the time it began.
    pub fn state(&self, k: usize) -> (SignalState, f64) {
        (self.ctrl[k].state, self.ctrl[k].since)
    }
    /// When the current or last green of junction `k` began.
    pub fn green_since(&self, k: usize) -> f64 {
        self.ctrl[k].green_since
    }
    /// The green mask junction `k` shows now.
    pub fn mask(&self, k: usize) -> &[bool] {
        &self.ctrl[k].mask
    }
    /// Requests ignored because they named an uncontrolled intersection or a missing phase.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
    /// Phase changes started so far.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Record requests; they take effect at the next [`Self::tick`] that the timing allows.
    pub fn request(&mut self, requests: &[Request]) {
        for r in requests {
            let Some(k) = self.index_of(r.intersection) else {
                self.rejected += 1;
                continue;
            };
            if let Target::Phase(p) = r.target {
                if p >= self.junctions[k].phases.len() {
                    self.rejected += 1;
                    continue;
                }
            }
            self.ctrl[k].pending = Some(r.target);
        }
    }

    /// Advance every intersection's state machine to time `now` and send changed masks to
    /// `sink`. Call once per simulation step, before stepping.
    pub fn tick(&mut self, sink: &mut impl SignalSink, now: f64) {
        let t = self.timing;
        for k in 0..self.ctrl.len() {
            // Preemption first: which phase a call wants (None: the policy rules).
            let pre = self.preempt_step(k, sink, now);
            let j = &self.junctions[k];
            let c = &mut self.ctrl[k];
            // A state may end at once (zero yellow or all-red), so loop a few times.
            for _ in 0..4 {
                let before = c.state;
                match c.state {
                    SignalState::Plan => {
                        if let Some(p) = pre {
                            crate::preempt::leave_plan(c, j, p, t, sink.shown(j.id), now);
                        }
                    }
                    SignalState::Startup => match pre.map(Target::Phase).or_else(|| c.pending.take()) {
                        Some(Target::Phase(p)) => enter_green(c, j, p, now),
                        Some(Target::Plan) => enter_plan(c, now),
                        None => {}
                    },
                    SignalState::Green { phase } => {
                        let g = now - c.green_since;
                        let want = match (pre, c.pending) {
                            (Some(p), _) if p == phase => None,
                            (Some(p), _) => Some(Target::Phase(p)),
                            (None, Some(Target::Phase(p))) if p == phase => {
                                c.pending = None;
                                None
                            }
                            (None, other) => other,
                        };
                        let held = pre == Some(phase);
                        let asked = if pre.is_some() { Termination::ForceOff } else { self.requested_end };
                        let (to, why) = if want.is_some() && g + EPS >= t.min_green {
                            (want, asked)
                        } else if !held && g + EPS >= t.max_green && j.phases.len() > 1 {
                            (Some(want.unwrap_or(Target::Phase((phase + 1) % j.phases.len()))), Termination::MaxOut)
                        } else {
                            (None, Termination::ForceOff)
                        };
                        if let Some(to) = to {
                            c.ended_by = why;
                            if pre.is_none() {
                                c.pending = None;
                            }
                            c.state = SignalState::Yellow { from: phase, to };
                            c.since = now;
                            let next = match to {
                                Target::Phase(p) => &j.phases[p],
                                Target::Plan => &j.always,
                            };
                            for (m, g) in c.mask.iter_mut().enumerate() {
                                *g = j.always[m] || (*g && next[m]);
                            }
                            c.dirty = true;
                            self.changes += 1;
                        }
                    }
                    SignalState::Yellow { from, to } => {
                        let to = crate::preempt::redirect(c, j, to, pre);
                        c.state = SignalState::Yellow { from, to };
                        if now - c.since + EPS >= t.yellow {
                            c.state = SignalState::AllRed { from, to };
                            c.since = now;
                        }
                    }
                    SignalState::AllRed { from, to } => {
                        let to = crate::preempt::redirect(c, j, to, pre);
                        c.state = SignalState::AllRed { from, to };
                        if now - c.since + EPS >= t.all_red {
                            match to {
                                Target::Phase(p) => enter_green(c, j, p, now),
                                Target::Plan => enter_plan(c, now),
                            }
                        }
                    }
                }
                if c.state == before {
                    break;
                }
            }
            if c.dirty {
                c.dirty = false;
                if c.state != SignalState::Plan {
                    let clearance = Clearance { yellow_s: t.yellow, red_s: t.all_red, termination: c.ended_by };
                    sink.report_clearance(j.id, clearance);
                }
                if c.state == SignalState::Plan {
                    sink.release_to_plan(j.id);
                } else if j.mask_conflict(&c.mask).is_none() {
                    sink.set_green(j.id, &c.mask);
                } else {
                    // Unreachable by construction (phases are validated); fail safe.
                    c.mask.clone_from(&j.always);
                    sink.set_green(j.id, &c.mask);
                }
            }
            self.preempt_after(k, sink, now);
        }
    }
}

pub(crate) fn enter_green(c: &mut Ctrl, j: &Junction, p: usize, now: f64) {
    c.state = SignalState::Green { phase: p };
    c.since = now;
    c.green_since = now;
    if c.mask != j.phases[p] {
        c.mask.clone_from(&j.phases[p]);
        c.dirty = true;
    }
}

fn enter_plan(c: &mut Ctrl, now: f64) {
    c.state = SignalState::Plan;
    c.since = now;
    c.dirty = true;
}
