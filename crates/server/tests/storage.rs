//! A real brain whose SQLite store fails on demand (a wrapper that refuses writes as a
//! full disk would), over real HTTP on loopback: `/healthz` turns 503, an ingest answer
//! is a 503 that calls no record accepted, the counters count stored records only, and
//! reads that fail in storage are 503s, never 4xx. Everything recovers when the disk does.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use brain::{Brain, BrainConfig, OpenAccess};
use common::*;
use sense::{EventCode, Observation, Rejected, SensorRegistry};
use serde_json::{json, Value};
use state::CityState;
use store::*;

/// A SQLite store that fails every call with `Full` while `full` is set.
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
    fn append_snapshot(&self, s: &CityState) -> Result<(), StoreError> {
        self.check()?;
        self.inner.append_snapshot(s)
    }
    fn append_plan(&self, time: f64, intersection: &str, plan_json: &str) -> Result<(), StoreError> {
        self.check()?;
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
        self.check()?;
        self.inner.prune(now)
    }
    fn history(&self, scope: &Scope, from: f64, to: f64, res: Resolution, limit: usize) -> Result<Vec<HistoryPoint>, StoreError> {
        self.check()?;
        self.inner.history(scope, from, to, res, limit)
    }
    fn observations(&self, registry: &SensorRegistry, from: f64, to: f64, limit: usize) -> Result<Vec<Observation>, StoreError> {
        self.check()?;
        self.inner.observations(registry, from, to, limit)
    }
    fn signal_events(
        &self,
        i: twin::IntersectionId,
        from: f64,
        to: f64,
        limit: usize,
    ) -> Result<Vec<(f64, EventCode, u32)>, StoreError> {
        self.check()?;
        self.inner.signal_events(i, from, to, limit)
    }
    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        self.check()?;
        self.inner.latest_snapshot()
    }
    fn snapshot_at(&self, t: f64) -> Result<Option<StoredSnapshot>, StoreError> {
        self.check()?;
        self.inner.snapshot_at(t)
    }
    fn rejected(&self, before: Option<u64>, limit: usize) -> Result<Vec<StoredRejection>, StoreError> {
        self.check()?;
        self.inner.rejected(before, limit)
    }
    fn plans(&self, intersection: Option<&str>, from: f64, to: f64) -> Result<Vec<StoredPlan>, StoreError> {
        self.check()?;
        self.inner.plans(intersection, from, to)
    }
    fn last_time(&self) -> Result<Option<f64>, StoreError> {
        self.check()?;
        self.inner.last_time()
    }
    fn health(&self) -> Result<(), StoreError> {
        self.check()?;
        self.inner.health()
    }
}

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn a_full_disk_is_503_everywhere_and_never_accepted() {
    let dir = std::env::temp_dir().join(format!("citybrain-storage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let c = city();
    let cfg = BrainConfig::new(dir.join("brain.sqlite"));
    let flaky = Arc::new(Flaky {
        inner: SqliteStore::open(&cfg.db_path, cfg.retention.clone(), &c.network).unwrap(),
        full: AtomicBool::new(false),
    });
    let brain = Brain::with_store(c.network.clone(), &cfg, flaky.clone(), Box::new(OpenAccess));
    let hub = server::Hub::new(&brain.net);
    server::attach(&brain, hub.clone());
    let (addr, _rt) = serve_with(hub, brain.clone(), server::HttpConfig { web_dir: web_dir(), ..Default::default() });

    let get = |p: &str| {
        let (status, _, body) = raw(addr, &format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        (status, body)
    };
    let post = |body: &str| {
        let (status, _, b) = raw(addr, &format!("POST /api/v1/observations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
        (status, json_of(&b))
    };
    let sensors = json_of(&get("/api/v1/sensors").1);
    let lp = sensors["sensors"].as_array().unwrap().iter().find(|s| s["kind"] == "loop").unwrap()["id"].clone();
    let batch = |t: f64| {
        json!({"observations": [
            {"sensor": lp, "kind": "loop", "time": t, "start": t - 30.0, "end": t, "count": 4, "occupancy": 0.1, "speed": 9.5},
            {"sensor": lp, "kind": "loop", "time": t, "start": t - 30.0, "end": t, "count": 4, "occupancy": 7.0}
        ]})
        .to_string()
    };
    let metric = |name: &str| -> f64 {
        let m = get("/metrics").1;
        m.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).unwrap_or_else(|| panic!("{name} missing")).parse().unwrap()
    };

    // Times near the brain's wall clock (records beyond its accepted window are rejected).
    let t0 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() - 200.0;
    assert_eq!(get("/healthz").0, 200);
    let (status, r) = post(&batch(t0));
    assert_eq!((status, r["accepted"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(metric("citybrain_observations_accepted_total"), 1.0);

    // The disk fills up.
    flaky.full.store(true, Ordering::Relaxed);
    let (status, body) = get("/healthz");
    assert_eq!(status, 503, "{body}");
    let h = json_of(&body);
    assert_eq!(h["storage"]["status"], "unavailable");
    assert!(h["storage"]["error"].as_str().unwrap().contains("full"), "{h}");
    for k in 0..3 {
        let (status, r) = post(&batch(t0 + 10.0 + k as f64));
        assert_eq!(status, 503, "{r}");
        assert_eq!(r["accepted"], 0, "{r}");
        let statuses: Vec<&str> = r["results"].as_array().unwrap().iter().map(|x| x["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["not_stored", "rejected"], "{r}");
    }
    assert_eq!(metric("citybrain_observations_accepted_total"), 1.0, "counted records that were never stored");
    // Reads that fail in storage are 503 with the problem body, not 400.
    for p in ["/api/v1/history?scope=city", "/api/v1/rejected", "/api/v1/snapshot?t=30000"] {
        let (status, body) = get(p);
        assert_eq!(status, 503, "{p}: {body}");
        assert_eq!(json_of(&body)["error"]["code"], "storage_unavailable", "{p}");
    }
    let id = c.network.intersections.iter().find(|i| i.is_signalised()).unwrap().name.clone();
    assert_eq!(get(&format!("/api/v1/signals/events?intersection={id}&from=29000&to=30000")).0, 503);

    // Space again.
    flaky.full.store(false, Ordering::Relaxed);
    assert_eq!(get("/healthz").0, 200);
    let (status, r) = post(&batch(t0 + 100.0));
    assert_eq!((status, r["accepted"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(metric("citybrain_observations_accepted_total"), 2.0);
    std::fs::remove_dir_all(&dir).ok();
}
