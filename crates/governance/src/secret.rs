//! Secrets: random values from the operating system, API tokens (only their SHA-256 is
//! stored; compared in constant time), password hashes (PBKDF2-HMAC-SHA256, salted).

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// PBKDF2 iterations for new password hashes (OWASP's 2023 figure for HMAC-SHA256).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Constant-time equality of two digests.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A freshly minted API token: `cbt_<id>_<secret>` (id 16 hex digits, secret 64 hex
/// digits = 256 random bits). Returns (id, the whole token, SHA-256 of the secret).
pub fn new_token() -> (String, String, [u8; 32]) {
    let id = hex(&random_bytes::<8>());
    let secret = hex(&random_bytes::<32>());
    let hash = sha256(secret.as_bytes());
    (id.clone(), format!("cbt_{id}_{secret}"), hash)
}

/// Split a presented token into (id, SHA-256 of its secret).
pub fn parse_token(token: &str) -> Option<(&str, [u8; 32])> {
    let rest = token.strip_prefix("cbt_")?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 16 || secret.len() != 64 {
        return None;
    }
    Some((id, sha256(secret.as_bytes())))
}

/// Hash a password: `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`.
pub fn hash_password(password: &str, iterations: u32) -> String {
    let salt = random_bytes::<16>();
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut out);
    format!("pbkdf2-sha256${iterations}${}${}", hex(&salt), hex(&out))
}

/// Check a password against a stored hash (constant-time comparison of the digests).
pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iter), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(iter), Some(salt), Some(hash)) = (iter.parse::<u32>(), unhex(salt), unhex(hash)) else { return false };
    if iter == 0 || hash.len() != 32 {
        return false;
    }
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iter, &mut out);
    ct_eq(&out, &hash)
}

/// A random password for demo accounts: 16 characters from an unambiguous alphabet.
pub fn random_password() -> String {
    const A: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    random_bytes::<16>().iter().map(|b| A[*b as usize % A.len()] as char).collect()
}

/// A ticket number a citizen can read out: `T-` and 10 characters (50 random bits), so
/// numbers cannot be guessed to read other people's tickets.
pub fn ticket_number() -> String {
    const A: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let s: String = random_bytes::<10>().iter().map(|b| A[*b as usize % A.len()] as char).collect();
    format!("T-{}-{}", &s[..5], &s[5..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_back_to_their_hash_and_differ() {
        let (id, token, hash) = new_token();
        let (pid, phash) = parse_token(&token).unwrap();
        assert_eq!(pid, id);
        assert!(ct_eq(&phash, &hash));
        let (_, token2, _) = new_token();
        assert_ne!(token, token2);
        assert!(parse_token("cbt_short_x").is_none());
        assert!(!token.contains(&hex(&hash)), "the stored hash is not the token");
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse", 1000);
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(!verify_password("correct horse", "pbkdf2-sha256$0$00$00"));
        assert!(!verify_password("x", "garbage"));
        assert!(!h.contains("correct horse"));
        assert_ne!(h, hash_password("correct horse", 1000), "salted");
    }
}
