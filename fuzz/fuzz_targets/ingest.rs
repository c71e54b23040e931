//! The ingest body (`POST /api/v1/observations`): `sense::parse_batch`, then every record
//! through a `sense::Pipeline` over the test corridor (`sense::testnet`). Never a panic;
//! every record is accepted or rejected, once.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use sense::{parse_batch, Pipeline, PipelineConfig, SensorRegistry};

static REGISTRY: LazyLock<Arc<SensorRegistry>> =
    LazyLock::new(|| Arc::new(SensorRegistry::for_network(&sense::testnet::corridor())));

fuzz_target!(|data: &[u8]| {
    let Ok(records) = parse_batch(data) else { return };
    let mut pipeline = Pipeline::new(REGISTRY.clone(), PipelineConfig { rejected_capacity: 8, ..Default::default() });
    let report = pipeline.ingest(&records);
    assert_eq!(report.accepted + report.rejected, records.len());
    assert_eq!(report.results.len(), records.len());
    assert!(pipeline.rejected().len() <= 8);
});
