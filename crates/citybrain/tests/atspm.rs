//! The live demo under its default adaptive controller (`citybrain`) logs complete ATSPM
//! events through the one ingestion path: phase events per NEMA phase (1, 7, 8, 9, 10,
//! 11 and a termination 4/5/6) and stop-bar and advance detector events (81/82) whose
//! channels the detector configuration endpoint describes; `/api/v1/signals` shows the
//! green NEMA phases. Real process, real HTTP on loopback.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_adaptive_demo_logs_complete_atspm_events() {
    let dir = std::env::temp_dir().join(format!("citybrain-atspm-{}", std::process::id()));
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
    let mut token = None;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        // The controllers' owner reads their raw logs.
        if line.contains("tp.cameras") {
            token = line.split("token ").nth(1).map(|t| t.trim().to_string());
        }
        if line.contains("is live at") {
            break;
        }
    }
    let token = token.expect("the demo printed the traffic police's service token");
    std::thread::spawn(move || for _ in lines {});
    // Let the twin run a few cycles of city time (60x: 10 s are 10 city minutes).
    std::thread::sleep(std::time::Duration::from_secs(10));
    let mut c = server::client::Client::connect(addr).unwrap().with_token(Some(token));
    let signals: Value = serde_json::from_str(&c.get("/api/v1/signals").unwrap().body).unwrap();
    let list = signals["signals"].as_array().unwrap();
    assert!(!list.is_empty(), "{signals}");
    // Under the adaptive controller every signal shows its green NEMA phases.
    let showing = list.iter().filter(|s| !s["green_phases"].as_array().unwrap().is_empty()).count();
    assert!(showing * 2 >= list.len(), "{showing} of {} signals show a green phase: {signals}", list.len());
    let id = list[0]["id"].as_str().unwrap().to_string();
    let nema: BTreeSet<u64> = list[0]["nema"].as_array().unwrap().iter().map(|p| p["phase"].as_u64().unwrap()).collect();
    assert_eq!(nema, (1..=8).collect(), "a four-arm junction has the standard NEMA phases");
    let dets = c.get(&format!("/api/v1/signals/detectors?intersection={id}")).unwrap().body;
    let channels: BTreeMap<u64, String> = dets
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].parse().unwrap(), f[3].to_string())
        })
        .collect();
    assert!(channels.values().any(|f| f == "Presence") && channels.values().any(|f| f == "Advance"), "{dets}");
    let now = c.get("/api/v1/state").map(|r| serde_json::from_str::<Value>(&r.body).unwrap()).unwrap()["city"]["time_s"]
        .as_f64()
        .unwrap();
    let csv = c.get(&format!("/api/v1/signals/events?intersection={id}&from={}&to={now}", now - 900.0)).unwrap().body;
    let rows: Vec<(u64, u64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect();
    let codes: BTreeSet<u64> = rows.iter().map(|r| r.0).collect();
    for code in [1, 7, 8, 9, 10, 11, 43, 44, 81, 82] {
        assert!(codes.contains(&code), "code {code} missing under the adaptive controller: {codes:?}");
    }
    assert!(codes.iter().any(|c| (4..=6).contains(c)), "no termination: {codes:?}");
    for &(code, param) in &rows {
        match code {
            0..=80 => assert!(nema.contains(&param), "phase {param} is not one of the NEMA phases {nema:?}"),
            81 | 82 => assert!(channels.contains_key(&param), "detector channel {param} is not configured"),
            // The adaptive controller runs free: pattern 254, no cycle.
            131 => assert_eq!(param, 254),
            132 => assert_eq!(param, 0),
            _ => panic!("unexpected code {code}"),
        }
    }
    // Every green that ends is followed by its clearance.
    assert_eq!(rows.iter().filter(|r| r.0 == 7).count(), rows.iter().filter(|r| r.0 == 8).count());
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
}
