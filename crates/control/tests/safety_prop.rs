//! Property tests of the safety layer: whatever a policy asks, and whenever, the signals
//! never show conflicting greens, never skip yellow + all-red, and respect minimum and
//! maximum green.

use std::collections::HashMap;

use city::IntersectionId;
use control::grid::grid_scenario;
use control::{junctions, movements_conflict, PhaseSet, Request, SafetyLayer, SignalSink, SignalState, Target, Timing};
use proptest::prelude::*;

#[derive(Default)]
struct Recorder {
    masks: HashMap<IntersectionId, Vec<bool>>,
    plan: Vec<IntersectionId>,
}

impl SignalSink for Recorder {
    fn set_green(&mut self, i: IntersectionId, mask: &[bool]) {
        self.masks.insert(i, mask.to_vec());
    }
    fn release_to_plan(&mut self, i: IntersectionId) {
        self.plan.push(i);
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_requests_never_break_the_invariants(
        t in timing(),
        four in any::<bool>(),
        requests in prop::collection::vec((0u32..300, 0usize..4, 0usize..8), 0..200),
    ) {
        let s = grid_scenario(2, 2, 10.0, 100.0);
        let net = &s.network;
        let js = junctions(net, if four { PhaseSet::Four } else { PhaseSet::Plan }).unwrap();
        let mut layer = SafetyLayer::new(net, js.clone(), t).unwrap();
        let mut rec = Recorder::default();
        let lost = t.yellow + t.all_red;
        // Per junction and movement: time it turned green / red (None = never).
        let mut on_since: Vec<Vec<Option<f64>>> = js.iter().map(|j| vec![None; j.len()]).collect();
        let mut red_since: Vec<Vec<Option<f64>>> = js.iter().map(|j| vec![None; j.len()]).collect();
        for step in 0..300u32 {
            let now = step as f64;
            let reqs: Vec<Request> = requests
                .iter()
                .filter(|r| r.0 == step)
                .map(|&(_, k, p)| Request { intersection: js[k].id, target: Target::Phase(p % (js[k].phases.len() + 1)) })
                .collect();
            layer.request(&reqs);
            layer.tick(&mut rec, now);
            prop_assert!(rec.plan.is_empty());
            for (k, j) in js.iter().enumerate() {
                let mask = rec.masks.get(&j.id).cloned().unwrap_or_else(|| vec![false; j.len()]);
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
                        for (c, red) in red_since[k].iter().enumerate() {
                            if movements_conflict(net, j.movements[m], j.movements[c]) {
                                if let Some(r) = *red {
                                    prop_assert!(now - r + 1e-9 >= lost, "{}: movement {m} green at {now}, {c} red only since {r}", j.name);
                                }
                            }
                        }
                        on_since[k][m] = Some(now);
                    } else if !mask[m] && was_on {
                        let on = on_since[k][m].unwrap();
                        if !j.always[m] {
                            prop_assert!(now - on + 1e-9 >= t.min_green.min(t.max_green), "{}: movement {m} green only {}", j.name, now - on);
                        }
                        on_since[k][m] = None;
                        red_since[k][m] = Some(now);
                    }
                }
                if let (SignalState::Green { .. }, _) = layer.state(k) {
                    prop_assert!(now - layer.green_since(k) <= t.max_green + 1e-9 || j.phases.len() < 2);
                }
            }
        }
    }
}

#[test]
fn plan_requests_hand_over_after_clearance() {
    let s = grid_scenario(1, 1, 10.0, 100.0);
    let js = junctions(&s.network, PhaseSet::Four).unwrap();
    let t = Timing { min_green: 5.0, yellow: 3.0, all_red: 2.0, max_green: 60.0, decision_interval: 1.0 };
    let mut layer = SafetyLayer::new(&s.network, js.clone(), t).unwrap();
    let mut rec = Recorder::default();
    let id = js[0].id;
    layer.request(&[Request { intersection: id, target: Target::Phase(1) }]);
    layer.tick(&mut rec, 0.0);
    assert_eq!(layer.state(0).0, SignalState::Green { phase: 1 });
    layer.request(&[Request { intersection: id, target: Target::Plan }]);
    for step in 1..5 {
        layer.tick(&mut rec, step as f64);
        assert_eq!(layer.state(0).0, SignalState::Green { phase: 1 }, "min green holds at {step}");
    }
    for step in 5..10 {
        layer.tick(&mut rec, step as f64);
        assert!(rec.plan.is_empty(), "still clearing at {step}");
    }
    layer.tick(&mut rec, 10.0);
    assert_eq!(rec.plan, vec![id]);
    assert_eq!(layer.state(0).0, SignalState::Plan);
}

#[test]
fn bad_requests_are_counted_not_applied() {
    let s = grid_scenario(1, 1, 10.0, 100.0);
    let js = junctions(&s.network, PhaseSet::Four).unwrap();
    let mut layer = SafetyLayer::new(&s.network, js.clone(), Timing::benchmark()).unwrap();
    let virtual_node =
        (0..s.network.intersections.len()).map(IntersectionId::from).find(|&i| s.network.intersection(i).is_virtual).unwrap();
    layer.request(&[
        Request { intersection: js[0].id, target: Target::Phase(99) },
        Request { intersection: virtual_node, target: Target::Phase(0) },
    ]);
    assert_eq!(layer.rejected(), 2);
    let mut rec = Recorder::default();
    layer.tick(&mut rec, 0.0);
    assert_eq!(layer.state(0).0, SignalState::Startup);
}

#[test]
fn bad_timing_is_rejected_with_the_field() {
    let s = grid_scenario(1, 1, 10.0, 100.0);
    let js = junctions(&s.network, PhaseSet::Four).unwrap();
    let t = Timing { yellow: -1.0, ..Timing::operational() };
    let err = SafetyLayer::new(&s.network, js.clone(), t).unwrap_err();
    assert!(err.to_string().contains("yellow"), "{err}");
    let t = Timing { max_green: 3.0, min_green: 10.0, ..Timing::operational() };
    assert!(SafetyLayer::new(&s.network, js, t).unwrap_err().to_string().contains("max_green"));
}
