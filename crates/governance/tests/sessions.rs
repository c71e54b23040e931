//! Sessions survive a restart (kept as hashes in `governance.sqlite`), logins are limited
//! per account and per address, and the store's retention follows the policy per class;
//! on a real store in a temporary directory.

use brain::{Caller, Role};
use governance::{datasets, Classification, Dataset, GovConfig, GovError, Governance, LoginLimits, RetentionPolicy};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cb-gov-sessions-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(d: &std::path::Path) -> Governance {
    let mut cfg = GovConfig::new(d);
    cfg.pbkdf2_iterations = 1000;
    cfg.login_limits = LoginLimits { window_s: 600.0, per_account: 3, per_address: 5 };
    Governance::open(cfg).unwrap()
}

#[test]
fn a_session_survives_a_restart_and_dies_with_logout() {
    let d = dir("restart");
    let g = open(&d);
    g.put_principal(&Caller::system(), "tp.admin", "traffic-police", Role::Admin, Some("a long password")).unwrap();
    let s = g.login("tp.admin", "a long password").unwrap();
    drop(g);
    // Nothing secret at rest: neither the session id nor its CSRF token is in the store.
    let db = std::fs::read(d.join(governance::DB_FILE)).unwrap();
    for secret in [&s.id, &s.csrf] {
        assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "a session secret in the store");
    }
    let g = open(&d);
    let (caller, csrf) = g.session(&s.id).expect("the session survived the restart");
    assert_eq!(caller.principal, "tp.admin");
    assert_eq!(csrf, s.csrf, "the same CSRF token after the restart");
    g.logout(&s.id);
    assert!(g.session(&s.id).is_err());
    drop(g);
    assert!(open(&d).session(&s.id).is_err(), "logout is durable too");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn failed_logins_lock_the_account_and_the_address() {
    let d = dir("limits");
    let g = open(&d);
    let sys = Caller::system();
    g.put_principal(&sys, "ann", "traffic-police", Role::Viewer, Some("a long password")).unwrap();
    for _ in 0..3 {
        assert!(matches!(g.login_from("ann", "wrong", Some("10.0.0.1")), Err(GovError::BadCredentials(_))));
    }
    // Locked: even the right password is refused until the window passes.
    match g.login_from("ann", "a long password", Some("10.0.0.2")) {
        Err(GovError::TooManyAttempts { retry_after_s, message }) => {
            assert!(retry_after_s > 0 && retry_after_s <= 600, "{retry_after_s}");
            assert!(message.contains("account"), "{message}");
        }
        other => panic!("expected a lock, got {:?}", other.map(|s| s.caller.principal)),
    }
    // The address: five failures across accounts lock it for everyone.
    for name in ["x1", "x2"] {
        assert!(g.login_from(name, "guess", Some("10.0.0.1")).is_err());
    }
    assert!(matches!(g.login_from("bob", "guess", Some("10.0.0.1")), Err(GovError::TooManyAttempts { .. })));
    // Every refusal is audited as a login record.
    let refused = g.audit.query(100, |r| r.detail.starts_with("login refused")).unwrap();
    assert!(refused.len() >= 2, "{refused:?}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn store_retention_follows_the_class_of_each_dataset() {
    let d = dir("retention");
    let mut cfg = GovConfig::new(&d);
    cfg.retention =
        RetentionPolicy { public_s: None, internal_s: Some(30.0 * 86_400.0), restricted_s: Some(86_400.0), personal_s: 3_600.0 };
    let g = Governance::open(cfg).unwrap();
    let base = brain::Retention::default();
    let r = g.store_retention(&base);
    // Raw observations are personal (plate tokens): an hour, shorter than the store's day.
    assert_eq!(r.raw_s, Some(3_600.0));
    // Aggregates are public: the store's own windows.
    assert_eq!((r.snapshots_s, r.minute_s, r.quarter_s), (base.snapshots_s, base.minute_s, base.quarter_s));
    // Rejected records are restricted: a day, shorter than the store's week.
    assert_eq!(r.rejected_s, Some(86_400.0));
    assert_eq!(r.plans_s, None);
    // Reclassifying a dataset changes its window on the next computation.
    let owner = "transport-bureau".to_string();
    g.put_dataset(Dataset {
        name: datasets::AGGREGATES.into(),
        owner,
        class: Classification::Internal,
        description: "reclassified".into(),
    })
    .unwrap();
    assert_eq!(g.store_retention(&base).quarter_s, Some(30.0 * 86_400.0));
    std::fs::remove_dir_all(&d).ok();
}
