//! Property tests of the safety layer under preemption: whatever calls arrive (and
//! whatever the policy asks meanwhile, plans included), no two conflicting movements
//! are ever green, no yellow or all-red is skipped, no minimum green is cut; the winning
//! call's movement is green within min green + clearance and stays green while its call
//! is present; ATSPM events come in the order 102, 105, 107, (104, 111).

use std::collections::HashMap;

use city::IntersectionId;
use control::grid::grid_scenario;
use control::{
    junctions, movements_conflict, Call, CallKind, PhaseSet, Request, SafetyLayer, SignalSink, Target, Timing,
    PREEMPT_MAX_DWELL_S,
};
use proptest::prelude::*;

/// Records masks; simulates the roadnet's plan after `release_to_plan`.
struct Recorder {
    net: city::Network,
    now: f64,
    masks: HashMap<IntersectionId, Vec<bool>>,
    /// Per intersection handed to its plan: when.
    plan_since: HashMap<IntersectionId, f64>,
    events: Vec<(f64, IntersectionId, u16, u32)>,
}

impl Recorder {
    fn plan_mask(&self, i: IntersectionId) -> Option<(Vec<bool>, f64)> {
        let t0 = *self.plan_since.get(&i)?;
        let phases = &self.net.intersection(i).phases;
        let cycle: f64 = phases.iter().map(|p| p.duration).sum();
        let mut t = (self.now - t0).rem_euclid(cycle);
        for p in phases {
            if t < p.duration {
                return Some((p.green.clone(), t));
            }
            t -= p.duration;
        }
        Some((phases[0].green.clone(), 0.0))
    }
    fn shown_mask(&self, i: IntersectionId, n: usize) -> Vec<bool> {
        match self.plan_mask(i) {
            Some((m, _)) => m,
            None => self.masks.get(&i).cloned().unwrap_or_else(|| vec![false; n]),
        }
    }
}

impl SignalSink for Recorder {
    fn set_green(&mut self, i: IntersectionId, mask: &[bool]) {
        self.plan_since.remove(&i);
        self.masks.insert(i, mask.to_vec());
    }
    fn release_to_plan(&mut self, i: IntersectionId) {
        self.plan_since.insert(i, self.now);
    }
    fn shown(&self, i: IntersectionId) -> Option<(Vec<bool>, f64)> {
        self.plan_mask(i)
    }
    fn preempt_event(&mut self, i: IntersectionId, code: u16, channel: u32) {
        self.events.push((self.now, i, code, channel));
    }
}

fn timing() -> impl Strategy<Value = Timing> {
    (0u32..12, 0u32..6, 0u32..4, prop::option::of(0u32..50), 1u32..10).prop_map(|(min, y, r, extra, d)| Timing {
        min_green: min as f64,
        yellow: y as f64,
        all_red: r as f64,
        max_green: extra.map_or(f64::INFINITY, |e| (min + 1 + e) as f64),
        decision_interval: d as f64,
    })
}

/// What happens at a step: a policy request, a call placed, a call released.
#[derive(Clone, Debug)]
enum Op {
    Policy { junction: usize, phase: usize },
    Call { junction: usize, id: u64, priority: u32, movement: usize, recovery: bool },
    Release { junction: usize, id: u64 },
}

fn op() -> impl Strategy<Value = (u32, Op)> {
    (
        0u32..400,
        prop_oneof![
            (0usize..4, 0usize..6).prop_map(|(junction, phase)| Op::Policy { junction, phase }),
            (0usize..4, 1u64..5, 0u32..4, 0usize..16, any::<bool>())
                .prop_map(|(junction, id, priority, movement, recovery)| Op::Call { junction, id, priority, movement, recovery }),
            (0usize..4, 1u64..5).prop_map(|(junction, id)| Op::Release { junction, id }),
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn preemption_never_breaks_the_invariants(t in timing(), four in any::<bool>(), ops in prop::collection::vec(op(), 0..120)) {
        let s = grid_scenario(2, 2, 10.0, 100.0);
        let net = &s.network;
        let js = junctions(net, if four { PhaseSet::Four } else { PhaseSet::Plan }).unwrap();
        let mut layer = SafetyLayer::new(net, js.clone(), t).unwrap();
        let mut rec = Recorder { net: net.clone(), now: 0.0, masks: HashMap::new(), plan_since: HashMap::new(), events: Vec::new() };
        let lost = t.yellow + t.all_red;
        let mut on_since: Vec<Vec<Option<f64>>> = js.iter().map(|j| vec![None; j.len()]).collect();
        let mut red_since: Vec<Vec<Option<f64>>> = js.iter().map(|j| vec![None; j.len()]).collect();
        // Per junction: the best-ranked preemption call and since when it has been best.
        let mut best_since: Vec<Option<(u64, usize, f64)>> = vec![None; js.len()];
        // Per junction: whether the plan ran at the previous step (then the step that takes
        // it back shows a subset of what the plan itself showed: its changes are the plan's).
        let mut prev_plan = vec![false; js.len()];
        for step in 0..400u32 {
            let now = step as f64;
            rec.now = now;
            for (_, o) in ops.iter().filter(|o| o.0 == step) {
                match *o {
                    Op::Policy { junction, phase } => {
                        let j = &js[junction];
                        let target = if phase >= j.phases.len() { Target::Plan } else { Target::Phase(phase) };
                        layer.request(&[Request { intersection: j.id, target }]);
                    }
                    Op::Call { junction, id, priority, movement, recovery } => {
                        let j = &js[junction];
                        let kind = if recovery { CallKind::Recovery } else { CallKind::Preempt };
                        let _ = layer.preempt(j.id, Call { id, priority, movement: movement % j.len(), kind, channel: 1 });
                    }
                    Op::Release { junction, id } => {
                        layer.release(js[junction].id, id);
                    }
                }
            }
            layer.tick(&mut rec, now);
            for (k, j) in js.iter().enumerate() {
                let now_plan = rec.plan_since.contains_key(&j.id);
                let in_plan = std::mem::replace(&mut prev_plan[k], now_plan) || now_plan;
                let mask = rec.shown_mask(j.id, j.len());
                for a in 0..j.len() {
                    for b in a + 1..j.len() {
                        prop_assert!(
                            !(mask[a] && mask[b] && movements_conflict(net, j.movements[a], j.movements[b])),
                            "conflicting green at {} t={now}: {a} and {b}", j.name
                        );
                    }
                }
                for m in 0..j.len() {
                    let was_on = on_since[k][m].is_some();
                    if mask[m] && !was_on {
                        if !in_plan {
                            for (c, red) in red_since[k].iter().enumerate() {
                                if movements_conflict(net, j.movements[m], j.movements[c]) {
                                    if let Some(r) = *red {
                                        prop_assert!(now - r + 1e-9 >= lost, "{}: {m} green at {now}, {c} red only since {r}", j.name);
                                    }
                                }
                            }
                        }
                        on_since[k][m] = Some(now);
                    } else if !mask[m] && was_on {
                        let on = on_since[k][m].unwrap();
                        if !j.always[m] && !in_plan {
                            prop_assert!(now - on + 1e-9 >= t.min_green.min(t.max_green), "{}: {m} green only {}", j.name, now - on);
                        }
                        on_since[k][m] = None;
                        red_since[k][m] = Some(now);
                    }
                }
                // Liveness and hold: the best preemption call's movement.
                let best = layer
                    .calls(k)
                    .iter()
                    .filter(|c| c.kind == CallKind::Preempt)
                    .min_by_key(|c| (std::cmp::Reverse(c.priority), c.id))
                    .map(|c| (c.id, c.movement));
                best_since[k] = match (best, best_since[k]) {
                    (Some((id, m)), Some((pid, pm, since))) if id == pid && m == pm => Some((id, m, since)),
                    (Some((id, m)), _) => Some((id, m, now)),
                    (None, _) => None,
                };
                if let Some((_, m, since)) = best_since[k] {
                    let bound = t.min_green.max(5.0) + lost + 5.0 + 1e-9;
                    let dwell_cap = since + bound + PREEMPT_MAX_DWELL_S;
                    if now - since > bound && now < dwell_cap {
                        prop_assert!(mask[m], "{}: call for {m} since {since} not served at {now}", j.name);
                    }
                }
            }
        }
        // Events per intersection and channel: an entry only after a call, a dwell only
        // after an entry, an exit only after an entry.
        for j in &js {
            let mut called = 0i32;
            let mut entered = false;
            for &(_, i, code, _) in rec.events.iter().filter(|e| e.1 == j.id) {
                prop_assert_eq!(i, j.id);
                match code {
                    102 => called += 1,
                    104 => called -= 1,
                    105 => { prop_assert!(called > 0); entered = true; }
                    107 => prop_assert!(entered),
                    111 => { prop_assert!(entered); }
                    other => prop_assert!(false, "unexpected code {}", other),
                }
            }
        }
    }
}

#[test]
fn a_call_waits_for_min_green_then_clears_and_holds() {
    let s = grid_scenario(1, 1, 10.0, 100.0);
    let js = junctions(&s.network, PhaseSet::Four).unwrap();
    let t = Timing { min_green: 8.0, yellow: 3.0, all_red: 2.0, max_green: 20.0, decision_interval: 1.0 };
    let mut layer = SafetyLayer::new(&s.network, js.clone(), t).unwrap();
    let mut rec =
        Recorder { net: s.network.clone(), now: 0.0, masks: HashMap::new(), plan_since: HashMap::new(), events: Vec::new() };
    let j = &js[0];
    layer.request(&[Request { intersection: j.id, target: Target::Phase(0) }]);
    layer.tick(&mut rec, 0.0);
    // A movement phase 0 does not serve.
    let m = (0..j.len()).find(|&m| !j.phases[0][m] && j.phases[1][m]).unwrap();
    let phase = layer.preempt(j.id, Call { id: 7, priority: 5, movement: m, kind: CallKind::Preempt, channel: 1 }).unwrap();
    assert!(j.phases[phase][m]);
    let mut green_at = None;
    for step in 1..120 {
        let now = step as f64;
        rec.now = now;
        layer.tick(&mut rec, now);
        let on = rec.masks[&j.id][m];
        if on && green_at.is_none() {
            green_at = Some(now);
        }
        if green_at.is_some() {
            assert!(on, "held past max green while called, at {now}");
        }
    }
    // Min green 8 s from 0, then 3 s yellow and 2 s all-red.
    assert_eq!(green_at, Some(13.0));
    let codes: Vec<u16> = rec.events.iter().map(|e| e.2).collect();
    assert_eq!(codes, vec![102, 105, 107]);
    rec.now = 120.0;
    assert!(layer.release(j.id, 7));
    layer.request(&[Request { intersection: j.id, target: Target::Phase(0) }]);
    for step in 120..140 {
        rec.now = step as f64;
        layer.tick(&mut rec, step as f64);
    }
    assert!(!rec.masks[&j.id][m] || j.phases[0][m], "back to the policy's phase");
    let codes: Vec<u16> = rec.events.iter().map(|e| e.2).collect();
    assert_eq!(codes, vec![102, 105, 107, 104, 111]);
}

#[test]
fn concurrent_calls_resolve_by_priority_then_id() {
    let s = grid_scenario(1, 1, 10.0, 100.0);
    let js = junctions(&s.network, PhaseSet::Four).unwrap();
    let t = Timing { min_green: 5.0, yellow: 3.0, all_red: 2.0, max_green: 60.0, decision_interval: 1.0 };
    let j = &js[0];
    // Two movements no phase serves together.
    let (a, b) = (0..j.len())
        .flat_map(|a| (0..j.len()).map(move |b| (a, b)))
        .find(|&(a, b)| !j.always[a] && !j.always[b] && !j.phases.iter().any(|p| p[a] && p[b]))
        .unwrap();
    let run = |first: (u64, u32, usize), second: (u64, u32, usize)| {
        let mut layer = SafetyLayer::new(&s.network, js.clone(), t).unwrap();
        let mut rec =
            Recorder { net: s.network.clone(), now: 0.0, masks: HashMap::new(), plan_since: HashMap::new(), events: Vec::new() };
        for (id, priority, movement) in [first, second] {
            layer.preempt(j.id, Call { id, priority, movement, kind: CallKind::Preempt, channel: 1 }).unwrap();
        }
        for step in 0..30 {
            rec.now = step as f64;
            layer.tick(&mut rec, step as f64);
        }
        (rec.masks[&j.id][a], rec.masks[&j.id][b])
    };
    assert_eq!(run((1, 3, a), (2, 5, b)), (false, true), "higher priority wins");
    assert_eq!(run((2, 5, b), (1, 3, a)), (false, true), "whatever the order of the calls");
    assert_eq!(run((1, 4, a), (2, 4, b)), (true, false), "equal priority: the older corridor");
    // A recovery call never beats a preemption.
    let mut layer = SafetyLayer::new(&s.network, js.clone(), t).unwrap();
    let mut rec =
        Recorder { net: s.network.clone(), now: 0.0, masks: HashMap::new(), plan_since: HashMap::new(), events: Vec::new() };
    layer.preempt(j.id, Call { id: 1, priority: 9, movement: a, kind: CallKind::Recovery, channel: 1 }).unwrap();
    layer.preempt(j.id, Call { id: 2, priority: 1, movement: b, kind: CallKind::Preempt, channel: 1 }).unwrap();
    for step in 0..30 {
        rec.now = step as f64;
        layer.tick(&mut rec, step as f64);
    }
    assert!(rec.masks[&j.id][b]);
}

#[test]
fn a_call_takes_an_intersection_back_from_its_plan_and_returns_it() {
    let s = grid_scenario(1, 1, 10.0, 100.0);
    let js = junctions(&s.network, PhaseSet::Plan).unwrap();
    let t = Timing::operational();
    let mut layer = SafetyLayer::new(&s.network, js.clone(), t).unwrap();
    let mut rec =
        Recorder { net: s.network.clone(), now: 0.0, masks: HashMap::new(), plan_since: HashMap::new(), events: Vec::new() };
    let j = &js[0];
    layer.request(&[Request { intersection: j.id, target: Target::Plan }]);
    layer.tick(&mut rec, 0.0);
    assert!(rec.plan_since.contains_key(&j.id));
    let m = (0..j.len()).find(|&m| !j.always[m]).unwrap();
    layer.preempt(j.id, Call { id: 1, priority: 5, movement: m, kind: CallKind::Preempt, channel: 1 }).unwrap();
    let mut served = None;
    for step in 1..200 {
        rec.now = step as f64;
        layer.tick(&mut rec, step as f64);
        if served.is_none() && !rec.plan_since.contains_key(&j.id) && rec.masks[&j.id][m] {
            served = Some(step);
        }
        if step == 100 {
            layer.release(j.id, 1);
        }
    }
    assert!(served.is_some_and(|s| s <= 1 + 8 + 5 + 1), "served at {served:?}");
    assert!(rec.plan_since.contains_key(&j.id), "the plan runs again after the call");
}
