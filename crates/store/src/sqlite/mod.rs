//! [`Store`] on one SQLite file in WAL mode: one writer connection behind a mutex and a
//! small pool of read connections (see the crate header for the lock discipline).

mod read;
mod schema;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock};

use city::Network;
use rusqlite::{params, Connection, OpenFlags};
use sense::{Observation, ObservationSink, Rejected, SensorRegistry, SinkError};
use state::CityState;

use crate::agg::{self, Cells};
use crate::codec::{self, Row};
use crate::keys::Keys;
use crate::*;

pub use schema::SCHEMA_VERSION;

/// Idle read connections kept for reuse (more are opened while needed, then closed).
const READ_POOL: usize = 4;

/// Internal error: SQLite's or ours, turned into a [`StoreError`] at the API boundary.
enum Ex {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Ex {
    fn from(e: rusqlite::Error) -> Ex {
        Ex::Sql(e)
    }
}

impl From<StoreError> for Ex {
    fn from(e: StoreError) -> Ex {
        Ex::Store(e)
    }
}

impl From<Ex> for StoreError {
    fn from(e: Ex) -> StoreError {
        match e {
            Ex::Store(e) => e,
            Ex::Sql(e) => sql_error(&e),
        }
    }
}

/// The kind of a SQLite failure; the message is SQLite's text.
fn sql_error(e: &rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    let msg = e.to_string();
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::DiskFull => StoreError::full(msg),
            C::CannotOpen
            | C::ReadOnly
            | C::PermissionDenied
            | C::SystemIoFailure
            | C::DatabaseBusy
            | C::DatabaseLocked
            | C::OutOfMemory
            | C::NoLargeFileSupport
            | C::FileLockingProtocolFailed
            | C::OperationInterrupted
            | C::OperationAborted => StoreError::unavailable(msg),
            C::DatabaseCorrupt | C::NotADatabase => StoreError::corrupt(msg),
            _ => StoreError::backend(msg),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::corrupt(msg),
        _ => StoreError::backend(msg),
    }
}

type Res<T> = Result<T, Ex>;

/// Sensor name <-> row id in `sensors`.
#[derive(Default)]
struct SensorDict {
    ids: sense::registry::IdMap<i64>,
    names: HashMap<i64, String>,
}

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    retention: RwLock<Retention>,
    keys: Keys,
    /// The one writer connection; held for exactly one write transaction.
    writer: Mutex<Connection>,
    /// Idle read connections; the lock is held only to take or return one.
    readers: Mutex<Vec<Connection>>,
    /// Committed sensor names (updated by the writer after its commit).
    sensors: RwLock<SensorDict>,
    /// The error of the last data write, cleared by the next successful one.
    write_failure: Mutex<Option<StoreError>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_conn(path: &Path, writer: bool) -> Res<Connection> {
    let flags = if writer {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 64 MiB page cache; checkpoint every 16,384 pages (64 MiB at 4 KiB pages) instead
        // of SQLite's 1,000, so that checkpoints (and their fsyncs) are rare at high
        // rates; the WAL file is truncated back to at most 64 MiB after a checkpoint.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    } else {
        conn.pragma_update(None, "cache_size", -16384)?;
        conn.pragma_update(None, "query_only", true)?;
    }
    Ok(conn)
}

impl SqliteStore {
    /// Open or create the store file at `path` for the network `net` (WAL,
    /// `synchronous=NORMAL`, checkpoint every 64 MiB of WAL). A schema-2 file is migrated
    /// in place (in one transaction; `net` must be the network it was written with); a
    /// file of a newer schema is refused with [`StoreErrorKind::Schema`].
    pub fn open(path: impl AsRef<Path>, retention: Retention, net: &Network) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let path_s = path.display().to_string();
        let with_path = |e: Ex| -> StoreError {
            let mut e = StoreError::from(e);
            if !e.message.contains(&path_s) {
                e.message = format!("{path_s}: {}", e.message);
            }
            e
        };
        let mut writer = open_conn(&path, true).map_err(with_path)?;
        let keys = schema::prepare(&mut writer, &path_s, net).map_err(with_path)?;
        let mut dict = SensorDict::default();
        {
            let mut st = writer.prepare("SELECT id, name FROM sensors").map_err(|e| with_path(e.into()))?;
            let rows =
                st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).map_err(|e| with_path(e.into()))?;
            for row in rows {
                let (id, name) = row.map_err(|e| with_path(e.into()))?;
                dict.ids.insert(name.clone(), id);
                dict.names.insert(id, name);
            }
        }
        Ok(SqliteStore {
            path,
            retention: RwLock::new(retention),
            keys,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            sensors: RwLock::new(dict),
            write_failure: Mutex::new(None),
        })
    }

    pub fn retention(&self) -> Retention {
        self.retention.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The keys of the network the store was opened with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of stored raw observations.
    pub fn raw_len(&self) -> Result<u64, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM obs", [], |r| r.get::<_, i64>(0))? as u64))
    }

    /// Run `f` on the writer connection (tests: pragmas such as `max_page_count`).
    #[cfg(test)]
    pub(crate) fn with_writer<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        f(&lock(&self.writer))
    }

    /// Run `f` on a read connection from the pool (never the writer's lock).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Res<T>) -> Result<T, StoreError> {
        let conn = lock(&self.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => open_conn(&self.path, false)?,
        };
        let out = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < READ_POOL {
            pool.push(conn);
        }
        drop(pool);
        Ok(out?)
    }

    /// Run one data write under the writer lock and remember its outcome for `health`.
    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> Res<T>) -> Result<T, StoreError> {
        let mut w = lock(&self.writer);
        let out = f(&mut w).map_err(StoreError::from);
        drop(w);
        let mut fail = lock(&self.write_failure);
        match &out {
            Ok(_) => *fail = None,
            Err(e) if e.is_unavailable() => *fail = Some(e.clone()),
            Err(_) => {}
        }
        out
    }

    fn sensor_name(&self, conn: &Connection, id: i64) -> Res<Option<String>> {
        if let Some(n) = self.sensors.read().unwrap_or_else(|e| e.into_inner()).names.get(&id) {
            return Ok(Some(n.clone()));
        }
        // Committed by the writer but not yet in the dictionary (or from another process).
        use rusqlite::OptionalExtension;
        Ok(conn.query_row("SELECT name FROM sensors WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }
}

/// Rows per multi-row `INSERT INTO obs` statement (10 parameters each, far below
/// SQLite's limit of 32,766). One statement per row costs a statement step, and with
/// `AUTOINCREMENT` an update of `sqlite_sequence`, per row; one per chunk, per chunk.
const OBS_CHUNK: usize = 64;

const OBS_COLUMNS: &str = "INSERT INTO obs (time, sensor, kind, ref, road, a, b, c, d, text) VALUES ";

/// `INSERT INTO obs ... VALUES (...), (...)` with `n` rows of numbered parameters.
fn obs_insert_sql(n: usize) -> String {
    let mut sql = String::with_capacity(OBS_COLUMNS.len() + n * 48);
    sql.push_str(OBS_COLUMNS);
    for i in 0..n {
        let b = i * 10;
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for k in 1..=10 {
            if k > 1 {
                sql.push(',');
            }
            sql.push_str(&format!("?{}", b + k));
        }
        sql.push(')');
    }
    sql
}

/// Insert encoded observations `(time, sensor key, row)` in order, [`OBS_CHUNK`] rows per
/// statement (the rest one by one); the row ids of the first and the last row, which are
/// consecutive: one writer, inside one transaction, `AUTOINCREMENT` ids.
fn insert_obs(tx: &rusqlite::Transaction, rows: &[(f64, i64, Row)]) -> Res<Option<(i64, i64)>> {
    let mut first = None;
    let mut chunks = rows.chunks_exact(OBS_CHUNK);
    if chunks.len() > 0 {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let mut st = tx.prepare_cached(SQL.get_or_init(|| obs_insert_sql(OBS_CHUNK)))?;
        for chunk in chunks.by_ref() {
            for (i, (time, sid, r)) in chunk.iter().enumerate() {
                bind_obs(&mut st, i * 10, *time, *sid, r)?;
            }
            st.raw_execute()?;
            first = first.or(Some(tx.last_insert_rowid() - (OBS_CHUNK as i64 - 1)));
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let mut st = tx.prepare_cached(SQL.get_or_init(|| obs_insert_sql(1)))?;
        for (time, sid, r) in rest {
            bind_obs(&mut st, 0, *time, *sid, r)?;
            st.raw_execute()?;
            first = first.or(Some(tx.last_insert_rowid()));
        }
    }
    Ok(first.map(|f| (f, tx.last_insert_rowid())))
}

fn bind_obs(st: &mut rusqlite::Statement<'_>, at: usize, time: f64, sid: i64, r: &Row) -> Res<()> {
    st.raw_bind_parameter(at + 1, time)?;
    st.raw_bind_parameter(at + 2, sid)?;
    st.raw_bind_parameter(at + 3, r.kind)?;
    st.raw_bind_parameter(at + 4, r.r#ref)?;
    st.raw_bind_parameter(at + 5, r.road)?;
    st.raw_bind_parameter(at + 6, r.a)?;
    st.raw_bind_parameter(at + 7, r.b)?;
    st.raw_bind_parameter(at + 8, r.c)?;
    st.raw_bind_parameter(at + 9, r.d)?;
    st.raw_bind_parameter(at + 10, r.text.as_deref())?;
    Ok(())
}

fn upsert_cells(tx: &rusqlite::Transaction, cells: &Cells) -> Res<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO agg (road, res, bucket, speed_sum, speed_n, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (road, res, bucket) DO UPDATE SET speed_sum = speed_sum + excluded.speed_sum,
         speed_n = speed_n + excluded.speed_n, count = count + excluded.count",
    )?;
    // The city's vehicle count per bucket, kept beside the road cells so that a city
    // history reads one row per bucket instead of summing every road's.
    let mut city: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for (road, res, bucket, c) in cells.iter() {
        st.execute(params![road, res, bucket, c.speed_sum, c.speed_n, c.count])?;
        if c.count != 0 {
            *city.entry((res, (bucket / res as f64).round() as i64)).or_default() += c.count;
        }
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO agg_city (res, bucket, count) VALUES (?1, ?2, ?3)
         ON CONFLICT (res, bucket) DO UPDATE SET count = count + excluded.count",
    )?;
    for ((res, idx), count) in city {
        st.execute(params![res, (idx * res) as f64, count])?;
    }
    Ok(())
}

impl SqliteStore {
    /// [`Store::append`] and [`Store::append_identified`]: with `ids`, the record ids
    /// are inserted first (ignoring those already present) and only the observations
    /// whose id was new, or that have none, are stored.
    fn append_rows(
        &self,
        registry: &SensorRegistry,
        obs: &[Observation],
        ids: Option<&[Option<&str>]>,
    ) -> Result<Vec<bool>, StoreError> {
        if obs.is_empty() {
            return Ok(Vec::new());
        }
        let mut added: Vec<(String, i64)> = Vec::new();
        let fresh = self.write(|conn| {
            let tx = conn.transaction()?;
            let mut fresh = vec![true; obs.len()];
            if let Some(ids) = ids {
                let mut st = tx.prepare_cached("INSERT OR IGNORE INTO record_keys (time, sensor, rid) VALUES (?1, ?2, ?3)")?;
                for (i, (o, id)) in obs.iter().zip(ids).enumerate() {
                    if let Some(id) = id {
                        let name = registry.get(o.sensor).map(|s| s.id.as_str()).unwrap_or("?");
                        fresh[i] = st.execute(params![o.time, name, id])? == 1;
                    }
                }
            }
            let kept: Vec<Observation>;
            let obs: &[Observation] = if fresh.iter().all(|&f| f) {
                obs
            } else {
                kept = obs.iter().zip(&fresh).filter(|(_, &f)| f).map(|(o, _)| o.clone()).collect();
                &kept
            };
            {
                let mut new_sensor = tx.prepare_cached("INSERT INTO sensors (name) VALUES (?1)")?;
                let dict = self.sensors.read().unwrap_or_else(|e| e.into_inner());
                let mut last: Option<(sense::SensorIdx, i64)> = None;
                let (mut min_t, mut max_t) = (f64::INFINITY, f64::NEG_INFINITY);
                let mut rows = Vec::with_capacity(obs.len());
                for o in obs {
                    let sid = match last {
                        Some((idx, id)) if idx == o.sensor => id,
                        _ => {
                            let name = registry.get(o.sensor).map(|s| s.id.as_str()).unwrap_or("?");
                            let id = match dict.ids.get(name).copied().or_else(|| added.iter().find(|a| a.0 == name).map(|a| a.1))
                            {
                                Some(id) => id,
                                None => {
                                    new_sensor.execute([name])?;
                                    let id = tx.last_insert_rowid();
                                    added.push((name.to_string(), id));
                                    id
                                }
                            };
                            last = Some((o.sensor, id));
                            id
                        }
                    };
                    let row = codec::encode(&o.data, &self.keys)
                        .map_err(|e| StoreError::invalid(format!("observation at {}: {e}", o.time)))?;
                    rows.push((o.time, sid, row));
                    (min_t, max_t) = (min_t.min(o.time), max_t.max(o.time));
                }
                drop(dict);
                if let Some((first, last)) = insert_obs(&tx, &rows)? {
                    tx.execute(
                        "INSERT INTO obs_batches (first_id, last_id, min_time, max_time) VALUES (?1, ?2, ?3, ?4)",
                        params![first, last, min_t, max_t],
                    )?;
                }
            }
            let mut cells = Cells::default();
            cells.add_loops(obs, &self.keys);
            upsert_cells(&tx, &cells)?;
            tx.commit()?;
            Ok(fresh)
        })?;
        if !added.is_empty() {
            let mut dict = self.sensors.write().unwrap_or_else(|e| e.into_inner());
            for (name, id) in added {
                dict.ids.insert(name.clone(), id);
                dict.names.insert(id, name);
            }
        }
        Ok(fresh)
    }
}

impl Store for SqliteStore {
    fn append(&self, registry: &SensorRegistry, obs: &[Observation]) -> Result<(), StoreError> {
        self.append_rows(registry, obs, None).map(|_| ())
    }

    fn append_identified(
        &self,
        registry: &SensorRegistry,
        obs: &[Observation],
        ids: &[Option<&str>],
    ) -> Result<Vec<bool>, StoreError> {
        if ids.len() != obs.len() {
            return Err(StoreError::invalid(format!("{} record ids for {} observations", ids.len(), obs.len())));
        }
        let any = ids.iter().any(Option::is_some);
        self.append_rows(registry, obs, any.then_some(ids))
    }

    fn known_record_ids(&self, keys: &[(&str, f64, &str)]) -> Result<Vec<bool>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|c| {
            // One read transaction for all the look-ups: one WAL read lock, not one each.
            let tx = c.unchecked_transaction()?;
            let mut out = Vec::with_capacity(keys.len());
            {
                let mut st = tx.prepare_cached("SELECT 1 FROM record_keys WHERE time = ?1 AND sensor = ?2 AND rid = ?3")?;
                for (sensor, time, id) in keys {
                    out.push(st.exists(params![time, sensor, id])?);
                }
            }
            tx.finish()?;
            Ok(out)
        })
    }

    fn append_snapshot(&self, s: &CityState) -> Result<(), StoreError> {
        let blob = agg::encode_speeds(s, &self.keys);
        let mut cells = Cells::default();
        cells.add_snapshot(s, &self.keys);
        self.write(|conn| {
            let tx = conn.transaction()?;
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
            upsert_cells(&tx, &cells)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn append_plan(&self, time: f64, intersection: &str, plan_json: &str) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.execute(
                "INSERT INTO plans (time, intersection, plan) VALUES (?1, ?2, ?3)",
                params![time, intersection, plan_json],
            )?;
            Ok(())
        })
    }

    fn append_rejected(&self, time: f64, rejected: &[Rejected]) -> Result<(), StoreError> {
        if rejected.is_empty() {
            return Ok(());
        }
        self.write(|conn| {
            let tx = conn.transaction()?;
            {
                let mut st =
                    tx.prepare_cached("INSERT INTO rejected (time, batch, idx, error, raw) VALUES (?1, ?2, ?3, ?4, ?5)")?;
                for r in rejected {
                    let error = agg::truncate_text(&r.error, agg::MAX_REJECTED_ERROR);
                    let raw = agg::stored_raw(&r.raw);
                    st.execute(params![time, r.batch as i64, r.index as i64, error, raw])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn set_retention(&self, retention: Retention) {
        *self.retention.write().unwrap_or_else(|e| e.into_inner()) = retention;
    }

    fn prune(&self, now: f64) -> Result<PruneReport, StoreError> {
        if !now.is_finite() {
            return Err(StoreError::invalid(format!("prune: now = {now} is not a finite time")));
        }
        self.write(|conn| {
            let tx = conn.transaction()?;
            let newest: Option<f64> = tx.query_row(
                "SELECT MAX(t) FROM (SELECT MAX(max_time) AS t FROM obs_batches UNION ALL SELECT MAX(time) FROM snapshots
                 UNION ALL SELECT MAX(time) FROM rejected UNION ALL SELECT MAX(time) FROM plans)",
                [],
                |r| r.get(0),
            )?;
            if let Some(n) = newest.filter(|&n| now > n + PRUNE_MAX_AHEAD_S) {
                return Err(StoreError::invalid(format!(
                    "prune: now = {now} is more than {PRUNE_MAX_AHEAD_S} s beyond the newest stored time {n}; refusing to delete"
                ))
                .into());
            }
            let del = |sql: &str, keep: Option<f64>| -> Res<u64> {
                Ok(match keep {
                    Some(k) => tx.execute(sql, [now - k])? as u64,
                    None => 0,
                })
            };
            let r = &self.retention();
            let snapshots = del("DELETE FROM snapshots WHERE time < ?1", r.snapshots_s)?;
            del("DELETE FROM area_snapshots WHERE time < ?1", r.snapshots_s)?;
            // The city totals follow the road cells (not counted: they are sums of them).
            del("DELETE FROM agg_city WHERE res = 60 AND bucket < ?1", r.minute_s)?;
            del("DELETE FROM agg_city WHERE res = 900 AND bucket < ?1", r.quarter_s)?;
            let raw = match r.raw_s {
                Some(k) => prune_raw(&tx, now - k)?,
                None => 0,
            };
            // Record ids go with the raw rows (not counted: they are not data of their own).
            del("DELETE FROM record_keys WHERE time < ?1", r.raw_s)?;
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
        })
    }

    fn history(&self, scope: &Scope, from: f64, to: f64, res: Resolution, limit: usize) -> Result<Vec<HistoryPoint>, StoreError> {
        self.read(|c| read::history(c, &self.keys, scope, from, to, res, limit))
    }

    fn observations(&self, registry: &SensorRegistry, from: f64, to: f64, limit: usize) -> Result<Vec<Observation>, StoreError> {
        self.read(|c| read::observations(self, c, registry, from, to, limit))
    }

    fn signal_events(
        &self,
        intersection: city::IntersectionId,
        from: f64,
        to: f64,
        limit: usize,
    ) -> Result<Vec<(f64, sense::EventCode, u32)>, StoreError> {
        self.read(|c| read::signal_events(c, &self.keys, intersection, from, to, limit))
    }

    fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        self.read(|c| read::snapshot_where(c, &self.keys, "ORDER BY time DESC LIMIT 1", None))
    }

    fn snapshot_at(&self, t: f64) -> Result<Option<StoredSnapshot>, StoreError> {
        self.read(|c| match read::snapshot_where(c, &self.keys, "WHERE time <= ?1 ORDER BY time DESC LIMIT 1", Some(t))? {
            Some(s) => Ok(Some(s)),
            None => read::snapshot_where(c, &self.keys, "WHERE time > ?1 ORDER BY time ASC LIMIT 1", Some(t)),
        })
    }

    fn rejected(&self, before: Option<u64>, limit: usize) -> Result<Vec<StoredRejection>, StoreError> {
        self.read(|c| read::rejected(c, before, limit))
    }

    fn plans(&self, intersection: Option<&str>, from: f64, to: f64) -> Result<Vec<StoredPlan>, StoreError> {
        self.read(|c| read::plans(c, intersection, from, to))
    }

    fn last_time(&self) -> Result<Option<f64>, StoreError> {
        self.read(read::last_time)
    }

    fn append_journal(&self, topic: &str, key: &str, time: f64, body: &str) -> Result<u64, StoreError> {
        if !time.is_finite() {
            return Err(StoreError::invalid(format!("journal time must be finite, got {time}")));
        }
        self.write(|conn| {
            conn.execute(
                "INSERT INTO journal (topic, key, time, body) VALUES (?1, ?2, ?3, ?4)",
                params![topic, key, time, body],
            )?;
            Ok(conn.last_insert_rowid() as u64)
        })
    }

    fn journal(&self, topic: &str, key: Option<&str>, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        self.read(|c| read::journal(c, topic, key, limit))
    }

    fn health(&self) -> Result<(), StoreError> {
        if let Some(e) = lock(&self.write_failure).clone() {
            return Err(e);
        }
        // A write is running: the writer works (its outcome is reported next time).
        let w = match self.writer.try_lock() {
            Ok(w) => w,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
        };
        w.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('health_probe', 'ok')", [])
            .map(|_| ())
            .map_err(|e| sql_error(&e))
    }
}

/// Delete raw observations with `time < cut` using the batch directory: whole batches
/// by id range, straddling batches row by row (then their `min_time` is refreshed).
fn prune_raw(tx: &rusqlite::Transaction, cut: f64) -> Res<u64> {
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

impl ObservationSink for SqliteStore {
    fn accept(&mut self, batch: &[Observation], registry: &SensorRegistry) -> Result<(), SinkError> {
        self.append(registry, batch).map_err(|e| SinkError { sink: "store".into(), message: e.to_string() })
    }
}
