//! Lossless row encoding of observations: fixed columns `kind, ref, road, a, b, c, d,
//! text` whose meaning depends on the kind.
//!
//! | kind | ref | road | a | b | c | d | text |
//! |---|---|---|---|---|---|---|---|
//! | 0 loop | lane | road | count | occupancy | speed | start | |
//! | 1 movement | movement | from road | count | to road | intersection | start | |
//! | 2 queue | intersection | road | queue m | waiting | | | |
//! | 3 plate | intersection | road | | | | | token |
//! | 4 probe | | | x | y | speed | heading | token |
//! | 5 signal | intersection | | code | param | | | |
//! | 6 report | | road | x | y | | | `category` `\n` text |
//!
//! Interval ends are the observation time.

use city::{IntersectionId, LaneId, MovementId, Point, RoadId};
use sense::{
    CitizenReport, EventCode, LoopAggregate, MovementCount, ObsData, PlateRead, ProbeFix, QueueReading, RecordKind, SignalEvent,
};

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

pub fn encode(data: &ObsData) -> Row {
    let mut r = Row { kind: kind_code(data.kind()), ..Default::default() };
    match data {
        ObsData::Loop(l) => {
            (r.r#ref, r.road) = (Some(l.lane.0 as i64), Some(l.road.0 as i64));
            (r.a, r.b, r.c, r.d) = (Some(l.count as f64), Some(l.occupancy), l.speed, Some(l.start));
        }
        ObsData::Movement(m) => {
            (r.r#ref, r.road) = (Some(m.movement.0 as i64), Some(m.from_road.0 as i64));
            (r.a, r.b, r.c, r.d) = (Some(m.count as f64), Some(m.to_road.0 as f64), Some(m.intersection.0 as f64), Some(m.start));
        }
        ObsData::Queue(q) => {
            (r.r#ref, r.road) = (Some(q.intersection.0 as i64), Some(q.road.0 as i64));
            (r.a, r.b) = (Some(q.queue_m), Some(q.waiting as f64));
        }
        ObsData::Plate(p) => {
            (r.r#ref, r.road) = (Some(p.intersection.0 as i64), Some(p.road.0 as i64));
            r.text = Some(p.token.clone());
        }
        ObsData::Probe(p) => {
            (r.a, r.b, r.c, r.d) = (Some(p.pos.x), Some(p.pos.y), Some(p.speed), Some(p.heading));
            r.text = Some(p.token.clone());
        }
        ObsData::Signal(s) => {
            r.r#ref = Some(s.intersection.0 as i64);
            (r.a, r.b) = (Some(s.code.code() as f64), Some(s.param as f64));
        }
        ObsData::Report(rep) => {
            r.road = rep.road.map(|x| x.0 as i64);
            (r.a, r.b) = (rep.pos.map(|p| p.x), rep.pos.map(|p| p.y));
            r.text = Some(format!("{}\n{}", rep.category, rep.text));
        }
    }
    r
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

/// Decode a row; `end` is the observation time. Errors describe the corrupt column.
pub fn decode(row: &Row, end: f64) -> Result<ObsData, String> {
    Ok(match row.kind {
        0 => ObsData::Loop(LoopAggregate {
            lane: LaneId(id_of(row.r#ref, "lane")?),
            road: RoadId(id_of(row.road, "road")?),
            start: need(row.d, "start")?,
            end,
            count: u32_of(row.a, "count")?,
            occupancy: need(row.b, "occupancy")?,
            speed: row.c,
        }),
        1 => ObsData::Movement(MovementCount {
            intersection: IntersectionId(u32_of(row.c, "intersection")?),
            movement: MovementId(id_of(row.r#ref, "movement")?),
            from_road: RoadId(id_of(row.road, "road")?),
            to_road: RoadId(u32_of(row.b, "to road")?),
            start: need(row.d, "start")?,
            end,
            count: u32_of(row.a, "count")?,
        }),
        2 => ObsData::Queue(QueueReading {
            intersection: IntersectionId(id_of(row.r#ref, "intersection")?),
            road: RoadId(id_of(row.road, "road")?),
            queue_m: need(row.a, "queue")?,
            waiting: u32_of(row.b, "waiting")?,
        }),
        3 => ObsData::Plate(PlateRead {
            intersection: IntersectionId(id_of(row.r#ref, "intersection")?),
            road: RoadId(id_of(row.road, "road")?),
            token: need(row.text.clone(), "token")?,
        }),
        4 => ObsData::Probe(ProbeFix {
            token: need(row.text.clone(), "token")?,
            pos: Point::new(need(row.a, "x")?, need(row.b, "y")?),
            speed: need(row.c, "speed")?,
            heading: need(row.d, "heading")?,
        }),
        5 => {
            let c = u32_of(row.a, "code")?;
            ObsData::Signal(SignalEvent {
                intersection: IntersectionId(id_of(row.r#ref, "intersection")?),
                code: u16::try_from(c).ok().and_then(EventCode::from_code).ok_or_else(|| format!("bad event code {c}"))?,
                param: u32_of(row.b, "param")?,
            })
        }
        6 => {
            let t = need(row.text.clone(), "text")?;
            let (category, text) = t.split_once('\n').ok_or("report text has no category")?;
            let pos = match (row.a, row.b) {
                (Some(x), Some(y)) => Some(Point::new(x, y)),
                _ => None,
            };
            ObsData::Report(CitizenReport {
                category: category.into(),
                pos,
                road: row.road.map(|r| id_of(Some(r), "road")).transpose()?.map(RoadId),
                text: text.into(),
            })
        }
        k => return Err(format!("unknown kind {k}")),
    })
}
