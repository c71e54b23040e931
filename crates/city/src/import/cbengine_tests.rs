use proptest::prelude::*;

use super::*;
use crate::testutil::{CBENGINE_CROSS_FLOW as FLOW, CBENGINE_CROSS_ROADNET as ROADNET};

fn load(r: &str, f: &str) -> Result<Scenario, ImportError> {
    load_scenario_named(r, f, "roadnet.txt", "flow.txt")
}

fn movement(net: &Network, from: &str, to: &str) -> crate::ids::MovementId {
    let (a, b) = (net.road_by_name(from).unwrap(), net.road_by_name(to).unwrap());
    crate::ids::MovementId::from(net.movements.iter().position(|m| m.from_road == a && m.to_road == b).unwrap())
}

#[test]
fn builds_arms_movements_and_the_eight_phase_plan() {
    let s = load(ROADNET, FLOW).unwrap();
    let net = &s.network;
    assert_eq!(net.intersections.len(), 5);
    assert_eq!(net.intersections.iter().filter(|i| i.is_virtual).count(), 4);
    assert_eq!(net.roads.len(), 8);
    let c = &net.intersections[0];
    assert_eq!(c.movements.len(), 12);
    assert_eq!(c.phases.len(), 9);
    // From the north arm (road 11 arrives from N): through goes south (30), left east (20), right west (40).
    assert_eq!(net.movement(movement(net, "11", "30")).turn, Turn::Straight);
    assert_eq!(net.movement(movement(net, "11", "20")).turn, Turn::Left);
    assert_eq!(net.movement(movement(net, "11", "40")).turn, Turn::Right);
    assert_eq!(net.movement(movement(net, "21", "40")).turn, Turn::Straight);
    let green = |p: usize, m: crate::ids::MovementId| c.phases[p].green[net.movement(m).local as usize];
    // Phase 1: N/S left; phase 2: N/S through; phase 5: N left + through; right turns always.
    assert!(green(1, movement(net, "11", "20")) && green(1, movement(net, "31", "40")));
    assert!(!green(1, movement(net, "11", "30")));
    assert!(green(2, movement(net, "11", "30")) && green(2, movement(net, "31", "10")));
    assert!(green(5, movement(net, "11", "20")) && green(5, movement(net, "11", "30")));
    assert!(!green(5, movement(net, "31", "10")));
    for p in 0..9 {
        assert!(green(p, movement(net, "11", "40")), "right turns go in phase {p}");
    }
    assert_eq!(c.phases[0].duration, CLEARANCE_S);
    // Each phase serves one approach, or two opposite approaches with the same turn.
    let arm = |m: crate::ids::MovementId| match net.road(net.movement(m).from_road).name.as_str() {
        "11" => 0,
        "21" => 1,
        "31" => 2,
        _ => 3,
    };
    for (p, ph) in c.phases.iter().enumerate() {
        let on: Vec<_> =
            c.movements.iter().enumerate().filter(|&(k, &m)| ph.green[k] && net.movement(m).turn != Turn::Right).collect();
        for &(_, &a) in &on {
            for &(_, &b) in &on {
                let same_arm = arm(a) == arm(b);
                let opposite_same_turn = (arm(a) + 2) % 4 == arm(b) && net.movement(a).turn == net.movement(b).turn;
                assert!(same_arm || opposite_same_turn, "phase {p} mixes approaches");
            }
        }
        // Through movements of crossing streets really cross in this geometry.
        assert!(net.movements_conflict(movement(net, "11", "30"), movement(net, "21", "40")));
    }
    // Left lane 0 turns onto every lane of the exit road.
    assert_eq!(net.movement(movement(net, "11", "20")).lane_links.len(), 3);
}

#[test]
fn lanes_get_the_file_length() {
    let s = load(ROADNET, FLOW).unwrap();
    for r in &s.network.roads {
        let len = s.network.road_length(s.network.road_by_name(&r.name).unwrap());
        assert!((len - 500.0).abs() < 10.0, "road {} lane length {len}", r.name);
    }
}

#[test]
fn flows_release() {
    // The twin's `import_runs` tests check that these vehicles also finish.
    let s = load(ROADNET, FLOW).unwrap();
    assert_eq!(s.demand.vehicles_until(3600.0), 11 + 6 + 1);
}

#[test]
fn errors_name_the_line() {
    let check = |r: &str, f: &str, file: &str, line: usize, words: &str| {
        let e = load(r, f).expect_err("must fail");
        assert_eq!(e.file, file, "{e}");
        assert_eq!(e.location, format!("line {line}"), "{e}");
        assert!(e.message.contains(words), "{e}");
    };
    check(&ROADNET.replace("1 2 500.0", "1 2 -500.0"), FLOW, "roadnet.txt", 8, "length must be positive");
    check(&ROADNET.replace("1 2 500.0", "1 9 500.0"), FLOW, "roadnet.txt", 8, "unknown intersection 9");
    check(&ROADNET.replace("1 10 20 30 40", "1 10 20 31 40"), FLOW, "roadnet.txt", 21, "does not start at");
    check(&ROADNET.replacen("1 0 0 0 1 0 0 0 1", "1 0 0 0 2 0 0 0 1", 1), FLOW, "roadnet.txt", 9, "0 or 1");
    check(&ROADNET.replace("28.703", "north"), FLOW, "roadnet.txt", 3, "latitude");
    check(&ROADNET.replace("1 10 20 30 40", "1 10 20"), FLOW, "roadnet.txt", 21, "end of file");
    check(ROADNET, &FLOW.replace("11 30", "11 99"), "flow.txt", 4, "unknown road \"99\"");
    check(ROADNET, &FLOW.replace("11 30", "11 21"), "flow.txt", 4, "does not connect");
    check(ROADNET, &FLOW.replace("0 100 10", "0 100 0"), "flow.txt", 2, "interval must be positive");
    check(ROADNET, &format!("{FLOW}7"), "flow.txt", 11, "extra data");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any corruption of valid files gives a located error or a scenario, never a panic.
    #[test]
    fn corrupted_files_never_panic(cut in 0usize..600, len in 0usize..12, repl in "[-0-9a-z .\n]{0,6}", which in 0u8..2) {
        let mangle = |s: &str| crate::testutil::splice(s, cut, len, &repl);
        let (r, f) = if which == 0 { (mangle(ROADNET), FLOW.to_string()) } else { (ROADNET.to_string(), mangle(FLOW)) };
        if let Err(e) = load(&r, &f) {
            prop_assert!(e.location.starts_with("line ") || e.location.contains('.') || e.location.contains('['), "{}", e);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[-0-9 .\n]{0,200}") {
        let _ = load(&text, FLOW);
        let _ = load(ROADNET, &text);
    }
}
