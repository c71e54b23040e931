//! Migration: `tests/fixtures/schema_v2.db` was written by the schema-2 code (commit
//! c72adf7, `examples/write_v2_fixture.rs` there: 40 batches of every observation kind
//! every 30 s from 08:00, a snapshot every other batch, two plans, three rejections) on
//! the corridor test network. A copy is opened with the current code, migrated in place,
//! and every stored item is read back through the new API and compared with the same
//! data regenerated here.

use std::path::PathBuf;

use city::{IntersectionId, LaneId, MovementId, Point, RoadId};
use sense::testnet::corridor;
use sense::*;
use state::{AreaState, CityState, RoadClass, RoadState, TpiGrade};
use store::{Resolution, Retention, Scope, SqliteStore, Store, StoreErrorKind, SCHEMA_VERSION};

const T0: f64 = 28_800.0;

fn loop_obs(r: &SensorRegistry, lane: u32, time: f64, count: u32) -> Observation {
    Observation {
        sensor: r.loop_sensor(LaneId(lane)).unwrap(),
        time,
        data: ObsData::Loop(LoopAggregate {
            lane: LaneId(lane),
            road: r.lane_road(LaneId(lane)).unwrap(),
            start: time - 30.0,
            end: time,
            count,
            occupancy: 0.125 * (lane + 1) as f64,
            speed: if lane == 4 { None } else { Some(8.0 + lane as f64) },
        }),
    }
}

fn batch(r: &SensorRegistry, t: f64, k: u32) -> Vec<Observation> {
    let b = IntersectionId(1);
    let (cam, ctl) = (r.camera(b).unwrap(), r.controller(b).unwrap());
    let token = format!("{:024x}", 0xabc000 + k);
    let o = |sensor, time, data| Observation { sensor, time, data };
    let mut v: Vec<Observation> = (0..5).map(|lane| loop_obs(r, lane, t, 3 + lane + k % 4)).collect();
    v.extend([
        o(
            cam,
            t,
            ObsData::Movement(MovementCount {
                intersection: b,
                movement: MovementId(k % 2),
                from_road: RoadId(if k.is_multiple_of(2) { 0 } else { 2 }),
                to_road: RoadId(if k.is_multiple_of(2) { 1 } else { 3 }),
                start: t - 30.0,
                end: t,
                count: 4 + k,
            }),
        ),
        o(cam, t + 1.0, ObsData::Queue(QueueReading { intersection: b, road: RoadId(2), queue_m: 12.5 * k as f64, waiting: k })),
        o(cam, t + 2.0, ObsData::Plate(PlateRead { intersection: b, road: RoadId(0), token: token.clone() })),
        o(
            r.probe_feed().unwrap(),
            t + 3.0,
            ObsData::Probe(ProbeFix { token, pos: Point::new(10.0 * k as f64, -1.75), speed: 7.125, heading: 3.0 }),
        ),
        o(ctl, t + 4.0, ObsData::Signal(SignalEvent { intersection: b, code: EventCode::PhaseBeginGreen, param: 1 + k % 2 })),
        o(ctl, t + 5.0, ObsData::Signal(SignalEvent { intersection: b, code: EventCode::DetectorOn, param: 3 })),
        o(
            r.citizen_feed().unwrap(),
            t + 6.0,
            ObsData::Report(CitizenReport {
                category: "hazard".into(),
                pos: k.is_multiple_of(2).then(|| Point::new(150.0, 0.0)),
                road: (k % 2 == 1).then_some(RoadId(3)),
                text: format!("report {k}\nsecond line"),
            }),
        ),
    ]);
    v
}

fn area(name: &str, tpi: f64, delay: Option<f64>) -> AreaState {
    AreaState {
        name: name.into(),
        roads_covered: 2,
        roads_total: 4,
        delay_index: delay,
        mean_speed: delay.map(|d| 16.0 / d),
        congested_share: tpi / 20.0,
        tpi,
        tpi_grade: TpiGrade::of(tpi),
    }
}

fn snap(time: f64, k: u32) -> CityState {
    let roads = (0..4)
        .map(|i| {
            let speed = (i != 3).then_some(4.0 + i as f64 + 0.5 * k as f64);
            RoadState {
                road: RoadId(i),
                class: RoadClass::Arterial,
                length_m: 300.0,
                free_speed: 16.67,
                speed,
                tti: speed.map(|v| 16.67 / v),
                grade: None,
                flow_vph: None,
                loop_vehicles: 0,
                probe_fixes: 0,
            }
        })
        .collect();
    let tpi = 1.0 + k as f64 * 0.25;
    CityState {
        time,
        roads,
        intersections: vec![],
        areas: vec![area("north", tpi, Some(1.5)), area("south", tpi / 2.0, None)],
        city: area("city", tpi, Some(1.25 + 0.125 * k as f64)),
    }
}

/// A copy of the fixture in the temp dir, removed on drop.
struct FixtureCopy(PathBuf);

impl FixtureCopy {
    fn new(name: &str) -> FixtureCopy {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema_v2.db");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dst = std::env::temp_dir().join(format!("citybrain-v2-{name}-{}-{nanos}.db", std::process::id()));
        std::fs::copy(&src, &dst).unwrap();
        FixtureCopy(dst)
    }
}

impl Drop for FixtureCopy {
    fn drop(&mut self) {
        for s in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{s}", self.0.display()));
        }
    }
}

fn schema_of(path: &std::path::Path) -> String {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).unwrap()
}

#[test]
fn a_schema_2_file_is_migrated_in_place_and_reads_back() {
    let db = FixtureCopy::new("migrate");
    assert_eq!(schema_of(&db.0), "2");
    let net = corridor();
    let r = SensorRegistry::for_network(&net);
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    assert_eq!(schema_of(&db.0), SCHEMA_VERSION);

    // Observations: every kind, in insertion order, identical to what was written.
    let expect: Vec<Observation> = (0..40u32).flat_map(|k| batch(&r, T0 + 30.0 * k as f64, k)).collect();
    let got = s.observations(&r, 0.0, f64::MAX, usize::MAX).unwrap();
    assert_eq!(got.len(), 480);
    assert_eq!(got, expect);
    assert_eq!(s.last_time().unwrap(), Some(T0 + 30.0 * 39.0 + 6.0));

    // Signal events of B.
    let ev = s.signal_events(IntersectionId(1), 0.0, f64::MAX, usize::MAX).unwrap();
    assert_eq!(ev.len(), 80);
    assert_eq!(ev[0], (T0 + 4.0, EventCode::PhaseBeginGreen, 1));
    assert_eq!(ev[3], (T0 + 35.0, EventCode::DetectorOn, 3));

    // Aggregates: loop counts per road and minute, snapshot speeds folded in.
    let ab = s.history(&Scope::Road(RoadId(0)), 0.0, f64::MAX, Resolution::Minute, usize::MAX).unwrap();
    assert_eq!(ab.len(), 20);
    for (m, p) in ab.iter().enumerate() {
        // Batches 2m and 2m+1 fall in minute m; lanes 0 and 1 are road AB.
        let count: u32 = [2 * m as u32, 2 * m as u32 + 1].iter().map(|&k| (3 + k % 4) + (4 + k % 4)).sum();
        let speed = 4.0 + 0.5 * (2 * m + 1) as f64; // the snapshot of batch 2m+1
        assert_eq!((p.time, p.count, p.speed), (T0 + 60.0 * m as f64, Some(count as u64), Some(speed)), "minute {m}");
    }
    let quarter = s.history(&Scope::Road(RoadId(2)), 0.0, f64::MAX, Resolution::FifteenMinutes, usize::MAX).unwrap();
    assert_eq!(quarter.iter().map(|p| p.time).collect::<Vec<_>>(), vec![T0, T0 + 900.0]);

    // Snapshots (blobs keyed by road) and area history.
    let latest = s.latest_snapshot().unwrap().unwrap();
    assert_eq!(latest.time, T0 + 30.0 * 39.0 + 5.0);
    let want = snap(latest.time, 39);
    assert_eq!(latest.road_speeds, want.roads.iter().map(|r| r.speed.map(|v| v as f32)).collect::<Vec<_>>());
    assert_eq!(latest.road_speeds, vec![Some(4.0 + 19.5), Some(5.0 + 19.5), Some(6.0 + 19.5), None]);
    assert_eq!((latest.tpi, latest.delay_index, latest.mean_speed), (want.city.tpi, want.city.delay_index, want.city.mean_speed));
    assert_eq!(latest.congested_share, want.city.congested_share);
    let at = s.snapshot_at(T0 + 100.0).unwrap().unwrap();
    assert_eq!((at.time, at.road_speeds[0]), (T0 + 95.0, Some(4.0 + 1.5)));
    let south = s.history(&Scope::Area("south".into()), 0.0, f64::MAX, Resolution::Snapshot, usize::MAX).unwrap();
    assert_eq!(south.len(), 20);
    assert_eq!((south[0].tpi, south[0].delay_index), (Some(1.25 / 2.0), None));
    let road_snaps = s.history(&Scope::Road(RoadId(1)), 0.0, f64::MAX, Resolution::Snapshot, usize::MAX).unwrap();
    assert_eq!(road_snaps[2].speed, Some(5.0 + 2.5));

    // Plans and rejections (the 6,000-byte body truncated by the migration).
    let plans = s.plans(Some("B"), 0.0, f64::MAX).unwrap();
    assert_eq!(
        plans.iter().map(|p| (p.time, p.plan.as_str())).collect::<Vec<_>>(),
        vec![(T0, r#"{"phases":[5,30,30]}"#), (T0 + 600.0, r#"{"phases":[5,40,20]}"#)]
    );
    let rej = s.rejected(None, 10).unwrap();
    assert_eq!(
        rej.iter().map(|x| (x.time, x.batch, x.index)).collect::<Vec<_>>(),
        vec![(T0 + 700.0, 9, 0), (T0 + 100.0, 4, 5), (T0 + 100.0, 4, 3)]
    );
    assert_eq!(rej[0].raw, format!("{}…[truncated, 6000 bytes total]", "y".repeat(4096)));
    assert_eq!(rej[2].raw, r#"{"kind":"loop","occupancy":1.7}"#);
    assert_eq!(s.rejected(Some(rej[1].id), 10).unwrap(), vec![rej[2].clone()], "paginated");

    // It keeps working as a v3 store and reopens without migrating again.
    s.append(&r, &batch(&r, T0 + 1200.0, 40)).unwrap();
    drop(s);
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    assert_eq!(s.observations(&r, 0.0, f64::MAX, usize::MAX).unwrap().len(), 492);
    s.health().unwrap();
}

#[test]
fn migrating_with_the_wrong_network_is_refused_and_changes_nothing() {
    let db = FixtureCopy::new("wrongnet");
    // A network with fewer roads than the file refers to.
    let mut spec_net = city::spec::NetworkSpec::default();
    for (name, x) in [("A", 0.0), ("B", 300.0)] {
        spec_net.intersections.push(city::spec::IntersectionSpec {
            name: name.into(),
            point: Point::new(x, 0.0),
            width: 0.0,
            is_virtual: true,
            movements: vec![],
            phases: vec![],
        });
    }
    spec_net.roads.push(city::spec::RoadSpec {
        name: "AB".into(),
        from: 0,
        to: 1,
        points: vec![Point::new(0.0, 0.0), Point::new(300.0, 0.0)],
        lanes: vec![city::spec::LaneSpec { width: 4.0, max_speed: 10.0 }],
    });
    let small = city::Network::build(&spec_net).unwrap();
    let e = SqliteStore::open(&db.0, Retention::default(), &small).err().expect("refused");
    assert_eq!(e.kind(), StoreErrorKind::Schema);
    assert!(e.message.contains("the network it was written with"), "{e}");
    assert_eq!(schema_of(&db.0), "2", "the failed migration rolled back");
    // The right network still migrates it afterwards.
    let s = SqliteStore::open(&db.0, Retention::default(), &corridor()).unwrap();
    assert_eq!(s.observations(&SensorRegistry::for_network(&corridor()), 0.0, f64::MAX, 10).unwrap().len(), 10);
}
