//! The temporal API (`/temporal/entities`): every attribute instance an entity ever had
//! (the history table: written when an attribute changes through the entity API, and
//! every instance given through the temporal API), retrieved in a time window, as
//! instances or `temporalValues`; instances changed or deleted by `instanceId`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::context::ActiveContext;
use crate::db::Write;
use crate::entities::{filter_of, Change};
use crate::error::NgsiError;
use crate::model::{self, Attr, Entity};
use crate::params::Params;
use crate::render::{self, Format, RenderOpts};
use crate::service::{object, rlock, Ngsi, Out, Req};

const INSTANCE: &str = "urn:ngsi-ld:attribute:instance:";

/// Unix seconds an instance is filed under: `observedAt`, else `modifiedAt`.
pub fn instance_time(a: &Attr) -> f64 {
    a.get("observedAt")
        .and_then(Value::as_str)
        .and_then(crate::time::secs)
        .or_else(|| a.get("modifiedAt").and_then(Value::as_str).and_then(crate::time::secs))
        .unwrap_or(0.0)
}

fn row_of(instance_id: &str) -> Option<i64> {
    instance_id.strip_prefix(INSTANCE)?.parse().ok()
}

/// Parse a temporal body's attributes: each a list of instances (or one).
fn parse_instances(m: &Map<String, Value>, ctx: &ActiveContext, now: &str) -> Result<BTreeMap<String, Vec<Attr>>, NgsiError> {
    let mut out: BTreeMap<String, Vec<Attr>> = BTreeMap::new();
    for (k, v) in m {
        if matches!(k.as_str(), "id" | "type" | "@context" | "scope" | "createdAt" | "modifiedAt") {
            continue;
        }
        if !model::valid_name(k) {
            return Err(NgsiError::bad(format!("{k:?}: not a valid attribute name")));
        }
        let name = ctx.expand(k);
        let list: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            x => vec![x],
        };
        for x in list {
            out.entry(name.clone()).or_default().push(model::parse_attr(k, &name, x, ctx, now, true)?);
        }
    }
    Ok(out)
}

/// The latest instance per datasetId of each attribute: the entity's current state.
fn latest(instances: &BTreeMap<String, Vec<Attr>>, into: &mut Entity) {
    for (name, insts) in instances {
        let slot = into.attrs.entry(name.clone()).or_default();
        for a in insts {
            let ds = a.get("datasetId").cloned();
            match slot.iter_mut().find(|x| x.get("datasetId") == ds.as_ref()) {
                Some(x) if instance_time(x) > instance_time(a) => {}
                Some(x) => *x = a.clone(),
                None => slot.push(a.clone()),
            }
        }
    }
}

fn history_rows(id: &str, instances: &BTreeMap<String, Vec<Attr>>) -> Vec<Write> {
    let mut w = Vec::new();
    for (name, insts) in instances {
        for a in insts {
            w.push(Write::History {
                tenant: String::new(),
                entity: id.into(),
                attr: name.clone(),
                time: instance_time(a),
                body: Value::Object(a.clone()).to_string(),
            });
        }
    }
    w
}

impl Ngsi {
    fn temporal_of(&self, tenant: &str, e: &Entity, p: &Params, ctx: &ActiveContext, o: &RenderOpts) -> Result<Value, NgsiError> {
        let (from, to) = window(p)?;
        let last_n = p.usize("lastN")?;
        let rows = self.db.history(tenant, &e.id, from, to, 1_000_000)?;
        let mut by: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let ro = RenderOpts { format: Format::Normalized, ..o.clone() };
        for (row, attr, _, body) in rows {
            if o.pick.as_ref().is_some_and(|p| !p.contains(&attr)) || o.omit.contains(&attr) {
                continue;
            }
            if let Ok(Value::Object(a)) = serde_json::from_str::<Value>(&body) {
                let mut v = render::attr(&a, ctx, &ro);
                if let Value::Object(m) = &mut v {
                    m.insert("instanceId".into(), format!("{INSTANCE}{row}").into());
                }
                by.entry(attr).or_default().push(v);
            }
        }
        let mut m = Map::new();
        if o.keep_id {
            m.insert("id".into(), e.id.clone().into());
        }
        if o.keep_type {
            m.insert("type".into(), render::types_out(&e.types, ctx));
        }
        if let Some(s) = &e.scope {
            m.insert("scope".into(), s.clone());
        }
        if o.sys_attrs {
            m.insert("createdAt".into(), e.created_at.clone().into());
            m.insert("modifiedAt".into(), e.modified_at.clone().into());
        }
        let simplified = p.option("temporalValues") || o.format == Format::KeyValues;
        for (a, mut v) in by {
            if let Some(n) = last_n {
                let k = v.len().saturating_sub(n);
                v.drain(..k);
            }
            if simplified {
                let kind = v.first().and_then(|x| x.get("type")).and_then(Value::as_str).unwrap_or("Property").to_string();
                let member = model::value_member(&kind).unwrap_or("value");
                let vals: Vec<Value> = v
                    .iter()
                    .map(|x| {
                        Value::Array(vec![
                            x.get(member).cloned().unwrap_or(Value::Null),
                            x.get("observedAt").cloned().unwrap_or(Value::Null),
                        ])
                    })
                    .collect();
                let mut o = Map::new();
                o.insert("type".into(), kind.clone().into());
                let key = match kind.as_str() {
                    "Relationship" => "objects",
                    "LanguageProperty" => "languageMaps",
                    "JsonProperty" => "jsons",
                    "VocabProperty" => "vocabs",
                    "ListProperty" => "valueLists",
                    "ListRelationship" => "objectLists",
                    _ => "values",
                };
                o.insert(key.into(), Value::Array(vals));
                m.insert(ctx.compact(&a), Value::Object(o));
            } else {
                m.insert(ctx.compact(&a), Value::Array(v));
            }
        }
        Ok(Value::Object(m))
    }

    /// `GET /temporal/entities/{id}`.
    pub fn temporal_retrieve(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        check_id(id)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        let o = crate::entities::render_opts(&p, &ctx)?;
        let e = rlock(&self.tenants).get(&tenant).and_then(|t| t.entities.get(id).cloned());
        let e = e.ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
        let body = self.temporal_of(&tenant, &e, &p, &ctx, &o)?;
        Ok(self.answer(200, media, &ctx, body))
    }

    /// `GET /temporal/entities`.
    pub fn temporal_query(&self, req: &Req) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        self.temporal_query_with(req, &tenant, &ctx, media, Ngsi::params(req))
    }

    /// `POST /temporal/entityOperations/query`.
    pub fn temporal_query_post(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        let tenant = self.begin(req, false)?;
        let (ctx, v) = self.body(req, body)?;
        let m = object(v, "query")?;
        if m.get("type").and_then(Value::as_str) != Some("Query") {
            return Err(NgsiError::bad("type: must be Query"));
        }
        let p = crate::batch::body_params(req, &m);
        self.temporal_query_with(req, &tenant, &ctx, media, p)
    }

    fn temporal_query_with(
        &self,
        _req: &Req,
        tenant: &str,
        ctx: &std::sync::Arc<ActiveContext>,
        media: crate::service::Media,
        p: Params,
    ) -> Result<Out, NgsiError> {
        let (tenant, ctx) = (tenant.to_string(), ctx.clone());
        let f = filter_of(&p, &ctx)?;
        if f.types.is_none() && f.attrs.is_none() && f.q.is_none() && f.geo.is_none() && p.get("local") != Some("true") {
            return Err(NgsiError::bad("a query needs type, attrs, q or georel"));
        }
        if p.get("timerel").is_none() && p.get("timeAt").is_some() {
            return Err(NgsiError::bad("timeAt needs timerel"));
        }
        let o = crate::entities::render_opts(&p, &ctx)?;
        let limit = p.usize("limit")?.unwrap_or(20);
        if limit > self.cfg.max_limit {
            return Err(NgsiError::TooManyResults(format!("limit: at most {}", self.cfg.max_limit)));
        }
        let offset = p.usize("offset")?.unwrap_or(0);
        let (total, page) = self.select(&tenant, &f, &ctx, offset, limit);
        let mut list = Vec::new();
        for e in &page {
            list.push(self.temporal_of(&tenant, e, &p, &ctx, &o)?);
        }
        let mut out = self.answer(200, media, &ctx, Value::Array(list));
        if p.bool("count")? {
            out = out.header("NGSILD-Results-Count", total.to_string());
        }
        Ok(out)
    }

    /// `POST /temporal/entities`: create (201) or add instances to (204) an entity.
    pub fn temporal_create(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let m = object(v, "temporal entity")?;
        let now = crate::time::now_iso();
        let id = match m.get("id") {
            Some(Value::String(s)) if crate::util::is_uri(s) => s.clone(),
            _ => return Err(NgsiError::bad("id: missing or not a URI")),
        };
        let types = model::parse_types(m.get("type"), &ctx)?;
        if types.is_empty() {
            return Err(NgsiError::bad("type: missing"));
        }
        let inst = parse_instances(&m, &ctx, &now)?;
        let created = self.change(&tenant, |t| {
            let old = t.entities.get(&id).cloned();
            let mut e = old.clone().unwrap_or_else(|| Entity {
                id: id.clone(),
                types: Vec::new(),
                scope: None,
                created_at: now.clone(),
                modified_at: now.clone(),
                attrs: BTreeMap::new(),
                brain: false,
            });
            for ty in &types {
                if !e.types.contains(ty) {
                    e.types.push(ty.clone());
                }
            }
            if let Some(s) = m.get("scope") {
                e.scope = Some(s.clone());
            }
            latest(&inst, &mut e);
            e.modified_at = now.clone();
            let created = old.is_none();
            Ok((created, vec![Change { history: Some(history_rows(&id, &inst)), id: id.clone(), old, new: Some(e) }]))
        })?;
        if created {
            Ok(Out::empty(201).header("Location", format!("/ngsi-ld/v1/temporal/entities/{id}")))
        } else {
            Ok(Out::empty(204))
        }
    }

    /// `POST /temporal/entities/{id}/attrs`: add instances.
    pub fn temporal_append(&self, req: &Req, id: &str, body: &[u8]) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let m = object(v, "attributes")?;
        let now = crate::time::now_iso();
        let inst = parse_instances(&m, &ctx, &now)?;
        self.change(&tenant, |t| {
            let old = t.entities.get(id).cloned().ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            latest(&inst, &mut e);
            e.modified_at = now.clone();
            Ok(((), vec![Change { history: Some(history_rows(id, &inst)), id: id.into(), old: Some(old), new: Some(e) }]))
        })?;
        Ok(Out::empty(204))
    }

    /// `DELETE /temporal/entities/{id}`.
    pub fn temporal_delete(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        self.delete_entity(req, id)
    }

    /// `DELETE /temporal/entities/{id}/attrs/{attr}`: every instance of the attribute.
    pub fn temporal_delete_attr(&self, req: &Req, id: &str, attr: &str) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let ctx = self.link_ctx(req)?;
        let name = ctx.expand(attr);
        let now = crate::time::now_iso();
        self.change(&tenant, |t| {
            let old = t.entities.get(id).cloned().ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            if e.attrs.remove(&name).is_none() {
                return Err(NgsiError::not_found(format!("attribute {attr} not found")));
            }
            e.modified_at = now.clone();
            let h = vec![Write::DelHistoryAttr { tenant: String::new(), entity: id.into(), attr: name.clone() }];
            Ok(((), vec![Change { history: Some(h), id: id.into(), old: Some(old), new: Some(e) }]))
        })?;
        Ok(Out::empty(204))
    }

    fn find_instance(&self, tenant: &str, id: &str, name: &str, instance: &str) -> Result<i64, NgsiError> {
        let row = row_of(instance).ok_or_else(|| NgsiError::not_found(format!("instance {instance} not found")))?;
        let rows = self.db.history(tenant, id, f64::MIN, f64::MAX, 1_000_000)?;
        if rows.iter().any(|(r, a, _, _)| *r == row && a == name) {
            Ok(row)
        } else {
            Err(NgsiError::not_found(format!("instance {instance} not found")))
        }
    }

    /// `PATCH /temporal/entities/{id}/attrs/{attr}/{instanceId}`.
    pub fn temporal_patch_instance(
        &self,
        req: &Req,
        id: &str,
        attr: &str,
        instance: &str,
        body: &[u8],
    ) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let m = object(v, "attribute")?;
        let name = ctx.expand(attr);
        if !rlock(&self.tenants).get(&tenant).is_some_and(|t| t.entities.contains_key(id)) {
            return Err(NgsiError::not_found(format!("entity {id} not found")));
        }
        let row = self.find_instance(&tenant, id, &name, instance)?;
        let now = crate::time::now_iso();
        let given = m.get(attr).or_else(|| m.get(&name)).cloned().unwrap_or(Value::Object(m.clone()));
        let inst = match given {
            Value::Array(mut a) if !a.is_empty() => a.remove(0),
            x => x,
        };
        let a = model::parse_attr(attr, &name, &inst, &ctx, &now, true)?;
        self.commit(&[Write::PutHistoryRow { row, body: Value::Object(a).to_string() }])?;
        Ok(Out::empty(204))
    }

    /// `DELETE /temporal/entities/{id}/attrs/{attr}/{instanceId}`.
    pub fn temporal_delete_instance(&self, req: &Req, id: &str, attr: &str, instance: &str) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let ctx = self.link_ctx(req)?;
        let name = ctx.expand(attr);
        if !rlock(&self.tenants).get(&tenant).is_some_and(|t| t.entities.contains_key(id)) {
            return Err(NgsiError::not_found(format!("entity {id} not found")));
        }
        let row = self.find_instance(&tenant, id, &name, instance)?;
        self.commit(&[Write::DelHistoryRow { row }])?;
        Ok(Out::empty(204))
    }
}

fn check_id(id: &str) -> Result<(), NgsiError> {
    if crate::util::is_uri(id) {
        Ok(())
    } else {
        Err(NgsiError::bad(format!("entity id {id:?} is not a URI")))
    }
}

/// `timerel` with `timeAt`/`endTimeAt` as a window of Unix seconds.
fn window(p: &Params) -> Result<(f64, f64), NgsiError> {
    let t = |k: &str| -> Result<Option<f64>, NgsiError> {
        match p.get(k) {
            None => Ok(None),
            Some(s) => crate::time::secs(s).map(Some).ok_or_else(|| NgsiError::bad(format!("{k}: not a DateTime"))),
        }
    };
    let at = t("timeAt")?;
    let end = t("endTimeAt")?;
    let need = || NgsiError::bad("timeAt: needed with timerel");
    match p.get("timerel") {
        None => Ok((f64::MIN, f64::MAX)),
        Some("before") => Ok((f64::MIN, at.ok_or_else(need)? - 1e-6)),
        Some("after") => Ok((at.ok_or_else(need)?, f64::MAX)),
        Some("between") => {
            let (a, b) = (at.ok_or_else(need)?, end.ok_or_else(|| NgsiError::bad("endTimeAt: needed with timerel=between"))?);
            Ok((a, b - 1e-6))
        }
        Some(o) => Err(NgsiError::bad(format!("timerel: unknown value {o:?}"))),
    }
}
