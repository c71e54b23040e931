//! The brain's bus to open topics: live state and signal changes each tick, incidents
//! when they change, plug-in events, each only while the public may read its dataset.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use brain::{Action, Brain, BusMessage, Caller, Event, Subscriber, Tick};
use rumqttc::{Client, QoS, RecvTimeoutError};
use serde_json::json;

use crate::{ConfigError, MqttConfig, Stats};

/// Bus messages waiting for the publisher; beyond this they are dropped (counted).
const QUEUE: usize = 256;

struct Feed {
    tx: SyncSender<BusMessage>,
    stats: Arc<Stats>,
}

impl Subscriber for Feed {
    fn name(&self) -> &str {
        "mqtt-publisher"
    }
    fn deliver(&self, msg: &BusMessage) {
        if matches!(msg, BusMessage::Accepted(_) | BusMessage::Command(_)) {
            return;
        }
        if let Err(TrySendError::Full(_)) = self.tx.try_send(msg.clone()) {
            self.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A topic level from a name: MQTT's separators and wildcards replaced by `_`.
pub fn level(name: &str) -> String {
    name.chars().map(|c| if matches!(c, '/' | '+' | '#' | '\0') { '_' } else { c }).collect()
}

/// Subscribe to the bus and start the publisher (it connects as `{client_id}-pub`).
pub(crate) fn start(
    brain: &Arc<Brain>,
    cfg: MqttConfig,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> Result<JoinHandle<()>, ConfigError> {
    let (tx, rx) = sync_channel(QUEUE);
    brain.bus().subscribe(Arc::new(Feed { tx, stats: stats.clone() }));
    let b = brain.clone();
    std::thread::Builder::new()
        .name("mqtt-publish".into())
        .spawn(move || run(b, cfg, rx, stop, stats))
        .map_err(|e| ConfigError(format!("cannot start the publisher thread: {e}")))
}

fn run(brain: Arc<Brain>, cfg: MqttConfig, rx: Receiver<BusMessage>, stop: Arc<AtomicBool>, stats: Arc<Stats>) {
    let (client, mut conn) = Client::new(crate::options(&cfg, &format!("{}-pub", cfg.client_id), false), 4096);
    // The connection is driven on a thread of its own; this one turns bus messages into
    // publishes (queued in the client while the broker is away).
    let driver = {
        let (stop, stats, cfg) = (stop.clone(), stats.clone(), cfg.clone());
        std::thread::spawn(move || {
            let mut backoff = Duration::from_millis(100);
            while !stop.load(Ordering::Relaxed) {
                match conn.recv_timeout(Duration::from_millis(100)) {
                    Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))) => backoff = Duration::from_millis(100),
                    Ok(Ok(_)) | Err(RecvTimeoutError::Timeout) => {}
                    Ok(Err(e)) => {
                        stats.reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("mqtt publisher: {}:{}: {e}", cfg.host, cfg.port);
                        crate::sleep_unless(&stop, backoff);
                        backoff = crate::next_backoff(backoff);
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        })
    };
    let mut state = Published::default();
    while !stop.load(Ordering::Relaxed) {
        let msg = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => m,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        for (topic, qos, retain, body) in state.messages(&brain, &cfg.prefix, &msg) {
            if client.try_publish(topic, qos, retain, body).is_ok() {
                stats.published.fetch_add(1, Ordering::Relaxed);
            } else {
                stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let _ = client.disconnect();
    let _ = driver.join();
}

/// What was published last, to send signal and incident changes only.
#[derive(Default)]
pub struct Published {
    signals: HashMap<u32, (Option<usize>, bool)>,
    incidents: HashMap<u64, String>,
}

type Out = (String, QoS, bool, Vec<u8>);

fn public(brain: &Brain, action: Action<'_>) -> bool {
    brain.authorize(&Caller::anonymous(), action).is_ok()
}

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl Published {
    /// The publishes one bus message makes (empty for what the public may not read).
    pub fn messages(&mut self, brain: &Brain, prefix: &str, msg: &BusMessage) -> Vec<Out> {
        let mut out = Vec::new();
        match msg {
            BusMessage::Tick(t) => {
                if public(brain, Action::ReadLive) {
                    self.tick(brain, prefix, t, &mut out);
                }
                if public(brain, Action::Read { dataset: "incidents-public" }) {
                    self.incidents(brain, prefix, &mut out);
                }
            }
            BusMessage::Event(e) if public(brain, Action::ReadEvents) => out.push(event(brain, prefix, e)),
            _ => {}
        }
        out
    }

    fn tick(&mut self, brain: &Brain, prefix: &str, t: &Tick, out: &mut Vec<Out>) {
        let net = &brain.net;
        let c = &t.state.city;
        let city = json!({
            "time": t.time,
            "tpi": c.tpi,
            "tpi_grade": c.tpi_grade.as_str(),
            "delay_index": c.delay_index,
            "mean_speed_kmh": c.mean_speed.map(|v| r1(v * 3.6)),
            "congested_share": c.congested_share,
            "vehicles": t.vehicles,
            "trips_finished": t.trips,
        });
        out.push((format!("{prefix}/state/city"), QoS::AtMostOnce, true, city.to_string().into_bytes()));
        let roads: Vec<_> = t
            .state
            .roads
            .iter()
            .map(|r| {
                json!({
                    "id": net.road(r.road).name,
                    "speed_kmh": r.speed.map(|v| r1(v * 3.6)),
                    "tti": r.tti.map(|x| (x * 100.0).round() / 100.0),
                    "grade": r.grade.map(|g| g.as_str()),
                })
            })
            .collect();
        let body = json!({"time": t.time, "roads": roads}).to_string().into_bytes();
        out.push((format!("{prefix}/state/roads"), QoS::AtMostOnce, true, body));
        for s in t.signals.iter() {
            let now = (s.phase, s.serving);
            if self.signals.insert(s.intersection.0, now) == Some(now) {
                continue;
            }
            let name = &net.intersection(s.intersection).name;
            let body = json!({"time": t.time, "junction": name, "phase": s.phase, "phases": s.phases, "serving": s.serving});
            out.push((format!("{prefix}/signals/{}", level(name)), QoS::AtLeastOnce, true, body.to_string().into_bytes()));
        }
    }

    /// Incidents whose public view changed since the last tick (the open-data fields:
    /// no reports, notes, units or people).
    fn incidents(&mut self, brain: &Brain, prefix: &str, out: &mut Vec<Out>) {
        let Some(svc) = brain.service::<incidents::Incidents>() else { return };
        // The public view is derived here, as the open-data download derives it.
        let Ok(list) = svc.list(&Caller::system(), true, 10_000) else { return };
        for e in list {
            let (lon, lat) = brain.net.georef.to_lonlat(e.pos);
            let body = json!({
                "id": e.id,
                "type": e.kind.as_str(),
                "status": e.status.as_str(),
                "road": e.road.map(|r| brain.net.road(r).name.clone()),
                "lon": (lon * 1e5).round() / 1e5,
                "lat": (lat * 1e5).round() / 1e5,
                "detected_at": e.detected_at,
                "verified_at": e.verified_at,
                "dispatched_at": e.dispatched_at,
                "arrived_at": e.arrived_at,
                "cleared_at": e.cleared_at,
            })
            .to_string();
            if self.incidents.get(&e.id) == Some(&body) {
                continue;
            }
            self.incidents.insert(e.id, body.clone());
            out.push((format!("{prefix}/incidents"), QoS::AtLeastOnce, false, body.into_bytes()));
        }
    }
}

fn event(brain: &Brain, prefix: &str, e: &Event) -> Out {
    let body = json!({
        "id": e.id,
        "time": e.time,
        "source": e.source,
        "kind": e.kind.name(),
        "severity": e.severity.as_str(),
        "road": e.kind.road().map(|r| brain.net.road(r).name.clone()),
        "message": e.message,
    });
    (format!("{prefix}/events"), QoS::AtLeastOnce, false, body.to_string().into_bytes())
}
