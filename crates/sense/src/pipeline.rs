//! The ingestion pipeline shared by the HTTP endpoint and the twin's virtual sensors:
//! validate each record, judge its time against the brain's clock and its sensor's
//! previous records, hand accepted observations to the sinks (state estimator, store) and
//! keep a bounded, redacted ring of rejections.
//!
//! Time rules (all in Unix seconds, see [`crate::time`]), with `now` the brain's clock
//! passed to [`Pipeline::ingest`]:
//! - `time > now + max_skew_s` is rejected (a device clock ahead of the brain's, or a
//!   hostile `1e15`);
//! - `time < now - max_age_s` is rejected (older than the raw retention window: it would
//!   be pruned at once, and it cannot change the live state);
//! - `time` more than `order_tolerance_s` before its sensor's *order mark* is rejected as
//!   out of order. The order mark is the latest accepted time of that sensor capped at the
//!   clock at acceptance, so one record ahead of the clock (within the skew) cannot lock
//!   its sensor out of the present.
//!
//! No record moves the clock: `now` is the caller's.

use std::sync::{Arc, Mutex};

use crate::observation::Observation;
use crate::registry::SensorRegistry;
use crate::rejected::{redacted_error, redacted_json, Rejected, RejectedRing};
use crate::time::format_utc;
use crate::validate::{validate, RecordError};
use crate::wire::RawRecord;

/// A consumer of accepted observations.
pub trait ObservationSink {
    /// Take one batch of accepted observations, in arrival order.
    fn accept(&mut self, batch: &[Observation], registry: &SensorRegistry) -> Result<(), SinkError>;
}

/// A sink failed (e.g. the store could not write); the observations were still accepted
/// by the pipeline and by the other sinks.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("sink {sink}: {message}")]
pub struct SinkError {
    pub sink: String,
    pub message: String,
}

impl<T: ObservationSink> ObservationSink for Arc<Mutex<T>> {
    fn accept(&mut self, batch: &[Observation], registry: &SensorRegistry) -> Result<(), SinkError> {
        match self.lock() {
            Ok(mut g) => g.accept(batch, registry),
            Err(_) => Err(SinkError { sink: "mutex".into(), message: "poisoned".into() }),
        }
    }
}

/// A sink that just collects (tests, or a caller that routes observations itself).
#[derive(Clone, Debug, Default)]
pub struct CollectSink(pub Vec<Observation>);

impl ObservationSink for CollectSink {
    fn accept(&mut self, batch: &[Observation], _: &SensorRegistry) -> Result<(), SinkError> {
        self.0.extend_from_slice(batch);
        Ok(())
    }
}

/// What happened to one batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestReport {
    pub accepted: usize,
    pub rejected: usize,
    /// Per record: `Ok(())` or the located error message.
    pub results: Vec<(usize, Result<(), String>)>,
    /// This batch's rejections, redacted and truncated as in the ring (e.g. for
    /// `Store::append_rejected`): callers never need to copy the ring.
    pub rejections: Vec<Rejected>,
    /// Sinks that failed on this batch.
    pub sink_errors: Vec<SinkError>,
}

/// Pipeline settings.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// A record may be this many seconds older than its sensor's order mark.
    pub order_tolerance_s: f64,
    /// A record may be this many seconds ahead of the brain's clock (default 5 minutes).
    pub max_skew_s: f64,
    /// A record may be this many seconds behind the brain's clock (default 24 h, the raw
    /// retention).
    pub max_age_s: f64,
    /// Rejections kept in the ring.
    pub rejected_capacity: usize,
    /// Bytes the ring may hold in total (see [`Rejected::cost`]).
    pub rejected_max_bytes: usize,
    /// A kept raw record is truncated to this many bytes (plus a marker).
    pub raw_max_bytes: usize,
    /// A kept error message is truncated to this many bytes (plus a marker).
    pub error_max_bytes: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            order_tolerance_s: 30.0,
            max_skew_s: 300.0,
            max_age_s: 86_400.0,
            rejected_capacity: 1000,
            rejected_max_bytes: 4 << 20,
            raw_max_bytes: 4096,
            error_max_bytes: 1024,
        }
    }
}

/// The ingestion pipeline. Invariant: `total_accepted + total_rejected` counts every
/// record ever given to [`Pipeline::ingest`]; accepted observations are passed to every
/// sink in arrival order, once.
pub struct Pipeline {
    registry: Arc<SensorRegistry>,
    cfg: PipelineConfig,
    last_time: Vec<f64>,
    sinks: Vec<Box<dyn ObservationSink + Send>>,
    rejected: RejectedRing,
    batches: u64,
    total_accepted: u64,
    total_rejected: u64,
    scratch: Vec<Observation>,
}

impl Pipeline {
    pub fn new(registry: Arc<SensorRegistry>, cfg: PipelineConfig) -> Pipeline {
        Pipeline {
            last_time: vec![f64::NEG_INFINITY; registry.len()],
            registry,
            rejected: RejectedRing::new(cfg.rejected_capacity, cfg.rejected_max_bytes),
            cfg,
            sinks: Vec::new(),
            batches: 0,
            total_accepted: 0,
            total_rejected: 0,
            scratch: Vec::new(),
        }
    }

    /// Add a consumer of accepted observations.
    pub fn add_sink(&mut self, sink: Box<dyn ObservationSink + Send>) {
        self.sinks.push(sink);
    }

    pub fn registry(&self) -> &Arc<SensorRegistry> {
        &self.registry
    }

    /// Validate and route a batch, judging times against the brain's clock `now` (Unix
    /// seconds). Never fails as a whole: each record is accepted or rejected on its own.
    pub fn ingest(&mut self, records: &[RawRecord], now: f64) -> IngestReport {
        self.batches += 1;
        let mut report = IngestReport { results: Vec::with_capacity(records.len()), ..Default::default() };
        self.scratch.clear();
        for (i, raw) in records.iter().enumerate() {
            match validate(&self.registry, raw).and_then(|o| self.check_clock(o, now)).and_then(|o| self.check_order(o, now)) {
                Ok(obs) => {
                    self.scratch.push(obs);
                    report.results.push((i, Ok(())));
                }
                Err(e) => {
                    let error = redacted_error(raw, e.at(i), self.cfg.error_max_bytes);
                    let rej = Rejected {
                        seq: self.rejected.next_seq(),
                        index: i,
                        error: error.clone(),
                        raw: redacted_json(raw, self.cfg.raw_max_bytes),
                        batch: self.batches,
                    };
                    self.rejected.push(rej.clone());
                    report.rejections.push(rej);
                    report.results.push((i, Err(error)));
                }
            }
        }
        report.accepted = self.scratch.len();
        report.rejected = records.len() - report.accepted;
        self.total_accepted += report.accepted as u64;
        self.total_rejected += report.rejected as u64;
        if !self.scratch.is_empty() {
            for s in &mut self.sinks {
                if let Err(e) = s.accept(&self.scratch, &self.registry) {
                    report.sink_errors.push(e);
                }
            }
        }
        report
    }

    /// The record's time against the clock: not beyond `now + max_skew_s`, not before
    /// `now - max_age_s`.
    fn check_clock(&self, o: Observation, now: f64) -> Result<Observation, RecordError> {
        if !now.is_finite() {
            return Err(RecordError::new("time", "the brain's clock is not set; no record can be judged"));
        }
        if o.time > now + self.cfg.max_skew_s {
            return Err(RecordError::new(
                "time",
                format!(
                    "{} ({}) is more than the allowed skew of {} s ahead of the brain's clock {} ({})",
                    o.time,
                    format_utc(o.time),
                    self.cfg.max_skew_s,
                    now,
                    format_utc(now)
                ),
            ));
        }
        if o.time < now - self.cfg.max_age_s {
            return Err(RecordError::new(
                "time",
                format!(
                    "{} ({}) is older than the retention window of {} s before the brain's clock {} ({})",
                    o.time,
                    format_utc(o.time),
                    self.cfg.max_age_s,
                    now,
                    format_utc(now)
                ),
            ));
        }
        Ok(o)
    }

    fn check_order(&mut self, o: Observation, now: f64) -> Result<Observation, RecordError> {
        let mark = &mut self.last_time[o.sensor.idx()];
        if o.time < *mark - self.cfg.order_tolerance_s {
            return Err(RecordError::new(
                "time",
                format!(
                    "out of order: {} is more than {} s before this sensor's latest record at {}",
                    o.time, self.cfg.order_tolerance_s, *mark
                ),
            ));
        }
        *mark = mark.max(o.time.min(now));
        Ok(o)
    }

    /// The most recent rejections, oldest first (bounded by `rejected_capacity` and
    /// `rejected_max_bytes`).
    pub fn rejected(&self) -> impl ExactSizeIterator<Item = &Rejected> {
        self.rejected.iter()
    }

    /// One page of the kept rejections, newest first: skip `offset`, at most `limit`.
    pub fn rejected_page(&self, offset: usize, limit: usize) -> Vec<Rejected> {
        self.rejected.page(offset, limit)
    }

    /// Number of kept rejections and the bytes charged for them.
    pub fn rejected_kept(&self) -> (usize, usize) {
        (self.rejected.len(), self.rejected.bytes())
    }

    pub fn total_accepted(&self) -> u64 {
        self.total_accepted
    }

    pub fn total_rejected(&self) -> u64 {
        self.total_rejected
    }

    /// Order mark of a sensor (its latest accepted time, capped at the clock when it was
    /// accepted), if it reported.
    pub fn last_time(&self, sensor: crate::SensorIdx) -> Option<f64> {
        self.last_time.get(sensor.idx()).copied().filter(|t| t.is_finite())
    }
}

/// Runs a sink on its own thread, so that a slow consumer (the store) overlaps with
/// parsing and validation. Batches are copied into a bounded queue of `depth` batches;
/// `accept` blocks when the queue is full (back-pressure) and reports errors of earlier
/// batches. Durability of the inner sink holds only after [`ThreadedSink::flush`].
pub struct ThreadedSink {
    tx: Option<std::sync::mpsc::SyncSender<Msg>>,
    errors: std::sync::mpsc::Receiver<SinkError>,
    handle: Option<std::thread::JoinHandle<()>>,
}

enum Msg {
    Batch(Vec<Observation>),
    Flush(std::sync::mpsc::Sender<()>),
}

impl ThreadedSink {
    pub fn spawn<S: ObservationSink + Send + 'static>(mut sink: S, registry: Arc<SensorRegistry>, depth: usize) -> ThreadedSink {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(depth.max(1));
        let (etx, errors) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            for msg in rx {
                match msg {
                    Msg::Batch(b) => {
                        if let Err(e) = sink.accept(&b, &registry) {
                            let _ = etx.send(e);
                        }
                    }
                    Msg::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        ThreadedSink { tx: Some(tx), errors, handle: Some(handle) }
    }

    /// Wait until every batch given so far has been consumed; returns their errors.
    pub fn flush(&mut self) -> Vec<SinkError> {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        if let Some(tx) = &self.tx {
            if tx.send(Msg::Flush(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
        }
        self.errors.try_iter().collect()
    }
}

impl ObservationSink for ThreadedSink {
    fn accept(&mut self, batch: &[Observation], _: &SensorRegistry) -> Result<(), SinkError> {
        let dead = || SinkError { sink: "threaded".into(), message: "sink thread stopped".into() };
        self.tx.as_ref().ok_or_else(dead)?.send(Msg::Batch(batch.to_vec())).map_err(|_| dead())?;
        match self.errors.try_recv() {
            Ok(e) => Err(e),
            Err(_) => Ok(()),
        }
    }
}

impl Drop for ThreadedSink {
    /// Drains the queue: every accepted batch reaches the inner sink before drop returns.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
