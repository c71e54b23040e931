//! The keystore: the plate pseudonymisation key, kept in one file of the data directory
//! ([`KEY_FILE`], 32 raw bytes, mode 0600), created on first start from the operating
//! system's random number generator and reused after, so that plate tokens of the same
//! day stay the same across a restart. A deployment may give a key in its configuration
//! instead ([`parse_hex`]); it is never a constant of the source.
//!
//! Keys rotate daily and are destroyed after the retention window ([`KeySchedule`]): the
//! file holds the key of the oldest retained day ([`DAY_FILE`] names the day), each later
//! day's key is a one-way ratchet step further, and each day the file is ratcheted
//! forward, so no key of a day past the window exists any more. The twin derives the
//! day's token key from the day's key (`twin::sensors::PlateKey::day_key`).
//!
//! This module and the store are the runtime's only file IO.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use twin::sensors::PlateKey;

/// File name of the key in the data directory.
pub const KEY_FILE: &str = "plate-key";

/// Why the key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("keystore {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("keystore {path}: expected {expected} bytes, found {found}; remove the file to create a new key (plate tokens will change)")]
    Length { path: PathBuf, expected: usize, found: usize },
    #[error("keystore {path}: readable by group or others (mode {mode:o}); run `chmod 600` on it")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("plate key: expected {expected} hexadecimal characters, got {found}")]
    Hex { expected: usize, found: String },
}

/// Load the key from `dir/plate-key`, creating it (mode 0600, 32 random bytes) if it
/// does not exist. Returns the key and whether it was created now. The new key is
/// written to a temporary file, synced and then linked into place, so a crash never
/// leaves a partial key behind and two starts cannot both create one.
pub fn load_or_create(dir: &Path) -> Result<(PlateKey, bool), KeystoreError> {
    let path = dir.join(KEY_FILE);
    if path.exists() {
        return Ok((load(&path)?, false));
    }
    let tmp = dir.join(format!("{KEY_FILE}.tmp-{}", std::process::id()));
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| KeystoreError::Io { path: p, source }
    };
    let key = PlateKey::random();
    let _ = std::fs::remove_file(&tmp);
    let mut f = open_new(&tmp).map_err(io(&tmp))?;
    f.write_all(key.as_bytes()).and_then(|_| f.sync_all()).map_err(io(&tmp))?;
    drop(f);
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok((key, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((load(&path)?, false)),
        Err(e) => Err(io(&path)(e)),
    }
}

/// Load an existing key file.
pub fn load(path: &Path) -> Result<PlateKey, KeystoreError> {
    let io = |source| KeystoreError::Io { path: path.to_path_buf(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeystoreError::Permissions { path: path.to_path_buf(), mode });
        }
    }
    let mut bytes = Vec::with_capacity(PlateKey::LEN);
    // Read at most one byte more than a key, so a wrong file is reported, not loaded.
    Read::by_ref(&mut f).take(PlateKey::LEN as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    let found = bytes.len();
    let key: [u8; PlateKey::LEN] =
        bytes.try_into().map_err(|_| KeystoreError::Length { path: path.to_path_buf(), expected: PlateKey::LEN, found })?;
    Ok(PlateKey::from_bytes(key))
}

/// A key given in configuration: 64 hexadecimal characters.
pub fn parse_hex(s: &str) -> Result<PlateKey, KeystoreError> {
    let bad = || KeystoreError::Hex { expected: 2 * PlateKey::LEN, found: format!("{} characters", s.chars().count()) };
    if s.len() != 2 * PlateKey::LEN || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut key = [0u8; PlateKey::LEN];
    for (k, pair) in s.as_bytes().chunks(2).enumerate() {
        let hex = std::str::from_utf8(pair).map_err(|_| bad())?;
        key[k] = u8::from_str_radix(hex, 16).map_err(|_| bad())?;
    }
    Ok(PlateKey::from_bytes(key))
}

#[cfg(unix)]
fn open_new(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_new(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

/// File holding the civil day (days since 1970-01-01 on the city's wall clock) that the
/// key in [`KEY_FILE`] belongs to: the oldest day whose plate tokens can still be linked.
pub const DAY_FILE: &str = "plate-key.day";

/// 16 hex digits of SHA-256("citybrain/plate-key/fingerprint" || key): names a key
/// without revealing it.
fn fingerprint(key: &PlateKey) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::new().chain_update(b"citybrain/plate-key/fingerprint").chain_update(key.as_bytes()).finalize();
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// One step of the key ratchet: HMAC-SHA256(key, "citybrain/plate-key/ratchet"). It is
/// one-way: a day's key gives every later day's key, never an earlier one.
pub fn ratchet(key: &PlateKey) -> PlateKey {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key length");
    mac.update(b"citybrain/plate-key/ratchet");
    PlateKey::from_bytes(mac.finalize().into_bytes().into())
}

/// The plate keys of the days within the personal-data retention window.
///
/// The keystore holds one key, that of its first day `day0`; the key of a later day `d`
/// is `ratchet` applied `d - day0` times, and the twin derives that day's token key from
/// it ([`PlateKey::day_key`]). Each day the schedule [`KeySchedule::advance`]s: the key is
/// ratcheted forward to the oldest day still retained and the file rewritten, so the keys
/// of days past the window are destroyed and their tokens can no longer be linked to a
/// plate, by anyone.
#[derive(Debug)]
pub struct KeySchedule {
    day0: i64,
    key: PlateKey,
    /// Where the schedule lives; `None` for a configured key (nothing to destroy).
    dir: Option<PathBuf>,
}

impl KeySchedule {
    /// The keystore in `dir` (created if absent, see [`load_or_create`]); a key without
    /// a day file is taken as today's.
    pub fn open(dir: &Path, today: i64) -> Result<KeySchedule, KeystoreError> {
        let (key, _) = load_or_create(dir)?;
        let day_path = dir.join(DAY_FILE);
        // `DAY FINGERPRINT`: a day file that does not match the key (a crash between the
        // two renames of `advance`) makes the key today's: fewer days stay linkable,
        // never a wrong key for a day.
        let stored = std::fs::read_to_string(&day_path).ok().and_then(|s| {
            let (day, fp) = s.trim().split_once(' ')?;
            (fp == fingerprint(&key)).then(|| day.parse::<i64>().ok()).flatten()
        });
        let day0 = match stored {
            Some(d) => d,
            None => {
                std::fs::write(&day_path, format!("{today} {}", fingerprint(&key)))
                    .map_err(|source| KeystoreError::Io { path: day_path.clone(), source })?;
                today
            }
        };
        Ok(KeySchedule { day0, key, dir: Some(dir.to_path_buf()) })
    }

    /// A key given in configuration: used for every day, never destroyed.
    pub fn fixed(key: PlateKey, today: i64) -> KeySchedule {
        KeySchedule { day0: today, key, dir: None }
    }

    /// The oldest day whose key is still held.
    pub fn first_day(&self) -> i64 {
        self.day0
    }

    /// The key of `day`, or `None` when it was destroyed (before the first kept day).
    pub fn key_for(&self, day: i64) -> Option<PlateKey> {
        if self.dir.is_none() {
            return Some(self.key.clone());
        }
        if day < self.day0 {
            return None;
        }
        let mut k = self.key.clone();
        for _ in 0..(day - self.day0).min(4000) {
            k = ratchet(&k);
        }
        Some(k)
    }

    /// Destroy the keys of the days before `oldest_kept`: ratchet the stored key forward
    /// and replace the files (written aside, synced, renamed). Returns how many days'
    /// keys were destroyed.
    pub fn advance(&mut self, oldest_kept: i64) -> Result<i64, KeystoreError> {
        let Some(dir) = self.dir.clone() else { return Ok(0) };
        if oldest_kept <= self.day0 {
            return Ok(0);
        }
        let key = self.key_for(oldest_kept).expect("a later day");
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| KeystoreError::Io { path: p, source }
        };
        let tmp = dir.join(format!("{KEY_FILE}.next-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let mut f = open_new(&tmp).map_err(io(&tmp))?;
        f.write_all(key.as_bytes()).and_then(|_| f.sync_all()).map_err(io(&tmp))?;
        drop(f);
        // A crash between the two renames leaves a day file whose fingerprint does not
        // match the key: `open` then takes the key as today's (see there).
        let day_tmp = dir.join(format!("{DAY_FILE}.next-{}", std::process::id()));
        std::fs::write(&day_tmp, format!("{oldest_kept} {}", fingerprint(&key))).map_err(io(&day_tmp))?;
        std::fs::rename(&tmp, dir.join(KEY_FILE)).map_err(io(&dir.join(KEY_FILE)))?;
        std::fs::rename(&day_tmp, dir.join(DAY_FILE)).map_err(io(&dir.join(DAY_FILE)))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        let destroyed = oldest_kept - self.day0;
        self.key = key;
        self.day0 = oldest_kept;
        Ok(destroyed)
    }
}
