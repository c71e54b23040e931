//! The live City Brain: the twin plays the city in (scaled) real time, its virtual
//! sensors send wire records through the same ingestion pipeline as HTTP, the state
//! estimator and the SQLite store consume accepted observations, and every few seconds
//! the state is stored and pushed to the [`Hub`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sense::{Observation, ObservationSink, Pipeline, PipelineConfig, RawRecord, SensorRegistry, SinkError};
use state::{CityState, StateConfig, StateEstimator};
use store::{Resolution, Retention, Scope, SqliteStore, Store};
use twin::sensors::{SensorConfig, VirtualSensors};
use twin::{Network, Sim};

use crate::api::{self, HistoryResponse, IngestResponse, IngestResult, LiveState};
use crate::Hub;

/// A signal controller driven each step by the brain (e.g. an adaptive policy behind the
/// safety layer). `None` runs the roadnet's fixed plans.
pub type Controller = Box<dyn FnMut(&mut Sim)>;

pub struct LiveConfig {
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
    /// SQLite file of the brain.
    pub db_path: PathBuf,
    pub retention: Retention,
    /// Seconds between state estimates (simulated).
    pub state_interval_s: f64,
    /// City clock at the twin's time 0, seconds since midnight (unless the store already
    /// holds later data: then the clock continues from there).
    pub day_start_s: f64,
    /// Stop after this many simulated seconds.
    pub duration_s: Option<f64>,
    pub sensors: SensorConfig,
}

/// Errors starting the brain.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("storage {path}: {source}")]
    Store { path: String, source: store::StoreError },
}

/// Collects the accepted observations of the batch being ingested, so that the store
/// write happens after the pipeline lock is released (validation of the next batch
/// overlaps the SQLite commit of this one) but still before the HTTP response.
struct StagingSink(Arc<Mutex<Vec<Observation>>>);
impl ObservationSink for StagingSink {
    fn accept(&mut self, batch: &[Observation], _: &SensorRegistry) -> Result<(), SinkError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(batch);
        Ok(())
    }
}

struct StateSink(Arc<Mutex<StateEstimator>>);
impl ObservationSink for StateSink {
    fn accept(&mut self, batch: &[Observation], _: &SensorRegistry) -> Result<(), SinkError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).observe_all(batch);
        Ok(())
    }
}

/// (name, plan phase, phase count, serving a through or left movement).
type SignalRow = (String, Option<usize>, usize, bool);

/// The brain's shared parts; implements the HTTP [`crate::Backend`].
pub struct Brain {
    pub net: Arc<Network>,
    pub registry: Arc<SensorRegistry>,
    pipeline: Mutex<Pipeline>,
    staged: Arc<Mutex<Vec<Observation>>>,
    store: Arc<Mutex<SqliteStore>>,
    estimator: Arc<Mutex<StateEstimator>>,
    pub hub: Arc<Hub>,
    /// Latest city clock (f64 bits).
    clock: AtomicU64,
    /// Per signalised intersection: (name, plan phase if on the plan, phase count,
    /// whether any through or left movement has green).
    signals: RwLock<Vec<SignalRow>>,
    sink_errors: AtomicU64,
}

impl Brain {
    pub fn open(net: Network, cfg: &LiveConfig) -> Result<Arc<Brain>, LiveError> {
        let store = SqliteStore::open(&cfg.db_path, cfg.retention.clone())
            .map_err(|source| LiveError::Store { path: cfg.db_path.display().to_string(), source })?;
        let registry = Arc::new(SensorRegistry::for_network(&net));
        let estimator = Arc::new(Mutex::new(StateEstimator::new(&net, StateConfig::default())));
        let store = Arc::new(Mutex::new(store));
        let mut pipeline = Pipeline::new(registry.clone(), PipelineConfig::default());
        pipeline.add_sink(Box::new(StateSink(estimator.clone())));
        let staged = Arc::new(Mutex::new(Vec::new()));
        pipeline.add_sink(Box::new(StagingSink(staged.clone())));
        let hub = Hub::new(&net);
        Ok(Arc::new(Brain {
            net: Arc::new(net),
            registry,
            pipeline: Mutex::new(pipeline),
            staged,
            store,
            estimator,
            hub,
            clock: AtomicU64::new(0f64.to_bits()),
            signals: RwLock::new(Vec::new()),
            sink_errors: AtomicU64::new(0),
        }))
    }

    /// Latest simulated time held in the store, if any (restart continuity).
    pub fn stored_until(&self) -> Option<f64> {
        self.store.lock().unwrap_or_else(|e| e.into_inner()).last_time().ok().flatten()
    }

    pub fn now(&self) -> f64 {
        f64::from_bits(self.clock.load(Ordering::Relaxed))
    }

    fn set_now(&self, t: f64) {
        self.clock.store(t.to_bits(), Ordering::Relaxed);
    }

    /// Move the clock forward to `t` if it is later (observations drive the clock when no
    /// twin runs).
    fn advance_clock(&self, t: f64) {
        let _ = self.clock.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| (t > f64::from_bits(b)).then(|| t.to_bits()));
    }

    /// Run records through the one ingestion pipeline; rejections are also stored.
    /// Returns once the accepted records are committed to the store (see [`store`] for
    /// the durability level).
    pub fn ingest_records(&self, records: &[RawRecord]) -> sense::IngestReport {
        let mut p = self.pipeline.lock().unwrap_or_else(|e| e.into_inner());
        let mut report = p.ingest(records);
        let accepted = std::mem::take(&mut *self.staged.lock().unwrap_or_else(|e| e.into_inner()));
        let rejected: Vec<_> = if report.rejected > 0 {
            let all: Vec<_> = p.rejected().cloned().collect();
            all[all.len().saturating_sub(report.rejected)..].to_vec()
        } else {
            Vec::new()
        };
        drop(p);
        if let Some(latest) = accepted.iter().map(|o| o.time).max_by(f64::total_cmp) {
            self.advance_clock(latest);
        }
        if !accepted.is_empty() || !rejected.is_empty() {
            let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = store.append(&self.registry, &accepted) {
                report.sink_errors.push(SinkError { sink: "store".into(), message: e.to_string() });
            }
            if !rejected.is_empty() {
                if let Err(e) = store.append_rejected(self.now(), &rejected) {
                    tracing::warn!("storing rejected records: {e}");
                }
            }
        }
        if !report.sink_errors.is_empty() {
            self.sink_errors.fetch_add(report.sink_errors.len() as u64, Ordering::Relaxed);
            for e in &report.sink_errors {
                tracing::warn!("{e}");
            }
        }
        report
    }

    /// Estimate state now, store it and publish it. `vehicles` and `trips` come from the
    /// twin (0 without one).
    pub fn publish_state(&self, now: f64, vehicles: u64, trips: u64) {
        let state = self.estimator.lock().unwrap_or_else(|e| e.into_inner()).update(now).clone();
        if let Err(e) = self.store.lock().unwrap_or_else(|e| e.into_inner()).append_snapshot(&state) {
            tracing::warn!("storing snapshot: {e}");
        }
        let live = self.to_live(&state, vehicles, trips);
        self.hub.publish(live);
    }

    fn to_live(&self, s: &CityState, vehicles: u64, trips: u64) -> LiveState {
        let r1 = |v: f64| (v * 10.0).round() / 10.0;
        let signals = self.signals.read().unwrap_or_else(|e| e.into_inner());
        let signal_of = |name: &str| signals.iter().find(|(n, _, _, _)| n == name).map(|(_, p, _, g)| (*p, *g));
        LiveState {
            city: api::CityKpis {
                time_s: s.time,
                delay_index: s.city.delay_index.unwrap_or(1.0),
                tpi: s.city.tpi,
                tpi_grade: s.city.tpi_grade.as_str().to_string(),
                average_speed_kmh: s.city.mean_speed.map(|v| v * 3.6).unwrap_or(0.0),
                vehicles,
                trips_finished: trips,
                congested_share: s.city.congested_share,
            },
            roads: s
                .roads
                .iter()
                .map(|r| api::RoadState {
                    id: self.net.road(r.road).name.clone(),
                    speed_kmh: r.speed.map(|v| r1(v * 3.6)),
                    tti: r.tti.map(|t| (t * 100.0).round() / 100.0),
                    grade: r.grade.map(|g| g.as_str()).unwrap_or("unknown").to_string(),
                })
                .collect(),
            intersections: s
                .intersections
                .iter()
                .map(|i| {
                    let name = &self.net.intersection(i.intersection).name;
                    api::IntersectionState {
                        id: name.clone(),
                        delay_s: i.delay_s.map(r1),
                        queue: i.waiting,
                        phase: signal_of(name).and_then(|(p, _)| p),
                        signal: match signal_of(name) {
                            Some((_, true)) => "green",
                            Some((_, false)) => "clearance",
                            None => "none",
                        }
                        .to_string(),
                    }
                })
                .collect(),
        }
    }

    fn scope(&self, scope: &str) -> Result<Vec<Scope>, String> {
        let (kind, id) = scope.split_once(':').unwrap_or((scope, ""));
        match kind {
            "city" => Ok(vec![Scope::City]),
            "area" => Ok(vec![Scope::Area(id.to_string())]),
            "road" => {
                self.net.road_by_name(id).map(|r| vec![Scope::Road(r)]).ok_or_else(|| format!("scope: unknown road {id:?}"))
            }
            "intersection" => {
                let i = self.net.intersection_by_name(id).ok_or_else(|| format!("scope: unknown intersection {id:?}"))?;
                let roads: Vec<Scope> = self
                    .net
                    .roads
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.to == i)
                    .map(|(k, _)| Scope::Road(twin::RoadId(k as u32)))
                    .collect();
                Ok(roads)
            }
            _ => Err(format!("scope: expected city, road:ID, area:NAME or intersection:ID, got {scope:?}")),
        }
    }
}

impl crate::Backend for Brain {
    fn ingest(&self, body: &[u8]) -> Result<crate::Ingested, String> {
        let records = sense::parse_batch(body).map_err(|e| e.to_string())?;
        let report = self.ingest_records(&records);
        let stored = report.sink_errors.is_empty();
        let response = IngestResponse {
            accepted: report.accepted,
            rejected: report.rejected,
            results: report
                .results
                .into_iter()
                .map(|(index, r)| match r {
                    Ok(()) => IngestResult { index, status: "accepted".into(), error: None },
                    Err(e) => IngestResult { index, status: "rejected".into(), error: Some(e) },
                })
                .collect(),
        };
        Ok(crate::Ingested { response, stored })
    }

    fn atspm_csv(&self, intersection: &str, from: f64, to: f64) -> Result<String, String> {
        let i = self.net.intersection_by_name(intersection).ok_or_else(|| format!("intersection: unknown {intersection:?}"))?;
        let events =
            self.store.lock().unwrap_or_else(|e| e.into_inner()).signal_events(i, from, to).map_err(|e| e.to_string())?;
        // City clock seconds since midnight of 2026-01-01 (the twin's day 0).
        let mut out = String::from("TimeStamp,DeviceId,EventId,Parameter\n");
        for (t, code, param) in events {
            let day = (t / 86_400.0).floor();
            let s = t - day * 86_400.0;
            let (h, m, sec) = ((s / 3600.0).floor(), ((s % 3600.0) / 60.0).floor(), s % 60.0);
            let date = day_to_date(day as i64);
            out.push_str(&format!("{date} {h:02}:{m:02}:{sec:06.3},{intersection},{},{param}\n", code.code()));
        }
        Ok(out)
    }

    fn history(&self, scope: &str, from: f64, to: f64, resolution_s: f64) -> Result<HistoryResponse, String> {
        let scopes = self.scope(scope)?;
        let res = if resolution_s < 60.0 {
            Resolution::Snapshot
        } else if resolution_s < 900.0 {
            Resolution::Minute
        } else {
            Resolution::FifteenMinutes
        };
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        // Several scopes (an intersection's approaches) are averaged per time.
        let mut acc: std::collections::BTreeMap<i64, (f64, u32, f64, u32, f64)> = Default::default();
        // Include the bucket (or snapshot) that contains `to`: the store's window is
        // half-open, and a client asking up to "now" wants the current minute too.
        let upper = to + res.seconds().unwrap_or(1e-6);
        for sc in &scopes {
            for p in store.history(sc, from, upper, res).map_err(|e| e.to_string())? {
                if p.time > to {
                    continue;
                }
                let e = acc.entry((p.time * 1000.0).round() as i64).or_insert((0.0, 0, 0.0, 0, 0.0));
                if let Some(v) = p.speed {
                    e.0 += v;
                    e.1 += 1;
                }
                if let Some(d) = p.delay_index {
                    e.2 += d;
                    e.3 += 1;
                }
                e.4 += p.count.unwrap_or(0) as f64;
            }
        }
        let points = acc
            .into_iter()
            .map(|(t, (sp, ns, di, nd, count))| api::HistoryPoint {
                t: t as f64 / 1000.0,
                speed_kmh: (ns > 0).then(|| sp / ns as f64 * 3.6),
                count: Some(count),
                delay_index: (nd > 0).then(|| di / nd as f64),
            })
            .collect();
        Ok(HistoryResponse { scope: scope.to_string(), from, to, resolution_s: res.seconds().unwrap_or(resolution_s), points })
    }

    fn signals(&self) -> serde_json::Value {
        let signals = self.signals.read().unwrap_or_else(|e| e.into_inner());
        let list: Vec<_> = signals
            .iter()
            .map(|(name, phase, n, _)| {
                let i = self.net.intersection_by_name(name).map(|i| self.net.intersection(i));
                let plan: Vec<_> = i
                    .map(|i| {
                        i.phases
                            .iter()
                            .map(|p| {
                                let green: Vec<usize> = p.green.iter().enumerate().filter(|(_, g)| **g).map(|(k, _)| k).collect();
                                serde_json::json!({"duration_s": p.duration, "green_movements": green})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({"id": name, "phase": phase, "phases": n, "plan": plan})
            })
            .collect();
        serde_json::json!({ "time_s": self.now(), "signals": list })
    }

    fn sensors(&self) -> serde_json::Value {
        let list: Vec<_> = self
            .registry
            .sensors()
            .map(|(_, s)| {
                serde_json::json!({
                    "id": s.id, "kind": s.kind.as_str(), "owner": s.owner, "location": s.location.label,
                    "point": s.location.point.map(|p| [p.x, p.y]),
                })
            })
            .collect();
        serde_json::json!({ "count": list.len(), "sensors": list })
    }

    fn rejected(&self) -> serde_json::Value {
        let p = self.pipeline.lock().unwrap_or_else(|e| e.into_inner());
        let (acc, rej) = (p.total_accepted(), p.total_rejected());
        let stored = self.store.lock().unwrap_or_else(|e| e.into_inner()).rejected(100).unwrap_or_default();
        let list: Vec<_> = stored
            .iter()
            .map(|r| serde_json::json!({"time_s": r.time, "batch": r.batch, "index": r.index, "error": r.error, "raw": r.raw}))
            .collect();
        serde_json::json!({ "total_accepted": acc, "total_rejected": rej, "recent": list })
    }

    fn snapshot_at(&self, t: f64) -> Option<LiveState> {
        let snap = self.store.lock().unwrap_or_else(|e| e.into_inner()).snapshot_at(t).ok().flatten()?;
        let est = self.estimator.lock().unwrap_or_else(|e| e.into_inner());
        let cfg = est.config().clone();
        drop(est);
        let roads = snap
            .road_speeds
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let r = twin::RoadId(k as u32);
                let class = api::road_class(&self.net, r);
                let th = cfg.thresholds(if class == "arterial" { state::RoadClass::Arterial } else { state::RoadClass::Local });
                api::RoadState {
                    id: self.net.road(r).name.clone(),
                    speed_kmh: v.map(|v| (v as f64 * 36.0).round() / 10.0),
                    tti: None,
                    grade: v.map(|v| th.grade(v as f64).as_str()).unwrap_or("unknown").to_string(),
                }
            })
            .collect();
        Some(LiveState {
            city: api::CityKpis {
                time_s: snap.time,
                delay_index: snap.delay_index.unwrap_or(1.0),
                tpi: snap.tpi,
                tpi_grade: state::TpiGrade::of(snap.tpi).as_str().to_string(),
                average_speed_kmh: snap.mean_speed.unwrap_or(0.0) * 3.6,
                vehicles: 0,
                trips_finished: 0,
                congested_share: snap.congested_share,
            },
            roads,
            intersections: Vec::new(),
        })
    }

    fn prometheus(&self, out: &mut String) {
        let p = self.pipeline.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str(&format!(
            "# HELP citybrain_observations_accepted_total Observations accepted by the pipeline.\n\
             # TYPE citybrain_observations_accepted_total counter\ncitybrain_observations_accepted_total {}\n\
             # HELP citybrain_observations_rejected_total Observations rejected by validation.\n\
             # TYPE citybrain_observations_rejected_total counter\ncitybrain_observations_rejected_total {}\n\
             # HELP citybrain_sink_errors_total Failed deliveries to the store or estimator.\n\
             # TYPE citybrain_sink_errors_total counter\ncitybrain_sink_errors_total {}\n",
            p.total_accepted(),
            p.total_rejected(),
            self.sink_errors.load(Ordering::Relaxed)
        ));
    }
}

/// `YYYY-MM-DD` of day `d` counted from 2026-01-01 (proleptic Gregorian).
fn day_to_date(d: i64) -> String {
    // Days from 1970-01-01 to 2026-01-01 is 20,454; civil-from-days (H. Hinnant).
    let z = d + 20_454 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Without a twin: estimate and publish state every `interval` of wall time at the clock
/// of the latest observation, until `stop` is set.
pub fn run_publisher(brain: Arc<Brain>, interval: Duration, stop: Arc<AtomicBool>) {
    let tick = Duration::from_millis(50).min(interval);
    let mut last = f64::NEG_INFINITY;
    let mut due = Instant::now() + interval;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        if Instant::now() < due {
            continue;
        }
        due += interval;
        let now = brain.now();
        if now > last && now > 0.0 {
            last = now;
            brain.publish_state(now, 0, 0);
        }
    }
}

/// Whether any through or left movement of `i` has green (else it is in clearance).
fn serving(sim: &Sim, i: twin::IntersectionId) -> bool {
    let net = sim.network();
    net.intersection(i).movements.iter().any(|&m| net.movement(m).turn != twin::Turn::Right && sim.movement_green(m))
}

/// Run the twin against the brain until `stop` is set (or the configured duration ends).
/// Returns the number of simulated steps.
pub fn run_twin(
    brain: Arc<Brain>,
    mut sim: Sim,
    mut control: Option<Controller>,
    cfg: &LiveConfig,
    stop: Arc<AtomicBool>,
) -> u64 {
    let mut sensors = VirtualSensors::new(&sim, cfg.sensors.clone());
    // Continue the city clock after whatever the store already holds.
    let day_start = match brain.stored_until() {
        Some(t) if t >= cfg.day_start_s => t + cfg.state_interval_s,
        _ => cfg.day_start_s,
    };
    let signalised: Vec<_> = (0..sim.network().intersections.len())
        .map(|k| twin::IntersectionId(k as u32))
        .filter(|&i| sim.network().intersection(i).is_signalised())
        .collect();
    let names: Vec<(String, usize)> = signalised
        .iter()
        .map(|&i| (sim.network().intersection(i).name.clone(), sim.network().intersection(i).phases.len()))
        .collect();
    let mut readings = Vec::new();
    let mut records = Vec::new();
    let start = Instant::now();
    let mut next_state = cfg.state_interval_s;
    let mut next_prune = 3600.0;
    let mut steps = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if cfg.duration_s.is_some_and(|d| sim.time() >= d) {
            break;
        }
        let target = start.elapsed().as_secs_f64() * cfg.speed;
        if sim.time() + sim.dt() > target {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        if let Some(c) = control.as_mut() {
            c(&mut sim);
        }
        sim.step();
        steps += 1;
        let now = sim.time() + day_start;
        brain.set_now(now);
        readings.clear();
        sensors.observe(&sim, &mut readings);
        records.clear();
        records.extend(readings.iter().filter_map(|r| sense::from_reading(r, &brain.registry, day_start)).map(RawRecord::from));
        if !records.is_empty() {
            brain.ingest_records(&records);
        }
        if sim.time() >= next_state {
            next_state += cfg.state_interval_s;
            *brain.signals.write().unwrap_or_else(|e| e.into_inner()) = signalised
                .iter()
                .zip(&names)
                .map(|(&i, (n, np))| (n.clone(), sim.current_phase(i), *np, serving(&sim, i)))
                .collect();
            let m = sim.metrics();
            brain.publish_state(now, m.vehicles_running, m.throughput);
        }
        if sim.time() >= next_prune {
            next_prune += 3600.0;
            if let Err(e) = brain.store.lock().unwrap_or_else(|e| e.into_inner()).prune(now) {
                tracing::warn!("prune: {e}");
            }
        }
    }
    // Tell the HTTP side the twin has finished (duration reached).
    stop.store(true, Ordering::Relaxed);
    steps
}
