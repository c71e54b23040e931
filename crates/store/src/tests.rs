use std::path::PathBuf;

use city::{IntersectionId, LaneId, MovementId, Point, RoadId};
use proptest::prelude::*;
use sense::testnet::corridor;
use sense::*;
use state::{AreaState, CityState, RoadClass, RoadState, TpiGrade};

use super::codec::{decode, encode, Row};
use super::*;

/// A fresh file path in the temp dir; removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> TempDb {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        TempDb(std::env::temp_dir().join(format!("citybrain-store-{name}-{}-{nanos}.db", std::process::id())))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

fn reg() -> SensorRegistry {
    SensorRegistry::for_network(&corridor())
}

fn loop_obs(r: &SensorRegistry, lane: u32, time: f64, count: u32) -> Observation {
    let road = r.lane_road(LaneId(lane)).unwrap();
    Observation {
        sensor: r.loop_sensor(LaneId(lane)).unwrap(),
        time,
        data: ObsData::Loop(LoopAggregate {
            lane: LaneId(lane),
            road,
            start: time - 30.0,
            end: time,
            count,
            occupancy: 0.25,
            speed: Some(9.5),
        }),
    }
}

fn all_kinds(r: &SensorRegistry, t: f64) -> Vec<Observation> {
    let b = IntersectionId(1);
    let (cam, ctl) = (r.camera(b).unwrap(), r.controller(b).unwrap());
    let token = "0123456789abcdef01234567".to_string();
    let o = |sensor, time, data| Observation { sensor, time, data };
    vec![
        loop_obs(r, 1, t, 7),
        o(
            cam,
            t,
            ObsData::Movement(MovementCount {
                intersection: b,
                movement: MovementId(1),
                from_road: RoadId(2),
                to_road: RoadId(3),
                start: t - 30.0,
                end: t,
                count: 4,
            }),
        ),
        o(cam, t + 1.0, ObsData::Queue(QueueReading { intersection: b, road: RoadId(0), queue_m: 42.5, waiting: 6 })),
        o(cam, t + 2.0, ObsData::Plate(PlateRead { intersection: b, road: RoadId(0), token: token.clone() })),
        o(
            r.probe_feed().unwrap(),
            t + 3.0,
            ObsData::Probe(ProbeFix { token, pos: Point::new(12.25, -3.5), speed: 7.125, heading: -1.5 }),
        ),
        o(ctl, t + 4.0, ObsData::Signal(SignalEvent { intersection: b, code: EventCode::PhaseBeginYellow, param: 2 })),
        o(
            r.citizen_feed().unwrap(),
            t + 5.0,
            ObsData::Report(CitizenReport {
                category: "hazard".into(),
                pos: None,
                road: Some(RoadId(3)),
                text: "oil\non road".into(),
            }),
        ),
        o(
            r.citizen_feed().unwrap(),
            t + 6.0,
            ObsData::Report(CitizenReport {
                category: "other".into(),
                pos: Some(Point::new(1.0, 2.0)),
                road: None,
                text: String::new(),
            }),
        ),
    ]
}

fn area(name: &str, tpi: f64, delay: Option<f64>) -> AreaState {
    AreaState {
        name: name.into(),
        roads_covered: 1,
        roads_total: 2,
        delay_index: delay,
        mean_speed: delay.map(|d| 16.0 / d),
        congested_share: tpi / 20.0,
        tpi,
        tpi_grade: TpiGrade::of(tpi),
    }
}

fn snap(time: f64, speeds: [Option<f64>; 4], tpi: f64) -> CityState {
    let roads = speeds
        .iter()
        .enumerate()
        .map(|(i, &speed)| RoadState {
            road: RoadId(i as u32),
            class: RoadClass::Arterial,
            length_m: 300.0,
            free_speed: 16.67,
            speed,
            tti: speed.map(|v| 16.67 / v.max(0.1)),
            grade: None,
            flow_vph: None,
            loop_vehicles: 0,
            probe_fixes: 0,
        })
        .collect();
    CityState {
        time,
        roads,
        intersections: vec![],
        areas: vec![area("district-1", tpi, Some(1.5)), area("district-2", tpi / 2.0, None)],
        city: area("city", tpi, Some(2.0)),
    }
}

#[test]
fn observations_round_trip_through_the_file_and_a_reopen() {
    let db = TempDb::new("roundtrip");
    let r = reg();
    let obs = all_kinds(&r, 100.0);
    {
        let mut s = SqliteStore::open(&db.0, Retention::default()).unwrap();
        s.append(&r, &obs).unwrap();
        assert_eq!(s.observations(&r, 0.0, 1e9, 100).unwrap(), obs);
        assert_eq!(s.raw_len().unwrap(), obs.len() as u64);
    }
    let mut s = SqliteStore::open(&db.0, Retention::default()).unwrap();
    assert_eq!(s.observations(&r, 0.0, 1e9, 100).unwrap(), obs, "same after reopening");
    assert_eq!(s.observations(&r, 101.0, 104.0, 100).unwrap(), obs[2..5].to_vec(), "time window");
    assert_eq!(s.observations(&r, 0.0, 1e9, 3).unwrap().len(), 3, "limit");
    // Sensor ids stay stable across reopen: appending again reuses them.
    s.append(&r, &obs[..1]).unwrap();
    let n: i64 = s.conn_for_tests().query_row("SELECT COUNT(*) FROM sensors", [], |x| x.get(0)).unwrap();
    assert_eq!(n, 5, "loop, camera, probe, controller, citizen: one row per distinct sensor");
    assert_eq!(s.last_time().unwrap(), Some(106.0));
    let ev = s.signal_events(IntersectionId(1), 0.0, 1e9).unwrap();
    assert_eq!(ev, vec![(104.0, EventCode::PhaseBeginYellow, 2)]);
    assert!(s.signal_events(IntersectionId(0), 0.0, 1e9).unwrap().is_empty());
    assert!(s.signal_events(IntersectionId(1), 0.0, 104.0).unwrap().is_empty());
}

#[test]
fn restart_continues_time_and_completes_open_buckets() {
    let db = TempDb::new("restart");
    let r = reg();
    {
        let mut s = SqliteStore::open(&db.0, Retention::default()).unwrap();
        assert_eq!(s.last_time().unwrap(), None);
        s.append(&r, &[loop_obs(&r, 0, 30.0, 7)]).unwrap();
        s.append_snapshot(&snap(35.0, [Some(10.0), None, None, None], 1.0)).unwrap();
        assert_eq!(s.last_time().unwrap(), Some(35.0));
    }
    let mut s = SqliteStore::open(&db.0, Retention::default()).unwrap();
    assert_eq!(s.last_time().unwrap(), Some(35.0));
    s.append(&r, &[loop_obs(&r, 1, 50.0, 3)]).unwrap();
    s.append_snapshot(&snap(55.0, [Some(12.0), None, None, None], 1.0)).unwrap();
    let h = s.history(&Scope::Road(RoadId(0)), 0.0, 60.0, Resolution::Minute).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].time, h[0].count, h[0].speed), (0.0, Some(10), Some(11.0)));
    let snap = s.latest_snapshot().unwrap().unwrap();
    assert_eq!(snap.time, 55.0);
    assert_eq!(snap.road_speeds, vec![Some(12.0), None, None, None]);
}

#[test]
fn road_aggregates_by_minute_and_quarter_hour() {
    let db = TempDb::new("agg");
    let r = reg();
    let mut s = SqliteStore::open(&db.0, Retention::default()).unwrap();
    // Road AB has lanes 0 and 1; lane 2 is road BC.
    s.append(&r, &[loop_obs(&r, 0, 30.0, 7), loop_obs(&r, 1, 59.0, 3), loop_obs(&r, 0, 60.0, 5), loop_obs(&r, 2, 30.0, 100)])
        .unwrap();
    s.append(&r, &[loop_obs(&r, 0, 900.0, 2)]).unwrap();
    for (t, v) in [(5.0, 10.0), (55.0, 12.0), (65.0, 8.0)] {
        s.append_snapshot(&snap(t, [Some(v), None, Some(1.0), None], 0.0)).unwrap();
    }
    let ab = Scope::Road(RoadId(0));
    let m = s.history(&ab, 0.0, 120.0, Resolution::Minute).unwrap();
    let got: Vec<(f64, Option<u64>, Option<f64>)> = m.iter().map(|p| (p.time, p.count, p.speed)).collect();
    assert_eq!(got, vec![(0.0, Some(10), Some(11.0)), (60.0, Some(5), Some(8.0))]);
    let q = s.history(&ab, 0.0, 1800.0, Resolution::FifteenMinutes).unwrap();
    let got: Vec<(f64, Option<u64>, Option<f64>)> = q.iter().map(|p| (p.time, p.count, p.speed)).collect();
    assert_eq!(got, vec![(0.0, Some(15), Some(10.0)), (900.0, Some(2), None)]);
    // A window starting mid-bucket includes that bucket.
    assert_eq!(s.history(&ab, 30.0, 61.0, Resolution::Minute).unwrap().len(), 2);
    // Snapshot resolution reads the per-road blob.
    let raw = s.history(&ab, 0.0, 100.0, Resolution::Snapshot).unwrap();
    assert_eq!(
        raw.iter().map(|p| (p.time, p.speed)).collect::<Vec<_>>(),
        vec![(5.0, Some(10.0)), (55.0, Some(12.0)), (65.0, Some(8.0))]
    );
    let none = s.history(&Scope::Road(RoadId(3)), 0.0, 100.0, Resolution::Snapshot).unwrap();
    assert!(none.iter().all(|p| p.speed.is_none()) && none.len() == 3);
    // City counts sum all roads per bucket.
    let city = s.history(&Scope::City, 0.0, 120.0, Resolution::Minute).unwrap();
    assert_eq!(city.iter().map(|p| p.count).collect::<Vec<_>>(), vec![Some(110), Some(5)]);
}

#[test]
fn area_and_city_history() {
    let db = TempDb::new("area");
    let mut s = SqliteStore::open(&db.0, Retention::default()).unwrap();
    for (t, tpi) in [(0.0, 2.0), (30.0, 4.0), (60.0, 6.0), (90.0, 9.0)] {
        s.append_snapshot(&snap(t, [None; 4], tpi)).unwrap();
    }
    let d1 = s.history(&Scope::Area("district-1".into()), 0.0, 1e9, Resolution::Snapshot).unwrap();
    assert_eq!(d1.iter().map(|p| p.tpi).collect::<Vec<_>>(), vec![Some(2.0), Some(4.0), Some(6.0), Some(9.0)]);
    let d2 = s.history(&Scope::Area("district-2".into()), 0.0, 1e9, Resolution::Minute).unwrap();
    assert_eq!(
        d2.iter().map(|p| (p.time, p.tpi, p.delay_index)).collect::<Vec<_>>(),
        vec![(0.0, Some(1.5), None), (60.0, Some(3.75), None)]
    );
    let c = s.history(&Scope::City, 0.0, 1e9, Resolution::FifteenMinutes).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].tpi, c[0].delay_index, c[0].speed), (Some(5.25), Some(2.0), Some(8.0)));
    assert!(s.history(&Scope::Area("nowhere".into()), 0.0, 1e9, Resolution::Minute).unwrap().is_empty());
    assert_eq!(s.history(&Scope::City, 30.0, 60.0, Resolution::Snapshot).unwrap().len(), 1, "[from, to)");
}

#[test]
fn prune_keeps_only_the_retention_windows() {
    let db = TempDb::new("prune");
    let r = reg();
    let ret = Retention {
        raw_s: Some(100.0),
        snapshots_s: Some(200.0),
        minute_s: Some(300.0),
        quarter_s: None,
        rejected_s: Some(50.0),
        plans_s: None,
    };
    let mut s = SqliteStore::open(&db.0, ret).unwrap();
    for t in [30.0, 100.0, 400.0, 500.0] {
        s.append(&r, &[loop_obs(&r, 0, t, 1)]).unwrap();
        s.append_snapshot(&snap(t, [Some(5.0), None, None, None], 1.0)).unwrap();
    }
    let rej = Rejected {
        index: 3,
        error: "observations[3].occupancy: must be within 0..1, got 1.7".into(),
        raw: "{}".into(),
        batch: 9,
    };
    s.append_rejected(100.0, std::slice::from_ref(&rej)).unwrap();
    s.append_rejected(480.0, &[rej]).unwrap();
    s.append_plan(10.0, "B", r#"{"phases":[5,30,30]}"#).unwrap();
    let rep = s.prune(500.0).unwrap();
    // raw: keep time >= 400; snapshots: >= 300; minute buckets: >= 200; rejected: >= 450.
    assert_eq!(rep.raw, 2);
    assert_eq!(rep.snapshots, 2);
    assert_eq!(rep.aggregates, 2, "minute buckets 0 and 60 (of loop counts and snapshot speeds)");
    assert_eq!((rep.rejected, rep.plans), (1, 0));
    assert_eq!(s.observations(&r, 0.0, 1e9, 10).unwrap().iter().map(|o| o.time).collect::<Vec<_>>(), vec![400.0, 500.0]);
    assert_eq!(s.history(&Scope::City, 0.0, 1e9, Resolution::Snapshot).unwrap().len(), 2);
    assert_eq!(s.history(&Scope::Road(RoadId(0)), 0.0, 1e9, Resolution::FifteenMinutes).unwrap().len(), 1, "kept forever");
    let kept = s.rejected(10).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].time, kept[0].batch, kept[0].index), (480.0, 9, 3));
    assert!(kept[0].error.contains("occupancy"));
    assert_eq!(s.plans(Some("B"), 0.0, 1e9).unwrap()[0].plan, r#"{"phases":[5,30,30]}"#);
    assert!(s.plans(Some("C"), 0.0, 1e9).unwrap().is_empty());
    assert_eq!(s.prune(500.0).unwrap(), PruneReport::default(), "idempotent");
}

#[test]
fn prune_splits_a_batch_that_straddles_the_cut() {
    let db = TempDb::new("straddle");
    let r = reg();
    let mut s = SqliteStore::open(&db.0, Retention { raw_s: Some(100.0), ..Default::default() }).unwrap();
    s.append(&r, &[loop_obs(&r, 0, 450.0, 1), loop_obs(&r, 1, 300.0, 1), loop_obs(&r, 0, 480.0, 1)]).unwrap();
    s.append(&r, &[loop_obs(&r, 0, 520.0, 1)]).unwrap();
    assert_eq!(s.prune(500.0).unwrap().raw, 1);
    let times = |s: &SqliteStore| s.observations(&r, 0.0, 1e9, 10).unwrap().iter().map(|o| o.time).collect::<Vec<_>>();
    assert_eq!(times(&s), vec![450.0, 480.0, 520.0]);
    assert_eq!(s.prune(560.0).unwrap().raw, 1);
    assert_eq!(times(&s), vec![480.0, 520.0]);
    assert_eq!(s.prune(1000.0).unwrap().raw, 2);
    assert!(times(&s).is_empty());
    // New rows never reuse ids of pruned ones.
    s.append(&r, &[loop_obs(&r, 0, 1000.0, 1)]).unwrap();
    assert_eq!(times(&s), vec![1000.0]);
    assert_eq!(s.last_time().unwrap(), Some(1000.0));
}

#[test]
fn a_file_of_another_schema_version_is_refused() {
    let db = TempDb::new("schema");
    drop(SqliteStore::open(&db.0, Retention::default()).unwrap());
    let c = rusqlite::Connection::open(&db.0).unwrap();
    c.execute("UPDATE meta SET value = '99' WHERE key = 'schema'", []).unwrap();
    drop(c);
    let e = SqliteStore::open(&db.0, Retention::default()).err().expect("refused");
    assert!(e.to_string().contains("schema version 99 is not supported"), "{e}");
}

#[test]
fn the_store_is_a_pipeline_sink() {
    let db = TempDb::new("sink");
    let registry = std::sync::Arc::new(reg());
    let mut p = Pipeline::new(registry.clone(), PipelineConfig::default());
    let store = std::sync::Arc::new(std::sync::Mutex::new(SqliteStore::open(&db.0, Retention::default()).unwrap()));
    p.add_sink(Box::new(store.clone()));
    let recs: Vec<RawRecord> = all_kinds(&registry, 100.0).iter().map(|o| to_wire(&registry, o).into()).collect();
    let rep = p.ingest(&recs);
    assert_eq!((rep.accepted, rep.sink_errors.len()), (8, 0));
    assert_eq!(store.lock().unwrap().raw_len().unwrap(), 8);
}

proptest! {
    #[test]
    fn decoding_arbitrary_rows_never_panics(
        kind in -1i64..8, r in proptest::option::of(any::<i64>()), road in proptest::option::of(any::<i64>()),
        a in proptest::option::of(any::<f64>()), b in proptest::option::of(any::<f64>()),
        c in proptest::option::of(any::<f64>()), d in proptest::option::of(any::<f64>()),
        text in proptest::option::of("\\PC{0,20}"), end in any::<f64>(),
    ) {
        let row = Row { kind, r#ref: r, road, a, b, c, d, text };
        if let Ok(data) = decode(&row, end) {
            prop_assert_eq!(encode(&data).kind, kind);
        }
    }
}
