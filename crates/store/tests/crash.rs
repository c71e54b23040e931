//! Durability: what `append` has returned is on disk even if the process dies right
//! after (no destructor, no checkpoint). A child process (this test binary re-run with
//! `CITYBRAIN_CRASH_DB` set) appends and aborts; the parent reopens the file.

use std::process::Command;

use city::LaneId;
use sense::testnet::corridor;
use sense::{LoopAggregate, ObsData, Observation, SensorRegistry};
use store::{Retention, SqliteStore, Store};

const BATCHES: usize = 20;
const PER_BATCH: usize = 500;

fn batch(reg: &SensorRegistry, k: usize) -> Vec<Observation> {
    (0..PER_BATCH)
        .map(|i| {
            let lane = LaneId((i % 5) as u32);
            let time = 100.0 + (k * PER_BATCH + i) as f64;
            Observation {
                sensor: reg.loop_sensor(lane).unwrap(),
                time,
                data: ObsData::Loop(LoopAggregate {
                    lane,
                    road: reg.lane_road(lane).unwrap(),
                    start: time - 30.0,
                    end: time,
                    count: 1,
                    occupancy: 0.1,
                    speed: Some(5.0),
                }),
            }
        })
        .collect()
}

/// The child half: only acts when started by `appended_rows_survive_a_crash`.
#[test]
fn crash_child_helper() {
    let Some(path) = std::env::var_os("CITYBRAIN_CRASH_DB") else { return };
    let net = corridor();
    let reg = SensorRegistry::for_network(&net);
    let s = SqliteStore::open(&path, Retention::default(), &net).unwrap();
    for k in 0..BATCHES {
        s.append(&reg, &batch(&reg, k)).unwrap();
    }
    println!("APPENDED");
    std::process::abort();
}

#[test]
fn appended_rows_survive_a_crash() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let path = std::env::temp_dir().join(format!("citybrain-crash-{}-{nanos}.db", std::process::id()));
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child_helper", "--nocapture", "--test-threads=1"])
        .env("CITYBRAIN_CRASH_DB", &path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the child must die by abort");
    assert!(String::from_utf8_lossy(&out.stdout).contains("APPENDED"), "{}", String::from_utf8_lossy(&out.stderr));
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    assert!(wal.exists(), "rows are in the write-ahead log, not yet checkpointed");
    let s = SqliteStore::open(&path, Retention::default(), &corridor()).unwrap();
    assert_eq!(s.raw_len().unwrap(), (BATCHES * PER_BATCH) as u64);
    assert_eq!(s.last_time().unwrap(), Some(100.0 + (BATCHES * PER_BATCH - 1) as f64));
    drop(s);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
