//! [`Brain`]: the runtime's shared parts and its calls.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use sense::{CityZone, EventCode, Observation, ObservationSink, Pipeline, PipelineConfig, RawRecord, SensorRegistry, SinkError};
use state::{CityState, StateConfig, StateEstimator};
use store::{Resolution, Retention, SqliteStore, Store, StoreError, StoredSnapshot};
use twin::sensors::SensorConfig;
use twin::{IntersectionId, Network};

use crate::access::{Action, Authorizer, Caller, Decision, Denied, OpenAccess};
use crate::bus::{Bus, BusMessage, Command, Event, SignalStatus, Tick};
use crate::plugin::{Context, Plugin};

mod reads;

/// Where the brain's clock comes from. Times are Unix seconds, UTC (see `sense::time`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// The system's wall clock: a brain fed by real devices (`serve` without a twin).
    Wall,
    /// Driven forward by [`Brain::drive_clock`]: the twin loop (the demo, or `serve` with
    /// a twin), a replay, a test. Starts at [`BrainConfig::day_start_s`].
    Driven,
}

/// Seconds since 1970-01-01T00:00:00Z now, from the system clock.
pub fn wall_clock() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// How the runtime is set up.
#[derive(Clone, Debug)]
pub struct BrainConfig {
    /// Simulated seconds per wall-clock second (twin only).
    pub speed: f64,
    /// SQLite file of the brain.
    pub db_path: PathBuf,
    pub retention: Retention,
    /// Seconds between state estimates (city clock).
    pub state_interval_s: f64,
    /// Unix seconds of the twin's time 0 (unless the store already holds later data: then
    /// the clock continues from there); also where a [`ClockSource::Driven`] clock starts.
    pub day_start_s: f64,
    /// The brain's clock: the wall clock, or driven by the twin.
    pub clock: ClockSource,
    /// The city's time zone: civil dates in exports and ATSPM logs, the demo's day, the
    /// midnight at which plate keys rotate.
    pub timezone: CityZone,
    /// Ingestion rules: skew and age bounds against the clock, the rejected ring's bounds.
    pub pipeline: PipelineConfig,
    /// Stop the twin after this many simulated seconds.
    pub duration_s: Option<f64>,
    pub sensors: SensorConfig,
    /// Events kept in memory for `events()`.
    pub event_ring: usize,
}

impl BrainConfig {
    /// Defaults for a brain storing into `db_path`: on the wall clock, in the default
    /// time zone (`Asia/Shanghai`); a twin would start now.
    pub fn new(db_path: impl Into<PathBuf>) -> BrainConfig {
        BrainConfig {
            speed: 1.0,
            db_path: db_path.into(),
            retention: Retention::default(),
            state_interval_s: 5.0,
            day_start_s: wall_clock(),
            clock: ClockSource::Wall,
            timezone: CityZone::default(),
            pipeline: PipelineConfig::default(),
            duration_s: None,
            sensors: SensorConfig::default(),
            event_ring: 1000,
        }
    }
}

/// Why a runtime call failed. The edge maps each to its status (400, 403, 404, 422, 503).
#[derive(Debug, thiserror::Error)]
pub enum BrainError {
    /// The request itself cannot be read (a body that is not a batch).
    #[error("{0}")]
    Malformed(String),
    /// A named entity (road, intersection, scope) does not exist.
    #[error("{0}")]
    UnknownEntity(String),
    /// Well-formed but not acceptable (a window too long, a bad parameter).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Storage cannot serve the call now.
    #[error("storage unavailable: {0}")]
    Storage(#[from] StoreError),
}

/// Collects the accepted observations of the batch being ingested, so that the store
/// write happens after the pipeline lock is released (validation of the next batch
/// overlaps the commit of this one) but still before the acknowledgement.
struct StagingSink(Arc<Mutex<Vec<Observation>>>);
impl ObservationSink for StagingSink {
    fn accept(&mut self, batch: &[Observation], _: &SensorRegistry) -> Result<(), SinkError> {
        lock(&self.0).extend_from_slice(batch);
        Ok(())
    }
}

struct StateSink(Arc<Mutex<StateEstimator>>);
impl ObservationSink for StateSink {
    fn accept(&mut self, batch: &[Observation], _: &SensorRegistry) -> Result<(), SinkError> {
        lock(&self.0).observe_all(batch);
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The outcome of one ingestion call.
#[derive(Debug)]
pub struct IngestOutcome {
    pub report: sense::IngestReport,
    /// Whether the accepted records reached durable storage (if not, nothing of the
    /// batch may be called accepted: the client must retry).
    pub stored: bool,
    /// Records recognised as already stored (same sensor and record id) and not stored
    /// again; they are counted as accepted in the report.
    pub duplicates: usize,
}

/// One point of a history answer (several scopes averaged per time).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPoint {
    pub time: f64,
    /// m/s
    pub speed: Option<f64>,
    pub count: u64,
    pub delay_index: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HistorySeries {
    pub resolution: Resolution,
    pub points: Vec<HistoryPoint>,
}

/// A stored snapshot for replay, with the grading thresholds to grade its roads.
#[derive(Clone, Debug)]
pub struct Replay {
    pub snapshot: StoredSnapshot,
    pub state_config: StateConfig,
}

/// Runtime counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Records validated and durably stored (a batch the store refused counts nothing).
    pub accepted: u64,
    pub rejected: u64,
    pub sink_errors: u64,
    pub events: u64,
    pub commands: u64,
    pub plugin_panics: u64,
}

struct PluginSlot {
    plugin: Box<dyn Plugin>,
    enabled: bool,
}

/// The live City Brain: everything the edge and the twin loop talk to.
pub struct Brain {
    pub net: Arc<Network>,
    pub registry: Arc<SensorRegistry>,
    pub config: BrainConfig,
    pipeline: Mutex<Pipeline>,
    staged: Arc<Mutex<Vec<Observation>>>,
    store: Arc<dyn Store>,
    estimator: Arc<Mutex<StateEstimator>>,
    bus: Bus,
    plugins: Mutex<Vec<PluginSlot>>,
    events: Mutex<VecDeque<Arc<Event>>>,
    commands: Mutex<Vec<Command>>,
    access: Box<dyn Authorizer>,
    /// The driven clock (f64 bits), Unix seconds; unused on the wall clock.
    clock: AtomicU64,
    signals: RwLock<Arc<Vec<SignalStatus>>>,
    latest: RwLock<Option<Arc<Tick>>>,
    next_event: AtomicU64,
    sink_errors: AtomicU64,
    commands_issued: AtomicU64,
    plugin_panics: AtomicU64,
    /// Accepted records that reached the store.
    stored_accepted: AtomicU64,
    /// Services that plug-ins provide to the edge ([`Brain::provide`]), by type.
    services: RwLock<Vec<Arc<dyn std::any::Any + Send + Sync>>>,
    /// The plate-key schedule and how many civil days of keys it keeps.
    keys: Mutex<Option<(crate::keystore::KeySchedule, i64)>>,
    /// Storage-failure logging: when the last warning was written, and how many failures
    /// were not logged since (one line per [`STORE_WARN_INTERVAL`], not one per batch).
    store_warn: Mutex<(Option<std::time::Instant>, u64)>,
}

/// At most one storage-failure warning per this interval.
pub const STORE_WARN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

impl Brain {
    /// Open the store and compose the runtime (no plug-ins yet: see [`Brain::register`]).
    pub fn open(net: Network, cfg: &BrainConfig) -> Result<Arc<Brain>, BrainError> {
        Self::open_with(net, cfg, Box::new(OpenAccess))
    }

    /// As [`Brain::open`], with an authoriser.
    pub fn open_with(net: Network, cfg: &BrainConfig, access: Box<dyn Authorizer>) -> Result<Arc<Brain>, BrainError> {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&cfg.db_path, cfg.retention.clone(), &net)?);
        Ok(Self::with_store(net, cfg, store, access))
    }

    /// Compose the runtime on an already open store (any backend; tests wrap one to
    /// inject failures). `cfg.db_path` and `cfg.retention` are the caller's business then.
    pub fn with_store(net: Network, cfg: &BrainConfig, store: Arc<dyn Store>, access: Box<dyn Authorizer>) -> Arc<Brain> {
        let registry = Arc::new(SensorRegistry::for_network(&net));
        let estimator = Arc::new(Mutex::new(StateEstimator::new(&net, StateConfig::default())));
        let mut pipeline = Pipeline::new(registry.clone(), cfg.pipeline.clone());
        pipeline.add_sink(Box::new(StateSink(estimator.clone())));
        let staged = Arc::new(Mutex::new(Vec::new()));
        pipeline.add_sink(Box::new(StagingSink(staged.clone())));
        Arc::new(Brain {
            net: Arc::new(net),
            registry,
            config: cfg.clone(),
            pipeline: Mutex::new(pipeline),
            staged,
            store,
            estimator,
            bus: Bus::default(),
            plugins: Mutex::new(Vec::new()),
            events: Mutex::new(VecDeque::new()),
            commands: Mutex::new(Vec::new()),
            access,
            clock: AtomicU64::new(cfg.day_start_s.to_bits()),
            signals: RwLock::new(Arc::new(Vec::new())),
            latest: RwLock::new(None),
            next_event: AtomicU64::new(1),
            sink_errors: AtomicU64::new(0),
            commands_issued: AtomicU64::new(0),
            plugin_panics: AtomicU64::new(0),
            stored_accepted: AtomicU64::new(0),
            services: RwLock::new(Vec::new()),
            keys: Mutex::new(None),
            store_warn: Mutex::new((None, 0)),
        })
    }

    /// Log a storage failure, at most once per [`STORE_WARN_INTERVAL`] (with the count of
    /// failures not logged since), so a full disk does not flood the log batch by batch.
    fn warn_storage(&self, what: &str, e: &dyn std::fmt::Display) {
        let mut w = lock(&self.store_warn);
        let now = std::time::Instant::now();
        if w.0.is_some_and(|t| now.duration_since(t) < STORE_WARN_INTERVAL) {
            w.1 += 1;
            return;
        }
        let suppressed = std::mem::take(&mut w.1);
        w.0 = Some(now);
        drop(w);
        if suppressed > 0 {
            tracing::warn!("{what}: {e} ({suppressed} more storage failures since the last warning)");
        } else {
            tracing::warn!("{what}: {e}");
        }
    }

    /// Add a plug-in. Call before the twin or the edge start.
    pub fn register(&self, plugin: Box<dyn Plugin>) {
        tracing::info!("plug-in registered: {}", plugin.name());
        lock(&self.plugins).push(PluginSlot { plugin, enabled: true });
    }

    /// Offer a service of a plug-in (its runtime calls) to the edge; the edge finds it by
    /// type with [`Brain::service`]. The service's calls authorise through
    /// [`Brain::authorize`] like every other runtime call.
    pub fn provide<T: std::any::Any + Send + Sync>(&self, service: Arc<T>) {
        self.services.write().unwrap_or_else(|e| e.into_inner()).push(service);
    }

    /// The service of type `T`, if a plug-in provided one.
    pub fn service<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let services = self.services.read().unwrap_or_else(|e| e.into_inner());
        services.iter().find_map(|s| s.clone().downcast::<T>().ok())
    }

    /// Append to the store's journal (`topic`, `key`, time, JSON body); returns its id.
    pub fn journal_append(&self, topic: &str, key: &str, time: f64, body: &str) -> Result<u64, BrainError> {
        self.store().append_journal(topic, key, time, body).map_err(|e| {
            self.warn_storage("journal", &e);
            BrainError::from(e)
        })
    }

    /// Journal entries of `topic` (and `key`), in order, at most `limit`.
    pub fn journal(&self, topic: &str, key: Option<&str>, limit: usize) -> Result<Vec<store::JournalEntry>, BrainError> {
        Ok(self.store().journal(topic, key, limit)?)
    }

    /// Names of the registered plug-ins and whether each is still enabled.
    pub fn plugins(&self) -> Vec<(&'static str, bool)> {
        lock(&self.plugins).iter().map(|p| (p.plugin.name(), p.enabled)).collect()
    }

    /// Install the plate-key schedule (the keystore); keys of civil days more than
    /// `keep_days` back are destroyed as the days pass ([`Brain::plate_key_for`]).
    pub fn set_key_schedule(&self, schedule: crate::keystore::KeySchedule, keep_days: i64) {
        *lock(&self.keys) = Some((schedule, keep_days.max(1)));
    }

    /// The plate key of civil `day`, after destroying the keys of the days that left the
    /// retention window (`None` without a schedule, or for a destroyed day). Called by
    /// the twin loop at each civil midnight.
    pub fn plate_key_for(&self, day: i64) -> Option<twin::sensors::PlateKey> {
        let mut keys = lock(&self.keys);
        let (schedule, keep) = keys.as_mut()?;
        match schedule.advance(day - (*keep - 1)) {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(
                    "plate keys of {n} day(s) destroyed; tokens before day {} can no longer be linked",
                    schedule.first_day()
                );
                let reason = format!("keys of {n} day(s) past the {keep}-day retention destroyed");
                drop(keys);
                self.record_decision("keystore", "key-destruction", "plate pseudonymisation keys", &reason);
                keys = lock(&self.keys);
            }
            Err(e) => tracing::error!("plate key rotation: {e}"),
        }
        keys.as_ref()?.0.key_for(day)
    }

    /// Subscribe to the bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The one authorisation point.
    pub fn authorize(&self, caller: &Caller, action: Action<'_>) -> Result<(), BrainError> {
        self.access.authorize(caller, &action).map_err(BrainError::from)
    }

    /// Authorise `action` for a caller that asked earlier and whose request keeps acting
    /// (a standing read, such as a subscription): the caller as it stands now
    /// ([`Authorizer::standing`]), then the one decision.
    pub fn authorize_standing(&self, caller: &Caller, action: Action<'_>) -> Result<(), BrainError> {
        let now = self
            .access
            .standing(caller)
            .ok_or_else(|| crate::Denied(format!("{} is disabled or no longer exists", caller.principal)))?;
        self.access.authorize(&now, &action).map_err(BrainError::from)
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Latest city time held in the store, if any (restart continuity).
    pub fn stored_until(&self) -> Option<f64> {
        self.store().last_time().ok().flatten()
    }

    /// The brain's clock, Unix seconds: the wall clock or the driven clock (see
    /// [`ClockSource`]). No record moves it.
    pub fn now(&self) -> f64 {
        match self.config.clock {
            ClockSource::Wall => wall_clock(),
            ClockSource::Driven => f64::from_bits(self.clock.load(Ordering::Relaxed)),
        }
    }

    /// Move a driven clock forward to `t` (never back; a non-finite `t` is ignored).
    /// Without effect on the wall clock.
    pub fn drive_clock(&self, t: f64) {
        if t.is_finite() {
            let _ =
                self.clock.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| (t > f64::from_bits(b)).then(|| t.to_bits()));
        }
    }

    /// Parse a `{"observations":[...]}` body and ingest it on behalf of `caller`.
    ///
    /// Each record is authorised for its sensor ([`Action::IngestFor`]: only the owning
    /// department's services may post for a sensor); a refused record is rejected in
    /// place (stored with the other rejections, never silently dropped). When every
    /// record of a non-empty batch is refused, the call fails with
    /// [`BrainError::Denied`] after storing the rejections.
    pub fn ingest_body(&self, caller: &Caller, body: &[u8]) -> Result<IngestOutcome, BrainError> {
        self.authorize(caller, Action::Ingest)?;
        let mut records = sense::parse_batch(body).map_err(|e| BrainError::Malformed(e.to_string()))?;
        let (refused, first_refusal) = self.authorize_records(caller, &mut records);
        let out = self.ingest_records(&records);
        if refused > 0 && refused == records.len() {
            let why = first_refusal.unwrap_or_default();
            return Err(BrainError::Denied(Denied(format!("{refused} record(s) refused and stored as rejected; {why}"))));
        }
        Ok(out)
    }

    /// Authorise each record of a batch for its sensor ([`Action::IngestFor`]: only the
    /// owning department's services may post for a sensor), after the batch itself
    /// passed [`Action::Ingest`]. A refused record becomes a rejected one in place (field
    /// `sensor`, message `forbidden: ...`), to be stored with the other rejections by
    /// [`Brain::ingest_records`]. Returns how many were refused and the first reason.
    /// Edges that gather several callers' batches into one commit (MQTT) call this per
    /// batch, then [`Brain::ingest_records`] once.
    pub fn authorize_records(&self, caller: &Caller, records: &mut [RawRecord]) -> (usize, Option<String>) {
        let mut refused = 0usize;
        let mut first_refusal = None;
        for r in records.iter_mut() {
            let RawRecord::Record(w) = r else { continue };
            let Some(sensor) = w.sensor.as_deref() else { continue };
            // Unknown sensors are the pipeline's to reject (with its own message).
            let Some(s) = self.registry.lookup(sensor).and_then(|i| self.registry.get(i)) else { continue };
            let owner = s.owner.as_str();
            if let Err(d) = self.access.authorize(caller, &Action::IngestFor { sensor, owner }) {
                refused += 1;
                let message = format!("forbidden: {}", d.0);
                let json = serde_json::to_string(&**w).unwrap_or_default();
                first_refusal.get_or_insert_with(|| message.clone());
                *r = RawRecord::Malformed { json, field: "sensor".into(), message };
            }
        }
        (refused, first_refusal)
    }

    /// Which records are duplicates of stored ones (same sensor, time and record id). Empty
    /// when no record carries an id. A repeat inside the batch is not skipped here (the
    /// first one may yet be rejected): the store's unique index keeps one of them.
    fn duplicates(&self, records: &[RawRecord]) -> Vec<bool> {
        let keyed: Vec<(usize, (&str, f64, &str))> =
            records.iter().enumerate().filter_map(|(i, r)| r.record_key().map(|k| (i, k))).collect();
        if keyed.is_empty() {
            return Vec::new();
        }
        let keys: Vec<(&str, f64, &str)> = keyed.iter().map(|k| k.1).collect();
        // A failed look-up finds nothing: the store's unique index still decides.
        let known = self.store().known_record_ids(&keys).unwrap_or_else(|_| vec![false; keys.len()]);
        let mut dup = vec![false; records.len()];
        for ((i, _), k) in keyed.iter().zip(known) {
            dup[*i] = k;
        }
        dup
    }

    /// Record an automated decision that acts on the city (a signal plan change, a
    /// corridor, a dispatch): it goes to the audit chain and the public transparency log.
    pub fn record_decision(&self, source: &str, kind: &str, subject: &str, reason: &str) {
        let d = Decision {
            time: self.now(),
            source: source.into(),
            kind: kind.into(),
            subject: subject.into(),
            reason: reason.into(),
        };
        self.access.decision(&d);
    }

    /// Run records through the one ingestion pipeline, judged against the clock
    /// ([`Brain::now`]); rejections are stored too.
    /// Returns once the accepted records are committed to the store; then plug-ins see
    /// them and they are published on the bus.
    ///
    /// A record with an `id` whose sensor, time and id are already stored is a duplicate (a
    /// retry, a redelivery): it is answered as accepted (it is durable) but neither
    /// validated again, stored, seen by plug-ins nor published; a valid record repeating
    /// one earlier in the same batch is validated, then stored once (the store's unique
    /// index). [`IngestOutcome::duplicates`] counts both.
    pub fn ingest_records(&self, records: &[RawRecord]) -> IngestOutcome {
        let dup = self.duplicates(records);
        let filtered: Vec<RawRecord>;
        // Index in `records` of each record given to the pipeline (when some were dropped).
        let mut origin: Vec<usize> = Vec::new();
        let input: &[RawRecord] = if dup.iter().any(|&d| d) {
            origin = (0..records.len()).filter(|&i| !dup[i]).collect();
            filtered = origin.iter().map(|&i| records[i].clone()).collect();
            &filtered
        } else {
            records
        };
        let mut p = lock(&self.pipeline);
        let mut report = p.ingest(input, self.now());
        let mut accepted = std::mem::take(&mut *lock(&self.staged));
        drop(p);
        let rejected = &report.rejections;
        let mut stored = true;
        let mut duplicates = records.len() - input.len();
        if !accepted.is_empty() || !rejected.is_empty() {
            let store = self.store();
            let ids: Vec<Option<&str>> =
                report.results.iter().filter(|r| r.1.is_ok()).map(|r| input[r.0].record_key().map(|k| k.2)).collect();
            match store.append_identified(&self.registry, &accepted, &ids) {
                Ok(fresh) => {
                    if fresh.iter().any(|&f| !f) {
                        // Stored concurrently by another batch since the look-up.
                        duplicates += fresh.iter().filter(|&&f| !f).count();
                        let mut keep = fresh.into_iter();
                        accepted.retain(|_| keep.next().unwrap_or(true));
                    }
                }
                Err(e) => {
                    stored = false;
                    report.sink_errors.push(SinkError { sink: "store".into(), message: e.to_string() });
                }
            }
            if !rejected.is_empty() {
                if let Err(e) = store.append_rejected(self.now(), rejected) {
                    self.warn_storage("storing rejected records", &e);
                }
            }
        }
        if !report.sink_errors.is_empty() {
            self.sink_errors.fetch_add(report.sink_errors.len() as u64, Ordering::Relaxed);
            for e in &report.sink_errors {
                self.warn_storage("ingest", e);
            }
        }
        if stored {
            self.stored_accepted.fetch_add(accepted.len() as u64, Ordering::Relaxed);
        }
        if stored && !accepted.is_empty() {
            let batch: Arc<[Observation]> = accepted.into();
            self.run_plugins(|p, cx| p.on_observations(&batch, cx));
            self.bus.publish(&BusMessage::Accepted(batch));
        }
        if input.len() != records.len() {
            // Back to the caller's indices; the skipped duplicates are accepted.
            for r in report.results.iter_mut() {
                r.0 = origin[r.0];
            }
            for r in report.rejections.iter_mut() {
                r.index = origin[r.index];
            }
            report.results.extend((0..records.len()).filter(|&i| dup[i]).map(|i| (i, Ok(()))));
            report.results.sort_by_key(|r| r.0);
            report.accepted += records.len() - input.len();
        }
        IngestOutcome { report, stored, duplicates }
    }

    /// Replace the signal status the next tick reports (from the twin or controllers).
    pub fn set_signals(&self, signals: Vec<SignalStatus>) {
        *self.signals.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(signals);
    }

    /// Estimate state at `now`, store the snapshot, let plug-ins react and publish the
    /// tick. `vehicles` and `trips` come from the twin (0 without one).
    pub fn tick(&self, now: f64, vehicles: u64, trips: u64) -> Arc<Tick> {
        let state: Arc<CityState> = Arc::new(lock(&self.estimator).update(now).clone());
        if let Err(e) = self.store().append_snapshot(&state) {
            self.sink_errors.fetch_add(1, Ordering::Relaxed);
            self.warn_storage("storing snapshot", &e);
        }
        let signals = self.signals.read().unwrap_or_else(|e| e.into_inner()).clone();
        let tick = Arc::new(Tick { time: now, state, signals, vehicles, trips });
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = Some(tick.clone());
        self.run_plugins(|p, cx| p.on_tick(&tick, cx));
        self.bus.publish(&BusMessage::Tick(tick.clone()));
        tick
    }

    /// The latest tick, if any.
    pub fn latest(&self) -> Option<Arc<Tick>> {
        self.latest.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Run every enabled plug-in; collect, stamp, keep and publish what they raise.
    fn run_plugins(&self, mut f: impl FnMut(&mut dyn Plugin, &mut Context<'_>)) {
        let mut raised = Vec::new();
        let mut commands = Vec::new();
        {
            let mut plugins = lock(&self.plugins);
            if plugins.is_empty() {
                return;
            }
            for slot in plugins.iter_mut().filter(|s| s.enabled) {
                let mut cx = Context::new(&self.net, &self.registry, self.now());
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(slot.plugin.as_mut(), &mut cx))).is_ok();
                if !ok {
                    slot.enabled = false;
                    self.plugin_panics.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("plug-in {} panicked and is disabled", slot.plugin.name());
                    continue;
                }
                let source = slot.plugin.name();
                raised.extend(cx.events.into_iter().map(|e| (source, e)));
                commands.extend(cx.commands);
            }
        }
        let now = self.now();
        for (source, (kind, severity, message)) in raised {
            let id = self.next_event.fetch_add(1, Ordering::Relaxed);
            let ev = Arc::new(Event { id, time: now, source, kind, severity, message });
            {
                let mut ring = lock(&self.events);
                ring.push_back(ev.clone());
                while ring.len() > self.config.event_ring.max(1) {
                    ring.pop_front();
                }
            }
            self.bus.publish(&BusMessage::Event(ev));
        }
        for c in commands {
            self.commands_issued.fetch_add(1, Ordering::Relaxed);
            let (kind, subject, reason) = match &c {
                Command::HoldPhase { intersection, phase, until, reason } => (
                    "hold-phase",
                    format!("intersection:{}", self.net.intersection(*intersection).name),
                    format!("serve phase {phase} until {until:.0}: {reason}"),
                ),
                Command::Release { intersection } => (
                    "release",
                    format!("intersection:{}", self.net.intersection(*intersection).name),
                    "return to the normal signal policy".to_string(),
                ),
                Command::ClearIncident { event, unit, road, .. } => (
                    "clear-incident",
                    format!("incident:{event}"),
                    format!(
                        "unit {unit} finished on scene{}",
                        road.map_or(String::new(), |r| format!(" on {}", self.net.road(r).name))
                    ),
                ),
            };
            self.record_decision("plug-in", kind, &subject, &reason);
            lock(&self.commands).push(c.clone());
            self.bus.publish(&BusMessage::Command(Arc::new(c)));
        }
    }

    /// Take the commands raised since the last call (the twin loop's controller hook).
    pub fn take_commands(&self) -> Vec<Command> {
        std::mem::take(&mut *lock(&self.commands))
    }

    /// Recent events, newest last, at most `limit`.
    pub fn events(&self, caller: &Caller, limit: usize) -> Result<Vec<Arc<Event>>, BrainError> {
        self.authorize(caller, Action::ReadEvents)?;
        let ring = lock(&self.events);
        Ok(ring.iter().skip(ring.len().saturating_sub(limit)).cloned().collect())
    }

    /// Replace the store's retention windows (the governance policy's), applied by the
    /// next [`Self::prune`].
    pub fn set_retention(&self, retention: Retention) {
        self.store().set_retention(retention);
    }

    /// Delete rows past their retention before the city clock.
    pub fn prune(&self) {
        let now = self.now();
        if now > 0.0 {
            if let Err(e) = self.store().prune(now) {
                tracing::warn!("prune: {e}");
            }
        }
    }

    pub fn counters(&self) -> Counters {
        let p = lock(&self.pipeline);
        Counters {
            accepted: self.stored_accepted.load(Ordering::Relaxed),
            rejected: p.total_rejected(),
            sink_errors: self.sink_errors.load(Ordering::Relaxed),
            events: self.next_event.load(Ordering::Relaxed) - 1,
            commands: self.commands_issued.load(Ordering::Relaxed),
            plugin_panics: self.plugin_panics.load(Ordering::Relaxed),
        }
    }
}
