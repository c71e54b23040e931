//! Subscriptions (`/subscriptions`) and their HTTP notifications. A write never waits for
//! a notification: matching subscriptions are found after the commit and their
//! notifications queued; worker threads post them and keep `timesSent`, `timesFailed`,
//! `lastNotification`, `lastSuccess`, `lastFailure`.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::ActiveContext;
use crate::db::Write;
use crate::entities::{parse_type_param, Change};
use crate::error::NgsiError;
use crate::geo::GeoQuery;
use crate::model::Entity;
use crate::render::{self, Format, RenderOpts};
use crate::service::{object, rlock, wlock, Ngsi, Out, Req};

/// A subscription as stored: the client's description (compact terms, its `@context`
/// kept beside) and the broker's bookkeeping.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub ctx: Value,
    pub spec: Map<String, Value>,
    pub active: bool,
    pub times_sent: u64,
    pub times_failed: u64,
    pub last_notification: Option<String>,
    pub last_success: Option<String>,
    pub last_failure: Option<String>,
    /// Unix seconds of the last notification (throttling).
    #[serde(default)]
    pub last_sent_s: f64,
    pub created_at: String,
    pub modified_at: String,
}

/// One notification to post.
pub struct Job {
    tenant: String,
    sub: String,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// When the change was committed (latency measurement).
    pub at: std::time::Instant,
}

/// The queue and its workers.
pub struct Notifier {
    tx: SyncSender<Job>,
    rx: Mutex<Option<Receiver<Job>>>,
    allow: Vec<String>,
    /// Notifications dropped because the queue was full.
    pub dropped: std::sync::atomic::AtomicU64,
}

const QUEUE: usize = 100_000;
const WORKERS: usize = 4;

impl Notifier {
    pub fn new(allow: Vec<String>) -> Notifier {
        let (tx, rx) = sync_channel(QUEUE);
        Notifier { tx, rx: Mutex::new(Some(rx)), allow, dropped: Default::default() }
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
            let _ = std::thread::Builder::new().name(format!("ngsi-notify-{i}")).spawn(move || loop {
                let job = match crate::lock(&rx).recv() {
                    Ok(j) => j,
                    Err(_) => return,
                };
                let r = crate::httpc::request("POST", &job.url, &job.headers, &job.body, Duration::from_secs(5), 1 << 20);
                let ok = matches!(&r, Ok(resp) if (200..300).contains(&resp.status));
                let Some(n) = ngsi.upgrade() else { return };
                n.notified(&job, ok);
            });
        }
    }

    fn allowed(&self, url: &str) -> bool {
        let Ok((host, _, _)) = crate::httpc::split_url(url) else { return false };
        if self.allow.iter().any(|p| url.starts_with(p.as_str())) {
            return true;
        }
        matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") || host.starts_with("127.")
    }
}

fn sub_status(s: &Subscription, now: f64) -> &'static str {
    if expired(s, now) {
        "expired"
    } else if s.active {
        "active"
    } else {
        "paused"
    }
}

fn expired(s: &Subscription, now: f64) -> bool {
    s.spec.get("expiresAt").and_then(Value::as_str).and_then(crate::time::secs).is_some_and(|t| t <= now)
}

fn now_s() -> f64 {
    brain::wall_clock()
}

/// Validate a subscription body (compact terms); the error names the field.
fn validate(m: &Map<String, Value>, ctx: &ActiveContext, creating: bool) -> Result<(), NgsiError> {
    if let Some(t) = m.get("type") {
        if t.as_str() != Some("Subscription") {
            return Err(NgsiError::bad("type: must be Subscription"));
        }
    } else if creating {
        return Err(NgsiError::bad("type: missing (Subscription)"));
    }
    if let Some(id) = m.get("id") {
        if !id.as_str().is_some_and(crate::util::is_uri) {
            return Err(NgsiError::bad("id: not a URI"));
        }
    }
    let ents = m.get("entities");
    let watched = m.get("watchedAttributes");
    if creating && ents.is_none() && watched.is_none() {
        return Err(NgsiError::bad("entities or watchedAttributes: one is needed"));
    }
    if let Some(e) = ents {
        let a = e.as_array().filter(|a| !a.is_empty()).ok_or_else(|| NgsiError::bad("entities: a non-empty array"))?;
        for x in a {
            let t = x.get("type").and_then(Value::as_str).ok_or_else(|| NgsiError::bad("entities: each needs a type"))?;
            parse_type_param(t, ctx)?;
            if let Some(id) = x.get("id") {
                if !id.as_str().is_some_and(crate::util::is_uri) {
                    return Err(NgsiError::bad("entities: id must be a URI"));
                }
            }
            if let Some(p) = x.get("idPattern") {
                crate::query::compile(p.as_str().unwrap_or("("))
                    .map_err(|e| NgsiError::bad(format!("entities: idPattern: {e}")))?;
            }
        }
    }
    if let Some(w) = watched {
        if !w.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)) {
            return Err(NgsiError::bad("watchedAttributes: a non-empty array of names"));
        }
    }
    if let Some(q) = m.get("q") {
        let s = q.as_str().ok_or_else(|| NgsiError::bad("q: a string"))?;
        let e = crate::query::parse(&crate::util::percent_decode(s)).map_err(NgsiError::bad)?;
        crate::query::validate(&e).map_err(NgsiError::bad)?;
    }
    if let Some(g) = m.get("geoQ") {
        geo_of(g, ctx)?;
    }
    match m.get("notification") {
        None if creating => return Err(NgsiError::bad("notification: missing")),
        None => {}
        Some(n) => {
            let uri = n.pointer("/endpoint/uri").and_then(Value::as_str);
            if !uri.is_some_and(crate::util::is_uri) {
                return Err(NgsiError::bad("notification.endpoint.uri: a URI is needed"));
            }
            if let Some(a) = n.get("attributes") {
                if !a.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(NgsiError::bad("notification.attributes: an array of names"));
                }
            }
            if let Some(f) = n.get("format") {
                if !matches!(f.as_str(), Some("normalized" | "keyValues" | "concise")) {
                    return Err(NgsiError::bad("notification.format: normalized, concise or keyValues"));
                }
            }
            if let Some(a) = n.pointer("/endpoint/accept") {
                if !matches!(a.as_str(), Some("application/json" | "application/ld+json" | "application/geo+json")) {
                    return Err(NgsiError::bad("notification.endpoint.accept: application/json or application/ld+json"));
                }
            }
        }
    }
    if let Some(e) = m.get("expiresAt") {
        let t = e.as_str().and_then(crate::time::secs).ok_or_else(|| NgsiError::bad("expiresAt: a DateTime"))?;
        if creating && t <= now_s() {
            return Err(NgsiError::bad("expiresAt: in the past"));
        }
    }
    for k in ["throttling", "timeInterval"] {
        if let Some(v) = m.get(k) {
            if !v.as_f64().is_some_and(|x| x > 0.0) {
                return Err(NgsiError::bad(format!("{k}: a positive number of seconds")));
            }
        }
    }
    if m.contains_key("throttling") && m.contains_key("timeInterval") {
        return Err(NgsiError::bad("throttling and timeInterval exclude each other"));
    }
    if m.contains_key("timeInterval") && m.contains_key("watchedAttributes") {
        return Err(NgsiError::bad("timeInterval and watchedAttributes exclude each other"));
    }
    if let Some(a) = m.get("isActive") {
        if !a.is_boolean() {
            return Err(NgsiError::bad("isActive: true or false"));
        }
    }
    Ok(())
}

fn geo_of(g: &Value, ctx: &ActiveContext) -> Result<GeoQuery, NgsiError> {
    let rel = g.get("georel").and_then(Value::as_str).ok_or_else(|| NgsiError::bad("geoQ.georel: missing"))?;
    let geom = g.get("geometry").and_then(Value::as_str).ok_or_else(|| NgsiError::bad("geoQ.geometry: missing"))?;
    let c = g.get("coordinates").ok_or_else(|| NgsiError::bad("geoQ.coordinates: missing"))?;
    let c = match c {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let prop = ctx.expand(g.get("geoproperty").and_then(Value::as_str).unwrap_or("location"));
    GeoQuery::parse(rel, geom, &c, prop).map_err(|e| NgsiError::bad(format!("geoQ: {e}")))
}

/// The subscription as answered.
fn render_sub(s: &Subscription, sys: bool) -> Value {
    let mut m = s.spec.clone();
    m.insert("id".into(), s.id.clone().into());
    m.insert("type".into(), "Subscription".into());
    let now = now_s();
    if s.spec.contains_key("isActive") || !s.active {
        m.insert("isActive".into(), Value::Bool(s.active));
    }
    m.insert("status".into(), sub_status(s, now).into());
    if let Some(Value::Object(n)) = m.get_mut("notification") {
        n.insert("timesSent".into(), s.times_sent.into());
        n.insert("timesFailed".into(), s.times_failed.into());
        if let Some(t) = &s.last_notification {
            n.insert("lastNotification".into(), t.clone().into());
        }
        if let Some(t) = &s.last_success {
            n.insert("lastSuccess".into(), t.clone().into());
        }
        if let Some(t) = &s.last_failure {
            n.insert("lastFailure".into(), t.clone().into());
        }
        if s.times_sent > 0 {
            n.insert(
                "status".into(),
                if s.last_failure.is_some() && s.last_failure >= s.last_success { "failed" } else { "ok" }.into(),
            );
        }
        if let Some(Value::Object(e)) = n.get_mut("endpoint") {
            e.entry("accept").or_insert("application/json".into());
        }
        n.entry("format").or_insert("normalized".into());
    }
    if sys {
        m.insert("createdAt".into(), s.created_at.clone().into());
        m.insert("modifiedAt".into(), s.modified_at.clone().into());
    }
    Value::Object(m)
}

impl Ngsi {
    fn persist_sub(&self, tenant: &str, s: &Subscription) -> Result<(), NgsiError> {
        self.commit(&[Write::PutSub {
            tenant: tenant.into(),
            id: s.id.clone(),
            body: serde_json::to_string(s).unwrap_or_default(),
        }])
    }

    /// `POST /subscriptions`.
    pub fn create_subscription(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let mut m = object(v, "subscription")?;
        let raw_ctx = m.remove("@context").unwrap_or_else(|| ctx.raw.clone());
        validate(&m, &ctx, true)?;
        // A composite @context becomes an implicitly created one, named by jsonldContext.
        let composite =
            raw_ctx.is_object() || raw_ctx.as_array().is_some_and(|a| a.len() > 1 || a.iter().any(|x| !x.is_string()));
        if composite && !m.contains_key("jsonldContext") {
            m.insert("jsonldContext".into(), self.implicit_context(&raw_ctx)?.into());
        }
        let id = match m.remove("id") {
            Some(Value::String(s)) => s,
            _ => format!("urn:ngsi-ld:Subscription:{}", uuid()),
        };
        let now = crate::time::now_iso();
        let active = m.get("isActive").and_then(|v| v.as_bool()).unwrap_or(true);
        m.remove("status");
        let s = Subscription {
            id: id.clone(),
            ctx: raw_ctx,
            spec: m,
            active,
            times_sent: 0,
            times_failed: 0,
            last_notification: None,
            last_success: None,
            last_failure: None,
            last_sent_s: 0.0,
            created_at: now.clone(),
            modified_at: now,
        };
        {
            let mut g = wlock(&self.tenants);
            let t = g.entry(tenant.clone()).or_default();
            if t.subs.contains_key(&id) {
                return Err(NgsiError::AlreadyExists(format!("subscription {id} already exists")));
            }
            self.persist_sub(&tenant, &s)?;
            t.subs.insert(id.clone(), s);
        }
        Ok(Out::empty(201).header("Location", format!("/ngsi-ld/v1/subscriptions/{id}")))
    }

    /// `GET /subscriptions/{id}`.
    pub fn retrieve_subscription(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        if !crate::util::is_uri(id) {
            return Err(NgsiError::bad(format!("subscription id {id:?} is not a URI")));
        }
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let sys = Ngsi::params(req).option("sysAttrs");
        let g = rlock(&self.tenants);
        let s = g
            .get(&tenant)
            .and_then(|t| t.subs.get(id))
            .ok_or_else(|| NgsiError::not_found(format!("subscription {id} not found")))?;
        let body = render_sub(s, sys);
        drop(g);
        Ok(self.answer(200, media, &ctx, body))
    }

    /// `GET /subscriptions`.
    pub fn query_subscriptions(&self, req: &Req) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        let limit = p.usize("limit")?.unwrap_or(20);
        let offset = p.usize("offset")?.unwrap_or(0);
        let count = p.bool("count")?;
        if limit > self.cfg.max_limit {
            return Err(NgsiError::TooManyResults(format!("limit: at most {}", self.cfg.max_limit)));
        }
        if limit == 0 && !count {
            return Err(NgsiError::bad("limit: 0 only with count=true"));
        }
        let sys = p.option("sysAttrs");
        let g = rlock(&self.tenants);
        let all: Vec<&Subscription> = g.get(&tenant).map(|t| t.subs.values().collect()).unwrap_or_default();
        let total = all.len();
        let page: Vec<Value> = all.iter().skip(offset).take(limit).map(|s| render_sub(s, sys)).collect();
        drop(g);
        let mut out = self.answer(200, media, &ctx, Value::Array(page));
        if req.link.is_none() {
            out.headers.retain(|(k, _)| k != "Link");
        }
        let link = |o: usize| {
            format!(
                "</ngsi-ld/v1/subscriptions?limit={limit}&offset={o}>;rel=\"{}\";type=\"application/ld+json\"",
                if o < offset { "prev" } else { "next" }
            )
        };
        let mut links = Vec::new();
        if offset > 0 && limit > 0 {
            links.push(link(offset.saturating_sub(limit)));
        }
        if limit > 0 && offset + limit < total {
            links.push(link(offset + limit));
        }
        if !links.is_empty() {
            out = out.header("Link", links.join(","));
        }
        if count {
            out = out.header("NGSILD-Results-Count", total.to_string());
        }
        Ok(out)
    }

    /// `PATCH /subscriptions/{id}`.
    pub fn update_subscription(&self, req: &Req, id: &str, body: &[u8]) -> Result<Out, NgsiError> {
        if !crate::util::is_uri(id) {
            return Err(NgsiError::bad(format!("subscription id {id:?} is not a URI")));
        }
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let mut m = object(v, "subscription")?;
        let new_ctx = m.remove("@context");
        if m.get("id").is_some_and(|x| x.as_str() != Some(id)) {
            return Err(NgsiError::bad("id: differs from the URL's"));
        }
        m.remove("id");
        validate(&m, &ctx, false)?;
        let mut g = wlock(&self.tenants);
        let s = g
            .get_mut(&tenant)
            .and_then(|t| t.subs.get_mut(id))
            .ok_or_else(|| NgsiError::not_found(format!("subscription {id} not found")))?;
        let mut n = s.clone();
        if let Some(a) = m.get("isActive").and_then(|v| v.as_bool()) {
            n.active = a;
        }
        for (k, v) in m {
            if v.is_null() {
                n.spec.remove(&k);
            } else if k == "notification" {
                let mut merged = n.spec.get("notification").cloned().unwrap_or(json!({}));
                if let (Some(o), Some(new)) = (merged.as_object_mut(), v.as_object()) {
                    for (a, b) in new {
                        o.insert(a.clone(), b.clone());
                    }
                }
                n.spec.insert(k, merged);
            } else {
                n.spec.insert(k, v);
            }
        }
        if let Some(c) = new_ctx {
            n.ctx = c;
        } else if req.link.is_some() {
            n.ctx = ctx.raw.clone();
        }
        n.modified_at = crate::time::now_iso();
        self.persist_sub(&tenant, &n)?;
        *s = n;
        Ok(Out::empty(204))
    }

    /// `DELETE /subscriptions/{id}`.
    pub fn delete_subscription(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        if !crate::util::is_uri(id) {
            return Err(NgsiError::bad(format!("subscription id {id:?} is not a URI")));
        }
        let tenant = self.begin(req, true)?;
        let mut g = wlock(&self.tenants);
        let t = g.get_mut(&tenant).ok_or_else(|| NgsiError::not_found(format!("subscription {id} not found")))?;
        if !t.subs.contains_key(id) {
            return Err(NgsiError::not_found(format!("subscription {id} not found")));
        }
        self.commit(&[Write::DelSub { tenant: tenant.clone(), id: id.into() }])?;
        t.subs.remove(id);
        Ok(Out::empty(204))
    }

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
            for s in t.subs.values_mut() {
                if !s.active || expired(s, now) || s.spec.contains_key("timeInterval") {
                    continue;
                }
                if let Some(th) = s.spec.get("throttling").and_then(Value::as_f64) {
                    if now - s.last_sent_s < th {
                        continue;
                    }
                }
                let Ok(ctx) = self.contexts.resolve(&s.ctx) else { continue };
                let deleted: Vec<&Entity> = changes
                    .iter()
                    .filter(|c| c.new.is_none() && sub_matches(s, &ctx, c))
                    .filter_map(|c| c.old.as_ref())
                    .collect();
                let hits: Vec<&Entity> = changes
                    .iter()
                    .filter(|c| c.new.is_some() && sub_matches(s, &ctx, c))
                    .filter_map(|c| c.new.as_ref())
                    .collect();
                if hits.is_empty() && deleted.is_empty() {
                    continue;
                }
                s.last_sent_s = now;
                if let Some(job) = self.job(tenant, s, &ctx, &hits, &deleted) {
                    jobs.push(job);
                }
            }
        }
        for j in jobs {
            match self.notifier.tx.try_send(j) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.notifier.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }

    fn job(&self, tenant: &str, s: &Subscription, ctx: &ActiveContext, hits: &[&Entity], deleted: &[&Entity]) -> Option<Job> {
        let n = s.spec.get("notification")?;
        let url = n.pointer("/endpoint/uri")?.as_str()?.to_string();
        if !self.notifier.allowed(&url) {
            return None;
        }
        let mut o = RenderOpts::new();
        o.format = match n.get("format").and_then(Value::as_str) {
            Some("keyValues") => Format::KeyValues,
            Some("concise") => Format::Concise,
            _ => Format::Normalized,
        };
        o.sys_attrs = n.get("sysAttrs").and_then(Value::as_bool).unwrap_or(false);
        if let Some(a) = n.get("attributes").and_then(Value::as_array) {
            if !a.is_empty() {
                o.pick = Some(a.iter().filter_map(Value::as_str).map(|x| ctx.expand(x)).collect());
            }
        }
        let now = crate::time::now_iso();
        let mut data: Vec<Value> = hits.iter().map(|e| Value::Object(render::entity(e, ctx, &o))).collect();
        // A deleted entity: id, type and when.
        data.extend(deleted.iter().map(|e| json!({"id": e.id, "type": render::types_out(&e.types, ctx), "deletedAt": now})));
        let accept = n.pointer("/endpoint/accept").and_then(Value::as_str).unwrap_or("application/json");
        let mut body = json!({
            "id": format!("urn:ngsi-ld:Notification:{}", uuid()),
            "type": "Notification",
            "subscriptionId": s.id,
            "notifiedAt": crate::time::now_iso(),
            "data": data,
        });
        let mut headers = vec![];
        if accept == "application/ld+json" {
            body["@context"] = ctx.output();
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
        Some(Job {
            tenant: tenant.into(),
            sub: s.id.clone(),
            url,
            headers,
            body: body.to_string().into_bytes(),
            at: std::time::Instant::now(),
        })
    }

    /// Queue the notifications of `timeInterval` subscriptions that are due.
    fn periodic(&self) {
        let now = now_s();
        let mut jobs = Vec::new();
        {
            let mut g = wlock(&self.tenants);
            for (tenant, t) in g.iter_mut() {
                let crate::service::Tenant { entities, subs, .. } = t;
                for s in subs.values_mut() {
                    let Some(iv) = s.spec.get("timeInterval").and_then(Value::as_f64) else { continue };
                    if !s.active || expired(s, now) || now - s.last_sent_s < iv {
                        continue;
                    }
                    let Ok(ctx) = self.contexts.resolve(&s.ctx) else { continue };
                    let hits: Vec<&Entity> = entities
                        .values()
                        .filter(|e| {
                            let c = Change { history: None, id: e.id.clone(), old: None, new: Some((*e).clone()) };
                            let mut probe = s.clone();
                            probe.spec.remove("notificationTrigger");
                            probe.spec.remove("watchedAttributes");
                            sub_matches(&probe, &ctx, &c)
                        })
                        .collect();
                    s.last_sent_s = now;
                    if hits.is_empty() {
                        continue;
                    }
                    if let Some(j) = self.job(tenant, s, &ctx, &hits, &[]) {
                        jobs.push(j);
                    }
                }
            }
        }
        for j in jobs {
            if self.notifier.tx.try_send(j).is_err() {
                self.notifier.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// A worker posted `job`.
    fn notified(&self, job: &Job, ok: bool) {
        let now = crate::time::now_iso();
        let mut g = wlock(&self.tenants);
        if let Some(s) = g.get_mut(&job.tenant).and_then(|t| t.subs.get_mut(&job.sub)) {
            s.last_notification = Some(now.clone());
            if ok {
                s.times_sent += 1;
                s.last_success = Some(now);
            } else {
                s.times_sent += 1;
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

/// The triggers a change fires: entity-level, and attribute-level by expanded name.
fn fired(c: &Change) -> (Option<&'static str>, Vec<(&'static str, String)>) {
    match (&c.old, &c.new) {
        (None, Some(n)) => (Some("entityCreated"), n.attrs.keys().map(|k| ("attributeCreated", k.clone())).collect()),
        (Some(_), None) => (Some("entityDeleted"), Vec::new()),
        (Some(o), Some(n)) => {
            let mut a = Vec::new();
            for (k, v) in &n.attrs {
                match o.attrs.get(k) {
                    None => a.push(("attributeCreated", k.clone())),
                    Some(ov) if ov != v => a.push(("attributeUpdated", k.clone())),
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

fn sub_matches(s: &Subscription, ctx: &ActiveContext, c: &Change) -> bool {
    let Some(e) = c.new.as_ref().or(c.old.as_ref()) else { return false };
    let triggers: Vec<String> = match s.spec.get("notificationTrigger").and_then(Value::as_array) {
        Some(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        None => ["entityCreated", "entityUpdated", "attributeCreated", "attributeUpdated"].map(String::from).to_vec(),
    };
    let (entity_event, attr_events) = fired(c);
    let watched: Option<Vec<String>> = s
        .spec
        .get("watchedAttributes")
        .and_then(Value::as_array)
        .map(|w| w.iter().filter_map(Value::as_str).map(|a| ctx.expand(a)).collect());
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

/// A random version-4 UUID (from the OS's hashing seed and a counter; unique, not secret).
pub fn uuid() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    let a = h.finish();
    let mut h2 = RandomState::new().build_hasher();
    h2.write_u64(a ^ 0x9e37_79b9_7f4a_7c15);
    let b = h2.finish();
    let x = ((a as u128) << 64) | b as u128;
    let s = format!("{x:032x}");
    format!("{}-{}-4{}-a{}-{}", &s[0..8], &s[8..12], &s[13..16], &s[17..20], &s[20..32])
}
