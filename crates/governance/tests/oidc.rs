//! OpenID Connect: JWTs signed with RS256 and ES256 keys of a JWKS file authenticate;
//! a wrong issuer, audience, expiry, algorithm, key or signature does not.

use base64::Engine;
use brain::Role;
use governance::oidc::OidcConfig;
use governance::{GovConfig, Governance};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::json;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn jwt(alg: &str, kid: &str, claims: &serde_json::Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let head = b64(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string().as_bytes());
    let body = b64(claims.to_string().as_bytes());
    let msg = format!("{head}.{body}");
    let sig = sign(msg.as_bytes());
    format!("{msg}.{}", b64(&sig))
}

#[test]
fn jwts_of_the_configured_issuer_map_to_department_and_role() {
    let dir = std::env::temp_dir().join(format!("cb-gov-oidc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = rand::rngs::OsRng;
    let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let rsa_signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key.clone());
    let ec_key = p256::ecdsa::SigningKey::random(&mut rng);
    let pt = ec_key.verifying_key().to_encoded_point(false);
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "r1", "n": b64(&rsa_key.to_public_key().n().to_bytes_be()), "e": b64(&rsa_key.to_public_key().e().to_bytes_be())},
        {"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64(pt.x().unwrap()), "y": b64(pt.y().unwrap())},
    ]});
    std::fs::write(dir.join("jwks.json"), jwks.to_string()).unwrap();
    let mut cfg = GovConfig::new(&dir);
    cfg.oidc = Some(OidcConfig::new("https://idp.city.example", "citybrain", dir.join("jwks.json")));
    let gov = Governance::open(cfg).unwrap();
    assert!(gov.has_accounts(), "OIDC counts as configured authentication");
    let now = brain::wall_clock();
    let claims = json!({"iss": "https://idp.city.example", "aud": ["citybrain"], "sub": "u-42", "exp": now + 600.0,
        "department": "traffic-police", "role": "operator"});
    let rs = |m: &[u8]| rsa_signer.sign(m).to_vec();
    let es = |m: &[u8]| {
        let s: p256::ecdsa::Signature = ec_key.sign(m);
        s.to_bytes().to_vec()
    };
    let c = gov.authenticate_jwt(&jwt("RS256", "r1", &claims, rs)).unwrap();
    assert_eq!((c.principal.as_str(), c.department.as_deref(), c.role), ("oidc:u-42", Some("traffic-police"), Role::Operator));
    assert!(gov.authenticate_jwt(&jwt("ES256", "e1", &claims, es)).is_ok());
    let refused = |name: &str, token: String| {
        let e = gov.authenticate_jwt(&token).expect_err(name).to_string();
        println!("{name}: {e}");
    };
    let mut c2 = claims.clone();
    c2["iss"] = json!("https://evil.example");
    refused("issuer", jwt("RS256", "r1", &c2, rs));
    let mut c2 = claims.clone();
    c2["aud"] = json!("other");
    refused("audience", jwt("RS256", "r1", &c2, rs));
    let mut c2 = claims.clone();
    c2["exp"] = json!(now - 3600.0);
    refused("expired", jwt("RS256", "r1", &c2, rs));
    let mut c2 = claims.clone();
    c2["department"] = json!("ministry-of-truth");
    refused("department", jwt("RS256", "r1", &c2, rs));
    let mut c2 = claims.clone();
    c2["role"] = json!("system");
    refused("role", jwt("RS256", "r1", &c2, rs));
    refused("alg none", jwt("none", "r1", &claims, |_| Vec::new()));
    refused("HS256", jwt("HS256", "r1", &claims, rs));
    refused("key of the other kid", jwt("RS256", "e1", &claims, rs));
    let good = jwt("ES256", "e1", &claims, es);
    let mut tampered = good.clone().into_bytes();
    let mid = good.find('.').unwrap() + 5;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    refused("tampered payload", String::from_utf8(tampered).unwrap());
    refused("garbage", "a.b".into());
}
