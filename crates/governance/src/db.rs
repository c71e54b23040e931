//! The governance store: one SQLite file (`governance.sqlite` in the data directory)
//! holding departments, principals, token hashes, the catalogue, grants and tickets.
//! Everything but tickets is loaded into memory at start ([`Cache`]) and written
//! through on change, so an authorisation decision never touches the disk.

use std::collections::{BTreeMap, HashMap};

use brain::{Role, Scopes};
use rusqlite::{params, Connection};

use crate::error::GovError;
use crate::model::*;

/// File name of the governance store in the data directory.
pub const DB_FILE: &str = "governance.sqlite";

const SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS departments (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS principals (
  name TEXT PRIMARY KEY, department TEXT NOT NULL, role TEXT NOT NULL,
  password_hash TEXT, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, principal TEXT NOT NULL, hash BLOB NOT NULL, scopes INTEGER NOT NULL,
  created REAL NOT NULL, expires REAL NOT NULL, revoked REAL, label TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS datasets (
  name TEXT PRIMARY KEY, owner TEXT NOT NULL, class TEXT NOT NULL, description TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS grants (
  id INTEGER PRIMARY KEY, dataset TEXT NOT NULL, grantee TEXT NOT NULL, purpose TEXT NOT NULL,
  expires REAL NOT NULL, issued_by TEXT NOT NULL, created REAL NOT NULL, revoked REAL);
CREATE TABLE IF NOT EXISTS tickets (
  id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, created REAL NOT NULL, category TEXT NOT NULL,
  lon REAL, lat REAL, text TEXT NOT NULL, photo_ref TEXT, department TEXT NOT NULL,
  status TEXT NOT NULL, answer TEXT, answered_at REAL, erased INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS tickets_dept ON tickets(department, status);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (key BLOB PRIMARY KEY, principal TEXT NOT NULL, expires REAL NOT NULL);
";

/// What authorisation reads, in memory.
#[derive(Default)]
pub struct Cache {
    pub departments: BTreeMap<String, Department>,
    pub principals: HashMap<String, Principal>,
    pub tokens: HashMap<String, TokenRecord>,
    pub datasets: BTreeMap<String, Dataset>,
    pub grants: Vec<Grant>,
}

pub fn open(path: &std::path::Path) -> Result<Connection, GovError> {
    let c = Connection::open(path)?;
    c.execute_batch(SCHEMA)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(c)
}

pub fn load(c: &Connection) -> Result<Cache, GovError> {
    let mut cache = Cache::default();
    let mut s = c.prepare("SELECT id, name FROM departments")?;
    for r in s.query_map([], |r| Ok(Department { id: r.get(0)?, name: r.get(1)? }))? {
        let d = r?;
        cache.departments.insert(d.id.clone(), d);
    }
    let mut s = c.prepare("SELECT name, department, role, password_hash, disabled FROM principals")?;
    for r in s.query_map([], |r| {
        let role: String = r.get(2)?;
        Ok(Principal {
            name: r.get(0)?,
            department: r.get(1)?,
            role: Role::parse(&role).unwrap_or(Role::Public),
            password_hash: r.get(3)?,
            disabled: r.get::<_, i64>(4)? != 0,
        })
    })? {
        let p = r?;
        cache.principals.insert(p.name.clone(), p);
    }
    let mut s = c.prepare("SELECT id, principal, hash, scopes, created, expires, revoked, label FROM tokens")?;
    for r in s.query_map([], |r| {
        let hash: Vec<u8> = r.get(2)?;
        let mut h = [0u8; 32];
        if hash.len() == 32 {
            h.copy_from_slice(&hash);
        }
        Ok(TokenRecord {
            id: r.get(0)?,
            principal: r.get(1)?,
            hash: h,
            scopes: Scopes(r.get::<_, i64>(3)? as u8),
            created: r.get(4)?,
            expires: r.get(5)?,
            revoked: r.get(6)?,
            label: r.get(7)?,
        })
    })? {
        let t = r?;
        cache.tokens.insert(t.id.clone(), t);
    }
    let mut s = c.prepare("SELECT name, owner, class, description FROM datasets")?;
    for r in s.query_map([], |r| {
        let class: String = r.get(2)?;
        Ok(Dataset {
            name: r.get(0)?,
            owner: r.get(1)?,
            class: Classification::parse(&class).unwrap_or(Classification::Restricted),
            description: r.get(3)?,
        })
    })? {
        let d = r?;
        cache.datasets.insert(d.name.clone(), d);
    }
    let mut s =
        c.prepare("SELECT id, dataset, grantee, purpose, expires, issued_by, created, revoked FROM grants ORDER BY id")?;
    for r in s.query_map([], |r| {
        Ok(Grant {
            id: r.get::<_, i64>(0)? as u64,
            dataset: r.get(1)?,
            grantee: r.get(2)?,
            purpose: r.get(3)?,
            expires: r.get(4)?,
            issued_by: r.get(5)?,
            created: r.get(6)?,
            revoked: r.get(7)?,
        })
    })? {
        cache.grants.push(r?);
    }
    Ok(cache)
}

pub fn put_department(c: &Connection, d: &Department) -> Result<(), GovError> {
    c.execute("INSERT OR REPLACE INTO departments (id, name) VALUES (?1, ?2)", params![d.id, d.name])?;
    Ok(())
}

pub fn put_principal(c: &Connection, p: &Principal) -> Result<(), GovError> {
    c.execute(
        "INSERT OR REPLACE INTO principals (name, department, role, password_hash, disabled) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![p.name, p.department, p.role.as_str(), p.password_hash, p.disabled as i64],
    )?;
    Ok(())
}

pub fn put_token(c: &Connection, t: &TokenRecord) -> Result<(), GovError> {
    c.execute(
        "INSERT OR REPLACE INTO tokens (id, principal, hash, scopes, created, expires, revoked, label) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![t.id, t.principal, &t.hash[..], t.scopes.0 as i64, t.created, t.expires, t.revoked, t.label],
    )?;
    Ok(())
}

pub fn put_dataset(c: &Connection, d: &Dataset) -> Result<(), GovError> {
    c.execute(
        "INSERT OR REPLACE INTO datasets (name, owner, class, description) VALUES (?1, ?2, ?3, ?4)",
        params![d.name, d.owner, d.class.as_str(), d.description],
    )?;
    Ok(())
}

pub fn insert_grant(c: &Connection, g: &Grant) -> Result<u64, GovError> {
    c.execute(
        "INSERT INTO grants (dataset, grantee, purpose, expires, issued_by, created, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![g.dataset, g.grantee, g.purpose, g.expires, g.issued_by, g.created, g.revoked],
    )?;
    Ok(c.last_insert_rowid() as u64)
}

pub fn revoke_grant(c: &Connection, id: u64, at: f64) -> Result<(), GovError> {
    c.execute("UPDATE grants SET revoked = ?2 WHERE id = ?1", params![id as i64, at])?;
    Ok(())
}

/// A session: the SHA-256 of its id (never the id), its principal and expiry.
pub fn put_session(c: &Connection, key: &[u8; 32], principal: &str, expires: f64) -> Result<(), GovError> {
    c.execute(
        "INSERT OR REPLACE INTO sessions (key, principal, expires) VALUES (?1, ?2, ?3)",
        params![&key[..], principal, expires],
    )?;
    Ok(())
}

/// Delete the sessions expired at `t`.
pub fn purge_sessions(c: &Connection, t: f64) -> Result<(), GovError> {
    c.execute("DELETE FROM sessions WHERE expires <= ?1", params![t])?;
    Ok(())
}

pub fn delete_session(c: &Connection, key: &[u8; 32]) -> Result<(), GovError> {
    c.execute("DELETE FROM sessions WHERE key = ?1", params![&key[..]])?;
    Ok(())
}

/// Delete the sessions expired at `t` and load the others.
pub fn load_sessions(c: &Connection, t: f64) -> Result<Vec<([u8; 32], String, f64)>, GovError> {
    c.execute("DELETE FROM sessions WHERE expires <= ?1", params![t])?;
    let mut s = c.prepare("SELECT key, principal, expires FROM sessions")?;
    let mut out = Vec::new();
    for r in s.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?, r.get::<_, f64>(2)?)))? {
        let (k, p, e) = r?;
        if let Ok(key) = <[u8; 32]>::try_from(k.as_slice()) {
            out.push((key, p, e));
        }
    }
    Ok(out)
}
