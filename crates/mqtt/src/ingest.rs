//! The ingest session: gather QoS 1 publishes for a few milliseconds, commit their
//! records in one ingestion call, report rejections on the error topics, then
//! acknowledge (see the crate header). [`process`] is the part without IO.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brain::{Action, Brain};
use rumqttc::{Client, Event, Packet, QoS, RecvTimeoutError};
use serde::Serialize;
use serde_json::json;

use crate::topic::{self, clip, Inbound};
use crate::{Credentials, MqttConfig, Stats};

/// One rejected record, as reported on the error topic.
#[derive(Debug, Serialize)]
pub struct RejectedRecord {
    /// Position of the record in its message's `observations`.
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
    /// The wire field at fault (empty: the record as a whole).
    pub field: String,
    pub error: String,
}

/// What happened to one message.
#[derive(Debug, Default, Serialize)]
pub struct MessageReport {
    pub topic: String,
    /// Why the whole message was refused (nothing of it was stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub accepted: usize,
    pub rejected: Vec<RejectedRecord>,
}

impl MessageReport {
    fn refused(topic: &str, error: impl Into<String>) -> MessageReport {
        MessageReport { topic: clip(topic, 300), error: Some(error.into()), ..Default::default() }
    }
    /// Whether it goes to an error topic.
    pub fn has_errors(&self) -> bool {
        self.error.is_some() || !self.rejected.is_empty()
    }
}

/// The outcome of one commit of several messages.
#[derive(Debug)]
pub struct Processed {
    /// The accepted records are durable (or there were none): acknowledge every message.
    /// `false`: the store refused the batch; acknowledge nothing.
    pub stored: bool,
    /// Per message, in order; `None` for one of the brain's own topics (ignored).
    pub reports: Vec<Option<MessageReport>>,
    /// Records recognised as already stored (accepted, not stored again).
    pub duplicates: usize,
}

/// NGSI-LD entity updates over MQTT: the records an update of `department` stands for.
/// The NGSI-LD crate provides the mapping; until it is wired here every such message is
/// refused on the error topic.
fn ngsi_records(_department: &str, _payload: &[u8]) -> Result<Vec<sense::RawRecord>, String> {
    Err("NGSI-LD entity updates over MQTT are not available in this build; publish the wire format to \
         <prefix>/<department>/observations"
        .into())
}

/// Validate, authorise and commit the records of `messages` (topic, payload) in one
/// ingestion call.
pub fn process(brain: &Brain, cfg: &MqttConfig, creds: &dyn Credentials, messages: &[(&str, &[u8])]) -> Processed {
    let mut reports: Vec<Option<MessageReport>> = Vec::with_capacity(messages.len());
    let mut all: Vec<sense::RawRecord> = Vec::new();
    // Per message: its records' range in `all`.
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(messages.len());
    for (topic_name, payload) in messages {
        let start = all.len();
        match admit(brain, cfg, creds, topic_name, payload) {
            Ok(Some(records)) => {
                all.extend(records);
                reports.push(Some(MessageReport { topic: clip(topic_name, 300), ..Default::default() }));
            }
            Ok(None) => reports.push(None),
            Err(e) => reports.push(Some(MessageReport::refused(topic_name, e))),
        }
        ranges.push(start..all.len());
    }
    if all.is_empty() {
        return Processed { stored: true, reports, duplicates: 0 };
    }
    let out = brain.ingest_records(&all);
    if !out.stored {
        return Processed { stored: false, reports, duplicates: 0 };
    }
    let results = &out.report.results;
    debug_assert_eq!(results.len(), all.len());
    for (report, range) in reports.iter_mut().zip(&ranges) {
        let Some(report) = report else { continue };
        for (i, r) in &results[range.clone()] {
            match r {
                Ok(()) => report.accepted += 1,
                Err(located) => {
                    let (field, error) = topic::split_located(located);
                    // A refused record was turned into a malformed one; its JSON still names it.
                    let (sensor, id) = match &all[*i] {
                        sense::RawRecord::Record(w) => (w.sensor.clone(), w.id.clone()),
                        sense::RawRecord::Malformed { json, .. } => match serde_json::from_str::<sense::WireRecord>(json) {
                            Ok(w) => (w.sensor, w.id),
                            Err(_) => (None, None),
                        },
                    };
                    report.rejected.push(RejectedRecord {
                        index: i - range.start,
                        id: id.map(|s| clip(&s, 128)),
                        sensor: sensor.map(|s| clip(&s, 128)),
                        field: clip(field, 64),
                        error: clip(error, 1024),
                    });
                }
            }
        }
    }
    Processed { stored: true, reports, duplicates: out.duplicates }
}

/// A message's records, authorised for its caller; `Ok(None)` for the brain's own
/// topics; `Err` when the whole message is refused.
fn admit(
    brain: &Brain,
    cfg: &MqttConfig,
    creds: &dyn Credentials,
    topic_name: &str,
    payload: &[u8],
) -> Result<Option<Vec<sense::RawRecord>>, String> {
    if topic::is_own(&cfg.prefix, topic_name) {
        return Ok(None);
    }
    let inbound = topic::parse_topic(&cfg.prefix, topic_name).map_err(|e| e.to_string())?;
    let department = inbound.department();
    let (token, mut records) = match inbound {
        Inbound::Observations { .. } => {
            let env = topic::parse_envelope(payload, cfg.max_payload_bytes).map_err(|e| e.to_string())?;
            (env.token, env.records)
        }
        Inbound::Ngsi { .. } => (None, ngsi_records(department, payload)?),
    };
    let token = token.or_else(|| cfg.department_tokens.get(department).cloned()).ok_or_else(|| {
        format!("token: required (a service token of {department}) in the message or configured for the department")
    })?;
    let caller = creds.authenticate(&token).map_err(|e| format!("token: {e}"))?;
    if caller.department.as_deref() != Some(department) {
        return Err(format!(
            "token: {} belongs to {}, not to {department} whose topic this is",
            caller.principal,
            caller.department.as_deref().unwrap_or("no department")
        ));
    }
    brain.authorize(&caller, Action::Ingest).map_err(|e| e.to_string())?;
    brain.authorize_records(&caller, &mut records);
    Ok(Some(records))
}

/// Requests the client may queue: more than MQTT's largest in-flight window (65,535
/// acknowledgements) plus as many error reports, so queueing one never fails.
const REQUESTS: usize = 1 << 17;

/// The ingest loop: runs until `stop`, reconnecting with backoff.
pub(crate) fn run(brain: Arc<Brain>, cfg: MqttConfig, creds: Arc<dyn Credentials>, stop: Arc<AtomicBool>, stats: Arc<Stats>) {
    let mut backoff = Duration::from_millis(100);
    while !stop.load(Ordering::Relaxed) {
        let mut o = crate::options(&cfg, &cfg.client_id, false);
        // PUBACK only when `process` has committed the message's records.
        o.set_manual_acks(true);
        let (client, mut conn) = Client::new(o, REQUESTS);
        let outcome = session(&brain, &cfg, &*creds, &stop, &stats, &client, &mut conn, &mut backoff);
        if outcome != SessionEnd::Lost {
            let _ = client.disconnect();
            // Let the disconnect go out (bounded: the broker may be gone).
            let until = Instant::now() + Duration::from_millis(200);
            while Instant::now() < until {
                match conn.recv_timeout(Duration::from_millis(50)) {
                    Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) => break,
                    Ok(Ok(_)) | Err(RecvTimeoutError::Timeout) => {}
                    _ => break,
                }
            }
        }
        if outcome != SessionEnd::Stopped {
            // Nothing unacknowledged is lost: the broker redelivers it to the next
            // connection of this persistent session.
            crate::sleep_unless(&stop, backoff);
            backoff = crate::next_backoff(backoff);
        }
    }
}

#[derive(PartialEq, Eq)]
enum SessionEnd {
    Stopped,
    /// The store refused a batch (not acknowledged).
    StoreFailed,
    /// The connection failed.
    Lost,
}

#[allow(clippy::too_many_arguments)]
fn session(
    brain: &Brain,
    cfg: &MqttConfig,
    creds: &dyn Credentials,
    stop: &AtomicBool,
    stats: &Stats,
    client: &Client,
    conn: &mut rumqttc::Connection,
    backoff: &mut Duration,
) -> SessionEnd {
    let mut pending: Vec<rumqttc::Publish> = Vec::new();
    let mut records = 0usize;
    let mut first: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            return SessionEnd::Stopped;
        }
        let wait = match first {
            Some(t) => cfg.batch_window.saturating_sub(t.elapsed()),
            None => Duration::from_millis(100),
        };
        match conn.recv_timeout(wait) {
            Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                *backoff = Duration::from_millis(100);
                tracing::info!("mqtt: connected to {}:{} (session present: {})", cfg.host, cfg.port, ack.session_present);
                for filter in [format!("{}/+", cfg.prefix), format!("{}/+/+", cfg.prefix)] {
                    if let Err(e) = client.try_subscribe(filter, QoS::AtLeastOnce) {
                        tracing::warn!("mqtt: subscribe: {e}");
                    }
                }
            }
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                stats.subscribed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                stats.messages.fetch_add(1, Ordering::Relaxed);
                // A rough count for the early commit: a record is at least ~60 bytes.
                records += p.payload.len() / 60 + 1;
                first.get_or_insert_with(Instant::now);
                pending.push(p);
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                // Unacknowledged publishes are redelivered by the broker to the next
                // connection of the session, which starts from a fresh client.
                stats.reconnects.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("mqtt: connection to {}:{}: {e}; retrying in {:?}", cfg.host, cfg.port, backoff);
                return SessionEnd::Lost;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return SessionEnd::Stopped,
        }
        let due = first.is_some_and(|t| t.elapsed() >= cfg.batch_window) || records >= cfg.max_batch_records;
        if due && !pending.is_empty() {
            let messages: Vec<(&str, &[u8])> = pending.iter().map(|p| (p.topic.as_str(), &p.payload[..])).collect();
            let done = process(brain, cfg, creds, &messages);
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.duplicates.fetch_add(done.duplicates as u64, Ordering::Relaxed);
            if !done.stored {
                stats.store_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("mqtt: the store refused a batch of {} messages; not acknowledged", pending.len());
                return SessionEnd::StoreFailed;
            }
            for (p, r) in pending.iter().zip(&done.reports) {
                let Some(r) = r else { continue };
                stats.records_accepted.fetch_add(r.accepted as u64, Ordering::Relaxed);
                stats.records_rejected.fetch_add(r.rejected.len() as u64, Ordering::Relaxed);
                if r.has_errors() {
                    let body = serde_json::to_vec(&json!({"time": brain.now(), "report": r})).unwrap_or_default();
                    if client.try_publish(topic::error_topic(&cfg.prefix, &p.topic), QoS::AtLeastOnce, false, body).is_ok() {
                        stats.published.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            for p in pending.drain(..) {
                if client.try_ack(&p).is_ok() {
                    stats.acked.fetch_add(1, Ordering::Relaxed);
                }
            }
            (records, first) = (0, None);
        }
    }
}
