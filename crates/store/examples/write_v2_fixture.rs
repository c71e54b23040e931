//! Writes `tests/fixtures/schema_v2.db`: a store file of schema version "2" with
//! observations of every kind, snapshots, plans and rejections on the corridor test
//! network (`sense::testnet::corridor`). Run once with the schema-2 code; kept for the
//! migration test.

use sense::testnet::corridor;
use sense::*;
use state::{AreaState, CityState, RoadClass, RoadState, TpiGrade};
use store::{Retention, SqliteStore, Store};
use twin::{IntersectionId, LaneId, MovementId, Point, RoadId};

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
                from_road: RoadId(if k % 2 == 0 { 0 } else { 2 }),
                to_road: RoadId(if k % 2 == 0 { 1 } else { 3 }),
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
                pos: (k % 2 == 0).then(|| Point::new(150.0, 0.0)),
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
            let speed = (i != 3).then(|| 4.0 + i as f64 + 0.5 * k as f64);
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema_v2.db");
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", out.display()));
    }
    let r = SensorRegistry::for_network(&corridor());
    let mut s = SqliteStore::open(&out, Retention::default())?;
    let t0 = 28_800.0; // 08:00 on the schema-2 city clock
    for k in 0..40u32 {
        let t = t0 + 30.0 * k as f64;
        s.append(&r, &batch(&r, t, k))?;
        if k % 2 == 1 {
            s.append_snapshot(&snap(t + 5.0, k))?;
        }
    }
    s.append_plan(t0, "B", r#"{"phases":[5,30,30]}"#)?;
    s.append_plan(t0 + 600.0, "B", r#"{"phases":[5,40,20]}"#)?;
    let rej = |index, batch, error: &str, raw: &str| Rejected { index, error: error.into(), raw: raw.into(), batch };
    s.append_rejected(
        t0 + 100.0,
        &[
            rej(3, 4, "observations[3].occupancy: must be within 0..1, got 1.7", r#"{"kind":"loop","occupancy":1.7}"#),
            rej(5, 4, "observations[5].sensor: unknown sensor \"x\"", r#"{"sensor":"x"}"#),
        ],
    )?;
    s.append_rejected(t0 + 700.0, &[rej(0, 9, "observations[0].time: not a number", &"y".repeat(6000))])?;
    drop(s);
    // Fold the WAL into the file so the fixture is one self-contained file.
    let c = rusqlite::Connection::open(&out)?;
    c.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    drop(c);
    println!("{}: {} bytes", out.display(), std::fs::metadata(&out)?.len());
    Ok(())
}
