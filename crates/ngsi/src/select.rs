//! What a query selects and how it is shown: the `type`, `id`, `idPattern`, `q`,
//! `scopeQ`, `attrs`, geo-query and `orderBy` parameters as a [`Filter`], and `options`, `format`, `pick`,
//! `omit`, `lang` as [`RenderOpts`].

use crate::context::ActiveContext;
use crate::error::NgsiError;
use crate::geo::GeoQuery;
use crate::model::{self, Entity};
use crate::params::Params;
use crate::query::{self, Expr};
use crate::render::{Format, RenderOpts};

/// What a query selects.
#[derive(Default)]
pub struct Filter {
    /// Alternatives of type sets: an entity matches when it has every type of one set.
    pub types: Option<Vec<Vec<String>>>,
    pub ids: Option<Vec<String>>,
    pub id_pattern: Option<regex::Regex>,
    pub q: Option<Expr>,
    pub geo: Option<GeoQuery>,
    /// Expanded attribute names; the entity must hold one of them.
    pub attrs: Option<Vec<String>>,
    /// `scopeQ`.
    pub scope: Option<crate::scope::ScopeQ>,
    /// `orderBy`: the order of the answer (`None`: by id).
    pub order: Option<crate::order::OrderBy>,
}

impl Filter {
    pub fn matches(&self, e: &Entity, ctx: &ActiveContext) -> bool {
        if let Some(ts) = &self.types {
            if !ts.iter().any(|set| set.iter().all(|t| e.types.contains(t))) {
                return false;
            }
        }
        if self.ids.as_ref().is_some_and(|ids| !ids.contains(&e.id)) {
            return false;
        }
        if self.id_pattern.as_ref().is_some_and(|r| !r.is_match(&e.id)) {
            return false;
        }
        if self.attrs.as_ref().is_some_and(|a| !a.iter().any(|n| e.attrs.contains_key(n))) {
            return false;
        }
        if self.scope.as_ref().is_some_and(|s| !s.matches(e.scope.as_ref())) {
            return false;
        }
        if let Some(q) = &self.q {
            if !query::eval(q, e, ctx) {
                return false;
            }
        }
        if let Some(g) = &self.geo {
            let hit = e.attrs.get(&g.property).is_some_and(|insts| {
                insts.iter().any(|a| {
                    a.get("value").and_then(|v| crate::geo::Geometry::parse(v).ok()).is_some_and(|geom| g.matches(&geom))
                })
            });
            if !hit {
                return false;
            }
        }
        true
    }
}

/// Parse the `type` parameter: `A,B` or `A|B` (either), `A;B` (both), parentheses ignored.
pub fn parse_type_param(s: &str, ctx: &ActiveContext) -> Result<Vec<Vec<String>>, NgsiError> {
    let s = s.replace(['(', ')'], "");
    let mut out = Vec::new();
    for alt in s.split([',', '|']) {
        let mut set = Vec::new();
        for t in alt.split(';') {
            let t = t.trim();
            if !model::valid_name(t) {
                return Err(NgsiError::bad(format!("type: {t:?} is not a valid type name")));
            }
            set.push(ctx.expand(t));
        }
        out.push(set);
    }
    Ok(out)
}

/// The filter of a query's parameters.
pub fn filter_of(p: &Params, ctx: &ActiveContext) -> Result<Filter, NgsiError> {
    let mut f = Filter::default();
    if let Some(t) = p.get("type") {
        f.types = Some(parse_type_param(t, ctx)?);
    }
    if let Some(ids) = p.list("id") {
        for i in &ids {
            if !crate::util::is_uri(i) {
                return Err(NgsiError::bad(format!("id: {i:?} is not a URI")));
            }
        }
        f.ids = Some(ids);
    }
    if let Some(pat) = p.get("idPattern") {
        if pat.contains("**") || pat.contains("++") {
            return Err(NgsiError::bad(format!("idPattern: {pat:?} is not a valid regular expression")));
        }
        f.id_pattern = Some(query::compile(pat).map_err(|e| NgsiError::bad(format!("idPattern: {e}")))?);
    }
    if let Some(q) = p.get("q") {
        let e = query::parse(q).map_err(NgsiError::bad)?;
        query::validate(&e).map_err(NgsiError::bad)?;
        f.q = Some(e);
    }
    if let Some(a) = p.list("attrs") {
        if let Some(x) = a.iter().find(|x| !model::valid_name(x) || *x == "id" || *x == "type") {
            return Err(NgsiError::bad(format!("attrs: {x:?} is not an attribute name")));
        }
        f.attrs = Some(a.iter().map(|x| ctx.expand(x)).collect());
    }
    let (georel, geometry, coords) = (p.get("georel"), p.get("geometry"), p.get("coordinates"));
    if georel.is_some() || geometry.is_some() || coords.is_some() {
        let (Some(r), Some(g), Some(c)) = (georel, geometry, coords) else {
            return Err(NgsiError::bad("georel, geometry and coordinates go together"));
        };
        let prop = ctx.expand(p.get("geoproperty").unwrap_or("location"));
        f.geo = Some(GeoQuery::parse(r, g, c, prop).map_err(NgsiError::bad)?);
    }
    if let Some(s) = p.get("scopeQ") {
        f.scope = Some(crate::scope::ScopeQ::parse(s)?);
    }
    if let Some(o) = p.get("orderBy") {
        f.order = Some(crate::order::OrderBy::parse(o, ctx)?);
    }
    Ok(f)
}

/// Rendering options of a query's or retrieval's parameters.
pub fn render_opts(p: &Params, ctx: &ActiveContext) -> Result<RenderOpts, NgsiError> {
    let mut o = RenderOpts::new();
    for opt in p.list("options").unwrap_or_default() {
        match opt.as_str() {
            "keyValues" | "simplified" => o.format = Format::KeyValues,
            "concise" => o.format = Format::Concise,
            "normalized" => o.format = Format::Normalized,
            "sysAttrs" => o.sys_attrs = true,
            "noOverwrite" | "replace" | "update" | "temporalValues" | "aggregatedValues" | "" => {}
            other => return Err(NgsiError::invalid(format!("options: unknown option {other:?}"))),
        }
    }
    match p.get("format") {
        None => {}
        Some("keyValues" | "simplified") => o.format = Format::KeyValues,
        Some("concise") => o.format = Format::Concise,
        Some("normalized") => o.format = Format::Normalized,
        Some("temporalValues" | "aggregatedValues") => {}
        Some(other) => return Err(NgsiError::invalid(format!("format: unknown value {other:?}"))),
    }
    for k in ["pick", "omit"] {
        if let Some(s) = p.get(k) {
            projection(s).map_err(|e| NgsiError::bad(format!("{k}: {e}")))?;
            if p.get("attrs").is_some() {
                return Err(NgsiError::bad(format!("{k} and attrs exclude each other")));
            }
        }
    }
    if p.get("pick").is_some() && p.get("omit").is_some() {
        return Err(NgsiError::bad("pick and omit exclude each other"));
    }
    if let Some(s) = p.get("pick") {
        o.apply_pick(&projection_tree(s).unwrap_or_default(), ctx);
    } else if let Some(list) = p.list("attrs") {
        o.pick = Some(list.iter().filter(|x| *x != "id" && *x != "type").map(|x| ctx.expand(x)).collect());
    }
    if let Some(s) = p.get("omit") {
        o.apply_omit(&projection_tree(s).unwrap_or_default(), ctx);
    }
    o.lang = p.get("lang").map(str::to_string);
    o.datasets = p.list("datasetId");
    Ok(o)
}

/// One member of a `pick`/`omit` projection: a name, and for a Relationship the
/// projection of the entity it points to (`locatedAt{id,name}`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Proj {
    pub name: String,
    pub sub: Option<Vec<Proj>>,
}

/// Parse a `pick`/`omit` projection (`a,b{c,d{e}}`); the top-level names.
pub fn projection(s: &str) -> Result<Vec<String>, String> {
    Ok(projection_tree(s)?.into_iter().map(|p| p.name).collect())
}

/// Parse a `pick`/`omit` projection into its tree (at most 16 levels of braces).
pub fn projection_tree(s: &str) -> Result<Vec<Proj>, String> {
    fn list(b: &[u8], i: &mut usize, depth: usize) -> Result<Vec<Proj>, String> {
        if depth > 16 {
            return Err("nested too deep".into());
        }
        let mut out = Vec::new();
        loop {
            let st = *i;
            while *i < b.len() && !matches!(b[*i], b',' | b'{' | b'}') {
                *i += 1;
            }
            let name = std::str::from_utf8(&b[st..*i]).map_err(|_| "not UTF-8".to_string())?;
            if !model::valid_name(name) {
                return Err(format!("{name:?} is not an attribute name"));
            }
            let mut p = Proj { name: name.to_string(), sub: None };
            if *i < b.len() && b[*i] == b'{' {
                *i += 1;
                p.sub = Some(list(b, i, depth + 1)?);
                if *i >= b.len() || b[*i] != b'}' {
                    return Err("unclosed {".into());
                }
                *i += 1;
            }
            out.push(p);
            if *i < b.len() && b[*i] == b',' {
                *i += 1;
                continue;
            }
            return Ok(out);
        }
    }
    let b = s.as_bytes();
    let mut i = 0;
    let out = list(b, &mut i, 0)?;
    if i != b.len() {
        return Err(format!("unexpected {:?} at {i}", b[i] as char));
    }
    Ok(out)
}
