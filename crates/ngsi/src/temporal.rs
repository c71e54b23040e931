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
            out.entry(name.clone()).or_default().push(model::parse_attr(k, &name, x.clone(), ctx, now, true)?);
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
        let v = self.temporal_view(&tenant, &e, &p, &ctx, &o)?;
        // Nothing left of the entity by `attrs` / `pick` / `omit` (4.21, 5.7.3): 404.
        let empty = v.body.as_object().is_none_or(|m| m.is_empty());
        if (p.get("attrs").is_some() && v.attrs == 0) || ((p.get("pick").is_some() || p.get("omit").is_some()) && empty) {
            return Err(NgsiError::not_found(format!("entity {id}: no attribute or member matches")));
        }
        match v.range {
            Some(r) => Ok(self.answer(206, media, &ctx, v.body).header("Content-Range", r)),
            None => Ok(self.answer(200, media, &ctx, v.body)),
        }
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
        // With a time window, an entity without instances in it is not in the answer:
        // the window filters before paging.
        let windowed = p.get("timerel").is_some();
        let (mut total, page) =
            if windowed { self.select(&tenant, &f, &ctx, 0, usize::MAX) } else { self.select(&tenant, &f, &ctx, offset, limit) };
        let mut list = Vec::new();
        let mut range = None;
        let mut kept = 0;
        for e in &page {
            let v = self.temporal_view(&tenant, e, &p, &ctx, &o)?;
            if windowed {
                if v.found == 0 {
                    continue;
                }
                kept += 1;
                if kept <= offset || list.len() >= limit {
                    continue;
                }
            }
            range = range.or(v.range);
            list.push(v.body);
        }
        if windowed {
            total = kept;
        }
        let status = if range.is_some() { 206 } else { 200 };
        let mut out = self.answer(status, media, &ctx, Value::Array(list));
        if let Some(r) = range {
            out = out.header("Content-Range", r);
        }
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
        check_attr(attr)?;
        let tenant = self.begin(req, true)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        let all = p.bool("deleteAll")?;
        let ds = p.get("datasetId").filter(|d| !d.is_empty()).map(str::to_string);
        if ds.as_deref().is_some_and(|d| !crate::util::is_uri(d)) {
            return Err(NgsiError::bad("datasetId: not a URI"));
        }
        let name = ctx.expand(attr);
        // The instances of the default instance (no datasetId), of `datasetId`, or all.
        let hit = |a: &Map<String, Value>| all || a.get("datasetId").and_then(Value::as_str) == ds.as_deref();
        let rows: Vec<i64> = self
            .db
            .history(&tenant, id, f64::MIN, f64::MAX, 1_000_000)?
            .into_iter()
            .filter(|(_, a, _, body)| {
                *a == name && serde_json::from_str::<Value>(body).ok().and_then(|v| v.as_object().map(hit)).unwrap_or(false)
            })
            .map(|(r, _, _, _)| r)
            .collect();
        let now = crate::time::now_iso();
        self.change(&tenant, |t| {
            let old = t.entities.get(id).cloned().ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            let current = e.attrs.get_mut(&name);
            let before = current.as_ref().map_or(0, |v| v.len());
            if let Some(v) = current {
                v.retain(|a| !hit(a));
            }
            let after = e.attrs.get(&name).map_or(0, Vec::len);
            if after == 0 {
                e.attrs.remove(&name);
            }
            if before == after && rows.is_empty() {
                return Err(NgsiError::not_found(format!("attribute {attr} not found")));
            }
            e.modified_at = now.clone();
            let h = if all {
                vec![Write::DelHistoryAttr { tenant: String::new(), entity: id.into(), attr: name.clone() }]
            } else {
                rows.iter().map(|r| Write::DelHistoryRow { row: *r }).collect()
            };
            Ok(((), vec![Change { history: Some(h), id: id.into(), old: Some(old), new: Some(e) }]))
        })?;
        Ok(Out::empty(204))
    }

    fn find_instance(&self, tenant: &str, id: &str, name: &str, instance: &str) -> Result<i64, NgsiError> {
        if !crate::util::is_uri(instance) {
            return Err(NgsiError::bad(format!("instanceId {instance:?} is not a URI")));
        }
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
        check_attr(attr)?;
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
        let a = model::parse_attr(attr, &name, inst, &ctx, &now, true)?;
        self.commit(&[Write::PutHistoryRow { row, body: Value::Object(a).to_string() }])?;
        Ok(Out::empty(204))
    }

    /// `DELETE /temporal/entities/{id}/attrs/{attr}/{instanceId}`.
    pub fn temporal_delete_instance(&self, req: &Req, id: &str, attr: &str, instance: &str) -> Result<Out, NgsiError> {
        check_id(id)?;
        check_attr(attr)?;
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

fn check_attr(attr: &str) -> Result<(), NgsiError> {
    if model::valid_name(attr) {
        Ok(())
    } else {
        Err(NgsiError::bad(format!("attribute name {attr:?} is not valid")))
    }
}

fn check_id(id: &str) -> Result<(), NgsiError> {
    if crate::util::is_uri(id) {
        Ok(())
    } else {
        Err(NgsiError::bad(format!("entity id {id:?} is not a URI")))
    }
}
