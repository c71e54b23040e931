//! OpenID Connect: bearer JWTs of a configured issuer, checked against the keys of a
//! JWKS file (RS256 or ES256; `none` and HMAC algorithms are refused), their claims
//! mapped to a department and a role. No network call: the operator refreshes the JWKS
//! file (and restarts) when the issuer rotates its keys.

use std::path::PathBuf;

use base64::Engine;
use brain::{Caller, Role};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::error::GovError;
use crate::gov::Governance;
use crate::model::role_scopes;

/// Which issuer to trust and how its claims map.
#[derive(Clone, Debug, PartialEq)]
pub struct OidcConfig {
    /// `iss` the tokens must carry.
    pub issuer: String,
    /// `aud` the tokens must carry (a string, or one of an array).
    pub audience: String,
    /// The issuer's JSON Web Key Set, as a file.
    pub jwks_file: PathBuf,
    /// Claim holding the department id (default `department`).
    pub department_claim: String,
    /// Claim holding the role name (default `role`): viewer, operator, admin, service.
    pub role_claim: String,
}

impl OidcConfig {
    pub fn new(issuer: &str, audience: &str, jwks_file: impl Into<PathBuf>) -> OidcConfig {
        OidcConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_file: jwks_file.into(),
            department_claim: "department".into(),
            role_claim: "role".into(),
        }
    }
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

enum Key {
    Rs256(rsa::pkcs1v15::VerifyingKey<Sha256>),
    Es256(p256::ecdsa::VerifyingKey),
}

/// The issuer's keys, loaded from the JWKS file.
pub struct OidcVerifier {
    cfg: OidcConfig,
    keys: Vec<(Option<String>, Key)>,
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, GovError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| GovError::BadCredentials(format!("{field}: not base64url: {e}")))
}

impl OidcVerifier {
    pub fn load(cfg: OidcConfig) -> Result<OidcVerifier, GovError> {
        let path = cfg.jwks_file.clone();
        let text = std::fs::read_to_string(&path).map_err(GovError::io(&path))?;
        let bad = |k: usize, m: String| GovError::Invalid(format!("{}: keys[{k}]: {m}", path.display()));
        let jwks: Jwks = serde_json::from_str(&text).map_err(|e| GovError::Invalid(format!("{}: {e}", path.display())))?;
        let mut keys = Vec::new();
        for (k, j) in jwks.keys.into_iter().enumerate() {
            let field = |name: &str, v: &Option<String>| {
                let s = v.as_deref().ok_or_else(|| bad(k, format!("{name}: missing")))?;
                b64(name, s).map_err(|e| bad(k, e.to_string()))
            };
            let key = match j.kty.as_str() {
                "RSA" => {
                    let (n, e) = (field("n", &j.n)?, field("e", &j.e)?);
                    let pk = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), rsa::BigUint::from_bytes_be(&e))
                        .map_err(|e| bad(k, format!("RSA key: {e}")))?;
                    Key::Rs256(rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk))
                }
                "EC" if j.crv.as_deref() == Some("P-256") => {
                    let (x, y) = (field("x", &j.x)?, field("y", &j.y)?);
                    if x.len() != 32 || y.len() != 32 {
                        return Err(bad(k, "x/y: 32 bytes each for P-256".into()));
                    }
                    let pt = p256::EncodedPoint::from_affine_coordinates(
                        p256::FieldBytes::from_slice(&x),
                        p256::FieldBytes::from_slice(&y),
                        false,
                    );
                    Key::Es256(p256::ecdsa::VerifyingKey::from_encoded_point(&pt).map_err(|e| bad(k, format!("EC key: {e}")))?)
                }
                other => return Err(bad(k, format!("kty: RSA or EC P-256 supported, got {other:?}"))),
            };
            keys.push((j.kid, key));
        }
        if keys.is_empty() {
            return Err(GovError::Invalid(format!("{}: no keys", path.display())));
        }
        Ok(OidcVerifier { cfg, keys })
    }

    /// Verify a JWT's signature and registered claims at `now`; returns its claims.
    pub fn verify(&self, token: &str, now: f64) -> Result<serde_json::Map<String, Value>, GovError> {
        let bad = |m: &str| GovError::BadCredentials(format!("JWT: {m}"));
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected header.payload.signature"));
        };
        let header: Value = serde_json::from_slice(&b64("header", h)?).map_err(|_| bad("header is not JSON"))?;
        let alg = header["alg"].as_str().unwrap_or("");
        let kid = header["kid"].as_str();
        let msg = &token.as_bytes()[..h.len() + 1 + p.len()];
        let sig = b64("signature", s)?;
        let candidates = self.keys.iter().filter(|(k, _)| kid.is_none() || k.as_deref() == kid);
        let mut verified = false;
        for (_, key) in candidates {
            use rsa::signature::Verifier;
            verified |= match (alg, key) {
                ("RS256", Key::Rs256(vk)) => {
                    rsa::pkcs1v15::Signature::try_from(sig.as_slice()).is_ok_and(|sg| vk.verify(msg, &sg).is_ok())
                }
                ("ES256", Key::Es256(vk)) => p256::ecdsa::Signature::from_slice(&sig).is_ok_and(|sg| vk.verify(msg, &sg).is_ok()),
                _ => false,
            };
        }
        if !matches!(alg, "RS256" | "ES256") {
            return Err(bad(&format!("alg {alg:?} refused (RS256 or ES256)")));
        }
        if !verified {
            return Err(bad("signature does not verify against the issuer's keys"));
        }
        let claims: serde_json::Map<String, Value> =
            serde_json::from_slice(&b64("payload", p)?).map_err(|_| bad("payload is not a JSON object"))?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.cfg.issuer.as_str()) {
            return Err(bad("iss: not the configured issuer"));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == &self.cfg.audience,
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(self.cfg.audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(bad("aud: not this service"));
        }
        let leeway = 60.0;
        match claims.get("exp").and_then(Value::as_f64) {
            Some(exp) if now < exp + leeway => {}
            Some(_) => return Err(bad("expired")),
            None => return Err(bad("exp: missing")),
        }
        if claims.get("nbf").and_then(Value::as_f64).is_some_and(|nbf| now + leeway < nbf) {
            return Err(bad("not valid yet (nbf)"));
        }
        Ok(claims)
    }

    /// The caller the claims stand for: `oidc:<sub>`, its department and role.
    pub fn caller(
        &self,
        claims: &serde_json::Map<String, Value>,
        known_department: impl Fn(&str) -> bool,
    ) -> Result<Caller, GovError> {
        let bad = |m: String| GovError::BadCredentials(format!("JWT: {m}"));
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or_else(|| bad("sub: missing".into()))?;
        let dept = claims
            .get(&self.cfg.department_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{}: missing", self.cfg.department_claim)))?;
        if !known_department(dept) {
            return Err(bad(format!("{}: unknown department {dept:?}", self.cfg.department_claim)));
        }
        let role = claims
            .get(&self.cfg.role_claim)
            .and_then(Value::as_str)
            .and_then(Role::parse)
            .filter(|r| !matches!(r, Role::Public | Role::System))
            .ok_or_else(|| bad(format!("{}: viewer, operator, admin or service", self.cfg.role_claim)))?;
        Ok(Caller {
            principal: format!("oidc:{sub}"),
            department: Some(dept.into()),
            role,
            scopes: role_scopes(role),
            purpose: None,
        })
    }
}

impl Governance {
    /// The caller an OpenID Connect JWT stands for.
    pub fn authenticate_jwt(&self, token: &str) -> Result<Caller, GovError> {
        let Some(v) = &self.oidc else {
            return Err(GovError::BadCredentials("not a citybrain token (cbt_…) and OpenID Connect is not configured".into()));
        };
        let claims = v.verify(token, crate::gov::now())?;
        let c = self.cache();
        v.caller(&claims, |d| c.departments.contains_key(d))
    }
}
