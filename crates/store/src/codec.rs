//! Lossless row encoding of observations: fixed columns `kind, ref, road, a, b, c, d,
//! text` whose meaning depends on the kind. Roads and intersections are stored as the
//! store keys of their names ([`crate::keys`]), lanes as their index within the road,
//! movements by their (from, to) roads: nothing depends on one import's dense ids.
//!
//! | kind | ref | road | a | b | c | d | text |
//! |---|---|---|---|---|---|---|---|
//! | 0 loop | lane index in road | road | count | occupancy | speed | start | |
//! | 1 movement | | from road | count | to road | intersection | start | |
//! | 2 queue | intersection | road | queue m | waiting | | | |
//! | 3 plate | intersection | road | | | | | token |
//! | 4 probe | | | x | y | speed | heading | token |
//! | 5 signal | intersection | | code | param | | | |
//! | 6 report | | road | x | y | | | `category` `\n` text |
//!
//! Interval ends are the observation time. (Schema 2 stored the dense ids instead: the
//! lane id in `ref` of loops and the movement id in `ref` of movements; see the
//! migration in the SQLite backend.)

use city::{IntersectionId, Point, RoadId};
use sense::{
    CitizenReport, EventCode, LoopAggregate, MovementCount, ObsData, PlateRead, ProbeFix, QueueReading, RecordKind, SignalEvent,
};

use crate::keys::Keys;

/// One encoded observation (without time and sensor).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub kind: i64,
    pub r#ref: Option<i64>,
    pub road: Option<i64>,
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub c: Option<f64>,
    pub d: Option<f64>,
    pub text: Option<String>,
}

pub fn kind_code(k: RecordKind) -> i64 {
    match k {
        RecordKind::Loop => 0,
        RecordKind::Movement => 1,
        RecordKind::Queue => 2,
        RecordKind::Plate => 3,
        RecordKind::Probe => 4,
        RecordKind::Signal => 5,
        RecordKind::Report => 6,
    }
}

/// Encode an observation of the keys' network. Errors name an id the network has not.
pub fn encode(data: &ObsData, keys: &Keys) -> Result<Row, String> {
    let road = |r: RoadId| keys.road_key(r).ok_or_else(|| format!("road {} is not in the store's network", r.0));
    let inter =
        |i: IntersectionId| keys.intersection_key(i).ok_or_else(|| format!("intersection {} is not in the store's network", i.0));
    let mut r = Row { kind: kind_code(data.kind()), ..Default::default() };
    match data {
        ObsData::Loop(l) => {
            let (road, idx) = keys.lane_key(l.lane).ok_or_else(|| format!("lane {} is not in the store's network", l.lane.0))?;
            (r.r#ref, r.road) = (Some(i64::from(idx)), Some(road));
            (r.a, r.b, r.c, r.d) = (Some(l.count as f64), Some(l.occupancy), l.speed, Some(l.start));
        }
        ObsData::Movement(m) => {
            r.road = Some(road(m.from_road)?);
            (r.a, r.b, r.c, r.d) =
                (Some(m.count as f64), Some(road(m.to_road)? as f64), Some(inter(m.intersection)? as f64), Some(m.start));
        }
        ObsData::Queue(q) => {
            (r.r#ref, r.road) = (Some(inter(q.intersection)?), Some(road(q.road)?));
            (r.a, r.b) = (Some(q.queue_m), Some(q.waiting as f64));
        }
        ObsData::Plate(p) => {
            (r.r#ref, r.road) = (Some(inter(p.intersection)?), Some(road(p.road)?));
            r.text = Some(p.token.clone());
        }
        ObsData::Probe(p) => {
            (r.a, r.b, r.c, r.d) = (Some(p.pos.x), Some(p.pos.y), Some(p.speed), Some(p.heading));
            r.text = Some(p.token.clone());
        }
        ObsData::Signal(s) => {
            r.r#ref = Some(inter(s.intersection)?);
            (r.a, r.b) = (Some(s.code.code() as f64), Some(s.param as f64));
        }
        ObsData::Report(rep) => {
            r.road = rep.road.map(road).transpose()?;
            (r.a, r.b) = (rep.pos.map(|p| p.x), rep.pos.map(|p| p.y));
            r.text = Some(format!("{}\n{}", rep.category, rep.text));
        }
    }
    Ok(r)
}

fn need<T>(v: Option<T>, what: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("missing {what}"))
}

fn u32_of(v: Option<f64>, what: &str) -> Result<u32, String> {
    let x = need(v, what)?;
    if x >= 0.0 && x <= u32::MAX as f64 && x.fract() == 0.0 {
        Ok(x as u32)
    } else {
        Err(format!("{what} {x} is not a u32"))
    }
}

fn id_of(v: Option<i64>, what: &str) -> Result<u32, String> {
    let x = need(v, what)?;
    u32::try_from(x).map_err(|_| format!("{what} {x} out of range"))
}

/// A key stored in a REAL column (movement to-road and intersection).
fn key_of(v: Option<f64>, what: &str) -> Result<i64, String> {
    u32_of(v, what).map(i64::from)
}

/// Decode a row for the keys' network; `end` is the observation time. `Ok(None)`: the row
/// refers to a road, lane, intersection or movement this network has not (e.g. stored
/// under another network). Errors describe the corrupt column.
pub fn decode(row: &Row, end: f64, keys: &Keys) -> Result<Option<ObsData>, String> {
    let road = |k: Option<i64>, what: &str| need(k, what).map(|k| keys.road(k));
    let inter = |k: Option<i64>, what: &str| need(k, what).map(|k| keys.intersection(k));
    Ok(Some(match row.kind {
        0 => {
            let idx = id_of(row.r#ref, "lane")?;
            let Some(road_id) = road(row.road, "road")? else { return Ok(None) };
            let Some(lane) = keys.lane(need(row.road, "road")?, idx) else { return Ok(None) };
            ObsData::Loop(LoopAggregate {
                lane,
                road: road_id,
                start: need(row.d, "start")?,
                end,
                count: u32_of(row.a, "count")?,
                occupancy: need(row.b, "occupancy")?,
                speed: row.c,
            })
        }
        1 => {
            let count = u32_of(row.a, "count")?;
            let start = need(row.d, "start")?;
            let (Some(intersection), Some(from_road), Some(to_road)) = (
                inter(Some(key_of(row.c, "intersection")?), "intersection")?,
                road(row.road, "road")?,
                road(Some(key_of(row.b, "to road")?), "to road")?,
            ) else {
                return Ok(None);
            };
            let Some(movement) = keys.movement(from_road, to_road) else { return Ok(None) };
            ObsData::Movement(MovementCount { intersection, movement, from_road, to_road, start, end, count })
        }
        2 => {
            let (queue_m, waiting) = (need(row.a, "queue")?, u32_of(row.b, "waiting")?);
            let (Some(intersection), Some(road)) = (inter(row.r#ref, "intersection")?, road(row.road, "road")?) else {
                return Ok(None);
            };
            ObsData::Queue(QueueReading { intersection, road, queue_m, waiting })
        }
        3 => {
            let token = need(row.text.clone(), "token")?;
            let (Some(intersection), Some(road)) = (inter(row.r#ref, "intersection")?, road(row.road, "road")?) else {
                return Ok(None);
            };
            ObsData::Plate(PlateRead { intersection, road, token })
        }
        4 => ObsData::Probe(ProbeFix {
            token: need(row.text.clone(), "token")?,
            pos: Point::new(need(row.a, "x")?, need(row.b, "y")?),
            speed: need(row.c, "speed")?,
            heading: need(row.d, "heading")?,
        }),
        5 => {
            let c = u32_of(row.a, "code")?;
            let code = u16::try_from(c).ok().and_then(EventCode::from_code).ok_or_else(|| format!("bad event code {c}"))?;
            let param = u32_of(row.b, "param")?;
            let Some(intersection) = inter(row.r#ref, "intersection")? else { return Ok(None) };
            ObsData::Signal(SignalEvent { intersection, code, param })
        }
        6 => {
            let t = need(row.text.clone(), "text")?;
            let (category, text) = t.split_once('\n').ok_or("report text has no category")?;
            let pos = match (row.a, row.b) {
                (Some(x), Some(y)) => Some(Point::new(x, y)),
                _ => None,
            };
            let road = match row.road {
                Some(k) => match keys.road(k) {
                    Some(r) => Some(r),
                    None => return Ok(None),
                },
                None => None,
            };
            ObsData::Report(CitizenReport { category: category.into(), pos, road, text: text.into() })
        }
        k => return Err(format!("unknown kind {k}")),
    }))
}
