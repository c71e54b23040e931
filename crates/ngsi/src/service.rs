//! [`Ngsi`]: the capability's state (tenants with their entities and subscriptions, the
//! context resolver, the SQLite file, the notification worker) and the plumbing every
//! call shares: tenant → dataset → `Brain::authorize`, content types, `@context` of the
//! request, and the answer's `@context` or `Link`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock, Weak};

use brain::{Action, Brain, Caller};
use serde_json::{Map, Value};

use crate::context::{ActiveContext, ContextConfig, Contexts};
use crate::db::{Db, Write};
use crate::error::NgsiError;
use crate::model::Entity;
use crate::notify::Notifier;
use crate::params::Params;
use crate::subs::Subscription;

/// Says whether a tenant (a department id) exists.
pub type TenantCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// How the capability is set up.
#[derive(Clone)]
pub struct NgsiConfig {
    /// The SQLite file (`None`: memory only).
    pub db_path: Option<PathBuf>,
    pub contexts: ContextConfig,
    /// Which `NGSILD-Tenant` values exist (governance's departments). `None`: tenants are
    /// created by their first write, as the spec describes for a broker without
    /// governance.
    pub tenants: Option<TenantCheck>,
    /// URL prefixes notifications may be posted to (empty: loopback only).
    pub notify_allow: Vec<String>,
    /// Largest page (`limit`).
    pub max_limit: usize,
    /// Show the brain's own data as entities of the default tenant ([`crate::brainmap`]).
    pub brain_entities: bool,
    /// Most attribute instances in one entity's temporal representation; beyond, the
    /// answer is cut in time and is 206 with a `Content-Range` (6.3.10).
    pub temporal_max_instances: usize,
}

impl Default for NgsiConfig {
    fn default() -> Self {
        NgsiConfig {
            db_path: None,
            contexts: ContextConfig::default(),
            tenants: None,
            notify_allow: Vec::new(),
            max_limit: 1000,
            brain_entities: true,
            temporal_max_instances: 1000,
        }
    }
}

/// One tenant's data.
#[derive(Default)]
pub struct Tenant {
    pub entities: BTreeMap<String, Entity>,
    pub subs: BTreeMap<String, Subscription>,
    /// Context source registrations ([`crate::csr`]).
    pub regs: BTreeMap<String, crate::csr::Registration>,
}

/// A request as the edge hands it over.
#[derive(Clone, Debug, Default)]
pub struct Req {
    pub caller: Caller,
    pub tenant: Option<String>,
    /// The `Link` header.
    pub link: Option<String>,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    /// The raw query string.
    pub query: Option<String>,
}

/// An answer, independent of the HTTP library.
#[derive(Clone, Debug, PartialEq)]
pub struct Out {
    pub status: u16,
    pub body: Option<Value>,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
}

impl Out {
    pub fn empty(status: u16) -> Out {
        Out { status, body: None, content_type: String::new(), headers: Vec::new() }
    }
    pub fn error(e: &NgsiError) -> Out {
        Out { status: e.status(), body: Some(e.problem()), content_type: "application/json".into(), headers: Vec::new() }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Out {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// The answer media types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Json,
    LdJson,
    GeoJson,
}

pub struct Ngsi {
    pub(crate) cfg: NgsiConfig,
    pub contexts: Contexts,
    pub(crate) db: Db,
    pub(crate) tenants: RwLock<HashMap<String, Tenant>>,
    brain: OnceLock<Weak<Brain>>,
    pub(crate) notifier: Notifier,
}

pub(crate) fn rlock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn wlock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Ngsi {
    /// Open the capability (loads what the file holds).
    pub fn open(cfg: NgsiConfig) -> Result<Arc<Ngsi>, NgsiError> {
        let (db, loaded) = Db::open(cfg.db_path.as_deref())?;
        let contexts = Contexts::new(cfg.contexts.clone());
        for (url, kind, body) in loaded.contexts {
            if let Ok(v) = serde_json::from_str::<Value>(&body) {
                // `hosted@<tenant>`; `hosted` alone was written before hosts were kept
                // and is the default tenant's.
                match (kind.as_str(), kind.strip_prefix("hosted")) {
                    (_, Some(t)) => contexts.store_hosted(&url, v, t.strip_prefix('@').unwrap_or("")),
                    ("implicitlycreated", _) => {
                        contexts.store_doc(&url, v, "implicitlycreated");
                    }
                    _ => {
                        contexts.store_doc(&url, v, "cached");
                    }
                }
            }
        }
        let mut tenants: HashMap<String, Tenant> = HashMap::new();
        for (t, id, body) in loaded.entities {
            match serde_json::from_str::<Entity>(&body) {
                Ok(e) => {
                    tenants.entry(t).or_default().entities.insert(id, e);
                }
                Err(e) => tracing::warn!("ngsi: stored entity {id} unreadable: {e}"),
            }
        }
        for (t, id, body) in loaded.subs {
            match serde_json::from_str::<Subscription>(&body) {
                Ok(s) => {
                    tenants.entry(t).or_default().subs.insert(id, s);
                }
                Err(e) => tracing::warn!("ngsi: stored subscription {id} unreadable: {e}"),
            }
        }
        for (t, id, body) in loaded.regs {
            match serde_json::from_str::<crate::csr::Registration>(&body) {
                Ok(r) => {
                    tenants.entry(t).or_default().regs.insert(id, r);
                }
                Err(e) => tracing::warn!("ngsi: stored registration {id} unreadable: {e}"),
            }
        }
        let n = Arc::new(Ngsi {
            notifier: Notifier::new(cfg.notify_allow.clone()),
            cfg,
            contexts,
            db,
            tenants: RwLock::new(tenants),
            brain: OnceLock::new(),
        });
        n.notifier.start(Arc::downgrade(&n));
        Ok(n)
    }

    /// Open, attach to `brain` and offer the service to the edge.
    pub fn install(brain: &Arc<Brain>, cfg: NgsiConfig) -> Result<Arc<Ngsi>, NgsiError> {
        let n = Ngsi::open(cfg)?;
        let _ = n.brain.set(Arc::downgrade(brain));
        brain.provide(n.clone());
        if n.cfg.brain_entities {
            crate::brainmap::install(brain, &n);
        }
        Ok(n)
    }

    pub fn brain(&self) -> Option<Arc<Brain>> {
        self.brain.get().and_then(Weak::upgrade)
    }

    /// The dataset a tenant's data is: `ngsi-ld` (default tenant) or `ngsi-ld:<tenant>`.
    pub fn dataset(tenant: &str) -> String {
        if tenant.is_empty() {
            "ngsi-ld".into()
        } else {
            format!("ngsi-ld:{tenant}")
        }
    }

    /// Check the tenant and authorise `caller` to read or write it; the tenant's key.
    pub(crate) fn begin(&self, req: &Req, write: bool) -> Result<String, NgsiError> {
        for (k, _) in &Ngsi::params(req).0 {
            if !KNOWN_PARAMS.contains(&k.as_str()) {
                return Err(NgsiError::invalid(format!("{k}: not a parameter of the NGSI-LD API")));
            }
        }
        let t = req.tenant.as_deref().map(str::trim).unwrap_or("").to_string();
        if !t.is_empty() {
            if t.len() > 256 || !crate::model::valid_name(&t) {
                return Err(NgsiError::bad("NGSILD-Tenant: not a valid tenant name"));
            }
            let exists = match &self.cfg.tenants {
                Some(f) => f(&t),
                None => write || rlock(&self.tenants).contains_key(&t),
            };
            if !exists {
                return Err(NgsiError::NonexistentTenant(format!("tenant {t} does not exist")));
            }
        }
        self.authorize_tenant(req, &t, write)?;
        Ok(t)
    }

    /// The one check for reading or writing `tenant`'s data.
    pub(crate) fn authorize_tenant(&self, req: &Req, tenant: &str, write: bool) -> Result<(), NgsiError> {
        let b = self.brain().ok_or_else(|| NgsiError::Unavailable("the NGSI-LD service is not attached to a brain".into()))?;
        let ds = Ngsi::dataset(tenant);
        let action = if write { Action::Write { dataset: &ds } } else { Action::Read { dataset: &ds } };
        b.authorize(&req.caller, action)?;
        Ok(())
    }

    /// The context of a request without a body: the `Link` header's, or the core.
    pub(crate) fn link_ctx(&self, req: &Req) -> Result<Arc<ActiveContext>, NgsiError> {
        match &req.link {
            None => Ok(self.contexts.core()),
            Some(l) => {
                let url = parse_link(l)?;
                self.contexts.resolve(&Value::String(url))
            }
        }
    }

    /// Parse a JSON body by its content type and find its context: `application/json`
    /// takes it from `Link` (an `@context` member is an error); `application/ld+json`
    /// from the body's `@context` (a `Link` is then an error).
    pub(crate) fn body(&self, req: &Req, body: &[u8]) -> Result<(Arc<ActiveContext>, Value), NgsiError> {
        let ct = media_type(req.content_type.as_deref());
        let ld = match ct.as_str() {
            "application/json" => false,
            "application/ld+json" => true,
            "application/merge-patch+json" => false,
            "" => {
                return Err(NgsiError::UnsupportedMediaType(
                    "Content-Type: missing (application/json or application/ld+json)".into(),
                ))
            }
            other => return Err(NgsiError::UnsupportedMediaType(format!("Content-Type: {other} is not supported"))),
        };
        let v: Value = serde_json::from_slice(body).map_err(|e| NgsiError::invalid(format!("body: not JSON: {e}")))?;
        if depth(&v, 0) > 64 {
            return Err(NgsiError::bad("body: nested deeper than 64"));
        }
        let ctx = self.value_ctx(req, &v, ld)?;
        Ok((ctx, v))
    }

    /// The context of one parsed item (an entity of a batch).
    pub(crate) fn value_ctx(&self, req: &Req, v: &Value, ld: bool) -> Result<Arc<ActiveContext>, NgsiError> {
        let inline = v.as_object().and_then(|m| m.get("@context"));
        if ld {
            if req.link.is_some() {
                return Err(NgsiError::bad("Link: not allowed with application/ld+json (the @context is in the body)"));
            }
            match inline {
                Some(c) => self.contexts.resolve(c),
                None if v.is_array() => Ok(self.contexts.core()),
                None => Err(NgsiError::bad("@context: missing in an application/ld+json body")),
            }
        } else {
            if inline.is_some() {
                return Err(NgsiError::bad("@context: not allowed in an application/json body (use a Link header)"));
            }
            self.link_ctx(req)
        }
    }

    pub(crate) fn is_ld(req: &Req) -> bool {
        media_type(req.content_type.as_deref()) == "application/ld+json"
    }

    /// What the client accepts (406 when none of ours).
    pub(crate) fn accept(req: &Req, geo: bool) -> Result<Media, NgsiError> {
        let Some(a) = req.accept.as_deref() else { return Ok(Media::Json) };
        let mut best: Option<(f32, Media)> = None;
        for part in a.split(',') {
            let mut it = part.split(';');
            let mt = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|x| x.parse::<f32>().ok())).unwrap_or(1.0);
            let m = match mt.as_str() {
                "application/json" | "application/*" | "*/*" => Media::Json,
                "application/ld+json" => Media::LdJson,
                "application/geo+json" if geo => Media::GeoJson,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, m));
            }
        }
        best.map(|(_, m)| m).ok_or_else(|| NgsiError::NotAcceptable(format!("Accept: none of {a:?} is served here")))
    }

    /// An answer in the accepted media type: `@context` inside for JSON-LD, a `Link` header
    /// for plain JSON.
    pub(crate) fn answer(&self, status: u16, media: Media, ctx: &ActiveContext, mut body: Value) -> Out {
        let link = format!("<{}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"", ctx.link_url());
        match media {
            Media::LdJson => {
                let c = ctx.output();
                match &mut body {
                    Value::Object(m) => {
                        m.insert("@context".into(), c);
                    }
                    Value::Array(a) => {
                        for x in a {
                            if let Value::Object(m) = x {
                                m.insert("@context".into(), c.clone());
                            }
                        }
                    }
                    _ => {}
                }
                Out { status, body: Some(body), content_type: "application/ld+json".into(), headers: Vec::new() }
            }
            Media::Json => {
                Out { status, body: Some(body), content_type: "application/json".into(), headers: vec![("Link".into(), link)] }
            }
            Media::GeoJson => {
                if let Value::Object(m) = &mut body {
                    m.insert("@context".into(), ctx.output());
                }
                Out { status, body: Some(body), content_type: "application/geo+json".into(), headers: Vec::new() }
            }
        }
    }

    /// Commit `writes`, then run `apply` on the tenant map (durable before visible).
    pub(crate) fn commit(&self, writes: &[Write]) -> Result<(), NgsiError> {
        self.db.apply(writes)
    }

    pub(crate) fn params(req: &Req) -> Params {
        Params::parse(req.query.as_deref())
    }
}

/// Every query parameter of the API; anything else is an InvalidRequest.
pub const KNOWN_PARAMS: [&str; 50] = [
    "type",
    "id",
    "idPattern",
    "attrs",
    "pick",
    "omit",
    "q",
    "csf",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "geometryProperty",
    "timeproperty",
    "timerel",
    "timeAt",
    "endTimeAt",
    "lastN",
    "limit",
    "offset",
    "count",
    "options",
    "format",
    "lang",
    "scopeQ",
    "datasetId",
    "deleteAll",
    "details",
    "kind",
    "reload",
    "local",
    "expandValues",
    "join",
    "joinLevel",
    "containedBy",
    "dataset",
    "entityMap",
    "orderBy",
    "collectPropertyValues",
    "aggrMethods",
    "aggrPeriodDuration",
    "dropAttrs",
    "drop",
    "keep",
    "observationSpace",
    "operationSpace",
    "doNotCompact",
    "jsonKeys",
    "showChanges",
    "via",
];

/// The media type of a Content-Type value, lower case, without parameters.
pub fn media_type(ct: Option<&str>) -> String {
    ct.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// The URL of a JSON-LD context `Link` header.
pub fn parse_link(l: &str) -> Result<String, NgsiError> {
    let l = l.trim();
    let start = l.find('<').ok_or_else(|| NgsiError::bad("Link: expected <URL>; rel=..."))?;
    let end = l[start..].find('>').ok_or_else(|| NgsiError::bad("Link: unterminated <URL>"))? + start;
    let url = l[start + 1..end].trim().to_string();
    if !crate::util::is_uri(&url) {
        return Err(NgsiError::bad(format!("Link: {url:?} is not a URL")));
    }
    Ok(url)
}

fn depth(v: &Value, d: usize) -> usize {
    if d > 64 {
        return d;
    }
    match v {
        Value::Array(a) => a.iter().map(|x| depth(x, d + 1)).max().unwrap_or(d + 1),
        Value::Object(m) => m.values().map(|x| depth(x, d + 1)).max().unwrap_or(d + 1),
        _ => d,
    }
}

/// The body as an object (400 otherwise).
pub(crate) fn object(v: Value, what: &str) -> Result<Map<String, Value>, NgsiError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(NgsiError::bad(format!("{what}: a JSON object is expected"))),
    }
}

impl Ngsi {
    /// How many entities a tenant holds (`""`: the default tenant).
    pub fn count_entities(&self, tenant: &str) -> usize {
        rlock(&self.tenants).get(tenant).map_or(0, |t| t.entities.len())
    }
}
