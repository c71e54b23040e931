//! JSON-LD `@context` handling, the subset NGSI-LD needs: term → IRI, compact IRIs
//! (`prefix:suffix`), `@vocab`, and the reverse (compaction). The core context (v1.8) is
//! built into the binary; the v1.6/v1.7 core URLs are treated as the core. User contexts
//! come inline, through a `Link` header or from the broker's own `jsonldContexts`; remote
//! ones are fetched only from an allow-list of URL prefixes ([`ContextConfig`]) and
//! cached. Anything else is [`NgsiError::LdContextNotAvailable`].
//!
//! Guards: nesting of remote contexts at most [`MAX_DEPTH`] deep, at most [`MAX_DOCS`]
//! documents and [`MAX_TERMS`] terms per resolution, documents at most
//! [`MAX_DOC_BYTES`]; a cycle of remote contexts is cut (each URL is loaded once per
//! resolution).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::error::NgsiError;

/// The core context's URL (v1.8), as the broker names it in answers.
pub const CORE_URL: &str = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";
/// The built-in core context document (rendered once from [`crate::core_context`]).
pub fn core_doc() -> &'static str {
    crate::core_context::core_doc()
}
/// The NGSI-LD namespace.
pub const NGSI: &str = "https://uri.etsi.org/ngsi-ld/";
/// The core context's `@vocab`: terms no context defines.
pub const DEFAULT_VOCAB: &str = "https://uri.etsi.org/ngsi-ld/default-context/";

pub const MAX_DEPTH: usize = 8;
pub const MAX_DOCS: usize = 32;
pub const MAX_TERMS: usize = 20_000;
pub const MAX_DOC_BYTES: usize = 1 << 20;

/// Whether `url` names the core context (any published version).
pub fn is_core(url: &str) -> bool {
    matches!(
        url,
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
            | "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld"
            | "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld"
            | "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.5.jsonld"
            | "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"
            | "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld"
            | CORE_URL
    )
}

/// A resolved context: what terms mean, and how to compact IRIs back.
#[derive(Debug, Clone)]
pub struct ActiveContext {
    terms: HashMap<String, String>,
    vocab: Option<String>,
    rev: HashMap<String, String>,
    /// Terms whose IRI can serve as a prefix (ends in `/`, `#` or `:`), longest first.
    prefixes: Vec<(String, String)>,
    /// The `@context` as the client gave it (`Value::Null`: the core alone).
    pub raw: Value,
}

/// `a` followed by `b`, allocated once at its size.
fn concat(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len());
    s.push_str(a);
    s.push_str(b);
    s
}

impl ActiveContext {
    fn build(terms: HashMap<String, String>, vocab: Option<String>, raw: Value) -> ActiveContext {
        let mut rev: HashMap<String, String> = HashMap::new();
        for (t, iri) in &terms {
            match rev.get(iri) {
                Some(old) if (old.len(), old.as_str()) <= (t.len(), t.as_str()) => {}
                _ => {
                    rev.insert(iri.clone(), t.clone());
                }
            }
        }
        let mut prefixes: Vec<(String, String)> = terms
            .iter()
            .filter(|(t, iri)| !t.contains(':') && (iri.ends_with('/') || iri.ends_with('#') || iri.ends_with(':')))
            .map(|(t, i)| (t.clone(), i.clone()))
            .collect();
        prefixes.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        ActiveContext { terms, vocab, rev, prefixes, raw }
    }

    /// The IRI of `term` (an attribute name, a type name).
    pub fn expand(&self, term: &str) -> String {
        if let Some(iri) = self.terms.get(term) {
            return iri.clone();
        }
        if let Some((prefix, suffix)) = term.split_once(':') {
            if suffix.starts_with("//") {
                return term.to_string();
            }
            if let Some(p) = self.terms.get(prefix) {
                return concat(p, suffix);
            }
            return term.to_string();
        }
        match &self.vocab {
            Some(v) => concat(v, term),
            None => term.to_string(),
        }
    }

    /// The shortest term (or compact IRI) for `iri` in this context.
    pub fn compact(&self, iri: &str) -> String {
        if let Some(t) = self.rev.get(iri) {
            return t.clone();
        }
        if let Some(v) = &self.vocab {
            if let Some(rest) = iri.strip_prefix(v.as_str()) {
                if !rest.is_empty() && !self.terms.contains_key(rest) && !rest.contains(':') {
                    return rest.to_string();
                }
            }
        }
        for (t, p) in &self.prefixes {
            if let Some(rest) = iri.strip_prefix(p.as_str()) {
                if !rest.is_empty() && !rest.starts_with("//") {
                    return format!("{t}:{rest}");
                }
            }
        }
        iri.to_string()
    }

    /// The `@context` value to put in an `application/ld+json` answer.
    pub fn output(&self) -> Value {
        match &self.raw {
            Value::Null => Value::String(CORE_URL.into()),
            v => v.clone(),
        }
    }

    /// The URL for a `Link` header in an `application/json` answer (the client's single
    /// remote context, or the core).
    pub fn link_url(&self) -> String {
        match &self.raw {
            Value::String(s) => s.clone(),
            Value::Array(a) if a.len() == 1 => a[0].as_str().unwrap_or(CORE_URL).to_string(),
            _ => CORE_URL.to_string(),
        }
    }
}

/// Where remote contexts may come from.
#[derive(Clone, Debug, Default)]
pub struct ContextConfig {
    /// URL prefixes that may be fetched (e.g. `http://127.0.0.1:`); nothing else is.
    pub allow: Vec<String>,
    /// Documents known in advance (URL → JSON text), served without any fetch.
    pub preload: Vec<(String, String)>,
    /// Seconds a fetch may take.
    pub fetch_timeout_s: f64,
}

/// A context stored by the broker (`/jsonldContexts`).
#[derive(Clone, Debug)]
pub struct StoredContext {
    pub id: String,
    pub url: String,
    /// `hosted` (added by a client), `cached` (fetched) or `implicitlycreated`.
    pub kind: &'static str,
    pub created_at: String,
    pub last_usage: Option<String>,
    pub uses: u64,
    pub body: Arc<Value>,
    /// The tenant whose writer hosted it (`""`: the default tenant); `None` for a cached
    /// copy of a remote context, which is the broker's (the default tenant's).
    pub tenant: Option<String>,
}

/// A resolution and the remote documents it used (their hits are counted on reuse).
type Resolved = (Arc<ActiveContext>, Vec<String>);

/// Resolves `@context` values: the core, the broker's stored contexts, the allow-list.
pub struct Contexts {
    cfg: ContextConfig,
    core: Arc<ActiveContext>,
    core_terms: HashMap<String, String>,
    /// URL → stored document (hosted, or a cached copy of a remote one).
    pub(crate) docs: Mutex<HashMap<String, StoredContext>>,
    /// Documents known in advance, by URL: what a fetch of that URL gives, without any IO.
    preload: HashMap<String, Value>,
    /// Resolved contexts by their serialized `@context` value.
    resolved: Mutex<HashMap<String, Resolved>>,
}

fn parse_core() -> (HashMap<String, String>, Option<String>) {
    let doc: Value = serde_json::from_str(core_doc()).unwrap_or(Value::Null);
    let mut defs = Defs::default();
    if let Some(Value::Object(m)) = doc.get("@context") {
        let _ = defs.object(m);
    }
    (defs.finish().unwrap_or_default(), defs.vocab.clone())
}

#[derive(Default)]
struct Defs {
    raw: Vec<(String, Option<String>)>,
    vocab: Option<String>,
}

impl Defs {
    fn object(&mut self, m: &Map<String, Value>) -> Result<(), NgsiError> {
        for (k, v) in m {
            if k == "@vocab" {
                self.vocab = match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    _ => return Err(NgsiError::bad("@context: @vocab must be a string")),
                };
                continue;
            }
            if k.starts_with('@') {
                continue;
            }
            let iri = match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                Value::Object(d) => match d.get("@id") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Null) => None,
                    None => Some(k.clone()),
                    Some(_) => return Err(NgsiError::bad(format!("@context: term {k:?}: @id must be a string"))),
                },
                _ => return Err(NgsiError::bad(format!("@context: term {k:?} must map to a string or an object"))),
            };
            if iri.as_deref().is_some_and(|i| i.starts_with('@') && i != "@id" && i != "@type") {
                continue;
            }
            self.raw.push((k.clone(), iri));
            if self.raw.len() > MAX_TERMS {
                return Err(NgsiError::bad(format!("@context: more than {MAX_TERMS} terms")));
            }
        }
        Ok(())
    }

    /// Term definitions with their compact IRIs expanded (prefixes defined anywhere in the
    /// resolution, a chain at most 8 long).
    fn finish(&self) -> Result<HashMap<String, String>, NgsiError> {
        let mut first: HashMap<String, String> = HashMap::new();
        for (k, v) in &self.raw {
            match v {
                Some(i) => first.insert(k.clone(), i.clone()),
                None => first.remove(k),
            };
        }
        let mut out = HashMap::with_capacity(first.len());
        for (k, v) in &first {
            let mut iri = v.clone();
            for _ in 0..8 {
                let Some((p, s)) = iri.split_once(':') else { break };
                if s.starts_with("//") {
                    break;
                }
                match first.get(p) {
                    Some(pi) if pi != &iri => iri = format!("{pi}{s}"),
                    _ => break,
                }
            }
            if !iri.contains(':') {
                if let Some(v) = &self.vocab {
                    iri = format!("{v}{iri}");
                }
            }
            out.insert(k.clone(), iri);
        }
        Ok(out)
    }
}

impl Contexts {
    pub fn new(cfg: ContextConfig) -> Contexts {
        let (core_terms, vocab) = parse_core();
        let core = Arc::new(ActiveContext::build(core_terms.clone(), vocab, Value::Null));
        let preload = cfg.preload.iter().filter_map(|(u, t)| Some((u.clone(), serde_json::from_str::<Value>(t).ok()?))).collect();
        Contexts { cfg, core, core_terms, docs: Mutex::new(HashMap::new()), preload, resolved: Mutex::new(HashMap::new()) }
    }

    /// The core context alone.
    pub fn core(&self) -> Arc<ActiveContext> {
        self.core.clone()
    }

    /// Keep a hosted context, remembering the tenant that hosted it.
    pub(crate) fn store_hosted(&self, url: &str, body: Value, tenant: &str) {
        self.store_doc(url, body, "hosted");
        if let Some(d) = crate::lock(&self.docs).get_mut(url) {
            d.tenant = Some(tenant.to_string());
        }
    }

    pub(crate) fn store_doc(&self, url: &str, body: Value, kind: &'static str) -> StoredContext {
        let id = url.rsplit('/').next().unwrap_or(url).to_string();
        let sc = StoredContext {
            id,
            url: url.to_string(),
            kind,
            created_at: crate::time::now_iso(),
            last_usage: None,
            uses: 0,
            body: Arc::new(body),
            tenant: None,
        };
        crate::lock(&self.docs).insert(url.to_string(), sc.clone());
        sc
    }

    /// Forget resolutions (a stored context changed).
    pub(crate) fn invalidate(&self) {
        crate::lock(&self.resolved).clear();
    }

    /// Resolve an `@context` value (`Value::Null`: the core alone).
    pub fn resolve(&self, ctx: &Value) -> Result<Arc<ActiveContext>, NgsiError> {
        if ctx.is_null() {
            return Ok(self.core.clone());
        }
        if let Value::String(s) = ctx {
            if is_core(s) {
                return Ok(self.core.clone());
            }
        }
        let key = ctx.to_string();
        let hit = crate::lock(&self.resolved).get(&key).cloned();
        if let Some((a, urls)) = hit {
            let mut docs = crate::lock(&self.docs);
            for u in &urls {
                if let Some(d) = docs.get_mut(u) {
                    d.uses += 1;
                    d.last_usage = Some(crate::time::now_iso());
                }
            }
            return Ok(a);
        }
        let mut defs = Defs::default();
        let mut seen = Vec::new();
        self.process(ctx, 0, &mut defs, &mut seen)?;
        let mut terms = defs.finish()?;
        // The core context is protected: its terms win.
        for (k, v) in &self.core_terms {
            terms.insert(k.clone(), v.clone());
        }
        let vocab = defs.vocab.clone().or_else(|| Some(DEFAULT_VOCAB.to_string()));
        let a = Arc::new(ActiveContext::build(terms, vocab, ctx.clone()));
        let mut r = crate::lock(&self.resolved);
        if r.len() > 512 {
            r.clear();
        }
        r.insert(key, (a.clone(), seen));
        Ok(a)
    }

    fn process(&self, v: &Value, depth: usize, defs: &mut Defs, seen: &mut Vec<String>) -> Result<(), NgsiError> {
        if depth > MAX_DEPTH {
            return Err(NgsiError::bad(format!("@context: nested more than {MAX_DEPTH} deep")));
        }
        match v {
            Value::Null => Ok(()),
            Value::String(url) => {
                if is_core(url) || seen.iter().any(|s| s == url) {
                    return Ok(());
                }
                if seen.len() >= MAX_DOCS {
                    return Err(NgsiError::bad(format!("@context: more than {MAX_DOCS} remote documents")));
                }
                seen.push(url.clone());
                let doc = self.load(url)?;
                let inner = doc.get("@context").cloned().unwrap_or(Value::Null);
                self.process(&inner, depth + 1, defs, seen)
            }
            Value::Array(a) => {
                if a.len() > MAX_TERMS {
                    return Err(NgsiError::bad("@context: too many entries"));
                }
                a.iter().try_for_each(|x| self.process(x, depth + 1, defs, seen))
            }
            Value::Object(m) => defs.object(m),
            _ => Err(NgsiError::bad("@context must be a URL, an object or an array of them")),
        }
    }

    /// A context document by URL: stored, preloaded, or fetched from the allow-list.
    pub fn load(&self, url: &str) -> Result<Arc<Value>, NgsiError> {
        if let Some(sc) = crate::lock(&self.docs).get_mut(url) {
            sc.uses += 1;
            sc.last_usage = Some(crate::time::now_iso());
            return Ok(sc.body.clone());
        }
        // The broker's own jsonldContexts, under whatever host the client used.
        if let Some(id) = url.split("/ngsi-ld/v1/jsonldContexts/").nth(1) {
            let id = crate::util::percent_decode(id);
            let docs = crate::lock(&self.docs);
            if let Some(sc) = docs.values().find(|s| s.id == id || s.url == id) {
                return Ok(sc.body.clone());
            }
        }
        let fetched = match self.preload.get(url) {
            Some(v) => v.clone(),
            None => self.fetch(url)?,
        };
        let mut sc = self.store_doc(url, fetched, "cached");
        sc.uses = 1;
        sc.last_usage = Some(crate::time::now_iso());
        crate::lock(&self.docs).insert(url.to_string(), sc.clone());
        Ok(sc.body)
    }

    /// The document at `url` as a fetch gives it now (a preloaded one: its file's copy).
    pub fn refetch(&self, url: &str) -> Result<Value, NgsiError> {
        match self.preload.get(url) {
            Some(v) => Ok(v.clone()),
            None => self.fetch(url),
        }
    }

    fn fetch(&self, url: &str) -> Result<Value, NgsiError> {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(NgsiError::LdContextNotAvailable(format!("{url}: not a URL")));
        }
        if !self.cfg.allow.iter().any(|p| url.starts_with(p.as_str())) {
            return Err(NgsiError::LdContextNotAvailable(format!("{url}: not in the allow-list of context sources")));
        }
        let t = if self.cfg.fetch_timeout_s > 0.0 { self.cfg.fetch_timeout_s } else { 5.0 };
        let body = crate::httpc::get(url, std::time::Duration::from_secs_f64(t), MAX_DOC_BYTES)
            .map_err(|e| NgsiError::LdContextNotAvailable(format!("{url}: {e}")))?;
        let v: Value =
            serde_json::from_slice(&body).map_err(|e| NgsiError::LdContextNotAvailable(format!("{url}: not JSON: {e}")))?;
        if !v.is_object() || v.get("@context").is_none() {
            return Err(NgsiError::LdContextNotAvailable(format!("{url}: no @context member")));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctxs() -> Contexts {
        Contexts::new(ContextConfig::default())
    }

    #[test]
    fn core_is_built_in_and_matches_the_published_file() {
        let c = ctxs();
        let core = c.core();
        assert_eq!(core.expand("location"), "https://uri.etsi.org/ngsi-ld/location");
        assert_eq!(core.expand("Vehicle"), "https://uri.etsi.org/ngsi-ld/default-context/Vehicle");
        assert_eq!(core.compact("https://uri.etsi.org/ngsi-ld/default-context/Vehicle"), "Vehicle");
        assert_eq!(core.compact("https://uri.etsi.org/ngsi-ld/location"), "location");
        // The v1.6 URL is the core.
        let v16 = c.resolve(&json!("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld")).unwrap();
        assert_eq!(v16.expand("observedAt"), "https://uri.etsi.org/ngsi-ld/observedAt");
        // The built-in core is the published v1.8, term by term (the reference copy in
        // the shared data; the test skips without it and fails under CI=true).
        if let Some(shared) = testdata::read("ngsi-ld/core-context-v1.8.jsonld") {
            let a: Value = serde_json::from_str(&shared).unwrap();
            let b: Value = serde_json::from_str(core_doc()).unwrap();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn user_terms_prefixes_vocab_and_guards() {
        let c = ctxs();
        let a = c
            .resolve(
                &json!({"ex": "https://example.org/", "Car": "ex:Car", "speed": {"@id": "ex:speed"}, "location": "ex:notCore"}),
            )
            .unwrap();
        assert_eq!(a.expand("Car"), "https://example.org/Car");
        assert_eq!(a.expand("speed"), "https://example.org/speed");
        assert_eq!(a.expand("ex:other"), "https://example.org/other");
        assert_eq!(a.compact("https://example.org/other"), "ex:other");
        assert_eq!(a.expand("location"), "https://uri.etsi.org/ngsi-ld/location", "the core is protected");
        assert_eq!(a.expand("urn:x:y"), "urn:x:y");
        // Unfetchable remote contexts.
        assert!(matches!(c.resolve(&json!("https://example.org/c.jsonld")), Err(NgsiError::LdContextNotAvailable(_))));
        // Deep nesting, bad shapes.
        let mut deep = json!({});
        for _ in 0..20 {
            deep = json!([deep]);
        }
        assert!(c.resolve(&deep).is_err());
        assert!(c.resolve(&json!(42)).is_err());
        assert!(c.resolve(&json!({"a": 5})).is_err());
    }

    proptest::proptest! {
        #[test]
        fn expansion_round_trips(terms in proptest::collection::btree_map("[a-zA-Z][a-zA-Z0-9_]{0,8}", "[a-z]{1,6}", 0..12),
                                 probe in "[a-zA-Z][a-zA-Z0-9_:]{0,12}") {
            let c = ctxs();
            let mut m = serde_json::Map::new();
            for (k, v) in &terms {
                m.insert(k.clone(), Value::String(format!("https://ex.org/{v}#{k}")));
            }
            if let Ok(a) = c.resolve(&Value::Object(m)) {
                for k in terms.keys().chain(std::iter::once(&probe)) {
                    let iri = a.expand(k);
                    proptest::prop_assert_eq!(a.expand(&a.compact(&iri)), iri);
                }
            }
        }
        #[test]
        fn arbitrary_contexts_never_panic(s in "\\PC{0,200}") {
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                let _ = ctxs().resolve(&v);
            }
        }
    }
}
