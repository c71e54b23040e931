use proptest::prelude::*;

use super::*;

fn corridor_spec() -> NetworkSpec {
    // The shared corridor with two lanes, a second lane link with explicit points and an
    // uneven plan, so that every field of the format is exercised.
    let mut spec =
        crate::testutil::corridor_spec(vec![LaneSpec { width: 4.0, max_speed: 16.67 }, LaneSpec { width: 3.5, max_speed: 13.9 }]);
    let b = &mut spec.intersections[1];
    b.movements[0].lane_links.push(LaneLinkSpec {
        from_lane: 1,
        to_lane: 1,
        points: vec![Point::new(290.0, -6.0), Point::new(310.0, -6.0)],
    });
    b.phases[1].duration = 27.5;
    spec
}

const FLOW: &str = r#"[{"vehicle":{"length":5.0,"width":2.0,"maxPosAcc":2.0,"maxNegAcc":4.5,"usualPosAcc":2.0,
  "usualNegAcc":4.5,"minGap":2.5,"maxSpeed":11.111,"headwayTime":2},"route":["AB","BC"],"interval":5.0,
  "startTime":0,"endTime":100}]"#;

fn err(roadnet: &str, flow: &str) -> ImportError {
    load_scenario(roadnet, flow).expect_err("must be rejected")
}

#[test]
fn roadnet_round_trips_through_json() {
    let spec = corridor_spec();
    let text = write_roadnet(&spec);
    let back = parse_roadnet_spec(&text, "r.json").unwrap();
    assert_eq!(format!("{spec:?}"), format!("{back:?}"));
    let (_, net) = parse_roadnet(&text, "r.json").unwrap();
    assert_eq!(net.lane_links.len(), 2);
    assert_eq!(net.lane_links[1].points.len(), 2, "explicit lane-link points are kept");
    assert!(net.lane_links[0].points.len() > 2, "missing points get a Bézier curve");
}

#[test]
fn flow_repeat_rule_and_defaults() {
    let s = load_scenario(&write_roadnet(&corridor_spec()), FLOW).unwrap();
    assert_eq!(s.demand.vehicles_until(3600.0), 21, "0..=100 every 5 s is 21 vehicles");
    assert_eq!(s.demand.flows[0].params.max_speed, 11.111);
    let open = r#"[{"route":["AB","BC"],"interval":10,"startTime":5,"endTime":-1}]"#;
    let s = load_scenario(&write_roadnet(&corridor_spec()), open).unwrap();
    assert_eq!(s.demand.flows[0].end, None);
    assert_eq!(s.demand.flows[0].params, VehicleParams::default(), "missing vehicle fields take CityFlow defaults");
    assert_eq!(s.demand.vehicles_until(100.0), 10);
}

#[test]
fn flow_round_trips() {
    let s = load_scenario(&write_roadnet(&corridor_spec()), FLOW).unwrap();
    let text = write_flow(&s.demand, &s.network);
    let back = parse_flow(&text, &s.network, "f.json").unwrap();
    assert_eq!(format!("{:?}", s.demand), format!("{back:?}"));
}

#[test]
fn flow_times_are_written_as_integers_cityflow_can_read() {
    // CityFlow ignores non-integer JSON numbers for these two fields (it would read
    // `"startTime":23.0` as 0 and `"endTime":600.0` as "never").
    let open = r#"[{"route":["AB","BC"],"interval":41,"startTime":23.0,"endTime":600.0},
                   {"route":["AB","BC"],"interval":10,"startTime":4.5,"endTime":99.5},
                   {"route":["AB","BC"],"interval":10,"startTime":0,"endTime":-1}]"#;
    let s = load_scenario(&write_roadnet(&corridor_spec()), open).unwrap();
    let text = write_flow(&s.demand, &s.network);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let times: Vec<(i64, i64)> =
        v.as_array().unwrap().iter().map(|f| (f["startTime"].as_i64().unwrap(), f["endTime"].as_i64().unwrap())).collect();
    assert_eq!(times, vec![(23, 600), (5, 99), (0, -1)]);
    let back = parse_flow(&text, &s.network, "f.json").unwrap();
    for horizon in [3.0, 5.0, 50.0, 99.0, 100.0, 700.0] {
        assert_eq!(back.vehicles_until(horizon), s.demand.vehicles_until(horizon), "horizon {horizon}");
    }
}

#[test]
fn errors_name_file_and_json_path() {
    let rn = write_roadnet(&corridor_spec());
    let e = err(&rn, r#"[{"route":["AB","XX"],"interval":1}]"#);
    assert_eq!((e.file.as_str(), e.location.as_str()), ("flow.json", "[0].route[1]"));
    assert!(e.message.contains("XX"), "{e}");

    let e = err(&rn, r#"[{"route":["BC","AB"],"interval":1}]"#);
    assert_eq!(e.location, "[0].route[1]", "{e}");
    assert!(e.message.contains("does not connect"), "{e}");

    let e = err(&rn, r#"[{"route":["AB"],"interval":-1}]"#);
    assert_eq!(e.location, "[0].interval", "{e}");

    let e = err(&rn, r#"[{"route":["AB"],"vehicle":{"length":-5}}]"#);
    assert_eq!(e.location, "[0].vehicle.length", "{e}");

    let e = err(&rn, r#"[{"route":["AB"],"interval":"often"}]"#);
    assert!(e.location.starts_with("[0].interval (line 1"), "{e}");

    let bad_phase = rn.replacen(r#""availableRoadLinks":[0]"#, r#""availableRoadLinks":[0,7]"#, 1);
    let e = err(&bad_phase, FLOW);
    assert_eq!(e.file, "roadnet.json");
    assert_eq!(e.location, "intersections[1].trafficLight.lightphases[0].availableRoadLinks[1]", "{e}");

    let bad_road = rn.replacen(r#""endRoad":"BC""#, r#""endRoad":"nowhere""#, 1);
    assert_eq!(err(&bad_road, FLOW).location, "intersections[1].roadLinks[0].endRoad");

    let bad_type = rn.replacen("go_straight", "go_sideways", 1);
    assert_eq!(err(&bad_type, FLOW).location, "intersections[1].roadLinks[0].type");

    let bad_speed = rn.replacen(r#""maxSpeed":16.67"#, r#""maxSpeed":-3"#, 1);
    assert_eq!(err(&bad_speed, FLOW).location, "roads[0].lanes[0].maxSpeed");

    let bad_lane = rn.replacen(r#""startLaneIndex":1"#, r#""startLaneIndex":5"#, 1);
    assert_eq!(err(&bad_lane, FLOW).location, "intersections[1].roadLinks[0].laneLinks[1].startLaneIndex");

    let e = err("{\"intersections\": [", FLOW);
    assert!(e.location.contains("line 1 column 19"), "{e}");
    assert!(e.to_string().starts_with("roadnet.json: "), "{e}");
}

fn arb_spec() -> impl Strategy<Value = NetworkSpec> {
    (2usize..5, 1usize..4, 50.0f64..500.0, 5.0f64..30.0, prop::collection::vec(0.0f64..1.0, 4)).prop_map(
        |(n, lanes, spacing, green, jitter)| {
            let mut spec = NetworkSpec::default();
            for i in 0..n {
                spec.intersections.push(IntersectionSpec {
                    name: format!("i{i}"),
                    point: Point::new(i as f64 * spacing, jitter[i % 4] * 10.0),
                    width: if i == 0 || i == n - 1 { 0.0 } else { 8.0 },
                    is_virtual: i == 0 || i == n - 1,
                    movements: vec![],
                    phases: vec![],
                });
            }
            for i in 0..n - 1 {
                let (a, b) = (spec.intersections[i].point, spec.intersections[i + 1].point);
                for (from, to, pa, pb) in [(i, i + 1, a, b), (i + 1, i, b, a)] {
                    spec.roads.push(RoadSpec {
                        name: format!("r{from}_{to}"),
                        from,
                        to,
                        points: vec![pa, pb],
                        lanes: vec![LaneSpec { width: 3.5, max_speed: 13.0 }; lanes],
                    });
                }
            }
            for i in 1..n - 1 {
                let east_in = 2 * (i - 1);
                let east_out = 2 * i;
                let west_in = 2 * i + 1;
                let west_out = 2 * (i - 1) + 1;
                let links = |_: ()| (0..lanes).map(|l| LaneLinkSpec { from_lane: l, to_lane: l, points: vec![] }).collect();
                let is = &mut spec.intersections[i];
                is.movements.push(MovementSpec {
                    turn: Turn::Straight,
                    from_road: east_in,
                    to_road: east_out,
                    lane_links: links(()),
                });
                is.movements.push(MovementSpec {
                    turn: Turn::Straight,
                    from_road: west_in,
                    to_road: west_out,
                    lane_links: links(()),
                });
                is.phases =
                    vec![PhaseSpec { duration: green, movements: vec![0] }, PhaseSpec { duration: green, movements: vec![1] }];
            }
            spec
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn written_roadnets_read_back_identically(spec in arb_spec()) {
        let text = write_roadnet(&spec);
        let back = parse_roadnet_spec(&text, "r").unwrap();
        prop_assert_eq!(format!("{spec:?}"), format!("{back:?}"));
        prop_assert!(parse_roadnet(&text, "r").is_ok());
    }

    /// Corrupting any byte range of valid files gives an error or a scenario, never a panic.
    #[test]
    fn corrupted_files_never_panic(spec in arb_spec(), cut in 0usize..4000, len in 0usize..40, byte in any::<u8>(), which in 0u8..2) {
        let rn = write_roadnet(&spec);
        let flow = r#"[{"route":["r0_1","r1_2"],"interval":3,"startTime":0,"endTime":50}]"#.to_string();
        let mangle = |s: &str| {
            let mut b = s.as_bytes().to_vec();
            let at = cut % (b.len() + 1);
            let end = (at + len).min(b.len());
            b.splice(at..end, std::iter::once(byte));
            String::from_utf8_lossy(&b).into_owned()
        };
        let (r, f) = if which == 0 { (mangle(&rn), flow) } else { (rn, mangle(&flow)) };
        if let Err(e) = load_scenario(&r, &f) {
            prop_assert!(!e.location.is_empty());
            prop_assert!(!e.message.is_empty());
        }
    }
}
