//! What a notification says about each changed entity (ETSI GS CIM 009 v1.8, 5.8.6):
//! the entity in the subscription's format (`notification.format`, `sysAttrs`,
//! `attributes` / `pick` / `omit`, the subscription's `datasetId`), each deleted
//! attribute instance with the null marker `urn:ngsi-ld:null` (and `deletedAt` with
//! sysAttrs), a deleted entity as its id, type and `deletedAt`, the previous value of
//! each changed instance with `showChanges` (`previousValue`, `previousObject`,
//! `previousLanguageMap`, `previousJson`, `previousVocab`, ...), linked entities with
//! `join` / `joinLevel`, and the `@context` in each entity of a JSON-LD notification.

use serde_json::{json, Map, Value};

use crate::context::ActiveContext;
use crate::entities::Change;
use crate::join::Join;
use crate::model::{value_member, Attr, Entity};
use crate::render::{self, Format, RenderOpts};
use crate::service::Tenant;
use crate::subs::Subscription;

/// The null marker of NGSI-LD: an attribute (instance) that was deleted.
pub const NULL: &str = "urn:ngsi-ld:null";

/// How a subscription's notifications render entities.
pub struct NoticeOpts {
    pub render: RenderOpts,
    pub show_changes: bool,
    /// The subscription fires on `attributeDeleted`.
    pub attr_deleted: bool,
    /// `watchedAttributes`, expanded.
    pub watched: Option<Vec<String>>,
    pub join: Option<(Join, usize)>,
    /// The `@context` to put in each entity (JSON-LD notifications).
    pub entity_ctx: Option<Value>,
}

impl NoticeOpts {
    pub fn of(s: &Subscription, ctx: &ActiveContext, entity_ctx: Option<Value>) -> NoticeOpts {
        let n = s.spec.get("notification");
        let get = |k: &str| n.and_then(|n| n.get(k));
        let mut o = RenderOpts::new();
        o.format = match get("format").and_then(Value::as_str) {
            Some("keyValues" | "simplified") => Format::KeyValues,
            Some("concise") => Format::Concise,
            _ => Format::Normalized,
        };
        o.sys_attrs = get("sysAttrs").and_then(Value::as_bool).unwrap_or(false);
        let names = |v: Option<&Value>| -> Option<Vec<String>> {
            v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        };
        if let Some(a) = names(get("attributes")).filter(|a| !a.is_empty()) {
            o.pick = Some(a.iter().map(|x| ctx.expand(x)).collect());
        }
        if let Some(p) = names(get("pick")) {
            o.keep_id = p.iter().any(|x| x == "id");
            o.keep_type = p.iter().any(|x| x == "type");
            o.pick = Some(p.iter().filter(|x| *x != "id" && *x != "type").map(|x| ctx.expand(x)).collect());
        }
        if let Some(p) = names(get("omit")) {
            o.keep_id = !p.iter().any(|x| x == "id");
            o.keep_type = !p.iter().any(|x| x == "type");
            o.omit = p.iter().filter(|x| *x != "id" && *x != "type").map(|x| ctx.expand(x)).collect();
        }
        o.datasets = names(s.spec.get("datasetId"));
        let join = match get("join").and_then(Value::as_str) {
            Some("flat") => Some(Join::Flat),
            Some("inline") => Some(Join::Inline),
            _ => None,
        }
        .map(|j| (j, get("joinLevel").and_then(Value::as_u64).unwrap_or(1).min(8) as usize));
        NoticeOpts {
            render: o,
            show_changes: get("showChanges").and_then(Value::as_bool).unwrap_or(false),
            attr_deleted: crate::notify::triggers(s).iter().any(|t| t == "attributeDeleted"),
            watched: crate::notify::watched(s, ctx),
            join,
            entity_ctx,
        }
    }

    fn keeps(&self, name: &str, a: &Attr) -> bool {
        let o = &self.render;
        if o.pick.as_ref().is_some_and(|p| !p.iter().any(|x| x == name)) || o.omit.iter().any(|x| x == name) {
            return false;
        }
        o.datasets.as_ref().is_none_or(|ds| ds.iter().any(|x| x == ds_of(a).unwrap_or("@none")))
    }
}

fn ds_of(a: &Attr) -> Option<&str> {
    a.get("datasetId").and_then(Value::as_str)
}

/// `previousValue`, `previousObject`, ... for a value member.
fn previous_key(member: &str) -> String {
    let mut c = member.chars();
    match c.next() {
        Some(f) => format!("previous{}{}", f.to_ascii_uppercase(), c.as_str()),
        None => "previousValue".into(),
    }
}

/// The `data` of a notification about `changes`.
pub fn data(t: &Tenant, changes: &[&Change], ctx: &ActiveContext, n: &NoticeOpts, now: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut roots: Vec<&Entity> = Vec::new();
    for c in changes {
        let mut m = match (&c.old, &c.new) {
            (old, Some(new)) => {
                let mut m = match n.join {
                    Some((Join::Inline, level)) => crate::join::inline(t, new, ctx, &n.render, level),
                    _ => render::entity(new, ctx, &n.render),
                };
                roots.push(new);
                if let Some(old) = old {
                    changed(&mut m, old, new, ctx, n, now);
                }
                m
            }
            (Some(old), None) => deleted_entity(old, ctx, n, now),
            (None, None) => continue,
        };
        if let Some(c) = &n.entity_ctx {
            m.insert("@context".into(), c.clone());
        }
        out.push(Value::Object(m));
    }
    if let Some((Join::Flat, level)) = n.join {
        for mut e in crate::join::flat(t, &roots, ctx, &n.render, level) {
            if let (Some(c), Some(m)) = (&n.entity_ctx, e.as_object_mut()) {
                m.insert("@context".into(), c.clone());
            }
            out.push(e);
        }
    }
    out
}

/// The instances deleted from `old` to `new` as null-marked attributes, and with
/// `showChanges` the previous values of the changed ones.
fn changed(m: &mut Map<String, Value>, old: &Entity, new: &Entity, ctx: &ActiveContext, n: &NoticeOpts, now: &str) {
    for (name, olds) in &old.attrs {
        let news = new.attrs.get(name);
        for oa in olds {
            if !n.keeps(name, oa) {
                continue;
            }
            match news.and_then(|v| v.iter().find(|x| ds_of(x) == ds_of(oa))) {
                None => push(m, &ctx.compact(name), null_attr(oa, ctx, n, now)),
                Some(na) if n.show_changes && na != oa && n.render.format != Format::KeyValues => {
                    if let Some(slot) = slot_mut(m, &ctx.compact(name), ds_of(oa)) {
                        add_previous(slot, oa, ctx);
                    }
                }
                Some(_) => {}
            }
        }
    }
}

/// A deleted entity: id, type, `deletedAt` (and its system times with sysAttrs); its
/// attributes null-marked when the subscription shows changes or fires on deleted
/// attributes (only the watched ones then).
fn deleted_entity(old: &Entity, ctx: &ActiveContext, n: &NoticeOpts, now: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), old.id.clone().into());
    m.insert("type".into(), render::types_out(&old.types, ctx));
    if n.render.sys_attrs {
        m.insert("createdAt".into(), old.created_at.clone().into());
        m.insert("modifiedAt".into(), old.modified_at.clone().into());
    }
    m.insert("deletedAt".into(), now.into());
    if !(n.show_changes || n.attr_deleted) {
        return m;
    }
    for (name, insts) in &old.attrs {
        if !n.show_changes && n.watched.as_ref().is_some_and(|w| !w.contains(name)) {
            continue;
        }
        for a in insts.iter().filter(|a| n.keeps(name, a)) {
            push(&mut m, &ctx.compact(name), null_attr(a, ctx, n, now));
        }
    }
    m
}

/// A deleted instance: its type with the null marker (`{"@none": ...}` for a
/// LanguageProperty), its datasetId, and with sysAttrs its times and `deletedAt`.
fn null_attr(a: &Attr, ctx: &ActiveContext, n: &NoticeOpts, now: &str) -> Value {
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("Property");
    let member = value_member(kind).unwrap_or("value");
    if n.render.format == Format::KeyValues {
        return NULL.into();
    }
    let mut gone = Attr::new();
    gone.insert("type".into(), kind.into());
    let marker = if kind == "LanguageProperty" { json!({ "@none": NULL }) } else { NULL.into() };
    gone.insert(member.into(), marker);
    for k in ["datasetId", "createdAt", "modifiedAt"] {
        if let Some(v) = a.get(k) {
            gone.insert(k.into(), v.clone());
        }
    }
    let mut v = render::attr(&gone, ctx, &n.render);
    if n.render.sys_attrs {
        if let Some(m) = v.as_object_mut() {
            m.insert("deletedAt".into(), now.into());
        }
    }
    if n.show_changes {
        if let Some(m) = as_object(&mut v) {
            add_previous(m, a, ctx);
        }
    }
    v
}

/// `previousValue` (or the member of the attribute's type) from the old instance.
fn add_previous(slot: &mut Map<String, Value>, old: &Attr, ctx: &ActiveContext) {
    let kind = old.get("type").and_then(Value::as_str).unwrap_or("Property");
    let member = value_member(kind).unwrap_or("value");
    let rendered = render::attr(old, ctx, &RenderOpts::new());
    if let Some(prev) = rendered.get(member) {
        slot.insert(previous_key(member), prev.clone());
    }
}

/// A concise attribute may be a bare value; make it an object to add members.
fn as_object(v: &mut Value) -> Option<&mut Map<String, Value>> {
    if !v.is_object() {
        let bare = v.take();
        *v = json!({ "value": bare });
    }
    v.as_object_mut()
}

/// The rendered instance of `key` with `datasetId` `ds`.
fn slot_mut<'a>(m: &'a mut Map<String, Value>, key: &str, ds: Option<&str>) -> Option<&'a mut Map<String, Value>> {
    let same = |x: &Value| x.get("datasetId").and_then(Value::as_str) == ds;
    match m.get_mut(key)? {
        Value::Array(a) => a.iter_mut().find(|x| same(x)).and_then(as_object),
        v if v.is_object() => same(v).then(|| as_object(v)).flatten(),
        v if ds.is_none() => as_object(v),
        _ => None,
    }
}

/// Add an instance to the rendered attribute `key` (a list when there are several).
fn push(m: &mut Map<String, Value>, key: &str, v: Value) {
    match m.get_mut(key) {
        None => {
            m.insert(key.into(), v);
        }
        Some(Value::Array(a)) => a.push(v),
        Some(x) => {
            let first = x.take();
            *x = Value::Array(vec![first, v]);
        }
    }
}
