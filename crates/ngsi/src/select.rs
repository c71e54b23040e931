//! What a query selects and how it is shown: the `type`, `id`, `idPattern`, `q`,
//! `attrs` and geo-query parameters as a [`Filter`], and `options`, `format`, `pick`,
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
    let top = |k: &str| p.get(k).map(|s| projection(s).unwrap_or_default());
    let pick = top("pick").or_else(|| p.list("attrs"));
    if let Some(list) = pick {
        o.keep_id = p.get("pick").is_none() || list.iter().any(|x| x == "id");
        o.keep_type = p.get("pick").is_none() || list.iter().any(|x| x == "type");
        o.pick = Some(list.iter().filter(|x| *x != "id" && *x != "type").map(|x| ctx.expand(x)).collect());
    }
    if let Some(list) = top("omit") {
        o.keep_id = !list.iter().any(|x| x == "id");
        o.keep_type = !list.iter().any(|x| x == "type");
        o.omit = list.iter().map(|x| ctx.expand(x)).collect();
    }
    o.lang = p.get("lang").map(str::to_string);
    o.datasets = p.list("datasetId");
    Ok(o)
}

/// Parse a `pick`/`omit` projection (`a,b{c,d}`); the top-level names.
pub fn projection(s: &str) -> Result<Vec<String>, String> {
    fn list(b: &[u8], i: &mut usize, depth: usize, out: &mut Vec<String>) -> Result<(), String> {
        if depth > 16 {
            return Err("nested too deep".into());
        }
        loop {
            let st = *i;
            while *i < b.len() && !matches!(b[*i], b',' | b'{' | b'}') {
                *i += 1;
            }
            let name = std::str::from_utf8(&b[st..*i]).map_err(|_| "not UTF-8".to_string())?;
            if !model::valid_name(name) {
                return Err(format!("{name:?} is not an attribute name"));
            }
            if depth == 0 {
                out.push(name.to_string());
            }
            if *i < b.len() && b[*i] == b'{' {
                *i += 1;
                list(b, i, depth + 1, &mut Vec::new())?;
                if *i >= b.len() || b[*i] != b'}' {
                    return Err("unclosed {".into());
                }
                *i += 1;
            }
            if *i < b.len() && b[*i] == b',' {
                *i += 1;
                continue;
            }
            return Ok(());
        }
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    list(b, &mut i, 0, &mut out)?;
    if i != b.len() {
        return Err(format!("unexpected {:?} at {i}", b[i] as char));
    }
    Ok(out)
}
