//! Per-record validation: a [`RawRecord`] becomes an [`Observation`] or a [`RecordError`]
//! naming the offending field. Stateless; the time-order check lives in the pipeline.

use city::Point;

use crate::observation::*;
use crate::registry::{SensorKind, SensorRegistry};
use crate::wire::{RawRecord, WireRecord};

/// Largest plausible speed, m/s (360 km/h).
pub const MAX_SPEED: f64 = 100.0;
/// Longest aggregation interval accepted, seconds.
pub const MAX_INTERVAL: f64 = 3600.0;
/// Longest citizen report text, characters.
pub const MAX_TEXT: usize = 2000;
/// Longest record id (`id`), bytes.
pub const MAX_RECORD_ID: usize = 128;

/// Why one record was rejected. `field` is the wire field name (empty for the record as
/// a whole); Display gives `field: message`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}{}{message}", field, if field.is_empty() { "" } else { ": " })]
pub struct RecordError {
    pub field: String,
    pub message: String,
}

impl RecordError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> RecordError {
        RecordError { field: field.into(), message: message.into() }
    }

    /// The message located in a batch: `observations[3].occupancy: ...`.
    pub fn at(&self, index: usize) -> String {
        if self.field.is_empty() {
            format!("observations[{index}]: {}", self.message)
        } else {
            format!("observations[{index}].{}: {}", self.field, self.message)
        }
    }
}

type R<T> = Result<T, RecordError>;

fn req<T: Copy>(v: &Option<T>, field: &str) -> R<T> {
    v.ok_or_else(|| RecordError::new(field, "required"))
}

fn req_str<'a>(v: &'a Option<String>, field: &str) -> R<&'a str> {
    v.as_deref().ok_or_else(|| RecordError::new(field, "required"))
}

fn finite(v: &Option<f64>, field: &str) -> R<f64> {
    let x = req(v, field)?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(RecordError::new(field, format!("must be a finite number, got {x}")))
    }
}

fn within(v: &Option<f64>, field: &str, lo: f64, hi: f64) -> R<f64> {
    let x = finite(v, field)?;
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(RecordError::new(field, format!("must be within {lo}..{hi}, got {x}")))
    }
}

fn count(v: &Option<f64>, field: &str) -> R<u32> {
    let x = finite(v, field)?;
    if x < 0.0 || x.fract() != 0.0 || x > u32::MAX as f64 {
        return Err(RecordError::new(field, format!("must be a non-negative integer, got {x}")));
    }
    Ok(x as u32)
}

/// A time field: Unix seconds within [`crate::time::MIN_UNIX_S`]..=[`crate::time::MAX_UNIX_S`].
fn instant(v: &Option<f64>, field: &str) -> R<f64> {
    crate::time::check_unix(req(v, field)?).map_err(|m| RecordError::new(field, m))
}

fn interval(w: &WireRecord, time: f64) -> R<(f64, f64)> {
    let start = instant(&w.start, "start")?;
    let end = instant(&w.end, "end")?;
    if end <= start {
        return Err(RecordError::new("end", format!("must be after start ({start}), got {end}")));
    }
    if end - start > MAX_INTERVAL {
        return Err(RecordError::new("end", format!("interval longer than {MAX_INTERVAL} s: {start}..{end}")));
    }
    if end > time + 1e-6 {
        return Err(RecordError::new("end", format!("must not be after the record time {time}, got {end}")));
    }
    Ok((start, end))
}

/// Whether `t` is a pseudonymised token: exactly 24 lowercase hex characters.
pub fn is_token(t: &str) -> bool {
    t.len() == 24 && t.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn token(v: &Option<String>) -> R<String> {
    let t = req_str(v, "token")?;
    if is_token(t) {
        Ok(t.to_string())
    } else {
        Err(RecordError::new(
            "token",
            "must be a pseudonymised token (24 lowercase hex characters); raw plates are never accepted",
        ))
    }
}

fn road(reg: &SensorRegistry, v: &Option<String>, field: &str) -> R<city::RoadId> {
    let name = req_str(v, field)?;
    reg.road_by_name(name).ok_or_else(|| RecordError::new(field, format!("unknown road `{name}`")))
}

/// A position from `x`/`y` (metres) or `lon`/`lat` (WGS84 degrees, through the network's
/// georeference; outside the network's bounds plus a margin is an error). `None` when
/// neither pair is present.
fn position(reg: &SensorRegistry, w: &WireRecord) -> R<Option<Point>> {
    match (w.x.is_some() || w.y.is_some(), w.lon.is_some() || w.lat.is_some()) {
        (true, true) => Err(RecordError::new("x", "give either x/y or lon/lat, not both")),
        (true, false) => Ok(Some(Point::new(finite(&w.x, "x")?, finite(&w.y, "y")?))),
        (false, true) => {
            let lon = within(&w.lon, "lon", -180.0, 180.0)?;
            let lat = within(&w.lat, "lat", -90.0, 90.0)?;
            reg.geo().locate(lon, lat).map(Some).map_err(|m| RecordError::new("lon", m))
        }
        (false, false) => Ok(None),
    }
}

/// A record id: 1 to [`MAX_RECORD_ID`] bytes of printable ASCII (no spaces).
fn record_id(id: &str) -> R<()> {
    if id.is_empty() || id.len() > MAX_RECORD_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RecordError::new(
            "id",
            format!("must be 1 to {MAX_RECORD_ID} printable ASCII characters without spaces ({} bytes given)", id.len()),
        ));
    }
    Ok(())
}

/// Validate one raw record against the registry.
pub fn validate(reg: &SensorRegistry, raw: &RawRecord) -> Result<Observation, RecordError> {
    let w = match raw {
        RawRecord::Record(w) => w,
        RawRecord::Malformed { field, message, .. } => return Err(RecordError::new(field.clone(), message.clone())),
    };
    if let Some(id) = &w.id {
        record_id(id)?;
    }
    let sensor_id = req_str(&w.sensor, "sensor")?;
    let sensor = reg.lookup(sensor_id).ok_or_else(|| RecordError::new("sensor", format!("unknown sensor `{sensor_id}`")))?;
    let s = reg.get(sensor).expect("lookup returns registered indices");
    let kind_s = req_str(&w.kind, "kind")?;
    let kind = RecordKind::parse(kind_s).ok_or_else(|| RecordError::new("kind", format!("unknown kind `{kind_s}`")))?;
    if !s.kind.record_kinds().contains(&kind) {
        return Err(RecordError::new(
            "kind",
            format!("sensor `{sensor_id}` is a {} and cannot report `{kind_s}`", s.kind.as_str()),
        ));
    }
    let time = instant(&w.time, "time")?;
    let inter = s.location.intersection;
    let data = match kind {
        RecordKind::Loop => {
            let lane = s.location.lane.ok_or_else(|| RecordError::new("sensor", "loop has no lane"))?;
            let (start, end) = interval(w, time)?;
            let speed = match w.speed {
                None => None,
                Some(_) => Some(within(&w.speed, "speed", 0.0, MAX_SPEED)?),
            };
            ObsData::Loop(LoopAggregate {
                lane,
                road: s.location.road.or_else(|| reg.lane_road(lane)).ok_or_else(|| RecordError::new("sensor", "no road"))?,
                start,
                end,
                count: count(&w.count, "count")?,
                occupancy: within(&w.occupancy, "occupancy", 0.0, 1.0)?,
                speed,
            })
        }
        RecordKind::Movement => {
            let intersection = inter.ok_or_else(|| RecordError::new("sensor", "camera has no intersection"))?;
            let (from_road, to_road) = (road(reg, &w.from, "from")?, road(reg, &w.to, "to")?);
            let movement =
                reg.movement(from_road, to_road).filter(|_| reg.road_to(from_road) == Some(intersection)).ok_or_else(|| {
                    RecordError::new(
                        "to",
                        format!("no movement from `{}` to `{}` at this camera", reg.road_name(from_road), reg.road_name(to_road)),
                    )
                })?;
            let (start, end) = interval(w, time)?;
            ObsData::Movement(MovementCount {
                intersection,
                movement,
                from_road,
                to_road,
                start,
                end,
                count: count(&w.count, "count")?,
            })
        }
        RecordKind::Queue | RecordKind::Plate => {
            let intersection = inter.ok_or_else(|| RecordError::new("sensor", "camera has no intersection"))?;
            let r = road(reg, &w.road, "road")?;
            if reg.road_to(r) != Some(intersection) {
                return Err(RecordError::new(
                    "road",
                    format!("road `{}` does not approach this camera's intersection", reg.road_name(r)),
                ));
            }
            if kind == RecordKind::Queue {
                ObsData::Queue(QueueReading {
                    intersection,
                    road: r,
                    queue_m: within(&w.queue_m, "queue_m", 0.0, 100_000.0)?,
                    waiting: count(&w.waiting, "waiting")?,
                })
            } else {
                ObsData::Plate(PlateRead { intersection, road: r, token: token(&w.token)? })
            }
        }
        RecordKind::Probe => {
            let token = token(&w.token)?;
            let pos = position(reg, w)?.ok_or_else(|| RecordError::new("x", "required (or lon/lat)"))?;
            ObsData::Probe(ProbeFix {
                token,
                pos,
                speed: within(&w.speed, "speed", 0.0, MAX_SPEED)?,
                heading: finite(&w.heading, "heading")?,
            })
        }
        RecordKind::Signal => {
            let intersection = inter.ok_or_else(|| RecordError::new("sensor", "controller has no intersection"))?;
            let c = count(&w.code, "code")?;
            let code = u16::try_from(c).ok().and_then(EventCode::from_code).ok_or_else(|| {
                let known: Vec<String> = EventCode::ALL.iter().map(|e| e.code().to_string()).collect();
                RecordError::new("code", format!("must be one of {}, got {c}", known.join(", ")))
            })?;
            let param = count(&w.param, "param")?;
            // Per-record path: no allocation unless the record is refused.
            const _: () = assert!(MAX_CYCLE_S == 999, "the cycle message below names the limit");
            let (ok, what) = match code.param_kind() {
                ParamKind::Detector => (reg.detector_lane(intersection, param).is_some(), "no detector channel"),
                ParamKind::Preempt => ((1..=10).contains(&param), "no preempt channel (1..=10)"),
                ParamKind::Phase => (reg.has_phase(intersection, param), "no phase"),
                ParamKind::Pattern => (param <= 255, "must be a coordination pattern 0..=255, got"),
                ParamKind::CycleSeconds => (param <= MAX_CYCLE_S, "must be a cycle length 0..=999 s, got"),
            };
            if !ok {
                let at = if matches!(code.param_kind(), ParamKind::Pattern | ParamKind::CycleSeconds) {
                    ""
                } else {
                    " at this controller"
                };
                return Err(RecordError::new("param", format!("{what} {param}{at}")));
            }
            ObsData::Signal(SignalEvent { intersection, code, param })
        }
        RecordKind::Report => {
            let category = req_str(&w.category, "category")?.to_string();
            if !REPORT_CATEGORIES.contains(&category.as_str()) {
                return Err(RecordError::new(
                    "category",
                    format!("must be one of {}, got `{category}`", REPORT_CATEGORIES.join(", ")),
                ));
            }
            let text = req_str(&w.text, "text")?.to_string();
            if text.chars().count() > MAX_TEXT {
                return Err(RecordError::new("text", format!("longer than {MAX_TEXT} characters")));
            }
            let rd = match &w.road {
                Some(_) => Some(road(reg, &w.road, "road")?),
                None => None,
            };
            let pos = position(reg, w)?;
            if pos.is_none() && rd.is_none() {
                return Err(RecordError::new("x", "a location is required: x/y, lon/lat or road"));
            }
            ObsData::Report(CitizenReport { category, pos, road: rd, text })
        }
    };
    debug_assert_eq!(s.kind == SensorKind::Loop, matches!(data, ObsData::Loop(_)));
    Ok(Observation { sensor, time, data })
}
