//! Backend-neutral bucketing and aggregation: every backend stores the same additive
//! cells and snapshot blobs, computed here.
//!
//! - **Buckets**: 1 minute and 15 minutes, aligned on multiples of their length in the
//!   store's time axis (`floor(t / len) * len`); nothing assumes the time is seconds since
//!   midnight (Unix seconds work the same).
//! - **Cells**: per (road key, bucket length, bucket index): the sum and number of fused
//!   road speeds of the snapshots in the bucket, and the vehicles counted by loops whose
//!   interval ends in the bucket. All three are additive, so a backend upserts by adding
//!   (a bucket that straddles a restart is completed, not overwritten).
//! - **Snapshot blob**: little-endian `f32` road speeds at position = road key
//!   (see [`crate::keys`]), NaN = unknown or a key the network has not.

use std::collections::BTreeMap;

use city::RoadId;
use sense::{ObsData, Observation};
use state::CityState;

use crate::keys::Keys;
use crate::HistoryPoint;

/// Bucket lengths of the stored aggregates, seconds.
pub const RESOLUTIONS_S: [i64; 2] = [60, 900];

/// Start of the bucket of length `len_s` that contains `t`.
pub fn bucket_start(t: f64, len_s: f64) -> f64 {
    (t / len_s).floor() * len_s
}

/// One additive aggregate cell.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cell {
    pub speed_sum: f64,
    pub speed_n: i64,
    pub count: i64,
}

impl Cell {
    pub fn mean_speed(&self) -> Option<f64> {
        (self.speed_n > 0).then(|| self.speed_sum / self.speed_n as f64)
    }
}

/// Cells to add, keyed by (road key, bucket length s, bucket index).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cells(pub BTreeMap<(i64, i64, i64), Cell>);

impl Cells {
    fn cell(&mut self, road_key: i64, len_s: i64, t: f64) -> &mut Cell {
        let idx = (t / len_s as f64).floor() as i64;
        self.0.entry((road_key, len_s, idx)).or_default()
    }

    /// Add the loop counts of `obs` (bucketed by the observation time, the interval end).
    pub fn add_loops(&mut self, obs: &[Observation], keys: &Keys) {
        for o in obs {
            if let ObsData::Loop(l) = &o.data {
                if let Some(k) = keys.road_key(l.road) {
                    for len in RESOLUTIONS_S {
                        self.cell(k, len, o.time).count += i64::from(l.count);
                    }
                }
            }
        }
    }

    /// Add the fused road speeds of a state snapshot.
    pub fn add_snapshot(&mut self, s: &CityState, keys: &Keys) {
        for r in &s.roads {
            if let (Some(v), Some(k)) = (r.speed, keys.road_key(r.road)) {
                for len in RESOLUTIONS_S {
                    let c = self.cell(k, len, s.time);
                    c.speed_sum += v;
                    c.speed_n += 1;
                }
            }
        }
    }

    /// `(road key, bucket length s, bucket start, cell)` in key order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i64, f64, Cell)> + '_ {
        self.0.iter().map(|(&(road, len, idx), &c)| (road, len, (idx * len) as f64, c))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The road speeds of a snapshot as a blob: `f32` LE at position = road key.
pub fn encode_speeds(s: &CityState, keys: &Keys) -> Vec<u8> {
    let n = (keys.max_road_key() + 1).max(0) as usize;
    let mut v = vec![f32::NAN; n];
    for r in &s.roads {
        if let (Some(speed), Some(k)) = (r.speed, keys.road_key(r.road)) {
            v[k as usize] = speed as f32;
        }
    }
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn check_blob(blob: &[u8]) -> Result<(), String> {
    if blob.len().is_multiple_of(4) {
        Ok(())
    } else {
        Err(format!("road blob of {} bytes", blob.len()))
    }
}

/// The speed at road key `key` in a blob.
pub fn blob_speed(blob: &[u8], key: i64) -> Result<Option<f32>, String> {
    check_blob(blob)?;
    let Ok(k) = usize::try_from(key) else { return Ok(None) };
    Ok(blob.get(k * 4..k * 4 + 4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).filter(|v| !v.is_nan()))
}

/// The speeds of a blob per road of the keys' network (index = [`RoadId`]).
pub fn decode_speeds(blob: &[u8], keys: &Keys) -> Result<Vec<Option<f32>>, String> {
    check_blob(blob)?;
    (0..keys.road_count())
        .map(|r| match keys.road_key(RoadId(r as u32)) {
            Some(k) => blob_speed(blob, k),
            None => Ok(None),
        })
        .collect()
}

/// One stored area or city KPI row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KpiRow {
    pub time: f64,
    pub mean_speed: Option<f64>,
    pub delay_index: Option<f64>,
    pub tpi: f64,
}

impl From<KpiRow> for HistoryPoint {
    fn from(r: KpiRow) -> HistoryPoint {
        HistoryPoint { time: r.time, speed: r.mean_speed, count: None, delay_index: r.delay_index, tpi: Some(r.tpi) }
    }
}

/// Average KPI rows (in time order) into buckets of `len_s`: the mean of the known values
/// of each field; `time` is the bucket start.
pub fn average_buckets(rows: impl IntoIterator<Item = KpiRow>, len_s: f64) -> Vec<HistoryPoint> {
    #[derive(Default)]
    struct Acc {
        speed: (f64, u32),
        delay: (f64, u32),
        tpi: (f64, u32),
    }
    let mut acc: BTreeMap<i64, Acc> = BTreeMap::new();
    for r in rows {
        let a = acc.entry((r.time / len_s).floor() as i64).or_default();
        let add = |s: &mut (f64, u32), v: Option<f64>| {
            if let Some(v) = v {
                s.0 += v;
                s.1 += 1;
            }
        };
        add(&mut a.speed, r.mean_speed);
        add(&mut a.delay, r.delay_index);
        add(&mut a.tpi, Some(r.tpi));
    }
    let mean = |(s, n): (f64, u32)| (n > 0).then(|| s / f64::from(n));
    acc.into_iter()
        .map(|(b, a)| HistoryPoint {
            time: b as f64 * len_s,
            speed: mean(a.speed),
            count: None,
            delay_index: mean(a.delay),
            tpi: mean(a.tpi),
        })
        .collect()
}

/// Largest stored raw body of a rejected record, bytes (longer ones are truncated).
pub const MAX_REJECTED_RAW: usize = 4096;
/// Largest stored error message of a rejected record, bytes.
pub const MAX_REJECTED_ERROR: usize = 1024;

/// `s` cut to at most `max` bytes (on a character boundary) followed by
/// `…[truncated, N bytes total]` when it is longer; unchanged otherwise.
pub fn truncate_text(s: &str, max: usize) -> String {
    match cut(s, max) {
        Some(kept) => format!("{kept}…[truncated, {} bytes total]", s.len()),
        None => s.to_string(),
    }
}

/// The prefix of `s` of at most `max` bytes on a character boundary, if `s` is longer.
fn cut(s: &str, max: usize) -> Option<&str> {
    if s.len() <= max {
        return None;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    Some(&s[..at])
}

/// A rejected record's raw body as stored: cut to [`MAX_REJECTED_RAW`] bytes, plate
/// values redacted ([`redact_plates`]), then the truncation marker if it was cut.
pub fn stored_raw(raw: &str) -> String {
    match cut(raw, MAX_REJECTED_RAW) {
        Some(kept) => format!("{}…[truncated, {} bytes total]", redact_plates(kept), raw.len()),
        None => redact_plates(raw),
    }
}

/// JSON keys whose string values may hold a licence plate.
pub const PLATE_KEYS: [&str; 4] = ["plate", "plate_number", "license_plate", "licence_plate"];

/// Defensive redaction before a raw body is stored (the pipeline redacts first): every
/// string value of a [`PLATE_KEYS`] key becomes `"[redacted]"`. Works on any text, JSON
/// or not; leaves everything else as it is.
pub fn redact_plates(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    'scan: while let Some(q) = rest.find('"') {
        for key in PLATE_KEYS {
            let Some(after_key) = rest[q + 1..].strip_prefix(key).and_then(|s| s.strip_prefix('"')) else { continue };
            let after_colon = after_key.trim_start();
            let Some(value) = after_colon.strip_prefix(':').map(str::trim_start).and_then(|s| s.strip_prefix('"')) else {
                continue;
            };
            // End of the string value: the first unescaped quote.
            let (mut i, bytes) = (0, value.as_bytes());
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            let consumed = raw.len() - value.len(); // up to the value's opening quote
            out.push_str(&raw[raw.len() - rest.len()..consumed]);
            out.push_str("[redacted]");
            rest = &value[i.min(value.len())..];
            continue 'scan;
        }
        out.push_str(&rest[..=q]);
        rest = &rest[q + 1..];
    }
    out.push_str(rest);
    out
}
