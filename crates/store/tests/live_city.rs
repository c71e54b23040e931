//! The whole data side on real data: the Hangzhou 4x4 twin's virtual sensors speak the
//! wire format, go through `parse_batch` and the `Pipeline` into the `StateEstimator`
//! and a `SqliteStore` file; snapshots every 5 s; then the file is reopened.
//!
//! Needs `../shared/data` beside the repository (or `$CITYBRAIN_DATA`). Without it the
//! test skips with a message, except under `CI=true`, where it fails.

use std::sync::{Arc, Mutex};

use sense::*;
use state::{StateConfig, StateEstimator};
use store::{Resolution, Retention, Scope, SqliteStore, Store, StoreSink};
use twin::sensors::{SensorConfig, VirtualSensors};
use twin::wire::from_reading;
use twin::{Sim, SimConfig};

#[test]
fn hangzhou_twin_feeds_state_and_store() {
    let Some(dir) = testdata::data_dir() else { return };
    let d = dir.join("cityflow/hangzhou_4x4");
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_else(|e| panic!("{}: {e}", d.join(f).display()));
    let scenario = city::import::cityflow::load_scenario(&read("roadnet.json"), &read("flow.json")).unwrap();
    let net = scenario.network.clone();
    let registry = Arc::new(SensorRegistry::for_network(&net));
    let signalised = net.intersections.iter().filter(|i| i.is_signalised() && !i.is_virtual).count();
    assert_eq!(registry.len(), net.lanes.len() + 2 * signalised + 2);

    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let path = std::env::temp_dir().join(format!("citybrain-live-{}-{nanos}.db", std::process::id()));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, Retention::default(), &net).unwrap());
    let est = Arc::new(Mutex::new(StateEstimator::new(&net, StateConfig::default())));
    let mut pipeline = Pipeline::new(registry.clone(), PipelineConfig::default());
    pipeline.add_sink(Box::new(est.clone()));
    pipeline.add_sink(Box::new(StoreSink(store.clone())));

    let mut sim = Sim::new(&scenario, SimConfig { record_events: true, ..Default::default() });
    let mut sensors = VirtualSensors::new(&sim, SensorConfig::default());
    let (mut readings, mut wire, mut loop_count) = (Vec::new(), Vec::new(), 0u64);
    for _ in 0..900 {
        sim.step();
        sensors.observe(&sim, &mut readings);
        let now = sim.time();
        if (now % 5.0).abs() < 1e-9 {
            // A device batch every 5 s, through real JSON.
            wire.extend(readings.drain(..).filter_map(|r| from_reading(&r, &registry, 0.0)));
            loop_count += wire.iter().filter(|w| w.kind.as_deref() == Some("loop")).map(|w| w.count.unwrap() as u64).sum::<u64>();
            let recs = parse_batch(batch_body(&wire).as_bytes()).unwrap();
            wire.clear();
            let rep = pipeline.ingest(&recs, now);
            assert_eq!(rep.rejected, 0, "{:?}", rep.results.iter().find(|r| r.1.is_err()));
            assert!(rep.sink_errors.is_empty(), "{:?}", rep.sink_errors);
            let snap = est.lock().unwrap().update(now).clone();
            store.append_snapshot(&snap).unwrap();
        }
    }
    let snap = est.lock().unwrap().latest().unwrap().clone();
    let covered = snap.roads.iter().filter(|r| r.speed.is_some()).count();
    assert!(covered * 2 > snap.roads.len(), "{covered} of {} roads have a speed", snap.roads.len());
    assert!((0.0..=10.0).contains(&snap.city.tpi));
    assert!(snap.city.delay_index.unwrap() >= 1.0);
    assert_eq!(snap.intersections.len(), signalised);
    assert!(snap.intersections.iter().any(|i| i.delay_s.is_some_and(|d| d > 0.0)));
    assert!(pipeline.total_accepted() > 10_000);
    drop(pipeline);
    drop(store);

    // Reopen: the history is there and time continues.
    let s = SqliteStore::open(&path, Retention::default(), &net).unwrap();
    // Detector-off events are stamped at the end of a vehicle's dwell, up to 1 s ahead.
    let last = s.last_time().unwrap().unwrap();
    assert!((900.0..901.0).contains(&last), "{last}");
    let city = s.history(&Scope::City, 0.0, 900.0, Resolution::Minute, usize::MAX).unwrap();
    assert_eq!(city.len(), 15);
    assert_eq!(city.iter().map(|p| p.count.unwrap_or(0)).sum::<u64>(), loop_count - last_bucket_loops(&s));
    let all = s.history(&Scope::City, 0.0, 1e9, Resolution::Minute, usize::MAX).unwrap();
    assert_eq!(all.iter().map(|p| p.count.unwrap_or(0)).sum::<u64>(), loop_count, "every loop vehicle is in an aggregate");
    let snaps = s.history(&Scope::City, 0.0, 1e9, Resolution::Snapshot, usize::MAX).unwrap();
    assert_eq!(snaps.len(), 180);
    let ctl = net.intersections.iter().position(|i| i.is_signalised() && !i.is_virtual).unwrap();
    let ev = s.signal_events(city::IntersectionId(ctl as u32), 0.0, 1e9, usize::MAX).unwrap();
    let codes: std::collections::BTreeSet<u16> = ev.iter().map(|e| e.1.code()).collect();
    assert_eq!(codes.into_iter().collect::<Vec<_>>(), vec![1, 6, 7, 8, 9, 10, 11, 43, 44, 81, 82, 131, 132]);
    let latest = s.latest_snapshot().unwrap().unwrap();
    assert_eq!(latest.road_speeds.len(), net.roads.len());
    drop(s);

    // A version-3 file written before the city totals existed gains them from the road
    // cells when opened: the same city counts.
    rusqlite::Connection::open(&path).unwrap().execute_batch("DROP TABLE agg_city").unwrap();
    let s = SqliteStore::open(&path, Retention::default(), &net).unwrap();
    let again = s.history(&Scope::City, 0.0, 1e9, Resolution::Minute, usize::MAX).unwrap();
    assert_eq!(again.iter().map(|p| p.count).collect::<Vec<_>>(), all.iter().map(|p| p.count).collect::<Vec<_>>());
    drop(s);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Loop vehicles counted in the bucket starting at 900 s (intervals ending at 900).
fn last_bucket_loops(s: &SqliteStore) -> u64 {
    s.history(&Scope::City, 900.0, 960.0, Resolution::Minute, usize::MAX).unwrap().iter().map(|p| p.count.unwrap_or(0)).sum()
}
