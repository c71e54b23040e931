//! SQLite-specific tests; the backend-neutral behaviour is [`crate::conformance`].

use std::path::PathBuf;

use proptest::prelude::*;
use sense::testnet::corridor;
use sense::*;

use super::codec::{decode, encode, Row};
use super::conformance::{self, loop_obs, Harness};
use super::keys::Keys;
use super::*;

/// A fresh file path in the temp dir; removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> TempDb {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        TempDb(std::env::temp_dir().join(format!("citybrain-store-{name}-{}-{nanos}-{n}.db", std::process::id())))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Fresh files in the temp dir, removed at the end.
#[derive(Default)]
struct SqliteHarness {
    files: Vec<TempDb>,
}

impl Harness for SqliteHarness {
    type S = SqliteStore;
    fn fresh(&mut self, net: &city::Network, retention: Retention) -> SqliteStore {
        let db = TempDb::new("conformance");
        let s = SqliteStore::open(&db.0, retention, net).unwrap();
        self.files.push(db);
        s
    }
    fn reopen(&mut self, store: SqliteStore, net: &city::Network, retention: Retention) -> SqliteStore {
        let path = store.path().to_path_buf();
        drop(store);
        SqliteStore::open(path, retention, net).unwrap()
    }
}

#[test]
fn sqlite_passes_the_conformance_suite() {
    conformance::run_all(&mut SqliteHarness::default());
}

#[test]
fn the_store_is_a_shareable_trait_object() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<std::sync::Arc<dyn Store>>();
    assert_send_sync::<StoreError>();
}

#[test]
fn sensors_are_one_row_each_and_stable_across_reopen() {
    let db = TempDb::new("sensors");
    let (net, r) = (corridor(), SensorRegistry::for_network(&corridor()));
    let obs = conformance::all_kinds(&r, conformance::T0);
    drop(SqliteStore::open(&db.0, Retention::default(), &net).unwrap().append(&r, &obs));
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    s.append(&r, &obs[..1]).unwrap();
    let n: i64 = s.with_writer(|c| c.query_row("SELECT COUNT(*) FROM sensors", [], |x| x.get(0)).unwrap());
    assert_eq!(n, 5, "loop, camera, probe, controller, citizen: one row per distinct sensor");
    assert_eq!(s.raw_len().unwrap(), obs.len() as u64 + 1);
}

#[test]
fn reads_run_while_the_writer_is_held_mid_transaction() {
    let db = TempDb::new("concurrent");
    let (net, r) = (corridor(), SensorRegistry::for_network(&corridor()));
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    s.append(&r, &[loop_obs(&r, 0, conformance::T0, 1)]).unwrap();
    // Hold the writer lock with an open write transaction (as a long append or prune
    // would), and read from another thread meanwhile.
    s.with_writer(|c| {
        c.execute_batch("BEGIN IMMEDIATE; DELETE FROM obs;").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let n = s.observations(&r, 0.0, f64::MAX, 100).map(|o| o.len());
                let h = s.history(&Scope::Road(city::RoadId(0)), 0.0, f64::MAX, Resolution::Minute, 100).map(|h| h.len());
                let _ = tx.send((n, h, s.last_time()));
            });
            // A deadlock guard, not a speed check: a read waiting for the writer never returns.
            let got = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("a read waited for the writer");
            assert_eq!(got, (Ok(1), Ok(1), Ok(Some(conformance::T0))), "reads see the last commit, not the open transaction");
        });
        c.execute_batch("ROLLBACK").unwrap();
    });
    assert_eq!(s.raw_len().unwrap(), 1);
}

#[test]
fn a_file_of_a_newer_or_unknown_schema_is_refused() {
    let db = TempDb::new("schema");
    drop(SqliteStore::open(&db.0, Retention::default(), &corridor()).unwrap());
    for (v, expect) in [("4", "schema version 4 was written by a newer citybrain"), ("x1", "schema version x1 is not supported")]
    {
        let c = rusqlite::Connection::open(&db.0).unwrap();
        c.execute("UPDATE meta SET value = ?1 WHERE key = 'schema'", [v]).unwrap();
        drop(c);
        let e = SqliteStore::open(&db.0, Retention::default(), &corridor()).err().expect("refused");
        assert_eq!(e.kind(), StoreErrorKind::Schema);
        assert!(e.to_string().contains(expect) && e.to_string().contains(&db.0.display().to_string()), "{e}");
    }
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt() {
    let db = TempDb::new("garbage");
    std::fs::write(&db.0, vec![0x5a; 8192]).unwrap();
    let e = SqliteStore::open(&db.0, Retention::default(), &corridor()).err().expect("refused");
    assert_eq!(e.kind(), StoreErrorKind::Corrupt, "{e}");
}

#[test]
fn a_full_disk_is_a_full_error_leaves_nothing_of_the_batch_and_fails_health() {
    let db = TempDb::new("full");
    let (net, r) = (corridor(), SensorRegistry::for_network(&corridor()));
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    s.append(&r, &[loop_obs(&r, 0, conformance::T0, 1)]).unwrap();
    s.health().unwrap();
    // Cap the file at its current size: the next batch cannot fit.
    s.with_writer(|c| {
        let pages: i64 = c.query_row("PRAGMA page_count", [], |x| x.get(0)).unwrap();
        c.pragma_update(None, "max_page_count", pages).unwrap();
    });
    let big: Vec<Observation> = (0..20_000).map(|k| loop_obs(&r, (k % 5) as u32, conformance::T0 + 1.0 + k as f64, 1)).collect();
    let e = s.append(&r, &big).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Full, "{e}");
    assert!(e.is_unavailable());
    assert_eq!(s.raw_len().unwrap(), 1, "nothing of the failed batch is visible");
    let h = s.history(&Scope::Road(city::RoadId(0)), 0.0, f64::MAX, Resolution::Minute, 100).unwrap();
    assert_eq!(h.iter().map(|p| p.count).collect::<Vec<_>>(), vec![Some(1)], "no aggregate of the failed batch");
    assert_eq!(s.health().unwrap_err().kind(), StoreErrorKind::Full, "health reports the failed write");
    // Space again: the next write succeeds and health recovers.
    s.with_writer(|c| c.pragma_update(None, "max_page_count", 1_000_000_000i64).unwrap());
    s.append(&r, &big[..10]).unwrap();
    s.health().unwrap();
    assert_eq!(s.raw_len().unwrap(), 11);
}

#[test]
fn a_read_only_file_makes_writes_unavailable() {
    let db = TempDb::new("readonly");
    let (net, r) = (corridor(), SensorRegistry::for_network(&corridor()));
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    s.with_writer(|c| c.pragma_update(None, "query_only", true).unwrap());
    let e = s.append(&r, &[loop_obs(&r, 0, conformance::T0, 1)]).unwrap_err();
    // query_only reports SQLITE_READONLY.
    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}");
    assert_eq!(s.health().unwrap_err().kind(), StoreErrorKind::Unavailable);
}

#[test]
fn an_observation_outside_the_network_is_an_invalid_argument() {
    let db = TempDb::new("outside");
    let (net, r) = (corridor(), SensorRegistry::for_network(&corridor()));
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    let mut o = loop_obs(&r, 0, conformance::T0, 1);
    if let ObsData::Loop(l) = &mut o.data {
        l.lane = city::LaneId(77);
    }
    let e = s.append(&r, &[loop_obs(&r, 0, conformance::T0, 1), o]).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::InvalidArgument, "{e}");
    assert!(e.message.contains("lane 77"), "{e}");
    assert_eq!(s.raw_len().unwrap(), 0);
    s.health().unwrap();
}

/// Batches around the multi-row insert's chunk size are stored whole, in order, each
/// recorded in `obs_batches` by the ids of its first and last row.
#[test]
fn batches_of_any_size_are_stored_in_order_with_their_id_ranges() {
    let db = TempDb::new("chunks");
    let (net, r) = (corridor(), SensorRegistry::for_network(&corridor()));
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    let kinds = conformance::all_kinds(&r, conformance::T0);
    let mut all = Vec::new();
    let mut t = conformance::T0;
    for n in [1usize, 63, 64, 65, 150, 0, 128] {
        let batch: Vec<Observation> = (0..n)
            .map(|i| {
                t += 0.25;
                Observation { time: t, ..kinds[i % kinds.len()].clone() }
            })
            .collect();
        s.append(&r, &batch).unwrap();
        all.extend(batch);
    }
    assert_eq!(s.raw_len().unwrap(), all.len() as u64);
    // (Times and kinds: an interval's stored end is the observation's time.)
    let key = |o: &Observation| (o.time, o.sensor, o.data.kind());
    let back: Vec<_> = s.observations(&r, 0.0, f64::MAX, usize::MAX).unwrap().iter().map(key).collect();
    assert_eq!(back, all.iter().map(key).collect::<Vec<_>>());
    let ranges: Vec<(i64, i64, i64)> = s.with_writer(|c| {
        let mut st = c
            .prepare("SELECT b.first_id, b.last_id, (SELECT COUNT(*) FROM obs o WHERE o.id BETWEEN b.first_id AND b.last_id) FROM obs_batches b ORDER BY first_id")
            .unwrap();
        let rows = st.query_map([], |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?))).unwrap();
        rows.map(Result::unwrap).collect()
    });
    assert_eq!(ranges.iter().map(|x| x.2).collect::<Vec<_>>(), vec![1, 63, 64, 65, 150, 128]);
    for w in ranges.windows(2) {
        assert_eq!(w[1].0, w[0].1 + 1, "{ranges:?}");
    }
    for (first, last, n) in ranges {
        assert_eq!(last - first + 1, n);
    }
}

/// The controller event log is read from the covering partial index alone, and a file
/// with the index's first form (on `(ref, time)` only) gets the covering one when opened.
#[test]
fn the_event_log_reads_the_covering_index_and_old_files_gain_it() {
    let db = TempDb::new("signal-index");
    let (net, r) = (corridor(), SensorRegistry::for_network(&corridor()));
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    s.append(&r, &conformance::all_kinds(&r, conformance::T0)).unwrap();
    let before = s.signal_events(city::IntersectionId(1), 0.0, f64::MAX, usize::MAX).unwrap();
    assert!(!before.is_empty());
    let plan = |s: &SqliteStore| -> String {
        s.with_writer(|c| {
            let mut st = c
                .prepare(
                    "EXPLAIN QUERY PLAN SELECT time, a, b FROM obs INDEXED BY obs_signal
                     WHERE kind = 5 AND ref = 1 AND time >= 0 AND time < 1e12 ORDER BY id",
                )
                .unwrap();
            let rows = st.query_map([], |x| x.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        })
    };
    assert!(plan(&s).contains("COVERING INDEX obs_signal"), "{}", plan(&s));
    // The first form, as an older build left it.
    s.with_writer(|c| {
        c.execute_batch("DROP INDEX obs_signal; CREATE INDEX obs_signal ON obs (ref, time) WHERE kind = 5").unwrap()
    });
    assert!(!plan(&s).contains("COVERING"), "{}", plan(&s));
    drop(s);
    let s = SqliteStore::open(&db.0, Retention::default(), &net).unwrap();
    assert!(plan(&s).contains("COVERING INDEX obs_signal"), "{}", plan(&s));
    assert_eq!(s.signal_events(city::IntersectionId(1), 0.0, f64::MAX, usize::MAX).unwrap(), before);
}

#[test]
fn the_store_is_a_pipeline_sink() {
    let db = TempDb::new("sink");
    let net = corridor();
    let registry = std::sync::Arc::new(SensorRegistry::for_network(&net));
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::open(&db.0, Retention::default(), &net).unwrap());
    let mut p = Pipeline::new(registry.clone(), PipelineConfig::default());
    p.add_sink(Box::new(StoreSink(store.clone())));
    let recs: Vec<RawRecord> =
        conformance::all_kinds(&registry, conformance::T0).iter().map(|o| to_wire(&registry, o).into()).collect();
    let rep = p.ingest(&recs, conformance::T0 + 100.0);
    assert_eq!((rep.accepted, rep.sink_errors.len()), (8, 0));
    assert_eq!(store.observations(&registry, 0.0, f64::MAX, 100).unwrap().len(), 8);
}

#[test]
fn truncation_marks_and_keeps_char_boundaries() {
    assert_eq!(agg::truncate_text("short", 10), "short");
    assert_eq!(agg::truncate_text("abcdef", 3), "abc…[truncated, 6 bytes total]");
    assert_eq!(agg::truncate_text("ééé", 3), "é…[truncated, 6 bytes total]");
}

/// Small integers (valid ids, counts) or any finite number.
fn num() -> impl Strategy<Value = f64> {
    prop_oneof![(-3i64..10).prop_map(|x| x as f64), -1e3f64..1e3]
}

#[test]
fn plate_values_are_redacted_defensively() {
    assert_eq!(
        agg::redact_plates(r#"{"kind":"plate","plate": "ZJ-A12345","road":"AB"}"#),
        r#"{"kind":"plate","plate": "[redacted]","road":"AB"}"#
    );
    assert_eq!(agg::redact_plates(r#"{"license_plate":"A\"B","x":1}"#), r#"{"license_plate":"[redacted]","x":1}"#);
    assert_eq!(agg::redact_plates(r#"{"plate":"unterminated"#), r#"{"plate":"[redacted]"#);
    assert_eq!(agg::redact_plates(r#"{"token":"0123","plate":7}"#), r#"{"token":"0123","plate":7}"#, "only string values");
    assert_eq!(agg::redact_plates("not json \"plate"), "not json \"plate");
}

proptest! {
    #[test]
    fn decoding_arbitrary_rows_never_panics(
        kind in -1i64..8, r in proptest::option::of(-3i64..8), road in proptest::option::of(-3i64..8),
        a in proptest::option::of(num()), b in proptest::option::of(num()),
        c in proptest::option::of(num()), d in proptest::option::of(num()),
        text in proptest::option::of("\\PC{0,20}"), end in any::<f64>(),
    ) {
        let net = corridor();
        let keys = Keys::new(&net, (0..4).collect(), (0..3).collect()).unwrap();
        let row = Row { kind, r#ref: r, road, a, b, c, d, text };
        if let Ok(Some(data)) = decode(&row, end, &keys) {
            let again = encode(&data, &keys).unwrap();
            prop_assert_eq!(again.kind, kind);
            prop_assert_eq!(decode(&again, end, &keys).unwrap(), Some(data));
        }
    }

    #[test]
    fn redaction_never_panics_and_keeps_plate_free_text(s in "\\PC{0,40}", key in proptest::sample::select(agg::PLATE_KEYS.to_vec())) {
        prop_assert_eq!(agg::redact_plates(&s), s.clone());
        let with = format!("{s}\"{key}\":\"{s}\"{s}");
        let out = agg::redact_plates(&with);
        prop_assert!(out.contains("[redacted]") || s.contains('"') || s.contains('\\'), "{}", out);
        let _ = agg::stored_raw(&with.repeat(200));
    }

    #[test]
    fn snapshot_blobs_round_trip_under_any_key_assignment(
        speeds in proptest::collection::vec(proptest::option::of(0.0f64..40.0), 4),
        perm in Just(vec![0i64, 1, 2, 3]).prop_shuffle(),
        offset in 0i64..5,
    ) {
        let net = corridor();
        let keys = Keys::new(&net, perm.iter().map(|k| k + offset).collect(), (0..3).collect()).unwrap();
        let st = conformance::snap(0.0, [speeds[0], speeds[1], speeds[2], speeds[3]], 1.0);
        let blob = agg::encode_speeds(&st, &keys);
        prop_assert_eq!(blob.len(), 4 * (4 + offset) as usize);
        let back = agg::decode_speeds(&blob, &keys).unwrap();
        prop_assert_eq!(back, speeds.iter().map(|v| v.map(|v| v as f32)).collect::<Vec<_>>());
    }
}
