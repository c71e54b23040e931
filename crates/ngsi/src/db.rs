//! Durability: the capability's own SQLite file (`ngsi.sqlite` in the data directory, WAL,
//! `synchronous=NORMAL` like the brain's store): entities, attribute history (the
//! temporal API), subscriptions, context source registrations and hosted contexts, per
//! tenant. Every write call is one
//! transaction, committed before the call returns; a batch of any size is one commit.

use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use crate::error::NgsiError;

/// One change to persist.
#[derive(Clone, Debug)]
pub enum Write {
    PutEntity {
        tenant: String,
        id: String,
        body: String,
    },
    DelEntity {
        tenant: String,
        id: String,
    },
    /// An attribute instance as it became (`body` = the instance JSON; `deleted`).
    History {
        tenant: String,
        entity: String,
        attr: String,
        time: f64,
        body: String,
    },
    DelHistory {
        tenant: String,
        entity: String,
    },
    /// Every instance of one attribute.
    DelHistoryAttr {
        tenant: String,
        entity: String,
        attr: String,
    },
    /// One stored instance, by its row id.
    PutHistoryRow {
        row: i64,
        body: String,
    },
    DelHistoryRow {
        row: i64,
    },
    PutSub {
        tenant: String,
        id: String,
        body: String,
    },
    DelSub {
        tenant: String,
        id: String,
    },
    PutContext {
        url: String,
        kind: String,
        body: String,
    },
    DelContext {
        url: String,
    },
    /// A context source registration.
    PutReg {
        tenant: String,
        id: String,
        body: String,
    },
    DelReg {
        tenant: String,
        id: String,
    },
}

pub struct Db {
    conn: Option<Mutex<Connection>>,
    /// Wakes the checkpointer after a commit; dropping it ends the thread.
    checkpoints: Option<SyncSender<()>>,
}

/// Least time between two background checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copy the WAL into the main file from a thread of its own (`PRAGMA wal_checkpoint
/// (PASSIVE)` on a second connection, at most once per [`CHECKPOINT_EVERY`] after a
/// commit), so that a commit does not also pay for a checkpoint: a PASSIVE checkpoint
/// never blocks the writer, and the writer restarts the WAL once everything in it was
/// copied. The writer's own automatic checkpoint (every 16,384 pages) stays as the
/// backstop. Durability is the commit's, unchanged.
fn checkpointer(path: &Path) -> Option<SyncSender<()>> {
    let conn = Connection::open(path).ok()?;
    let (tx, rx) = sync_channel::<()>(1);
    let spawned = std::thread::Builder::new().name("ngsi-checkpoint".into()).spawn(move || {
        while rx.recv().is_ok() {
            let t = Instant::now();
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!("ngsi: background checkpoint: {e}");
            }
            std::thread::sleep(CHECKPOINT_EVERY.saturating_sub(t.elapsed()));
        }
    });
    spawned.ok().map(|_| tx)
}

const SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS entities (tenant TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (tenant TEXT NOT NULL, entity TEXT NOT NULL, attr TEXT NOT NULL, time REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_entity ON history (tenant, entity, attr, time);
CREATE TABLE IF NOT EXISTS subscriptions (tenant TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contexts (url TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registrations (tenant TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant, id)) WITHOUT ROWID;
";

/// What a store holds at open.
#[derive(Default)]
pub struct Loaded {
    pub entities: Vec<(String, String, String)>,
    pub subs: Vec<(String, String, String)>,
    pub contexts: Vec<(String, String, String)>,
    pub regs: Vec<(String, String, String)>,
}

impl Db {
    /// Open (or create) the file; `None`: memory only (tests of pure logic).
    pub fn open(path: Option<&Path>) -> Result<(Db, Loaded), NgsiError> {
        let Some(p) = path else { return Ok((Db { conn: None, checkpoints: None }, Loaded::default())) };
        let conn = Connection::open(p)?;
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        let mut l = Loaded::default();
        {
            let rows3 = |sql: &str| -> Result<Vec<(String, String, String)>, NgsiError> {
                let mut st = conn.prepare(sql)?;
                let r = st
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(r)
            };
            l.entities = rows3("SELECT tenant, id, body FROM entities")?;
            l.subs = rows3("SELECT tenant, id, body FROM subscriptions")?;
            l.contexts = rows3("SELECT url, kind, body FROM contexts")?;
            l.regs = rows3("SELECT tenant, id, body FROM registrations")?;
        }
        Ok((Db { conn: Some(Mutex::new(conn)), checkpoints: checkpointer(p) }, l))
    }

    /// Commit `writes` as one transaction.
    pub fn apply(&self, writes: &[Write]) -> Result<(), NgsiError> {
        let Some(c) = &self.conn else { return Ok(()) };
        if writes.is_empty() {
            return Ok(());
        }
        let mut c = crate::lock(c);
        let tx = c.transaction()?;
        {
            let mut put = tx.prepare_cached("INSERT OR REPLACE INTO entities (tenant, id, body) VALUES (?1, ?2, ?3)")?;
            let mut del = tx.prepare_cached("DELETE FROM entities WHERE tenant = ?1 AND id = ?2")?;
            let mut hist =
                tx.prepare_cached("INSERT INTO history (tenant, entity, attr, time, body) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for w in writes {
                match w {
                    Write::PutEntity { tenant, id, body } => {
                        put.execute(params![tenant, id, body])?;
                    }
                    Write::DelEntity { tenant, id } => {
                        del.execute(params![tenant, id])?;
                    }
                    Write::History { tenant, entity, attr, time, body } => {
                        hist.execute(params![tenant, entity, attr, time, body])?;
                    }
                    Write::DelHistory { tenant, entity } => {
                        tx.execute("DELETE FROM history WHERE tenant = ?1 AND entity = ?2", params![tenant, entity])?;
                    }
                    Write::DelHistoryAttr { tenant, entity, attr } => {
                        tx.execute(
                            "DELETE FROM history WHERE tenant = ?1 AND entity = ?2 AND attr = ?3",
                            params![tenant, entity, attr],
                        )?;
                    }
                    Write::PutHistoryRow { row, body } => {
                        tx.execute("UPDATE history SET body = ?2 WHERE rowid = ?1", params![row, body])?;
                    }
                    Write::DelHistoryRow { row } => {
                        tx.execute("DELETE FROM history WHERE rowid = ?1", params![row])?;
                    }
                    Write::PutSub { tenant, id, body } => {
                        tx.execute(
                            "INSERT OR REPLACE INTO subscriptions (tenant, id, body) VALUES (?1, ?2, ?3)",
                            params![tenant, id, body],
                        )?;
                    }
                    Write::DelSub { tenant, id } => {
                        tx.execute("DELETE FROM subscriptions WHERE tenant = ?1 AND id = ?2", params![tenant, id])?;
                    }
                    Write::PutContext { url, kind, body } => {
                        tx.execute(
                            "INSERT OR REPLACE INTO contexts (url, kind, body) VALUES (?1, ?2, ?3)",
                            params![url, kind, body],
                        )?;
                    }
                    Write::DelContext { url } => {
                        tx.execute("DELETE FROM contexts WHERE url = ?1", params![url])?;
                    }
                    Write::PutReg { tenant, id, body } => {
                        tx.execute(
                            "INSERT OR REPLACE INTO registrations (tenant, id, body) VALUES (?1, ?2, ?3)",
                            params![tenant, id, body],
                        )?;
                    }
                    Write::DelReg { tenant, id } => {
                        tx.execute("DELETE FROM registrations WHERE tenant = ?1 AND id = ?2", params![tenant, id])?;
                    }
                }
            }
        }
        tx.commit()?;
        drop(c);
        if let Some(k) = &self.checkpoints {
            let _ = k.try_send(());
        }
        Ok(())
    }

    /// Attribute instances of an entity over `[from, to]` (Unix seconds), oldest first:
    /// (row id, attribute, time, instance JSON).
    pub fn history(
        &self,
        tenant: &str,
        entity: &str,
        from: f64,
        to: f64,
        limit: usize,
    ) -> Result<Vec<(i64, String, f64, String)>, NgsiError> {
        let Some(c) = &self.conn else { return Ok(Vec::new()) };
        let c = crate::lock(c);
        let mut st = c.prepare_cached(
            "SELECT rowid, attr, time, body FROM history WHERE tenant = ?1 AND entity = ?2 AND time >= ?3 AND time <= ?4 ORDER BY time, rowid LIMIT ?5",
        )?;
        let rows = st
            .query_map(params![tenant, entity, from, to, limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
