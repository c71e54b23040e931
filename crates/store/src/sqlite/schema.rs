//! The SQLite schema, its version and the migrations from older versions.

use city::Network;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::Ex;
use crate::agg::{stored_raw, truncate_text, MAX_REJECTED_ERROR};
use crate::keys::{self, Keys};
use crate::StoreError;

/// Version of the on-disk schema. Version 2 files are migrated in place when opened; a
/// file of a later version is refused.
pub const SCHEMA_VERSION: &str = "3";
const VERSION: u32 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sensors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS roads (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS intersections (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS obs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, sensor INTEGER NOT NULL, kind INTEGER NOT NULL, ref INTEGER, road INTEGER,
    a REAL, b REAL, c REAL, d REAL, text TEXT);
CREATE TABLE IF NOT EXISTS obs_batches (
    first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, min_time REAL NOT NULL, max_time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS obs_batches_max ON obs_batches (max_time);
-- Controller events only (kind 5 = codec::kind_code(Signal)): the ATSPM log of one
-- controller is read by (ref, time) without scanning the other observations, and from
-- the index alone (code `a` and parameter `b` are in it: no look-up of each row in `obs`).
-- Additive: a version-3 file gains it when opened (replacing the first form, on (ref,
-- time) only: see `prepare`), and a build without it ignores it.
CREATE INDEX IF NOT EXISTS obs_signal ON obs (ref, time, a, b) WHERE kind = 5;
CREATE TABLE IF NOT EXISTS agg (
    road INTEGER NOT NULL, res INTEGER NOT NULL, bucket REAL NOT NULL,
    speed_sum REAL NOT NULL DEFAULT 0, speed_n INTEGER NOT NULL DEFAULT 0, count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (road, res, bucket)) WITHOUT ROWID;
-- The city's vehicle count per bucket (the sum of `agg.count` over roads), written with
-- the road cells: a city history reads one row per bucket. Additive: a version-3 file
-- without it gains it, filled from `agg`, when opened (see `prepare`).
CREATE TABLE IF NOT EXISTS agg_city (
    res INTEGER NOT NULL, bucket REAL NOT NULL, count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (res, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    time REAL PRIMARY KEY, delay_index REAL, tpi REAL NOT NULL, mean_speed REAL, congested_share REAL NOT NULL,
    roads BLOB NOT NULL);
-- The KPI columns alone, so a history window reads this index and not the rows with
-- their per-road blobs (one page per snapshot). Additive, as above.
CREATE INDEX IF NOT EXISTS snapshots_kpi ON snapshots (time, mean_speed, delay_index, tpi);
CREATE TABLE IF NOT EXISTS area_snapshots (
    area TEXT NOT NULL, time REAL NOT NULL, delay_index REAL, tpi REAL NOT NULL, mean_speed REAL,
    congested_share REAL NOT NULL, PRIMARY KEY (area, time)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS plans (time REAL NOT NULL, intersection TEXT NOT NULL, plan TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS plans_time ON plans (time);
CREATE TABLE IF NOT EXISTS rejected (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, batch INTEGER NOT NULL,
    idx INTEGER NOT NULL, error TEXT NOT NULL, raw TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS rejected_time ON rejected (time);
CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL,
    time REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS journal_key ON journal (topic, key, id);
-- The keys of stored observations that carry the device's record id (`id` on the wire):
-- time, sensor name and id, unique, so a resent record is stored once. Time first: new
-- keys land at the end of the B-tree (records arrive roughly in time order), so a commit
-- dirties few pages, and retention deletes a range. Kept as long as raw observations.
-- Additive, as above (`record_ids`, keyed by sensor first, was its first form).
DROP TABLE IF EXISTS record_ids;
CREATE TABLE IF NOT EXISTS record_keys (time REAL NOT NULL, sensor TEXT NOT NULL, rid TEXT NOT NULL,
    PRIMARY KEY (time, sensor, rid)) WITHOUT ROWID;
";

/// Create, check or migrate the schema and register the network's names, in one
/// transaction; returns the network's keys.
pub(super) fn prepare(conn: &mut Connection, path: &str, net: &Network) -> Result<Keys, Ex> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let has_meta: bool = tx
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |r| r.get::<_, i64>(0))?
        > 0;
    let version: Option<String> =
        if has_meta { tx.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).optional()? } else { None };
    match version.as_deref() {
        None => {
            tx.execute_batch(SCHEMA)?;
            tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION])?;
        }
        Some(SCHEMA_VERSION) => {
            let had_city: bool =
                tx.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'agg_city'", [], |r| {
                    r.get::<_, i64>(0)
                })? > 0;
            // The first form of `obs_signal` did not cover `a` and `b`: rebuilt below.
            let signal_index: Option<String> = tx
                .query_row("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'obs_signal'", [], |r| r.get(0))
                .optional()?;
            if signal_index.is_some_and(|sql| !sql.replace(' ', "").contains("(ref,time,a,b)")) {
                tx.execute_batch("DROP INDEX obs_signal")?;
            }
            tx.execute_batch(SCHEMA)?;
            if !had_city {
                fill_agg_city(&tx)?;
            }
        }
        Some("2") => migrate_v2(&tx, path, net)?,
        Some(v) => {
            return Err(match v.parse::<u32>() {
                Ok(n) if n > VERSION => StoreError::schema(format!(
                    "{path}: schema version {n} was written by a newer citybrain (this build reads versions 2 and {VERSION}); \
                     refusing to open it"
                )),
                _ => StoreError::schema(format!("{path}: schema version {v} is not supported (expected 2 or {VERSION})")),
            }
            .into())
        }
    }
    let road_keys = register(&tx, "roads", keys::road_names(net))?;
    let intersection_keys = register(&tx, "intersections", keys::intersection_names(net))?;
    tx.commit()?;
    Ok(Keys::new(net, road_keys, intersection_keys)?)
}

/// Keys of `names` in a dictionary table, adding the missing names with new keys
/// (one more than the largest, from 0).
fn register<'a>(tx: &Transaction, table: &str, names: impl Iterator<Item = &'a str>) -> Result<Vec<i64>, Ex> {
    let mut get = tx.prepare(&format!("SELECT id FROM {table} WHERE name = ?1"))?;
    let mut add =
        tx.prepare(&format!("INSERT INTO {table} (id, name) VALUES ((SELECT COALESCE(MAX(id) + 1, 0) FROM {table}), ?1)"))?;
    let mut out = Vec::new();
    for name in names {
        let id = match get.query_row([name], |r| r.get::<_, i64>(0)).optional()? {
            Some(id) => id,
            None => {
                add.execute([name])?;
                tx.last_insert_rowid()
            }
        };
        out.push(id);
    }
    Ok(out)
}

/// Fill `agg_city` from the road cells (a version-3 file written before the table existed).
fn fill_agg_city(tx: &Transaction) -> Result<(), Ex> {
    tx.execute("INSERT INTO agg_city (res, bucket, count) SELECT res, bucket, SUM(count) FROM agg GROUP BY res, bucket", [])?;
    Ok(())
}

fn max_of(tx: &Transaction, sql: &str) -> Result<Option<i64>, Ex> {
    Ok(tx.query_row(sql, [], |r| r.get::<_, Option<f64>>(0))?.map(|v| v as i64))
}

/// Schema 2 stored the dense ids of the network it ran with. They are turned into keys
/// of that network's names: the network passed to `open` must be the one the file was
/// written with (checked as far as the file allows: every stored index must exist).
/// Roads and intersections get key = old index, so aggregates, snapshot blobs and most
/// observation columns stay as they are; loops' lanes become the index within the road,
/// movements lose their dense id; rejected records get an id (and are truncated and
/// redacted as new ones are).
fn migrate_v2(tx: &Transaction, path: &str, net: &Network) -> Result<(), Ex> {
    let fail = |what: &str, max: i64, n: usize, unit: &str| -> Ex {
        StoreError::schema(format!(
            "{path}: migrating schema 2 to {VERSION}: the file refers to {what} index {max} but the network has {n} {unit}; \
             open it with the network it was written with"
        ))
        .into()
    };
    let roads = [
        "SELECT MAX(road) FROM obs",
        "SELECT MAX(b) FROM obs WHERE kind = 1",
        "SELECT MAX(road) FROM agg",
        "SELECT MAX(length(roads) / 4) - 1 FROM snapshots",
    ];
    for sql in roads {
        if let Some(m) = max_of(tx, sql)?.filter(|&m| m >= net.roads.len() as i64) {
            return Err(fail("road", m, net.roads.len(), "roads"));
        }
    }
    for sql in ["SELECT MAX(ref) FROM obs WHERE kind IN (2, 3, 5)", "SELECT MAX(c) FROM obs WHERE kind = 1"] {
        if let Some(m) = max_of(tx, sql)?.filter(|&m| m >= net.intersections.len() as i64) {
            return Err(fail("intersection", m, net.intersections.len(), "intersections"));
        }
    }
    if let Some(m) = max_of(tx, "SELECT MAX(ref) FROM obs WHERE kind = 0")?.filter(|&m| m >= net.lanes.len() as i64) {
        return Err(fail("lane", m, net.lanes.len(), "lanes"));
    }
    tx.execute_batch(
        "CREATE TABLE roads (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
         CREATE TABLE intersections (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
         CREATE TEMP TABLE lane_map (old INTEGER PRIMARY KEY, idx INTEGER NOT NULL);",
    )?;
    {
        let mut st = tx.prepare("INSERT INTO roads (id, name) VALUES (?1, ?2)")?;
        for (k, r) in net.roads.iter().enumerate() {
            st.execute(params![k as i64, r.name])?;
        }
        let mut st = tx.prepare("INSERT INTO intersections (id, name) VALUES (?1, ?2)")?;
        for (k, i) in net.intersections.iter().enumerate() {
            st.execute(params![k as i64, i.name])?;
        }
        let mut st = tx.prepare("INSERT INTO lane_map (old, idx) VALUES (?1, ?2)")?;
        for (k, lane) in net.lanes.iter().enumerate() {
            st.execute(params![k as i64, i64::from(k as u32 - net.road(lane.road).first_lane.0)])?;
        }
    }
    tx.execute_batch(
        "UPDATE obs SET ref = (SELECT idx FROM lane_map WHERE old = obs.ref) WHERE kind = 0;
         UPDATE obs SET ref = NULL WHERE kind = 1;
         DROP TABLE temp.lane_map;
         CREATE TABLE rejected_v3 (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, batch INTEGER NOT NULL,
             idx INTEGER NOT NULL, error TEXT NOT NULL, raw TEXT NOT NULL);
         INSERT INTO rejected_v3 (time, batch, idx, error, raw) SELECT time, batch, idx, error, raw FROM rejected ORDER BY rowid;
         DROP TABLE rejected;
         ALTER TABLE rejected_v3 RENAME TO rejected;",
    )?;
    // Bound and redact the stored bodies, one row at a time (v2 kept bodies up to 16 MiB).
    let ids: Vec<i64> = {
        let mut st = tx.prepare("SELECT id FROM rejected ORDER BY id")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for id in ids {
        let (error, raw): (String, String) =
            tx.query_row("SELECT error, raw FROM rejected WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let (e2, r2) = (truncate_text(&error, MAX_REJECTED_ERROR), stored_raw(&raw));
        if e2 != error || r2 != raw {
            tx.execute("UPDATE rejected SET error = ?2, raw = ?3 WHERE id = ?1", params![id, e2, r2])?;
        }
    }
    tx.execute_batch(SCHEMA)?;
    fill_agg_city(tx)?;
    tx.execute("UPDATE meta SET value = ?1 WHERE key = 'schema'", [SCHEMA_VERSION])?;
    Ok(())
}
