//! The temporal representation of an entity as read from the history table (ETSI GS CIM
//! 009 v1.8, 4.5.7 to 4.5.9, 4.5.19, 6.3.10): the instances of each attribute in the
//! time window (`timerel`, `timeAt`, `endTimeAt`), `lastN` of each, `attrs` / `pick` /
//! `omit` / `datasetId` applied, as instances (normalized, with `instanceId`), as
//! `temporalValues` (simplified) or as `aggregatedValues`. A response holds at most
//! [`crate::NgsiConfig::temporal_max_instances`] instances per entity: beyond that it is
//! cut at a point in time and answered 206 with `Content-Range: date-time
//! <start>-<end>/<size>` (`size`: `lastN`, else `*`); the client asks for the rest from
//! `<end>` on. A `lastN` answer is a page of the newest instances: when an attribute
//! filled it, it is answered 206 with its range (newest to oldest given, size `lastN`)
//! even within the cap; shorter than `lastN` everywhere, it is the whole history (200).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::aggregate::{self, iso};
use crate::context::ActiveContext;
use crate::error::NgsiError;
use crate::model::{value_member, Entity};
use crate::params::Params;
use crate::render::{self, Format, RenderOpts};
use crate::service::Ngsi;

const INSTANCE: &str = "urn:ngsi-ld:attribute:instance:";
/// Rows read for one entity at most (the cap applies after).
const READ_MAX: usize = 1_000_000;

/// One entity's temporal representation.
pub struct View {
    pub body: Value,
    /// `Content-Range` when the instances were cut.
    pub range: Option<String>,
    /// Attributes in the answer.
    pub attrs: usize,
    /// Instances in the window before any cut (0: the entity has none there).
    pub found: usize,
}

/// `timerel` with `timeAt`/`endTimeAt` as a window of Unix seconds, and the bound the
/// client gave (`timeAt` for after/between, `timeAt` for before, `endTimeAt` for between).
pub struct Window {
    pub from: f64,
    pub to: f64,
    pub rel: Option<String>,
    pub at: Option<f64>,
    pub end: Option<f64>,
}

pub fn window(p: &Params) -> Result<Window, NgsiError> {
    let t = |k: &str| -> Result<Option<f64>, NgsiError> {
        match p.get(k) {
            None => Ok(None),
            Some(s) => crate::time::secs(s).map(Some).ok_or_else(|| NgsiError::bad(format!("{k}: not a DateTime"))),
        }
    };
    let at = t("timeAt")?;
    let end = t("endTimeAt")?;
    let need = || NgsiError::bad("timeAt: needed with timerel");
    let (from, to) = match p.get("timerel") {
        None => (f64::MIN, f64::MAX),
        Some("before") => (f64::MIN, at.ok_or_else(need)? - 1e-6),
        Some("after") => (at.ok_or_else(need)?, f64::MAX),
        Some("between") => {
            let (a, b) = (at.ok_or_else(need)?, end.ok_or_else(|| NgsiError::bad("endTimeAt: needed with timerel=between"))?);
            if b <= a {
                return Err(NgsiError::bad("endTimeAt: must be after timeAt"));
            }
            (a, b - 1e-6)
        }
        Some(o) => return Err(NgsiError::bad(format!("timerel: unknown value {o:?}"))),
    };
    Ok(Window { from, to, rel: p.get("timerel").map(str::to_string), at, end })
}

/// A rendered instance and its time.
type Timed = (f64, Value);

struct Inst {
    time: f64,
    row: i64,
    body: Map<String, Value>,
}

impl Ngsi {
    /// The temporal representation of `e` for the request's parameters.
    pub(crate) fn temporal_view(
        &self,
        tenant: &str,
        e: &Entity,
        p: &Params,
        ctx: &ActiveContext,
        o: &RenderOpts,
    ) -> Result<View, NgsiError> {
        let w = window(p)?;
        let last_n = p.usize("lastN")?;
        if last_n == Some(0) {
            return Err(NgsiError::bad("lastN: at least 1"));
        }
        // `format` takes precedence over `options` (6.3.12).
        let opts = p.list("options").unwrap_or_default();
        let (aggregated, simplified) = match p.get("format") {
            Some("aggregatedValues") => (true, false),
            Some("temporalValues" | "simplified" | "keyValues") => (false, true),
            Some(_) => (false, false),
            None => (
                opts.iter().any(|x| x == "aggregatedValues"),
                opts.iter().any(|x| x == "temporalValues") || o.format == Format::KeyValues,
            ),
        };
        let methods = if aggregated { aggregate::methods(p.list("aggrMethods"))? } else { Vec::new() };
        let rows = self.db.history(tenant, &e.id, w.from, w.to, READ_MAX)?;
        let mut by: BTreeMap<String, Vec<Inst>> = BTreeMap::new();
        // Instances in the window (a `pick` of core members only does not count).
        let mut found = 0;
        for (row, attr, time, body) in rows {
            let Ok(Value::Object(a)) = serde_json::from_str::<Value>(&body) else { continue };
            let ds = a.get("datasetId").and_then(Value::as_str).unwrap_or("@none");
            if o.datasets.as_ref().is_some_and(|l| !l.iter().any(|x| x == ds)) {
                continue;
            }
            if o.pick.as_ref().is_some_and(|p| p.is_empty()) {
                found += 1;
            }
            if o.pick.as_ref().is_some_and(|p| !p.contains(&attr)) || o.omit.contains(&attr) {
                continue;
            }
            found += 1;
            by.entry(attr).or_default().push(Inst { time, row, body: a });
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
        let attrs = by.len();
        if aggregated {
            let first = by.values().flatten().map(|i| i.time).fold(f64::INFINITY, f64::min);
            let last = by.values().flatten().map(|i| i.time).fold(f64::NEG_INFINITY, f64::max);
            let start = match w.rel.as_deref() {
                Some("after" | "between") => w.at.unwrap_or(first),
                _ => first,
            };
            let end = match w.rel.as_deref() {
                Some("between") => w.end.unwrap_or(last),
                Some("before") => w.at.unwrap_or(last),
                _ => last,
            };
            let period = aggregate::period(p.get("aggrPeriodDuration"), start)?;
            for (name, insts) in &by {
                let kind = insts.first().and_then(|i| i.body.get("type")).and_then(Value::as_str).unwrap_or("Property");
                let member = value_member(kind).unwrap_or("value");
                let pts: Vec<(f64, Value)> =
                    insts.iter().map(|i| (i.time, i.body.get(member).cloned().unwrap_or(Value::Null))).collect();
                let mut a = aggregate::aggregate(&pts, start, end, period, &methods);
                a.insert("type".into(), kind.into());
                m.insert(ctx.compact(name), Value::Object(a));
            }
            return Ok(View { body: Value::Object(m), range: None, attrs, found });
        }
        if let Some(n) = last_n {
            for v in by.values_mut() {
                let k = v.len().saturating_sub(n);
                v.drain(..k);
            }
        }
        let range = self.cut(&mut by, &w, last_n);
        let ro = RenderOpts { format: Format::Normalized, ..o.clone() };
        for (name, insts) in by {
            let rendered: Vec<(f64, Value)> = insts
                .into_iter()
                .map(|i| {
                    let mut v = render::attr(&i.body, ctx, &ro);
                    if let Value::Object(x) = &mut v {
                        x.insert("instanceId".into(), format!("{INSTANCE}{}", i.row).into());
                    }
                    (i.time, v)
                })
                .collect();
            let out = if simplified {
                simplify_by_dataset(rendered)
            } else {
                Value::Array(rendered.into_iter().map(|(_, v)| v).collect())
            };
            m.insert(ctx.compact(&name), out);
        }
        Ok(View { body: Value::Object(m), range, attrs, found })
    }

    /// Cut the instances at a point in time when there are more than the cap: the
    /// earliest ones (the latest with `lastN`) are kept, every instance at the cut's time
    /// too. The `Content-Range` of what is kept; with `lastN` also when an attribute's
    /// page is full (see above).
    fn cut(&self, by: &mut BTreeMap<String, Vec<Inst>>, w: &Window, last_n: Option<usize>) -> Option<String> {
        let cap = self.cfg.temporal_max_instances.max(1);
        let mut times: Vec<f64> = by.values().flatten().map(|i| i.time).collect();
        let newest_first = last_n.is_some();
        times.sort_by(|a, b| if newest_first { b.total_cmp(a) } else { a.total_cmp(b) });
        let edge = if times.len() <= cap {
            // Within the cap. A `lastN` answer is a page of the newest instances: when an
            // attribute filled it (older instances may be behind it), it is answered as a
            // page, 206 with its range, so the client can ask for the instances before it;
            // an answer shorter than `lastN` everywhere is the whole history (200).
            match last_n {
                Some(n) if by.values().any(|v| v.len() >= n) => *times.last()?,
                _ => return None,
            }
        } else {
            let edge = times[cap - 1];
            for v in by.values_mut() {
                v.retain(|i| if newest_first { i.time >= edge } else { i.time <= edge });
            }
            by.retain(|_, v| !v.is_empty());
            if by.values().map(Vec::len).sum::<usize>() == times.len() {
                // Every instance shares the cut's time: nothing was left out.
                return None;
            }
            edge
        };
        let first = times[0];
        let size = last_n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        let start = if newest_first {
            match w.rel.as_deref() {
                Some("between") => w.end.unwrap_or(first),
                Some("before") => w.at.unwrap_or(first),
                _ => first,
            }
        } else {
            match w.rel.as_deref() {
                Some("between" | "after") => w.at.unwrap_or(first),
                _ => first,
            }
        };
        Some(format!("date-time {}-{}/{size}", iso(start), iso(edge)))
    }
}

/// The simplified form of an attribute: one object per `datasetId` (with its
/// `datasetId`), a list when there are several.
fn simplify_by_dataset(insts: Vec<Timed>) -> Value {
    let mut groups: Vec<(Option<Value>, Vec<Timed>)> = Vec::new();
    for (t, v) in insts {
        let ds = v.get("datasetId").cloned();
        match groups.iter_mut().find(|(d, _)| *d == ds) {
            Some((_, g)) => g.push((t, v)),
            None => groups.push((ds, vec![(t, v)])),
        }
    }
    let mut out: Vec<Value> = groups
        .into_iter()
        .map(|(ds, g)| {
            let mut v = simplify(&g);
            if let (Some(ds), Some(m)) = (ds, v.as_object_mut()) {
                m.insert("datasetId".into(), ds);
            }
            v
        })
        .collect();
    if out.len() == 1 {
        out.remove(0)
    } else {
        Value::Array(out)
    }
}

/// The simplified (`temporalValues`) form of one attribute's rendered instances:
/// `{"type": T, "values" | "objects" | "languageMaps" | ...: [[value, time], ...]}`.
fn simplify(insts: &[(f64, Value)]) -> Value {
    let kind = insts.first().and_then(|(_, x)| x.get("type")).and_then(Value::as_str).unwrap_or("Property").to_string();
    let member = value_member(&kind).unwrap_or("value");
    let vals: Vec<Value> = insts
        .iter()
        .map(|(t, x)| {
            let v = x.get(member).cloned().unwrap_or(Value::Null);
            let v = match member {
                "languageMap" | "json" | "vocab" => {
                    let mut o = Map::new();
                    o.insert(member.into(), v);
                    Value::Object(o)
                }
                _ => v,
            };
            let at = x.get("observedAt").cloned().unwrap_or_else(|| iso(*t).into());
            Value::Array(vec![v, at])
        })
        .collect();
    let key = match kind.as_str() {
        "Relationship" => "objects",
        "LanguageProperty" => "languageMaps",
        "JsonProperty" => "jsons",
        "VocabProperty" => "vocabs",
        "ListProperty" => "valueLists",
        "ListRelationship" => "objectLists",
        _ => "values",
    };
    let mut o = Map::new();
    o.insert("type".into(), kind.into());
    o.insert(key.into(), Value::Array(vals));
    Value::Object(o)
}
