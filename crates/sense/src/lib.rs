//! # sense: citybrain's nerves
//!
//! The observation model, the registry of devices, the wire format real devices and the
//! twin's virtual sensors both speak, per-record validation and the ingestion pipeline.
//!
//! ## Glossary
//! - **Time**: every time in citybrain is Unix seconds, UTC, as `f64` (seconds since
//!   1970-01-01T00:00:00Z). On the wire a time is an RFC 3339 string with an offset
//!   (`"2026-12-06T07:00:00Z"`) or a JSON number of Unix seconds ([`time`]). Civil time
//!   (dates in exports and logs) is the city's time zone, a [`CityZone`].
//! - **Clock** (`now`): the brain's current time, given by the caller of
//!   [`Pipeline::ingest`] (the wall clock when serving, the twin's clock in a demo). No
//!   record moves it.
//! - **Sensor**: one registered device or feed ([`Sensor`]), addressed by a stable
//!   external id (`loop:road_1_0_1:0`, `camera:intersection_1_1`,
//!   `controller:intersection_1_1`, `probe:taxi`, `citizen:12345`) and internally by a
//!   dense [`SensorIdx`]. Each has a kind, a location and an owner department.
//! - **Record**: one element of a batch body `{"observations":[...]}`; a flat JSON object
//!   with `sensor`, `kind`, `time` and kind-specific fields ([`wire`]).
//! - **Raw record** ([`RawRecord`]): a record parsed for shape only.
//! - **Observation** ([`Observation`]): a validated record, names resolved to typed
//!   network ids.
//! - **Loop aggregate**: count, occupancy (share of time covered, 0..1) and mean spot
//!   speed of one lane's loop over an interval.
//! - **ATSPM event**: Indiana high-resolution controller event: 1 begin green, 8 begin
//!   yellow, 9 end yellow, 10 begin red clearance, 11 end red clearance (param = phase,
//!   1-based), 43 phase call registered, 44 phase call dropped (param = phase), 81
//!   detector off, 82 detector on (param = detector channel, 1-based), preemption 102,
//!   104, 105, 107, 111 (param = preempt channel), 131 coordination pattern change
//!   (param = pattern, 254 free), 132 cycle length change (param = seconds).
//! - **Token**: the pseudonym of a plate, 24 lowercase hex characters (96 bits of a keyed
//!   hash whose key rotates daily). A raw plate is never accepted.
//! - **Sink**: a consumer of accepted observations ([`ObservationSink`]), e.g. the state
//!   estimator or the store.
//!
//! ## Invariants
//! - Bad input never panics: a malformed body is a [`BatchError`]; a bad record is a
//!   [`RecordError`] naming its field, and the rest of the batch is still accepted.
//! - Every [`Observation`] has finite numbers in range, known sensor and network ids, and
//!   a record kind its sensor may send; [`wire::to_wire`] followed by [`validate()`] gives
//!   the same observation back.
//! - The twin's readings enter through the twin's adapter (`twin::wire::from_reading`)
//!   and the same [`Pipeline`] as HTTP records: there is one ingestion path.
//! - This crate depends on the city model (`city`), never on the simulator.
//! - An accepted record's time is within `now - max_age_s ..= now + max_skew_s` of the
//!   clock passed to [`Pipeline::ingest`]; a hostile time (`1e15`) is a record error and
//!   changes nothing.
//! - Per sensor, an accepted record is never more than the pipeline's order tolerance
//!   older than that sensor's order mark, which never exceeds the clock: one record
//!   cannot lock its sensor out.
//! - The rejected-record ring is bounded in count and bytes; kept raw records and errors
//!   are truncated with a marker and have personal data redacted ([`rejected`]).
//! - Lon/lat positions are WGS84 and go through the network's own georeference
//!   (`city::Georef`); one outside the network's bounds plus a margin
//!   ([`DEFAULT_GEO_MARGIN_M`], settable on the registry) is a record error.

pub mod observation;
pub mod pipeline;
pub mod registry;
pub mod rejected;
pub mod testnet;
pub mod time;
pub mod validate;
pub mod wire;

pub use observation::*;
pub use pipeline::{CollectSink, IngestReport, ObservationSink, Pipeline, PipelineConfig, SinkError, ThreadedSink};
pub use registry::{
    GeoArea, Location, Sensor, SensorIdx, SensorKind, SensorRegistry, CITIZEN_FEED_ID, DEFAULT_GEO_MARGIN_M, PROBE_FEED_ID,
};
pub use rejected::{Rejected, RejectedRing};
pub use time::CityZone;
pub use validate::{is_token, validate, RecordError};
pub use wire::{batch_body, parse_batch, parse_record, to_wire, BatchError, RawRecord, WireRecord};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hardening;
