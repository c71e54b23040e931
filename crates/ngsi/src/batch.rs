//! Batch operations (`/entityOperations/{create,upsert,update,delete,merge,query}`): each
//! batch is one SQLite transaction; the answer is 201/204 when every item succeeded and
//! 207 with a BatchOperationResult (`success`, `errors` with ProblemDetails) otherwise.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::entities::{filter_of, render_opts, Change};
use crate::error::NgsiError;
use crate::model::{keep_created, Entity};
use crate::params::Params;
use crate::service::{Ngsi, Out, Req};

/// Most entities in one batch.
pub const MAX_BATCH: usize = 10_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Create,
    Upsert,
    Update,
    Merge,
}

fn err_item(id: &str, e: &NgsiError) -> Value {
    json!({ "entityId": id, "error": e.problem() })
}

fn result(created: Vec<String>, success: Vec<String>, errors: Vec<Value>, kind: Kind) -> Out {
    if errors.is_empty() {
        if kind == Kind::Create || (kind == Kind::Upsert && !created.is_empty()) {
            let ids: Vec<Value> = created.into_iter().map(Value::String).collect();
            return Out { status: 201, body: Some(Value::Array(ids)), content_type: "application/json".into(), headers: vec![] };
        }
        return Out::empty(204);
    }
    let mut all = created;
    all.extend(success);
    Out {
        status: 207,
        body: Some(json!({ "success": all, "errors": errors })),
        content_type: "application/json".into(),
        headers: vec![],
    }
}

impl Ngsi {
    fn batch_items(&self, req: &Req, body: &[u8]) -> Result<Vec<Value>, NgsiError> {
        let ct = crate::service::media_type(req.content_type.as_deref());
        if ct != "application/json" && ct != "application/ld+json" {
            return Err(NgsiError::UnsupportedMediaType(format!("Content-Type: {ct:?} is not supported")));
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| NgsiError::invalid(format!("body: not JSON: {e}")))?;
        let a = match v {
            Value::Array(a) => a,
            _ => return Err(NgsiError::bad("body: an array is expected")),
        };
        if a.is_empty() {
            return Err(NgsiError::bad("body: an empty batch"));
        }
        if a.len() > MAX_BATCH {
            return Err(NgsiError::bad(format!("body: more than {MAX_BATCH} entities")));
        }
        Ok(a)
    }

    /// Create, upsert, update or merge a batch of entities.
    pub fn batch_write(&self, req: &Req, body: &[u8], kind: Kind) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let items = self.batch_items(req, body)?;
        let ld = Ngsi::is_ld(req);
        if ld && req.link.is_some() {
            return Err(NgsiError::bad("Link: not allowed with application/ld+json"));
        }
        let p = Params::parse(req.query.as_deref());
        let replace = kind == Kind::Upsert && !p.option("update");
        let no_overwrite = p.option("noOverwrite");
        let now = crate::time::now_iso();
        // Parse every item first (outside the lock).
        let mut parsed: Vec<Result<Entity, (String, NgsiError)>> = Vec::with_capacity(items.len());
        for it in items {
            let id = it.get("id").and_then(Value::as_str).unwrap_or("").to_string();
            let r = (|| {
                let ctx = self.value_ctx(req, &it, ld)?;
                let Value::Object(m) = it else { return Err(NgsiError::bad("an entity must be an object")) };
                Entity::parse(m, &ctx, kind != Kind::Update && kind != Kind::Merge, &now)
            })();
            parsed.push(r.map_err(|e| (id, e)));
        }
        // Observations among them go to the brain's pipeline instead.
        let mut flow_errors = Vec::new();
        let mut flow_ok = Vec::new();
        if tenant.is_empty() && matches!(kind, Kind::Create | Kind::Upsert) {
            let flows: Vec<&Entity> =
                parsed.iter().filter_map(|r| r.as_ref().ok()).filter(|e| crate::brainmap::is_flow_observation(e)).collect();
            if !flows.is_empty() {
                let res = self.ingest_flows(req, &flows)?;
                for (e, r) in flows.iter().zip(res) {
                    match r {
                        Ok(()) => flow_ok.push(e.id.clone()),
                        Err(err) => flow_errors.push(err_item(&e.id, &err)),
                    }
                }
                parsed.retain(|r| !r.as_ref().is_ok_and(crate::brainmap::is_flow_observation));
            }
        }
        let (mut created, success, mut errors) = self.change(&tenant, |t| {
            let mut created = Vec::new();
            let mut success = Vec::new();
            let mut errors = Vec::new();
            // The batch's changes, one per entity id (a later item builds on an earlier one
            // of the same id), committed in id order.
            let mut next: Vec<Change> = Vec::with_capacity(parsed.len());
            // Without subscriptions nothing reads a replaced entity after the commit: the
            // change holds no copy of it, and its history rows are worked out against the
            // stored one at the commit (the brain's own entities keep the copy, which
            // refuses them).
            let lean = t.subs.is_empty();
            let mut at: HashMap<String, usize> = HashMap::with_capacity(parsed.len());
            for r in parsed {
                let e = match r {
                    Ok(e) => e,
                    Err((id, err)) => {
                        errors.push(err_item(&id, &err));
                        continue;
                    }
                };
                let id = e.id.clone();
                let pending = at.get(&id).copied();
                let current = match pending {
                    Some(i) => next[i].new.as_ref(),
                    None => t.entities.get(&id),
                };
                let new = match (kind, current) {
                    (Kind::Create, Some(_)) => {
                        errors.push(err_item(&id, &NgsiError::AlreadyExists(format!("entity {id} already exists"))));
                        continue;
                    }
                    (Kind::Create, None) | (Kind::Upsert, None) => {
                        created.push(id.clone());
                        e
                    }
                    (Kind::Upsert, Some(cur)) if replace => {
                        let mut e = e;
                        e.created_at = cur.created_at.clone();
                        success.push(id.clone());
                        e
                    }
                    (Kind::Update | Kind::Merge, None) => {
                        errors.push(err_item(&id, &NgsiError::not_found(format!("entity {id} not found"))));
                        continue;
                    }
                    (_, Some(cur)) => {
                        let mut n = cur.clone();
                        for ty in e.types {
                            if !n.types.contains(&ty) {
                                n.types.push(ty);
                            }
                        }
                        let mut kept = Vec::new();
                        for (name, insts) in e.attrs {
                            let slot = n.attrs.entry(name.clone()).or_default();
                            for mut a in insts {
                                let ds = a.get("datasetId").cloned();
                                match slot.iter_mut().find(|x| x.get("datasetId") == ds.as_ref()) {
                                    Some(_) if no_overwrite => kept.push(name.clone()),
                                    Some(x) => {
                                        keep_created(&mut a, x);
                                        if kind == Kind::Merge {
                                            for (k, v) in x.iter() {
                                                if !a.contains_key(k) {
                                                    a.insert(k.clone(), v.clone());
                                                }
                                            }
                                        }
                                        *x = a;
                                    }
                                    None => slot.push(a),
                                }
                            }
                        }
                        n.modified_at = now.clone();
                        if kept.is_empty() {
                            success.push(id.clone());
                        } else {
                            // Partly done: the existing attributes were left as they were.
                            let e = NgsiError::bad(format!("not overwritten (noOverwrite): {}", kept.join(", ")));
                            errors.push(err_item(&id, &e));
                        }
                        n
                    }
                };
                match pending {
                    Some(i) => next[i].new = Some(new),
                    None => {
                        let old = match t.entities.get(&id) {
                            Some(cur) if lean && !cur.brain => None,
                            cur => cur.cloned(),
                        };
                        at.insert(id.clone(), next.len());
                        next.push(Change { history: None, id, old, new: Some(new) });
                    }
                }
            }
            next.sort_unstable_by(|a, b| a.id.cmp(&b.id));
            Ok(((created, success, errors), next))
        })?;
        created.extend(flow_ok);
        errors.extend(flow_errors);
        Ok(result(created, success, errors, kind))
    }

    /// `POST /entityOperations/delete` (a list of ids).
    pub fn batch_delete(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let items = self.batch_items(req, body)?;
        let (success, errors) = self.change(&tenant, |t| {
            let mut success = Vec::new();
            let mut errors = Vec::new();
            let mut ch: BTreeMap<String, Change> = BTreeMap::new();
            for it in &items {
                let Some(id) = it.as_str().filter(|s| crate::util::is_uri(s)) else {
                    errors.push(err_item(&it.to_string(), &NgsiError::bad("not an entity id (URI)")));
                    continue;
                };
                match t.entities.get(id) {
                    Some(e) if !ch.contains_key(id) => {
                        ch.insert(id.into(), Change { history: None, id: id.into(), old: Some(e.clone()), new: None });
                        success.push(id.to_string());
                    }
                    _ => errors.push(err_item(id, &NgsiError::not_found(format!("entity {id} not found")))),
                }
            }
            Ok(((success, errors), ch.into_values().collect()))
        })?;
        Ok(result(Vec::new(), success, errors, Kind::Update))
    }

    /// `POST /entityOperations/query` (a Query body; paging and options in the URL).
    pub fn batch_query(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, true)?;
        let tenant = self.begin(req, false)?;
        let (ctx, v) = self.body(req, body)?;
        let m: Map<String, Value> = crate::service::object(v, "query")?;
        if m.get("type").and_then(Value::as_str) != Some("Query") {
            return Err(NgsiError::bad("type: must be Query"));
        }
        let p = body_params(req, &m);
        let f = filter_of(&p, &ctx)?;
        let o = render_opts(&p, &ctx)?;
        Ok(self.page_answer(&tenant, &f, &ctx, &o, media, &p)?.0)
    }
}

/// A Query body (`entities`, `attrs`, `q`, `geoQ`, `temporalQ`) as query parameters,
/// after those of the URL.
pub fn body_params(req: &Req, m: &Map<String, Value>) -> Params {
    let mut p = Params::parse(req.query.as_deref());
    let mut push = |k: &str, v: String| p.0.push((k.to_string(), v));
    let mut types = Vec::new();
    let mut ids = Vec::new();
    if let Some(Value::Array(es)) = m.get("entities") {
        for e in es {
            if let Some(t) = e.get("type").and_then(Value::as_str) {
                types.push(t.to_string());
            }
            if let Some(i) = e.get("id").and_then(Value::as_str) {
                ids.push(i.to_string());
            }
            if let Some(i) = e.get("idPattern").and_then(Value::as_str) {
                push("idPattern", i.to_string());
            }
        }
    }
    if !types.is_empty() {
        push("type", types.join(","));
    }
    if !ids.is_empty() {
        push("id", ids.join(","));
    }
    if let Some(Value::Array(a)) = m.get("attrs") {
        push("attrs", a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","));
    }
    if let Some(q) = m.get("q").and_then(Value::as_str) {
        push("q", q.to_string());
    }
    if let Some(g) = m.get("geoQ") {
        for k in ["georel", "geometry", "geoproperty"] {
            if let Some(x) = g.get(k).and_then(Value::as_str) {
                push(k, x.to_string());
            }
        }
        if let Some(c) = g.get("coordinates") {
            push("coordinates", c.as_str().map(str::to_string).unwrap_or_else(|| c.to_string()));
        }
    }
    // Members that are plain query parameters in a GET.
    for k in
        ["join", "joinLevel", "pick", "omit", "lang", "scopeQ", "csf", "datasetId", "containedBy", "orderBy", "geometryProperty"]
    {
        match m.get(k) {
            Some(Value::String(s)) => push(k, s.clone()),
            Some(Value::Number(n)) => push(k, n.to_string()),
            Some(Value::Array(a)) => push(k, a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
            _ => {}
        }
    }
    if let Some(t) = m.get("temporalQ") {
        for k in ["timerel", "timeAt", "endTimeAt", "timeproperty"] {
            if let Some(x) = t.get(k).and_then(Value::as_str) {
                p.0.push((k.to_string(), x.to_string()));
            }
        }
    }
    p
}
