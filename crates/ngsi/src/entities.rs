//! The entity calls: create, retrieve, query, update/append/replace/delete attributes,
//! merge, replace and delete entities. Every write goes through [`Ngsi::change`]: the
//! new state is computed from the old under the tenant lock, committed to SQLite, then
//! made visible and notified.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::context::ActiveContext;
use crate::db::Write;
use crate::error::NgsiError;
use crate::model::{self, keep_created, parse_attrs, Attr, Entity};
use crate::params::Params;
use crate::render::{self, RenderOpts};
pub use crate::select::{filter_of, parse_type_param, projection, render_opts, Filter};
use crate::service::{object, rlock, wlock, Media, Ngsi, Out, Req, Tenant};

/// One entity changed by a write.
#[derive(Clone, Debug)]
pub struct Change {
    pub id: String,
    pub old: Option<Entity>,
    pub new: Option<Entity>,
    /// History rows to write instead of the changed instances (temporal provision:
    /// every instance given, `(attribute, instance)`), and other history edits; a batch
    /// write without subscriptions gives the changed instances' rows here itself.
    pub history: Option<Vec<Write>>,
}

/// An attribute name in a path: a valid name, and not one of the entity's own members.
fn check_attr_name(attr: &str) -> Result<(), NgsiError> {
    let a = crate::util::percent_decode(attr);
    // `@...` names are JSON-LD keywords.
    if !model::valid_name(&a) || a.starts_with('@') || matches!(a.as_str(), "id" | "type" | "scope" | "createdAt" | "modifiedAt")
    {
        return Err(NgsiError::bad(format!("{a:?} is not an attribute name")));
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), NgsiError> {
    if crate::util::is_uri(id) {
        Ok(())
    } else {
        Err(NgsiError::bad(format!("entity id {id:?} is not a URI")))
    }
}

/// `v` as JSON text, serialised through the scratch `buf` so that the text is allocated
/// once, at its size.
pub(crate) fn json<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, v: &T) -> String {
    buf.clear();
    match serde_json::to_writer(&mut *buf, v) {
        Ok(()) => std::str::from_utf8(buf).unwrap_or_default().to_owned(),
        Err(_) => String::new(),
    }
}

/// History rows for every attribute instance that changed; rows a write gave itself
/// (`Change::history`) are taken from the change.
fn history_writes(tenant: &str, c: &mut Change, out: &mut Vec<Write>, buf: &mut Vec<u8>) {
    if let Some(h) = c.history.take() {
        out.extend(h.into_iter().map(|w| match w {
            Write::History { entity, attr, time, body, .. } => Write::History { tenant: tenant.into(), entity, attr, time, body },
            Write::DelHistoryAttr { entity, attr, .. } => Write::DelHistoryAttr { tenant: tenant.into(), entity, attr },
            w @ (Write::PutHistoryRow { .. } | Write::DelHistoryRow { .. }) => w,
            _ => Write::DelHistoryRow { row: -1 },
        }));
        if c.new.is_none() {
            out.push(Write::DelHistory { tenant: tenant.into(), entity: c.id.clone() });
        }
        return;
    }
    match &c.new {
        Some(new) => changed_instances(tenant, &c.id, c.old.as_ref(), new, out, buf),
        None => out.push(Write::DelHistory { tenant: tenant.into(), entity: c.id.clone() }),
    }
}

/// A history row for every attribute instance of `new` that `old` does not hold as it is.
pub(crate) fn changed_instances(
    tenant: &str,
    id: &str,
    old: Option<&Entity>,
    new: &Entity,
    out: &mut Vec<Write>,
    buf: &mut Vec<u8>,
) {
    for (name, insts) in &new.attrs {
        for a in insts {
            let same = old.and_then(|o| o.attrs.get(name)).is_some_and(|olds| olds.contains(a));
            if same {
                continue;
            }
            out.push(Write::History {
                tenant: tenant.into(),
                entity: id.to_string(),
                attr: name.clone(),
                time: crate::stored::row_time(a),
                body: json(buf, a),
            });
        }
    }
}

impl Ngsi {
    /// Compute changes from the tenant's state, commit them, make them visible, notify.
    pub(crate) fn change<T>(
        &self,
        tenant: &str,
        f: impl FnOnce(&Tenant) -> Result<(T, Vec<Change>), NgsiError>,
    ) -> Result<T, NgsiError> {
        self.change_with(tenant, true, |t| {
            let (o, ch) = f(t)?;
            if let Some(c) = ch.iter().find(|c| c.old.as_ref().is_some_and(|o| o.brain)) {
                return Err(NgsiError::OperationNotSupported(format!(
                    "entity {} is the brain's own data (read-only); post observations to change it",
                    c.id
                )));
            }
            Ok((o, ch))
        })
    }

    /// As [`Ngsi::change`]; `persist: false` for the brain's derived entities.
    pub(crate) fn change_with<T>(
        &self,
        tenant: &str,
        persist: bool,
        f: impl FnOnce(&Tenant) -> Result<(T, Vec<Change>), NgsiError>,
    ) -> Result<T, NgsiError> {
        let changes;
        let out;
        {
            let mut g = wlock(&self.tenants);
            let empty = Tenant::default();
            let (o, mut ch) = f(g.get(tenant).unwrap_or(&empty))?;
            if ch.is_empty() {
                return Ok(o);
            }
            let mut writes = Vec::with_capacity(if persist { ch.len() * 3 } else { 0 });
            let mut buf = Vec::new();
            // What the store holds now: a change without `old` (a batch without
            // subscriptions leaves it out) compares its instances with it.
            let stored = g.get(tenant);
            for c in ch.iter_mut().filter(|_| persist) {
                match (&c.new, &c.history) {
                    (Some(e), None) => {
                        let at = writes.len();
                        writes.push(Write::DelHistoryRow { row: -1 });
                        let old = c.old.as_ref().or_else(|| stored.and_then(|t| t.entities.get(&c.id)));
                        let body = crate::stored::entity_and_rows(tenant, &c.id, old, e, &mut writes, &mut buf);
                        writes[at] = Write::PutEntity { tenant: tenant.into(), id: c.id.clone(), body };
                        continue;
                    }
                    (Some(e), Some(_)) => {
                        writes.push(Write::PutEntity { tenant: tenant.into(), id: c.id.clone(), body: json(&mut buf, e) })
                    }
                    (None, _) => writes.push(Write::DelEntity { tenant: tenant.into(), id: c.id.clone() }),
                }
                history_writes(tenant, c, &mut writes, &mut buf);
            }
            self.commit(&writes)?;
            drop(writes);
            let t = g.entry(tenant.to_string()).or_default();
            if t.subs.is_empty() {
                // Nothing to notify: the new states move into the map.
                for c in ch {
                    match c.new {
                        Some(e) => t.entities.insert(c.id, e),
                        None => t.entities.remove(&c.id),
                    };
                }
                return Ok(o);
            }
            for c in &ch {
                match &c.new {
                    Some(e) => {
                        t.entities.insert(c.id.clone(), e.clone());
                    }
                    None => {
                        t.entities.remove(&c.id);
                    }
                }
            }
            out = o;
            changes = ch;
        }
        self.notify_changes(tenant, &changes);
        Ok(out)
    }

    /// `POST /entities`.
    pub fn create_entity(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        // A body that is not an entity at all (a list, a number) is an invalid request;
        // an entity whose content is wrong is bad data.
        let Value::Object(m) = v else {
            return Err(NgsiError::InvalidRequest("entity: a JSON object is expected".into()));
        };
        let now = crate::time::now_iso();
        let e = Entity::parse(m, &ctx, true, &now)?;
        let id = e.id.clone();
        if tenant.is_empty() && crate::brainmap::is_flow_observation(&e) {
            self.ingest_flows(req, &[&e])?.pop().unwrap_or(Ok(()))?;
            return Ok(Out::empty(201).header("Location", format!("/ngsi-ld/v1/entities/{id}")));
        }
        self.change(&tenant, |t| {
            if t.entities.contains_key(&id) {
                return Err(NgsiError::AlreadyExists(format!("entity {id} already exists")));
            }
            Ok(((), vec![Change { history: None, id: id.clone(), old: None, new: Some(e) }]))
        })?;
        Ok(Out::empty(201).header("Location", format!("/ngsi-ld/v1/entities/{id}")))
    }

    /// `GET /entities/{id}`.
    pub fn retrieve_entity(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, true)?;
        check_id(id)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        let o = render_opts(&p, &ctx)?;
        let types = p.get("type").map(|t| parse_type_param(t, &ctx)).transpose()?;
        let g = rlock(&self.tenants);
        let e = g
            .get(&tenant)
            .and_then(|t| t.entities.get(id))
            .filter(|e| types.as_ref().is_none_or(|ts| ts.iter().any(|s| s.iter().all(|x| e.types.contains(x)))))
            .ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
        if media == Media::GeoJson {
            let gp = ctx.expand(p.get("geometryProperty").unwrap_or("location"));
            let f = render::feature(e, &ctx, &o, &gp);
            return Ok(self.answer(200, media, &ctx, f));
        }
        let m = match crate::join::parse(&p)? {
            Some((crate::join::Join::Inline, level)) => crate::join::inline(g.get(&tenant).expect("tenant"), e, &ctx, &o, level),
            _ => render::entity(e, &ctx, &o),
        };
        // Nothing of what was asked for: 404.
        let asked = o.pick.as_ref().is_some_and(|p| !p.is_empty()) || !o.omit.is_empty();
        if asked && m.keys().all(|k| k == "id" || k == "type") && !(o.keep_id && o.keep_type && o.pick.is_none()) {
            return Err(NgsiError::not_found(format!("entity {id} has none of the attributes asked for")));
        }
        let body = match crate::join::parse(&p)? {
            Some((crate::join::Join::Flat, level)) => {
                // The entity alone when nothing it links to is here, else a list.
                let linked = crate::join::flat(g.get(&tenant).expect("tenant"), &[e], &ctx, &o, level);
                if linked.is_empty() {
                    Value::Object(m)
                } else {
                    let mut list = vec![Value::Object(m)];
                    list.extend(linked);
                    Value::Array(list)
                }
            }
            _ => Value::Object(m),
        };
        drop(g);
        Ok(self.answer(200, media, &ctx, body))
    }

    /// Entities of a tenant matching `f`, as (total, page).
    pub(crate) fn select(
        &self,
        tenant: &str,
        f: &Filter,
        ctx: &ActiveContext,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<Entity>) {
        let g = rlock(&self.tenants);
        let Some(t) = g.get(tenant) else { return (0, Vec::new()) };
        let mut total = 0;
        let mut page = Vec::new();
        let iter: Box<dyn Iterator<Item = &Entity>> = match &f.ids {
            Some(ids) => Box::new(ids.iter().filter_map(|i| t.entities.get(i))),
            None => Box::new(t.entities.values()),
        };
        if let Some(order) = &f.order {
            let mut all: Vec<Entity> = iter.filter(|e| f.matches(e, ctx)).cloned().collect();
            order.sort(&mut all);
            let total = all.len();
            return (total, all.into_iter().skip(offset).take(limit).collect());
        }
        for e in iter {
            if f.matches(e, ctx) {
                if total >= offset && page.len() < limit {
                    page.push(e.clone());
                }
                total += 1;
            }
        }
        (total, page)
    }

    /// `GET /entities` (and the body of `POST /entityOperations/query`).
    pub fn query_entities(&self, req: &Req) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, true)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        let f = filter_of(&p, &ctx)?;
        if f.types.is_none() && f.attrs.is_none() && f.q.is_none() && f.geo.is_none() && p.get("local") != Some("true") {
            return Err(NgsiError::bad("a query needs type, attrs, q or georel"));
        }
        let o = render_opts(&p, &ctx)?;
        let (mut out, total) = self.page_answer(&tenant, &f, &ctx, &o, media, &p)?;
        let links = p.page_links("/ngsi-ld/v1/entities", total)?;
        if !links.is_empty() {
            out = out.header("Link", links.join(","));
        }
        Ok(out)
    }

    /// One page of the entities `f` selects, and how many there are in all.
    pub(crate) fn page_answer(
        &self,
        tenant: &str,
        f: &Filter,
        ctx: &Arc<ActiveContext>,
        o: &RenderOpts,
        media: Media,
        p: &Params,
    ) -> Result<(Out, usize), NgsiError> {
        let (limit, offset, count) = p.page(self.cfg.max_limit)?;
        let (total, page) = self.select(tenant, f, ctx, offset, limit);
        let mut out = if media == Media::GeoJson {
            let gp = ctx.expand(p.get("geometryProperty").unwrap_or("location"));
            let feats: Vec<Value> = page.iter().map(|e| render::feature(e, ctx, o, &gp)).collect();
            self.answer(200, media, ctx, json!({ "type": "FeatureCollection", "features": feats }))
        } else {
            let join = crate::join::parse(p)?;
            let g = rlock(&self.tenants);
            let empty = Tenant::default();
            let t = g.get(tenant).unwrap_or(&empty);
            let mut list: Vec<Value> = page
                .iter()
                .map(|e| match join {
                    Some((crate::join::Join::Inline, level)) => Value::Object(crate::join::inline(t, e, ctx, o, level)),
                    _ => Value::Object(render::entity(e, ctx, o)),
                })
                // An entity that keeps nothing of a pick/omit is left out.
                .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
                .collect();
            if let Some((crate::join::Join::Flat, level)) = join {
                let roots: Vec<&Entity> = page.iter().collect();
                list.extend(crate::join::flat(t, &roots, ctx, o, level));
            }
            drop(g);
            self.answer(200, media, ctx, Value::Array(list))
        };
        if count {
            out = out.header("NGSILD-Results-Count", total.to_string());
        }
        Ok((out, total))
    }

    /// `DELETE /entities/{id}`.
    pub fn delete_entity(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        self.change(&tenant, |t| {
            let old = t.entities.get(id).ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            Ok(((), vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: None }]))
        })?;
        Ok(Out::empty(204))
    }

    /// `POST /entities/{id}/attrs` (append; `options=noOverwrite` keeps existing ones).
    pub fn append_attrs(&self, req: &Req, id: &str, body: &[u8]) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let m = object(v, "attributes")?;
        let p = Ngsi::params(req);
        let no_overwrite = p.option("noOverwrite");
        let now = crate::time::now_iso();
        if let Some(Value::String(bid)) = m.get("id") {
            if bid != id {
                return Err(NgsiError::bad("id in the body differs from the URL's"));
            }
        }
        let new_types = model::parse_types(m.get("type"), &ctx)?;
        let scope = m.get("scope").map(model::parse_scope).transpose()?;
        let attrs = parse_attrs(m, &ctx, &now, true)?;
        let skipped = self.change(&tenant, |t| {
            let old = t.entities.get(id).ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            let mut skipped = Vec::new();
            for ty in new_types {
                if !e.types.contains(&ty) {
                    e.types.push(ty);
                }
            }
            // `scope` is replaced, or with noOverwrite the new scopes are added.
            if let Some(sc) = &scope {
                e.scope = Some(if no_overwrite { model::merge_scopes(e.scope.as_ref(), sc) } else { sc.clone() });
            }
            for (name, insts) in attrs {
                let slot = e.attrs.entry(name.clone()).or_default();
                for mut a in insts {
                    let ds = a.get("datasetId").cloned();
                    match slot.iter_mut().find(|x| x.get("datasetId") == ds.as_ref()) {
                        Some(_) if no_overwrite => skipped.push(ctx.compact(&name)),
                        Some(x) => {
                            keep_created(&mut a, x);
                            *x = a;
                        }
                        None => slot.push(a),
                    }
                }
            }
            e.modified_at = now.clone();
            Ok((skipped, vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]))
        })?;
        if skipped.is_empty() {
            Ok(Out::empty(204))
        } else {
            let nu: Vec<Value> =
                skipped.iter().map(|a| json!({"attributeName": a, "reason": "attribute exists (noOverwrite)"})).collect();
            Ok(Out {
                status: 207,
                body: Some(json!({"updated": [], "notUpdated": nu})),
                content_type: "application/json".into(),
                headers: vec![],
            })
        }
    }

    /// `PATCH /entities/{id}/attrs` (Update Entity Attributes: existing attributes are
    /// replaced, missing ones appended; a `scope` the entity lacks is not added).
    pub fn update_attrs(&self, req: &Req, id: &str, body: &[u8]) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let mut m = object(v, "attributes")?;
        let now = crate::time::now_iso();
        let deletes = model::take_deletions(&mut m, &ctx);
        let new_types = model::parse_types(m.get("type"), &ctx)?;
        let scope = m.get("scope").map(model::parse_scope).transpose()?;
        let attrs = parse_attrs(m, &ctx, &now, true)?;
        if attrs.is_empty() && deletes.is_empty() && new_types.is_empty() && scope.is_none() {
            return Err(NgsiError::bad("no attributes to update"));
        }
        let (updated, not) = self.change(&tenant, |t| {
            let old = t.entities.get(id).ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            // Types given are added; a scope replaces the entity's (one it does not have
            // is not updated).
            let mut changed = new_types.iter().any(|ty| !e.types.contains(ty));
            for ty in new_types {
                if !e.types.contains(&ty) {
                    e.types.push(ty);
                }
            }
            let mut scope_done = None;
            if let Some(sc) = scope {
                scope_done = Some(e.scope.is_some());
                if e.scope.is_some() {
                    changed |= e.scope.as_ref() != Some(&sc);
                    e.scope = Some(sc);
                }
            }
            for d in &deletes {
                if model::apply_deletions(&mut e, std::slice::from_ref(d)) {
                    changed = true;
                }
            }
            let (mut updated, mut not) = (Vec::new(), Vec::new());
            match scope_done {
                Some(true) => updated.push("scope".to_string()),
                Some(false) => not.push("scope".to_string()),
                None => {}
            }
            // ETSI GS CIM 009 (v1.8.1 and v1.9.1) clause 5.6.2: an attribute, or an instance
            // of one (by datasetId), that the entity lacks is appended; a matching one is
            // replaced (its createdAt kept).
            for (name, insts) in attrs {
                let slot = e.attrs.entry(name.clone()).or_default();
                for mut a in insts {
                    let ds = a.get("datasetId").cloned();
                    match slot.iter_mut().find(|x| x.get("datasetId") == ds.as_ref()) {
                        Some(x) => {
                            keep_created(&mut a, x);
                            *x = a;
                        }
                        None => slot.push(a),
                    }
                    updated.push(ctx.compact(&name));
                }
            }
            let ch = if updated.iter().all(|u| u == "scope") && !changed {
                vec![]
            } else {
                e.modified_at = now.clone();
                vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]
            };
            Ok(((updated, not), ch))
        })?;
        if !not.is_empty() {
            let nu: Vec<Value> = not
                .iter()
                .map(|a| json!({"attributeName": a, "reason": "the entity has no scope; an update does not add one"}))
                .collect();
            return Ok(Out {
                status: 207,
                body: Some(json!({"updated": updated, "notUpdated": nu})),
                content_type: "application/json".into(),
                headers: vec![],
            });
        }
        Ok(Out::empty(204))
    }

    /// `PATCH /entities/{id}/attrs/{attr}` (partial update of one attribute).
    pub fn patch_attr(&self, req: &Req, id: &str, attr: &str, body: &[u8]) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let m = object(v, "attribute")?;
        let name = ctx.expand(attr);
        let now = crate::time::now_iso();
        let ds = m.get("datasetId").cloned();
        let delete = model::is_null_marker(&Value::Object(m.clone()));
        self.change(&tenant, |t| {
            let old = t.entities.get(id).ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            if delete {
                if !model::apply_deletions(&mut e, &[(name.clone(), ds.clone())]) {
                    return Err(NgsiError::not_found(format!("attribute {attr} not found")));
                }
                e.modified_at = now.clone();
                return Ok(((), vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]));
            }
            let slot = e.attrs.get_mut(&name).ok_or_else(|| NgsiError::not_found(format!("attribute {attr} not found")))?;
            let inst = slot
                .iter_mut()
                .find(|x| x.get("datasetId") == ds.as_ref())
                .ok_or_else(|| NgsiError::not_found(format!("attribute {attr} has no such datasetId")))?;
            let mut merged: Map<String, Value> = Map::new();
            let kind = inst.get("type").cloned();
            if let (Some(given), Some(k)) = (m.get("type"), &kind) {
                if given != k {
                    return Err(NgsiError::bad(format!("{attr}: is a {k}, not a {given}")));
                }
            }
            for (k, v) in inst.iter() {
                if model::ATTR_MEMBERS.contains(&k.as_str()) {
                    merged.insert(k.clone(), v.clone());
                } else {
                    merged.insert(ctx.compact(k), render::attr(v.as_object().unwrap_or(&Map::new()), &ctx, &RenderOpts::new()));
                }
            }
            for (k, v) in &m {
                merged.insert(k.clone(), v.clone());
            }
            if m.get("type").is_none() {
                if let Some(k) = kind {
                    merged.insert("type".into(), k);
                }
            }
            let mut a: Attr = model::parse_attr(attr, &name, Value::Object(merged), &ctx, &now, true)?;
            keep_created(&mut a, inst);
            *inst = a;
            e.modified_at = now.clone();
            Ok(((), vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]))
        })?;
        Ok(Out::empty(204))
    }

    /// `PUT /entities/{id}/attrs/{attr}` (replace one attribute).
    pub fn replace_attr(&self, req: &Req, id: &str, attr: &str, body: &[u8]) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        check_attr_name(attr)?;
        let (ctx, v) = self.body(req, body)?;
        let name = ctx.expand(attr);
        let now = crate::time::now_iso();
        let mut v = v;
        if let Value::Object(m) = &mut v {
            m.remove("@context");
        }
        let insts = model::parse_attr_value(attr, &name, v, &ctx, &now, true)?;
        self.change(&tenant, |t| {
            let old = t.entities.get(id).ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            let slot = e.attrs.get_mut(&name).ok_or_else(|| NgsiError::not_found(format!("attribute {attr} not found")))?;
            for mut a in insts {
                let ds = a.get("datasetId").cloned();
                match slot.iter_mut().find(|x| x.get("datasetId") == ds.as_ref()) {
                    Some(x) => {
                        keep_created(&mut a, x);
                        *x = a;
                    }
                    None => return Err(NgsiError::not_found(format!("attribute {attr} has no such datasetId"))),
                }
            }
            e.modified_at = now.clone();
            Ok(((), vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]))
        })?;
        Ok(Out::empty(204))
    }

    /// `DELETE /entities/{id}/attrs/{attr}` (`datasetId`, `deleteAll`).
    pub fn delete_attr(&self, req: &Req, id: &str, attr: &str) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        let name = ctx.expand(attr);
        let all = p.bool("deleteAll")?;
        let ds = p.get("datasetId").map(|s| Value::String(s.to_string()));
        let now = crate::time::now_iso();
        let scope = crate::util::percent_decode(attr) == "scope";
        self.change(&tenant, |t| {
            let old = t.entities.get(id).ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            if scope {
                e.scope.take().ok_or_else(|| NgsiError::not_found(format!("entity {id} has no scope")))?;
                e.modified_at = now.clone();
                return Ok(((), vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]));
            }
            let slot = e.attrs.get_mut(&name).ok_or_else(|| NgsiError::not_found(format!("attribute {attr} not found")))?;
            let before = slot.len();
            if all {
                slot.clear();
            } else {
                slot.retain(|x| x.get("datasetId") != ds.as_ref());
            }
            if slot.len() == before {
                return Err(NgsiError::not_found(format!("attribute {attr} has no such instance")));
            }
            if slot.is_empty() {
                e.attrs.remove(&name);
            }
            e.modified_at = now.clone();
            Ok(((), vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]))
        })?;
        Ok(Out::empty(204))
    }

    /// `PUT /entities/{id}` (replace the entity, keeping its creation time).
    pub fn replace_entity(&self, req: &Req, id: &str, body: &[u8]) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let mut m = object(v, "entity")?;
        match m.get("id") {
            Some(Value::String(b)) if b != id => return Err(NgsiError::bad("id in the body differs from the URL's")),
            _ => {}
        }
        m.insert("id".into(), Value::String(id.into()));
        let now = crate::time::now_iso();
        let mut e = Entity::parse(m, &ctx, true, &now)?;
        self.change(&tenant, |t| {
            let old = t.entities.get(id).ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            e.created_at = old.created_at.clone();
            Ok(((), vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]))
        })?;
        Ok(Out::empty(204))
    }

    /// `PATCH /entities/{id}` (merge: attributes replaced or added, `null` deletes; a
    /// Property given as a bare value keeps the old instance's other members).
    pub fn merge_entity(&self, req: &Req, id: &str, body: &[u8]) -> Result<Out, NgsiError> {
        check_id(id)?;
        let tenant = self.begin(req, true)?;
        let (ctx, v) = self.body(req, body)?;
        let m = object(v, "entity")?;
        if let Some(Value::String(b)) = m.get("id") {
            if b != id {
                return Err(NgsiError::bad("id in the body differs from the URL's"));
            }
        }
        let now = crate::time::now_iso();
        let new_types = model::parse_types(m.get("type"), &ctx)?;
        let mut rest = m.clone();
        let deletes = model::take_deletions(&mut rest, &ctx);
        let attrs = parse_attrs(rest, &ctx, &now, true)?;
        self.change(&tenant, |t| {
            let old = t.entities.get(id).ok_or_else(|| NgsiError::not_found(format!("entity {id} not found")))?;
            let mut e = old.clone();
            for ty in new_types {
                if !e.types.contains(&ty) {
                    e.types.push(ty);
                }
            }
            model::apply_deletions(&mut e, &deletes);
            for (name, insts) in attrs {
                let slot = e.attrs.entry(name).or_default();
                for mut a in insts {
                    let ds = a.get("datasetId").cloned();
                    match slot.iter_mut().find(|x| x.get("datasetId") == ds.as_ref()) {
                        Some(x) => {
                            keep_created(&mut a, x);
                            for (k, v) in x.iter() {
                                if !a.contains_key(k) && k != "value" && k != "object" {
                                    a.insert(k.clone(), v.clone());
                                }
                            }
                            *x = a;
                        }
                        None => slot.push(a),
                    }
                }
            }
            e.modified_at = now.clone();
            Ok(((), vec![Change { history: None, id: id.into(), old: Some(old.clone()), new: Some(e) }]))
        })?;
        Ok(Out::empty(204))
    }
}
