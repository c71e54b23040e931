//! [`Store`] on one SQLite file in WAL mode.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use sense::{ObsData, Observation, ObservationSink, Rejected, SensorRegistry, SinkError};
use state::CityState;

use crate::codec::{self, Row};
use crate::*;

/// Version of the on-disk schema; a file with another version is refused.
pub const SCHEMA_VERSION: &str = "2";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sensors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS obs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, sensor INTEGER NOT NULL, kind INTEGER NOT NULL, ref INTEGER, road INTEGER,
    a REAL, b REAL, c REAL, d REAL, text TEXT);
CREATE TABLE IF NOT EXISTS obs_batches (
    first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, min_time REAL NOT NULL, max_time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS obs_batches_max ON obs_batches (max_time);
CREATE TABLE IF NOT EXISTS agg (
    road INTEGER NOT NULL, res INTEGER NOT NULL, bucket REAL NOT NULL,
    speed_sum REAL NOT NULL DEFAULT 0, speed_n INTEGER NOT NULL DEFAULT 0, count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (road, res, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    time REAL PRIMARY KEY, delay_index REAL, tpi REAL NOT NULL, mean_speed REAL, congested_share REAL NOT NULL,
    roads BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS area_snapshots (
    area TEXT NOT NULL, time REAL NOT NULL, delay_index REAL, tpi REAL NOT NULL, mean_speed REAL,
    congested_share REAL NOT NULL, PRIMARY KEY (area, time)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS plans (time REAL NOT NULL, intersection TEXT NOT NULL, plan TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS plans_time ON plans (time);
CREATE TABLE IF NOT EXISTS rejected (time REAL NOT NULL, batch INTEGER NOT NULL, idx INTEGER NOT NULL,
    error TEXT NOT NULL, raw TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS rejected_time ON rejected (time);
";

const RES_MINUTE: i64 = 60;
const RES_QUARTER: i64 = 900;

/// SQLite-backed [`Store`]. One writer; open a second `SqliteStore` on the same file for
/// concurrent reads (WAL readers do not block the writer).
pub struct SqliteStore {
    conn: Connection,
    retention: Retention,
    /// Sensor name -> row id in `sensors`.
    sensor_ids: HashMap<String, i64>,
    /// Row id -> sensor name, for decoding.
    sensor_names: HashMap<i64, String>,
}

fn bucket(t: f64, res: i64) -> f64 {
    (t / res as f64).floor() * res as f64
}

impl SqliteStore {
    /// Open or create the store file at `path` (WAL, `synchronous=NORMAL`, checkpoint every
    /// 64 MiB of WAL).
    pub fn open(path: impl AsRef<Path>, retention: Retention) -> Result<SqliteStore, StoreError> {
        let path_s = path.as_ref().display().to_string();
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // 64 MiB page cache; checkpoint every 16,384 pages (64 MiB at 4 KiB pages) instead of
        // SQLite's 1,000, so that checkpoints (and their fsyncs) are rare at high rates; the
        // WAL file is truncated back to at most 64 MiB after a checkpoint.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> =
            conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).optional()?;
        match version {
            None => {
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION])?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => return Err(StoreError::Schema { path: path_s, found: v, expected: SCHEMA_VERSION.into() }),
        }
        let mut s = SqliteStore { conn, retention, sensor_ids: HashMap::new(), sensor_names: HashMap::new() };
        {
            let mut st = s.conn.prepare("SELECT id, name FROM sensors")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (id, name) = row?;
                s.sensor_ids.insert(name.clone(), id);
                s.sensor_names.insert(id, name);
            }
        }
        Ok(s)
    }

    pub fn retention(&self) -> &Retention {
        &self.retention
    }

    #[cfg(test)]
    pub(crate) fn conn_for_tests(&self) -> &Connection {
        &self.conn
    }

    /// Number of stored raw observations.
    pub fn raw_len(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM obs", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn sensor_id(
        tx: &rusqlite::Transaction,
        ids: &mut HashMap<String, i64>,
        names: &mut HashMap<i64, String>,
        name: &str,
    ) -> Result<i64, StoreError> {
        if let Some(&id) = ids.get(name) {
            return Ok(id);
        }
        tx.execute("INSERT INTO sensors (name) VALUES (?1)", [name])?;
        let id = tx.last_insert_rowid();
        ids.insert(name.to_string(), id);
        names.insert(id, name.to_string());
        Ok(id)
    }

    fn upsert_agg(tx: &rusqlite::Transaction, cells: &BTreeMap<(i64, i64, i64), (f64, i64, i64)>) -> Result<(), StoreError> {
        let mut st = tx.prepare_cached(
            "INSERT INTO agg (road, res, bucket, speed_sum, speed_n, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (road, res, bucket) DO UPDATE SET speed_sum = speed_sum + excluded.speed_sum,
             speed_n = speed_n + excluded.speed_n, count = count + excluded.count",
        )?;
        for (&(road, res, b), &(ss, sn, c)) in cells {
            st.execute(params![road, res, (b * res) as f64, ss, sn, c])?;
        }
        Ok(())
    }
}

/// Bucket key: (road, res, bucket index).
fn agg_key(road: i64, res: i64, t: f64) -> (i64, i64, i64) {
    (road, res, (bucket(t, res) / res as f64) as i64)
}

impl Store for SqliteStore {
    fn append(&mut self, registry: &SensorRegistry, obs: &[Observation]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let mut cells: BTreeMap<(i64, i64, i64), (f64, i64, i64)> = BTreeMap::new();
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO obs (time, sensor, kind, ref, road, a, b, c, d, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut last: Option<(sense::SensorIdx, i64)> = None;
            let (mut first_id, mut min_t, mut max_t) = (None, f64::INFINITY, f64::NEG_INFINITY);
            for o in obs {
                let sid = match last {
                    Some((idx, id)) if idx == o.sensor => id,
                    _ => {
                        let name = registry.get(o.sensor).map(|s| s.id.as_str()).unwrap_or("?");
                        let id = Self::sensor_id(&tx, &mut self.sensor_ids, &mut self.sensor_names, name)?;
                        last = Some((o.sensor, id));
                        id
                    }
                };
                let Row { kind, r#ref, road, a, b, c, d, text } = codec::encode(&o.data);
                st.execute(params![o.time, sid, kind, r#ref, road, a, b, c, d, text])?;
                first_id = first_id.or(Some(tx.last_insert_rowid()));
                (min_t, max_t) = (min_t.min(o.time), max_t.max(o.time));
                if let ObsData::Loop(l) = &o.data {
                    for res in [RES_MINUTE, RES_QUARTER] {
                        cells.entry(agg_key(l.road.0 as i64, res, o.time)).or_default().2 += l.count as i64;
                    }
                }
            }
            if let Some(first) = first_id {
                tx.execute(
                    "INSERT INTO obs_batches (first_id, last_id, min_time, max_time) VALUES (?1, ?2, ?3, ?4)",
                    params![first, tx.last_insert_rowid(), min_t, max_t],
                )?;
            }
        }
        Self::upsert_agg(&tx, &cells)?;
        tx.commit()?;
        Ok(())
    }

    fn append_snapshot(&mut self, s: &CityState) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let blob: Vec<u8> = s.roads.iter().flat_map(|r| r.speed.map_or(f32::NAN, |v| v as f32).to_le_bytes()).collect();
        let c = &s.city;
        tx.execute(
            "INSERT OR REPLACE INTO snapshots (time, delay_index, tpi, mean_speed, congested_share, roads) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![s.time, c.delay_index, c.tpi, c.mean_speed, c.congested_share, blob],
        )?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO area_snapshots (area, time, delay_index, tpi, mean_speed, congested_share) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for a in &s.areas {
                st.execute(params![a.name, s.time, a.delay_index, a.tpi, a.mean_speed, a.congested_share])?;
            }
        }
        let mut cells: BTreeMap<(i64, i64, i64), (f64, i64, i64)> = BTreeMap::new();
        for r in &s.roads {
            if let Some(v) = r.speed {
                for res in [RES_MINUTE, RES_QUARTER] {
                    let e = cells.entry(agg_key(r.road.0 as i64, res, s.time)).or_default();
                    e.0 += v;
                    e.1 += 1;
                }
            }
        }
        Self::upsert_agg(&tx, &cells)?;
        tx.commit()?;
        Ok(())
    }

    fn append_plan(&mut self, time: f64, intersection: &str, plan_json: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO plans (time, intersection, plan) VALUES (?1, ?2, ?3)",
            params![time, intersection, plan_json],
        )?;
        Ok(())
    }

    fn append_rejected(&mut self, time: f64, rejected: &[Rejected]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO rejected (time, batch, idx, error, raw) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for r in rejected {
                st.execute(params![time, r.batch as i64, r.index as i64, r.error, r.raw])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn prune(&mut self, now: f64) -> Result<PruneReport, StoreError> {
        let tx = self.conn.transaction()?;
        let del = |sql: &str, keep: Option<f64>| -> Result<u64, StoreError> {
            Ok(match keep {
                Some(k) => tx.execute(sql, [now - k])? as u64,
                None => 0,
            })
        };
        let r = &self.retention;
        let snapshots = del("DELETE FROM snapshots WHERE time < ?1", r.snapshots_s)?;
        del("DELETE FROM area_snapshots WHERE time < ?1", r.snapshots_s)?;
        let raw = match r.raw_s {
            Some(k) => prune_raw(&tx, now - k)?,
            None => 0,
        };
        let report = PruneReport {
            raw,
            snapshots,
            aggregates: del("DELETE FROM agg WHERE res = 60 AND bucket < ?1", r.minute_s)?
                + del("DELETE FROM agg WHERE res = 900 AND bucket < ?1", r.quarter_s)?,
            rejected: del("DELETE FROM rejected WHERE time < ?1", r.rejected_s)?,
            plans: del("DELETE FROM plans WHERE time < ?1", r.plans_s)?,
        };
        tx.commit()?;
        Ok(report)
    }

    fn history(&self, scope: &Scope, from: f64, to: f64, res: Resolution) -> Result<Vec<HistoryPoint>, StoreError> {
        let mut out = Vec::new();
        match (scope, res.seconds()) {
            (Scope::Road(road), None) => {
                let mut st =
                    self.conn.prepare_cached("SELECT time, roads FROM snapshots WHERE time >= ?1 AND time < ?2 ORDER BY time")?;
                let rows = st.query_map(params![from, to], |r| Ok((r.get::<_, f64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
                for row in rows {
                    let (time, blob) = row?;
                    let speed = road_speed(&blob, road.idx())?.map(f64::from);
                    out.push(HistoryPoint { time, speed, count: None, delay_index: None, tpi: None });
                }
            }
            (Scope::Road(road), Some(sec)) => {
                let mut st = self.conn.prepare_cached(
                    "SELECT bucket, speed_sum, speed_n, count FROM agg WHERE road = ?1 AND res = ?2 AND bucket >= ?3 AND bucket < ?4 ORDER BY bucket",
                )?;
                let rows = st.query_map(params![road.0 as i64, sec as i64, bucket(from, sec as i64), to], |r| {
                    Ok((r.get::<_, f64>(0)?, r.get::<_, f64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
                })?;
                for row in rows {
                    let (time, ss, sn, c) = row?;
                    let speed = (sn > 0).then(|| ss / sn as f64);
                    out.push(HistoryPoint { time, speed, count: Some(c.max(0) as u64), delay_index: None, tpi: None });
                }
            }
            (area_or_city, sec) => {
                let (table, filter) = match area_or_city {
                    Scope::Area(_) => ("area_snapshots", "area = ?3 AND"),
                    _ => ("snapshots", "?3 IS NOT NULL AND"),
                };
                let name = match area_or_city {
                    Scope::Area(n) => n.clone(),
                    _ => String::new(),
                };
                let sql = match sec {
                    None => format!(
                        "SELECT time, mean_speed, delay_index, tpi FROM {table} WHERE {filter} time >= ?1 AND time < ?2 ORDER BY time"
                    ),
                    Some(s) => format!(
                        "SELECT CAST(time / {s} AS INTEGER) * {s} AS b, AVG(mean_speed), AVG(delay_index), AVG(tpi) FROM {table}
                         WHERE {filter} time >= ?1 AND time < ?2 GROUP BY b ORDER BY b"
                    ),
                };
                let from = sec.map_or(from, |s| bucket(from, s as i64));
                let mut st = self.conn.prepare_cached(&sql)?;
                let rows = st.query_map(params![from, to, name], |r| {
                    Ok(HistoryPoint { time: r.get(0)?, speed: r.get(1)?, count: None, delay_index: r.get(2)?, tpi: r.get(3)? })
                })?;
                for row in rows {
                    out.push(row?);
                }
                if let (Scope::City, Some(s)) = (area_or_city, sec) {
                    // City vehicle counts: sum of the road aggregates per bucket.
                    let mut st = self.conn.prepare_cached(
                        "SELECT bucket, SUM(count) FROM agg WHERE res = ?1 AND bucket >= ?2 AND bucket < ?3 GROUP BY bucket",
                    )?;
                    let counts: HashMap<i64, i64> = st
                        .query_map(params![s as i64, from, to], |r| Ok((r.get::<_, f64>(0)? as i64, r.get::<_, i64>(1)?)))?
                        .collect::<Result<_, _>>()?;
                    for p in &mut out {
                        p.count = counts.get(&(p.time as i64)).map(|&c| c.max(0) as u64);
                    }
                }
            }
        }
        Ok(out)
    }

    fn observations(&self, registry: &SensorRegistry, from: f64, to: f64, limit: usize) -> Result<Vec<Observation>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT o.time, o.sensor, o.kind, o.ref, o.road, o.a, o.b, o.c, o.d, o.text
             FROM obs_batches b JOIN obs o ON o.id BETWEEN b.first_id AND b.last_id
             WHERE b.max_time >= ?1 AND b.min_time < ?2 AND o.time >= ?1 AND o.time < ?2 ORDER BY o.id LIMIT ?3",
        )?;
        let rows = st.query_map(params![from, to, limit.min(i64::MAX as usize) as i64], |r| {
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
        for row in rows {
            let (time, sid, row) = row?;
            let Some(sensor) = self.sensor_names.get(&sid).and_then(|n| registry.lookup(n)) else { continue };
            let data = codec::decode(&row, time).map_err(StoreError::Corrupt)?;
            out.push(Observation { sensor, time, data });
        }
        Ok(out)
    }

    fn signal_events(&self, intersection: IntersectionId, from: f64, to: f64) -> Result<Vec<(f64, EventCode, u32)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT o.time, o.a, o.b FROM obs_batches b JOIN obs o ON o.id BETWEEN b.first_id AND b.last_id
             WHERE b.max_time >= ?1 AND b.min_time < ?2 AND o.time >= ?1 AND o.time < ?2 AND o.kind = ?3 AND o.ref = ?4
             ORDER BY o.id",
        )?;
        let kind = codec::kind_code(sense::RecordKind::Signal);
        let rows = st.query_map(params![from, to, kind, intersection.0 as i64], |r| {
            Ok((r.get::<_, f64>(0)?, r.get::<_, Option<f64>>(1)?, r.get::<_, Option<f64>>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (t, code, param) = row?;
            let row = Row { kind, r#ref: Some(intersection.0 as i64), a: code, b: param, ..Default::default() };
            match codec::decode(&row, t).map_err(StoreError::Corrupt)? {
                ObsData::Signal(e) => out.push((t, e.code, e.param)),
                _ => return Err(StoreError::Corrupt("signal row decoded to another kind".into())),
            }
        }
        Ok(out)
    }

    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        self.snapshot_where("ORDER BY time DESC LIMIT 1", f64::NAN)
    }

    fn snapshot_at(&self, t: f64) -> Result<Option<StoredSnapshot>, StoreError> {
        match self.snapshot_where("WHERE time <= ?1 ORDER BY time DESC LIMIT 1", t)? {
            Some(s) => Ok(Some(s)),
            None => self.snapshot_where("WHERE time > ?1 ORDER BY time ASC LIMIT 1", t),
        }
    }

    fn rejected(&self, limit: usize) -> Result<Vec<StoredRejection>, StoreError> {
        let mut st =
            self.conn.prepare_cached("SELECT time, batch, idx, error, raw FROM rejected ORDER BY rowid DESC LIMIT ?1")?;
        let rows = st.query_map([limit.min(i64::MAX as usize) as i64], |r| {
            Ok(StoredRejection {
                time: r.get(0)?,
                batch: r.get::<_, i64>(1)?.max(0) as u64,
                index: r.get::<_, i64>(2)?.max(0) as u64,
                error: r.get(3)?,
                raw: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn plans(&self, intersection: Option<&str>, from: f64, to: f64) -> Result<Vec<StoredPlan>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT time, intersection, plan FROM plans WHERE (?3 IS NULL OR intersection = ?3) AND time >= ?1 AND time < ?2 ORDER BY time, rowid",
        )?;
        let rows = st.query_map(params![from, to, intersection], |r| {
            Ok(StoredPlan { time: r.get(0)?, intersection: r.get(1)?, plan: r.get(2)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn last_time(&self) -> Result<Option<f64>, StoreError> {
        let obs: Option<f64> = self.conn.query_row("SELECT MAX(max_time) FROM obs_batches", [], |r| r.get(0))?;
        let snap: Option<f64> = self.conn.query_row("SELECT MAX(time) FROM snapshots", [], |r| r.get(0))?;
        Ok(match (obs, snap) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        })
    }
}

/// Delete raw observations with `time < cut` using the batch directory: whole batches
/// by id range, straddling batches row by row (then their `min_time` is refreshed).
fn prune_raw(tx: &rusqlite::Transaction, cut: f64) -> Result<u64, StoreError> {
    let batches: Vec<(i64, i64, f64)> = {
        let mut st = tx.prepare_cached("SELECT first_id, last_id, max_time FROM obs_batches WHERE min_time < ?1")?;
        let rows = st.query_map([cut], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut n = 0u64;
    for (first, last, max_time) in batches {
        if max_time < cut {
            n += tx.execute("DELETE FROM obs WHERE id BETWEEN ?1 AND ?2", [first, last])? as u64;
            tx.execute("DELETE FROM obs_batches WHERE first_id = ?1", [first])?;
        } else {
            n += tx.execute("DELETE FROM obs WHERE id BETWEEN ?1 AND ?2 AND time < ?3", params![first, last, cut])? as u64;
            tx.execute(
                "UPDATE obs_batches SET min_time = (SELECT MIN(time) FROM obs WHERE id BETWEEN ?1 AND ?2) WHERE first_id = ?1",
                [first, last],
            )?;
        }
    }
    Ok(n)
}

fn road_speed(blob: &[u8], road: usize) -> Result<Option<f32>, StoreError> {
    if !blob.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt(format!("road blob of {} bytes", blob.len())));
    }
    Ok(blob.get(road * 4..road * 4 + 4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).filter(|v| !v.is_nan()))
}

impl ObservationSink for SqliteStore {
    fn accept(&mut self, batch: &[Observation], registry: &SensorRegistry) -> Result<(), SinkError> {
        self.append(registry, batch).map_err(|e| SinkError { sink: "store".into(), message: e.to_string() })
    }
}

impl SqliteStore {
    /// One snapshot selected by an SQL tail (`?1` is bound to `t` when the tail uses it).
    fn snapshot_where(&self, tail: &str, t: f64) -> Result<Option<StoredSnapshot>, StoreError> {
        let sql = format!("SELECT time, delay_index, tpi, mean_speed, congested_share, roads FROM snapshots {tail}");
        let map = |r: &rusqlite::Row| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, Vec<u8>>(5)?));
        let row = if tail.contains("?1") {
            self.conn.query_row(&sql, [t], map).optional()?
        } else {
            self.conn.query_row(&sql, [], map).optional()?
        };
        let Some((time, delay_index, tpi, mean_speed, congested_share, blob)) = row else { return Ok(None) };
        if !blob.len().is_multiple_of(4) {
            return Err(StoreError::Corrupt(format!("snapshot at {time}: road blob of {} bytes", blob.len())));
        }
        let road_speeds =
            blob.chunks_exact(4).map(|c| Some(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).filter(|v| !v.is_nan())).collect();
        Ok(Some(StoredSnapshot { time, delay_index, tpi, mean_speed, congested_share, road_speeds }))
    }
}
