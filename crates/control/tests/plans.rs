//! Plan validation and phase construction.

mod common;

use city::Turn;
use control::grid::grid_scenario;
use control::{approach_of, junctions, validate_plan, Approach, ControlError, PhaseSet};

#[test]
fn a_phase_with_crossing_throughs_is_rejected_naming_intersection_and_movements() {
    let s = grid_scenario(1, 1, 10.0, 100.0);
    let net = &s.network;
    let j = &junctions(net, PhaseSet::Four).unwrap()[0];
    let through =
        |ns: bool| (0..j.len()).find(|&m| j.turns[m] == Turn::Straight && j.approaches[m].is_north_south() == ns).unwrap();
    let (ew, ns) = (through(false), through(true));
    let mut mask = vec![false; j.len()];
    mask[ew] = true;
    mask[ns] = true;
    let err = validate_plan(net, j.id, &[j.phases[0].clone(), mask]).unwrap_err();
    match &err {
        ControlError::ConflictingPhase { intersection, phase, .. } => {
            assert_eq!(intersection, &j.name);
            assert_eq!(*phase, 1);
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&j.name), "{msg}");
    for m in [ew, ns] {
        let mv = net.movement(j.movements[m]);
        assert!(msg.contains(&net.road(mv.from_road).name), "{msg}");
        assert!(msg.contains(&net.road(mv.to_road).name), "{msg}");
    }
    assert!(msg.contains("straight"), "{msg}");
    // A left turn against the opposing through also conflicts.
    let left = (0..j.len()).find(|&m| j.turns[m] == Turn::Left && j.approaches[m] == Approach::West).unwrap();
    let opposing = (0..j.len()).find(|&m| j.turns[m] == Turn::Straight && j.approaches[m] == Approach::East).unwrap();
    let mut mask = vec![false; j.len()];
    mask[left] = true;
    mask[opposing] = true;
    assert!(validate_plan(net, j.id, &[mask]).is_err());
    // Wrong mask length is an error, not a panic.
    assert!(matches!(validate_plan(net, j.id, &[vec![true]]), Err(ControlError::PhaseLength { .. })));
}

#[test]
fn four_phases_follow_the_geometry() {
    let s = grid_scenario(2, 2, 10.0, 100.0);
    let net = &s.network;
    for j in junctions(net, PhaseSet::Four).unwrap() {
        assert_eq!(j.phases.len(), 4);
        for (p, (ns, turn)) in
            [(false, Turn::Straight), (true, Turn::Straight), (false, Turn::Left), (true, Turn::Left)].iter().enumerate()
        {
            for m in 0..j.len() {
                let expect = j.always[m] || (j.turns[m] == *turn && j.approaches[m].is_north_south() == *ns);
                assert_eq!(j.phases[p][m], expect, "{} phase {p} movement {m}", j.name);
            }
        }
        // Approaches of a grid: a road built eastwards arrives from the West.
        for &m in &j.movements {
            let road = net.road(net.movement(m).from_road);
            let d = road.points[1] - road.points[0];
            let a = approach_of(net, net.movement(m).from_road);
            if d.x > 0.0 {
                assert_eq!(a, Approach::West);
            } else if d.x < 0.0 {
                assert_eq!(a, Approach::East);
            } else if d.y > 0.0 {
                assert_eq!(a, Approach::South);
            } else {
                assert_eq!(a, Approach::North);
            }
        }
    }
}

#[test]
fn real_plans_pass_validation() {
    for name in ["hangzhou_4x4", "jinan_3x4"] {
        let Some(s) = common::cityflow(name) else { return };
        for set in [PhaseSet::Four, PhaseSet::Plan] {
            let js = junctions(&s.network, set).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!js.is_empty());
            for j in &js {
                let plan: Vec<Vec<bool>> = s.network.intersection(j.id).phases.iter().map(|p| p.green.clone()).collect();
                validate_plan(&s.network, j.id, &plan).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
    let Some(s) = common::nanchang() else { return };
    let js = junctions(&s.network, PhaseSet::Plan).unwrap_or_else(|e| panic!("nanchang: {e}"));
    assert_eq!(js.len(), 859);
}
