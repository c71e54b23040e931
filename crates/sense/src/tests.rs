use std::sync::{Arc, Mutex};

use city::{LaneId, Point, RoadId};
use proptest::prelude::*;

use super::*;
use crate::testnet::corridor;

/// The brain's clock in tests whose records sit at a few hundred seconds.
pub(crate) const NOW: f64 = 1000.0;

pub(crate) fn reg() -> SensorRegistry {
    SensorRegistry::for_network(&corridor())
}

pub(crate) fn loop_rec(time: f64, count: f64, occ: f64) -> WireRecord {
    WireRecord {
        sensor: Some("loop:AB:0".into()),
        kind: Some("loop".into()),
        time: Some(time),
        start: Some(time - 30.0),
        end: Some(time),
        count: Some(count),
        occupancy: Some(occ),
        speed: Some(8.3),
        ..Default::default()
    }
}

#[test]
fn registry_covers_the_network() {
    let net = corridor();
    let r = SensorRegistry::for_network(&net);
    let kinds = |k| r.sensors().filter(|(_, s)| s.kind == k).count();
    assert_eq!(kinds(SensorKind::Loop), net.lanes.len());
    assert_eq!(kinds(SensorKind::Camera), 1);
    assert_eq!(kinds(SensorKind::Controller), 1);
    assert_eq!(r.len(), net.lanes.len() + 4);
    let cam = r.get(r.lookup("camera:B").unwrap()).unwrap();
    assert_eq!(cam.owner, "traffic-police");
    assert_eq!(r.get(r.lookup(PROBE_FEED_ID).unwrap()).unwrap().owner, "taxi-company");
    let l1 = r.get(r.lookup("loop:AB:1").unwrap()).unwrap();
    assert_eq!(l1.location.lane, Some(LaneId(1)));
    assert_eq!(l1.location.road, Some(RoadId(0)));
    // Approach lanes of B: AB has 2, CB has 1 -> channels 1..=3, each mapping back.
    let b = net.intersection_by_name("B").unwrap();
    let mut chans: Vec<u32> = (0..net.lanes.len()).filter_map(|l| r.detector_channel(LaneId(l as u32))).map(|c| c.1).collect();
    chans.sort();
    assert_eq!(chans, vec![1, 2, 3]);
    for c in 1..=3 {
        let lane = r.detector_lane(b, c).unwrap();
        assert_eq!(r.detector_channel(lane), Some((b, c)));
    }
    // Advance detectors follow on the same lanes: channels 4..=6.
    for c in 4..=6 {
        assert_eq!(r.detector_lane(b, c), r.detector_lane(b, c - 3));
    }
    assert_eq!(r.detector_lane(b, 7), None);
    assert_eq!(r.detector_lane(b, 0), None);
    // NEMA: AB arrives from the West (phase 2), CB from the East (phase 6).
    assert_eq!(r.phases(b), &[2, 6]);
    assert!(r.has_phase(b, 6) && !r.has_phase(b, 1));
}

#[test]
fn malformed_bodies_are_batch_errors() {
    for body in [&b"not json"[..], b"{}", b"[]", b"{\"observations\":3}", b"{\"observations\":[1,", b"\xff\xfe"] {
        assert!(parse_batch(body).is_err(), "{:?}", String::from_utf8_lossy(body));
    }
    let ok = parse_batch(br#"{"observations":[]}"#).unwrap();
    assert!(ok.is_empty());
}

#[test]
fn each_bad_record_gets_its_own_located_error() {
    let good = loop_rec(120.0, 7.0, 0.12);
    let bad_occ = loop_rec(150.0, 7.0, 1.7);
    let body = format!(
        r#"{{"observations":[{},{},"just a string",{}, {{"sensor":"loop:AB:0","kind":"loop","time":"soon"}}, {{"sensor":"nope","kind":"loop","time":1}}]}}"#,
        serde_json::to_string(&good).unwrap(),
        serde_json::to_string(&loop_rec(130.0, -3.0, 0.1)).unwrap(),
        serde_json::to_string(&bad_occ).unwrap(),
    );
    let recs = parse_batch(body.as_bytes()).unwrap();
    assert_eq!(recs.len(), 6);
    let mut p = Pipeline::new(Arc::new(reg()), PipelineConfig::default());
    let sink = Arc::new(Mutex::new(CollectSink::default()));
    p.add_sink(Box::new(sink.clone()));
    let rep = p.ingest(&recs, NOW);
    assert_eq!((rep.accepted, rep.rejected), (1, 5));
    let err = |i: usize| rep.results[i].1.clone().unwrap_err();
    assert!(rep.results[0].1.is_ok());
    assert_eq!(err(1), "observations[1].count: must be a non-negative integer, got -3");
    assert!(err(2).starts_with("observations[2]: "), "{}", err(2));
    assert_eq!(err(3), "observations[3].occupancy: must be within 0..1, got 1.7");
    assert!(err(4).starts_with("observations[4].time: invalid RFC 3339 timestamp \"soon\""), "{}", err(4));
    assert_eq!(err(5), "observations[5].sensor: unknown sensor `nope`");
    assert_eq!(sink.lock().unwrap().0.len(), 1);
    let rej: Vec<_> = p.rejected().collect();
    assert_eq!(rej.len(), 5);
    assert_eq!(rep.rejections.iter().collect::<Vec<_>>(), rej);
    assert_eq!(rej[0].index, 1);
    assert!(rej[2].raw.contains("1.7"), "{}", rej[2].raw);
    assert_eq!(rej[1].raw, "\"just a string\"");
}

#[test]
fn validation_rules() {
    let r = reg();
    let check = |w: WireRecord| validate(&r, &w.into()).map_err(|e| e.to_string());
    assert!(check(loop_rec(120.0, 7.0, 0.5)).is_ok());
    let mut w = loop_rec(120.0, 7.0, 0.5);
    w.kind = Some("queue".into());
    assert_eq!(check(w).unwrap_err(), "kind: sensor `loop:AB:0` is a loop and cannot report `queue`");
    let mut w = loop_rec(120.0, 7.0, 0.5);
    w.speed = Some(f64::NAN);
    assert_eq!(check(w).unwrap_err(), "speed: must be a finite number, got NaN");
    let mut w = loop_rec(120.0, 7.0, 0.5);
    w.end = Some(80.0);
    assert!(check(w).unwrap_err().starts_with("end: must be after start"));
    let mut w = loop_rec(120.0, 2.5, 0.5);
    w.speed = None;
    assert!(check(w).unwrap_err().starts_with("count:"));
    let plate = |token: &str| WireRecord {
        sensor: Some("camera:B".into()),
        kind: Some("plate".into()),
        time: Some(10.0),
        road: Some("AB".into()),
        token: Some(token.into()),
        ..Default::default()
    };
    assert!(check(plate("0123456789abcdef01234567")).is_ok());
    for raw in ["ZJ-A12345", "0123456789ABCDEF01234567", "0123456789abcdef0123456", "浙A12345"] {
        assert!(check(plate(raw)).unwrap_err().starts_with("token: must be a pseudonymised token"), "{raw}");
    }
    let mut p = plate("0123456789abcdef01234567");
    p.road = Some("BC".into());
    assert_eq!(check(p).unwrap_err(), "road: road `BC` does not approach this camera's intersection");
    let sig = |code: f64, param: f64| WireRecord {
        sensor: Some("controller:B".into()),
        kind: Some("signal".into()),
        time: Some(10.0),
        code: Some(code),
        param: Some(param),
        ..Default::default()
    };
    assert!(check(sig(1.0, 6.0)).is_ok());
    assert!(check(sig(5.0, 2.0)).is_ok());
    assert!(check(sig(82.0, 3.0)).is_ok());
    assert!(check(sig(82.0, 6.0)).is_ok());
    assert_eq!(check(sig(1.0, 4.0)).unwrap_err(), "param: no phase 4 at this controller");
    assert_eq!(check(sig(81.0, 0.0)).unwrap_err(), "param: no detector channel 0 at this controller");
    assert_eq!(check(sig(81.0, 7.0)).unwrap_err(), "param: no detector channel 7 at this controller");
    assert!(check(sig(3.0, 1.0)).unwrap_err().starts_with("code: must be one of"));
    assert!(check(sig(43.0, 2.0)).is_ok());
    assert_eq!(check(sig(44.0, 3.0)).unwrap_err(), "param: no phase 3 at this controller");
    assert!(check(sig(131.0, 254.0)).is_ok());
    assert!(check(sig(132.0, 120.0)).is_ok());
    assert_eq!(check(sig(131.0, 256.0)).unwrap_err(), "param: must be a coordination pattern 0..=255, got 256");
    assert_eq!(check(sig(132.0, 1000.0)).unwrap_err(), "param: must be a cycle length 0..=999 s, got 1000");
    let probe = WireRecord {
        sensor: Some(PROBE_FEED_ID.into()),
        kind: Some("probe".into()),
        time: Some(10.0),
        token: Some("0123456789abcdef01234567".into()),
        lon: Some(120.16),
        lat: Some(30.25),
        speed: Some(5.0),
        heading: Some(0.0),
        ..Default::default()
    };
    let o = validate(&r, &probe.clone().into()).unwrap();
    let ObsData::Probe(f) = o.data else { panic!() };
    // 0.01 degrees east of the corridor's default origin (West Lake), inside its 2 km margin.
    assert!((f.pos.x - 961.5).abs() < 1.0 && f.pos.y.abs() < 0.1, "{:?}", f.pos);
    let mut far = probe.clone();
    far.lon = Some(120.2); // 4.8 km east of a 600 m corridor
    let e = check(far).unwrap_err();
    assert!(e.starts_with("lon: position (120.2, 30.25) is outside the network's area (lon 120.12"), "{e}");
    let mut r2 = r.clone();
    r2.set_geo_margin(5000.0);
    assert!(validate(&r2, &WireRecord { lon: Some(120.2), ..probe.clone() }.into()).is_ok());
    let mut nanchang = probe.clone();
    (nanchang.lon, nanchang.lat) = (Some(115.9), Some(28.7));
    assert!(check(nanchang).unwrap_err().contains("outside the network's area"));
    let mut both = probe;
    both.x = Some(1.0);
    assert_eq!(check(both).unwrap_err(), "x: give either x/y or lon/lat, not both");
    let report = WireRecord {
        sensor: Some(CITIZEN_FEED_ID.into()),
        kind: Some("report".into()),
        time: Some(10.0),
        category: Some("accident".into()),
        road: Some("BC".into()),
        text: Some("two cars collided".into()),
        ..Default::default()
    };
    assert!(check(report.clone()).is_ok());
    let mut nowhere = report;
    nowhere.road = None;
    assert_eq!(check(nowhere).unwrap_err(), "x: a location is required: x/y, lon/lat or road");
}

#[test]
fn records_out_of_order_beyond_tolerance_are_rejected() {
    let mut p =
        Pipeline::new(Arc::new(reg()), PipelineConfig { order_tolerance_s: 30.0, rejected_capacity: 2, ..Default::default() });
    let recs: Vec<RawRecord> = [300.0, 280.0, 260.0, 310.0, 100.0, 50.0].iter().map(|&t| loop_rec(t, 1.0, 0.1).into()).collect();
    let rep = p.ingest(&recs, 400.0);
    let ok: Vec<bool> = rep.results.iter().map(|r| r.1.is_ok()).collect();
    assert_eq!(ok, vec![true, true, false, true, false, false]);
    assert!(rep.results[2].1.clone().unwrap_err().starts_with("observations[2].time: out of order"));
    // The ring keeps only the last 2 rejections.
    let idx: Vec<usize> = p.rejected().map(|r| r.index).collect();
    assert_eq!(idx, vec![4, 5]);
    assert_eq!((p.total_accepted(), p.total_rejected()), (3, 3));
    assert_eq!(p.last_time(p.registry().lookup("loop:AB:0").unwrap()), Some(310.0));
}

fn arb_obs(r: &SensorRegistry) -> impl Strategy<Value = Observation> {
    let token = "[0-9a-f]{24}";
    let lp = r.lookup("loop:AB:1").unwrap();
    let cam = r.lookup("camera:B").unwrap();
    let ctl = r.lookup("controller:B").unwrap();
    let probe = r.probe_feed().unwrap();
    let cit = r.citizen_feed().unwrap();
    let b = city::IntersectionId(1);
    prop_oneof![
        (0.0..1e6f64, 1.0..600.0f64, 0u32..500, 0.0..=1.0f64, proptest::option::of(0.0..50.0f64)).prop_map(
            move |(t, d, count, occupancy, speed)| {
                Observation {
                    sensor: lp,
                    time: t + d,
                    data: ObsData::Loop(LoopAggregate {
                        lane: LaneId(1),
                        road: RoadId(0),
                        start: t,
                        end: t + d,
                        count,
                        occupancy,
                        speed,
                    }),
                }
            }
        ),
        (0.0..1e6f64, 0.0..500.0f64, 0u32..100).prop_map(move |(t, queue_m, waiting)| Observation {
            sensor: cam,
            time: t,
            data: ObsData::Queue(QueueReading { intersection: b, road: RoadId(2), queue_m, waiting }),
        }),
        (0.0..1e6f64, token).prop_map(move |(t, token)| Observation {
            sensor: cam,
            time: t,
            data: ObsData::Plate(PlateRead { intersection: b, road: RoadId(0), token }),
        }),
        (0.0..1e6f64, token, -1e4..1e4f64, -1e4..1e4f64, 0.0..40.0f64, -3.2..3.2f64).prop_map(
            move |(t, token, x, y, speed, heading)| {
                Observation {
                    sensor: probe,
                    time: t,
                    data: ObsData::Probe(ProbeFix { token, pos: Point::new(x, y), speed, heading }),
                }
            }
        ),
        (0.0..1e6f64, prop::sample::select(EventCode::ALL.to_vec()), 1u32..=6).prop_map(move |(t, code, k)| {
            // Detector channels 1..=6; B's NEMA phases are 2 and 6.
            let param = match code.param_kind() {
                ParamKind::Detector | ParamKind::Preempt => k,
                ParamKind::Pattern => [1, 254][k as usize % 2],
                ParamKind::CycleSeconds => 30 * k,
                ParamKind::Phase => [2, 6][k as usize % 2],
            };
            Observation { sensor: ctl, time: t, data: ObsData::Signal(SignalEvent { intersection: b, code, param }) }
        }),
        (
            0.0..1e6f64,
            prop::sample::select(REPORT_CATEGORIES.to_vec()),
            "\\PC{0,40}",
            proptest::option::of((-1e3..1e3f64, -1e3..1e3f64))
        )
            .prop_map(move |(t, cat, text, p)| Observation {
                sensor: cit,
                time: t,
                data: ObsData::Report(CitizenReport {
                    category: cat.into(),
                    pos: p.map(|(x, y)| Point::new(x, y)),
                    road: if p.is_none() { Some(RoadId(3)) } else { None },
                    text,
                }),
            }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let r = reg();
        if let Ok(recs) = parse_batch(&body) {
            for rec in &recs {
                let _ = validate(&r, rec);
            }
        }
    }

    #[test]
    fn arbitrary_records_never_panic(fields in proptest::collection::vec(("[a-z_]{1,9}", prop_oneof![
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "\\PC{0,30}".prop_map(|s| serde_json::json!(s)),
        Just(serde_json::json!("loop:AB:0")),
        Just(serde_json::json!("loop")),
        Just(serde_json::Value::Null),
    ]), 0..10)) {
        let obj: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        let body = serde_json::json!({ "observations": [obj] }).to_string();
        let recs = parse_batch(body.as_bytes()).unwrap();
        let mut p = Pipeline::new(Arc::new(reg()), PipelineConfig::default());
        let rep = p.ingest(&recs, NOW);
        prop_assert_eq!(rep.accepted + rep.rejected, 1);
    }

    #[test]
    fn valid_records_round_trip(obs in proptest::collection::vec(arb_obs(&reg()), 1..20)) {
        let r = reg();
        let wire: Vec<WireRecord> = obs.iter().map(|o| to_wire(&r, o)).collect();
        let recs = parse_batch(batch_body(&wire).as_bytes()).unwrap();
        prop_assert_eq!(recs.len(), obs.len());
        for (o, rec) in obs.iter().zip(&recs) {
            prop_assert_eq!(&validate(&r, rec).map_err(|e| e.to_string()), &Ok(o.clone()));
        }
    }
}

struct FailingSink;

impl ObservationSink for FailingSink {
    fn accept(&mut self, _: &[Observation], _: &SensorRegistry) -> Result<(), SinkError> {
        Err(SinkError { sink: "failing".into(), message: "disk full".into() })
    }
}

#[test]
fn threaded_sink_delivers_everything_in_order_and_reports_errors() {
    let registry = Arc::new(reg());
    let mut p = Pipeline::new(registry.clone(), PipelineConfig::default());
    let inner = Arc::new(Mutex::new(CollectSink::default()));
    p.add_sink(Box::new(ThreadedSink::spawn(inner.clone(), registry.clone(), 2)));
    let mut failing = ThreadedSink::spawn(FailingSink, registry.clone(), 1);
    let mut sent = Vec::new();
    for k in 0..50 {
        let recs: Vec<RawRecord> = (0..10).map(|i| loop_rec(100.0 + (k * 10 + i) as f64, 1.0, 0.1).into()).collect();
        sent.extend(recs.iter().map(|r| validate(&registry, r).unwrap()));
        let rep = p.ingest(&recs, NOW);
        assert_eq!(rep.accepted, 10);
        let _ = failing.accept(&sent[..1], &registry);
    }
    drop(p); // drains the queue
    assert_eq!(inner.lock().unwrap().0, sent);
    let errs = failing.flush();
    assert!(!errs.is_empty() && errs.iter().all(|e| e.to_string() == "sink failing: disk full"), "{errs:?}");
}

#[test]
fn record_ids_are_optional_bounded_and_key_the_record() {
    let r = reg();
    let with = |id: &str| WireRecord { id: Some(id.into()), ..loop_rec(500.0, 3.0, 0.1) };
    assert!(validate(&r, &with("gw7-000123").into()).is_ok());
    assert!(validate(&r, &with(&"x".repeat(validate::MAX_RECORD_ID)).into()).is_ok());
    for bad in ["", "has space", "tab\t", "é", &"x".repeat(validate::MAX_RECORD_ID + 1)] {
        let e = validate(&r, &with(bad).into()).unwrap_err();
        assert_eq!(e.field, "id", "{bad:?}: {e}");
    }
    let raw: RawRecord = with("r1").into();
    assert_eq!(raw.record_key(), Some(("loop:AB:0", 500.0, "r1")));
    assert_eq!(RawRecord::from(loop_rec(500.0, 3.0, 0.1)).record_key(), None);
    let parsed = parse_batch(br#"{"observations":[{"id":"a-1","sensor":"loop:AB:0","time":7}]}"#).unwrap();
    assert_eq!(parsed[0].record_key(), Some(("loop:AB:0", 7.0, "a-1")));
    assert!(batch_body(&[with("z")]).contains(r#""id":"z""#), "serialised with the record");
}
