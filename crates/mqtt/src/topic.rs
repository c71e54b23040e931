//! Topic names and message bodies: pure parsing, no IO (fuzzed by proptest in
//! `tests/hostile.rs`).
//!
//! Devices publish to `{prefix}/{department}/observations` a JSON envelope
//! `{"token":"cbt_…","observations":[…]}` whose `observations` are the records of
//! citybrain's wire format (`sense::wire`, the body of `POST /api/v1/observations`).
//! `{prefix}/{department}/ngsi-ld` is reserved for NGSI-LD entity updates. A rejected
//! message or record is reported on `{prefix}/{department}/errors`; a message on a topic
//! that names no department is reported on `{prefix}/errors`.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Longest department name in a topic, bytes.
pub const MAX_DEPARTMENT: usize = 64;

/// What a device published to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// `{prefix}/{department}/observations`: a wire-format envelope.
    Observations { department: &'a str },
    /// `{prefix}/{department}/ngsi-ld`: NGSI-LD entity updates.
    Ngsi { department: &'a str },
}

impl<'a> Inbound<'a> {
    pub fn department(&self) -> &'a str {
        match self {
            Inbound::Observations { department } | Inbound::Ngsi { department } => department,
        }
    }
}

/// Why a topic is not one the brain takes messages on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic `{0}` is not under the prefix `{1}/`")]
    Prefix(String, String),
    #[error("unknown topic `{0}`: expected {1}/<department>/observations or {1}/<department>/ngsi-ld")]
    Unknown(String, String),
    #[error("topic `{topic}`: department `{department}` must be 1 to 64 characters of a-z, 0-9, `-`, `_` or `.`")]
    Department { topic: String, department: String },
}

/// Whether `d` may be a department in a topic (the governance's department ids are
/// lowercase names such as `transport-bureau`).
pub fn valid_department(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= MAX_DEPARTMENT
        && d.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
}

/// Parse a topic a message arrived on.
pub fn parse_topic<'a>(prefix: &str, topic: &'a str) -> Result<Inbound<'a>, TopicError> {
    let rest = topic
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| TopicError::Prefix(clip(topic, 200), prefix.to_string()))?;
    let mut parts = rest.split('/');
    let (Some(department), Some(kind), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TopicError::Unknown(clip(topic, 200), prefix.to_string()));
    };
    let inbound = match kind {
        "observations" => Inbound::Observations { department },
        "ngsi-ld" => Inbound::Ngsi { department },
        _ => return Err(TopicError::Unknown(clip(topic, 200), prefix.to_string())),
    };
    if !valid_department(department) {
        return Err(TopicError::Department { topic: clip(topic, 200), department: clip(department, 80) });
    }
    Ok(inbound)
}

/// Where the report of a message that arrived on `topic` goes: its department's error
/// topic when the topic names a valid department, else `{prefix}/errors`.
pub fn error_topic(prefix: &str, topic: &str) -> String {
    let dept = topic.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')).and_then(|r| r.split('/').next());
    match dept {
        Some(d) if valid_department(d) && d != "errors" && d != "state" && d != "signals" && d != "incidents" => {
            format!("{prefix}/{d}/errors")
        }
        _ => format!("{prefix}/errors"),
    }
}

/// At most `n` bytes of `s` (on a character boundary), for echoing hostile input.
pub fn clip(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A message body that cannot be read at all (every record of it is refused).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("payload of {0} bytes is larger than the limit of {1} bytes")]
    TooLarge(usize, usize),
    #[error("payload is not JSON of the form {{\"token\":\"…\",\"observations\":[…]}}: {0}")]
    Malformed(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeIn<'a> {
    #[serde(default)]
    token: Option<String>,
    #[serde(borrow)]
    observations: Vec<&'a RawValue>,
}

/// A parsed observations message.
#[derive(Debug)]
pub struct Envelope {
    /// The device's credential (a department's service token), if it sent one.
    pub token: Option<String>,
    /// Each record as `sense::parse_batch` would give it.
    pub records: Vec<sense::RawRecord>,
}

/// Parse the body of an observations message (at most `max_bytes`).
pub fn parse_envelope(payload: &[u8], max_bytes: usize) -> Result<Envelope, BodyError> {
    if payload.len() > max_bytes {
        return Err(BodyError::TooLarge(payload.len(), max_bytes));
    }
    let text = std::str::from_utf8(payload).map_err(|e| BodyError::Malformed(format!("not UTF-8: {e}")))?;
    let env: EnvelopeIn = serde_json::from_str(text).map_err(|e| BodyError::Malformed(e.to_string()))?;
    Ok(Envelope { token: env.token, records: env.observations.into_iter().map(sense::parse_record).collect() })
}

/// A located record error (`observations[3].speed: must be …`) split into the field
/// (`speed`; empty for the record as a whole) and the message; other text is all message.
pub fn split_located(located: &str) -> (&str, &str) {
    let Some(rest) = located.strip_prefix("observations[") else { return ("", located) };
    let Some(close) = rest.find(']') else { return ("", located) };
    let after = &rest[close + 1..];
    if let Some(f) = after.strip_prefix('.') {
        if let Some((field, message)) = f.split_once(": ") {
            return (field, message);
        }
    }
    ("", after.strip_prefix(": ").unwrap_or(after))
}

/// Whether `topic` is one the brain publishes itself (it arrives back through the
/// ingest subscription and is ignored): `{prefix}/errors`, `{prefix}/…/errors`,
/// `{prefix}/state/…`, `{prefix}/signals/…`, `{prefix}/incidents`, `{prefix}/events`.
pub fn is_own(prefix: &str, topic: &str) -> bool {
    let Some(rest) = topic.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) else { return false };
    let first = rest.split('/').next().unwrap_or("");
    matches!(first, "errors" | "state" | "signals" | "incidents" | "events") || rest.ends_with("/errors")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        let p = "citybrain";
        assert_eq!(
            parse_topic(p, "citybrain/transport-bureau/observations"),
            Ok(Inbound::Observations { department: "transport-bureau" })
        );
        assert_eq!(parse_topic(p, "citybrain/traffic-police/ngsi-ld"), Ok(Inbound::Ngsi { department: "traffic-police" }));
        assert!(matches!(parse_topic(p, "other/x/observations"), Err(TopicError::Prefix(..))));
        assert!(matches!(parse_topic(p, "citybrainx/x/observations"), Err(TopicError::Prefix(..))));
        assert!(matches!(parse_topic(p, "citybrain/x/observations/more"), Err(TopicError::Unknown(..))));
        assert!(matches!(parse_topic(p, "citybrain/x/readings"), Err(TopicError::Unknown(..))));
        assert!(matches!(parse_topic(p, "citybrain/X Y/observations"), Err(TopicError::Department { .. })));
        assert!(matches!(parse_topic(p, "citybrain//observations"), Err(TopicError::Department { .. })));
        assert_eq!(error_topic(p, "citybrain/transport-bureau/observations"), "citybrain/transport-bureau/errors");
        assert_eq!(error_topic(p, "citybrain/transport-bureau/whatever"), "citybrain/transport-bureau/errors");
        assert_eq!(error_topic(p, "citybrain/BAD/observations"), "citybrain/errors");
        assert_eq!(error_topic(p, "citybrain/state/observations"), "citybrain/errors");
        assert_eq!(error_topic(p, "elsewhere"), "citybrain/errors");
    }

    #[test]
    fn envelopes() {
        let e = parse_envelope(br#"{"token":"cbt_x","observations":[{"sensor":"a","kind":"loop"},{"foo":1},3]}"#, 1000).unwrap();
        assert_eq!(e.token.as_deref(), Some("cbt_x"));
        assert_eq!(e.records.len(), 3);
        assert!(matches!(e.records[0], sense::RawRecord::Record(_)));
        assert!(matches!(e.records[1], sense::RawRecord::Malformed { .. }));
        assert!(parse_envelope(br#"{"observations":[]}"#, 1000).unwrap().token.is_none());
        assert!(matches!(parse_envelope(br#"{"observations":[], "extra":1}"#, 1000), Err(BodyError::Malformed(_))));
        assert!(matches!(parse_envelope(b"[1]", 1000), Err(BodyError::Malformed(_))));
        assert!(matches!(parse_envelope(&[0xff, 0xfe], 1000), Err(BodyError::Malformed(_))));
        assert_eq!(parse_envelope(&[b' '; 11], 10).unwrap_err(), BodyError::TooLarge(11, 10));
        assert_eq!(
            split_located("observations[3].speed: must be within 0..100, got 400"),
            ("speed", "must be within 0..100, got 400")
        );
        assert_eq!(split_located("observations[0]: not an object"), ("", "not an object"));
        assert_eq!(split_located("something else"), ("", "something else"));
        assert!(is_own("citybrain", "citybrain/state/city") && is_own("citybrain", "citybrain/x/errors"));
        assert!(is_own("citybrain", "citybrain/incidents") && !is_own("citybrain", "citybrain/x/observations"));
        assert_eq!(clip("héllo", 2), "h…");
    }
}
