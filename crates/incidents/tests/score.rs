//! Ground-truth CSV parsing (errors name the line and the column; no input panics) and
//! the scoring rules; the report validation names the field for every bad input.

use incidents::score::{parse_csv, score, GroundTruth, MatchRule, CSV_HEADER};
use incidents::{Core, IncidentType, IncidentsConfig, Report, ReportInput, SourceKind};
use proptest::prelude::*;
use std::sync::Arc;
use twin::{Network, RoadId};

fn grid() -> Arc<Network> {
    let cfg = twin::gen::GenConfig { rows: 3, cols: 3, ring_road: false, t_junction_share: 0.0, ..twin::gen::GenConfig::demo() };
    Arc::new(twin::gen::generate(&cfg).unwrap().network)
}

#[test]
fn csv_rows_parse_and_errors_name_line_and_column() {
    let net = grid();
    let road = &net.road(RoadId(3)).name;
    let text = format!("{CSV_HEADER}\n1,crash,{road},0;1,50,,,100,400\n2,flood,,,,120.15,30.25,10,20\n");
    let rows = parse_csv(&text, &net, "gt.csv").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].lanes, vec![0, 1]);
    assert_eq!(rows[0].road, Some(RoadId(3)));
    assert_eq!((rows[0].start_s, rows[0].end_s), (100.0, 400.0));
    let bad = [
        (format!("{CSV_HEADER}\n1,crash,nowhere,0,50,,,100,400\n"), "gt.csv:2: road"),
        (format!("{CSV_HEADER}\n1,crash,{road},x,50,,,100,400\n"), "gt.csv:2: lanes"),
        (format!("{CSV_HEADER}\n1,crash,{road},0,50,,,100\n"), "gt.csv:2: row"),
        (format!("{CSV_HEADER}\n1,crash,{road},0,50,,,400,100\n"), "gt.csv:2: end_s"),
        (format!("{CSV_HEADER}\n1,crash,{road},0,5000,,,100,400\n"), "gt.csv:2: pos_m"),
        (format!("{CSV_HEADER}\n1,crash,,0,,,,100,400\n"), "gt.csv:2: pos_m"),
        (format!("{CSV_HEADER}\n1,crash,{road},0,50,,,NaN,400\n"), "gt.csv:2: start_s"),
        ("id,kind\n".to_string(), "gt.csv:1: header"),
    ];
    for (t, want) in bad {
        let e = parse_csv(&t, &net, "gt.csv").unwrap_err().to_string();
        assert!(e.starts_with(want), "{e} (wanted {want})");
    }
}

proptest! {
    #[test]
    fn csv_parser_never_panics(body in "[-a-z0-9_.,;\n ]{0,300}") {
        let net = grid();
        let _ = parse_csv(&format!("{CSV_HEADER}\n{body}"), &net, "p.csv");
        let _ = parse_csv(&body, &net, "p.csv");
    }

    #[test]
    fn report_validation_names_the_field(
        source in prop_oneof!["camera", "citizen", "drone", ""],
        kind in proptest::option::of(prop_oneof!["collision", "illegal_parking", "ufo"]),
        lon in prop_oneof![Just(120.15), -400.0..400.0f64, Just(f64::NAN)],
        lat in prop_oneof![Just(30.25), -100.0..100.0f64],
        conf in proptest::option::of(-1.0..2.0f64),
        text in proptest::option::of("[a-z ]{0,20}"),
    ) {
        let net = grid();
        let input = ReportInput { source, kind, lon, lat, confidence: conf, reference: None, text, device: None, time: None };
        match incidents::validate(&net, &input, 1000.0) {
            Ok(r) => {
                prop_assert!((0.0..=1.0).contains(&r.confidence));
                prop_assert!(r.pos.x.is_finite() && r.pos.y.is_finite());
            }
            Err(e) => {
                let m = e.to_string();
                let fields = ["source:", "type:", "location", "confidence:", "text:"];
                prop_assert!(fields.iter().any(|f| m.starts_with(f)), "{}", m);
            }
        }
    }
}

#[test]
fn scoring_counts_detections_delays_and_false_alarms() {
    let net = grid();
    let r = RoadId(3);
    let mid = incidents::detect::point_on_road(&net, r, 50.0);
    let truth = vec![
        GroundTruth {
            id: "1".into(),
            kind: "crash".into(),
            road: Some(r),
            lanes: vec![0],
            pos: mid,
            start_s: 100.0,
            end_s: 700.0,
        },
        GroundTruth {
            id: "2".into(),
            kind: "crash".into(),
            road: Some(r),
            lanes: vec![0],
            pos: mid,
            start_s: 2000.0,
            end_s: 2600.0,
        },
    ];
    let t0 = 1_000_000.0;
    let mut c = Core::new(net.clone(), IncidentsConfig::default(), incidents::dispatch::default_fleet(&net, 1));
    let rep = |t: f64, road: RoadId, kind: IncidentType| Report {
        time: t0 + t,
        kind,
        source: SourceKind::Occupancy,
        origin: "loop".into(),
        pos: incidents::detect::point_on_road(&net, road, 60.0),
        road: Some(road),
        confidence: 0.7,
        reference: None,
        text: String::new(),
    };
    c.report(rep(140.0, r, IncidentType::Blockage), t0 + 140.0);
    // Far from both, in between: a false alarm. Congestion never counts.
    let far = (0..net.roads.len())
        .map(|k| RoadId(k as u32))
        .find(|&q| incidents::fusion::dist(incidents::detect::point_on_road(&net, q, 60.0), mid) > 400.0)
        .unwrap();
    c.report(rep(1000.0, far, IncidentType::Blockage), t0 + 1000.0);
    c.report(rep(1100.0, far, IncidentType::Congestion), t0 + 1100.0);
    let events: Vec<_> = c.fusion.events.values().cloned().collect();
    let s = score(&net, &truth, &events, t0, 1.0, &MatchRule::default());
    assert_eq!(s.all.incidents, 2);
    assert_eq!(s.all.detected, 1);
    assert_eq!(s.all.detection_rate, 0.5);
    assert_eq!(s.all.mean_time_to_detect_s, Some(40.0));
    assert_eq!(s.all.mean_detection_to_dispatch_s, Some(0.0));
    // A tow truck was free: dispatched in the same call as the verification.
    assert_eq!((s.all.dispatched_free, s.all.mean_dispatch_latency_free_s), (1, Some(0.0)));
    assert_eq!((s.all.queued, s.all.never_dispatched, s.all.diverted), (0, 0, 0));
    assert_eq!(s.false_alarms, 1);
    let signalised = net.intersections.iter().filter(|i| i.is_signalised()).count() as f64;
    assert!((s.false_alarms_per_100_junction_hours - 100.0 / signalised).abs() < 1e-9);
    let md = incidents::score::markdown(&s);
    assert!(md.contains("| crash | 2 | 1 | 50.0 % | 40.0 |"), "{md}");
}
