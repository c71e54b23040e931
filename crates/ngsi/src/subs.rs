//! Subscriptions (`/subscriptions`): validation, storage and the answers. A write never
//! waits for a notification: [`crate::notify`] finds the matching subscriptions after the
//! commit and queues their notifications.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::ActiveContext;
use crate::db::Write;
use crate::entities::parse_type_param;
use crate::error::NgsiError;
use crate::geo::GeoQuery;
use crate::service::{object, rlock, wlock, Ngsi, Out, Req};

/// A subscription as stored: the client's description (entity types and attribute names
/// expanded, `q` as given, its `@context` kept beside) and the broker's bookkeeping.
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
    /// Who subscribed (see [`crate::subowner`]).
    #[serde(default)]
    pub subscriber: Option<crate::subowner::Subscriber>,
    /// Creation order within the tenant (1, 2, ...): subscriptions are listed in it.
    /// Stored before this field existed: 0, listed first, by creation time then id.
    #[serde(default)]
    pub seq: u64,
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

pub(crate) fn expired(s: &Subscription, now: f64) -> bool {
    s.spec.get("expiresAt").and_then(Value::as_str).and_then(crate::time::secs).is_some_and(|t| t <= now)
}

pub(crate) fn now_s() -> f64 {
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
                if !matches!(f.as_str(), Some("normalized" | "keyValues" | "simplified" | "concise")) {
                    return Err(NgsiError::bad("notification.format: normalized, concise or keyValues"));
                }
            }
            validate_projection(n)?;
            for k in ["showChanges", "sysAttrs"] {
                if n.get(k).is_some_and(|v| !v.is_boolean()) {
                    return Err(NgsiError::bad(format!("notification.{k}: true or false")));
                }
            }
            if let Some(j) = n.get("join") {
                if !matches!(j.as_str(), Some("flat" | "inline" | "@none")) {
                    return Err(NgsiError::bad("notification.join: flat, inline or @none"));
                }
            }
            if n.get("joinLevel").is_some_and(|v| v.as_u64().is_none_or(|l| l < 1)) {
                return Err(NgsiError::bad("notification.joinLevel: a positive integer"));
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
        if t <= now_s() {
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
    if let Some(t) = m.get("notificationTrigger") {
        const KNOWN: [&str; 6] =
            ["entityCreated", "entityUpdated", "entityDeleted", "attributeCreated", "attributeUpdated", "attributeDeleted"];
        if !t.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.as_str().is_some_and(|x| KNOWN.contains(&x)))) {
            return Err(NgsiError::bad("notificationTrigger: a non-empty array of entity/attribute Created/Updated/Deleted"));
        }
    }
    if let Some(d) = m.get("datasetId") {
        if !d.as_array().is_some_and(|a| a.iter().all(|x| x.as_str().is_some_and(|x| x == "@none" || crate::util::is_uri(x)))) {
            return Err(NgsiError::bad("datasetId: an array of URIs"));
        }
    }
    if let Some(j) = m.get("jsonldContext") {
        if !j.as_str().is_some_and(crate::util::is_uri) {
            return Err(NgsiError::bad("jsonldContext: the URI of a context"));
        }
    }
    if let Some(a) = m.get("isActive") {
        if !a.is_boolean() {
            return Err(NgsiError::bad("isActive: true or false"));
        }
    }
    Ok(())
}

/// `notification.attributes`, `pick` and `omit`: arrays of names; `pick` and `omit` not
/// with `attributes`, and no member both picked and omitted (4.21).
fn validate_projection(n: &Value) -> Result<(), NgsiError> {
    let mut given = Vec::new();
    for k in ["attributes", "pick", "omit"] {
        if let Some(a) = n.get(k) {
            let names = a
                .as_array()
                .filter(|a| a.iter().all(|x| x.as_str().is_some_and(crate::model::valid_name)))
                .ok_or_else(|| NgsiError::bad(format!("notification.{k}: an array of names")))?;
            given.push((k, names));
        }
    }
    let has = |k: &str| given.iter().any(|(x, _)| *x == k);
    if has("attributes") && (has("pick") || has("omit")) {
        return Err(NgsiError::bad("notification: pick and omit exclude attributes"));
    }
    if let (Some((_, p)), Some((_, o))) = (given.iter().find(|(k, _)| *k == "pick"), given.iter().find(|(k, _)| *k == "omit")) {
        if p.iter().any(|x| o.contains(x)) {
            return Err(NgsiError::bad("notification: a member both picked and omitted"));
        }
    }
    Ok(())
}

/// Map the terms of a subscription (entity types, watched, notified, picked and omitted
/// attributes, the geoproperty) with `f`: expanded to store, compacted to answer.
fn map_terms(m: &mut Map<String, Value>, f: &dyn Fn(&str) -> String) {
    let simple = |t: &str| !t.contains([',', ';', '|', '(', ')']);
    if let Some(Value::Array(es)) = m.get_mut("entities") {
        for e in es {
            if let Some(Value::String(t)) = e.get_mut("type") {
                if simple(t) {
                    *t = f(t);
                }
            }
        }
    }
    let list = |v: Option<&mut Value>| {
        if let Some(Value::Array(a)) = v {
            for x in a {
                if let Value::String(s) = x {
                    if s != "id" && s != "type" {
                        *s = f(s);
                    }
                }
            }
        }
    };
    list(m.get_mut("watchedAttributes"));
    if let Some(Value::Object(n)) = m.get_mut("notification") {
        for k in ["attributes", "pick", "omit"] {
            list(n.get_mut(k));
        }
    }
    if let Some(Value::Object(g)) = m.get_mut("geoQ") {
        if let Some(Value::String(p)) = g.get_mut("geoproperty") {
            *p = f(p);
        }
    }
}

pub(crate) fn geo_of(g: &Value, ctx: &ActiveContext) -> Result<GeoQuery, NgsiError> {
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
fn render_sub(s: &Subscription, sys: bool, ctx: &ActiveContext) -> Value {
    let mut m = s.spec.clone();
    map_terms(&mut m, &|t| ctx.compact(t));
    if !m.contains_key("notificationTrigger") {
        m.insert("notificationTrigger".into(), json!(crate::notify::DEFAULT_TRIGGERS));
    }
    m.insert("id".into(), s.id.clone().into());
    m.insert("type".into(), "Subscription".into());
    let now = now_s();
    if s.spec.contains_key("isActive") || !s.active {
        m.insert("isActive".into(), Value::Bool(s.active));
    }
    m.insert("status".into(), sub_status(s, now).into());
    if let Some(Value::Object(n)) = m.get_mut("notification") {
        // The counters (cardinality 0..1) are shown once there is something to count, as
        // lastNotification/lastSuccess/lastFailure are: a new subscription has none.
        if s.times_sent > 0 {
            n.insert("timesSent".into(), s.times_sent.into());
        }
        if s.times_failed > 0 {
            n.insert("timesFailed".into(), s.times_failed.into());
        }
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

    /// A `jsonldContext` must be a context the brain can resolve (offline: the core, the
    /// allow-list or a preloaded document), else 503 `LdContextNotAvailable`.
    fn check_jsonld_context(&self, m: &Map<String, Value>) -> Result<(), NgsiError> {
        match m.get("jsonldContext") {
            Some(j) => self.contexts.resolve(j).map(|_| ()),
            None => Ok(()),
        }
    }

    /// `POST /subscriptions`.
    pub fn create_subscription(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        // A standing read: whoever may read the tenant may subscribe to it.
        let tenant = self.begin(req, false)?;
        let (ctx, v) = self.body(req, body)?;
        let mut m = object(v, "subscription")?;
        let raw_ctx = m.remove("@context").unwrap_or_else(|| ctx.raw.clone());
        validate(&m, &ctx, true)?;
        self.check_jsonld_context(&m)?;
        // A composite @context becomes an implicitly created one, named by jsonldContext.
        let composite =
            raw_ctx.is_object() || raw_ctx.as_array().is_some_and(|a| a.len() > 1 || a.iter().any(|x| !x.is_string()));
        if composite && !m.contains_key("jsonldContext") {
            m.insert("jsonldContext".into(), self.implicit_context(&raw_ctx)?.into());
        }
        map_terms(&mut m, &|t| ctx.expand(t));
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
            subscriber: Some(crate::subowner::Subscriber::of(&req.caller)),
            seq: 0,
        };
        {
            let mut s = s;
            let mut g = wlock(&self.tenants);
            let t = g.entry(tenant.clone()).or_default();
            if t.subs.contains_key(&id) {
                return Err(NgsiError::AlreadyExists(format!("subscription {id} already exists")));
            }
            s.seq = t.subs.values().map(|x| x.seq).max().unwrap_or(0) + 1;
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
            .filter(|s| self.owns_sub(&req.caller, &tenant, s))
            .ok_or_else(|| NgsiError::not_found(format!("subscription {id} not found")))?;
        let body = render_sub(s, sys, &ctx);
        drop(g);
        Ok(self.answer(200, media, &ctx, body))
    }

    /// `GET /subscriptions`.
    pub fn query_subscriptions(&self, req: &Req) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        let (limit, offset, count) = p.page(self.cfg.max_limit)?;
        let sys = p.option("sysAttrs");
        let g = rlock(&self.tenants);
        let mut all: Vec<&Subscription> = g
            .get(&tenant)
            .map(|t| t.subs.values().filter(|s| self.owns_sub(&req.caller, &tenant, s)).collect())
            .unwrap_or_default();
        // In creation order (the order clients made them; ids are often random).
        all.sort_by(|a, b| (a.seq, &a.created_at, &a.id).cmp(&(b.seq, &b.created_at, &b.id)));
        let total = all.len();
        let page: Vec<Value> = all.iter().skip(offset).take(limit).map(|s| render_sub(s, sys, &ctx)).collect();
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
        let tenant = self.begin(req, false)?;
        let (ctx, v) = self.body(req, body)?;
        let mut m = object(v, "subscription")?;
        let new_ctx = m.remove("@context");
        if m.get("id").is_some_and(|x| x.as_str() != Some(id)) {
            return Err(NgsiError::bad("id: differs from the URL's"));
        }
        m.remove("id");
        validate(&m, &ctx, false)?;
        self.check_jsonld_context(&m)?;
        map_terms(&mut m, &|t| ctx.expand(t));
        let mut g = wlock(&self.tenants);
        let s = g
            .get_mut(&tenant)
            .and_then(|t| t.subs.get_mut(id))
            .filter(|s| self.owns_sub(&req.caller, &tenant, s))
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
        let tenant = self.begin(req, false)?;
        let mut g = wlock(&self.tenants);
        let t = g.get_mut(&tenant).ok_or_else(|| NgsiError::not_found(format!("subscription {id} not found")))?;
        if !t.subs.get(id).is_some_and(|s| self.owns_sub(&req.caller, &tenant, s)) {
            return Err(NgsiError::not_found(format!("subscription {id} not found")));
        }
        self.commit(&[Write::DelSub { tenant: tenant.clone(), id: id.into() }])?;
        t.subs.remove(id);
        Ok(Out::empty(204))
    }
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
