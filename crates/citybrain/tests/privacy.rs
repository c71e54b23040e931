//! After a demo run, no raw plate and no raw key anywhere: not in any file of the data
//! directory (the keystore file itself aside), not in any API answer collected while the
//! demo ran, as the public and as service accounts. And the audit log's chain verifies.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Whether `b` holds a plate as the twin makes them (`ZJ-` a letter, five digits).
fn has_raw_plate(b: &[u8]) -> bool {
    b.windows(9).any(|w| w.starts_with(b"ZJ-") && w[3].is_ascii_uppercase() && w[4..].iter().all(u8::is_ascii_digit))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn no_raw_plate_or_key_after_a_demo_run() {
    let dir = std::env::temp_dir().join(format!("citybrain-privacy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let web = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let mut child = Command::new(env!("CARGO_BIN_EXE_citybrain"))
        .args(["demo", "--speed", "60", "--duration", "900", "--port", &port.to_string()])
        .arg("--data-dir")
        .arg(&dir)
        .arg("--web")
        .arg(&web)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut tokens = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(t) = line.split("token ").nth(1) {
            tokens.push(t.trim().to_string());
        }
        if line.contains("is live at") {
            break;
        }
    }
    assert!(tokens.len() >= 3, "the demo printed its service tokens");
    std::thread::spawn(move || for _ in lines {});
    let paths = [
        "/api/v1/state",
        "/api/v1/sensors",
        "/api/v1/rejected",
        "/api/v1/signals",
        "/api/v1/history?scope=city&resolution=5",
        "/api/v1/open/road-state.csv",
        "/api/v1/open/transparency.csv",
        "/api/v1/transparency",
        "/api/v1/data-protection",
        "/api/v1/catalogue",
        "/api/v1/auth/me",
        "/metrics",
    ];
    let mut answers: Vec<(String, String)> = Vec::new();
    let mut creds: Vec<Option<String>> = vec![None];
    creds.extend(tokens.iter().cloned().map(Some));
    for round in 0..3 {
        std::thread::sleep(std::time::Duration::from_secs(2));
        for cred in &creds {
            let Ok(c) = server::client::Client::connect(addr) else { continue };
            let mut c = c.with_token(cred.clone());
            for p in paths {
                if let Ok(r) = c.get(p) {
                    answers.push((format!("round {round} {p}"), r.body));
                }
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "demo exited with {status}");
    assert!(answers.len() > 30, "too few answers collected: {}", answers.len());

    // Every key the run could have used: the stored key, each day's ratchet key, and
    // the token key the twin derives from it.
    let key = std::fs::read(dir.join("plate-key")).unwrap();
    let today = (brain::wall_clock() / 86_400.0).floor() as i64;
    let schedule = brain::keystore::KeySchedule::open(&dir, today).unwrap();
    let mut secrets: Vec<Vec<u8>> = vec![key.clone(), hex(&key).into_bytes()];
    for day in today - 3..=today + 3 {
        let Some(master) = schedule.key_for(day) else { continue };
        let k = master.day_key(day);
        secrets.push(hex(&k).into_bytes());
        secrets.push(k);
        secrets.push(master.as_bytes().to_vec());
        secrets.push(hex(master.as_bytes()).into_bytes());
    }
    let mut all = Vec::new();
    files(&dir, &mut all);
    let mut checked = 0;
    for f in &all {
        if f.file_name().is_some_and(|n| n == brain::keystore::KEY_FILE) {
            continue;
        }
        let b = std::fs::read(f).unwrap();
        checked += b.len();
        assert!(!has_raw_plate(&b), "a raw plate in {}", f.display());
        for s in &secrets {
            assert!(!contains(&b, s), "a key in {}", f.display());
        }
    }
    for (what, body) in &answers {
        assert!(!has_raw_plate(body.as_bytes()), "a raw plate in {what}");
        for s in &secrets {
            assert!(!contains(body.as_bytes(), s), "a key in {what}");
        }
        for t in &tokens {
            assert!(!body.contains(t.as_str()), "a token in {what}");
        }
    }
    let db = std::fs::read(dir.join("governance.sqlite")).unwrap();
    for t in &tokens {
        assert!(!contains(&db, t.as_bytes()), "a raw token at rest");
    }
    let v = Command::new(env!("CARGO_BIN_EXE_citybrain")).args(["audit", "verify", "--data-dir"]).arg(&dir).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    println!("{} files, {checked} bytes and {} answers checked: no raw plate, key or token", all.len(), answers.len());
    let _ = std::fs::remove_dir_all(&dir);
}
