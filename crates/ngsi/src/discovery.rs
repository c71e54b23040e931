//! Discovery: `/types`, `/types/{type}`, `/attributes`, `/attributes/{attr}`, computed
//! from the tenant's entities.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::error::NgsiError;
use crate::service::{rlock, Ngsi, Out, Req};

#[derive(Default)]
struct TypeInfo {
    count: usize,
    /// attribute → attribute types
    attrs: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Default)]
struct AttrInfo {
    count: usize,
    types: BTreeSet<String>,
    entity_types: BTreeSet<String>,
}

impl Ngsi {
    fn survey(&self, tenant: &str) -> (BTreeMap<String, TypeInfo>, BTreeMap<String, AttrInfo>) {
        let mut types: BTreeMap<String, TypeInfo> = BTreeMap::new();
        let mut attrs: BTreeMap<String, AttrInfo> = BTreeMap::new();
        let g = rlock(&self.tenants);
        if let Some(t) = g.get(tenant) {
            for e in t.entities.values() {
                for ty in &e.types {
                    let ti = types.entry(ty.clone()).or_default();
                    ti.count += 1;
                    for (n, insts) in &e.attrs {
                        let s = ti.attrs.entry(n.clone()).or_default();
                        for a in insts {
                            if let Some(k) = a.get("type").and_then(Value::as_str) {
                                s.insert(k.to_string());
                            }
                        }
                    }
                }
                for (n, insts) in &e.attrs {
                    let ai = attrs.entry(n.clone()).or_default();
                    ai.count += 1;
                    for a in insts {
                        if let Some(k) = a.get("type").and_then(Value::as_str) {
                            ai.types.insert(k.to_string());
                        }
                    }
                    ai.entity_types.extend(e.types.iter().cloned());
                }
            }
        }
        (types, attrs)
    }

    /// `GET /types` (`details=true`: one EntityType each).
    pub fn types(&self, req: &Req) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let details = Ngsi::params(req).bool("details")?;
        let (types, _) = self.survey(&tenant);
        let body = if details {
            Value::Array(
                types
                    .iter()
                    .map(|(t, i)| {
                        json!({"id": t, "type": "EntityType", "typeName": ctx.compact(t),
                               "attributeNames": i.attrs.keys().map(|a| ctx.compact(a)).collect::<Vec<_>>()})
                    })
                    .collect(),
            )
        } else {
            json!({"id": format!("urn:ngsi-ld:EntityTypeList:{}", crate::subs::uuid()), "type": "EntityTypeList",
                   "typeList": types.keys().map(|t| ctx.compact(t)).collect::<Vec<_>>()})
        };
        Ok(self.answer(200, media, &ctx, body))
    }

    /// `GET /types/{type}`.
    pub fn type_info(&self, req: &Req, ty: &str) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let iri = ctx.expand(&crate::util::percent_decode(ty));
        let (types, _) = self.survey(&tenant);
        let i = types.get(&iri).ok_or_else(|| NgsiError::not_found(format!("no entity of type {ty}")))?;
        let details: Vec<Value> = i
            .attrs
            .iter()
            .map(|(a, k)| json!({"id": a, "type": "Attribute", "attributeName": ctx.compact(a), "attributeTypes": k.iter().collect::<Vec<_>>()}))
            .collect();
        let body = json!({"id": iri, "type": "EntityTypeInfo", "typeName": ctx.compact(&iri), "entityCount": i.count, "attributeDetails": details});
        Ok(self.answer(200, media, &ctx, body))
    }

    /// `GET /attributes` (`details=true`: one Attribute each).
    pub fn attributes(&self, req: &Req) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let details = Ngsi::params(req).bool("details")?;
        let (_, attrs) = self.survey(&tenant);
        let body = if details {
            Value::Array(attrs.iter().map(|(a, i)| attr_json(a, i, &ctx, false)).collect())
        } else {
            json!({"id": format!("urn:ngsi-ld:AttributeList:{}", crate::subs::uuid()), "type": "AttributeList",
                   "attributeList": attrs.keys().map(|a| ctx.compact(a)).collect::<Vec<_>>()})
        };
        Ok(self.answer(200, media, &ctx, body))
    }

    /// `GET /attributes/{attr}`.
    pub fn attribute_info(&self, req: &Req, attr: &str) -> Result<Out, NgsiError> {
        let media = Ngsi::accept(req, false)?;
        let tenant = self.begin(req, false)?;
        let ctx = self.link_ctx(req)?;
        let iri = ctx.expand(&crate::util::percent_decode(attr));
        let (_, attrs) = self.survey(&tenant);
        let i = attrs.get(&iri).ok_or_else(|| NgsiError::not_found(format!("no attribute {attr}")))?;
        Ok(self.answer(200, media, &ctx, attr_json(&iri, i, &ctx, true)))
    }
}

/// An Attribute: with `full` (the information on one attribute) also how many entities
/// hold it and as which attribute types; the list of `details=true` leaves those out.
fn attr_json(a: &str, i: &AttrInfo, ctx: &crate::context::ActiveContext, full: bool) -> Value {
    let mut v = json!({"id": a, "type": "Attribute", "attributeName": ctx.compact(a),
           "typeNames": i.entity_types.iter().map(|t| ctx.compact(t)).collect::<Vec<_>>()});
    if full {
        v["attributeCount"] = i.count.into();
        v["attributeTypes"] = json!(i.types.iter().collect::<Vec<_>>());
    }
    v
}
