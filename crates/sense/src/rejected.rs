//! Rejected records kept for inspection: redaction of personal data, truncation of raw
//! bodies and error messages, and the ring that is bounded in count and in bytes.
//!
//! What is redacted before a rejected record is stored or served:
//! - the value of any field whose name contains `plate` or `token` (any case, at any
//!   depth of malformed JSON): a plate token is a pseudonym, but a device that sends a
//!   raw plate by mistake is exactly the case that ends up here;
//! - the `text` of a citizen report: free text may hold names, phone numbers or plates;
//!   the error names the problem without it;
//! - the error message of a malformed value in such a field (serde errors quote the
//!   value).
//!
//! Records that are not valid JSON cannot be inspected field by field and are withheld
//! whole. Redaction happens before truncation, so no prefix of a secret survives.

use std::collections::VecDeque;

use serde_json::Value;

use crate::wire::{RawRecord, WireRecord};

/// Replacement of a redacted value.
pub const REDACTED: &str = "[redacted]";

/// A rejected record kept for inspection.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// Position in the ring's sequence (1-based, counts every rejection ever kept).
    pub seq: u64,
    /// Index of the record in its batch.
    pub index: usize,
    /// Located message, e.g. `observations[3].occupancy: must be within 0..1, got 1.7`
    /// (truncated to the pipeline's `error_max_bytes`).
    pub error: String,
    /// The record as JSON, redacted and truncated to the pipeline's `raw_max_bytes`
    /// (then ending in a `…[truncated, N bytes]` marker).
    pub raw: String,
    /// Sequence number of the batch it came in (1-based, counts every `ingest`).
    pub batch: u64,
}

impl Rejected {
    /// Bytes this entry is charged in the ring (strings plus a fixed overhead).
    pub fn cost(&self) -> usize {
        self.error.len() + self.raw.len() + 64
    }
}

/// Whether a JSON field name may hold personal data.
pub fn is_sensitive_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("plate") || n.contains("token") || n == "text"
}

/// Cut `s` to at most `max` bytes (on a character boundary) and append a marker that
/// says how long it was.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let total = s.len();
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.push_str(&format!("…[truncated, {total} bytes]"));
    s
}

/// The record as JSON with personal data redacted, truncated to `max` bytes.
pub fn redacted_json(raw: &RawRecord, max: usize) -> String {
    let json = match raw {
        RawRecord::Record(w) => {
            let w: &WireRecord = w;
            let mut v = serde_json::to_value(w).unwrap_or(Value::Null);
            redact_value(&mut v, 0);
            v.to_string()
        }
        RawRecord::Malformed { json, .. } => match serde_json::from_str::<Value>(json) {
            Ok(mut v) => {
                redact_value(&mut v, 0);
                v.to_string()
            }
            Err(_) => format!("\"[withheld: {} bytes that are not valid JSON]\"", json.len()),
        },
    };
    truncate(json, max)
}

/// Redact the error message of a malformed value in a sensitive field (serde quotes it).
pub fn redacted_error(raw: &RawRecord, located: String, max: usize) -> String {
    if let RawRecord::Malformed { field, .. } = raw {
        if field.split(['.', '[', ']']).any(is_sensitive_field) {
            let prefix = located.split_once(": ").map(|(p, _)| p.to_string()).unwrap_or_default();
            return truncate(format!("{prefix}: invalid value ({REDACTED}: the field may hold personal data)"), max);
        }
    }
    truncate(located, max)
}

fn redact_value(v: &mut Value, depth: usize) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if is_sensitive_field(k) {
                    if !x.is_null() {
                        *x = Value::String(REDACTED.into());
                    }
                } else if depth < 64 {
                    redact_value(x, depth + 1);
                } else {
                    *x = Value::String(REDACTED.into());
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                if depth < 64 {
                    redact_value(x, depth + 1);
                } else {
                    *x = Value::String(REDACTED.into());
                }
            }
        }
        _ => {}
    }
}

/// The most recent rejections, bounded by count and by total bytes. Oldest are dropped
/// first. Invariant: `bytes` is the sum of the entries' [`Rejected::cost`], and both
/// bounds hold after every push.
#[derive(Debug, Default)]
pub struct RejectedRing {
    entries: VecDeque<Rejected>,
    bytes: usize,
    max_count: usize,
    max_bytes: usize,
    next_seq: u64,
}

impl RejectedRing {
    pub fn new(max_count: usize, max_bytes: usize) -> RejectedRing {
        RejectedRing { entries: VecDeque::new(), bytes: 0, max_count, max_bytes, next_seq: 1 }
    }

    /// Assign the next sequence number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Keep `r` (dropping the oldest entries to stay within both bounds). An entry larger
    /// than the whole byte budget is not kept.
    pub fn push(&mut self, r: Rejected) {
        if self.max_count == 0 || r.cost() > self.max_bytes {
            return;
        }
        self.bytes += r.cost();
        self.entries.push_back(r);
        while self.entries.len() > self.max_count || self.bytes > self.max_bytes {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= old.cost(),
                None => break,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes charged for the kept entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Rejected> + DoubleEndedIterator {
        self.entries.iter()
    }

    /// One page, newest first: skip `offset` newest entries, return at most `limit`.
    pub fn page(&self, offset: usize, limit: usize) -> Vec<Rejected> {
        self.entries.iter().rev().skip(offset).take(limit).cloned().collect()
    }
}
