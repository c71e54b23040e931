//! Measures sustained ingest rates (observations per second):
//! 1. `SqliteStore::append` alone, in batches of 1,000 / 5,000 / 10,000;
//! 2. the wire path without sinks: `parse_batch` + validation in the `Pipeline`;
//! 3. the whole in-process path: parse + validate + `StateEstimator` + `SqliteStore`;
//! 4. loop-detector rows alone (what `citybrain bench --api` posts), 5,000 per batch:
//!    `SqliteStore::append`, and the floor under it: the same rows already encoded,
//!    inserted with rusqlite into a file of the same schema and pragmas (WAL,
//!    `synchronous=NORMAL`, one transaction per batch) with nothing else (no sensor
//!    names, no aggregates), one `INSERT` per row and 64 rows per `INSERT`.
//!
//! Run: `cargo run -p store --release --example append_rate [total_observations]`.
//! The file goes to the temp dir and is removed afterwards.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use city::{IntersectionId, LaneId, Point};
use sense::testnet::corridor;
use sense::*;
use state::{StateConfig, StateEstimator};
use store::codec::{self, Row};
use store::{Retention, SqliteStore, Store, StoreSink};

/// A mix like the twin's sensor stream: loops, probes and controller events.
fn synth(reg: &SensorRegistry, n: usize, t0: f64) -> Vec<Observation> {
    let b = IntersectionId(1);
    let ctl = reg.controller(b).expect("controller");
    let probe = reg.probe_feed().expect("probe feed");
    (0..n)
        .map(|i| {
            let time = t0 + i as f64 * 1e-3;
            match i % 10 {
                0..=4 => loop_obs(reg, LaneId((i % 5) as u32), time, i),
                5..=8 => Observation {
                    sensor: probe,
                    time,
                    data: ObsData::Probe(ProbeFix {
                        token: format!("{:024x}", i),
                        pos: Point::new((i % 600) as f64, -1.0),
                        speed: 7.0,
                        heading: 0.0,
                    }),
                },
                _ => Observation {
                    sensor: ctl,
                    time,
                    data: ObsData::Signal(SignalEvent { intersection: b, code: EventCode::DetectorOn, param: 1 }),
                },
            }
        })
        .collect()
}

/// Loop-detector aggregates only, over every lane of the network, in time order.
fn loops(reg: &SensorRegistry, lanes: u32, n: usize, t0: f64) -> Vec<Observation> {
    (0..n).map(|i| loop_obs(reg, LaneId(i as u32 % lanes), t0 + i as f64 * 1e-3, i)).collect()
}

/// Record `i`: lane `lane`'s 30 s loop aggregate ending at `time`.
fn loop_obs(reg: &SensorRegistry, lane: LaneId, time: f64, i: usize) -> Observation {
    Observation {
        sensor: reg.loop_sensor(lane).expect("loop"),
        time,
        data: ObsData::Loop(LoopAggregate {
            lane,
            road: reg.lane_road(lane).expect("road"),
            start: (time - 30.0).max(0.0),
            end: time,
            count: (i % 13) as u32,
            occupancy: 0.1,
            speed: Some(8.5),
        }),
    }
}

/// The floor: `batches` of encoded rows into `path` (already holding the store's schema)
/// with the store's pragmas, one transaction per batch, `per` rows per `INSERT`.
fn raw_floor(path: &std::path::Path, batches: &[Vec<(f64, i64, Row)>], per: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let c = rusqlite::Connection::open(path)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.pragma_update(None, "cache_size", -65536)?;
    c.pragma_update(None, "wal_autocheckpoint", 16384)?;
    let values = vec!["(?,?,?,?,?,?,?,?,?,?)"; per].join(",");
    let sql = format!("INSERT INTO obs (time, sensor, kind, ref, road, a, b, c, d, text) VALUES {values}");
    let t = Instant::now();
    for b in batches {
        let tx = c.unchecked_transaction()?;
        {
            let mut st = tx.prepare_cached(&sql)?;
            for chunk in b.chunks_exact(per) {
                for (i, (time, sid, r)) in chunk.iter().enumerate() {
                    let k = i * 10;
                    st.raw_bind_parameter(k + 1, time)?;
                    st.raw_bind_parameter(k + 2, sid)?;
                    st.raw_bind_parameter(k + 3, r.kind)?;
                    st.raw_bind_parameter(k + 4, r.r#ref)?;
                    st.raw_bind_parameter(k + 5, r.road)?;
                    st.raw_bind_parameter(k + 6, r.a)?;
                    st.raw_bind_parameter(k + 7, r.b)?;
                    st.raw_bind_parameter(k + 8, r.c)?;
                    st.raw_bind_parameter(k + 9, r.d)?;
                    st.raw_bind_parameter(k + 10, r.text.as_deref())?;
                }
                st.raw_execute()?;
            }
        }
        tx.commit()?;
    }
    Ok(t.elapsed().as_secs_f64())
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("citybrain-bench-{name}-{}.db", std::process::id()))
}

fn remove(p: &std::path::Path) {
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", p.display()));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let net = corridor();
    let reg = Arc::new(SensorRegistry::for_network(&net));
    println!("observations per run: {total}");

    for batch in [1_000usize, 5_000, 10_000] {
        let path = temp(&format!("append-{batch}"));
        remove(&path);
        let store = SqliteStore::open(&path, Retention::default(), &net)?;
        let batches: Vec<Vec<Observation>> =
            (0..total / batch).map(|k| synth(&reg, batch, 100.0 + (k * batch) as f64 * 1e-3)).collect();
        let t = Instant::now();
        for b in &batches {
            store.append(&reg, b)?;
        }
        let dt = t.elapsed().as_secs_f64();
        let bytes = std::fs::metadata(&path)?.len() + std::fs::metadata(format!("{}-wal", path.display())).map_or(0, |m| m.len());
        println!(
            "store append, batch {batch:>6}: {:>9.0} obs/s ({:.2} s, {:.0} bytes/obs on disk)",
            (batches.len() * batch) as f64 / dt,
            dt,
            bytes as f64 / (batches.len() * batch) as f64
        );
        drop(store);
        remove(&path);
    }

    // Loop rows alone, 5,000 per batch: the store, then the SQLite floor under it.
    let lanes = net.lanes.len() as u32;
    let loop_batches: Vec<Vec<Observation>> =
        (0..total / 5_000).map(|k| loops(&reg, lanes, 5_000, 100.0 + (k * 5_000) as f64 * 1e-3)).collect();
    let n_loops = (loop_batches.len() * 5_000) as f64;
    let path = temp("loops");
    remove(&path);
    let store = SqliteStore::open(&path, Retention::default(), &net)?;
    let t = Instant::now();
    for b in &loop_batches {
        store.append(&reg, b)?;
    }
    let dt = t.elapsed().as_secs_f64();
    println!("store append, loop rows only, batch 5000: {:>9.0} obs/s ({dt:.2} s)", n_loops / dt);
    let keys = store.keys().clone();
    drop(store);
    remove(&path);
    let encoded: Vec<Vec<(f64, i64, Row)>> = loop_batches
        .iter()
        .map(|b| b.iter().map(|o| (o.time, 1 + o.sensor.0 as i64, codec::encode(&o.data, &keys).expect("encodes"))).collect())
        .collect();
    for per in [1usize, 64] {
        drop(SqliteStore::open(&path, Retention::default(), &net)?);
        let dt = raw_floor(&path, &encoded, per)?;
        println!(
            "SQLite floor, encoded loop rows, batch 5000, {per:>2} rows per INSERT: {:>9.0} obs/s ({dt:.2} s)",
            n_loops / dt
        );
        remove(&path);
    }

    // Wire bodies of 5,000 records each.
    let batch = 5_000;
    let bodies: Vec<String> = (0..total / batch)
        .map(|k| {
            let obs = synth(&reg, batch, 100.0 + (k * batch) as f64 * 1e-3);
            batch_body(&obs.iter().map(|o| to_wire(&reg, o)).collect::<Vec<_>>())
        })
        .collect();
    // The brain's clock: just after the last synthetic record.
    let now = 100.0 + total as f64 * 1e-3;
    let mb = bodies.iter().map(|b| b.len()).sum::<usize>() as f64 / 1e6;

    let mut p = Pipeline::new(reg.clone(), PipelineConfig::default());
    let t = Instant::now();
    for body in &bodies {
        let recs = parse_batch(body.as_bytes())?;
        let rep = p.ingest(&recs, now);
        assert_eq!(rep.rejected, 0);
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "parse + validate (no sinks), batch {batch}: {:>9.0} obs/s ({:.0} MB/s of JSON)",
        (bodies.len() * batch) as f64 / dt,
        mb / dt
    );

    let path = temp("pipeline");
    remove(&path);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, Retention::default(), &net)?);
    let est = Arc::new(Mutex::new(StateEstimator::new(&net, StateConfig::default())));
    let mut p = Pipeline::new(reg.clone(), PipelineConfig::default());
    p.add_sink(Box::new(est.clone()));
    p.add_sink(Box::new(StoreSink(store.clone())));
    let t = Instant::now();
    for body in &bodies {
        let recs = parse_batch(body.as_bytes())?;
        let rep = p.ingest(&recs, now);
        assert!(rep.rejected == 0 && rep.sink_errors.is_empty());
    }
    let dt = t.elapsed().as_secs_f64();
    println!("parse + validate + estimator + store, batch {batch}: {:>9.0} obs/s", (bodies.len() * batch) as f64 / dt);
    drop(p);
    drop(store);
    remove(&path);

    // Same, with the store on its own thread (what a server would do on 2+ cores).
    let store = SqliteStore::open(&path, Retention::default(), &net)?;
    let est = Arc::new(Mutex::new(StateEstimator::new(&net, StateConfig::default())));
    let mut p = Pipeline::new(reg.clone(), PipelineConfig::default());
    p.add_sink(Box::new(est.clone()));
    p.add_sink(Box::new(ThreadedSink::spawn(store, reg.clone(), 4)));
    let t = Instant::now();
    for body in &bodies {
        let recs = parse_batch(body.as_bytes())?;
        let rep = p.ingest(&recs, now);
        assert!(rep.rejected == 0 && rep.sink_errors.is_empty());
    }
    drop(p); // drains the store's queue: everything is committed when this returns
    let dt = t.elapsed().as_secs_f64();
    println!("parse + validate + estimator + threaded store, batch {batch}: {:>9.0} obs/s", (bodies.len() * batch) as f64 / dt);
    let check = SqliteStore::open(&path, Retention::default(), &net)?;
    assert_eq!(check.raw_len()? as usize, bodies.len() * batch);
    drop(check);
    remove(&path);
    Ok(())
}
