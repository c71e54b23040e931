//! `orderBy`: the order of a query's answer. A comma-separated list of members, each
//! optionally followed by `;asc` (the default) or `;desc`. A member is `id`, `type`,
//! `createdAt`, `modifiedAt`, an attribute name, or a dotted path into an attribute:
//! `attr.subAttr`, `attr.createdAt`, `attr.observedAt`, ... Entities are compared member
//! by member; numbers as numbers, strings as strings; an entity without the member comes
//! after those that have it, whatever the direction; equal keys keep the id order.

use std::cmp::Ordering;

use serde_json::Value;

use crate::context::ActiveContext;
use crate::error::NgsiError;
use crate::model::{self, Attr, Entity, ATTR_MEMBERS};

/// At most this many members in one `orderBy`.
pub const MAX_KEYS: usize = 16;
/// At most this many path segments in one member.
pub const MAX_PATH: usize = 8;

#[derive(Clone, Debug, PartialEq)]
pub enum Member {
    Id,
    Type,
    CreatedAt,
    ModifiedAt,
    /// Expanded attribute name, then the path inside it (each segment either an
    /// instance member such as `createdAt` or an expanded sub-attribute name).
    Attr(String, Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderBy(pub Vec<(Member, bool)>);

impl OrderBy {
    /// Parse `orderBy` with the request's context.
    pub fn parse(s: &str, ctx: &ActiveContext) -> Result<OrderBy, NgsiError> {
        let bad = |m: String| NgsiError::bad(format!("orderBy: {m}"));
        let mut out = Vec::new();
        for item in s.split(',') {
            let (path, dir) = match item.split_once(';') {
                Some((p, d)) => (p.trim(), d.trim()),
                None => (item.trim(), "asc"),
            };
            let desc = match dir {
                "asc" => false,
                "desc" => true,
                d => return Err(bad(format!("{d:?} is neither asc nor desc"))),
            };
            let segs: Vec<&str> = path.split('.').collect();
            if segs.len() > MAX_PATH || segs.iter().any(|s| !model::valid_name(s)) {
                return Err(bad(format!("{path:?} is not a member")));
            }
            let m = match segs.as_slice() {
                ["id"] => Member::Id,
                ["type"] => Member::Type,
                ["createdAt"] => Member::CreatedAt,
                ["modifiedAt"] => Member::ModifiedAt,
                [first, rest @ ..] => Member::Attr(
                    ctx.expand(first),
                    rest.iter().map(|s| if ATTR_MEMBERS.contains(s) { s.to_string() } else { ctx.expand(s) }).collect(),
                ),
                [] => return Err(bad("empty member".into())),
            };
            out.push((m, desc));
            if out.len() > MAX_KEYS {
                return Err(bad(format!("at most {MAX_KEYS} members")));
            }
        }
        Ok(OrderBy(out))
    }

    /// Sort `v` in place.
    pub fn sort(&self, v: &mut [Entity]) {
        v.sort_by(|a, b| self.cmp(a, b).then_with(|| a.id.cmp(&b.id)));
    }

    fn cmp(&self, a: &Entity, b: &Entity) -> Ordering {
        for (m, desc) in &self.0 {
            let (x, y) = (key(a, m), key(b, m));
            let o = match (&x, &y) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let o = cmp_values(x, y);
                    if *desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

fn key(e: &Entity, m: &Member) -> Option<Value> {
    match m {
        Member::Id => Some(Value::String(e.id.clone())),
        Member::Type => e.types.first().map(|t| Value::String(t.clone())),
        Member::CreatedAt => Some(Value::String(e.created_at.clone())),
        Member::ModifiedAt => Some(Value::String(e.modified_at.clone())),
        Member::Attr(name, path) => {
            let insts = e.attrs.get(name)?;
            // The default instance first (no datasetId), else the first one.
            let a = insts.iter().find(|a| !a.contains_key("datasetId")).or_else(|| insts.first())?;
            attr_key(a, path)
        }
    }
}

fn attr_key(a: &Attr, path: &[String]) -> Option<Value> {
    match path.split_first() {
        None => {
            let kind = a.get("type").and_then(Value::as_str).unwrap_or("Property");
            a.get(model::value_member(kind).unwrap_or("value")).cloned()
        }
        Some((seg, rest)) => match a.get(seg.as_str())? {
            Value::Object(sub) if !ATTR_MEMBERS.contains(&seg.as_str()) => attr_key(sub, rest),
            v if rest.is_empty() => Some(v.clone()),
            _ => None,
        },
    }
}

/// Numbers before strings before booleans before anything else; like with like.
fn cmp_values(x: &Value, y: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            _ => 3,
        }
    }
    match (x, y) {
        (Value::Number(a), Value::Number(b)) => {
            a.as_f64().unwrap_or(0.0).partial_cmp(&b.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => rank(x).cmp(&rank(y)).then_with(|| x.to_string().cmp(&y.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ent(id: &str, created: &str, name: Value, sub: i64) -> Entity {
        let ctx = crate::context::Contexts::new(Default::default()).core();
        let body = json!({"id": id, "type": "Building",
            "name": {"type": "Property", "value": name, "subProperty": {"type": "Property", "value": sub}}});
        let mut e = Entity::parse(body.as_object().unwrap().clone(), &ctx, true, created).unwrap();
        e.created_at = created.into();
        e
    }

    fn ids(v: &[Entity]) -> Vec<&str> {
        v.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn orders_by_members_and_directions() {
        let ctx = crate::context::Contexts::new(Default::default()).core();
        let mut v = vec![
            ent("urn:b:2", "2020-01-01T00:00:00Z", json!("B"), 2),
            ent("urn:b:1", "2020-01-02T00:00:00Z", json!("A"), 1),
            ent("urn:b:3", "2020-01-03T00:00:00Z", json!("C"), 3),
        ];
        OrderBy::parse("name", &ctx).unwrap().sort(&mut v);
        assert_eq!(ids(&v), ["urn:b:1", "urn:b:2", "urn:b:3"]);
        OrderBy::parse("name;desc", &ctx).unwrap().sort(&mut v);
        assert_eq!(ids(&v), ["urn:b:3", "urn:b:2", "urn:b:1"]);
        OrderBy::parse("createdAt", &ctx).unwrap().sort(&mut v);
        assert_eq!(ids(&v), ["urn:b:2", "urn:b:1", "urn:b:3"]);
        OrderBy::parse("type;asc,name.subProperty;desc,name;asc", &ctx).unwrap().sort(&mut v);
        assert_eq!(ids(&v), ["urn:b:3", "urn:b:2", "urn:b:1"]);
        OrderBy::parse("id", &ctx).unwrap().sort(&mut v);
        assert_eq!(ids(&v), ["urn:b:1", "urn:b:2", "urn:b:3"]);
    }

    #[test]
    fn numbers_compare_as_numbers_and_missing_goes_last() {
        let ctx = crate::context::Contexts::new(Default::default()).core();
        let mut v = vec![ent("urn:x:1", "t", json!(10), 0), ent("urn:x:2", "t", json!(9), 0), ent("urn:x:3", "t", json!(10), 0)];
        v[2].attrs.clear();
        OrderBy::parse("name", &ctx).unwrap().sort(&mut v);
        assert_eq!(ids(&v), ["urn:x:2", "urn:x:1", "urn:x:3"]);
        OrderBy::parse("name;desc", &ctx).unwrap().sort(&mut v);
        assert_eq!(ids(&v), ["urn:x:1", "urn:x:2", "urn:x:3"]);
    }

    #[test]
    fn hostile_order_by_is_refused() {
        let ctx = crate::context::Contexts::new(Default::default()).core();
        for s in ["", "name;up", "a..b", "name;", &"a,".repeat(40), &"a.".repeat(20)] {
            assert!(OrderBy::parse(s, &ctx).is_err(), "{s:?}");
        }
    }
}
