//! `DELETE /entities`: purge the entities a query selects (`type`, `id`, `idPattern`,
//! `q`, `scopeQ`, geo-query; `local=true` alone: every entity of the tenant), or with
//! `drop=a,b` only those attributes, or with `keep=a,b` every attribute but those. The
//! brain's own entities ([`crate::brainmap`]) are derived and read-only: a purge leaves
//! them be.

use crate::entities::{filter_of, Change};
use crate::error::NgsiError;
use crate::service::{Ngsi, Out, Req};

impl Ngsi {
    /// `DELETE /entities`.
    pub fn purge_entities(&self, req: &Req) -> Result<Out, NgsiError> {
        let tenant = self.begin(req, true)?;
        let ctx = self.link_ctx(req)?;
        let p = Ngsi::params(req);
        let f = filter_of(&p, &ctx)?;
        let local = p.bool("local")?;
        let selective = f.types.is_some()
            || f.q.is_some()
            || f.ids.is_some()
            || f.id_pattern.is_some()
            || f.geo.is_some()
            || f.scope.is_some();
        if !selective && !local {
            return Err(NgsiError::bad("a purge needs type, id, idPattern, q, scopeQ, georel or local=true"));
        }
        let drop = p.list("drop").or_else(|| p.list("dropAttrs"));
        let keep = p.list("keep");
        if drop.is_some() && keep.is_some() {
            return Err(NgsiError::bad("drop and keep exclude each other"));
        }
        for list in [&drop, &keep].into_iter().flatten() {
            if let Some(x) = list.iter().find(|x| !crate::model::valid_name(x) || x.starts_with('@')) {
                return Err(NgsiError::bad(format!("{x:?} is not an attribute name")));
            }
        }
        let drop: Option<Vec<String>> = drop.map(|l| l.iter().map(|a| ctx.expand(a)).collect());
        let keep: Option<Vec<String>> = keep.map(|l| l.iter().map(|a| ctx.expand(a)).collect());
        self.change(&tenant, |t| {
            let mut ch = Vec::new();
            for e in t.entities.values().filter(|e| !e.brain && f.matches(e, &ctx)) {
                let new = match (&drop, &keep) {
                    (Some(d), _) => {
                        let mut n = e.clone();
                        n.attrs.retain(|k, _| !d.contains(k));
                        Some(n)
                    }
                    (_, Some(k)) => {
                        let mut n = e.clone();
                        n.attrs.retain(|a, _| k.contains(a));
                        Some(n)
                    }
                    _ => None,
                };
                if new.as_ref() == Some(e) {
                    continue;
                }
                let new = new.map(|mut n| {
                    n.modified_at = crate::time::now_iso();
                    n
                });
                ch.push(Change { history: None, id: e.id.clone(), old: Some(e.clone()), new });
            }
            Ok(((), ch))
        })?;
        Ok(Out::empty(204))
    }
}
