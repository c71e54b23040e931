//! Context Source Registrations (`/csourceRegistrations`, ETSI GS CIM 009 5.2.9, 5.9,
//! 5.10): a registry of which context sources hold which entities, per tenant, kept in
//! `ngsi.sqlite`. Create, retrieve, query (by entity `type`, `id`, `idPattern`, `attrs`,
//! `georel` on `location`), update (merge of a fragment) and delete.
//!
//! What the brain does not do with them, and says so: it never contacts a registered
//! source (no distributed queries; the brain does not go online), so a query of entities
//! answers from the brain's own store alone. `q`, `csf` and `timerel` on registrations
//! are 422 `OperationNotSupported`; subscriptions to registrations
//! (`/csourceSubscriptions`) cannot be created (422), so their list is empty.
//!
//! Entity types and attribute names are stored expanded (with the request's
//! `@context`) and compacted on the way out with the reader's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::ActiveContext;
use crate::db::Write;
use crate::error::NgsiError;
use crate::model::valid_name;
use crate::service::{object, rlock, wlock, Media, Ngsi, Out, Req};
use crate::util::is_uri;

pub const TYPE: &str = "ContextSourceRegistration";
/// At most this many `information` items and entity selectors per item.
pub const MAX_ITEMS: usize = 100;

/// One `EntityInfo` of a registration (types expanded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_pattern: Option<String>,
    pub types: Vec<String>,
}

/// One `RegistrationInfo` (names expanded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegInfo {
    #[serde(default)]
    pub entities: Vec<EntityInfo>,
    #[serde(default)]
    pub property_names: Vec<String>,
    #[serde(default)]
    pub relationship_names: Vec<String>,
}

/// A stored registration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub id: String,
    pub information: Vec<RegInfo>,
    /// Every other member as given (names of additional properties expanded).
    pub members: Map<String, Value>,
    pub created_at: String,
    pub modified_at: String,
    /// The department whose writer registered it: only its principals see
    /// `contextSourceInfo` (what the broker would send the source, often a credential).
    #[serde(default)]
    pub registrant: Option<String>,
}

/// Members the spec defines besides `id`, `type` and `information`.
const KNOWN: [&str; 17] = [
    "registrationName",
    "description",
    "tenant",
    "observationInterval",
    "managementInterval",
    "location",
    "observationSpace",
    "operationSpace",
    "expiresAt",
    "endpoint",
    "contextSourceInfo",
    "scope",
    "mode",
    "operations",
    "refreshRate",
    "management",
    "cacheDuration",
];
/// Members the broker sets; ignored when given.
const READ_ONLY: [&str; 8] =
    ["status", "timesSent", "timesFailed", "lastSuccess", "lastFailure", "createdAt", "modifiedAt", "@context"];

fn bad(m: impl Into<String>) -> NgsiError {
    NgsiError::bad(m)
}

fn names(v: Option<&Value>, what: &str, ctx: &ActiveContext) -> Result<Vec<String>, NgsiError> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) if a.len() <= MAX_ITEMS => a
            .iter()
            .map(|x| match x.as_str() {
                Some(s) if valid_name(s) => Ok(ctx.expand(s)),
                _ => Err(bad(format!("{what}: {x} is not a name"))),
            })
            .collect(),
        Some(_) => Err(bad(format!("{what}: an array of at most {MAX_ITEMS} names is expected"))),
    }
}

fn parse_info(v: &Value, ctx: &ActiveContext) -> Result<Vec<RegInfo>, NgsiError> {
    let Some(items) = v.as_array().filter(|a| !a.is_empty() && a.len() <= MAX_ITEMS) else {
        return Err(bad(format!("information: a non-empty array of at most {MAX_ITEMS} items is expected")));
    };
    let mut out = Vec::new();
    for it in items {
        let m = it.as_object().ok_or_else(|| bad("information: each item is an object"))?;
        let mut ri = RegInfo {
            property_names: names(m.get("propertyNames"), "propertyNames", ctx)?,
            relationship_names: names(m.get("relationshipNames"), "relationshipNames", ctx)?,
            ..Default::default()
        };
        if let Some(es) = m.get("entities") {
            let es = es.as_array().filter(|a| !a.is_empty() && a.len() <= MAX_ITEMS).ok_or_else(|| {
                bad(format!("information.entities: a non-empty array of at most {MAX_ITEMS} EntityInfo is expected"))
            })?;
            for e in es {
                let e = e.as_object().ok_or_else(|| bad("information.entities: each EntityInfo is an object"))?;
                let types = match e.get("type") {
                    Some(Value::String(t)) if valid_name(t) => vec![ctx.expand(t)],
                    Some(Value::Array(ts)) if !ts.is_empty() && ts.len() <= MAX_ITEMS => ts
                        .iter()
                        .map(|t| t.as_str().filter(|t| valid_name(t)).map(|t| ctx.expand(t)))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("information.entities: type: not a list of type names"))?,
                    _ => return Err(bad("information.entities: every EntityInfo needs a type")),
                };
                let id = match e.get("id") {
                    None => None,
                    Some(Value::String(s)) if is_uri(s) => Some(s.clone()),
                    Some(x) => return Err(bad(format!("information.entities: id {x} is not a URI"))),
                };
                let id_pattern = match e.get("idPattern") {
                    None => None,
                    Some(Value::String(p)) => {
                        crate::query::compile(p).map_err(|e| bad(format!("information.entities: idPattern: {e}")))?;
                        Some(p.clone())
                    }
                    Some(_) => return Err(bad("information.entities: idPattern is a string")),
                };
                ri.entities.push(EntityInfo { id, id_pattern, types });
            }
        }
        if ri.entities.is_empty() && ri.property_names.is_empty() && ri.relationship_names.is_empty() {
            return Err(bad("information: an item needs entities, propertyNames or relationshipNames"));
        }
        out.push(ri);
    }
    Ok(out)
}

fn check_time(m: &Map<String, Value>, k: &str) -> Result<(), NgsiError> {
    match m.get(k) {
        None => Ok(()),
        Some(Value::String(s)) if crate::time::parse(s).is_some() => Ok(()),
        Some(x) => Err(bad(format!("{k}: {x} is not a DateTime"))),
    }
}

fn check_interval(m: &Map<String, Value>, k: &str) -> Result<(), NgsiError> {
    let Some(v) = m.get(k) else { return Ok(()) };
    let i = v.as_object().ok_or_else(|| bad(format!("{k}: a TimeInterval object is expected")))?;
    if i.get("startAt").is_none() {
        return Err(bad(format!("{k}: startAt is missing")));
    }
    check_time(i, "startAt")?;
    check_time(i, "endAt")
}

/// Validate the members other than `id`, `type` and `information`; the members to keep.
fn parse_members(m: &Map<String, Value>, ctx: &ActiveContext) -> Result<Map<String, Value>, NgsiError> {
    match m.get("endpoint") {
        Some(Value::String(e)) if is_uri(e) => {}
        Some(x) => return Err(bad(format!("endpoint: {x} is not a URI"))),
        None => return Err(bad("endpoint: missing")),
    }
    check_time(m, "expiresAt")?;
    check_interval(m, "observationInterval")?;
    check_interval(m, "managementInterval")?;
    for g in ["location", "observationSpace", "operationSpace"] {
        if let Some(v) = m.get(g) {
            crate::geo::Geometry::parse(v).map_err(|e| bad(format!("{g}: {e}")))?;
        }
    }
    for s in ["registrationName", "description", "tenant"] {
        if m.get(s).is_some_and(|v| !v.is_string()) {
            return Err(bad(format!("{s}: a string is expected")));
        }
    }
    if let Some(mode) = m.get("mode") {
        if !matches!(mode.as_str(), Some("inclusive" | "exclusive" | "redirect" | "auxiliary")) {
            return Err(bad("mode: one of inclusive, exclusive, redirect, auxiliary"));
        }
    }
    if m.get("operations").is_some_and(|v| !v.as_array().is_some_and(|a| a.iter().all(Value::is_string))) {
        return Err(bad("operations: an array of operation names is expected"));
    }
    if let Some(v) = m.get("contextSourceInfo") {
        let ok = v.as_array().is_some_and(|a| a.iter().all(|kv| kv.get("key").is_some_and(Value::is_string)));
        if !ok {
            return Err(bad("contextSourceInfo: an array of {key, value} is expected"));
        }
    }
    let mut out = Map::new();
    for (k, v) in m {
        if matches!(k.as_str(), "id" | "type" | "information") || READ_ONLY.contains(&k.as_str()) {
            continue;
        }
        if KNOWN.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        } else if valid_name(k) {
            out.insert(ctx.expand(k), v.clone());
        } else {
            return Err(bad(format!("{k:?} is not a member name")));
        }
    }
    Ok(out)
}

impl Registration {
    /// Parse a registration body (`now`: its creation time).
    pub fn parse(m: &Map<String, Value>, ctx: &ActiveContext, now: &str) -> Result<Registration, NgsiError> {
        if m.get("type").and_then(Value::as_str) != Some(TYPE) {
            return Err(bad(format!("type: must be {TYPE}")));
        }
        let id = match m.get("id") {
            None => format!("urn:ngsi-ld:{TYPE}:{}", crate::subs::uuid()),
            Some(Value::String(s)) if is_uri(s) => s.clone(),
            Some(x) => return Err(bad(format!("id: {x} is not a URI"))),
        };
        let information = parse_info(m.get("information").ok_or_else(|| bad("information: missing"))?, ctx)?;
        let members = parse_members(m, ctx)?;
        Ok(Registration { id, information, members, created_at: now.into(), modified_at: now.into(), registrant: None })
    }

    /// The registration as JSON, compacted with `ctx`.
    pub fn render(&self, ctx: &ActiveContext, sys_attrs: bool) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("type".into(), TYPE.into());
        let info: Vec<Value> = self
            .information
            .iter()
            .map(|ri| {
                let mut o = Map::new();
                if !ri.entities.is_empty() {
                    let es: Vec<Value> = ri
                        .entities
                        .iter()
                        .map(|e| {
                            let mut x = Map::new();
                            if let Some(i) = &e.id {
                                x.insert("id".into(), i.clone().into());
                            }
                            if let Some(p) = &e.id_pattern {
                                x.insert("idPattern".into(), p.clone().into());
                            }
                            x.insert("type".into(), crate::render::types_out(&e.types, ctx));
                            Value::Object(x)
                        })
                        .collect();
                    o.insert("entities".into(), es.into());
                }
                let compact = |v: &[String]| Value::from(v.iter().map(|n| ctx.compact(n)).collect::<Vec<_>>());
                if !ri.property_names.is_empty() {
                    o.insert("propertyNames".into(), compact(&ri.property_names));
                }
                if !ri.relationship_names.is_empty() {
                    o.insert("relationshipNames".into(), compact(&ri.relationship_names));
                }
                Value::Object(o)
            })
            .collect();
        m.insert("information".into(), info.into());
        for (k, v) in &self.members {
            let k = if KNOWN.contains(&k.as_str()) { k.clone() } else { ctx.compact(k) };
            m.insert(k, v.clone());
        }
        if sys_attrs {
            m.insert("createdAt".into(), self.created_at.clone().into());
            m.insert("modifiedAt".into(), self.modified_at.clone().into());
        }
        Value::Object(m)
    }

    /// Whether the registration covers entities of one of `types` (alternatives, expanded),
    /// with `id` or an id matching `pattern`, holding one of `attrs` (expanded); `None`:
    /// no condition.
    pub fn matches(
        &self,
        types: Option<&[String]>,
        ids: Option<&[String]>,
        pattern: Option<&regex::Regex>,
        attrs: Option<&[String]>,
    ) -> bool {
        self.information.iter().any(|ri| {
            let attr_ok = attrs.is_none_or(|want| {
                (ri.property_names.is_empty() && ri.relationship_names.is_empty())
                    || want.iter().any(|a| ri.property_names.contains(a) || ri.relationship_names.contains(a))
            });
            // No entities in the item: any entity (with those attributes).
            let ent_ok = (types.is_none() && ids.is_none() && pattern.is_none())
                || ri.entities.is_empty()
                || ri.entities.iter().any(|e| {
                    let t = types.is_none_or(|ts| ts.iter().any(|t| e.types.contains(t)));
                    let i = ids.is_none_or(|ids| {
                        ids.iter().any(|want| match (&e.id, &e.id_pattern) {
                            (Some(id), _) => id == want,
                            (None, Some(p)) => crate::query::compile(p).is_ok_and(|r| r.is_match(want)),
                            (None, None) => true,
                        })
                    });
                    let p = pattern.is_none_or(|r| match &e.id {
                        Some(id) => r.is_match(id),
                        None => true,
                    });
                    t && i && p
                });
            attr_ok && ent_ok
        })
    }
}

fn media(req: &Req) -> Result<Media, NgsiError> {
    Ngsi::accept(req, false)
}

impl Ngsi {
    fn put_reg(&self, tenant: &str, r: Registration, create: bool) -> Result<(), NgsiError> {
        let mut g = wlock(&self.tenants);
        let exists = g.get(tenant).is_some_and(|t| t.regs.contains_key(&r.id));
        if create && exists {
            return Err(NgsiError::AlreadyExists(format!("registration {} already exists", r.id)));
        }
        let body = serde_json::to_string(&r).map_err(|e| NgsiError::Unavailable(e.to_string()))?;
        self.commit(&[Write::PutReg { tenant: tenant.into(), id: r.id.clone(), body }])?;
        g.entry(tenant.to_string()).or_default().regs.insert(r.id.clone(), r);
        Ok(())
    }

    /// `POST /csourceRegistrations`.
    pub fn create_reg(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let mut r = Registration::parse(&object(v, "registration")?, &ctx, &crate::time::now_iso())?;
        r.registrant = req.caller.department.clone();
        let id = r.id.clone();
        self.put_reg(&tenant, r, true)?;
        Ok(Out::empty(201).header("Location", format!("/ngsi-ld/v1/csourceRegistrations/{id}")))
    }

    /// A registration as `caller` may see it: `contextSourceInfo` only for the
    /// registrant's department (`Action::ReadOwned`), the rest for every reader of the tenant.
    fn shown(&self, caller: &brain::Caller, tenant: &str, r: &Registration, ctx: &ActiveContext, sys: bool) -> Value {
        let mut v = r.render(ctx, sys);
        if !self.owns(caller, tenant, r.registrant.as_deref()) {
            if let Value::Object(m) = &mut v {
                m.remove("contextSourceInfo");
            }
        }
        v
    }

    /// `GET /csourceRegistrations/{id}`.
    pub fn retrieve_reg(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        let media = media(req)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let sys = Ngsi::params(req).option("sysAttrs");
        let g = rlock(&self.tenants);
        let r = g
            .get(&tenant)
            .and_then(|t| t.regs.get(id))
            .ok_or_else(|| NgsiError::not_found(format!("registration {id} not found")))?;
        let body = self.shown(&req.caller, &tenant, r, &ctx, sys);
        drop(g);
        Ok(self.answer(200, media, &ctx, body))
    }

    /// `GET /csourceRegistrations` (`type`, `id`, `idPattern`, `attrs`, `georel` on
    /// `location`, `limit`, `offset`, `count`).
    pub fn query_regs(&self, req: &Req) -> Result<Out, NgsiError> {
        let media = media(req)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        for k in ["q", "csf", "timerel", "scopeQ"] {
            if p.get(k).is_some() {
                return Err(NgsiError::OperationNotSupported(format!("{k}: not supported on context source registrations")));
            }
        }
        let f = crate::select::filter_of(&p, &ctx)?;
        let types: Option<Vec<String>> = f.types.as_ref().map(|alts| alts.iter().flatten().cloned().collect());
        let (limit, offset, count) = p.page(self.cfg.max_limit)?;
        let sys = p.option("sysAttrs");
        let g = rlock(&self.tenants);
        let empty = BTreeMap::new();
        let regs = g.get(&tenant).map_or(&empty, |t| &t.regs);
        let hits: Vec<&Registration> = regs
            .values()
            .filter(|r| r.matches(types.as_deref(), f.ids.as_deref(), f.id_pattern.as_ref(), f.attrs.as_deref()))
            .filter(|r| {
                f.geo.as_ref().is_none_or(|q| {
                    let prop = q.property.rsplit('/').next().unwrap_or("location");
                    r.members.get(prop).and_then(|v| crate::geo::Geometry::parse(v).ok()).is_some_and(|geom| q.matches(&geom))
                })
            })
            .collect();
        let total = hits.len();
        let page: Vec<Value> =
            hits.into_iter().skip(offset).take(limit).map(|r| self.shown(&req.caller, &tenant, r, &ctx, sys)).collect();
        drop(g);
        let mut out = self.answer(200, media, &ctx, Value::Array(page));
        let links = p.page_links("/ngsi-ld/v1/csourceRegistrations", total)?;
        if !links.is_empty() {
            out = out.header("Link", links.join(","));
        }
        if count {
            out = out.header("NGSILD-Results-Count", total.to_string());
        }
        Ok(out)
    }

    /// `PATCH /csourceRegistrations/{id}`: the fragment's members replace the stored ones.
    pub fn update_reg(&self, req: &Req, id: &str, body: &[u8]) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let frag = object(v, "registration fragment")?;
        if frag.get("id").is_some_and(|x| x.as_str() != Some(id)) {
            return Err(bad("id: cannot be changed"));
        }
        if frag.get("type").is_some_and(|x| x.as_str() != Some(TYPE)) {
            return Err(bad(format!("type: must be {TYPE}")));
        }
        let old = rlock(&self.tenants)
            .get(&tenant)
            .and_then(|t| t.regs.get(id).cloned())
            .ok_or_else(|| NgsiError::not_found(format!("registration {id} not found")))?;
        let mut r = old.clone();
        if let Some(i) = frag.get("information") {
            r.information = parse_info(i, &ctx)?;
        }
        let mut members = old.members.clone();
        for (k, v) in &frag {
            if matches!(k.as_str(), "id" | "type" | "information") || READ_ONLY.contains(&k.as_str()) {
                continue;
            }
            let key = if KNOWN.contains(&k.as_str()) { k.clone() } else { ctx.expand(k) };
            members.insert(key, v.clone());
        }
        // Validate the merged registration as a whole.
        let mut whole = members.clone();
        for k in whole.keys().cloned().collect::<Vec<_>>() {
            if !KNOWN.contains(&k.as_str()) {
                let v = whole.remove(&k).unwrap_or(Value::Null);
                whole.insert(ctx.compact(&k), v);
            }
        }
        r.members = parse_members(&whole, &ctx)?;
        r.modified_at = crate::time::now_iso();
        self.put_reg(&tenant, r, false)?;
        Ok(Out::empty(204))
    }

    /// `DELETE /csourceRegistrations/{id}`.
    pub fn delete_reg(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let mut g = wlock(&self.tenants);
        if !g.get(&tenant).is_some_and(|t| t.regs.contains_key(id)) {
            return Err(NgsiError::not_found(format!("registration {id} not found")));
        }
        self.commit(&[Write::DelReg { tenant: tenant.clone(), id: id.into() }])?;
        if let Some(t) = g.get_mut(&tenant) {
            t.regs.remove(id);
        }
        Ok(Out::empty(204))
    }

    /// `GET /csourceSubscriptions`: none can exist (creating one is not supported).
    pub fn query_csr_subs(&self, req: &Req) -> Result<Out, NgsiError> {
        let media = media(req)?;
        self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        Ok(self.answer(200, media, &ctx, json!([])))
    }

    /// How many registrations a tenant holds (`""`: the default tenant).
    pub fn count_registrations(&self, tenant: &str) -> usize {
        rlock(&self.tenants).get(tenant).map_or(0, |t| t.regs.len())
    }

    /// `GET`, `PATCH`, `DELETE /csourceSubscriptions/{id}`: there is none.
    pub fn csr_sub(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        self.begin(req, false)?;
        Err(NgsiError::not_found(format!("context source registration subscription {id} not found")))
    }

    /// `POST /csourceSubscriptions`: not supported.
    pub fn csr_subs_unsupported(&self, req: &Req) -> Result<Out, NgsiError> {
        self.begin(req, false)?;
        Err(NgsiError::OperationNotSupported("subscriptions to context source registrations are not supported".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> std::sync::Arc<ActiveContext> {
        crate::context::Contexts::new(Default::default()).core()
    }

    fn reg(v: Value) -> Result<Registration, NgsiError> {
        Registration::parse(v.as_object().unwrap(), &core(), "2024-01-01T00:00:00.000Z")
    }

    #[test]
    fn parses_renders_and_matches() {
        let r = reg(json!({"id": "urn:ngsi-ld:ContextSourceRegistration:1", "type": "ContextSourceRegistration",
            "information": [{"entities": [{"id": "urn:ngsi-ld:Vehicle:A456", "type": "Vehicle"}],
                             "propertyNames": ["speed"]},
                            {"entities": [{"idPattern": ".*downtown$", "type": "OffStreetParking"}]}],
            "endpoint": "http://my.csource.org:1026", "expiresAt": "2035-11-29T14:53:15Z", "dataProvider": "x"}))
        .unwrap();
        let ctx = core();
        let out = r.render(&ctx, false);
        assert_eq!(out["information"][0]["entities"][0]["type"], "Vehicle");
        assert_eq!(out["dataProvider"], "x");
        assert_eq!(out["endpoint"], "http://my.csource.org:1026");
        let t = |s: &str| vec![ctx.expand(s)];
        assert!(r.matches(Some(&t("Vehicle")), None, None, None));
        assert!(!r.matches(Some(&t("Building")), None, None, None));
        assert!(r.matches(Some(&t("Vehicle")), None, None, Some(&t("speed"))));
        assert!(!r.matches(Some(&t("Vehicle")), None, None, Some(&t("colour"))));
        let ids = vec!["urn:x:downtown".to_string()];
        assert!(r.matches(Some(&t("OffStreetParking")), Some(&ids), None, None));
        let ids = vec!["urn:x:uptown".to_string()];
        assert!(!r.matches(Some(&t("OffStreetParking")), Some(&ids), None, None));
    }

    #[test]
    fn refuses_what_is_not_a_registration() {
        let ok =
            json!({"type": "ContextSourceRegistration", "information": [{"entities": [{"type": "A"}]}], "endpoint": "http://x"});
        assert!(reg(ok.clone()).is_ok());
        let mut cases = Vec::new();
        for (k, v) in [
            ("type", json!("Subscription")),
            ("information", json!([])),
            ("information", json!([{}])),
            ("information", json!([{"entities": [{"id": "urn:a:b"}]}])),
            ("information", json!([{"entities": [{"type": "A", "idPattern": "("}]}])),
            ("information", json!([{"propertyNames": "speed"}])),
            ("endpoint", json!("not a uri")),
            ("expiresAt", json!("tomorrow")),
            ("mode", json!("sometimes")),
            ("location", json!({"type": "Point", "coordinates": [500, 0]})),
            ("observationInterval", json!({"endAt": "2020-01-01T00:00:00Z"})),
            ("id", json!(7)),
        ] {
            let mut b = ok.clone();
            b[k] = v;
            cases.push(b);
        }
        let mut no_endpoint = ok.clone();
        no_endpoint.as_object_mut().unwrap().remove("endpoint");
        cases.push(no_endpoint);
        for c in cases {
            let e = reg(c.clone()).expect_err(&c.to_string());
            assert_eq!(e.status(), 400, "{c}");
        }
    }
}
