//! Notifications of subscriptions: which subscriptions a committed change fires (the
//! triggers, `entities`, `watchedAttributes`, `q`, `geoQ`, throttling), the queue and
//! the worker threads that post them, and the bookkeeping (`timesSent`, `timesFailed`,
//! `lastNotification`, `lastSuccess`, `lastFailure`). What a notification says about an
//! entity is [`crate::notice`]'s.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{json, Value};

use crate::context::ActiveContext;
use crate::entities::{parse_type_param, Change};
use crate::notice::NoticeOpts;
use crate::service::{wlock, Ngsi, Tenant};
use crate::subs::{expired, geo_of, now_s, uuid, Subscription};

/// The triggers of a subscription without `notificationTrigger` (ETSI GS CIM 009 v1.8,
/// 5.2.12).
pub const DEFAULT_TRIGGERS: [&str; 2] = ["attributeCreated", "attributeUpdated"];

/// One notification to post.
pub struct Job {
    tenant: String,
    sub: String,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// `mqtt://` endpoints: the QoS to publish at (`notifierInfo` `MQTT-QoS`).
    qos: u8,
    /// When the change was committed (latency measurement).
    pub at: std::time::Instant,
}

/// The queue and its workers.
pub struct Notifier {
    tx: SyncSender<Job>,
    rx: Mutex<Option<Receiver<Job>>>,
    allow: Vec<String>,
    /// Keep-alive connections to HTTP endpoints, shared by the workers.
    pool: Arc<crate::httpc::Pool>,
    /// Notifications dropped because the queue was full.
    pub dropped: std::sync::atomic::AtomicU64,
    /// Notifications not sent: the subscriber may no longer read the tenant.
    pub withheld: std::sync::atomic::AtomicU64,
}

const QUEUE: usize = 100_000;
const WORKERS: usize = 4;

impl Notifier {
    pub fn new(allow: Vec<String>) -> Notifier {
        let (tx, rx) = sync_channel(QUEUE);
        Notifier {
            tx,
            rx: Mutex::new(Some(rx)),
            allow,
            pool: Arc::new(crate::httpc::Pool::new(WORKERS)),
            dropped: Default::default(),
            withheld: Default::default(),
        }
    }

    pub(crate) fn start(&self, ngsi: Weak<Ngsi>) {
        let Some(rx) = crate::lock(&self.rx).take() else { return };
        // Periodic notifications (`timeInterval`), checked every second.
        let weak = ngsi.clone();
        let _ = std::thread::Builder::new().name("ngsi-periodic".into()).spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            match weak.upgrade() {
                Some(n) => n.periodic(),
                None => return,
            }
        });
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..WORKERS {
            let rx = rx.clone();
            let ngsi = ngsi.clone();
            let pool = self.pool.clone();
            let _ = std::thread::Builder::new().name(format!("ngsi-notify-{i}")).spawn(move || loop {
                let job = match crate::lock(&rx).recv() {
                    Ok(j) => j,
                    Err(_) => return,
                };
                let ok = if job.url.starts_with("mqtt://") {
                    let client = format!("ngsi-{}", &uuid()[..13]);
                    crate::mqttc::publish(&job.url, &job.body, job.qos, &client, Duration::from_secs(5)).is_ok()
                } else {
                    let r = crate::httpc::send(
                        Some(&pool),
                        "POST",
                        &job.url,
                        &job.headers,
                        &job.body,
                        Duration::from_secs(5),
                        1 << 20,
                    );
                    matches!(&r, Ok(resp) if (200..300).contains(&resp.status))
                };
                let Some(n) = ngsi.upgrade() else { return };
                n.notified(&job, ok);
            });
        }
    }

    fn allowed(&self, url: &str) -> bool {
        let host = match url.starts_with("mqtt://") {
            true => crate::mqttc::split_url(url).map(|t| t.host),
            false => crate::httpc::split_url(url).map(|(h, _, _)| h),
        };
        let Ok(host) = host else { return false };
        if self.allow.iter().any(|p| url.starts_with(p.as_str())) {
            return true;
        }
        matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") || host.starts_with("127.")
    }

    fn queue(&self, jobs: Vec<Job>) {
        for j in jobs {
            if self.tx.try_send(j).is_err() {
                self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

impl Ngsi {
    /// After a commit: queue the notifications of every subscription the changes match.
    pub(crate) fn notify_changes(&self, tenant: &str, changes: &[Change]) {
        let now = now_s();
        let mut jobs = Vec::new();
        {
            let mut g = wlock(&self.tenants);
            let Some(t) = g.get_mut(tenant) else { return };
            if t.subs.is_empty() {
                return;
            }
            let mut fired = Vec::new();
            // The changes by entity id: a subscription whose selectors all name an id
            // looks only at those entities' changes (a write is matched against every
            // subscription, so this is what keeps many subscriptions cheap).
            let mut by_id: HashMap<&str, Vec<usize>> = HashMap::with_capacity(changes.len());
            for (i, c) in changes.iter().enumerate() {
                if let Some(e) = c.new.as_ref().or(c.old.as_ref()) {
                    by_id.entry(e.id.as_str()).or_default().push(i);
                }
            }
            let mut at = Vec::new();
            for s in t.subs.values() {
                if !s.active || expired(s, now) || s.spec.contains_key("timeInterval") {
                    continue;
                }
                if let Some(th) = s.spec.get("throttling").and_then(Value::as_f64) {
                    if now - s.last_sent_s < th {
                        continue;
                    }
                }
                let named = named_ids(s);
                if let Some(ids) = &named {
                    at.clear();
                    at.extend(ids.iter().filter_map(|id| by_id.get(id)).flatten().copied());
                    if at.is_empty() {
                        continue;
                    }
                    at.sort_unstable();
                    at.dedup();
                }
                let Ok(ctx) = self.contexts.resolve(&s.ctx) else { continue };
                let hits: Vec<&Change> = match named {
                    Some(_) => at.iter().map(|&i| &changes[i]).filter(|c| sub_matches(s, &ctx, c)).collect(),
                    None => changes.iter().filter(|c| sub_matches(s, &ctx, c)).collect(),
                };
                if hits.is_empty() || !self.may_deliver(tenant, s) {
                    continue;
                }
                fired.push(s.id.clone());
                if let Some(job) = self.job(tenant, t, s, &ctx, &hits) {
                    jobs.push(job);
                }
            }
            for id in fired {
                if let Some(s) = t.subs.get_mut(&id) {
                    s.last_sent_s = now;
                }
            }
        }
        self.notifier.queue(jobs);
    }

    fn job(&self, tenant: &str, t: &Tenant, s: &Subscription, sub_ctx: &Arc<ActiveContext>, hits: &[&Change]) -> Option<Job> {
        let n = s.spec.get("notification")?;
        let url = n.pointer("/endpoint/uri")?.as_str()?.to_string();
        if !self.notifier.allowed(&url) {
            return None;
        }
        // `jsonldContext` (a URI the client gave): the notification is compacted with that
        // context instead. An implicitly created one (a path on this broker) holds the
        // subscription's own context: that is sent.
        let given = s.spec.get("jsonldContext").filter(|j| j.as_str().is_some_and(crate::util::is_uri));
        let (ctx, out_ctx) = match given.and_then(|j| self.contexts.resolve(j).ok().map(|c| (c, j.clone()))) {
            Some(x) => x,
            None => (sub_ctx.clone(), sub_ctx.output()),
        };
        let accept = n.pointer("/endpoint/accept").and_then(Value::as_str).unwrap_or("application/json");
        let ld = accept == "application/ld+json";
        let opts = NoticeOpts::of(s, &ctx, ld.then(|| out_ctx.clone()));
        let now = crate::time::now_iso();
        let data = crate::notice::data(t, hits, &ctx, &opts, &now);
        let mut body = json!({
            "id": format!("urn:ngsi-ld:Notification:{}", uuid()),
            "type": "Notification",
            "subscriptionId": s.id,
            "notifiedAt": now,
            "data": data,
        });
        let mut headers = vec![];
        if ld {
            body["@context"] = out_ctx;
            headers.push(("Content-Type", "application/ld+json".to_string()));
        } else {
            headers.push(("Content-Type", "application/json".to_string()));
            headers.push((
                "Link",
                format!("<{}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"", ctx.link_url()),
            ));
        }
        if !tenant.is_empty() {
            headers.push(("NGSILD-Tenant", tenant.to_string()));
        }
        if let Some(Value::Array(rh)) = n.pointer("/endpoint/receiverInfo") {
            for kv in rh {
                if let (Some(k), Some(v)) = (kv.get("key").and_then(Value::as_str), kv.get("value").and_then(Value::as_str)) {
                    if crate::model::valid_name(k) {
                        headers.push((leak_header(k), v.to_string()));
                    }
                }
            }
        }
        let mut qos = 0;
        let body = if url.starts_with("mqtt://") {
            // MQTT has no headers: they travel as the message's `metadata` (7.4.2).
            let mut meta = serde_json::Map::new();
            for (k, v) in &headers {
                meta.insert((*k).to_string(), v.clone().into());
            }
            if let Some(Value::Array(info)) = n.pointer("/endpoint/notifierInfo") {
                for kv in info {
                    if kv.get("key").and_then(Value::as_str) == Some("MQTT-QoS") {
                        qos = kv.get("value").and_then(Value::as_str).and_then(|q| q.parse().ok()).unwrap_or(0);
                    }
                }
            }
            json!({"metadata": meta, "body": body})
        } else {
            body
        };
        Some(Job {
            tenant: tenant.into(),
            sub: s.id.clone(),
            url,
            headers,
            body: body.to_string().into_bytes(),
            qos,
            at: std::time::Instant::now(),
        })
    }

    /// Queue the notifications of `timeInterval` subscriptions that are due.
    pub(crate) fn periodic(&self) {
        let now = now_s();
        let mut jobs = Vec::new();
        {
            let mut g = wlock(&self.tenants);
            for (tenant, t) in g.iter_mut() {
                let mut due = Vec::new();
                for s in t.subs.values() {
                    let Some(iv) = s.spec.get("timeInterval").and_then(Value::as_f64) else { continue };
                    if !s.active || expired(s, now) || now - s.last_sent_s < iv {
                        continue;
                    }
                    due.push(s.id.clone());
                    let Ok(ctx) = self.contexts.resolve(&s.ctx) else { continue };
                    let mut probe = s.clone();
                    probe.spec.remove("notificationTrigger");
                    probe.spec.remove("watchedAttributes");
                    let all: Vec<Change> = t
                        .entities
                        .values()
                        .map(|e| Change { history: None, id: e.id.clone(), old: None, new: Some(e.clone()) })
                        .filter(|c| sub_matches(&probe, &ctx, c))
                        .collect();
                    if all.is_empty() || !self.may_deliver(tenant, s) {
                        continue;
                    }
                    let hits: Vec<&Change> = all.iter().collect();
                    if let Some(j) = self.job(tenant, t, s, &ctx, &hits) {
                        jobs.push(j);
                    }
                }
                for id in due {
                    if let Some(s) = t.subs.get_mut(&id) {
                        s.last_sent_s = now;
                    }
                }
            }
        }
        self.notifier.queue(jobs);
    }

    /// A worker posted `job`.
    fn notified(&self, job: &Job, ok: bool) {
        let now = crate::time::now_iso();
        let mut g = wlock(&self.tenants);
        if let Some(s) = g.get_mut(&job.tenant).and_then(|t| t.subs.get_mut(&job.sub)) {
            s.last_notification = Some(now.clone());
            s.times_sent += 1;
            if ok {
                s.last_success = Some(now);
            } else {
                s.times_failed += 1;
                s.last_failure = Some(now);
            }
        }
        drop(g);
    }
}

/// Custom receiver headers need a `'static` name; they are few and come from
/// subscriptions, so the set is bounded by what clients registered.
fn leak_header(k: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut n = crate::lock(&NAMES);
    if let Some(x) = n.iter().find(|x| **x == k) {
        return x;
    }
    if n.len() > 256 {
        return "X-Ngsi-Receiver-Info";
    }
    let s: &'static str = Box::leak(k.to_string().into_boxed_str());
    n.push(s);
    s
}

/// The triggers a change fires: entity-level, and attribute-level by expanded name. An
/// entity's deletion deletes each of its attributes too.
pub(crate) fn fired(c: &Change) -> (Option<&'static str>, Vec<(&'static str, String)>) {
    match (&c.old, &c.new) {
        (None, Some(n)) => (Some("entityCreated"), n.attrs.keys().map(|k| ("attributeCreated", k.clone())).collect()),
        (Some(o), None) => (Some("entityDeleted"), o.attrs.keys().map(|k| ("attributeDeleted", k.clone())).collect()),
        (Some(o), Some(n)) => {
            let mut a = Vec::new();
            for (k, v) in &n.attrs {
                match o.attrs.get(k) {
                    None => a.push(("attributeCreated", k.clone())),
                    Some(ov) if ov != v => {
                        // An instance gone (a datasetId deleted) is a deletion of it.
                        let ds = |x: &crate::model::Attr| x.get("datasetId").cloned();
                        let gone = ov.iter().any(|oi| !v.iter().any(|ni| ds(ni) == ds(oi)));
                        let changed = v.iter().any(|ni| !ov.contains(ni));
                        if changed {
                            a.push(("attributeUpdated", k.clone()));
                        }
                        if gone {
                            a.push(("attributeDeleted", k.clone()));
                        }
                    }
                    _ => {}
                }
            }
            for k in o.attrs.keys().filter(|k| !n.attrs.contains_key(*k)) {
                a.push(("attributeDeleted", k.clone()));
            }
            let changed = !a.is_empty() || o.types != n.types || o.scope != n.scope;
            (changed.then_some("entityUpdated"), a)
        }
        (None, None) => (None, Vec::new()),
    }
}

/// The subscription's triggers (its `notificationTrigger`, else the default).
pub(crate) fn triggers(s: &Subscription) -> Vec<String> {
    match s.spec.get("notificationTrigger").and_then(Value::as_array) {
        Some(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        None => DEFAULT_TRIGGERS.map(String::from).to_vec(),
    }
}

/// The entity ids a subscription's `entities` selectors name, when every selector names
/// one (no other entity can match it; an empty list matches none).
fn named_ids(s: &Subscription) -> Option<Vec<&str>> {
    match s.spec.get("entities") {
        Some(Value::Array(sel)) => sel.iter().map(|x| x.get("id").and_then(Value::as_str)).collect(),
        _ => None,
    }
}

/// `watchedAttributes`, expanded.
pub(crate) fn watched(s: &Subscription, ctx: &ActiveContext) -> Option<Vec<String>> {
    s.spec
        .get("watchedAttributes")
        .and_then(Value::as_array)
        .map(|w| w.iter().filter_map(Value::as_str).map(|a| ctx.expand(a)).collect())
}

pub(crate) fn sub_matches(s: &Subscription, ctx: &ActiveContext, c: &Change) -> bool {
    let Some(e) = c.new.as_ref().or(c.old.as_ref()) else { return false };
    // The cheapest test first (a write is matched against every subscription): every
    // `entities` selector names an id, none of them this entity's.
    if let Some(Value::Array(sel)) = s.spec.get("entities") {
        if sel.iter().all(|x| x.get("id").and_then(Value::as_str).is_some_and(|i| i != e.id)) {
            return false;
        }
    }
    let triggers = triggers(s);
    let (entity_event, attr_events) = fired(c);
    let watched = watched(s, ctx);
    let fires = match &watched {
        None => {
            entity_event.is_some_and(|t| triggers.iter().any(|x| x == t))
                || attr_events.iter().any(|(t, _)| triggers.iter().any(|x| x == t))
        }
        Some(w) => {
            attr_events.iter().any(|(t, a)| w.contains(a) && triggers.iter().any(|x| x == t))
                || (entity_event == Some("entityDeleted") && triggers.iter().any(|x| x == "entityDeleted"))
                || (entity_event == Some("entityCreated")
                    && triggers.iter().any(|x| x == "entityCreated")
                    && e.attrs.keys().any(|k| w.contains(k)))
        }
    };
    if !fires {
        return false;
    }
    if let Some(Value::Array(sel)) = s.spec.get("entities") {
        let hit = sel.iter().any(|x| {
            let t_ok = x
                .get("type")
                .and_then(Value::as_str)
                .and_then(|t| parse_type_param(t, ctx).ok())
                .is_some_and(|ts| ts.iter().any(|set| set.iter().all(|t| e.types.contains(t))));
            let id_ok = x.get("id").and_then(Value::as_str).is_none_or(|i| i == e.id);
            let pat_ok = x
                .get("idPattern")
                .and_then(Value::as_str)
                .is_none_or(|p| crate::query::compile(p).is_ok_and(|r| r.is_match(&e.id)));
            t_ok && id_ok && pat_ok
        });
        if !hit {
            return false;
        }
    }
    if let Some(q) = s.spec.get("q").and_then(Value::as_str) {
        match crate::query::parse(&crate::util::percent_decode(q)) {
            Ok(expr) if crate::query::eval(&expr, e, ctx) => {}
            _ => return false,
        }
    }
    if let Some(g) = s.spec.get("geoQ") {
        let Ok(gq) = geo_of(g, ctx) else { return false };
        let hit = e.attrs.get(&gq.property).is_some_and(|insts| {
            insts
                .iter()
                .any(|a| a.get("value").and_then(|v| crate::geo::Geometry::parse(v).ok()).is_some_and(|geom| gq.matches(&geom)))
        });
        if !hit {
            return false;
        }
    }
    true
}
