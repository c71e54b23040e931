//! `citybrain bench --mqtt HOST:PORT`: QoS 1 publish → durable, on loopback. A brain
//! (governance, SQLite store, the live plug-ins) runs in this process with its MQTT
//! bridge; publisher threads act as field gateways: each message carries `--batch` loop
//! records (as real gateways batch many readings per message) with the transport
//! bureau's service token. Measured: observations per second from the first publish to
//! the moment every published record is committed to the store, and the PUBACK latency
//! the gateways see (publish → broker → brain commit → PUBACK → broker → gateway).
//! Two phases: records with a record id (duplicates recognised, the unique index
//! maintained) and without.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use brain::{Brain, BrainConfig, Caller, Role, Scopes};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};

pub struct MqttLoadArgs {
    pub broker: String,
    pub seconds: f64,
    /// Records per MQTT message.
    pub batch: usize,
    pub clients: usize,
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// One gateway: publish for `until`, then wait for the outstanding PUBACKs; returns
/// (messages acknowledged, PUBACK latencies in ms).
#[allow(clippy::too_many_arguments)]
fn gateway(
    broker: (String, u16),
    topic: String,
    token: String,
    loops: Arc<Vec<String>>,
    k: usize,
    batch: usize,
    ids: bool,
    until: Instant,
    published: Arc<AtomicU64>,
    stats: Arc<mqtt::Stats>,
    window: u64,
) -> Result<(u64, Vec<f64>)> {
    let mut o = MqttOptions::new(format!("bench-gw-{}-{k}-{ids}", std::process::id()), broker.0, broker.1);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(64 << 20, 64 << 20);
    o.set_inflight(32);
    let (client, mut conn) = Client::new(o, 64);
    // pkid → publish instant (the event thread sees each publish go out, then its ack).
    let sent: Arc<Mutex<HashMap<u16, Instant>>> = Arc::default();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(u64, Vec<f64>)>();
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(u64::MAX));
    {
        let (sent, stop, total) = (sent.clone(), stop.clone(), total.clone());
        std::thread::spawn(move || {
            let (mut acked, mut lat) = (0u64, Vec::new());
            for e in conn.iter() {
                match e {
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        sent.lock().unwrap_or_else(|e| e.into_inner()).insert(pkid, Instant::now());
                    }
                    Ok(Event::Incoming(Packet::PubAck(a))) => {
                        acked += 1;
                        if let Some(t) = sent.lock().unwrap_or_else(|e| e.into_inner()).remove(&a.pkid) {
                            lat.push(t.elapsed().as_secs_f64() * 1e3);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("bench gateway {k}: {e}");
                        break;
                    }
                }
                if stop.load(Ordering::Relaxed) && acked >= total.load(Ordering::Relaxed) {
                    break;
                }
            }
            let _ = done_tx.send((acked, lat));
        });
    }
    let mut m = 0u64;
    let mut body = String::with_capacity(batch * 200 + 200);
    // The broker acknowledges a gateway at once, whatever the brain's pace: the gateways
    // keep at most `window` records published but not yet committed, so the rate
    // measured is the brain's, and the broker's queue stays small.
    let base = stats.records_accepted.load(Ordering::Relaxed);
    while Instant::now() < until {
        if published.load(Ordering::Relaxed) > stats.records_accepted.load(Ordering::Relaxed) - base + window {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        let t = brain::wall_clock() - 1.0;
        body.clear();
        body.push_str(r#"{"token":""#);
        body.push_str(&token);
        body.push_str(r#"","observations":["#);
        for i in 0..batch {
            if i > 0 {
                body.push(',');
            }
            let sensor = &loops[(m as usize * batch + i) % loops.len()];
            let id = if ids { format!(r#""id":"{k}-{m}-{i}","#) } else { String::new() };
            body.push_str(&format!(
                r#"{{{id}"sensor":"{sensor}","kind":"loop","time":{t:.3},"start":{:.3},"end":{t:.3},"count":{},"occupancy":0.{:02},"speed":{}.5}}"#,
                t - 30.0,
                i % 9,
                i % 60,
                5 + i % 10
            ));
        }
        body.push_str("]}");
        client.publish(topic.as_str(), QoS::AtLeastOnce, false, body.as_bytes().to_vec()).map_err(|e| anyhow!("publish: {e}"))?;
        published.fetch_add(batch as u64, Ordering::Relaxed);
        m += 1;
    }
    total.store(m, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    // Nudge the event loop so it sees `stop` even when every ack is already in.
    let _ = client.try_publish(format!("{topic}/nudge"), QoS::AtMostOnce, false, Vec::new());
    let (acked, lat) = done_rx.recv_timeout(Duration::from_secs(120)).context("waiting for the PUBACKs")?;
    let _ = client.disconnect();
    if acked < m {
        bail!("gateway {k}: {acked} of {m} messages acknowledged");
    }
    Ok((acked, lat))
}

fn stats_line(s: &mqtt::Stats) -> String {
    format!(
        "bridge: {} messages, {} acknowledged, {} commits, {} records accepted, {} rejected, {} duplicates, {} store failures, {} reconnects",
        s.get(|s| &s.messages),
        s.get(|s| &s.acked),
        s.get(|s| &s.commits),
        s.get(|s| &s.records_accepted),
        s.get(|s| &s.records_rejected),
        s.get(|s| &s.duplicates),
        s.get(|s| &s.store_failures),
        s.get(|s| &s.reconnects)
    )
}

pub fn run(a: &MqttLoadArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("citybrain-bench-mqtt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let r = run_in(a, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn run_in(a: &MqttLoadArgs, dir: &std::path::Path) -> Result<()> {
    let city_dir = dir.join("city");
    crate::gen::write_city(&crate::gen::GenArgs { demo: true, ..crate::gen::GenArgs::sized(4, &city_dir) })?;
    let net = crate::scenario::load_network(&city_dir.join("roadnet.json"))?;
    let registry = sense::SensorRegistry::for_network(&net);
    let loops: Arc<Vec<String>> =
        Arc::new(registry.sensors().filter(|(_, s)| s.kind == sense::SensorKind::Loop).map(|(_, s)| s.id.clone()).collect());
    let gov = crate::trust::open(dir, None, None)?;
    let sys = Caller::system();
    gov.put_principal(&sys, "bench.gateway", "transport-bureau", Role::Service, None)?;
    let token = gov.issue_token(&sys, "bench.gateway", Scopes::READ.union(Scopes::WRITE), 86_400.0, "bench")?;
    let brain =
        Brain::open_with(net, &BrainConfig::new(dir.join("citybrain.sqlite")), Box::new(governance::Access(gov.clone())))?;
    crate::plugins::register(&brain, false);
    let mut cfg = mqtt::MqttConfig::new(&a.broker)?;
    cfg.prefix = format!("citybrain-bench-{}", std::process::id());
    cfg.client_id = format!("citybrain-bench-{}", std::process::id());
    cfg.publish = false;
    let broker = (cfg.host.clone(), cfg.port);
    let topic = format!("{}/transport-bureau/observations", cfg.prefix);
    let forget = cfg.clone();
    let bridge = crate::mqtt_cli::start(&brain, cfg, gov)?;
    // A message published before the session's subscription exists goes nowhere.
    anyhow::ensure!(bridge.wait_subscribed(Duration::from_secs(30)), "the bridge did not subscribe at {} within 30 s", a.broker);
    println!(
        "## MQTT QoS 1 ingest: {} gateways, {} records per message, {:.0} s per phase, broker {}",
        a.clients, a.batch, a.seconds, a.broker
    );
    println!("\n| record ids | messages | observations | s to durable | **observations/s durable** | PUBACK p50 ms | PUBACK p99 ms | commits |");
    println!("|---|---|---|---|---|---|---|---|");
    for ids in [true, false] {
        let before = brain.counters().accepted;
        let commits_before = bridge.stats.get(|s| &s.commits);
        let published = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let until = start + Duration::from_secs_f64(a.seconds);
        let handles: Vec<_> = (0..a.clients)
            .map(|k| {
                let (b, t, tok, l, p) = (broker.clone(), topic.clone(), token.clone(), loops.clone(), published.clone());
                let (batch, stats) = (a.batch, bridge.stats.clone());
                // Twice the broker's in-flight window to the brain (20 messages), in records.
                let window = 40 * batch as u64;
                std::thread::spawn(move || gateway(b, t, tok, l, k, batch, ids, until, p, stats, window))
            })
            .collect();
        let mut messages = 0;
        let mut lat = Vec::new();
        for h in handles {
            let (m, l) = h.join().map_err(|_| anyhow!("gateway thread panicked"))??;
            messages += m;
            lat.extend(l);
        }
        let sent = published.load(Ordering::Relaxed);
        // Every acknowledged record is durable already; wait for the count to show it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while brain.counters().accepted - before < sent {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {sent} published records stored ({})",
                    brain.counters().accepted - before,
                    stats_line(&bridge.stats)
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let secs = start.elapsed().as_secs_f64();
        let stored = brain.counters().accepted - before;
        println!(
            "| {} | {messages} | {stored} | {secs:.2} | **{:.0}** | {:.1} | {:.1} | {} |",
            if ids { "yes" } else { "no" },
            stored as f64 / secs,
            pct(lat.clone(), 0.5),
            pct(lat, 0.99),
            bridge.stats.get(|s| &s.commits) - commits_before
        );
    }
    println!("\n{}", stats_line(&bridge.stats));
    let rejected = bridge.stats.get(|s| &s.records_rejected);
    bridge.stop();
    mqtt::forget_session(&forget).map_err(|e| anyhow!("ending the bench's session: {e}"))?;
    if rejected > 0 {
        bail!("{rejected} records were rejected; the load is meant to be valid");
    }
    Ok(())
}
