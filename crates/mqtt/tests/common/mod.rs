//! A brain with governance over the test corridor, the real Mosquitto on
//! 127.0.0.1:1883 (`scripts/test.sh` starts it) and a device client; every test uses
//! topics under a prefix of its own.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brain::{Brain, BrainConfig, Caller, ClockSource, Role, Scopes};
use governance::{GovConfig, Governance};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// 2026-12-06T00:00:00Z: the brain's (driven) clock.
pub const NOW: f64 = 1_796_515_200.0;
pub const BROKER: &str = "127.0.0.1:1883";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name no other test (or run) uses.
pub fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{what}-{}-{nanos}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

pub struct Fixture {
    pub dir: PathBuf,
    pub gov: Arc<Governance>,
    pub brain: Arc<Brain>,
    /// Service tokens of the transport bureau (loops) and the traffic police (cameras).
    pub transport: String,
    pub police: String,
    pub prefix: String,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stop a bridge and end its persistent session, so the shared broker keeps nothing of
/// the test.
pub fn finish(bridge: mqtt::Bridge, cfg: &mqtt::MqttConfig) {
    bridge.stop();
    mqtt::forget_session(cfg).unwrap();
}

pub fn gov_and_tokens(dir: &std::path::Path) -> (Arc<Governance>, String, String) {
    let mut gcfg = GovConfig::new(dir);
    gcfg.pbkdf2_iterations = 1000;
    let gov = Arc::new(Governance::open(gcfg).unwrap());
    let sys = Caller::system();
    let rw = Scopes::READ.union(Scopes::WRITE);
    gov.put_principal(&sys, "tb.gateway", "transport-bureau", Role::Service, None).unwrap();
    gov.put_principal(&sys, "tp.gateway", "traffic-police", Role::Service, None).unwrap();
    let transport = gov.issue_token(&sys, "tb.gateway", rw, 3600.0, "mqtt test").unwrap();
    let police = gov.issue_token(&sys, "tp.gateway", rw, 3600.0, "mqtt test").unwrap();
    (gov, transport, police)
}

pub fn brain_config(dir: &std::path::Path) -> BrainConfig {
    BrainConfig { day_start_s: NOW, clock: ClockSource::Driven, ..BrainConfig::new(dir.join("citybrain.sqlite")) }
}

pub fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(unique("citybrain-mqtt-test"));
    std::fs::create_dir_all(&dir).unwrap();
    let (gov, transport, police) = gov_and_tokens(&dir);
    let brain =
        Brain::open_with(sense::testnet::corridor(), &brain_config(&dir), Box::new(governance::Access(gov.clone()))).unwrap();
    Fixture { dir, gov, brain, transport, police, prefix: unique("cbtest") }
}

pub fn config(prefix: &str) -> mqtt::MqttConfig {
    let mut c = mqtt::MqttConfig::new(BROKER).unwrap();
    c.prefix = prefix.to_string();
    c.client_id = unique("brain");
    c
}

/// A loop record of the corridor's lane `lane` (`loop:AB:0`, ...) at `t`.
pub fn loop_record(sensor: &str, id: Option<&str>, t: f64, speed: f64) -> serde_json::Value {
    let mut v = serde_json::json!({"sensor": sensor, "kind": "loop", "time": t, "start": t - 30.0, "end": t,
        "count": 3, "occupancy": 0.1, "speed": speed});
    if let Some(id) = id {
        v["id"] = id.into();
    }
    v
}

/// A device: publishes QoS 1 and sees what arrives on its subscriptions.
pub struct Device {
    pub client: Client,
    events: Receiver<Event>,
    /// Messages received on subscriptions (topic, body), kept across waits.
    pub inbox: Vec<(String, String)>,
}

impl Device {
    pub fn connect(subscriptions: &[String]) -> Device {
        Device::connect_to(1883, None, subscriptions)
    }

    /// A device of the broker on `127.0.0.1:port`, logged in as `login` (user, password).
    pub fn connect_to(port: u16, login: Option<(&str, &str)>, subscriptions: &[String]) -> Device {
        let mut o = MqttOptions::new(unique("device"), "127.0.0.1", port);
        if let Some((u, pw)) = login {
            o.set_credentials(u, pw);
        }
        o.set_keep_alive(Duration::from_secs(10));
        o.set_max_packet_size(64 << 20, 64 << 20);
        let (client, mut conn) = Client::new(o, 1000);
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for e in conn.iter() {
                match e {
                    Ok(e) => {
                        if tx.send(e).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        panic!("device: cannot reach Mosquitto on port {port} ({e}); scripts/test.sh installs and starts it")
                    }
                }
            }
        });
        let mut d = Device { client, events, inbox: Vec::new() };
        for s in subscriptions {
            d.client.subscribe(s.as_str(), QoS::AtLeastOnce).unwrap();
        }
        let mut subacks = 0;
        d.wait_for("the subscriptions", |e| {
            if matches!(e, Event::Incoming(Packet::SubAck(_))) {
                subacks += 1;
            }
            subacks == subscriptions.len()
        });
        d
    }

    /// Wait (at most 20 s) until `done` holds for an event; panics naming `what`.
    pub fn wait_for(&mut self, what: &str, mut done: impl FnMut(&Event) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = self.events.recv_timeout(left).unwrap_or_else(|_| panic!("timed out waiting for {what}"));
            if let Event::Incoming(Packet::Publish(p)) = &e {
                self.inbox.push((p.topic.clone(), String::from_utf8_lossy(&p.payload).into_owned()));
            }
            if done(&e) {
                return;
            }
        }
    }

    /// Whether an event satisfying `f` arrives within `d` (false: none did).
    pub fn arrives_within(&mut self, d: Duration, mut f: impl FnMut(&Event) -> bool) -> bool {
        let deadline = Instant::now() + d;
        while let Ok(e) = self.events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if let Event::Incoming(Packet::Publish(p)) = &e {
                self.inbox.push((p.topic.clone(), String::from_utf8_lossy(&p.payload).into_owned()));
            }
            if f(&e) {
                return true;
            }
        }
        false
    }

    /// Publish QoS 1 and wait for its PUBACK.
    pub fn publish_acked(&mut self, topic: &str, body: &[u8]) {
        self.client.publish(topic, QoS::AtLeastOnce, false, body.to_vec()).unwrap();
        self.wait_for(&format!("the PUBACK of a message to {topic}"), |e| matches!(e, Event::Incoming(Packet::PubAck(_))));
    }

    /// Wait for a message on `topic` (or one already received); returns its body as JSON.
    pub fn message_on(&mut self, topic: &str) -> serde_json::Value {
        if let Some(i) = self.inbox.iter().position(|(t, _)| t == topic) {
            let (_, body) = self.inbox.remove(i);
            return serde_json::from_str(&body).unwrap();
        }
        let t = topic.to_string();
        self.wait_for(&format!("a message on {topic}"), |e| matches!(e, Event::Incoming(Packet::Publish(p)) if p.topic == t));
        let i = self.inbox.iter().position(|(t, _)| t == topic).unwrap();
        serde_json::from_str(&self.inbox.remove(i).1).unwrap()
    }
}

/// Wait until `f` holds (at most 20 s).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
