//! The ingestion pipeline shared by the HTTP endpoint and the twin's virtual sensors:
//! validate each record, check per-sensor time order, hand accepted observations to the
//! sinks (state estimator, store) and keep a bounded ring of rejections.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::observation::Observation;
use crate::registry::SensorRegistry;
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

/// A rejected record kept for inspection.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// Index of the record in its batch.
    pub index: usize,
    /// Located message, e.g. `observations[3].occupancy: must be within 0..1, got 1.7`.
    pub error: String,
    /// The record as JSON.
    pub raw: String,
    /// Sequence number of the batch it came in (1-based, counts every `ingest`).
    pub batch: u64,
}

/// What happened to one batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestReport {
    pub accepted: usize,
    pub rejected: usize,
    /// Per record: `Ok(())` or the located error message.
    pub results: Vec<(usize, Result<(), String>)>,
    /// This batch's rejections with their raw JSON (e.g. for `Store::append_rejected`).
    pub rejections: Vec<Rejected>,
    /// Sinks that failed on this batch.
    pub sink_errors: Vec<SinkError>,
}

/// Pipeline settings.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// A record may be this many seconds older than its sensor's latest record.
    pub order_tolerance_s: f64,
    /// Rejections kept in the ring.
    pub rejected_capacity: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { order_tolerance_s: 30.0, rejected_capacity: 1000 }
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
    rejected: VecDeque<Rejected>,
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
            cfg,
            sinks: Vec::new(),
            rejected: VecDeque::new(),
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

    /// Validate and route a batch. Never fails as a whole: each record is accepted or
    /// rejected on its own.
    pub fn ingest(&mut self, records: &[RawRecord]) -> IngestReport {
        self.batches += 1;
        let mut report = IngestReport { results: Vec::with_capacity(records.len()), ..Default::default() };
        self.scratch.clear();
        for (i, raw) in records.iter().enumerate() {
            match validate(&self.registry, raw).and_then(|o| self.check_order(o)) {
                Ok(obs) => {
                    self.scratch.push(obs);
                    report.results.push((i, Ok(())));
                }
                Err(e) => {
                    let error = e.at(i);
                    let rej = Rejected { index: i, error: error.clone(), raw: raw.to_json(), batch: self.batches };
                    if self.cfg.rejected_capacity > 0 {
                        if self.rejected.len() == self.cfg.rejected_capacity {
                            self.rejected.pop_front();
                        }
                        self.rejected.push_back(rej.clone());
                    }
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

    fn check_order(&mut self, o: Observation) -> Result<Observation, RecordError> {
        let last = &mut self.last_time[o.sensor.idx()];
        if o.time < *last - self.cfg.order_tolerance_s {
            return Err(RecordError::new(
                "time",
                format!(
                    "out of order: {} is more than {} s before this sensor's latest record at {}",
                    o.time, self.cfg.order_tolerance_s, *last
                ),
            ));
        }
        *last = last.max(o.time);
        Ok(o)
    }

    /// The most recent rejections, oldest first (at most `rejected_capacity`).
    pub fn rejected(&self) -> impl ExactSizeIterator<Item = &Rejected> {
        self.rejected.iter()
    }

    pub fn total_accepted(&self) -> u64 {
        self.total_accepted
    }

    pub fn total_rejected(&self) -> u64 {
        self.total_rejected
    }

    /// Latest accepted time of a sensor, if it reported.
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
