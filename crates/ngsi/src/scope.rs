//! `scopeQ`: entities by their `scope` (ETSI GS CIM 009 4.18, 4.19). A scope is a path
//! such as `/Madrid/Gardens/ParqueNorte`; a query is a list of alternatives separated by
//! `,` (or), each a list of paths separated by `;` (and). In a path `+` stands for one
//! level and a final `#` for any number of levels (so `/#` is any scope at all).

use serde_json::Value;

use crate::error::NgsiError;

/// At most this many paths in one query, and levels in one path.
pub const MAX_TERMS: usize = 64;
pub const MAX_LEVELS: usize = 32;

#[derive(Clone, Debug, PartialEq)]
pub struct ScopeQ(Vec<Vec<Vec<String>>>);

fn path(s: &str) -> Result<Vec<String>, NgsiError> {
    let bad = || NgsiError::bad(format!("scopeQ: {s:?} is not a scope path (/level/level/...)"));
    let rest = s.strip_prefix('/').ok_or_else(bad)?;
    let segs: Vec<String> = rest.split('/').map(str::to_string).collect();
    if segs.len() > MAX_LEVELS {
        return Err(bad());
    }
    for (i, g) in segs.iter().enumerate() {
        let ok = !g.is_empty()
            && !g.chars().any(|c| c.is_control() || c.is_whitespace() || "()<>\"'=;,".contains(c))
            && (g == "#" && i + 1 == segs.len() || g == "+" || !g.contains(['#', '+']));
        if !ok {
            return Err(bad());
        }
    }
    Ok(segs)
}

fn matches_path(p: &[String], s: &[&str]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((h, _)) if h == "#" => true,
        Some((h, rest)) => match s.split_first() {
            Some((x, srest)) => (h == "+" || h == x) && matches_path(rest, srest),
            None => false,
        },
    }
}

impl ScopeQ {
    pub fn parse(s: &str) -> Result<ScopeQ, NgsiError> {
        let mut alts = Vec::new();
        let mut n = 0;
        for alt in s.split(',') {
            let mut all = Vec::new();
            for p in alt.split(';') {
                n += 1;
                if n > MAX_TERMS {
                    return Err(NgsiError::bad(format!("scopeQ: at most {MAX_TERMS} paths")));
                }
                all.push(path(p.trim())?);
            }
            alts.push(all);
        }
        Ok(ScopeQ(alts))
    }

    /// Whether an entity's `scope` (a string or an array of strings) matches.
    pub fn matches(&self, scope: Option<&Value>) -> bool {
        let scopes: Vec<&str> = match scope {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let split: Vec<Vec<&str>> =
            scopes.iter().map(|s| s.strip_prefix('/').unwrap_or(s).split('/').collect::<Vec<&str>>()).collect();
        self.0.iter().any(|all| all.iter().all(|p| split.iter().any(|s| matches_path(p, s))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_and_combinations() {
        let one = json!("/Madrid/Gardens/ParqueNorte");
        let many = json!(["/Madrid/Gardens/ParqueNorte", "/CompanyA/OrganizationB/UnitC"]);
        let q = |s: &str| ScopeQ::parse(s).unwrap();
        assert!(q("/Madrid/Gardens/ParqueNorte").matches(Some(&one)));
        assert!(q("/Madrid/+/ParqueNorte").matches(Some(&one)));
        assert!(!q("/CompanyA/#").matches(Some(&one)) && q("/CompanyA/#").matches(Some(&many)));
        assert!(q("/#").matches(Some(&one)) && !q("/#").matches(None));
        let and = q("/Madrid/Gardens/ParqueNorte;/CompanyA/OrganizationB/UnitC");
        assert!(!and.matches(Some(&one)) && and.matches(Some(&many)));
        let or = q("/Madrid/Gardens/ParqueNorte,/CompanyA/OrganizationB/UnitC");
        assert!(or.matches(Some(&one)) && or.matches(Some(&many)));
        assert!(!q("/Madrid/Gardens").matches(Some(&one)));
        assert!(q("/Madrid/#").matches(Some(&json!("/Madrid"))));
    }

    #[test]
    fn malformed_queries_are_refused() {
        for s in ["", "Madrid", "/a//b", "/a/#/b", "/a/b#", "/a b", "/(a)", &"/a;".repeat(100)] {
            assert!(ScopeQ::parse(s).is_err(), "{s:?}");
        }
    }
}
