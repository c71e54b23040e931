//! Absolute time. Every time inside citybrain is **Unix seconds, UTC, as `f64`**
//! (seconds since 1970-01-01T00:00:00Z, fractional part for sub-second precision;
//! millisecond resolution survives the `f64` until the year 9999). On the wire a time is
//! either a JSON number (Unix seconds) or an RFC 3339 string with an offset
//! (`"2026-12-06T07:00:00Z"`, `"2026-12-06T15:00:00.250+08:00"`).
//!
//! Parsing, formatting and time zones use the `jiff` crate with its bundled IANA database
//! (no system tzdata needed). Leap seconds do not exist on this clock: a `:60` second is
//! read as `:59` of the same minute (as jiff and POSIX time do).
//!
//! The city's civil time (dates in exports, ATSPM logs, the demo's day) is a [`CityZone`].

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Earliest accepted time: 1970-01-01T00:00:00Z.
pub const MIN_UNIX_S: f64 = 0.0;
/// Latest accepted time: 9999-12-31T23:59:59Z.
pub const MAX_UNIX_S: f64 = 253_402_300_799.0;
/// Longest timestamp string looked at (a valid RFC 3339 string is ~35 characters).
pub const MAX_TIMESTAMP_LEN: usize = 64;

/// Parse an RFC 3339 timestamp (an offset or `Z` is required) into Unix seconds.
/// Errors are short sentences that quote at most the start of the input.
pub fn parse_rfc3339(s: &str) -> Result<f64, String> {
    let shown = quote_start(s, 40);
    if s.len() > MAX_TIMESTAMP_LEN {
        return Err(format!("timestamp string longer than {MAX_TIMESTAMP_LEN} bytes: {shown}"));
    }
    let ts: Timestamp = s.parse().map_err(|e: jiff::Error| {
        let reason = e.to_string();
        let reason: String = reason.chars().take(160).collect();
        format!("invalid RFC 3339 timestamp {shown} (expected e.g. \"2026-12-06T07:00:00Z\" or Unix seconds): {reason}")
    })?;
    check_unix(to_f64(ts))
}

/// Check that Unix seconds are finite and within [`MIN_UNIX_S`]..=[`MAX_UNIX_S`].
pub fn check_unix(t: f64) -> Result<f64, String> {
    if !t.is_finite() {
        return Err(format!("must be a finite number of Unix seconds, got {t}"));
    }
    if !(MIN_UNIX_S..=MAX_UNIX_S).contains(&t) {
        return Err(format!(
            "must be Unix seconds within 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z ({MIN_UNIX_S}..{MAX_UNIX_S}), got {t}"
        ));
    }
    Ok(t)
}

fn to_f64(ts: Timestamp) -> f64 {
    ts.as_second() as f64 + ts.subsec_nanosecond() as f64 * 1e-9
}

/// The jiff timestamp of Unix seconds `t` (rounded to the millisecond); `None` when `t`
/// is not finite or outside jiff's range (years -9999..=9999).
pub fn timestamp(t: f64) -> Option<Timestamp> {
    if !t.is_finite() || t.abs() > 3e11 {
        return None;
    }
    let ms = (t * 1000.0).round() as i64;
    Timestamp::new(ms.div_euclid(1000), (ms.rem_euclid(1000) * 1_000_000) as i32).ok()
}

/// RFC 3339 in UTC, millisecond precision: `2026-12-06T07:00:00.000Z`. A value outside
/// the representable range is printed as the number, so this never fails.
pub fn format_utc(t: f64) -> String {
    match timestamp(t) {
        Some(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{t} (Unix seconds out of range)"),
    }
}

fn quote_start(s: &str, max_chars: usize) -> String {
    let mut out: String = s.chars().take(max_chars).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    format!("{out:?}")
}

/// The city's time zone (IANA name, e.g. `Asia/Shanghai`): civil dates for exports, the
/// ATSPM log and the demo's day.
#[derive(Clone, Debug)]
pub struct CityZone {
    name: String,
    tz: TimeZone,
}

/// The default city time zone.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

impl Default for CityZone {
    fn default() -> Self {
        CityZone::new(DEFAULT_TIMEZONE).expect("the bundled tz database has Asia/Shanghai")
    }
}

impl PartialEq for CityZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl CityZone {
    /// Look up an IANA time zone name (`Asia/Shanghai`, `Europe/Berlin`, `UTC`).
    pub fn new(name: &str) -> Result<CityZone, String> {
        let tz = TimeZone::get(name).map_err(|e| format!("unknown time zone {:?}: {e}", quote_start(name, 60)))?;
        Ok(CityZone { name: name.to_string(), tz })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Offset from UTC at `t`, seconds (e.g. 28800 in Shanghai).
    pub fn utc_offset_s(&self, t: f64) -> i32 {
        timestamp(t).map(|ts| self.tz.to_offset(ts).seconds()).unwrap_or(0)
    }

    /// RFC 3339 in the city's civil time with an explicit offset, millisecond precision:
    /// `2026-12-06T07:00:00.000+08:00`. Never fails (see [`format_utc`]).
    pub fn format(&self, t: f64) -> String {
        match timestamp(t) {
            Some(ts) => ts.to_zoned(self.tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
            None => format_utc(t),
        }
    }

    /// ATSPM / spreadsheet style civil time with offset: `2026-12-06 07:00:00.000+08:00`.
    pub fn format_log(&self, t: f64) -> String {
        let mut out = String::with_capacity(29);
        self.write_log(t, &mut out);
        out
    }

    /// [`CityZone::format_log`] appended to `out` (a long log writes one line after
    /// another into one buffer). The common case (years 1000..=9999, an offset of whole
    /// minutes) is written field by field from the civil date-time, without a strftime
    /// format to interpret per call; anything else goes through strftime.
    pub fn write_log(&self, t: f64, out: &mut String) {
        use std::fmt::Write;
        let Some(ts) = timestamp(t) else {
            out.push_str(&format_utc(t));
            return;
        };
        let off = self.tz.to_offset(ts);
        let secs = off.seconds();
        let dt = off.to_datetime(ts);
        if secs % 60 == 0 && (1000..=9999).contains(&dt.year()) {
            let (sign, a) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
            let _ = write!(
                out,
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.subsec_nanosecond() / 1_000_000,
                a / 3600,
                a % 3600 / 60
            );
        } else {
            let _ = write!(out, "{}", ts.to_zoned(self.tz.clone()).strftime("%Y-%m-%d %H:%M:%S%.3f%:z"));
        }
    }

    /// Unix seconds of `hour:00` (0..24, fractional allowed) on the civil date that holds
    /// `now` in this zone. Used by the demo to put its simulated day on today's date.
    pub fn day_at(&self, now: f64, hour: f64) -> Result<f64, String> {
        if !(0.0..24.0).contains(&hour) {
            return Err(format!("hour must be within 0..24, got {hour}"));
        }
        let ts = timestamp(now).ok_or_else(|| format!("time out of range: {now}"))?;
        let day = ts.to_zoned(self.tz.clone()).start_of_day().map_err(|e| e.to_string())?;
        // Civil-time arithmetic would skip or repeat across a DST change; the demo hour is
        // a wall-clock offset from the start of the day, like a roster.
        Ok(to_f64(day.timestamp()) + hour * 3600.0)
    }
}

/// Serde support for the wire's time fields: an RFC 3339 string or a JSON number (Unix
/// seconds). Range checks happen in validation, so this accepts any number.
pub(crate) mod wire_time {
    use serde::de::{self, Deserializer, Visitor};

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an RFC 3339 timestamp string or Unix seconds")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            super::parse_rfc3339(v).map(Some).map_err(E::custom)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(V)
    }
}
