//! `citybrain bench --api URL`: a loopback load generator against a running brain
//! (`citybrain demo` or `serve`). It measures
//! - sustained ingest: loop-detector records in HTTP batches, several keep-alive clients;
//! - observation-to-WebSocket latency: from posting a record stamped with the brain's
//!   current time to the first stream message whose state covers that time;
//! - API latency for live state and a one-hour city history at a fixed request rate,
//!   while two more clients keep asking for the heaviest reads there are: a 24-hour
//!   controller event log (`/signals/events`) and full pages of rejected records (the
//!   generator first posts 2,000 records of unknown sensors, about 2 KiB each, to fill them).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use server::client::Client;

pub struct LoadArgs {
    pub url: String,
    pub seconds: f64,
    pub batch: usize,
    pub clients: usize,
    pub rate: f64,
    /// Service token to post and read with (a brain with governance refuses the public).
    pub token: Option<String>,
    /// Token for the API phase's readers; `token` when absent.
    pub read_token: Option<String>,
}

fn addr_of(url: &str) -> Result<SocketAddr> {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    hostport.to_socket_addrs().with_context(|| format!("--api {url}"))?.next().ok_or_else(|| anyhow!("--api {url}: no address"))
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn brain_time(c: &mut Client) -> Result<f64> {
    let s: serde_json::Value = serde_json::from_str(&c.get("/api/v1/state")?.body)?;
    s["city"]["time_s"].as_f64().ok_or_else(|| anyhow!("state without city.time_s"))
}

pub fn run(a: &LoadArgs) -> Result<()> {
    let addr = addr_of(&a.url)?;
    let mut c = Client::connect(addr).with_context(|| format!("cannot connect to {addr}"))?.with_token(a.token.clone());
    let sensors: serde_json::Value = serde_json::from_str(&c.get("/api/v1/sensors")?.body)?;
    let loops: Vec<String> = sensors["sensors"]
        .as_array()
        .ok_or_else(|| anyhow!("/api/v1/sensors: no sensor list"))?
        .iter()
        .filter(|s| s["kind"] == "loop")
        .filter_map(|s| s["id"].as_str().map(String::from))
        .collect();
    if loops.len() < 2 {
        bail!("the brain at {addr} has fewer than 2 loop detectors to send as");
    }
    // The load goes to the first half of the detectors; latency probes use the second
    // half, whose order marks the load has not moved.
    let (load_loops, probe_loops) = loops.split_at(loops.len() / 2);
    // Ahead of the brain's clock, inside its skew bound (300 s): the order mark of a loop
    // the twin also reports never passes the clock, so the load stays acceptable until the
    // clock passes t0 + 30 (230 s of city time, 23 s of a demo at 10x). A load stamped
    // behind the clock is out of order at once for loops the twin reports every 30 s.
    // 16 bodies one second apart are cycled (stepping back at most 15 s, within the
    // per-sensor order tolerance).
    let t0 = brain_time(&mut c)? + 200.0;
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..16)
            .map(|k| {
                let t = t0 + k as f64;
                let recs: Vec<String> = (0..a.batch)
                    .map(|i| {
                        format!(
                            r#"{{"sensor":"{}","kind":"loop","time":{t},"start":{},"end":{t},"count":{},"occupancy":0.{:02},"speed":{}.5}}"#,
                            load_loops[i % load_loops.len()],
                            t - 30.0,
                            i % 9,
                            i % 60,
                            5 + i % 10
                        )
                    })
                    .collect();
                format!(r#"{{"observations":[{}]}}"#, recs.join(","))
            })
            .collect(),
    );
    println!("## Ingest: {} clients, batches of {}, {:.0} s, to {addr}", a.clients, a.batch, a.seconds);
    let accepted = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    let mut handles = Vec::new();
    for k in 0..a.clients {
        let (bodies, acc, rej) = (bodies.clone(), accepted.clone(), rejected.clone());
        let token = a.token.clone();
        handles.push(std::thread::spawn(move || -> Result<Vec<f64>> {
            let mut c = Client::connect(addr)?.with_token(token);
            let mut lat = Vec::new();
            let mut i = k;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = c.post_json("/api/v1/observations", bodies[i % bodies.len()].as_bytes())?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                if r.status != 200 {
                    bail!("ingest answered {}: {}", r.status, r.body.chars().take(200).collect::<String>());
                }
                let v: serde_json::Value = serde_json::from_str(&r.body)?;
                acc.fetch_add(v["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                rej.fetch_add(v["rejected"].as_u64().unwrap_or(0), Ordering::Relaxed);
                i += 1;
            }
            Ok(lat)
        }));
    }
    let mut batch_lat = Vec::new();
    for h in handles {
        batch_lat.extend(h.join().map_err(|_| anyhow!("client thread panicked"))??);
    }
    let secs = start.elapsed().as_secs_f64();
    let (acc, rej) = (accepted.load(Ordering::Relaxed), rejected.load(Ordering::Relaxed));
    println!("accepted {acc}, rejected {rej} in {secs:.2} s: **{:.0} observations/s**", acc as f64 / secs);
    println!("batch round trip: median {:.1} ms, p99 {:.1} ms", pct(batch_lat.clone(), 0.5), pct(batch_lat, 0.99));

    println!("\n## Observation-to-WebSocket latency");
    let (mut ws, _) = tungstenite::connect(format!("ws://{addr}/api/v1/stream")).context("websocket connect")?;
    let mut lat = Vec::new();
    for n in 0..30 {
        let t = brain_time(&mut c)?;
        let body = format!(
            r#"{{"observations":[{{"sensor":"{}","kind":"loop","time":{t},"start":{},"end":{t},"count":3,"occupancy":0.05,"speed":7.5}}]}}"#,
            probe_loops[n % probe_loops.len()],
            t - 30.0
        );
        let sent = Instant::now();
        let r = c.post_json("/api/v1/observations", body.as_bytes())?;
        if !r.body.contains("\"accepted\":1") {
            bail!("latency probe not accepted: {}", r.body);
        }
        loop {
            let msg = ws.read().context("websocket read")?;
            if let tungstenite::Message::Text(text) = msg {
                let v: serde_json::Value = serde_json::from_str(text.as_str())?;
                if v["city"]["time_s"].as_f64().is_some_and(|ts| ts >= t) {
                    lat.push(sent.elapsed().as_secs_f64() * 1e3);
                    break;
                }
            }
            if sent.elapsed() > Duration::from_secs(30) {
                bail!("no stream message covered time {t} within 30 s");
            }
        }
    }
    println!("{} probes: median **{:.0} ms**, p99 **{:.0} ms**", lat.len(), pct(lat.clone(), 0.5), pct(lat, 0.99));

    println!("\n## API latency at {:.0} requests/s (live state and a one-hour city history, alternating)", a.rate);
    let now = brain_time(&mut c)?;
    let paths = ["/api/v1/state".to_string(), format!("/api/v1/history?scope=city&from={}&to={now}&resolution=60", now - 3600.0)];
    let per_client = a.rate / a.clients as f64;
    // Full `/rejected` pages: 2,000 rejected records of about 2 KiB each (unknown sensors),
    // so every page the heavy reader asks for holds 1,000 stored rejections.
    let junk = "x".repeat(2000);
    for round in 0..2 {
        let recs: Vec<String> = (0..1000)
            .map(|i| format!(r#"{{"sensor":"bench-unknown-{round}-{i}","kind":"loop","time":{now},"note":"{junk}"}}"#))
            .collect();
        let r = c.post_json("/api/v1/observations", format!(r#"{{"observations":[{}]}}"#, recs.join(",")).as_bytes())?;
        if r.status >= 500 {
            bail!("filling /rejected answered {}", r.status);
        }
    }
    let reader_token = a.read_token.clone().or_else(|| a.token.clone());
    // The heavy readers run for the whole phase, back to back.
    let signals: serde_json::Value = serde_json::from_str(&c.get("/api/v1/signals")?.body)?;
    let heavy_paths = vec![
        signals["signals"][0]["id"]
            .as_str()
            .map(|id| format!("/api/v1/signals/events?intersection={id}&from={}&to={now}", now - 86_400.0))
            .unwrap_or_else(|| "/api/v1/signals".into()),
        "/api/v1/rejected?limit=1000".to_string(),
    ];
    let heavy: Vec<_> = heavy_paths
        .into_iter()
        .map(|path| {
            let seconds = a.seconds;
            let token = reader_token.clone();
            std::thread::spawn(move || -> Result<(String, Vec<f64>, u64)> {
                let mut c = Client::connect(addr)?.with_token(token);
                let start = Instant::now();
                let (mut lat, mut bytes) = (Vec::new(), 0u64);
                while start.elapsed().as_secs_f64() < seconds {
                    let t = Instant::now();
                    let r = c.get(&path)?;
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                    if r.status != 200 {
                        bail!("{path} answered {}: {}", r.status, r.body.chars().take(200).collect::<String>());
                    }
                    bytes += r.body.len() as u64;
                }
                Ok((path, lat, bytes))
            })
        })
        .collect();
    let mut handles = Vec::new();
    for k in 0..a.clients {
        let paths = paths.clone();
        let seconds = a.seconds;
        let token = reader_token.clone();
        handles.push(std::thread::spawn(move || -> Result<(Vec<f64>, Vec<f64>)> {
            let mut c = Client::connect(addr)?.with_token(token);
            let (mut st, mut hi) = (Vec::new(), Vec::new());
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed().as_secs_f64() < seconds {
                let due = start + Duration::from_secs_f64(n as f64 / per_client);
                if let Some(w) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(w);
                }
                let which = (n as usize + k) % 2;
                let t = Instant::now();
                let r = c.get(&paths[which])?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if r.status != 200 {
                    bail!("{} answered {}", paths[which], r.status);
                }
                if which == 0 {
                    st.push(ms)
                } else {
                    hi.push(ms)
                }
                n += 1;
            }
            Ok((st, hi))
        }));
    }
    let (mut st, mut hi) = (Vec::new(), Vec::new());
    for h in handles {
        let (a, b) = h.join().map_err(|_| anyhow!("client thread panicked"))??;
        st.extend(a);
        hi.extend(b);
    }
    for h in heavy {
        let (path, lat, bytes) = h.join().map_err(|_| anyhow!("heavy reader panicked"))??;
        println!(
            "in parallel, {path}: {} requests, {:.1} MB, median {:.1} ms, max {:.1} ms",
            lat.len(),
            bytes as f64 / 1e6,
            pct(lat.clone(), 0.5),
            pct(lat, 1.0)
        );
    }
    let total = (st.len() + hi.len()) as f64 / a.seconds;
    println!("achieved {total:.0} requests/s");
    println!("live state: {} requests, median {:.2} ms, p99 **{:.2} ms**", st.len(), pct(st.clone(), 0.5), pct(st, 0.99));
    println!("1-hour history: {} requests, median {:.2} ms, p99 **{:.2} ms**", hi.len(), pct(hi.clone(), 0.5), pct(hi, 0.99));
    Ok(())
}
