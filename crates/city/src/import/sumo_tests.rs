use proptest::prelude::*;

use super::*;
use crate::spec::Turn;
use crate::testutil::{SUMO_CROSS_NET as NET, SUMO_CROSS_ROUTES as ROUTES};

fn load(net: &str, routes: &str) -> Result<Scenario, ImportError> {
    load_scenario_named(net, routes, "x.net.xml", "x.rou.xml")
}

fn net_error(net: &str) -> ImportError {
    parse_net(net, "x.net.xml").expect_err("expected an error")
}

fn routes_error(routes: &str) -> ImportError {
    load(NET, routes).expect_err("expected an error")
}

#[test]
fn cross_network_maps_lanes_movements_and_phases() {
    let spec = parse_net_spec(NET, "x.net.xml").unwrap();
    assert_eq!(spec.roads.len(), 8);
    let c = spec.intersections.iter().find(|i| i.name == "C").unwrap();
    assert!(!c.is_virtual);
    assert!((c.width - 10.0).abs() < 1e-9, "junction box from the lane ends: {}", c.width);
    assert!(spec.intersections.iter().filter(|i| i.name != "C").all(|i| i.is_virtual));
    let road = |n: &str| spec.roads.iter().position(|r| r.name == n).unwrap();
    // The pedestrian lane is dropped; lanes are reversed (SUMO 0 is the rightmost).
    assert_eq!(spec.roads[road("CS")].lanes.len(), 2);
    assert_eq!(spec.roads[road("WC")].lanes[0].max_speed, 13.89);
    let kinds: Vec<(usize, usize, Turn)> = c.movements.iter().map(|m| (m.from_road, m.to_road, m.turn)).collect();
    assert_eq!(
        kinds,
        vec![
            (road("WC"), road("CE"), Turn::Straight),
            (road("WC"), road("CN"), Turn::Left),
            (road("WC"), road("CS"), Turn::Right),
            (road("NC"), road("CS"), Turn::Straight),
            (road("EC"), road("CW"), Turn::Straight),
            (road("SC"), road("CN"), Turn::Straight),
        ],
        "U-turn dropped, grouped by (from, to)"
    );
    let left = &c.movements[1].lane_links[0];
    assert_eq!((left.from_lane, left.to_lane), (0, 0), "SUMO lane 1 of 2 is our innermost lane 0");
    let right = &c.movements[2].lane_links[0];
    assert_eq!((right.from_lane, right.to_lane), (1, 1));
    assert_eq!(c.movements[0].lane_links[0].points.len(), 3, "geometry from the via lane");
    assert!(c.movements[0].lane_links[1].points.is_empty(), "no via: Bézier derived later");
    let phases: Vec<(f64, Vec<usize>)> = c.phases.iter().map(|p| (p.duration, p.movements.clone())).collect();
    assert_eq!(
        phases,
        vec![(30.0, vec![0, 1, 2, 4]), (3.0, vec![]), (30.0, vec![2, 3, 5])],
        "the program loaded last runs, as in SUMO"
    );
}

#[test]
fn routes_vehicles_and_flows() {
    let s = load(NET, ROUTES).unwrap();
    assert_eq!(s.demand.flows.len(), 5);
    // 1 + 1 vehicles, then 6 (0..50 every 10 s, end exclusive), 4 (every 25 s), 3 (every 10 s).
    assert_eq!(s.demand.vehicles_until(3600.0), 15);
    let f = &s.demand.flows;
    assert_eq!((f[1].start, f[1].end), (5.5, Some(6.0)));
    assert_eq!((f[2].interval, f[2].end), (10.0, Some(50.0)));
    assert_eq!((f[3].interval, f[3].end), (25.0, Some(75.0)));
    assert_eq!((f[4].interval, f[4].end), (10.0, Some(20.0)));
    assert_eq!(f[1].params.headway_time, 2.0);
    assert_eq!(f[0].params.headway_time, 1.0, "SUMO's default tau");
    assert_eq!((f[1].params.usual_neg_acc, f[1].params.max_neg_acc), (4.5, 9.0));
    // The twin's `import_runs` tests check that every vehicle finishes.
}

#[test]
fn net_errors_name_the_line() {
    let e = net_error(&NET.replace(r#"speed="13.89""#, r#"speed="-3""#));
    assert_eq!(e.location, "line 8");
    assert!(e.message.contains("speed must be positive"), "{e}");
    let e = net_error(&NET.replace(r#"tl="C" linkIndex="9""#, r#"tl="C" linkIndex="20""#));
    assert!(e.message.contains("linkIndex 20 is beyond the state"), "{e}");
    assert_eq!(e.location, "line 61");
    let e = net_error(&NET.replace(r#"from="SC" to="CN" fromLane="0""#, r#"from="SC" to="XX" fromLane="0""#));
    assert!(e.message.contains("unknown edge \"XX\""), "{e}");
    let e = net_error(&NET.replace(r#"from="SC" to="CN" fromLane="0""#, r#"from="SC" to="CN" fromLane="7""#));
    assert!(e.message.contains("edge \"SC\" has no lane 7"), "{e}");
    let e = net_error(&NET.replace(r#"from="WC" to="CE" fromLane="1""#, r#"from="WC" to="EC" fromLane="1""#));
    assert!(e.message.contains("do not meet at a junction"), "{e}");
    let e = net_error(&NET.replace(r#"<edge id="CN" from="C""#, r#"<edge id="CN" from="Q""#));
    assert!(e.message.contains("unknown junction \"Q\""), "{e}");
    let e = net_error(&NET.replace("</tlLogic>\n    <tlLogic", "<tlLogic"));
    assert!(e.message.starts_with("malformed XML"), "{e}");
    assert!(e.to_string().starts_with("x.net.xml: line "), "{e}");
    let e = net_error("<routes/>");
    assert!(e.message.contains("root element must be <net>"), "{e}");
}

#[test]
fn route_errors_name_the_line() {
    let e = routes_error(&ROUTES.replace(r#"tau="2""#, r#"tau="x""#));
    assert_eq!(e.to_string(), "x.rou.xml: line 2: <vType>: tau: expected a number, got \"x\"");
    let e = routes_error(&ROUTES.replace(r#"accel="2.0""#, r#"accel="0""#));
    assert!(e.message.contains("maxPosAcc"), "{e}");
    let e = routes_error(&ROUTES.replace(r#"depart="5.5""#, r#"depart="soon""#));
    assert!(e.message.contains("depart: expected a time"), "{e}");
    assert_eq!(e.location, "line 7");
    let e = routes_error(&ROUTES.replace(r#"period="10""#, r#"probability="1.5""#));
    assert!(e.message.contains("probability must be between 0 and 1"), "{e}");
    let e = routes_error("<net/>");
    assert!(e.message.contains("not a SUMO route file"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any corruption of valid files gives a located error or a scenario, never a panic.
    #[test]
    fn corrupted_files_never_panic(cut in 0usize..6000, len in 0usize..24, repl in "[-0-9a-zA-Z .,=\"<>/:\n]{0,8}", which in 0u8..2) {
        let mangle = |s: &str| crate::testutil::splice(s, cut, len, &repl);
        let (n, r) = if which == 0 { (mangle(NET), ROUTES.to_string()) } else { (NET.to_string(), mangle(ROUTES)) };
        if let Err(e) = load(&n, &r) {
            prop_assert!(e.location.starts_with("line ") || e.location.contains('[') || e.location.contains('.'), "{}", e);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[-0-9a-z .,=\"<>/\n]{0,300}") {
        let _ = load(&text, ROUTES);
        let _ = load(NET, &text);
    }
}
