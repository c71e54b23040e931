//! Absolute time and the plate keystore, with real SQLite files and real key files: the
//! hostile `"time": 1e15` POST of issue 15 (rejected; the clock, the sensor and the stored
//! data unharmed), the wall clock, the driven clock, and the keystore (0600, reused
//! across restarts, tokens stable within a day, no constant in the source).

use std::path::PathBuf;

use brain::keystore::{self, KeystoreError, KEY_FILE};
use brain::{wall_clock, Brain, BrainConfig, Caller, ClockSource};
use twin::sensors::{PlateKey, SensorConfig, VirtualSensors};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("citybrain-time-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A loop record; `t` is the JSON of its time, `end` the number it ends at.
fn loop_json(sensor: &str, t: &str, end: f64) -> String {
    let start = end - 30.0;
    format!(
        r#"{{"sensor":"{sensor}","kind":"loop","time":{t},"start":{start},"end":{end},"count":0,"occupancy":0.0,"speed":null}}"#
    )
}

fn body(records: &[String]) -> Vec<u8> {
    format!("{{\"observations\":[{}]}}", records.join(",")).into_bytes()
}

/// Issue 15: one POST with `"time": 1e15` froze the live state, locked the sensor out and
/// made the next prune delete every stored row.
#[test]
fn a_hostile_time_is_rejected_and_harms_nothing() {
    let dir = temp_dir("hostile");
    let brain = Brain::open(sense::testnet::corridor(), &BrainConfig::new(dir.join("brain.sqlite"))).unwrap();
    let c = Caller::anonymous();
    let lp = "loop:AB:0";
    // Loops report an interval; here a zero-length one is not allowed, so give 30 s.
    let rec = |t: f64| {
        format!(
            r#"{{"sensor":"{lp}","kind":"loop","time":{t},"start":{},"end":{t},"count":2,"occupancy":0.1,"speed":9.0}}"#,
            t - 30.0
        )
    };
    let t0 = wall_clock();
    let out = brain.ingest_body(&c, &body(&[rec(t0 - 10.0)])).unwrap();
    assert_eq!(out.report.accepted, 1);
    let stored = brain.stored_until().unwrap();

    for hostile in ["1e15".to_string(), format!("{}", t0 + 3600.0), format!("{}", t0 - 3.0 * 86_400.0)] {
        let out = brain.ingest_body(&c, &body(&[rec(hostile.parse().unwrap())])).unwrap();
        assert_eq!((out.report.accepted, out.report.rejected), (0, 1), "{hostile}");
        let err = out.report.results[0].1.clone().unwrap_err();
        assert!(err.starts_with("observations[0].time: "), "{err}");
    }
    // The clock did not move: it is still the wall clock.
    let now = brain.now();
    assert!(now >= t0 && now <= wall_clock() + 1.0, "clock {now} vs wall {t0}");
    // The sensor is not locked out: its next ordinary records are accepted.
    for k in 0..3 {
        let out = brain.ingest_body(&c, &body(&[rec(wall_clock() - 5.0 + k as f64)])).unwrap();
        assert_eq!(out.report.accepted, 1, "{:?}", out.report.results);
    }
    // Retention deletes nothing that is within its window.
    brain.prune();
    assert!(brain.stored_until().unwrap() >= stored);
    drop(brain);
    // After a restart too.
    let again = Brain::open(sense::testnet::corridor(), &BrainConfig::new(dir.join("brain.sqlite"))).unwrap();
    again.prune();
    assert!(again.stored_until().unwrap() >= stored);
    assert_eq!(again.counters().accepted, 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn rfc3339_records_are_accepted_against_the_wall_clock() {
    let dir = temp_dir("rfc3339");
    let brain = Brain::open(sense::testnet::corridor(), &BrainConfig::new(dir.join("brain.sqlite"))).unwrap();
    let now = wall_clock();
    let zone = sense::CityZone::default();
    let t = zone.format(now - 1.0);
    assert!(t.ends_with("+08:00"), "{t}");
    let rec = format!(r#"{{"sensor":"controller:B","kind":"signal","time":"{t}","code":1,"param":2}}"#);
    let out = brain.ingest_body(&Caller::anonymous(), &body(&[rec, loop_json("loop:AB:0", "\"soon\"", 100.0)])).unwrap();
    assert_eq!(out.report.accepted, 1, "{:?}", out.report.results);
    assert!(out.report.results[1].1.clone().unwrap_err().starts_with("observations[1].time: invalid RFC 3339"));
    let ev = brain.signal_events(&Caller::anonymous(), "B", now - 60.0, now + 60.0).unwrap();
    assert_eq!(ev.len(), 1);
    assert!((ev[0].0 - (now - 1.0)).abs() < 1e-3, "{} vs {}", ev[0].0, now - 1.0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_driven_clock_never_goes_back() {
    let dir = temp_dir("driven");
    let cfg = BrainConfig { clock: ClockSource::Driven, day_start_s: 1_000.0, ..BrainConfig::new(dir.join("b.sqlite")) };
    let brain = Brain::open(sense::testnet::corridor(), &cfg).unwrap();
    assert_eq!(brain.now(), 1_000.0);
    brain.drive_clock(2_000.0);
    brain.drive_clock(1_500.0);
    brain.drive_clock(f64::NAN);
    brain.drive_clock(f64::INFINITY);
    assert_eq!(brain.now(), 2_000.0);
    // Records are judged against it: 2000 + 300 s skew is the limit.
    let out = brain
        .ingest_body(
            &Caller::anonymous(),
            &body(&[loop_json("loop:AB:0", "2400", 2400.0), loop_json("loop:AB:1", "2250", 2250.0)]),
        )
        .unwrap();
    let errs: Vec<_> = out.report.results.iter().map(|r| r.1.clone().err().unwrap_or_default()).collect();
    assert!(errs[0].contains("skew of 300 s"), "{errs:?}");
    assert!(!errs[1].contains("skew"), "{errs:?}");
    assert_eq!(brain.now(), 2_000.0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_keystore_is_created_0600_and_reused() {
    let dir = temp_dir("keystore");
    let (k1, created) = keystore::load_or_create(&dir).unwrap();
    assert!(created);
    let path = dir.join(KEY_FILE);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 32);
    assert_eq!(&bytes[..], k1.as_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Restart: the same key, not a new one; no temporary file left behind.
    let (k2, created) = keystore::load_or_create(&dir).unwrap();
    assert!(!created);
    assert_eq!(k1, k2);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // Tokens: stable across a restart within a day, different the next day.
    let sim = twin::Sim::from_parts(sense::testnet::corridor(), vec![], twin::SimConfig::default());
    let zone = sense::CityZone::default();
    let token = |key: &PlateKey, unix: f64| {
        let civil_origin_s = unix + f64::from(zone.utc_offset_s(unix));
        let vs = VirtualSensors::new(&sim, SensorConfig { plate_key: key.clone(), civil_origin_s, ..Default::default() });
        vs.pseudonymise("ZJ-A12345")
    };
    let morning = zone.day_at(wall_clock(), 7.0).unwrap();
    let before = token(&k1, morning);
    assert_eq!(before, token(&k2, morning + 3.0 * 3600.0), "same city day, after a restart");
    assert_ne!(before, token(&k2, morning + 17.5 * 3600.0), "the next day (00:30) has a new key");
    assert_ne!(before, token(&PlateKey::random(), morning), "another data directory, other tokens");
    // A key readable by others, or of the wrong length, is refused with a clear error.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = keystore::load_or_create(&dir).unwrap_err();
        assert!(matches!(e, KeystoreError::Permissions { mode: 0o644, .. }), "{e}");
        assert!(e.to_string().contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::write(&path, [1u8; 33]).unwrap();
    let e = keystore::load_or_create(&dir).unwrap_err();
    assert!(matches!(e, KeystoreError::Length { found: 33, .. }), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_configured_key_is_64_hex_characters() {
    let k = keystore::parse_hex(&"0f".repeat(32)).unwrap();
    assert_eq!(k.as_bytes(), &[0x0f; 32]);
    for bad in ["", "0f", &"zz".repeat(32), &"0f".repeat(33), &"é".repeat(32)] {
        let e = keystore::parse_hex(bad).unwrap_err().to_string();
        assert!(e.contains("expected 64 hexadecimal characters"), "{e}");
        assert!(!e.contains(bad) || bad.is_empty(), "the error must not echo the key: {e}");
    }
}

/// The old demo secret was a constant of the source; no source file may hold it again.
#[test]
fn no_pseudonymisation_secret_in_the_source() {
    let old = ["citybrain", "demo", "secret"].join("-");
    let field = ["plate", "secret"].join("_");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stack = vec![root];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(!text.contains(&old) && !text.contains(&field), "{} holds a plate secret", p.display());
            }
        }
    }
    assert!(files > 50, "scanned {files} source files");
}
