//! `citybrain bench --ngsi N`: the NGSI-LD load on loopback against an in-process brain
//! (governance on, a service token of the city data office, `ngsi.sqlite` in a temporary
//! directory): N entities upserted in batches of `--batch` over HTTP
//! (`/entityOperations/upsert`, each batch one durable commit) → entities/s; then 1,000
//! subscriptions (one per entity), the entities updated in rounds, and the latency from
//! the update request to the notification's arrival at a loopback receiver → p50/p99.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use brain::{Brain, BrainConfig, Caller, Role, Scopes};
use serde_json::{json, Value};

struct Conn {
    r: BufReader<TcpStream>,
    addr: SocketAddr,
    auth: String,
}

impl Conn {
    fn new(addr: SocketAddr, token: &str) -> Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Conn { r: BufReader::new(s), addr, auth: format!("Bearer {token}") })
    }
    fn call(&mut self, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            self.auth,
            body.len()
        );
        let s = self.r.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body.as_bytes())?;
        let mut line = String::new();
        self.r.read_line(&mut line)?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|x| x.parse().ok()).context("bad status line")?;
        let mut len = 0;
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse()?;
            }
        }
        let mut b = vec![0; len];
        self.r.read_exact(&mut b)?;
        Ok((status, String::from_utf8_lossy(&b).into_owned()))
    }
}

fn entity(i: usize, v: f64) -> Value {
    json!({"id": format!("urn:ngsi-ld:TrafficCounter:{i}"), "type": "TrafficCounter",
           "count": {"type": "Property", "value": v, "observedAt": "2026-12-06T08:00:00Z"},
           "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [120.1 + (i % 100) as f64 * 1e-3, 30.2 + (i / 100) as f64 * 1e-4]}}})
}

/// A loopback receiver: each notification's `data[*].count.value` holds the send time
/// (µs since `t0`); the arrival latency goes to the channel. It keeps a connection open
/// across requests (HTTP/1.1 keep-alive) unless the request says `Connection: close`.
fn receiver(t0: Instant) -> Result<(SocketAddr, mpsc::Receiver<f64>)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let Ok(mut w) = s.try_clone() else { return };
                let mut r = BufReader::new(s);
                let mut line = String::new();
                loop {
                    let (mut len, mut close, mut any) = (0, false, false);
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.trim().is_empty() {
                            if any {
                                break;
                            }
                            continue;
                        }
                        any = true;
                        let l = line.to_ascii_lowercase();
                        if let Some(v) = l.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        } else if l.starts_with("connection:") && l.contains("close") {
                            close = true;
                        }
                    }
                    let mut b = vec![0; len];
                    if r.read_exact(&mut b).is_err() {
                        return;
                    }
                    let now = t0.elapsed().as_secs_f64() * 1e6;
                    if let Ok(v) = serde_json::from_slice::<Value>(&b) {
                        for d in v["data"].as_array().into_iter().flatten() {
                            if let Some(sent) = d["count"]["value"].as_f64() {
                                let _ = tx.send((now - sent) / 1e6);
                            }
                        }
                    }
                    let answer: &[u8] = match close {
                        true => b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
                        false => b"HTTP/1.1 204 No Content\r\n\r\n",
                    };
                    if w.write_all(answer).is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    Ok((addr, rx))
}

fn pct(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        return f64::NAN;
    }
    xs[((xs.len() - 1) as f64 * p).round() as usize]
}

/// The bound the store sets: the rows the two upsert passes left in `ngsi.sqlite` (each
/// entity's stored body and its attribute history) written again, batch by batch, into a
/// new file through the capability's own statements and transactions (`ngsi::db::Db`),
/// with no HTTP, parsing or JSON-LD: seconds for the new pass and for the replacing one.
fn sqlite_floor(dir: &std::path::Path, n: usize, batch: usize) -> Result<(f64, f64)> {
    use ngsi::db::{Db, Write};
    let src = rusqlite::Connection::open(dir.join("ngsi.sqlite"))?;
    let mut st = src.prepare("SELECT tenant, id, body FROM entities")?;
    let ents: std::collections::HashMap<String, (String, String)> =
        st.query_map([], |r| Ok((r.get::<_, String>(1)?, (r.get(0)?, r.get(2)?))))?.collect::<Result<_, _>>()?;
    let mut st = src.prepare("SELECT tenant, entity, attr, time, body FROM history ORDER BY rowid")?;
    let hist: Vec<Write> = st
        .query_map([], |r| {
            Ok(Write::History { tenant: r.get(0)?, entity: r.get(1)?, attr: r.get(2)?, time: r.get(3)?, body: r.get(4)? })
        })?
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(ents.len() == n, "the floor: {} entities stored, {n} expected", ents.len());
    // Each pass wrote its history rows in its batches' order; group them by entity.
    let per_pass = hist.len() / 2;
    let mut batches: [Vec<Vec<Write>>; 2] = [Vec::new(), Vec::new()];
    for (pass, rows) in hist.chunks(per_pass.max(1)).take(2).enumerate() {
        let mut by: std::collections::HashMap<&str, Vec<&Write>> = std::collections::HashMap::new();
        for w in rows {
            if let Write::History { entity, .. } = w {
                by.entry(entity).or_default().push(w);
            }
        }
        for b in 0..n.div_ceil(batch) {
            let mut ws = Vec::new();
            for i in b * batch..((b + 1) * batch).min(n) {
                let id = format!("urn:ngsi-ld:TrafficCounter:{i}");
                let (tenant, body) = ents.get(&id).context("the floor: an entity is missing")?;
                ws.push(Write::PutEntity { tenant: tenant.clone(), id: id.clone(), body: body.clone() });
                ws.extend(by.get(id.as_str()).into_iter().flatten().map(|w| (*w).clone()));
            }
            batches[pass].push(ws);
        }
    }
    let (db, _) = Db::open(Some(&dir.join("floor.sqlite"))).map_err(|e| anyhow::anyhow!("the floor: {e}"))?;
    let mut secs = [0.0; 2];
    for (pass, bs) in batches.iter().enumerate() {
        let t = Instant::now();
        for ws in bs {
            db.apply(ws).map_err(|e| anyhow::anyhow!("the floor: {e}"))?;
        }
        secs[pass] = t.elapsed().as_secs_f64();
    }
    Ok((secs[0], secs[1]))
}

pub fn run(n: usize, batch: usize, subs: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("citybrain-bench-ngsi-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let gov = Arc::new(governance::Governance::open(governance::GovConfig::new(&dir))?);
    let sys = Caller::system();
    gov.put_principal(&sys, "cdo.bench", "city-data-office", Role::Service, None)?;
    let token = gov.issue_token(&sys, "cdo.bench", Scopes::READ.union(Scopes::WRITE), 3600.0, "bench")?;
    let net = twin::gen::generate(&twin::gen::GenConfig { rows: 3, cols: 3, ..twin::gen::GenConfig::demo() })?.network;
    let brain = Brain::open_with(net, &BrainConfig::new(dir.join("brain.sqlite")), Box::new(governance::Access(gov.clone())))?;
    crate::plugins::register_ngsi(&brain, &dir, &gov, &Default::default())?;
    let hub = server::Hub::new(&brain.net);
    let http = server::HttpConfig { max_body_bytes: 64 << 20, ..Default::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let app = server::router_with(hub, brain.clone(), &http, Some(gov.clone()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let h2 = http.clone();
    rt.spawn(async move {
        let _ = server::serve(listener, app, &h2, std::future::pending()).await;
    });

    // Upserts (the bodies made before connecting: the server closes an idle connection).
    let bodies: Vec<String> = (0..n.div_ceil(batch))
        .map(|b| Value::Array((b * batch..((b + 1) * batch).min(n)).map(|i| entity(i, i as f64)).collect()).to_string())
        .collect();
    let mut c = Conn::new(addr, &token)?;
    let t = Instant::now();
    for body in &bodies {
        let (s, b) = c.call("POST", "/ngsi-ld/v1/entityOperations/upsert", body)?;
        anyhow::ensure!(s == 201 || s == 204, "upsert answered {s}: {b}");
    }
    let secs = t.elapsed().as_secs_f64();
    // Again, now replacing existing entities.
    let t = Instant::now();
    for body in &bodies {
        let (s, b) = c.call("POST", "/ngsi-ld/v1/entityOperations/upsert", body)?;
        anyhow::ensure!(s == 201 || s == 204, "upsert answered {s}: {b}");
    }
    let secs2 = t.elapsed().as_secs_f64();
    println!(
        "| NGSI-LD batch upsert (new entities), {n} entities in batches of {batch}, durable | {:.0} entities/s |",
        n as f64 / secs
    );
    println!(
        "| NGSI-LD batch upsert (replacing), {n} entities in batches of {batch}, durable | {:.0} entities/s |",
        n as f64 / secs2
    );
    let (f1, f2) = sqlite_floor(&dir, n, batch)?;
    println!(
        "| the same rows into a new SQLite file alone (the floor), new / replacing | {:.0} / {:.0} entities/s |",
        n as f64 / f1,
        n as f64 / f2
    );

    // Notifications (on a new connection: the floor took long enough for the server to
    // close an idle one).
    let mut c = Conn::new(addr, &token)?;
    let t0 = Instant::now();
    let (raddr, rx) = receiver(t0)?;
    let subs = subs.min(n);
    for i in 0..subs {
        let s = json!({"type": "Subscription", "entities": [{"type": "TrafficCounter", "id": format!("urn:ngsi-ld:TrafficCounter:{i}")}],
                       "watchedAttributes": ["count"], "notification": {"endpoint": {"uri": format!("http://{raddr}/notify")}, "attributes": ["count"]}});
        let (st, b) = c.call("POST", "/ngsi-ld/v1/subscriptions", &s.to_string())?;
        anyhow::ensure!(st == 201, "subscription answered {st}: {b}");
    }
    let rounds = 10;
    let per = 100.min(subs.max(1));
    let mut expected = 0;
    for _ in 0..rounds {
        for chunk in (0..subs).collect::<Vec<_>>().chunks(per) {
            let sent = t0.elapsed().as_secs_f64() * 1e6;
            let body = Value::Array(chunk.iter().map(|&i| entity(i, sent)).collect()).to_string();
            let (s, b) = c.call("POST", "/ngsi-ld/v1/entityOperations/upsert?options=update", &body)?;
            anyhow::ensure!(s == 204 || s == 201, "update answered {s}: {b}");
            expected += chunk.len();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut lat = Vec::with_capacity(expected);
    let deadline = Instant::now() + Duration::from_secs(60);
    while lat.len() < expected && Instant::now() < deadline {
        if let Ok(x) = rx.recv_timeout(Duration::from_millis(500)) {
            lat.push(x);
        }
    }
    let got = lat.len();
    let (p50, p99, max) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut lat, 1.0));
    println!(
        "| NGSI-LD notification latency, {subs} subscriptions, {expected} updates in batches of {per} | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({got} of {expected} received) |",
        p50 * 1e3,
        p99 * 1e3,
        max * 1e3
    );
    drop(rt);
    // The audit log's syncing thread outlives every handle the bench holds (the brain's
    // plug-ins keep the governance): stop it before its directory goes, or its next sync
    // fails on the missing files.
    gov.audit.close()?;
    drop((brain, gov));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
