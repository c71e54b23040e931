//! The stored form of an entity: id, expanded types, and attributes by expanded name,
//! each a list of instances (one per `datasetId`). Incoming JSON (normalized or concise)
//! is validated and expanded here; [`crate::render`] does the way back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::context::{ActiveContext, NGSI};
use crate::error::NgsiError;
use crate::util::is_uri;

/// An attribute instance: `type`, its value member, `datasetId`, `observedAt`,
/// `unitCode`, system times and sub-attributes (by expanded name).
pub type Attr = Map<String, Value>;

/// The attribute types of NGSI-LD, with the member that holds their value.
pub const ATTR_TYPES: [(&str, &str); 8] = [
    ("Property", "value"),
    ("Relationship", "object"),
    ("GeoProperty", "value"),
    ("LanguageProperty", "languageMap"),
    ("JsonProperty", "json"),
    ("VocabProperty", "vocab"),
    ("ListProperty", "valueList"),
    ("ListRelationship", "objectList"),
];

/// Members of an attribute that are not sub-attributes.
pub const ATTR_MEMBERS: [&str; 18] = [
    "type",
    "value",
    "object",
    "languageMap",
    "json",
    "vocab",
    "valueList",
    "objectList",
    "objectType",
    "datasetId",
    "observedAt",
    "unitCode",
    "createdAt",
    "modifiedAt",
    "deletedAt",
    "instanceId",
    "lang",
    "@context",
];

/// The value member of an attribute type.
pub fn value_member(kind: &str) -> Option<&'static str> {
    ATTR_TYPES.iter().find(|(k, _)| *k == kind).map(|(_, m)| *m)
}

/// An entity as stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: String,
    /// Expanded type IRIs.
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Value>,
    pub created_at: String,
    pub modified_at: String,
    /// Expanded attribute name → instances.
    pub attrs: BTreeMap<String, Vec<Attr>>,
    /// Derived from the brain's own data ([`crate::brainmap`]): kept in memory only and
    /// read-only to clients.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub brain: bool,
}

/// The expanded names of the core's geo attributes.
pub fn is_geo_name(iri: &str) -> bool {
    matches!(iri.strip_prefix(NGSI), Some("location" | "observationSpace" | "operationSpace"))
}

/// Characters an attribute or type name may not hold.
pub fn valid_name(n: &str) -> bool {
    let bad = |c: char| c.is_control() || c.is_whitespace() || "<>\"'=;()\\".contains(c);
    // ASCII bytes (nearly every name) are checked by a table; the rest char by char.
    !n.is_empty() && n.len() <= 512 && if n.is_ascii() { !n.bytes().any(|b| BAD_ASCII[b as usize]) } else { !n.chars().any(bad) }
}

/// The ASCII characters [`valid_name`] refuses: controls, whitespace and `<>"'=;()\`.
static BAD_ASCII: [bool; 128] = {
    let mut t = [false; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = c < 0x20 || c == 0x7f || c == b' ' || matches!(c, b'<' | b'>' | b'"' | b'\'' | b'=' | b';' | b'(' | b')' | b'\\');
        i += 1;
    }
    t
};

impl Entity {
    /// Parse an entity body with its context. `need_type`: creation (type required).
    /// The body is taken: its values move into the entity instead of being copied.
    pub fn parse(body: Map<String, Value>, ctx: &ActiveContext, need_type: bool, now: &str) -> Result<Entity, NgsiError> {
        let id = match body.get("id").or_else(|| body.get("@id")) {
            Some(Value::String(s)) if is_uri(s) => s.clone(),
            Some(Value::String(s)) => return Err(NgsiError::bad(format!("id: {s:?} is not a URI"))),
            Some(_) => return Err(NgsiError::bad("id must be a string")),
            None => return Err(NgsiError::bad("id: missing")),
        };
        let types = parse_types(body.get("type").or_else(|| body.get("@type")), ctx)?;
        if need_type && types.is_empty() {
            return Err(NgsiError::bad("type: missing"));
        }
        let mut e = Entity {
            id,
            types,
            scope: None,
            created_at: now.to_string(),
            modified_at: now.to_string(),
            attrs: BTreeMap::new(),
            brain: false,
        };
        if let Some(s) = body.get("scope") {
            e.scope = Some(parse_scope(s)?);
        }
        e.attrs = parse_attrs(body, ctx, now, true)?;
        Ok(e)
    }

    /// The instance of `attr` with `dataset` (`None`: the default instance).
    pub fn instance(&self, attr: &str, dataset: Option<&str>) -> Option<&Attr> {
        self.attrs.get(attr)?.iter().find(|a| a.get("datasetId").and_then(Value::as_str) == dataset)
    }
}

/// A `scope` member: a path starting with `/`, or a non-empty array of them.
pub fn parse_scope(s: &Value) -> Result<Value, NgsiError> {
    let ok = |x: &Value| x.as_str().is_some_and(|s| s.starts_with('/') && !s.contains(' '));
    match s {
        Value::String(_) if ok(s) => Ok(s.clone()),
        Value::Array(a) if a.iter().all(ok) && !a.is_empty() => Ok(s.clone()),
        _ => Err(NgsiError::bad("scope: a path starting with / or an array of them")),
    }
}

/// Entity types from `type` (a name or a list of names), expanded.
pub fn parse_types(v: Option<&Value>, ctx: &ActiveContext) -> Result<Vec<String>, NgsiError> {
    let one = |x: &Value| -> Result<String, NgsiError> {
        match x {
            Value::String(s) if valid_name(s) => {
                let t = ctx.expand(s);
                // A term the @context maps to a JSON-LD keyword (`type` is `@type` in the
                // core context) names no type.
                if t.starts_with('@') || t.rsplit(['/', '#']).next().is_some_and(|x| x.starts_with('@')) {
                    return Err(NgsiError::bad(format!("type: {s:?} stands for a JSON-LD keyword ({t}), not a type")));
                }
                Ok(t)
            }
            Value::String(s) => Err(NgsiError::bad(format!("type: {s:?} is not a valid type name"))),
            _ => Err(NgsiError::bad("type: names must be strings")),
        }
    };
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => {
            if a.is_empty() {
                return Err(NgsiError::bad("type: empty list"));
            }
            let mut out: Vec<String> = Vec::new();
            for x in a {
                let t = one(x)?;
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            Ok(out)
        }
        Some(x) => Ok(vec![one(x)?]),
    }
}

/// Attributes of an entity (or fragment) body: every member but the reserved ones.
pub fn parse_attrs(
    body: Map<String, Value>,
    ctx: &ActiveContext,
    now: &str,
    top: bool,
) -> Result<BTreeMap<String, Vec<Attr>>, NgsiError> {
    let mut out: BTreeMap<String, Vec<Attr>> = BTreeMap::new();
    for (k, v) in body {
        if matches!(k.as_str(), "id" | "@id" | "type" | "@type" | "@context" | "scope" | "createdAt" | "modifiedAt" | "deletedAt")
        {
            continue;
        }
        if !valid_name(&k) {
            return Err(NgsiError::bad(format!("{k:?}: not a valid attribute name")));
        }
        let name = ctx.expand(&k);
        let instances = parse_attr_value(&k, &name, v, ctx, now, top)?;
        let slot = out.entry(name).or_default();
        for i in instances {
            let ds = i.get("datasetId").cloned();
            if slot.iter().any(|o| o.get("datasetId") == ds.as_ref()) {
                return Err(NgsiError::bad(format!("{k}: two instances with the same datasetId")));
            }
            slot.push(i);
        }
    }
    Ok(out)
}

/// One attribute's value (normalized or concise, an instance or a list of them).
pub fn parse_attr_value(
    k: &str,
    name: &str,
    v: Value,
    ctx: &ActiveContext,
    now: &str,
    top: bool,
) -> Result<Vec<Attr>, NgsiError> {
    match v {
        Value::Array(a) if !a.is_empty() && a.iter().all(|x| x.as_object().is_some_and(looks_like_attr)) => {
            a.into_iter().map(|x| parse_attr(k, name, x, ctx, now, top)).collect()
        }
        v => Ok(vec![parse_attr(k, name, v, ctx, now, top)?]),
    }
}

fn looks_like_attr(m: &Map<String, Value>) -> bool {
    match m.get("type").and_then(Value::as_str) {
        Some(t) => value_member(t).is_some(),
        None => ["value", "object", "languageMap", "json", "vocab", "valueList", "objectList"].iter().any(|x| m.contains_key(*x)),
    }
}

const GEO_TYPES: [&str; 7] =
    ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"];

/// One attribute instance.
/// The value is taken: an instance given in full becomes the stored one without a copy.
pub fn parse_attr(k: &str, name: &str, v: Value, ctx: &ActiveContext, now: &str, top: bool) -> Result<Attr, NgsiError> {
    let geo_name = is_geo_name(name);
    let mut a = match v {
        Value::Null => return Err(NgsiError::bad(format!("{k}: null is not a value"))),
        Value::Object(m) if looks_like_attr(&m) => m,
        Value::Object(m)
            if m.get("type").and_then(Value::as_str).is_some_and(|t| GEO_TYPES.contains(&t)) && m.contains_key("coordinates") =>
        {
            let mut a = Map::new();
            a.insert("type".into(), "GeoProperty".into());
            a.insert("value".into(), Value::Object(m));
            a
        }
        Value::Object(m) if m.contains_key("type") => {
            return Err(NgsiError::bad(format!("{k}: attribute type {} is not an NGSI-LD attribute type", m["type"])));
        }
        v => {
            let mut a = Map::new();
            a.insert("type".into(), if geo_name { "GeoProperty" } else { "Property" }.into());
            a.insert("value".into(), v);
            a
        }
    };
    let (kind, member): (&'static str, &'static str) = match a.get("type") {
        Some(Value::String(t)) => match ATTR_TYPES.iter().find(|(x, _)| x == t) {
            Some(&(kind, member)) => (kind, member),
            None => return Err(NgsiError::bad(format!("{k}: unknown attribute type {t:?}"))),
        },
        Some(_) => return Err(NgsiError::bad(format!("{k}: type must be a string"))),
        None => {
            let t = ATTR_TYPES.iter().find(|(_, m)| a.contains_key(*m)).map(|(t, _)| *t).unwrap_or("Property");
            let t = if t == "Property" && geo_name { "GeoProperty" } else { t };
            a.insert("type".into(), t.into());
            (t, value_member(t).unwrap_or("value"))
        }
    };
    match a.get(member) {
        None | Some(Value::Null) => return Err(NgsiError::bad(format!("{k}: a {kind} needs {member}"))),
        Some(val) => check_value(k, kind, val, geo_name)?,
    }
    if let Some(ds) = a.get("datasetId") {
        if !ds.as_str().is_some_and(is_uri) {
            return Err(NgsiError::bad(format!("{k}: datasetId must be a URI")));
        }
    }
    if let Some(o) = a.get("observedAt") {
        if o.as_str().is_none_or(|s| crate::time::parse(s).is_none()) {
            return Err(NgsiError::bad(format!("{k}: observedAt must be a DateTime")));
        }
    }
    if let Some(u) = a.get("unitCode") {
        if !u.is_string() {
            return Err(NgsiError::bad(format!("{k}: unitCode must be a string")));
        }
    }
    a.remove("createdAt");
    a.remove("modifiedAt");
    a.remove("@context");
    // Sub-attributes: expand their names, parse them recursively.
    let subs: Vec<String> = a.keys().filter(|x| !ATTR_MEMBERS.contains(&x.as_str())).cloned().collect();
    for s in subs {
        let sv = a.remove(&s).unwrap_or(Value::Null);
        if !valid_name(&s) {
            return Err(NgsiError::bad(format!("{k}.{s}: not a valid attribute name")));
        }
        let sn = ctx.expand(&s);
        let sub = parse_attr(&s, &sn, sv, ctx, now, false)?;
        a.insert(sn, Value::Object(sub));
    }
    if kind == "VocabProperty" {
        let v = a.get("vocab").cloned().unwrap_or(Value::Null);
        let ex = |x: &Value| x.as_str().map(|s| Value::String(ctx.expand(s))).unwrap_or(x.clone());
        let nv = match &v {
            Value::Array(xs) => Value::Array(xs.iter().map(ex).collect()),
            x => ex(x),
        };
        a.insert("vocab".into(), nv);
    }
    a.insert("createdAt".into(), now.into());
    a.insert("modifiedAt".into(), now.into());
    let _ = top;
    Ok(a)
}

fn check_value(k: &str, kind: &str, v: &Value, geo_name: bool) -> Result<(), NgsiError> {
    match kind {
        "Relationship" => {
            let ok = |x: &Value| x.as_str().is_some_and(is_uri);
            let good = match v {
                Value::Array(a) => !a.is_empty() && a.iter().all(ok),
                x => ok(x),
            };
            if !good {
                return Err(NgsiError::bad(format!("{k}: object must be a URI")));
            }
        }
        "GeoProperty" => {
            crate::geo::Geometry::parse(v).map_err(|e| NgsiError::bad(format!("{k}: {e}")))?;
        }
        "LanguageProperty" => {
            let ok = v.as_object().is_some_and(|m| {
                m.values().all(|x| x.is_string() || x.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
            });
            ok.then_some(()).ok_or_else(|| NgsiError::bad(format!("{k}: languageMap must map language tags to strings")))?;
        }
        "ListProperty" | "ListRelationship" => {
            v.is_array().then_some(()).ok_or_else(|| NgsiError::bad(format!("{k}: a list is needed")))?;
        }
        "VocabProperty" => {
            let ok = v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
            ok.then_some(()).ok_or_else(|| NgsiError::bad(format!("{k}: vocab must be a string or a list of strings")))?;
        }
        _ => {}
    }
    if geo_name && kind != "GeoProperty" {
        return Err(NgsiError::bad(format!("{k}: must be a GeoProperty")));
    }
    Ok(())
}

/// Keep `old`'s creation time on a replaced instance (and its sub-attributes').
pub fn keep_created(new: &mut Attr, old: &Attr) {
    if let Some(c) = old.get("createdAt") {
        new.insert("createdAt".into(), c.clone());
    }
}

/// The NGSI-LD null: an attribute (instance) given with it is deleted by merge and update.
pub const NULL: &str = "urn:ngsi-ld:null";

/// Whether an attribute instance as given is the null marker.
pub fn is_null_marker(v: &Value) -> bool {
    let null = |x: &Value| x.as_str() == Some(NULL) || x.as_array().is_some_and(|a| a.len() == 1 && a[0].as_str() == Some(NULL));
    match v {
        Value::Null => true,
        Value::String(s) => s == NULL,
        Value::Object(m) => {
            ["value", "object", "json", "vocab", "valueList", "objectList"].iter().any(|k| m.get(*k).is_some_and(null))
                || m.get("languageMap").is_some_and(|l| l.get("@none").is_some_and(null))
        }
        _ => false,
    }
}

/// Take the null-marked attributes (instances) out of a fragment: (expanded name, datasetId).
pub fn take_deletions(m: &mut Map<String, Value>, ctx: &ActiveContext) -> Vec<(String, Option<Value>)> {
    let mut out = Vec::new();
    let keys: Vec<String> = m.keys().filter(|k| !matches!(k.as_str(), "id" | "type" | "@context" | "scope")).cloned().collect();
    for k in keys {
        let name = ctx.expand(&k);
        match m.get_mut(&k) {
            Some(Value::Array(a)) if a.iter().any(|x| x.is_object()) => {
                a.retain(|x| {
                    if is_null_marker(x) {
                        out.push((name.clone(), x.get("datasetId").cloned()));
                        false
                    } else {
                        true
                    }
                });
                if a.is_empty() {
                    m.remove(&k);
                }
            }
            Some(v) if is_null_marker(v) => {
                out.push((name, v.get("datasetId").cloned()));
                m.remove(&k);
            }
            _ => {}
        }
    }
    out
}

/// Delete the given instances (a missing datasetId: the default instance); whether any was.
pub fn apply_deletions(e: &mut Entity, dels: &[(String, Option<Value>)]) -> bool {
    let mut any = false;
    for (name, ds) in dels {
        if let Some(slot) = e.attrs.get_mut(name) {
            let before = slot.len();
            slot.retain(|x| x.get("datasetId") != ds.as_ref());
            any |= slot.len() != before;
            if slot.is_empty() {
                e.attrs.remove(name);
            }
        }
    }
    any
}

/// The scopes of both, each once, `a`'s first (a single one stays a string).
pub fn merge_scopes(a: Option<&Value>, b: &Value) -> Value {
    let mut all: Vec<Value> = Vec::new();
    for v in [a, Some(b)].into_iter().flatten() {
        match v {
            Value::Array(xs) => all.extend(xs.iter().cloned()),
            x => all.push(x.clone()),
        }
    }
    let mut out: Vec<Value> = Vec::new();
    for x in all {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII table says what the per-character rule says, for every ASCII character
    /// alone and inside a name.
    #[test]
    fn the_ascii_table_agrees_with_the_character_rule() {
        let slow = |n: &str| !n.chars().any(|c| c.is_control() || c.is_whitespace() || "<>\"'=;()\\".contains(c));
        for b in 0u8..128 {
            let c = b as char;
            for n in [c.to_string(), format!("speed{c}"), format!("{c}x{c}")] {
                assert_eq!(valid_name(&n), slow(&n), "{n:?}");
            }
        }
        assert!(valid_name("vélocité"));
        assert!(!valid_name("a\u{2003}b"), "an em space outside ASCII");
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(513)));
    }
}
