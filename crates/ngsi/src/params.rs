//! Query-string parameters of the NGSI-LD API.

use crate::error::NgsiError;
use crate::util::percent_decode;

/// Parsed `name=value` pairs (decoded; `+` is a space).
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(q: Option<&str>) -> Params {
        let mut out = Vec::new();
        for kv in q.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| percent_decode(&s.replace('+', " "));
            out.push((dec(k), dec(v)));
        }
        Params(out)
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    /// A comma-separated list parameter (repeated parameters are joined).
    pub fn list(&self, k: &str) -> Option<Vec<String>> {
        let v: Vec<String> = self
            .0
            .iter()
            .filter(|(n, _)| n == k)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
            .collect();
        if self.0.iter().any(|(n, _)| n == k) {
            Some(v)
        } else {
            None
        }
    }
    /// Whether `options` (or `format`) names `opt`.
    pub fn option(&self, opt: &str) -> bool {
        self.list("options").is_some_and(|l| l.iter().any(|o| o == opt)) || self.get("format") == Some(opt)
    }
    pub fn usize(&self, k: &str) -> Result<Option<usize>, NgsiError> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => {
                v.parse::<usize>().map(Some).map_err(|_| NgsiError::bad(format!("{k}: {v:?} is not a non-negative integer")))
            }
        }
    }
    pub fn bool(&self, k: &str) -> Result<bool, NgsiError> {
        match self.get(k) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(NgsiError::bad(format!("{k}: {v:?} is not true or false"))),
        }
    }
}
