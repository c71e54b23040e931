//! The plate-key schedule: a key per civil day from a one-way ratchet, and the keys of
//! days past the retention window destroyed, on disk too.

use brain::keystore::{KeySchedule, DAY_FILE, KEY_FILE};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("citybrain-keys-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn old_keys_are_destroyed_and_later_ones_kept() {
    let dir = temp_dir("ratchet");
    let mut s = KeySchedule::open(&dir, 100).unwrap();
    let keys: Vec<_> = (100..108).map(|d| s.key_for(d).unwrap()).collect();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b, "each day has its own key");
        }
    }
    let file_before = std::fs::read(dir.join(KEY_FILE)).unwrap();
    assert_eq!(s.advance(103).unwrap(), 3);
    assert_eq!(s.key_for(102), None, "destroyed");
    assert_eq!(s.key_for(103).as_ref(), Some(&keys[3]), "kept days keep their keys");
    assert_eq!(s.key_for(107).as_ref(), Some(&keys[7]));
    // On disk: the old key is gone, the schedule reopens where it was.
    let file_after = std::fs::read(dir.join(KEY_FILE)).unwrap();
    assert_ne!(file_before, file_after);
    for d in &keys[..3] {
        assert!(!file_after.windows(32).any(|w| w == d.as_bytes()), "a destroyed key is still on disk");
    }
    let again = KeySchedule::open(&dir, 110).unwrap();
    assert_eq!(again.first_day(), 103);
    assert_eq!(again.key_for(105).as_ref(), Some(&keys[5]));
    assert_eq!(s.advance(101).unwrap(), 0, "never backwards");
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "only the key and its day: {leftovers:?}");
}

#[test]
fn a_day_file_that_does_not_match_the_key_makes_it_todays() {
    let dir = temp_dir("mismatch");
    let s = KeySchedule::open(&dir, 50).unwrap();
    let k = s.key_for(50).unwrap();
    std::fs::write(dir.join(DAY_FILE), "40 0000000000000000").unwrap();
    let s = KeySchedule::open(&dir, 60).unwrap();
    assert_eq!(s.first_day(), 60, "unknown day: today, so no earlier day is ever linked");
    assert_eq!(s.key_for(60), Some(k), "the stored key is today's");
}
