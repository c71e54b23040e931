//! Preemption through the safety layer: calls that override the policy at one
//! intersection so that one movement is green (an emergency vehicle's), and recovery
//! calls that serve the queues a preemption built up.
//!
//! A call never bypasses the state machine of `safety.rs`: the layer leaves the current
//! green only once it has lasted `min_green`, always through yellow and all-red; it only
//! redirects a clearance already under way to the preempted phase when every movement
//! still green in it stays green in that phase (so no movement loses green without its
//! own yellow). From the roadnet's plan it takes the intersection back the same way,
//! counting a plan intergreen (right turns only) already shown as clearance under way.
//!
//! Ranking: [`CallKind::Preempt`] before [`CallKind::Recovery`], then higher `priority`,
//! then lower `id`. The winner's movement decides the phase: the current green if it
//! serves it, else the candidate phase serving it and the most other calls (in rank
//! order), lowest index on ties. The phase is held while the call is present, past
//! `max_green`, until [`crate::safety::PREEMPT_MAX_DWELL_S`] after its dwell began.

use city::IntersectionId;

use crate::safety::{enter_green, Ctrl, SafetyLayer, SignalSink, SignalState, Target, Timing, PREEMPT_MAX_DWELL_S};
use crate::ControlError;

const EPS: f64 = 1e-6;

/// ATSPM hi-res preemption codes (Indiana enumerations).
pub mod codes {
    /// Preempt call input on.
    pub const CALL_ON: u16 = 102;
    /// Preempt call input off.
    pub const CALL_OFF: u16 = 104;
    /// Preempt entry started (the controller leaves normal operation for the call).
    pub const ENTRY_STARTED: u16 = 105;
    /// Preemption begin dwell service (the preempted movement is green).
    pub const BEGIN_DWELL: u16 = 107;
    /// Preemption begin exit interval (back to normal operation).
    pub const BEGIN_EXIT: u16 = 111;
}

/// What a call is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallKind {
    /// An emergency vehicle's movement must be green (logged as ATSPM preemption).
    Preempt,
    /// Serve a queue a preemption built up (ranks below every preemption; not logged).
    Recovery,
}

/// A call for one movement at one intersection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Call {
    /// Caller's id (a corridor); one call per id per intersection.
    pub id: u64,
    /// Higher wins.
    pub priority: u32,
    /// Local movement index (the junction's `movements`).
    pub movement: usize,
    pub kind: CallKind,
    /// ATSPM preempt channel (1..=10 in the field; the event parameter).
    pub channel: u32,
}

/// The call an intersection serves now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Serving {
    pub call: Call,
    /// Candidate phase moved to or held.
    pub phase: usize,
    /// When its dwell (the phase green with the call present) began.
    pub dwell_since: Option<f64>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct PreState {
    calls: Vec<Call>,
    serving: Option<Serving>,
    /// The intersection ran its plan before: hand it back when the calls end.
    resume_plan: bool,
    /// Events raised between ticks, sent at the next tick.
    log: Vec<(u16, u32)>,
}

impl SafetyLayer {
    /// Place (or update) call `call` at intersection `i`. It takes effect at the next
    /// [`SafetyLayer::tick`]. Returns the candidate phase that would serve it.
    pub fn preempt(&mut self, i: IntersectionId, call: Call) -> Result<usize, ControlError> {
        let k = self.index_of(i).ok_or(ControlError::NotControlled(i))?;
        let j = &self.junctions[k];
        let phase = (0..j.phases.len()).find(|&p| j.phases[p].get(call.movement) == Some(&true));
        let phase = phase.ok_or(ControlError::NotControlled(i))?;
        // A call that changes kind is a new call (its events start again).
        if self.ctrl[k].pre.calls.iter().any(|c| c.id == call.id && c.kind != call.kind) {
            self.release(i, call.id);
        }
        let st = &mut self.ctrl[k].pre;
        match st.calls.iter_mut().find(|c| c.id == call.id) {
            Some(c) => *c = call,
            None => {
                st.calls.push(call);
                if call.kind == CallKind::Preempt {
                    st.log.push((codes::CALL_ON, call.channel));
                }
            }
        }
        Ok(phase)
    }

    /// Withdraw call `id` at `i` (the vehicle passed, or the corridor ended). Returns
    /// whether there was one.
    pub fn release(&mut self, i: IntersectionId, id: u64) -> bool {
        let Some(k) = self.index_of(i) else { return false };
        let st = &mut self.ctrl[k].pre;
        let Some(pos) = st.calls.iter().position(|c| c.id == id) else { return false };
        let call = st.calls.remove(pos);
        if call.kind == CallKind::Preempt {
            st.log.push((codes::CALL_OFF, call.channel));
            if st.serving.is_some_and(|s| s.call.id == id) {
                st.log.push((codes::BEGIN_EXIT, call.channel));
            }
        }
        if st.serving.is_some_and(|s| s.call.id == id) {
            st.serving = None;
        }
        true
    }

    /// The calls present at junction `k` (position in [`SafetyLayer::junctions`]).
    pub fn calls(&self, k: usize) -> &[Call] {
        &self.ctrl[k].pre.calls
    }

    /// The call junction `k` serves now, if any.
    pub fn serving(&self, k: usize) -> Option<Serving> {
        self.ctrl[k].pre.serving
    }

    /// Whether any call is present anywhere.
    pub fn any_calls(&self) -> bool {
        self.ctrl.iter().any(|c| !c.pre.calls.is_empty())
    }

    /// Per tick, before the state machine: log queued events, drop a call that dwelt too
    /// long, rank the calls and choose the phase. `None`: no call, the policy rules.
    pub(crate) fn preempt_step(&mut self, k: usize, sink: &mut impl SignalSink, now: f64) -> Option<usize> {
        let j = &self.junctions[k];
        let c = &mut self.ctrl[k];
        let st = &mut c.pre;
        if let Some(s) = st.serving {
            if s.dwell_since.is_some_and(|d| now - d + EPS >= PREEMPT_MAX_DWELL_S) {
                st.calls.retain(|x| x.id != s.call.id);
                st.serving = None;
                if s.call.kind == CallKind::Preempt {
                    st.log.push((codes::CALL_OFF, s.call.channel));
                    st.log.push((codes::BEGIN_EXIT, s.call.channel));
                }
            }
        }
        let winner = st.calls.iter().copied().min_by_key(|x| (x.kind, std::cmp::Reverse(x.priority), x.id));
        let Some(w) = winner else {
            st.serving = None;
            if std::mem::take(&mut st.resume_plan) {
                c.pending = Some(Target::Plan);
            }
            flush(st, sink, j.id);
            return None;
        };
        let serves = |p: usize, m: usize| j.phases[p].get(m) == Some(&true);
        let current = match c.state {
            SignalState::Green { phase } if serves(phase, w.movement) => Some(phase),
            _ => st.serving.filter(|s| s.call.id == w.id && serves(s.phase, w.movement)).map(|s| s.phase),
        };
        let phase = current.or_else(|| {
            let mut ranked: Vec<Call> = st.calls.clone();
            ranked.sort_by_key(|x| (x.kind, std::cmp::Reverse(x.priority), x.id));
            (0..j.phases.len()).filter(|&p| serves(p, w.movement)).max_by_key(|&p| {
                let score: u64 =
                    ranked.iter().rev().enumerate().map(|(r, x)| u64::from(serves(p, x.movement)) << r.min(63)).sum();
                (score, std::cmp::Reverse(p))
            })
        })?;
        let same = st.serving.is_some_and(|s| s.call.id == w.id && s.phase == phase);
        if !same {
            let was = st.serving.map(|s| s.call.id);
            st.serving = Some(Serving { call: w, phase, dwell_since: None });
            if w.kind == CallKind::Preempt && was != Some(w.id) {
                st.log.push((codes::ENTRY_STARTED, w.channel));
            }
        }
        if let Some(s) = st.serving.as_mut() {
            if s.dwell_since.is_none() && c.state == (SignalState::Green { phase }) {
                s.dwell_since = Some(now);
                if w.kind == CallKind::Preempt {
                    st.log.push((codes::BEGIN_DWELL, w.channel));
                }
            }
        }
        flush(st, sink, j.id);
        Some(phase)
    }

    /// After [`SafetyLayer::tick`]: a call whose phase turned green this tick starts its
    /// dwell now (logged 107).
    pub(crate) fn preempt_after(&mut self, k: usize, sink: &mut impl SignalSink, now: f64) {
        let id = self.junctions[k].id;
        let c = &mut self.ctrl[k];
        let st = &mut c.pre;
        if let Some(s) = st.serving.as_mut() {
            if s.dwell_since.is_none() && c.state == (SignalState::Green { phase: s.phase }) {
                s.dwell_since = Some(now);
                if s.call.kind == CallKind::Preempt {
                    st.log.push((codes::BEGIN_DWELL, s.call.channel));
                }
            }
        }
        flush(st, sink, id);
    }
}

fn flush(st: &mut PreState, sink: &mut impl SignalSink, i: IntersectionId) {
    for (code, ch) in st.log.drain(..) {
        sink.preempt_event(i, code, ch);
    }
}

/// A clearance under way goes to the preempted phase instead when every movement still
/// green in it stays green there.
pub(crate) fn redirect(c: &Ctrl, j: &crate::Junction, to: Target, pre: Option<usize>) -> Target {
    match pre {
        Some(p) if to != Target::Phase(p) && c.mask.iter().enumerate().all(|(m, &g)| !g || j.phases[p][m] || j.always[m]) => {
            Target::Phase(p)
        }
        _ => to,
    }
}

/// Take an intersection that runs its plan to phase `p` for a call. `shown`: the plan's
/// mask and how long its phase has been shown.
pub(crate) fn leave_plan(c: &mut Ctrl, j: &crate::Junction, p: usize, t: Timing, shown: Option<(Vec<bool>, f64)>, now: f64) {
    let (mask, elapsed) = shown.unwrap_or_else(|| (vec![true; j.len()], 0.0));
    c.pre.resume_plan = true;
    if mask == j.phases[p] {
        enter_green(c, j, p, now - elapsed);
        c.since = now;
        c.dirty = true;
        return;
    }
    let intergreen = mask.iter().enumerate().all(|(m, &g)| !g || j.always[m]);
    if !intergreen && elapsed + EPS < t.min_green {
        return;
    }
    c.state = SignalState::Yellow { from: p, to: Target::Phase(p) };
    c.since = if intergreen { now - elapsed } else { now };
    c.mask = (0..j.len()).map(|m| j.always[m] || (mask[m] && j.phases[p][m])).collect();
    c.dirty = true;
}
