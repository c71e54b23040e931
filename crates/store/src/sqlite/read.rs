//! The read queries of [`SqliteStore`], each on a pooled read connection.

use std::collections::HashMap;

use city::IntersectionId;
use rusqlite::{params, Connection, OptionalExtension};
use sense::{EventCode, ObsData, Observation, SensorRegistry};

use super::{Res, SqliteStore};
use crate::agg::{self, KpiRow};
use crate::codec::{self, Row};
use crate::keys::Keys;
use crate::*;

fn lim(limit: usize) -> i64 {
    limit.min(i64::MAX as usize) as i64
}

fn corrupt(e: String) -> StoreError {
    StoreError::corrupt(e)
}

pub(super) fn history(
    c: &Connection,
    keys: &Keys,
    scope: &Scope,
    from: f64,
    to: f64,
    res: Resolution,
    limit: usize,
) -> Res<Vec<HistoryPoint>> {
    let mut out = Vec::new();
    let road_key =
        |r: &RoadId| keys.road_key(*r).ok_or_else(|| StoreError::invalid(format!("road {} is not in the store's network", r.0)));
    match (scope, res.seconds()) {
        (Scope::Road(road), None) => {
            let key = road_key(road)?;
            let mut st =
                c.prepare_cached("SELECT time, roads FROM snapshots WHERE time >= ?1 AND time < ?2 ORDER BY time LIMIT ?3")?;
            let rows = st.query_map(params![from, to, lim(limit)], |r| Ok((r.get::<_, f64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
            for row in rows {
                let (time, blob) = row?;
                let speed = agg::blob_speed(&blob, key).map_err(corrupt)?.map(f64::from);
                out.push(HistoryPoint { time, speed, count: None, delay_index: None, tpi: None });
            }
        }
        (Scope::Road(road), Some(sec)) => {
            let key = road_key(road)?;
            let mut st = c.prepare_cached(
                "SELECT bucket, speed_sum, speed_n, count FROM agg WHERE road = ?1 AND res = ?2 AND bucket >= ?3 AND bucket < ?4
                 ORDER BY bucket LIMIT ?5",
            )?;
            let rows = st.query_map(params![key, sec as i64, agg::bucket_start(from, sec), to, lim(limit)], |r| {
                Ok((r.get::<_, f64>(0)?, agg::Cell { speed_sum: r.get(1)?, speed_n: r.get(2)?, count: r.get(3)? }))
            })?;
            for row in rows {
                let (time, cell) = row?;
                out.push(HistoryPoint {
                    time,
                    speed: cell.mean_speed(),
                    count: Some(cell.count.max(0) as u64),
                    delay_index: None,
                    tpi: None,
                });
            }
        }
        (area_or_city, sec) => {
            let (table, filter, name) = match area_or_city {
                Scope::Area(n) => ("area_snapshots", "area = ?3 AND", n.clone()),
                _ => ("snapshots", "?3 IS NOT NULL AND", String::new()),
            };
            let from = sec.map_or(from, |s| agg::bucket_start(from, s));
            // Snapshots: at most `limit` rows; buckets: every row of the window (the
            // caller bounds the window), averaged and then cut to `limit`.
            let row_limit = if sec.is_some() { i64::MAX } else { lim(limit) };
            let sql = format!(
                "SELECT time, mean_speed, delay_index, tpi FROM {table} WHERE {filter} time >= ?1 AND time < ?2 ORDER BY time LIMIT ?4"
            );
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(params![from, to, name, row_limit], |r| {
                Ok(KpiRow { time: r.get(0)?, mean_speed: r.get(1)?, delay_index: r.get(2)?, tpi: r.get(3)? })
            })?;
            let rows: Vec<KpiRow> = rows.collect::<Result<_, _>>()?;
            out = match sec {
                None => rows.into_iter().map(HistoryPoint::from).collect(),
                Some(s) => {
                    let mut v = agg::average_buckets(rows, s);
                    v.truncate(limit);
                    v
                }
            };
            if let (Scope::City, Some(s)) = (area_or_city, sec) {
                // City vehicle counts per bucket (agg_city: the sum over roads, kept at write).
                let mut st =
                    c.prepare_cached("SELECT bucket, count FROM agg_city WHERE res = ?1 AND bucket >= ?2 AND bucket < ?3")?;
                let counts: HashMap<i64, i64> = st
                    .query_map(params![s as i64, from, to], |r| {
                        Ok(((r.get::<_, f64>(0)? / s).round() as i64, r.get::<_, i64>(1)?))
                    })?
                    .collect::<Result<_, _>>()?;
                for p in &mut out {
                    p.count = counts.get(&((p.time / s).round() as i64)).map(|&c| c.max(0) as u64);
                }
            }
        }
    }
    Ok(out)
}

pub(super) fn observations(
    store: &SqliteStore,
    c: &Connection,
    registry: &SensorRegistry,
    from: f64,
    to: f64,
    limit: usize,
) -> Res<Vec<Observation>> {
    let mut st = c.prepare_cached(
        "SELECT o.time, o.sensor, o.kind, o.ref, o.road, o.a, o.b, o.c, o.d, o.text
         FROM obs_batches b JOIN obs o ON o.id BETWEEN b.first_id AND b.last_id
         WHERE b.max_time >= ?1 AND b.min_time < ?2 AND o.time >= ?1 AND o.time < ?2 ORDER BY o.id LIMIT ?3",
    )?;
    let rows = st.query_map(params![from, to, lim(limit)], |r| {
        Ok((
            r.get::<_, f64>(0)?,
            r.get::<_, i64>(1)?,
            Row {
                kind: r.get(2)?,
                r#ref: r.get(3)?,
                road: r.get(4)?,
                a: r.get(5)?,
                b: r.get(6)?,
                c: r.get(7)?,
                d: r.get(8)?,
                text: r.get(9)?,
            },
        ))
    })?;
    let mut out = Vec::new();
    let mut names: HashMap<i64, Option<sense::SensorIdx>> = HashMap::new();
    for row in rows {
        let (time, sid, row) = row?;
        let sensor = match names.get(&sid) {
            Some(s) => *s,
            None => {
                let s = store.sensor_name(c, sid)?.and_then(|n| registry.lookup(&n));
                names.insert(sid, s);
                s
            }
        };
        let Some(sensor) = sensor else { continue };
        let Some(data) = codec::decode(&row, time, &store.keys).map_err(corrupt)? else { continue };
        out.push(Observation { sensor, time, data });
    }
    Ok(out)
}

pub(super) fn signal_events(
    c: &Connection,
    keys: &Keys,
    intersection: IntersectionId,
    from: f64,
    to: f64,
    limit: usize,
) -> Res<Vec<(f64, EventCode, u32)>> {
    let key = keys
        .intersection_key(intersection)
        .ok_or_else(|| StoreError::invalid(format!("intersection {} is not in the store's network", intersection.0)))?;
    let kind = codec::kind_code(sense::RecordKind::Signal);
    // The kind is a literal so that SQLite uses the partial index `obs_signal` (controller
    // events only): a day's log of one controller no longer scans every observation.
    let mut st = c.prepare_cached(&format!(
        "SELECT time, a, b FROM obs INDEXED BY obs_signal
         WHERE kind = {kind} AND ref = ?3 AND time >= ?1 AND time < ?2 ORDER BY id LIMIT ?4"
    ))?;
    let rows = st.query_map(params![from, to, key, lim(limit)], |r| {
        Ok((r.get::<_, f64>(0)?, r.get::<_, Option<f64>>(1)?, r.get::<_, Option<f64>>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (t, code, param) = row?;
        let row = Row { kind, r#ref: Some(key), a: code, b: param, ..Default::default() };
        match codec::decode(&row, t, keys).map_err(corrupt)? {
            Some(ObsData::Signal(e)) => out.push((t, e.code, e.param)),
            _ => return Err(corrupt("signal row decoded to another kind".into()).into()),
        }
    }
    Ok(out)
}

/// One snapshot selected by an SQL tail (`?1` is bound to `t` when given).
pub(super) fn snapshot_where(c: &Connection, keys: &Keys, tail: &str, t: Option<f64>) -> Res<Option<StoredSnapshot>> {
    let sql = format!("SELECT time, delay_index, tpi, mean_speed, congested_share, roads FROM snapshots {tail}");
    let map = |r: &rusqlite::Row| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, Vec<u8>>(5)?));
    let row = match t {
        Some(t) => c.query_row(&sql, [t], map).optional()?,
        None => c.query_row(&sql, [], map).optional()?,
    };
    let Some((time, delay_index, tpi, mean_speed, congested_share, blob)) = row else { return Ok(None) };
    let road_speeds = agg::decode_speeds(&blob, keys).map_err(|e| corrupt(format!("snapshot at {time}: {e}")))?;
    Ok(Some(StoredSnapshot { time, delay_index, tpi, mean_speed, congested_share, road_speeds }))
}

pub(super) fn rejected(c: &Connection, before: Option<u64>, limit: usize) -> Res<Vec<StoredRejection>> {
    let before = before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64);
    let mut st =
        c.prepare_cached("SELECT id, time, batch, idx, error, raw FROM rejected WHERE id < ?1 ORDER BY id DESC LIMIT ?2")?;
    let rows = st.query_map(params![before, lim(limit)], |r| {
        Ok(StoredRejection {
            id: r.get::<_, i64>(0)?.max(0) as u64,
            time: r.get(1)?,
            batch: r.get::<_, i64>(2)?.max(0) as u64,
            index: r.get::<_, i64>(3)?.max(0) as u64,
            error: r.get(4)?,
            raw: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn plans(c: &Connection, intersection: Option<&str>, from: f64, to: f64) -> Res<Vec<StoredPlan>> {
    let mut st = c.prepare_cached(
        "SELECT time, intersection, plan FROM plans WHERE (?3 IS NULL OR intersection = ?3) AND time >= ?1 AND time < ?2
         ORDER BY time, rowid",
    )?;
    let rows = st.query_map(params![from, to, intersection], |r| {
        Ok(StoredPlan { time: r.get(0)?, intersection: r.get(1)?, plan: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn last_time(c: &Connection) -> Res<Option<f64>> {
    Ok(c.query_row(
        "SELECT MAX(t) FROM (SELECT MAX(max_time) AS t FROM obs_batches UNION ALL SELECT MAX(time) FROM snapshots)",
        [],
        |r| r.get(0),
    )?)
}

pub(super) fn journal(c: &Connection, topic: &str, key: Option<&str>, limit: usize) -> Res<Vec<JournalEntry>> {
    let mut st = c.prepare_cached(
        "SELECT id, topic, key, time, body FROM journal WHERE topic = ?1 AND (?2 IS NULL OR key = ?2) ORDER BY id LIMIT ?3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = st.query_map(params![topic, key, limit], |r| {
        Ok(JournalEntry { id: r.get::<_, i64>(0)? as u64, topic: r.get(1)?, key: r.get(2)?, time: r.get(3)?, body: r.get(4)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
