use super::*;
use city::testutil::{corridor, splice};

const GOOD: &str = r#"{
  "incidents": [
    {"id": 1, "type": "crash", "road": "AB", "lanes": [0], "pos_m": 120, "length_m": 12, "start_s": 60, "end_s": 600},
    {"id": 2, "type": "stalled", "road": "BC", "pos_m": 10, "start_s": 0, "end_s": 30},
    {"id": 3, "type": "illegal_parking", "road": "BC", "pos_m": 200.5, "start_s": 5, "end_s": 50},
    {"id": 4, "type": "road_works", "road": "AB", "lanes": [0], "pos_m": 0, "start_s": 0, "end_s": 7200},
    {"id": 5, "type": "signal_failure", "intersection": "B", "fault": "flashing", "start_s": 10, "end_s": 20},
    {"id": 6, "type": "flood", "road": "BC", "start_s": 100, "end_s": 200}
  ],
  "decoys": [{"id": 7, "road": "AB", "start_s": 0, "end_s": 600, "vehicles_per_hour": 600}]
}"#;

#[test]
fn parses_every_kind() {
    let net = corridor(vec![]).network;
    let p = IncidentPlan::from_json(GOOD, &net).unwrap();
    assert_eq!(p.incidents.len(), 6);
    assert_eq!(p.decoys.len(), 1);
    let kinds: Vec<&str> = p.incidents.iter().map(|i| i.kind.name()).collect();
    assert_eq!(kinds, ["crash", "stalled", "illegal_parking", "road_works", "signal_failure", "flood"]);
    assert_eq!(p.incidents[0].location, Location::Lanes { road: RoadId(0), lanes: vec![0], pos_m: 120.0, length_m: 12.0 });
    // Defaults: the kerb lane and the kind's length.
    assert_eq!(p.incidents[1].location, Location::Lanes { road: RoadId(1), lanes: vec![0], pos_m: 10.0, length_m: 6.0 });
    assert_eq!(p.incidents[4].location, Location::Junction { intersection: IntersectionId(1), fault: SignalFault::Flashing });
    assert_eq!(p.incidents[5].location, Location::Road { road: RoadId(1) });
}

#[test]
fn errors_name_the_field() {
    let net = corridor(vec![]).network;
    let cases = [
        (GOOD.replace(r#""pos_m": 120"#, r#""pos_m": 1200"#), "incidents[0].pos_m"),
        (GOOD.replace(r#""type": "crash""#, r#""type": "meteor""#), "incidents[0].type"),
        (
            GOOD.replace(r#""road": "AB", "lanes": [0], "pos_m": 120"#, r#""road": "XY", "lanes": [0], "pos_m": 120"#),
            "incidents[0].road",
        ),
        (GOOD.replace(r#""lanes": [0], "pos_m": 120"#, r#""lanes": [3], "pos_m": 120"#), "incidents[0].lanes[0]"),
        (GOOD.replace(r#""start_s": 60, "end_s": 600"#, r#""start_s": 60, "end_s": 6"#), "incidents[0].end_s"),
        (GOOD.replace(r#""id": 2,"#, r#""id": 1,"#), "incidents[1].id"),
        (GOOD.replace(r#""fault": "flashing""#, r#""fault": "blue""#), "incidents[4].fault"),
        (GOOD.replace(r#""intersection": "B""#, r#""intersection": "A""#), "incidents[4].intersection"),
        (
            GOOD.replace(r#""type": "flood", "road": "BC""#, r#""type": "flood", "road": "BC", "lanes": [0]"#),
            "incidents[5].lanes",
        ),
        (GOOD.replace(r#""vehicles_per_hour": 600"#, r#""vehicles_per_hour": -1"#), "decoys[0].vehicles_per_hour"),
        (GOOD.replace(r#""pos_m": 10, "start_s": 0"#, r#""start_s": 0"#), "incidents[1].pos_m"),
    ];
    for (text, path) in cases {
        match IncidentPlan::from_json(&text, &net) {
            Err(IncidentError::Field { path: p, .. }) => assert_eq!(p, path),
            other => panic!("expected an error at {path}, got {other:?}"),
        }
    }
    assert!(matches!(IncidentPlan::from_json("{", &net), Err(IncidentError::Json(_))));
}

proptest::proptest! {
    /// Any corruption of a valid file gives a plan or an error, never a panic, and an
    /// accepted plan only holds what the network has.
    #[test]
    fn corrupted_files_never_panic(cut in 0usize..2000, len in 0usize..40, repl in "[-0-9a-z\\[\\]{}\",: .]{0,12}") {
        let net = corridor(vec![]).network;
        let text = splice(GOOD, cut, len, &repl);
        if let Ok(p) = IncidentPlan::from_json(&text, &net) {
            for i in &p.incidents {
                proptest::prop_assert!(i.start_s >= 0.0 && i.end_s > i.start_s);
                if let Location::Lanes { road, lanes, pos_m, .. } = &i.location {
                    proptest::prop_assert!(lanes.iter().all(|&l| l < net.road(*road).lane_count));
                    proptest::prop_assert!(*pos_m >= 0.0 && *pos_m < net.road_length(*road));
                }
            }
        }
    }

    /// Numbers in a field are accepted exactly when they are in its range.
    #[test]
    fn pos_m_range_is_enforced(pos in -1000.0f64..1000.0) {
        let net = corridor(vec![]).network;
        let text = GOOD.replace(r#""pos_m": 120"#, &format!(r#""pos_m": {pos}"#));
        let ok = IncidentPlan::from_json(&text, &net).is_ok();
        proptest::prop_assert_eq!(ok, (0.0..net.road_length(RoadId(0))).contains(&pos));
    }
}

#[test]
fn random_plans_are_seeded_and_valid() {
    let s = crate::gen::generate(&crate::gen::GenConfig::demo()).unwrap().scenario();
    let net = &s.network;
    let cfg = RandomIncidents { seed: 7, count: 60, decoys: 10, kinds: IncidentKind::ALL.to_vec(), ..Default::default() };
    let a = IncidentPlan::random(net, &cfg);
    assert_eq!(a, IncidentPlan::random(net, &cfg), "same seed, same plan");
    assert_ne!(a, IncidentPlan::random(net, &RandomIncidents { seed: 8, ..cfg.clone() }), "another seed, another plan");
    assert_eq!(a.incidents.len(), 60);
    assert_eq!(a.decoys.len(), 10);
    a.check_ids().unwrap();
    for i in &a.incidents {
        assert!(i.start_s >= 0.0 && i.start_s < 3600.0 && i.end_s > i.start_s, "{i:?}");
        match &i.location {
            Location::Lanes { road, lanes, pos_m, .. } => {
                let n = net.road(*road).lane_count;
                assert!(!lanes.is_empty() && lanes.iter().all(|&l| l < n), "{i:?}");
                assert!(n == 1 || lanes.len() < n as usize, "a crash never closes every lane: {i:?}");
                if i.kind == IncidentKind::IllegalParking {
                    assert_eq!(lanes, &[n - 1]);
                }
                assert!(*pos_m >= 0.2 * net.road_length(*road) - 1.0 && *pos_m < net.road_length(*road));
            }
            Location::Junction { intersection, .. } => assert!(net.intersection(*intersection).is_signalised()),
            Location::Road { .. } => assert_eq!(i.kind, IncidentKind::Flood),
        }
    }
    // Every kind is drawn.
    for k in IncidentKind::ALL {
        assert!(a.incidents.iter().any(|i| i.kind == k), "{k:?} never drawn");
    }
}

#[test]
fn ground_truth_csv_has_the_agreed_columns() {
    let net = corridor(vec![]).network;
    let p = IncidentPlan::from_json(GOOD, &net).unwrap();
    let csv = ground_truth_csv(&net, &p);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,type,road,lanes,pos_m,lon,lat,start_s,end_s");
    assert_eq!(lines.len(), 1 + p.incidents.len(), "decoys are not incidents");
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(&first[..5], ["1", "crash", "AB", "0", "120"]);
    assert_eq!(&first[7..], ["60", "600"]);
    let (lon, lat): (f64, f64) = (first[5].parse().unwrap(), first[6].parse().unwrap());
    let (elon, elat) = net.georef.to_lonlat(Point::new(120.0, net.lanes[0].points[0].y));
    assert!((lon - elon).abs() < 1e-6 && (lat - elat).abs() < 1e-6, "{lon},{lat} vs {elon},{elat}");
    // A signal failure names the junction's incoming road at its stop line; a flood every lane.
    assert!(lines[5].starts_with(&format!("5,signal_failure,AB,,{},", net.road_length(RoadId(0)))), "{}", lines[5]);
    assert!(lines[6].starts_with("6,flood,BC,0,"), "{}", lines[6]);
}

use city::geom::Point;
