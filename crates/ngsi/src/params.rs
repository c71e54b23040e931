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

    /// `limit` (default 20, at most `max_limit`; 0 only with `count=true`), `offset` and
    /// `count` of a paged query.
    pub fn page(&self, max_limit: usize) -> Result<(usize, usize, bool), NgsiError> {
        let limit = self.usize("limit")?.unwrap_or(20);
        let offset = self.usize("offset")?.unwrap_or(0);
        let count = self.bool("count")?;
        if limit > max_limit {
            return Err(NgsiError::TooManyResults(format!("limit: at most {max_limit}")));
        }
        if limit == 0 && !count {
            return Err(NgsiError::bad("limit: 0 only with count=true"));
        }
        Ok((limit, offset, count))
    }

    /// The `Link` headers of a page (`rel="prev"`, `rel="next"`): the same query with the
    /// `offset` of the page before and after, when there is one.
    pub fn page_links(&self, path: &str, total: usize) -> Result<Vec<String>, NgsiError> {
        let limit = self.usize("limit")?.unwrap_or(20);
        let offset = self.usize("offset")?.unwrap_or(0);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let enc = |s: &str| {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b',' | b';' | b'/' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        let rest: Vec<String> =
            self.0.iter().filter(|(k, _)| k != "limit" && k != "offset").map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        let link = |o: usize, rel: &str| {
            let mut q = rest.clone();
            q.push(format!("limit={limit}"));
            q.push(format!("offset={o}"));
            format!("<{path}?{}>;rel=\"{rel}\";type=\"application/ld+json\"", q.join("&"))
        };
        let mut out = Vec::new();
        if offset > 0 {
            out.push(link(offset.saturating_sub(limit), "prev"));
        }
        if offset + limit < total {
            out.push(link(offset + limit, "next"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_keep_the_query_and_move_the_offset() {
        let p = Params::parse(Some("type=Building&q=name%3D%3D%22A%20B%22&limit=2&offset=2"));
        let l = p.page_links("/ngsi-ld/v1/entities", 5).unwrap();
        assert_eq!(l.len(), 2);
        assert!(
            l[0].starts_with("</ngsi-ld/v1/entities?type=Building&q=name%3D%3D%22A%20B%22&limit=2&offset=0>;rel=\"prev\""),
            "{}",
            l[0]
        );
        assert!(l[1].contains("&limit=2&offset=4>;rel=\"next\""), "{}", l[1]);
        assert!(Params::parse(Some("limit=2")).page_links("/x", 2).unwrap().is_empty());
        assert!(Params::parse(Some("limit=2&offset=4")).page_links("/x", 5).unwrap()[0].contains("offset=2>;rel=\"prev\""));
        assert!(Params::parse(Some("limit=x")).page_links("/x", 5).is_err());
    }
}
