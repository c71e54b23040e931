//! The wire format: the HTTP body `{"observations":[...]}` with one flat JSON object per
//! record, e.g. `{"sensor":"loop:road_1_0_1:0","kind":"loop","time":120.0,"start":90.0,
//! "end":120.0,"count":7,"occupancy":0.12,"speed":8.3}`.
//!
//! Parsing is two-level: [`parse_batch`] fails only when the body is not JSON of the
//! batch shape (an HTTP 400); each element becomes a [`RawRecord`], which may still be
//! malformed (wrong field types), and is judged on its own by [`crate::validate()`].
//!
//! Every record has `time`; `start` and `end` bound aggregation intervals. A time is an
//! RFC 3339 string with an offset (`"2026-12-06T07:00:00Z"`) or a JSON number of Unix
//! seconds (UTC); see [`crate::time`]. An unparsable time string is a record error naming
//! its field.
//!
//! Fields by kind (other numbers are JSON numbers, speeds in m/s):
//! - `loop`: `start`, `end`, `count`, `occupancy` (0..1), `speed` (optional / null)
//! - `movement`: `from`, `to` (road names), `start`, `end`, `count`
//! - `queue`: `road` (approach road name), `queue_m`, `waiting`
//! - `plate`: `road`, `token` (24 lowercase hex characters)
//! - `probe`: `token`, `x`/`y` (metres) or `lon`/`lat`, `speed`, `heading` (radians)
//! - `signal`: `code` (an ATSPM code of [`crate::EventCode`]), `param` (phase, detector channel, preempt channel, pattern or cycle seconds)
//! - `report`: `category`, `text`, and `x`/`y`, `lon`/`lat` or `road`
//!
//! Any record may carry `id`, the device's own record id: a record whose sensor, time and
//! id were stored before is a duplicate (a retry or a redelivery) and is stored once.
//!
//! A field the format does not define (`"foo": 1`) is a record error, so that a typo in a
//! device's field name is noticed rather than silently ignored. JSON has no NaN or
//! infinity, so those can only come from in-process records (the twin's readings,
//! converted by `twin::wire::from_reading`), where validation rejects them.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::observation::{ObsData, Observation};
use crate::registry::SensorRegistry;

/// One record as sent on the wire. Every field is optional at this level so that a
/// missing field is reported by validation with its name, not as a parse failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireRecord {
    /// The record's own id, chosen by the device (a sequence number, a UUID): a record
    /// sent again with the same sensor, time and id (a retry, an MQTT redelivery) is
    /// stored once. Optional; at most [`crate::validate::MAX_RECORD_ID`] bytes of printable ASCII.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "crate::time::wire_time::deserialize", skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    #[serde(default, deserialize_with = "crate::time::wire_time::deserialize", skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(default, deserialize_with = "crate::time::wire_time::deserialize", skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub road: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One element of a batch: either a record with typed fields, or JSON that does not
/// have the record shape (kept verbatim with the located serde error).
#[derive(Clone, Debug, PartialEq)]
pub enum RawRecord {
    Record(Box<WireRecord>),
    Malformed { json: String, field: String, message: String },
}

impl From<WireRecord> for RawRecord {
    fn from(r: WireRecord) -> Self {
        RawRecord::Record(Box::new(r))
    }
}

impl RawRecord {
    /// The sensor, time and record id of a well-formed record that has all three (the
    /// key under which duplicates are recognised).
    pub fn record_key(&self) -> Option<(&str, f64, &str)> {
        match self {
            RawRecord::Record(w) => Some((w.sensor.as_deref()?, w.time?, w.id.as_deref()?)),
            RawRecord::Malformed { .. } => None,
        }
    }

    /// The record as JSON text (what was received, for rejected-record inspection).
    pub fn to_json(&self) -> String {
        match self {
            RawRecord::Record(r) => serde_json::to_string(r).unwrap_or_default(),
            RawRecord::Malformed { json, .. } => json.clone(),
        }
    }
}

/// The body is not a batch at all (HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BatchError {
    #[error("body is not valid JSON of the form {{\"observations\":[...]}}: {0}")]
    Malformed(String),
}

/// [`BatchIn`] with every element a [`WireRecord`] (the fast path of [`parse_batch`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchTyped {
    observations: Records,
}

/// The elements boxed as they are read: a `Vec<WireRecord>` of a large batch would be a
/// block of megabytes (a record is about 460 bytes unboxed) made and dropped per batch.
struct Records(Vec<RawRecord>);

impl<'de> Deserialize<'de> for Records {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Records, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Records;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of records")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Records, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(r) = seq.next_element::<WireRecord>()? {
                    out.push(RawRecord::Record(Box::new(r)));
                }
                Ok(Records(out))
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn<'a> {
    #[serde(borrow)]
    observations: Vec<&'a RawValue>,
}

#[derive(Serialize)]
struct BatchOut<'a> {
    observations: &'a [WireRecord],
}

/// Parse an HTTP body into raw records. Malformed JSON or a wrong top-level shape is a
/// [`BatchError`]; a well-formed element of the wrong shape is a [`RawRecord::Malformed`].
pub fn parse_batch(body: &[u8]) -> Result<Vec<RawRecord>, BatchError> {
    let text = std::str::from_utf8(body).map_err(|e| BatchError::Malformed(format!("not UTF-8: {e}")))?;
    // Fast path: a batch whose every element has the record shape, in one pass over the
    // body. Anything else (a bad envelope, one malformed element) is parsed again in two
    // levels below, which is what tells the envelope's errors from the elements'.
    if let Ok(batch) = serde_json::from_str::<BatchTyped>(text) {
        return Ok(batch.observations.0);
    }
    parse_two_level(text)
}

/// The envelope with each element kept raw, then each element on its own.
fn parse_two_level(text: &str) -> Result<Vec<RawRecord>, BatchError> {
    let batch: BatchIn = serde_json::from_str(text).map_err(|e| BatchError::Malformed(e.to_string()))?;
    Ok(batch.observations.into_iter().map(parse_record).collect())
}

/// One element of a batch (a JSON value) as a [`RawRecord`]: what [`parse_batch`] does
/// for each element, for edges that read the batch's envelope themselves (MQTT).
pub fn parse_record(raw: &RawValue) -> RawRecord {
    // Fast path; on failure parse again to locate the error.
    if let Ok(r) = serde_json::from_str::<WireRecord>(raw.get()) {
        return RawRecord::Record(Box::new(r));
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    match serde_path_to_error::deserialize::<_, WireRecord>(&mut de) {
        Ok(r) => RawRecord::Record(Box::new(r)),
        Err(e) => {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            RawRecord::Malformed { json: raw.get().to_string(), field, message: e.into_inner().to_string() }
        }
    }
}

/// Serialise records as a batch body (what a device or a test client sends).
pub fn batch_body(records: &[WireRecord]) -> String {
    serde_json::to_string(&BatchOut { observations: records }).unwrap_or_default()
}

/// The wire form of a validated observation (the inverse of [`crate::validate()`]).
pub fn to_wire(reg: &SensorRegistry, obs: &Observation) -> WireRecord {
    let mut w = WireRecord {
        sensor: reg.get(obs.sensor).map(|s| s.id.clone()),
        kind: Some(obs.data.kind().as_str().into()),
        time: Some(obs.time),
        ..Default::default()
    };
    match &obs.data {
        ObsData::Loop(l) => {
            (w.start, w.end, w.count, w.occupancy, w.speed) =
                (Some(l.start), Some(l.end), Some(l.count as f64), Some(l.occupancy), l.speed);
        }
        ObsData::Movement(m) => {
            w.from = Some(reg.road_name(m.from_road).into());
            w.to = Some(reg.road_name(m.to_road).into());
            (w.start, w.end, w.count) = (Some(m.start), Some(m.end), Some(m.count as f64));
        }
        ObsData::Queue(q) => {
            w.road = Some(reg.road_name(q.road).into());
            (w.queue_m, w.waiting) = (Some(q.queue_m), Some(q.waiting as f64));
        }
        ObsData::Plate(p) => {
            w.road = Some(reg.road_name(p.road).into());
            w.token = Some(p.token.clone());
        }
        ObsData::Probe(p) => {
            w.token = Some(p.token.clone());
            (w.x, w.y, w.speed, w.heading) = (Some(p.pos.x), Some(p.pos.y), Some(p.speed), Some(p.heading));
        }
        ObsData::Signal(s) => {
            (w.code, w.param) = (Some(s.code.code() as f64), Some(s.param as f64));
        }
        ObsData::Report(r) => {
            w.category = Some(r.category.clone());
            w.text = Some(r.text.clone());
            (w.x, w.y) = (r.pos.map(|p| p.x), r.pos.map(|p| p.y));
            w.road = r.road.map(|rd| reg.road_name(rd).to_string());
        }
    }
    w
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    /// The one-pass parse gives what the two-level parse gives, record for record.
    #[test]
    fn the_fast_path_parses_as_the_two_level_parse() {
        let good = [
            r#"{"observations":[]}"#,
            r#"{"observations":[{"sensor":"loop:a:0","kind":"loop","time":120.0,"start":90,"end":120,"count":7,"occupancy":0.12,"speed":8.3}]}"#,
            r#"{"observations":[{"sensor":"s","kind":"probe","time":"2026-12-06T07:00:00Z","x":1e3,"y":-2.5,"speed":null,"heading":0.1,"token":"ab","id":"r-1"},
                {"kind":"signal","time":1.5e9,"code":1,"param":2}, {}]}"#,
        ];
        for body in good {
            let fast = parse_batch(body.as_bytes()).unwrap();
            assert_eq!(fast, parse_two_level(body).unwrap(), "{body}");
            assert!(fast.iter().all(|r| matches!(r, RawRecord::Record(_))), "{body}");
        }
        // Bodies the fast path refuses: the two-level parse decides, as before.
        let one_bad = r#"{"observations":[{"sensor":"s","time":1},{"sensor":"s","time":1,"count":"x"},{"foo":1}]}"#;
        let r = parse_batch(one_bad.as_bytes()).unwrap();
        assert!(matches!(&r[0], RawRecord::Record(w) if w.sensor.as_deref() == Some("s")));
        assert!(matches!(&r[1], RawRecord::Malformed { field, .. } if field == "count"), "{:?}", r[1]);
        assert!(matches!(&r[2], RawRecord::Malformed { .. }), "{:?}", r[2]);
        for bad in [r#"{"observations":{}}"#, r#"{"observations":[],"x":1}"#, "[1]", r#"{"observations":[1,"#] {
            assert!(parse_batch(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
