//! Acknowledged only once durable: while the brain's store refuses writes (as a full
//! disk would) the bridge acknowledges nothing, so the broker keeps the message; when
//! the store recovers the broker redelivers it to the persistent session and it is
//! stored, once. Had the bridge acknowledged the failed batch, the records would be lost.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brain::Brain;
use common::*;
use sense::{EventCode, Observation, Rejected, SensorRegistry};
use state::CityState;
use store::*;

/// A SQLite store whose data writes fail with `Full` while `full` is set.
struct Flaky {
    inner: SqliteStore,
    full: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.full.load(Ordering::Relaxed) {
            Err(StoreError::full("database or disk is full (injected)"))
        } else {
            Ok(())
        }
    }
}

impl Store for Flaky {
    fn append(&self, registry: &SensorRegistry, obs: &[Observation]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.append(registry, obs)
    }
    fn append_identified(&self, r: &SensorRegistry, obs: &[Observation], ids: &[Option<&str>]) -> Result<Vec<bool>, StoreError> {
        self.check()?;
        self.inner.append_identified(r, obs, ids)
    }
    fn known_record_ids(&self, keys: &[(&str, f64, &str)]) -> Result<Vec<bool>, StoreError> {
        self.inner.known_record_ids(keys)
    }
    fn append_snapshot(&self, s: &CityState) -> Result<(), StoreError> {
        self.inner.append_snapshot(s)
    }
    fn append_plan(&self, time: f64, intersection: &str, plan_json: &str) -> Result<(), StoreError> {
        self.inner.append_plan(time, intersection, plan_json)
    }
    fn append_rejected(&self, time: f64, rejected: &[Rejected]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.append_rejected(time, rejected)
    }
    fn set_retention(&self, retention: store::Retention) {
        self.inner.set_retention(retention)
    }
    fn prune(&self, now: f64) -> Result<PruneReport, StoreError> {
        self.inner.prune(now)
    }
    fn history(&self, scope: &Scope, from: f64, to: f64, res: Resolution, limit: usize) -> Result<Vec<HistoryPoint>, StoreError> {
        self.inner.history(scope, from, to, res, limit)
    }
    fn observations(&self, registry: &SensorRegistry, from: f64, to: f64, limit: usize) -> Result<Vec<Observation>, StoreError> {
        self.inner.observations(registry, from, to, limit)
    }
    fn signal_events(
        &self,
        i: twin::IntersectionId,
        from: f64,
        to: f64,
        limit: usize,
    ) -> Result<Vec<(f64, EventCode, u32)>, StoreError> {
        self.inner.signal_events(i, from, to, limit)
    }
    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        self.inner.latest_snapshot()
    }
    fn snapshot_at(&self, t: f64) -> Result<Option<StoredSnapshot>, StoreError> {
        self.inner.snapshot_at(t)
    }
    fn rejected(&self, before: Option<u64>, limit: usize) -> Result<Vec<StoredRejection>, StoreError> {
        self.inner.rejected(before, limit)
    }
    fn plans(&self, intersection: Option<&str>, from: f64, to: f64) -> Result<Vec<StoredPlan>, StoreError> {
        self.inner.plans(intersection, from, to)
    }
    fn last_time(&self) -> Result<Option<f64>, StoreError> {
        self.inner.last_time()
    }
    fn health(&self) -> Result<(), StoreError> {
        self.check()?;
        self.inner.health()
    }
}

#[test]
fn nothing_is_acknowledged_until_it_is_durable() {
    let dir = std::env::temp_dir().join(unique("citybrain-mqtt-durable"));
    std::fs::create_dir_all(&dir).unwrap();
    let (gov, transport, _) = gov_and_tokens(&dir);
    let net = sense::testnet::corridor();
    let cfg = brain_config(&dir);
    let flaky = Arc::new(Flaky {
        inner: SqliteStore::open(&cfg.db_path, Retention::default(), &net).unwrap(),
        full: AtomicBool::new(true),
    });
    let brain = Brain::with_store(net, &cfg, flaky.clone(), Box::new(governance::Access(gov.clone())));
    let prefix = unique("cbtest");
    let mcfg = config(&prefix);
    let bridge = mqtt::Bridge::start(&brain, mcfg.clone(), gov).unwrap();
    assert!(bridge.wait_subscribed(std::time::Duration::from_secs(20)), "the bridge subscribed");
    let mut dev = Device::connect(&[]);
    let records =
        vec![loop_record("loop:AB:0", Some("d1"), NOW - 5.0, 8.0), loop_record("loop:BC:0", Some("d2"), NOW - 5.0, 8.0)];
    let body = serde_json::to_vec(&serde_json::json!({"token": transport, "observations": records})).unwrap();
    dev.publish_acked(&format!("{prefix}/transport-bureau/observations"), &body);
    eventually("the store to refuse the batch", || bridge.stats.get(|s| &s.store_failures) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(brain.counters().accepted, 0);
    assert_eq!(bridge.stats.get(|s| &s.acked), 0, "nothing acknowledged while the store fails");
    flaky.full.store(false, Ordering::Relaxed);
    eventually("the redelivered batch stored", || brain.counters().accepted == 2);
    eventually("its acknowledgement", || bridge.stats.get(|s| &s.acked) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(brain.counters().accepted, 2, "stored once");
    finish(bridge, &mcfg);
    let _ = std::fs::remove_dir_all(&dir);
}
