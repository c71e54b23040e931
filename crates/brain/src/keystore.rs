//! The keystore: the master key of plate pseudonymisation, kept in one file of the data
//! directory ([`KEY_FILE`], 32 raw bytes, mode 0600). It is created on first start from
//! the operating system's random number generator and reused after, so that plate
//! tokens of the same day stay the same across a restart. Daily keys are derived from
//! it (`twin::sensors::PlateKey::day_key`). A deployment may give the key in its
//! configuration instead ([`parse_hex`]); it is never a constant of the source.
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
