//! The audit log: an append-only file of hash-chained records, one per line.
//!
//! A line is `<hash> <json>\n`: `json` is the record (compact serde JSON, with its
//! sequence number `seq` from 1 and the previous record's hash `prev`, 64 zeros for the
//! first) and `hash` the lowercase hex SHA-256 of exactly those JSON bytes. Changing any
//! byte of a record changes its hash; changing a hash breaks the next record's `prev`;
//! dropping or reordering lines breaks `seq`. [`verify`] walks the file and names the
//! first broken record.
//!
//! Durability: records are written at once and made durable in batches (group commit):
//! a background thread fsyncs the log every [`SYNC_EVERY`] when records were added, and
//! then writes the *head anchor* `audit.head` (`<seq> <hash>` of the last durable
//! record, replaced atomically). A log that ends before the anchor's record, or whose
//! record at that position has another hash, was truncated or rewritten: [`verify`]
//! names the first missing record. (Cutting whole records off the end leaves a valid
//! chain; only the anchor can tell.)

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::GovError;
use crate::secret::{hex, sha256};

/// File name of the audit log in the data directory.
pub const AUDIT_FILE: &str = "audit.log";
/// How often appended records are made durable (and the head anchor advanced).
pub const SYNC_EVERY: Duration = Duration::from_millis(100);

/// The head anchor's path for the log at `log`: `audit.head` beside `audit.log`.
pub fn head_path(log: &Path) -> PathBuf {
    log.with_extension("head")
}
/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audit record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditKind {
    /// A read of non-public data.
    Read,
    /// A write of non-public data (an ingested batch, a ticket answer).
    Write,
    /// A refused request of an authenticated principal.
    Denied,
    /// A grant issued or revoked.
    Grant,
    /// A token issued or revoked, an account created.
    Credential,
    /// A login (successful or not) or logout.
    Login,
    /// An automated decision acting on the city (public: the transparency log).
    Decision,
    /// Retention and key destruction.
    Retention,
}

/// One record of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub prev: String,
    /// Wall clock, Unix seconds.
    pub time: f64,
    pub kind: AuditKind,
    /// Principal (or plug-in) that acted; empty for the public.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Owner of the dataset at the time (so owners can ask who read their data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// What happened, in words.
    pub detail: String,
}

/// A record before it is chained.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    pub kind: Option<AuditKind>,
    pub actor: String,
    pub department: Option<String>,
    pub dataset: Option<String>,
    pub owner: Option<String>,
    pub purpose: Option<String>,
    pub detail: String,
}

struct Tail {
    file: File,
    seq: u64,
    hash: String,
    /// The last record made durable (and anchored).
    synced: u64,
    /// [`AuditLog::close`] ran: everything appended is durable, nothing more is taken.
    closed: bool,
}

struct Inner {
    path: PathBuf,
    tail: Mutex<Tail>,
}

impl Inner {
    /// Make the appended records durable, then advance the head anchor.
    fn sync(&self) -> Result<(), GovError> {
        let mut t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        self.sync_locked(&mut t)
    }

    fn sync_locked(&self, t: &mut Tail) -> Result<(), GovError> {
        if t.synced == t.seq || t.closed {
            return Ok(());
        }
        t.file.sync_data().map_err(GovError::io(&self.path))?;
        write_head(&self.path, t.seq, &t.hash)?;
        t.synced = t.seq;
        Ok(())
    }
}

/// Replace the head anchor atomically (write a temporary file, fsync, rename).
fn write_head(log: &Path, seq: u64, hash: &str) -> Result<(), GovError> {
    let head = head_path(log);
    let tmp = head.with_extension("head.tmp");
    let mut f = File::create(&tmp).map_err(GovError::io(&tmp))?;
    f.write_all(format!("{seq} {hash}\n").as_bytes()).map_err(GovError::io(&tmp))?;
    f.sync_all().map_err(GovError::io(&tmp))?;
    std::fs::rename(&tmp, &head).map_err(GovError::io(&head))?;
    Ok(())
}

/// The head anchor at `log`'s side, if there is one: `(seq, hash)`.
fn read_head(log: &Path) -> Result<Option<(u64, String)>, GovError> {
    let head = head_path(log);
    let text = match std::fs::read_to_string(&head) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(GovError::Io { path: head, source: e }),
    };
    let bad = || GovError::Invalid(format!("{}: not `<seq> <hash>`", head.display()));
    let (seq, hash) = text.trim().split_once(' ').ok_or_else(bad)?;
    Ok(Some((seq.parse().map_err(|_| bad())?, hash.to_string())))
}

/// The open log, appended to under a lock; a background thread makes it durable.
pub struct AuditLog {
    inner: Arc<Inner>,
    /// The background syncing thread, until [`AuditLog::close`] joins it.
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Err(e) = self.inner.sync() {
            tracing::error!("audit log: {e}");
        }
    }
}

/// Why verification failed: the first broken record (1-based line) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit log broken at record {record} (line {record}): {reason}")]
pub struct Broken {
    pub record: u64,
    pub reason: String,
}

impl AuditLog {
    /// Open (or create) the log; the tail is found by verifying the whole chain, so a
    /// broken log is refused rather than extended.
    pub fn open(path: &Path) -> Result<AuditLog, GovError> {
        let (seq, hash) = if path.exists() {
            match verify(path)? {
                Ok((n, h)) => (n, h),
                Err(b) => return Err(GovError::Invalid(b.to_string())),
            }
        } else {
            (0, GENESIS.to_string())
        };
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(GovError::io(path))?;
        let tail = Tail { file, seq, hash, synced: 0, closed: false };
        let inner = Arc::new(Inner { path: path.to_path_buf(), tail: Mutex::new(tail) });
        inner.sync()?;
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        let writer = std::thread::Builder::new()
            .name("audit-sync".into())
            .spawn(move || loop {
                // Woken early by `close` (or spuriously: then it only syncs sooner).
                std::thread::park_timeout(SYNC_EVERY);
                let Some(inner) = weak.upgrade() else { return };
                if inner.tail.lock().unwrap_or_else(|e| e.into_inner()).closed {
                    return;
                }
                if let Err(e) = inner.sync() {
                    tracing::error!("audit log: {e}");
                }
            })
            .map_err(GovError::io(path))?;
        Ok(AuditLog { inner, writer: Mutex::new(Some(writer)) })
    }

    /// Make every appended record durable, then stop the background thread and wait for
    /// it: after this the log touches its files no more (a caller may remove the
    /// directory), and [`AuditLog::append`] refuses. Closing twice is harmless.
    pub fn close(&self) -> Result<(), GovError> {
        let synced = {
            let mut t = self.inner.tail.lock().unwrap_or_else(|e| e.into_inner());
            let synced = self.inner.sync_locked(&mut t);
            t.closed = true;
            synced
        };
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.thread().unpark();
            let _ = h.join();
        }
        synced
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Append a record; returns its sequence number.
    pub fn append(&self, time: f64, e: Entry) -> Result<u64, GovError> {
        let mut t = self.inner.tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.closed {
            return Err(GovError::Invalid(format!("{}: the audit log is closed", self.inner.path.display())));
        }
        let rec = AuditRecord {
            seq: t.seq + 1,
            prev: t.hash.clone(),
            time,
            kind: e.kind.unwrap_or(AuditKind::Read),
            actor: e.actor,
            department: e.department,
            dataset: e.dataset,
            owner: e.owner,
            purpose: e.purpose,
            detail: e.detail,
        };
        let json = serde_json::to_string(&rec).map_err(|e| GovError::Invalid(format!("audit record: {e}")))?;
        let hash = hex(&sha256(json.as_bytes()));
        let line = format!("{hash} {json}\n");
        t.file.write_all(line.as_bytes()).map_err(GovError::io(&self.inner.path))?;
        t.seq = rec.seq;
        t.hash = hash;
        Ok(rec.seq)
    }

    /// Make every appended record durable now (fsync) and advance the head anchor.
    pub fn sync(&self) -> Result<(), GovError> {
        self.inner.sync()
    }

    /// Records for which `keep` holds, newest first, at most `limit`.
    pub fn query(&self, limit: usize, keep: impl Fn(&AuditRecord) -> bool) -> Result<Vec<AuditRecord>, GovError> {
        let _t = self.inner.tail.lock().unwrap_or_else(|e| e.into_inner());
        let path = &self.inner.path;
        let f = File::open(path).map_err(GovError::io(path))?;
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line.map_err(GovError::io(path))?;
            let Some((_, json)) = line.split_once(' ') else { continue };
            if let Ok(r) = serde_json::from_str::<AuditRecord>(json) {
                if keep(&r) {
                    out.push(r);
                }
            }
        }
        out.reverse();
        out.truncate(limit);
        Ok(out)
    }
}

/// Verify the chain of the file at `path`, and that it reaches its head anchor:
/// `Ok(Ok((records, last hash)))` when intact, `Ok(Err(first broken or missing record))`
/// when not, `Err` when it cannot be read.
pub fn verify(path: &Path) -> Result<Result<(u64, String), Broken>, GovError> {
    let bytes = std::fs::read(path).map_err(GovError::io(path))?;
    let head = read_head(path)?;
    Ok(verify_anchored(&bytes, head.as_ref().map(|(s, h)| (*s, h.as_str()))))
}

/// [`verify_bytes`], and that the record numbered `anchor.0` exists with hash `anchor.1`.
pub fn verify_anchored(bytes: &[u8], anchor: Option<(u64, &str)>) -> Result<(u64, String), Broken> {
    let mut at_anchor = None;
    let (n, last) = verify_chain(bytes, |seq, hash| {
        if anchor.is_some_and(|a| a.0 == seq) {
            at_anchor = Some(hash.to_string());
        }
    })?;
    if let Some((seq, hash)) = anchor {
        if n < seq {
            return Err(Broken {
                record: n + 1,
                reason: format!(
                    "missing: the log ends after record {n}, but record {seq} had been committed (audit.head): truncated"
                ),
            });
        }
        if at_anchor.as_deref() != Some(hash) {
            return Err(Broken {
                record: seq,
                reason: "hash differs from the committed head anchor (audit.head): rewritten".into(),
            });
        }
    }
    Ok((n, last))
}

/// Verify the chain of the log's bytes (without a head anchor).
pub fn verify_bytes(bytes: &[u8]) -> Result<(u64, String), Broken> {
    verify_chain(bytes, |_, _| {})
}

fn verify_chain(bytes: &[u8], mut each: impl FnMut(u64, &str)) -> Result<(u64, String), Broken> {
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    let mut rest = bytes;
    while !rest.is_empty() {
        let record = n + 1;
        let broken = |reason: &str| Broken { record, reason: reason.to_string() };
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Err(broken("the last line is not terminated (truncated or altered)"));
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        let Some(sp) = line.iter().position(|&b| b == b' ') else { return Err(broken("no hash separator")) };
        let (stored, json) = (&line[..sp], &line[sp + 1..]);
        let computed = hex(&sha256(json));
        if stored != computed.as_bytes() {
            return Err(broken("hash does not match the record's content"));
        }
        let rec: AuditRecord = serde_json::from_slice(json).map_err(|e| broken(&format!("not a record: {e}")))?;
        if rec.seq != record {
            return Err(broken(&format!("sequence number {} where {record} was expected", rec.seq)));
        }
        if rec.prev != prev {
            return Err(broken("prev does not match the previous record's hash"));
        }
        each(record, &computed);
        prev = computed;
        n = record;
    }
    Ok((n, prev))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cb-gov-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn sample(dir: &Path, n: usize) -> PathBuf {
        let p = dir.join(AUDIT_FILE);
        let log = AuditLog::open(&p).unwrap();
        for k in 0..n {
            log.append(
                1000.0 + k as f64,
                Entry {
                    kind: Some(if k % 2 == 0 { AuditKind::Read } else { AuditKind::Decision }),
                    actor: format!("user-{k}"),
                    department: Some("traffic-police".into()),
                    dataset: Some("observations".into()),
                    owner: Some("traffic-police".into()),
                    purpose: Some("investigation \"é\" \\ ünïcode".into()),
                    detail: format!("read {k} rows"),
                },
            )
            .unwrap();
        }
        p
    }

    #[test]
    fn an_intact_log_verifies_and_reopens_at_its_tail() {
        let d = tmp("intact");
        let p = sample(&d, 5);
        let (n, _) = verify(&p).unwrap().unwrap();
        assert_eq!(n, 5);
        let log = AuditLog::open(&p).unwrap();
        assert_eq!(log.append(2000.0, Entry { detail: "after reopen".into(), ..Default::default() }).unwrap(), 6);
        assert_eq!(verify(&p).unwrap().unwrap().0, 6);
        let q = log.query(10, |r| r.kind == AuditKind::Decision).unwrap();
        assert_eq!(q.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 2]);
    }

    #[test]
    fn close_makes_the_log_durable_stops_its_thread_and_refuses_more() {
        let d = tmp("close");
        let p = d.join(AUDIT_FILE);
        let log = AuditLog::open(&p).unwrap();
        for k in 0..3 {
            log.append(1.0 + k as f64, Entry { detail: format!("r{k}"), ..Default::default() }).unwrap();
        }
        log.close().unwrap();
        // Anchored at the last record at once (not after the next background sync).
        assert_eq!(read_head(&p).unwrap().map(|h| h.0), Some(3));
        assert!(log.writer.lock().unwrap().is_none(), "the syncing thread was joined");
        assert!(log.append(9.0, Entry::default()).is_err());
        // The directory can go: nothing writes there any more, not even on drop.
        std::fs::remove_dir_all(&d).unwrap();
        std::thread::sleep(SYNC_EVERY * 2);
        log.close().unwrap();
        drop(log);
        assert!(!d.exists());
    }

    #[test]
    fn removing_or_swapping_a_line_is_named() {
        let d = tmp("swap");
        let p = sample(&d, 4);
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let dropped = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
        assert_eq!(verify_bytes(dropped.as_bytes()).unwrap_err().record, 2);
        let swapped = format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[1], lines[3]);
        assert_eq!(verify_bytes(swapped.as_bytes()).unwrap_err().record, 2);
        assert!(AuditLog::open(&{
            std::fs::write(&p, dropped).unwrap();
            p.clone()
        })
        .is_err());
    }

    #[test]
    fn cutting_whole_records_off_the_end_is_named_by_the_anchor() {
        let d = tmp("truncate");
        let p = sample(&d, 6);
        // `sample`'s log was dropped, which made it durable and anchored at record 6.
        assert_eq!(read_head(&p).unwrap().unwrap().0, 6);
        let text = std::fs::read_to_string(&p).unwrap();
        let kept: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
        assert!(verify_bytes(kept.as_bytes()).is_ok(), "the shorter chain is valid on its own");
        std::fs::write(&p, &kept).unwrap();
        let b = verify(&p).unwrap().unwrap_err();
        assert_eq!(b.record, 5, "{b}");
        assert!(b.reason.contains("truncated"), "{b}");
        assert!(AuditLog::open(&p).is_err(), "a truncated log is not extended");
        // A record rewritten at the anchor's position is named too.
        let log = text.lines().take(6).map(|l| format!("{l}\n")).collect::<String>();
        std::fs::write(&p, &log).unwrap();
        assert!(verify(&p).unwrap().is_ok());
        write_head(&p, 6, GENESIS).unwrap();
        assert_eq!(verify(&p).unwrap().unwrap_err().record, 6);
    }

    #[test]
    fn records_become_durable_in_batches() {
        let d = tmp("batch");
        let p = d.join(AUDIT_FILE);
        let log = AuditLog::open(&p).unwrap();
        for k in 0..20 {
            log.append(k as f64, Entry { detail: format!("r{k}"), ..Default::default() }).unwrap();
        }
        // The background thread anchors the batch within a few sync periods.
        let mut anchored = 0;
        for _ in 0..100 {
            anchored = read_head(&p).unwrap().map_or(0, |h| h.0);
            if anchored == 20 {
                break;
            }
            std::thread::sleep(SYNC_EVERY);
        }
        assert_eq!(anchored, 20);
        assert_eq!(verify(&p).unwrap().unwrap().0, 20);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Flipping any bits of any single byte of the log is detected.
        #[test]
        fn a_single_flipped_byte_anywhere_is_detected(pos in 0usize..100_000, flip in 1u8..=255) {
            use std::sync::OnceLock;
            static LOG: OnceLock<Vec<u8>> = OnceLock::new();
            let bytes = LOG.get_or_init(|| std::fs::read(sample(&tmp("flip"), 6)).unwrap());
            let mut b = bytes.clone();
            let i = pos % b.len();
            b[i] ^= flip;
            let broken = verify_bytes(&b).unwrap_err();
            // The record that holds the byte (or, for its newline, that record) is named.
            let line = bytes[..i].iter().filter(|&&c| c == b'\n').count() as u64 + 1;
            proptest::prop_assert_eq!(broken.record, line);
        }
    }
}
