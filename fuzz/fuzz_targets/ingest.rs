//! The ingest body (`POST /api/v1/observations`): `sense::parse_batch`, then every record
//! through a `sense::Pipeline` over the test corridor (`sense::testnet`), on a fixed brain
//! clock, twice (the second pass meets the per-sensor order marks of the first). Never a
//! panic; every record is accepted or rejected, once; the rejected ring stays bounded in
//! entries and each kept raw record and message stays truncated.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use sense::{parse_batch, Pipeline, PipelineConfig, SensorRegistry};

/// The brain's clock: 2026-12-06T00:00:00Z (the seeds' times are near it).
const NOW: f64 = 1_796_515_200.0;
/// Room for the truncation marker (`…[truncated, N bytes]`).
const MARKER: usize = 64;

static REGISTRY: LazyLock<Arc<SensorRegistry>> =
    LazyLock::new(|| Arc::new(SensorRegistry::for_network(&sense::testnet::corridor())));

fuzz_target!(|data: &[u8]| {
    let Ok(records) = parse_batch(data) else { return };
    let cfg = PipelineConfig { rejected_capacity: 8, raw_max_bytes: 256, error_max_bytes: 128, ..Default::default() };
    let mut pipeline = Pipeline::new(REGISTRY.clone(), cfg.clone());
    for now in [NOW, NOW + 1.0] {
        let report = pipeline.ingest(&records, now);
        assert_eq!(report.accepted + report.rejected, records.len());
        assert_eq!(report.results.len(), records.len());
    }
    assert_eq!(pipeline.total_accepted() + pipeline.total_rejected(), 2 * records.len() as u64);
    assert!(pipeline.rejected().len() <= cfg.rejected_capacity);
    for r in pipeline.rejected() {
        assert!(r.raw.len() <= cfg.raw_max_bytes + MARKER, "raw of {} bytes kept", r.raw.len());
        assert!(r.error.len() <= cfg.error_max_bytes + MARKER, "message of {} bytes kept", r.error.len());
    }
});
