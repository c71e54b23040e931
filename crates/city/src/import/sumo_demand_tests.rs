use proptest::prelude::*;

use super::*;
use crate::import::sumo::{parse_net, parse_net_spec, parse_net_with};
use crate::testutil::{SUMO_CROSS_NET as NET, SUMO_CROSS_ROUTES as ROUTES};

fn net() -> Network {
    parse_net(NET, "x.net.xml").unwrap().1
}

fn read(routes: &str, seed: u64) -> (Demand, RouteReport) {
    parse_routes_with(&[(routes, "x.rou.xml")], &net(), seed).unwrap()
}

fn names(net: &Network, f: &Flow) -> Vec<String> {
    f.route.iter().map(|&r| net.road(r).name.clone()).collect()
}

/// Key of a flow for comparing demands: route, start, type length.
fn key(d: &Demand) -> Vec<(Vec<u32>, u64, u64)> {
    d.flows.iter().map(|f| (f.route.iter().map(|r| r.0).collect(), f.start.to_bits(), f.params.length.to_bits())).collect()
}

#[test]
fn invalid_routes_are_skipped_with_their_line_and_the_rest_loads() {
    let text = ROUTES
        .replace(r#"edges="WC CE""#, r#"edges="WC CW""#) // the U-turn the twin drops
        .replace(r#"type="car"/>"#, r#"type="bus"/>"#);
    let (d, r) = read(&text, 0);
    assert_eq!(d.vehicles_until(3600.0), 15 - 2, "vehicles 0 and 1 skipped, the flows load");
    assert_eq!(r.skipped.len(), 2);
    let s0 = &r.skipped[0];
    assert_eq!((s0.id.as_str(), s0.line, s0.kind, s0.vehicles), ("0", 4, SkipKind::NotConnected, 1));
    assert!(s0.reason.contains("\"WC\" does not connect to road \"CW\""), "{}", s0.reason);
    assert_eq!((r.skipped[1].id.as_str(), r.skipped[1].kind), ("1", SkipKind::UnknownReference));
    let w = r.warnings();
    assert!(w[0].starts_with("x.rou.xml: line 4: \"0\" skipped (1 vehicles): "), "{}", w[0]);
    let sum = r.summary();
    assert!(sum.contains("2 definitions skipped (2 vehicles)"), "{sum}");
    assert!(sum.contains("edges not connected: 1") && sum.contains("unknown route or type: 1"), "{sum}");
    assert!(sum.contains("<person> ×1"), "persons are reported as not modelled: {sum}");
    let text = ROUTES.replace(r#"edges="WC CE""#, r#"edges="WC nowhere""#);
    assert_eq!(read(&text, 0).1.skipped[0].kind, SkipKind::UnknownEdge);
}

#[test]
fn trips_and_flows_from_to_are_routed_on_the_fastest_path() {
    let text = r#"<routes>
        <trip id="t" depart="3" from="WC" to="CN"/>
        <trip id="same" depart="4" from="WC" to="WC"/>
        <flow id="f" begin="0" end="20" period="10" from="SC" to="CN" departLane="best"/>
        <trip id="u" depart="5" from="WC" to="CW"/>
        <trip id="v" depart="5" from="WC" via="CE" to="CN"/>
    </routes>"#;
    let n = net();
    let (d, r) = read(text, 0);
    assert_eq!(d.flows.len(), 3);
    assert_eq!(names(&n, &d.flows[0]), ["WC", "CN"]);
    assert_eq!(d.flows[0].start, 3.0);
    assert_eq!(names(&n, &d.flows[1]), ["WC"]);
    assert_eq!((names(&n, &d.flows[2]), d.flows[2].interval, d.flows[2].end), (vec!["SC".into(), "CN".into()], 10.0, Some(10.0)));
    assert_eq!(r.routed, 3);
    let kinds: Vec<(&str, SkipKind)> = r.skipped.iter().map(|s| (s.id.as_str(), s.kind)).collect();
    assert_eq!(kinds, [("u", SkipKind::NoPath), ("v", SkipKind::NoPath)], "no U-turn, and CE is a dead end");
    assert_eq!(r.ignored.get("departLane"), None, "departLane is modelled");
    assert_eq!(d.flows[2].depart.lane, DepartLane::Best);
}

#[test]
fn depart_lanes_are_read_and_bad_ones_skip_the_vehicle() {
    let text = r#"<routes>
        <flow id="a" begin="0" end="10" period="10" route="r" departLane="free"/>
        <flow id="b" begin="0" end="10" period="10" route="r" departLane="1"/>
        <flow id="c" begin="0" end="10" period="10" route="r" departLane="allowed" departSpeed="max"/>
        <flow id="d" begin="0" end="10" period="10" route="r" departLane="first"/>
        <flow id="e" begin="0" end="10" period="10" route="r" departLane="random"/>
        <flow id="f" begin="0" end="10" period="10" route="r"/>
        <flow id="g" begin="0" end="10" period="10" route="r" departLane="left"/>
        <route id="r" edges="WC CE"/>
    </routes>"#;
    let (d, r) = read(text, 0);
    let lanes: Vec<DepartLane> = d.flows.iter().map(|f| f.depart.lane).collect();
    assert_eq!(
        lanes,
        [DepartLane::Free, DepartLane::Given(1), DepartLane::Allowed, DepartLane::First, DepartLane::Random, DepartLane::Route]
    );
    assert_eq!(d.flows[2].depart.speed, DepartSpeed::Max, "speed and lane side by side");
    assert_eq!(r.skipped.len(), 1);
    assert_eq!((r.skipped[0].id.as_str(), r.skipped[0].kind), ("g", SkipKind::Unsupported));
    assert!(r.skipped[0].reason.contains("departLane=\"left\""), "{}", r.skipped[0].reason);
    assert!(DepartLane::Free.is_dynamic() && DepartLane::Best.is_dynamic() && !DepartLane::Given(0).is_dynamic());
    assert_eq!(DepartLane::parse_sumo("-1"), None);
}

#[test]
fn depart_positions_are_read_and_bad_ones_skip_the_vehicle() {
    let text = r#"<routes>
        <flow id="a" begin="0" end="10" period="10" route="r" departPos="free"/>
        <flow id="b" begin="0" end="10" period="10" route="r" departPos="random"/>
        <flow id="c" begin="0" end="10" period="10" route="r" departPos="-20.5" departLane="free"/>
        <flow id="d" begin="0" end="10" period="10" route="r" departPos="last"/>
        <flow id="e" begin="0" end="10" period="10" route="r" departPos="random_free"/>
        <flow id="f" begin="0" end="10" period="10" route="r" departPos="base"/>
        <flow id="g" begin="0" end="10" period="10" route="r" departPos="stop"/>
        <route id="r" edges="WC CE"/>
    </routes>"#;
    let (d, r) = read(text, 0);
    let pos: Vec<DepartPos> = d.flows.iter().map(|f| f.depart.pos).collect();
    assert_eq!(
        pos,
        [DepartPos::Free, DepartPos::Random, DepartPos::Given(-20.5), DepartPos::Last, DepartPos::RandomFree, DepartPos::Base]
    );
    assert_eq!(d.flows[2].depart.lane, DepartLane::Free);
    assert_eq!(r.ignored.get("departPos"), None, "departPos is modelled");
    assert_eq!(r.skipped.len(), 1);
    assert_eq!((r.skipped[0].id.as_str(), r.skipped[0].kind), ("g", SkipKind::Unsupported));
    assert_eq!(DepartPos::parse_sumo("inf"), None);
}

#[test]
fn type_and_route_distributions_draw_per_vehicle_and_are_seeded() {
    let text = r#"<routes>
        <vTypeDistribution id="mix">
            <vType id="small" length="4" probability="3"/>
            <vType id="long" length="12" probability="1"/>
        </vTypeDistribution>
        <routeDistribution id="rd">
            <route id="a" edges="WC CE" probability="1"/>
            <route id="b" edges="NC CS" probability="1"/>
            <route id="bad" edges="WC CW" probability="1"/>
        </routeDistribution>
        <flow id="f" type="mix" route="rd" begin="0" end="400" period="1"/>
        <vehicle id="fixed" depart="0" type="long" route="b"/>
    </routes>"#;
    let n = net();
    let (d, r) = read(text, 1);
    let long = d.flows.iter().filter(|f| f.params.length == 12.0).count();
    let via_wc = d.flows.iter().filter(|f| names(&n, f)[0] == "WC").count();
    assert_eq!(r.skipped.len(), 1, "the bad route member");
    let lost = r.skipped[0].vehicles as usize;
    assert_eq!(d.flows.len() + lost, 401);
    assert!((90..170).contains(&lost), "about a third drew the U-turn: {lost}");
    assert!((60..140).contains(&long), "about a quarter long: {long}");
    assert!((90..180).contains(&via_wc), "{via_wc}");
    assert_eq!(key(&read(text, 1).0), key(&d), "same seed, same demand");
    assert_ne!(key(&read(text, 2).0), key(&d), "another seed draws again");
    let default = r#"<routes><vTypeDistribution id="DEFAULT_VEHTYPE" vTypes="t"/><vType id="t" length="7"/>
        <vehicle id="v" depart="0"><route edges="WC CE"/></vehicle></routes>"#;
    let e = parse_routes_with(&[(default, "x.rou.xml")], &n, 0).unwrap_err();
    assert!(e.message.contains("unknown vType \"t\""), "types must be defined first: {e}");
    let default = r#"<routes><vType id="t" length="7"/><vTypeDistribution id="DEFAULT_VEHTYPE" vTypes="t"/>
        <vehicle id="v" depart="0"><route edges="WC CE"/></vehicle></routes>"#;
    assert_eq!(read(default, 0).0.flows[0].params.length, 7.0, "a distribution may replace the default type");
}

#[test]
fn random_flows_are_seeded_and_respect_number_and_end() {
    let text = r#"<routes>
        <flow id="p" begin="100" end="1100" probability="0.25" route="r"/>
        <flow id="n" begin="0" probability="0.5" number="10" route="r"/>
        <flow id="x" begin="0" end="2000" period="exp(0.1)" route="r"/>
        <route id="r" edges="NC CS"/>
    </routes>"#;
    let (d, _) = read(text, 7);
    let count = |lo: f64, hi: f64| d.flows.iter().filter(|f| f.start >= lo && f.start < hi && f.interval == 1.0).count();
    let p: Vec<&Flow> = d.flows.iter().take_while(|f| f.start >= 100.0).collect();
    assert!((180..320).contains(&p.len()), "about 250 of 1000 seconds: {}", p.len());
    assert!(p.iter().all(|f| f.start < 1100.0 && f.start.fract() == 0.0));
    assert!(count(0.0, 2000.0) > 300);
    let x = d.flows.len() - p.len() - 10;
    assert!((140..260).contains(&x), "about 200 Poisson arrivals in 2000 s at 0.1/s: {x}");
    assert_eq!(key(&read(text, 7).0), key(&d));
}

#[test]
fn additional_traffic_light_programs_replace_the_networks() {
    let add = r#"<additional><tlLogic id="C" type="static" programID="game"><phase duration="5" state="GGGGGGGGGGG"/>
        <phase duration="7" state="rrrrrrrrrrr"/></tlLogic></additional>"#;
    let (spec, _) = parse_net_with(NET, "x.net.xml", &[(add, "t.add.xml")]).unwrap();
    let c = spec.intersections.iter().find(|i| i.name == "C").unwrap();
    let d: Vec<f64> = c.phases.iter().map(|p| p.duration).collect();
    assert_eq!(d, [5.0, 7.0]);
    assert!(c.phases[1].movements.is_empty());
    let bad = add.replace(r#"duration="7""#, r#"duration="-7""#);
    let e = parse_net_with(NET, "x.net.xml", &[(&bad, "t.add.xml")]).unwrap_err();
    assert_eq!((e.file.as_str(), e.location.as_str()), ("t.add.xml", "line 2"), "{e}");
}

#[test]
fn very_short_edges_are_kept_at_the_minimum_length() {
    // Shrink CE to 2 cm past the junction box, as OSM conversions leave them.
    let tiny = NET
        .replace(
            r#"<edge id="CE" from="C" to="E" priority="-1">"#,
            r#"<edge id="CE" from="C" to="E" priority="-1" shape="10.00,0.00 10.02,0.00">"#,
        )
        .replace(r#"<junction id="E" type="dead_end" x="300.00""#, r#"<junction id="E" type="dead_end" x="10.02""#);
    let (spec, n) = parse_net(&tiny, "x.net.xml").unwrap();
    let ce = n.road_by_name("CE").unwrap();
    assert!((n.road_length(ce) - crate::import::sumo::MIN_EDGE_LENGTH).abs() < 0.05, "{}", n.road_length(ce));
    assert!(spec.roads.iter().find(|r| r.name == "CE").unwrap().points.len() == 2);
    // Without the minimum the builder rejects it (what the importer guards against).
    let mut raw = parse_net_spec(&tiny, "x.net.xml").unwrap();
    let k = raw.roads.iter().position(|r| r.name == "CE").unwrap();
    raw.roads[k].points = vec![crate::geom::Point::new(0.0, 0.0), crate::geom::Point::new(10.02, 0.0)];
    assert!(Network::build(&raw).is_err());
}

prop_compose! {
    fn flow_el()(kind in 0u8..6, a in 0u32..500, b in 0u32..500, p in 0.0f64..1.0, ty in 0u8..3, r in 0u8..4) -> String {
        let ty = ["", r#" type="mix""#, r#" type="car""#][ty as usize];
        let route = [r#" route="rd""#, r#" route="ok""#, r#" from="WC" to="CN""#, r#" from="WC" to="CW""#][r as usize];
        match kind {
            0 => format!(r#"<flow id="f{a}" begin="{a}" end="{}" period="{}"{ty}{route}/>"#, a + b, 1 + b % 30),
            1 => format!(r#"<flow id="p{a}" begin="{a}" end="{}" probability="{p}"{ty}{route}/>"#, a + b),
            2 => format!(r#"<flow id="x{a}" begin="{a}" end="{}" period="exp({})"{ty}{route}/>"#, a + b, p + 0.01),
            3 => format!(r#"<flow id="n{a}" begin="{a}" end="{}" number="{}"{ty}{route}/>"#, a + b + 1, b % 50),
            4 => format!(r#"<trip id="t{a}" depart="{}"{ty}{route}/>"#, a as f64 / 3.0),
            _ => format!(r#"<vehicle id="v{a}" depart="{a}"{ty}{route}/>"#),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Generated route files: every definition loads or is reported skipped, the demand is
    /// the same for the same seed, and every flow's route can be driven.
    #[test]
    fn generated_route_files_load_deterministically(els in prop::collection::vec(flow_el(), 0..12), seed in 0u64..1000) {
        let text = format!(r#"<routes><vType id="car" length="6"/><vTypeDistribution id="mix" vTypes="car DEFAULT_VEHTYPE" probabilities="1 2"/>
            <route id="ok" edges="NC CS"/><routeDistribution id="rd"><route refId="ok" probability="2"/><route id="u" edges="WC CW"/></routeDistribution>
            {}</routes>"#, els.join("\n"));
        let n = net();
        let (d, r) = parse_routes_with(&[(&text, "x.rou.xml")], &n, seed).unwrap();
        let (d2, r2) = parse_routes_with(&[(&text, "x.rou.xml")], &n, seed).unwrap();
        prop_assert_eq!(key(&d), key(&d2));
        prop_assert_eq!(r, r2);
        for f in &d.flows {
            prop_assert!(validate_route(&n, &f.route, "r").is_ok());
            prop_assert!(f.end.is_some_and(|e| e >= f.start));
        }
    }

    #[test]
    fn mangled_route_files_never_panic(cut in 0usize..900, len in 0usize..24, repl in "[-0-9a-zA-Z .,=\"<>/:()\n]{0,8}") {
        let text = r#"<routes><vTypeDistribution id="m"><vType id="a" probability="2"/><vType id="b" length="9"/></vTypeDistribution>
            <routeDistribution id="rd"><route id="x" edges="WC CE" probability="0.5"/><route edges="NC CS"/></routeDistribution>
            <flow id="f" type="m" route="rd" begin="0" end="50" probability="0.3"/><flow id="g" begin="0" end="60" period="exp(0.2)" from="WC" to="CN"/>
            <trip id="t" depart="2" from="SC" via="CN" to="CN"/><vehicle id="v" depart="1" route="x"><stop lane="CE_0" duration="3"/></vehicle></routes>"#;
        let text = crate::testutil::splice(text, cut, len, &repl);
        if let Err(e) = parse_routes_with(&[(&text, "x.rou.xml")], &net(), 3) {
            prop_assert!(e.location.starts_with("line "), "{}", e);
        }
    }
}
