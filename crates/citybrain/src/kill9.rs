//! `citybrain bench --kill9 N`: durability under `kill -9`. Each run starts
//! `citybrain serve` (no twin) on a loopback port over one data directory, posts
//! loop-detector batches from two clients, records every observation the brain
//! acknowledged (status `accepted` in a 200 answer), kills the server with SIGKILL at a
//! random moment, and then counts how many acknowledged observations the SQLite file
//! really holds. Every run checks all observations acknowledged in every run so far.

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use server::client::Client;
use store::Store;

/// Key of one observation: sensor id and time in units of 10 µs.
pub(crate) type Key = (String, i64);

/// Record times are `T0 + n * STEP` for a counter `n` shared by every client and run,
/// so each acknowledged observation has its own key (with `T0` a few minutes before the
/// start, so every time stays inside the brain's accepted window).
pub(crate) const STEP: f64 = 1e-5;

pub(crate) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_healthy(addr: SocketAddr, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("serve exited early with {status}");
        }
        if let Ok(mut c) = Client::connect(addr) {
            if c.get("/healthz").map(|r| r.status == 200).unwrap_or(false) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("serve did not become healthy on {addr} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Post batches until the connection dies; return the acknowledged keys.
fn client(addr: SocketAddr, loops: Arc<Vec<String>>, t0: f64, counter: Arc<AtomicI64>, batch: usize, token: String) -> Vec<Key> {
    let mut acked = Vec::new();
    let Ok(c) = Client::connect(addr) else { return acked };
    let mut c = c.with_token(Some(token));
    loop {
        let keys: Vec<Key> =
            (0..batch).map(|i| (loops[i % loops.len()].clone(), counter.fetch_add(1, Ordering::Relaxed))).collect();
        let recs: Vec<String> = keys
            .iter()
            .map(|(s, n)| {
                let t = t0 + *n as f64 * STEP;
                format!(
                    r#"{{"sensor":"{s}","kind":"loop","time":{t},"start":{},"end":{t},"count":3,"occupancy":0.1,"speed":8.5}}"#,
                    t - 30.0
                )
            })
            .collect();
        let body = format!(r#"{{"observations":[{}]}}"#, recs.join(","));
        let Ok(r) = c.post_json("/api/v1/observations", body.as_bytes()) else { return acked };
        if r.status != 200 {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&r.body) else { return acked };
        if let Some(results) = v["results"].as_array() {
            for res in results {
                if res["status"] == "accepted" {
                    if let Some(i) = res["index"].as_u64() {
                        acked.push(keys[i as usize].clone());
                    }
                }
            }
        }
    }
}

/// Every (sensor, time step) key of the loop observations stored in `db` between `from`
/// and `to`, and how many observations repeat a key already seen.
pub(crate) fn stored_keys(db: &Path, net: &twin::Network, t0: f64, from: f64, to: f64) -> Result<(HashSet<Key>, usize)> {
    let registry = sense::SensorRegistry::for_network(net);
    let store = store::SqliteStore::open(db, store::Retention::default(), net).context("opening the store")?;
    let obs = store.observations(&registry, from, to, usize::MAX)?;
    let mut keys = HashSet::with_capacity(obs.len());
    let mut twice = 0;
    for o in &obs {
        let k = (registry.get(o.sensor).map(|s| s.id.clone()).unwrap_or_default(), ((o.time - t0) / STEP).round() as i64);
        if !keys.insert(k) {
            twice += 1;
        }
    }
    Ok((keys, twice))
}

/// The generated 4x4 demo city both durability runs post to: its network, the loop
/// sensors' ids, the brain's data directory and a transport-bureau service token (the
/// loops' owner) named `account`.
pub(crate) struct Rig {
    pub city_dir: std::path::PathBuf,
    pub net: twin::Network,
    pub loops: Arc<Vec<String>>,
    pub data: std::path::PathBuf,
    pub token: String,
}

pub(crate) fn rig(dir: &Path, account: &str) -> Result<Rig> {
    let city_dir = dir.join("city");
    crate::gen::write_city(&crate::gen::GenArgs { demo: true, ..crate::gen::GenArgs::sized(4, &city_dir) })?;
    let net = crate::scenario::load_network(&city_dir.join("roadnet.json"))?;
    let registry = sense::SensorRegistry::for_network(&net);
    let loops: Arc<Vec<String>> =
        Arc::new(registry.sensors().filter(|(_, s)| s.kind == sense::SensorKind::Loop).map(|(_, s)| s.id.clone()).collect());
    let data = dir.join("data");
    let token = crate::trust::service_token(&data, account, "transport-bureau")?;
    Ok(Rig { city_dir, net, loops, data, token })
}

pub fn run(runs: usize, batch: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("citybrain-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let Rig { city_dir, net, loops, data, token } = rig(&dir, "bench.loops")?;
    let exe = std::env::current_exe()?;
    let mut all_acked: HashSet<Key> = HashSet::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ unix_now() as u64;
    let t0 = unix_now() - 300.0;
    let counter = Arc::new(AtomicI64::new(0));
    println!("| run | killed after | acked this run | acked total | found | lost |\n|---|---|---|---|---|---|");
    let mut lost_total = 0usize;
    for run in 1..=runs {
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let cfg_path = dir.join("serve.json");
        let cfg = serde_json::json!({"roadnet": city_dir.join("roadnet.json"), "port": port, "data_dir": data, "web": dir.join("no-web")});
        std::fs::write(&cfg_path, cfg.to_string())?;
        let mut child = Command::new(&exe)
            .args(["serve", "--config"])
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting citybrain serve")?;
        wait_healthy(addr, &mut child)?;
        let clients: Vec<_> = (0..2)
            .map(|_| {
                let (loops, counter, token) = (loops.clone(), counter.clone(), token.clone());
                std::thread::spawn(move || client(addr, loops, t0, counter, batch, token))
            })
            .collect();
        // xorshift: kill after 0.5 to 3 s of sustained ingest.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let after = 0.5 + (rng % 2500) as f64 / 1000.0;
        std::thread::sleep(Duration::from_secs_f64(after));
        child.kill().context("SIGKILL")?;
        child.wait()?;
        let acked: Arc<Mutex<Vec<Key>>> = Arc::new(Mutex::new(Vec::new()));
        for c in clients {
            let keys = c.join().map_err(|_| anyhow!("client panicked"))?;
            acked.lock().unwrap_or_else(|e| e.into_inner()).extend(keys);
        }
        let this_run = acked.lock().unwrap_or_else(|e| e.into_inner()).len();
        all_acked.extend(acked.lock().unwrap_or_else(|e| e.into_inner()).drain(..));
        let (found, _) = stored_keys(&data.join("citybrain.sqlite"), &net, t0, t0 - 1.0, unix_now() + 3600.0)?;
        let present = all_acked.iter().filter(|k| found.contains(*k)).count();
        let lost = all_acked.len() - present;
        lost_total += lost;
        println!("| {run} | {after:.2} s | {this_run} | {} | {present} | {lost} |", all_acked.len());
    }
    println!("\n{runs} kill -9 runs: {} acknowledged observations, {} lost", all_acked.len(), lost_total);
    let _ = std::fs::remove_dir_all(&dir);
    if lost_total > 0 {
        bail!("{lost_total} acknowledged observations were lost");
    }
    Ok(())
}
