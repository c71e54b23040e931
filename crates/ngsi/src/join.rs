//! Linked entities (`join=inline|flat`, `joinLevel`): the entities a Relationship points
//! to, from the same tenant, either inside the relationship (`entity`, or in place of the
//! object with keyValues) or appended to the answer's list.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::context::ActiveContext;
use crate::model::Entity;
use crate::render::{self, Format, RenderOpts};
use crate::service::Tenant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    Inline,
    Flat,
}

/// `join` and `joinLevel` (default 1).
pub fn parse(p: &crate::params::Params) -> Result<Option<(Join, usize)>, crate::NgsiError> {
    let level = p.usize("joinLevel")?.unwrap_or(1).min(8);
    Ok(match p.get("join") {
        None => None,
        Some("inline") => Some((Join::Inline, level)),
        Some("flat") => Some((Join::Flat, level)),
        Some("@none") => None,
        Some(o) => return Err(crate::NgsiError::bad(format!("join: unknown value {o:?}"))),
    })
}

/// The Relationships of `e` that `o` shows, as (expanded name, target id).
fn targets(e: &Entity, o: &RenderOpts) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, insts) in e.attrs.iter().filter(|(n, _)| o.shows(n)) {
        for a in insts {
            if a.get("type").and_then(Value::as_str) != Some("Relationship") {
                continue;
            }
            match a.get("object") {
                Some(Value::String(s)) => out.push((name.clone(), s.clone())),
                Some(Value::Array(xs)) => out.extend(xs.iter().filter_map(Value::as_str).map(|s| (name.clone(), s.to_string()))),
                _ => {}
            }
        }
    }
    out
}

/// Render `e` with its linked entities inline, `level` deep; a nested `pick`/`omit`
/// (`rel{...}`) shapes the entity `rel` points to.
pub fn inline(t: &Tenant, e: &Entity, ctx: &ActiveContext, o: &RenderOpts, level: usize) -> Map<String, Value> {
    let mut m = render::entity(e, ctx, o);
    if level == 0 {
        return m;
    }
    for (name, target) in targets(e, o) {
        let key = ctx.compact(&name);
        if !m.contains_key(&key) {
            continue;
        }
        let Some(te) = t.entities.get(&target) else { continue };
        let linked = Value::Object(inline(t, te, ctx, &o.linked_opts(&name, ctx), level - 1));
        match (m.get_mut(&key), o.format) {
            (Some(slot @ Value::String(_)), Format::KeyValues) => *slot = linked,
            (Some(Value::Object(rel)), _) => {
                rel.insert("entity".into(), linked);
            }
            _ => {}
        }
    }
    m
}

/// The linked entities of `roots`, `level` deep, each once and none of the roots; only
/// through the Relationships shown, each shaped by its nested `pick`/`omit`.
pub fn flat(t: &Tenant, roots: &[&Entity], ctx: &ActiveContext, o: &RenderOpts, level: usize) -> Vec<Value> {
    let mut seen: BTreeSet<String> = roots.iter().map(|e| e.id.clone()).collect();
    let mut frontier: Vec<(&Entity, RenderOpts)> = roots.iter().map(|e| (*e, o.clone())).collect();
    let mut out = Vec::new();
    for _ in 0..level {
        let mut next = Vec::new();
        for (e, eo) in frontier {
            for (name, target) in targets(e, &eo) {
                if seen.insert(target.clone()) {
                    if let Some(te) = t.entities.get(&target) {
                        let sub = eo.linked_opts(&name, ctx);
                        out.push(Value::Object(render::entity(te, ctx, &sub)));
                        next.push((te, sub));
                    }
                }
            }
        }
        frontier = next;
    }
    out
}
