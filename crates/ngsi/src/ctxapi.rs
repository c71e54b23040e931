//! The broker's own contexts (`/jsonldContexts`): clients add contexts (`hosted`), the
//! broker lists what it holds (also the `cached` remote ones), serves and deletes them.

use serde_json::{json, Value};

use crate::db::Write;
use crate::error::NgsiError;
use crate::service::{Media, Ngsi, Out, Req};

impl Ngsi {
    /// `POST /jsonldContexts` (a document with an object or array `@context`).
    pub fn add_context(&self, req: &Req, body: &[u8]) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let ct = crate::service::media_type(req.content_type.as_deref());
        if ct != "application/json" && ct != "application/ld+json" {
            return Err(NgsiError::UnsupportedMediaType(format!("Content-Type: {ct:?} is not supported")));
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| NgsiError::invalid(format!("body: not JSON: {e}")))?;
        let c = v.get("@context").ok_or_else(|| NgsiError::bad("@context: missing"))?;
        if !(c.is_object() || c.is_array()) {
            return Err(NgsiError::bad("@context: an object or an array"));
        }
        // It must resolve (no unavailable remote parts, no malformed terms).
        self.contexts.resolve(c)?;
        let id = crate::subs::uuid();
        let url = format!("/ngsi-ld/v1/jsonldContexts/{id}");
        self.commit(&[Write::PutContext { url: url.clone(), kind: format!("hosted@{tenant}"), body: v.to_string() }])?;
        self.contexts.store_hosted(&url, v, &tenant);
        Ok(Out::empty(201).header("Location", url))
    }

    /// The implicitly created context of a composite `@context` (several entries, or an
    /// inline object): stored as `ImplicitlyCreated` and served like a hosted one; the same
    /// composite gives the same context. Its URL (`/ngsi-ld/v1/jsonldContexts/{id}`).
    pub(crate) fn implicit_context(&self, raw: &Value) -> Result<String, NgsiError> {
        // It must resolve (every part available) before it is kept.
        self.contexts.resolve(raw)?;
        let body = json!({ "@context": raw });
        let known = crate::lock(&self.contexts.docs)
            .values()
            .find(|d| d.kind == "implicitlycreated" && *d.body == body)
            .map(|d| d.url.clone());
        if let Some(url) = known {
            return Ok(url);
        }
        let url = format!("/ngsi-ld/v1/jsonldContexts/{}", crate::subs::uuid());
        self.commit(&[Write::PutContext { url: url.clone(), kind: "implicitlycreated".into(), body: body.to_string() }])?;
        self.contexts.store_doc(&url, body, "implicitlycreated");
        Ok(url)
    }

    /// `GET /jsonldContexts` (`details=true`, `kind=`).
    pub fn list_contexts(&self, req: &Req) -> Result<Out, NgsiError> {
        self.begin(req, false)?;
        let p = Ngsi::params(req);
        let details = p.bool("details")?;
        let kind = p.get("kind").map(|k| k.to_ascii_lowercase());
        if let Some(k) = &kind {
            if !matches!(k.as_str(), "hosted" | "cached" | "implicitlycreated") {
                return Err(NgsiError::bad(format!("kind: unknown value {k:?}")));
            }
        }
        let docs = crate::lock(&self.contexts.docs);
        let mut list: Vec<_> = docs
            .values()
            .filter(|d| d.kind != "preloaded")
            .filter(|d| kind.as_deref().is_none_or(|k| k == d.kind.to_ascii_lowercase()))
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.url.cmp(&b.url)));
        let body: Vec<Value> = list
            .iter()
            .map(|d| {
                if details {
                    let mut m = json!({"URL": d.url, "localId": d.id, "kind": kind_name(d.kind), "createdAt": d.created_at});
                    if d.kind == "cached" {
                        m["numberOfHits"] = d.uses.into();
                        if let Some(l) = &d.last_usage {
                            m["lastUsage"] = l.clone().into();
                        }
                    }
                    m
                } else {
                    Value::String(d.url.clone())
                }
            })
            .collect();
        Ok(Out { status: 200, body: Some(Value::Array(body)), content_type: "application/json".into(), headers: vec![] })
    }

    /// `GET /jsonldContexts/{id}` (`details=true`: its description).
    /// A context document is JSON: `application/json` unless the client prefers
    /// `application/ld+json`.
    pub fn serve_context(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        let ct = match Ngsi::accept(req, false)? {
            Media::LdJson => "application/ld+json",
            _ => "application/json",
        };
        self.begin(req, false)?;
        let id = crate::util::percent_decode(id);
        let details = Ngsi::params(req).bool("details")?;
        if id == "core" || crate::context::is_core(&id) {
            let v: Value = serde_json::from_str(crate::context::core_doc()).unwrap_or(Value::Null);
            return Ok(Out { status: 200, body: Some(v), content_type: ct.into(), headers: vec![] });
        }
        let docs = crate::lock(&self.contexts.docs);
        let d = docs
            .values()
            .find(|d| d.id == id || d.url == id)
            .ok_or_else(|| NgsiError::not_found(format!("context {id} not found")))?;
        if details {
            let body = json!({"URL": d.url, "localId": d.id, "kind": kind_name(d.kind), "createdAt": d.created_at});
            return Ok(Out { status: 200, body: Some(body), content_type: "application/json".into(), headers: vec![] });
        }
        Ok(Out { status: 200, body: Some((*d.body).clone()), content_type: ct.into(), headers: vec![] })
    }

    /// `DELETE /jsonldContexts/{id}` (`reload=true` refetches a cached one).
    /// Only writers of the tenant that hosted it (of the default tenant for a cached one).
    pub fn delete_context(&self, req: &Req, id: &str) -> Result<Out, NgsiError> {
        self.begin(req, true)?;
        let id = crate::util::percent_decode(id);
        let reload = Ngsi::params(req).bool("reload")?;
        if id == "core" || crate::context::is_core(&id) {
            return Err(NgsiError::bad("the core context cannot be deleted"));
        }
        let found = {
            let docs = crate::lock(&self.contexts.docs);
            docs.values().find(|d| d.id == id || d.url == id).map(|d| (d.url.clone(), d.kind, d.tenant.clone()))
        };
        let (url, kind, host) = match found {
            Some(f) => f,
            // A reload fetches the context again from its URL: a name that is neither a
            // stored context nor a URL is a bad request.
            None if reload && !crate::util::is_uri(&id) => {
                return Err(NgsiError::bad(format!("reload: {id:?} is not the URL of a cached context")))
            }
            None => return Err(NgsiError::not_found(format!("context {id} not found"))),
        };
        // A hosted context is the hosting tenant's to delete; a cached or implicitly
        // created one the broker's (the default tenant's writers).
        self.authorize_tenant(req, host.as_deref().unwrap_or(""), true)?;
        if reload && kind != "cached" {
            return Err(NgsiError::bad("reload: only a cached context can be reloaded"));
        }
        if reload {
            // Fetched again first: when it cannot be had (503), the cached copy stays.
            let fresh = self.contexts.refetch(&url)?;
            self.contexts.store_doc(&url, fresh, "cached");
            self.contexts.invalidate();
            return Ok(Out::empty(204));
        }
        self.commit(&[Write::DelContext { url: url.clone() }])?;
        crate::lock(&self.contexts.docs).remove(&url);
        self.contexts.invalidate();
        Ok(Out::empty(204))
    }
}

fn kind_name(k: &str) -> &'static str {
    match k {
        "hosted" => "Hosted",
        "cached" => "Cached",
        _ => "ImplicitlyCreated",
    }
}
