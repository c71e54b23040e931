//! # mqtt: citybrain's MQTT edge
//!
//! Devices in the field speak MQTT; this crate connects the brain to a broker
//! (Mosquitto) in both directions. Like the HTTP crate it only translates: every record
//! goes through the runtime's one ingestion path ([`brain::Brain::ingest_records`]) on
//! behalf of an authenticated [`brain::Caller`], and every decision is
//! [`brain::Brain::authorize`]'s.
//!
//! ## Ingest ([`ingest`])
//! - Topic `{prefix}/{department}/observations`, body `{"token":"cbt_…","observations":
//!   [...]}`: the records are citybrain's wire format (`sense::wire`), the same as the
//!   body of `POST /api/v1/observations`; gateways batch many records per message.
//! - **Authentication.** The broker's client identity is not trusted (any client that
//!   can reach the broker can publish on any topic it allows). A message carries the
//!   department's service token (`token`, the same token as the HTTP bearer), or, when
//!   it has none, the bridge uses the token configured for the topic's department
//!   ([`MqttConfig::department_tokens`], for a private broker whose ACLs already bind
//!   topics to devices). The token's department must be the topic's; then
//!   `Action::Ingest` for the message and `Action::IngestFor` per record (only the
//!   sensor's department writes), exactly as over HTTP.
//! - **QoS 1, acknowledged once durable.** Manual acks: the publishes gathered within
//!   [`MqttConfig::batch_window`] are validated and committed to the store in one
//!   ingestion call, and only then is each PUBACK sent. A batch the store refuses is not
//!   acknowledged: the bridge drops the connection and the broker redelivers it to the
//!   persistent session (fixed client id, `clean_session = false`).
//! - **Duplicates.** A record with an `id` is stored once per sensor and id (the store's
//!   unique index), so a redelivery (DUP) or a device's resend changes nothing. Records
//!   without an id are at-least-once.
//! - **Errors.** A rejected record (naming its index, id, sensor and field) or a message
//!   that cannot be read at all is reported on `{prefix}/{department}/errors`; a topic
//!   naming no department on `{prefix}/errors`. Such a message is acknowledged (sending
//!   it again cannot succeed).
//!
//! ## Publish ([`publish`])
//! Live state on `{prefix}/state/city` and `{prefix}/state/roads` (retained, every
//! tick), signal changes on `{prefix}/signals/{junction}` (retained), incidents on
//! `{prefix}/incidents` (the open-data view, on change) and plug-in events on
//! `{prefix}/events`. These topics are open to whoever can subscribe, so each kind is
//! published only while the public may read its dataset (`Brain::authorize` for
//! [`brain::Caller::anonymous`]): with governance, events (internal) are never
//! published and incidents only as their public view.
//!
//! ## Invariants
//! - Durable before acknowledged: a PUBACK is sent only after the message's records
//!   were committed (or rejected and reported); never for a batch the store refused.
//! - The broker restarting or the brain restarting loses nothing acknowledged: the
//!   session is persistent and the bridge reconnects with backoff (100 ms doubling to
//!   5 s).
//! - Hostile input never panics: topics and bodies are parsed with limits
//!   ([`MqttConfig::max_payload_bytes`]) and every failure is a message on an error
//!   topic.

pub mod acl;
pub mod ingest;
pub mod publish;
pub mod topic;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use brain::{Brain, Caller};

/// How the bridge connects and batches.
#[derive(Clone, Debug)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// The fixed client id of the ingest session (persistent: the broker keeps its
    /// subscriptions and unacknowledged messages while the brain is down). The
    /// publisher connects as `{client_id}-pub`.
    pub client_id: String,
    /// First level of every topic.
    pub prefix: String,
    /// How long publishes are gathered before one commit.
    pub batch_window: Duration,
    /// Commit early once this many records are gathered.
    pub max_batch_records: usize,
    /// A message body larger than this is refused (error topic) without being parsed.
    pub max_payload_bytes: usize,
    /// Per department, the service token used for a message that carries none.
    pub department_tokens: HashMap<String, String>,
    /// Publish live state, signals, incidents and events.
    pub publish: bool,
    pub keep_alive: Duration,
    /// The bridge's user name and password at the broker (both clients), for a broker
    /// with `password_file` and an ACL (`acl` writes one). Never logged.
    pub login: Option<BrokerLogin>,
}

/// A user name and password at the broker. `Debug` shows the user only.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerLogin {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for BrokerLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerLogin").field("user", &self.user).field("password", &"<hidden>").finish()
    }
}

impl MqttConfig {
    /// Defaults for a broker at `addr` (`host:port`, port 1883 when omitted).
    pub fn new(addr: &str) -> Result<MqttConfig, ConfigError> {
        let (host, port) = match addr.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| ConfigError(format!("broker address {addr:?}: bad port {p:?}")))?),
            None => (addr, 1883),
        };
        if host.is_empty() {
            return Err(ConfigError(format!("broker address {addr:?}: no host")));
        }
        Ok(MqttConfig {
            host: host.to_string(),
            port,
            client_id: "citybrain".into(),
            prefix: "citybrain".into(),
            batch_window: Duration::from_millis(5),
            max_batch_records: 200_000,
            max_payload_bytes: 16 << 20,
            department_tokens: HashMap::new(),
            publish: true,
            keep_alive: Duration::from_secs(30),
            login: None,
        })
    }

    /// Check the settings a user can get wrong.
    pub fn check(&self) -> Result<(), ConfigError> {
        let ok_level = |s: &str| !s.is_empty() && !s.contains(['+', '#', '\0']);
        if !ok_level(&self.prefix) || self.prefix.starts_with('/') || self.prefix.ends_with('/') {
            return Err(ConfigError(format!(
                "prefix {:?}: needs a topic level without +, # or a leading/trailing /",
                self.prefix
            )));
        }
        if self.client_id.is_empty() || self.client_id.len() > 64 {
            return Err(ConfigError("client_id: 1 to 64 characters".into()));
        }
        if self.max_batch_records == 0 || self.max_payload_bytes == 0 {
            return Err(ConfigError("max_batch_records and max_payload_bytes must be positive".into()));
        }
        Ok(())
    }
}

/// A setting that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("mqtt: {0}")]
pub struct ConfigError(pub String);

/// Turns a device's credential into a caller (the edge authenticates; the brain
/// decides).
pub trait Credentials: Send + Sync {
    fn authenticate(&self, token: &str) -> Result<Caller, String>;
}

impl Credentials for governance::Governance {
    fn authenticate(&self, token: &str) -> Result<Caller, String> {
        self.authenticate_token(token).map_err(|e| e.to_string())
    }
}

/// What the bridge has done so far.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages received on observation topics (and unknown ones).
    pub messages: AtomicU64,
    /// Messages acknowledged (PUBACK sent).
    pub acked: AtomicU64,
    /// Records accepted (stored now, or duplicates of stored ones).
    pub records_accepted: AtomicU64,
    pub records_rejected: AtomicU64,
    pub duplicates: AtomicU64,
    /// Commits (one ingestion call each).
    pub commits: AtomicU64,
    /// Batches the store refused (not acknowledged; the broker redelivers them).
    pub store_failures: AtomicU64,
    /// Connection losses of either client.
    pub reconnects: AtomicU64,
    /// Subscriptions the broker confirmed to the ingest session (two per connection).
    pub subscribed: AtomicU64,
    /// Messages published to open topics and to error topics.
    pub published: AtomicU64,
    /// Bus messages dropped because the publisher fell behind.
    pub publish_dropped: AtomicU64,
}

impl Stats {
    pub fn get(&self, f: impl Fn(&Stats) -> &AtomicU64) -> u64 {
        f(self).load(Ordering::Relaxed)
    }
}

/// The running bridge: the ingest session and, when enabled, the publisher.
pub struct Bridge {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub stats: Arc<Stats>,
}

impl Bridge {
    /// Connect to the broker and start ingesting (and publishing) on threads of its
    /// own. Connection failures are retried with backoff for as long as the bridge runs.
    pub fn start(brain: &Arc<Brain>, cfg: MqttConfig, creds: Arc<dyn Credentials>) -> Result<Bridge, ConfigError> {
        cfg.check()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        let mut threads = Vec::new();
        {
            let (b, c, s, st) = (brain.clone(), cfg.clone(), stop.clone(), stats.clone());
            threads.push(
                std::thread::Builder::new()
                    .name("mqtt-ingest".into())
                    .spawn(move || ingest::run(b, c, creds, s, st))
                    .map_err(|e| ConfigError(format!("cannot start the ingest thread: {e}")))?,
            );
        }
        if cfg.publish {
            threads.push(publish::start(brain, cfg.clone(), stop.clone(), stats.clone())?);
        }
        brain.provide(stats.clone());
        tracing::info!("mqtt: bridge to {}:{} as {} under {}/", cfg.host, cfg.port, cfg.client_id, cfg.prefix);
        Ok(Bridge { stop, threads, stats })
    }

    /// Wait (at most `timeout`) until the broker confirmed the ingest session's
    /// subscriptions; before that a device's message may find no session to go to.
    pub fn wait_subscribed(&self, timeout: Duration) -> bool {
        let end = std::time::Instant::now() + timeout;
        while self.stats.get(|s| &s.subscribed) < 2 {
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Disconnect and wait for the threads (messages not yet acknowledged stay with the
    /// broker for the next start).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// End the brain's persistent session at the broker (its subscriptions and whatever is
/// queued for it): connect once with `cfg.client_id` and a clean session. For tests and
/// benchmarks on a shared broker, and for retiring a brain; never needed in operation.
/// The publisher's session (`{client_id}-pub`) is ended too.
pub fn forget_session(cfg: &MqttConfig) -> Result<(), String> {
    for id in [cfg.client_id.clone(), format!("{}-pub", cfg.client_id)] {
        let (client, mut conn) = rumqttc::Client::new(options(cfg, &id, true), 10);
        let end = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match conn.recv_timeout(Duration::from_millis(200)) {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))) => {
                    let _ = client.disconnect();
                }
                Ok(Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect))) => break,
                Ok(Err(e)) => return Err(e.to_string()),
                _ => {}
            }
            if std::time::Instant::now() > end {
                return Err("no answer from the broker within 10 s".into());
            }
        }
    }
    Ok(())
}

/// Reconnect backoff: 100 ms doubling to 5 s.
pub(crate) fn next_backoff(d: Duration) -> Duration {
    (d * 2).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// Sleep `d` in short steps, returning early when `stop` is set.
pub(crate) fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = std::time::Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let now = std::time::Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// rumqttc options shared by both clients (MQTT 3.1.1).
pub(crate) fn options(cfg: &MqttConfig, client_id: &str, clean: bool) -> rumqttc::MqttOptions {
    let mut o = rumqttc::MqttOptions::new(client_id, cfg.host.clone(), cfg.port);
    o.set_keep_alive(cfg.keep_alive);
    o.set_clean_session(clean);
    if let Some(l) = &cfg.login {
        o.set_credentials(l.user.clone(), l.password.clone());
    }
    // The client takes any packet MQTT allows: a body over `max_payload_bytes` is then
    // refused on the error topic and acknowledged, instead of failing the connection
    // (which would make the broker redeliver it forever). The broker's own
    // `message_size_limit` bounds memory.
    o.set_max_packet_size(268_435_460, 268_435_460);
    o
}
