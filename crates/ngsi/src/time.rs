//! Times: NGSI-LD writes them as RFC 3339 UTC (`2024-01-01T00:00:00.000Z`).

use jiff::Timestamp;

/// Now as an NGSI-LD DateTime.
pub fn now_iso() -> String {
    fmt(Timestamp::now())
}

/// Milliseconds, UTC, `Z`.
pub fn fmt(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parse a DateTime (RFC 3339, or a date-time without an offset taken as UTC).
pub fn parse(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let dt: jiff::civil::DateTime = s.parse().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// Unix seconds of a DateTime.
pub fn secs(s: &str) -> Option<f64> {
    parse(s).map(|t| t.as_millisecond() as f64 / 1000.0)
}

/// An NGSI-LD DateTime of Unix seconds.
pub fn from_secs(s: f64) -> String {
    Timestamp::from_millisecond((s * 1000.0).round() as i64).map(fmt).unwrap_or_default()
}
