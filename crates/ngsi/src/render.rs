//! Stored entities back to JSON: compacted with the caller's context, in the normalized,
//! concise or keyValues form, with or without system attributes, attributes picked or
//! omitted, as an entity or as a GeoJSON Feature.

use serde_json::{Map, Value};

use crate::context::ActiveContext;
use crate::model::{value_member, Attr, Entity, ATTR_MEMBERS};
use crate::select::Proj;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Normalized,
    Concise,
    KeyValues,
}

#[derive(Clone, Debug, Default)]
pub struct RenderOpts {
    pub format: Format,
    pub sys_attrs: bool,
    /// Expanded names of the attributes to keep (`attrs`/`pick`); `None`: all.
    pub pick: Option<Vec<String>>,
    /// Expanded names to drop (`omit`).
    pub omit: Vec<String>,
    /// Keep `id` / `type` (a `pick` without them drops them).
    pub keep_id: bool,
    pub keep_type: bool,
    /// `lang`: a LanguageProperty answers this language's string as a Property.
    pub lang: Option<String>,
    /// `datasetId`: only these instances (`@none`: the default one).
    pub datasets: Option<Vec<String>>,
    /// What `pick`/`omit` says about linked entities: expanded Relationship name → the
    /// projection of the entity it points to (`rel{...}`), a pick or an omit as `linked_pick`.
    pub linked: Vec<(String, Vec<Proj>)>,
    pub linked_pick: bool,
}

impl RenderOpts {
    pub fn new() -> RenderOpts {
        RenderOpts { keep_id: true, keep_type: true, ..Default::default() }
    }

    /// Keep only the members of a `pick` projection.
    pub fn apply_pick(&mut self, list: &[Proj], ctx: &ActiveContext) {
        self.keep_id = list.iter().any(|x| x.name == "id");
        self.keep_type = list.iter().any(|x| x.name == "type");
        self.pick = Some(list.iter().filter(|x| x.name != "id" && x.name != "type").map(|x| ctx.expand(&x.name)).collect());
        self.linked = nested(list, ctx);
        self.linked_pick = true;
    }

    /// Drop the members of an `omit` projection (a member with a nested projection is
    /// kept: the projection applies to the entity it points to).
    pub fn apply_omit(&mut self, list: &[Proj], ctx: &ActiveContext) {
        let dropped = |n: &str| list.iter().any(|x| x.name == n && x.sub.is_none());
        self.keep_id = !dropped("id");
        self.keep_type = !dropped("type");
        self.omit = list.iter().filter(|x| x.sub.is_none()).map(|x| ctx.expand(&x.name)).collect();
        self.linked = nested(list, ctx);
        self.linked_pick = false;
    }

    /// Whether an attribute (expanded name) is shown.
    pub fn shows(&self, name: &str) -> bool {
        self.pick.as_ref().is_none_or(|p| p.iter().any(|x| x == name)) && !self.omit.iter().any(|x| x == name)
    }

    /// The options for an entity a Relationship (expanded name) points to: the same
    /// format, and the nested projection given for that Relationship, if any.
    pub fn linked_opts(&self, rel: &str, ctx: &ActiveContext) -> RenderOpts {
        let mut o = RenderOpts { format: self.format, sys_attrs: self.sys_attrs, lang: self.lang.clone(), ..RenderOpts::new() };
        if let Some((_, sub)) = self.linked.iter().find(|(n, _)| n == rel) {
            if self.linked_pick {
                o.apply_pick(sub, ctx);
            } else {
                o.apply_omit(sub, ctx);
            }
        }
        o
    }
}

fn nested(list: &[Proj], ctx: &ActiveContext) -> Vec<(String, Vec<Proj>)> {
    list.iter().filter_map(|x| x.sub.as_ref().map(|s| (ctx.expand(&x.name), s.clone()))).collect()
}

/// Compact one type (or a list) for output.
pub fn types_out(types: &[String], ctx: &ActiveContext) -> Value {
    if types.len() == 1 {
        Value::String(ctx.compact(&types[0]))
    } else {
        Value::Array(types.iter().map(|t| Value::String(ctx.compact(t))).collect())
    }
}

/// Render an entity.
pub fn entity(e: &Entity, ctx: &ActiveContext, o: &RenderOpts) -> Map<String, Value> {
    let mut m = Map::new();
    if o.keep_id {
        m.insert("id".into(), Value::String(e.id.clone()));
    }
    if o.keep_type {
        m.insert("type".into(), types_out(&e.types, ctx));
    }
    if let Some(s) = e.scope.as_ref().filter(|_| o.shows(&format!("{}scope", crate::context::NGSI))) {
        m.insert("scope".into(), s.clone());
    }
    if o.sys_attrs {
        m.insert("createdAt".into(), e.created_at.clone().into());
        m.insert("modifiedAt".into(), e.modified_at.clone().into());
    }
    for (name, insts) in &e.attrs {
        if !o.shows(name) {
            continue;
        }
        let keep = |a: &&Attr| {
            o.datasets.as_ref().is_none_or(|ds| {
                let d = a.get("datasetId").and_then(Value::as_str).unwrap_or("@none");
                ds.iter().any(|x| x == d)
            })
        };
        let out: Vec<Value> = insts.iter().filter(keep).map(|a| attr(a, ctx, o)).collect();
        if out.is_empty() {
            continue;
        }
        let v = if out.len() == 1 { out.into_iter().next().unwrap_or(Value::Null) } else { Value::Array(out) };
        m.insert(ctx.compact(name), v);
    }
    m
}

/// Render one attribute instance.
pub fn attr(a: &Attr, ctx: &ActiveContext, o: &RenderOpts) -> Value {
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("Property");
    let member = value_member(kind).unwrap_or("value");
    if o.format == Format::KeyValues {
        if kind == "LanguageProperty" {
            if let Some(l) = &o.lang {
                return lang_pick(a.get("languageMap"), l);
            }
            return serde_json::json!({ "languageMap": a.get("languageMap").cloned().unwrap_or(Value::Null) });
        }
        return value_out(a, member, ctx);
    }
    let mut m = Map::new();
    if kind == "LanguageProperty" {
        if let Some(l) = &o.lang {
            m.insert("type".into(), "Property".into());
            m.insert("value".into(), lang_pick(a.get("languageMap"), l));
            if let Some(lm) = a.get("languageMap") {
                let used = pick_tag(lm, l);
                if let Some(t) = used {
                    m.insert("lang".into(), t.into());
                }
            }
        }
    }
    for (k, v) in a {
        if ATTR_MEMBERS.contains(&k.as_str()) {
            if (k == "createdAt" || k == "modifiedAt") && !o.sys_attrs {
                continue;
            }
            if k == "languageMap" && m.contains_key("value") {
                continue;
            }
            if k == "type" && m.contains_key("type") {
                continue;
            }
            if k == "vocab" || k == "objectType" {
                m.insert(k.clone(), compact_vocab(v, ctx));
                continue;
            }
            m.insert(k.clone(), v.clone());
        } else if let Some(sub) = v.as_object() {
            m.insert(ctx.compact(k), attr(sub, ctx, o));
        }
    }
    if o.format == Format::Concise {
        m.remove("type");
        let only_value = m.len() == 1 && m.contains_key("value");
        if only_value || (kind == "GeoProperty" && m.len() == 1) {
            return m.remove("value").unwrap_or(Value::Null);
        }
    }
    Value::Object(m)
}

fn compact_vocab(v: &Value, ctx: &ActiveContext) -> Value {
    match v {
        Value::String(s) => Value::String(ctx.compact(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| compact_vocab(x, ctx)).collect()),
        x => x.clone(),
    }
}

fn value_out(a: &Attr, member: &str, ctx: &ActiveContext) -> Value {
    let v = a.get(member).cloned().unwrap_or(Value::Null);
    match member {
        "vocab" => compact_vocab(&v, ctx),
        "json" => serde_json::json!({ "json": v }),
        _ => v,
    }
}

fn pick_tag<'a>(lm: &'a Value, l: &str) -> Option<&'a str> {
    let m = lm.as_object()?;
    if l != "*" {
        for want in l.split(',') {
            let want = want.split(';').next().unwrap_or("").trim();
            if let Some((k, _)) = m.get_key_value(want) {
                return Some(k.as_str());
            }
        }
    }
    m.get_key_value("@none").or_else(|| m.iter().next()).map(|(k, _)| k.as_str())
}

fn lang_pick(lm: Option<&Value>, l: &str) -> Value {
    let Some(lm) = lm else { return Value::Null };
    match pick_tag(lm, l) {
        Some(t) => lm.get(t).cloned().unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// An entity as a GeoJSON Feature (`geometryProperty`: expanded name, default location).
pub fn feature(e: &Entity, ctx: &ActiveContext, o: &RenderOpts, geo_prop: &str) -> Value {
    let geometry = e.attrs.get(geo_prop).and_then(|i| i.first()).and_then(|a| a.get("value")).cloned().unwrap_or(Value::Null);
    let mut props = entity(e, ctx, o);
    props.remove("id");
    let mut f = Map::new();
    f.insert("id".into(), e.id.clone().into());
    f.insert("type".into(), "Feature".into());
    f.insert("geometry".into(), geometry);
    f.insert("properties".into(), Value::Object(props));
    Value::Object(f)
}
