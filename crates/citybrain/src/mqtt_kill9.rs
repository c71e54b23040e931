//! `citybrain bench --mqtt-kill9 N` (`scripts/mqtt-kill9.sh`): nothing a gateway had
//! acknowledged is lost across a Mosquitto restart and a `kill -9` of the brain.
//!
//! This command starts its own Mosquitto on 127.0.0.1:18283 (persistence in a temporary
//! directory, so the shared broker is untouched) and `citybrain serve` with its MQTT
//! bridge on one data directory. Each run: two gateways publish QoS 1 messages of loop
//! records with record ids; Mosquitto is restarted (SIGTERM, which saves its
//! persistence, then started again) and the gateways reconnect; the brain is killed
//! with SIGKILL at a random moment while the gateways keep publishing (the broker queues
//! for the brain's persistent session); the brain is started again and drains the
//! queue. A record counts as acknowledged when the broker sent the gateway its PUBACK;
//! it is found when the SQLite file holds it. Records stored twice (a redelivery of a
//! batch that was committed but not yet acknowledged when the brain died) are counted
//! too: record ids make that 0.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};

/// The script's own broker port (the mqtt helper's range, away from the shared 1883).
pub const BROKER_PORT: u16 = 18283;
use crate::kill9::{free_port, rig, stored_keys, Key, Rig, STEP};

fn wait_port(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} is not listening on {addr} after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

struct Broker {
    conf: PathBuf,
    child: Child,
}

impl Broker {
    fn start(dir: &Path) -> Result<Broker> {
        let store = dir.join("mosquitto");
        std::fs::create_dir_all(&store)?;
        // Started as root, Mosquitto drops to its own user: the persistence directory
        // must be writable by it, or a restart silently forgets every queued message.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o777))?;
        }
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {BROKER_PORT} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
                 autosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 20\nmessage_size_limit 16777216\n",
                store.display()
            ),
        )?;
        let child = Self::spawn(&conf)?;
        Ok(Broker { conf, child })
    }
    fn spawn(conf: &Path) -> Result<Child> {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting mosquitto (scripts/test.sh installs it)")?;
        wait_port(BROKER_PORT, "mosquitto")?;
        Ok(child)
    }
    /// SIGTERM (Mosquitto saves its persistence on the way out), then start again.
    fn restart(&mut self) -> Result<()> {
        self.terminate();
        self.child = Self::spawn(&self.conf)?;
        Ok(())
    }
    fn terminate(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A gateway publishing until `stop` or a connection error; returns the acknowledged keys.
#[allow(clippy::too_many_arguments)]
fn gateway(
    name: String,
    topic: String,
    token: String,
    loops: Arc<Vec<String>>,
    t0: f64,
    counter: Arc<AtomicI64>,
    batch: usize,
    stop: Arc<AtomicBool>,
) -> Vec<Key> {
    let mut o = MqttOptions::new(name, "127.0.0.1", BROKER_PORT);
    o.set_keep_alive(Duration::from_secs(5));
    o.set_inflight(20);
    o.set_max_packet_size(16 << 20, 16 << 20);
    let (client, mut conn) = Client::new(o, 16);
    // Keys of each publish in request order; assigned a pkid when it goes out.
    let queued: Arc<Mutex<VecDeque<Vec<Key>>>> = Arc::default();
    let dead = Arc::new(AtomicBool::new(false));
    let events = {
        let (queued, dead) = (queued.clone(), dead.clone());
        std::thread::spawn(move || {
            let mut inflight: HashMap<u16, Vec<Key>> = HashMap::new();
            let mut acked = Vec::new();
            for e in conn.iter() {
                match e {
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        if let Some(keys) = queued.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
                            inflight.insert(pkid, keys);
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(a))) => acked.extend(inflight.remove(&a.pkid).unwrap_or_default()),
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    // The broker went away: what was not acknowledged does not count.
                    Err(e) => {
                        tracing::info!("gateway: {e}");
                        break;
                    }
                }
            }
            dead.store(true, Ordering::Relaxed);
            acked
        })
    };
    // A field gateway's pace, well within the brain's (bench --mqtt): 40 messages/s.
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) && !dead.load(Ordering::Relaxed) {
        next += Duration::from_millis(25);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let keys: Vec<Key> =
            (0..batch).map(|i| (loops[i % loops.len()].clone(), counter.fetch_add(1, Ordering::Relaxed))).collect();
        let recs: Vec<String> = keys
            .iter()
            .map(|(s, n)| {
                let t = t0 + *n as f64 * STEP;
                format!(
                    r#"{{"id":"k{n}","sensor":"{s}","kind":"loop","time":{t},"start":{},"end":{t},"count":3,"occupancy":0.1,"speed":8.5}}"#,
                    t - 30.0
                )
            })
            .collect();
        let body = format!(r#"{{"token":"{token}","observations":[{}]}}"#, recs.join(","));
        queued.lock().unwrap_or_else(|e| e.into_inner()).push_back(keys);
        if client.publish(topic.as_str(), QoS::AtLeastOnce, false, body.into_bytes()).is_err() {
            break;
        }
    }
    if !dead.load(Ordering::Relaxed) {
        // Let the acknowledgements of what is in flight arrive, then leave.
        std::thread::sleep(Duration::from_millis(500));
        let _ = client.disconnect();
    }
    events.join().unwrap_or_default()
}

fn wait_for_session(token: &str) -> Result<()> {
    let mut o = MqttOptions::new(format!("kill9-probe-{}", std::process::id()), "127.0.0.1", BROKER_PORT);
    o.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = Client::new(o, 16);
    client.subscribe("citybrain/transport-bureau/errors", QoS::AtLeastOnce).map_err(|e| anyhow!("{e}"))?;
    let probe = format!(r#"{{"token":"{token}","observations":[{{"sensor":"no-such-sensor"}}]}}"#);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut next = Instant::now();
    while Instant::now() < deadline {
        if Instant::now() >= next {
            let _ = client.try_publish("citybrain/transport-bureau/observations", QoS::AtLeastOnce, false, probe.clone());
            next = Instant::now() + Duration::from_millis(500);
        }
        if let Ok(Ok(Event::Incoming(Packet::Publish(_)))) = conn.recv_timeout(Duration::from_millis(100)) {
            let _ = client.disconnect();
            return Ok(());
        }
    }
    bail!("the brain's MQTT session did not answer within 30 s")
}

fn start_serve(exe: &Path, cfg_path: &Path, port: u16) -> Result<Child> {
    let child = Command::new(exe)
        .args(["serve", "--config"])
        .arg(cfg_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting citybrain serve")?;
    wait_port(port, "citybrain serve")?;
    Ok(child)
}

pub fn run(runs: usize, batch: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("citybrain-mqtt-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut broker = Broker::start(&dir)?;
    let r = run_with(&dir, &mut broker, runs, batch);
    broker.terminate();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn run_with(dir: &Path, broker: &mut Broker, runs: usize, batch: usize) -> Result<()> {
    let Rig { city_dir, net, loops, data, token } = rig(dir, "kill9.gateway")?;
    let exe = std::env::current_exe()?;
    let port = free_port()?;
    let cfg_path = dir.join("serve.json");
    let cfg = serde_json::json!({"roadnet": city_dir.join("roadnet.json"), "port": port, "data_dir": data, "web": dir.join("no-web"),
        "mqtt": {"broker": format!("127.0.0.1:{BROKER_PORT}"), "client_id": "citybrain-kill9", "prefix": "citybrain", "publish": false}});
    std::fs::write(&cfg_path, cfg.to_string())?;
    let topic = "citybrain/transport-bureau/observations".to_string();
    let t0 = brain::wall_clock() - 300.0;
    let counter = Arc::new(AtomicI64::new(0));
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (brain::wall_clock() as u64);
    let mut xorshift = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut brain = start_serve(&exe, &cfg_path, port)?;
    // Until the brain's session has subscribed, a message goes nowhere: wait for its
    // answer to a probe (a record it must reject, reported on the error topic).
    wait_for_session(&token)?;
    let mut all_acked: HashSet<Key> = HashSet::new();
    let mut lost_total = 0usize;
    let mut twice_last = 0usize;
    println!(
        "| run | killed after | acked this run | acked total | found | lost | stored twice |\n|---|---|---|---|---|---|---|"
    );
    let mut gen = 0usize;
    let mut gateways = |stop: &Arc<AtomicBool>| -> Vec<std::thread::JoinHandle<Vec<Key>>> {
        gen += 1;
        (0..2)
            .map(|g| {
                let (t, tok, l, c, s) = (topic.clone(), token.clone(), loops.clone(), counter.clone(), stop.clone());
                let name = format!("kill9-gw-{}-{gen}-{g}", std::process::id());
                std::thread::spawn(move || gateway(name, t, tok, l, t0, c, batch, s))
            })
            .collect()
    };
    let collect = |hs: Vec<std::thread::JoinHandle<Vec<Key>>>| -> Result<Vec<Key>> {
        let mut v = Vec::new();
        for h in hs {
            v.extend(h.join().map_err(|_| anyhow!("gateway panicked"))?);
        }
        Ok(v)
    };
    for run in 1..=runs {
        let mut acked = Vec::new();
        // Phase 1: publish, then restart the broker under load.
        let stop = Arc::new(AtomicBool::new(false));
        let hs = gateways(&stop);
        std::thread::sleep(Duration::from_millis(300 + xorshift() % 700));
        broker.restart()?;
        stop.store(true, Ordering::Relaxed);
        acked.extend(collect(hs)?);
        // Phase 2: publish again and kill the brain with SIGKILL at a random moment.
        let stop = Arc::new(AtomicBool::new(false));
        let hs = gateways(&stop);
        let after = 0.5 + (xorshift() % 2500) as f64 / 1000.0;
        std::thread::sleep(Duration::from_secs_f64(after));
        brain.kill().context("SIGKILL")?;
        brain.wait()?;
        // The gateways go on while the brain is down: the broker queues for its session.
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        acked.extend(collect(hs)?);
        let this_run = acked.len();
        all_acked.extend(acked);
        // Phase 3: the brain comes back and drains what the broker kept for it.
        brain = start_serve(&exe, &cfg_path, port)?;
        let db = data.join("citybrain.sqlite");
        let (mut found, mut twice) = stored_keys(&db, &net, t0, t0 - 1.0, t0 + 1e6)?;
        let mut last_progress = (found.len(), Instant::now());
        while all_acked.iter().any(|k| !found.contains(k)) && last_progress.1.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1000));
            (found, twice) = stored_keys(&db, &net, t0, t0 - 1.0, t0 + 1e6)?;
            if found.len() != last_progress.0 {
                last_progress = (found.len(), Instant::now());
            }
        }
        let present = all_acked.iter().filter(|k| found.contains(*k)).count();
        let lost = all_acked.len() - present;
        lost_total = lost;
        twice_last = twice;
        println!("| {run} | {after:.2} s | {this_run} | {} | {present} | {lost} | {twice} |", all_acked.len());
    }
    let _ = brain.kill();
    let _ = brain.wait();
    println!(
        "\n{runs} runs (Mosquitto restarted and the brain killed with SIGKILL in each): {} acknowledged observations, {lost_total} lost, {twice_last} stored twice",
        all_acked.len()
    );
    if all_acked.is_empty() {
        bail!("no observation was acknowledged: the gateways could not publish");
    }
    if lost_total > 0 || twice_last > 0 {
        bail!("{lost_total} acknowledged observations lost, {twice_last} stored twice");
    }
    Ok(())
}
