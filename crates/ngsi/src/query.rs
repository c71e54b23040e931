//! The NGSI-LD query language (`q`): terms joined by `;` (and) and `|` (or), grouped in
//! parentheses; a term is an attribute path (`a`, `a.sub`, `a[key][key2]`), alone
//! (exists) or negated (`!a`: does not exist), or compared with `==`, `!=`, `>`, `>=`,
//! `<`, `<=` (a value, a range `x..y` or a list `x,y`), or matched with `~=` / `!~=`
//! against a regular expression. Values: numbers, `"strings"`, `true`/`false`,
//! DateTimes, URIs, bare words.

use serde_json::Value;

use crate::context::ActiveContext;
use crate::model::Entity;

/// Longest accepted `q`, bytes; deepest parenthesis nesting.
pub const MAX_Q: usize = 8192;
pub const MAX_NEST: usize = 32;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Term(Term),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// Attribute path: the attribute, then sub-attributes (`.`), as written.
    pub path: Vec<String>,
    /// Keys into a structured value (`[k]`).
    pub keys: Vec<String>,
    pub op: Op,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Exists,
    NotExists,
    Eq(Operand),
    Ne(Operand),
    Gt(Lit),
    Ge(Lit),
    Lt(Lit),
    Le(Lit),
    Match(String),
    NotMatch(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    One(Lit),
    Range(Lit, Lit),
    List(Vec<Lit>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Num(f64),
    Str(String),
    Bool(bool),
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

/// Parse a `q` expression; the error names the position.
pub fn parse(q: &str) -> Result<Expr, String> {
    if q.len() > MAX_Q {
        return Err(format!("q: longer than {MAX_Q} bytes"));
    }
    let mut p = P { s: q.as_bytes(), i: 0, depth: 0 };
    let e = p.expr()?;
    if p.i != p.s.len() {
        return Err(format!("q: unexpected {:?} at {}", p.s[p.i] as char, p.i));
    }
    Ok(e)
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn expr(&mut self) -> Result<Expr, String> {
        // or of ands
        let mut ors = vec![self.and()?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            ors.push(self.and()?);
        }
        Ok(if ors.len() == 1 { ors.pop().unwrap_or(Expr::And(vec![])) } else { Expr::Or(ors) })
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut ands = vec![self.atom()?];
        while self.peek() == Some(b';') {
            self.i += 1;
            ands.push(self.atom()?);
        }
        Ok(if ands.len() == 1 { ands.pop().unwrap_or(Expr::And(vec![])) } else { Expr::And(ands) })
    }
    fn atom(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(b'(') {
            self.depth += 1;
            if self.depth > MAX_NEST {
                return Err("q: nested too deep".into());
            }
            self.i += 1;
            let e = self.expr()?;
            if self.peek() != Some(b')') {
                return Err(format!("q: missing ) at {}", self.i));
            }
            self.i += 1;
            self.depth -= 1;
            return Ok(e);
        }
        self.term().map(Expr::Term)
    }
    fn name(&mut self) -> Result<String, String> {
        let st = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'/' | b'#' | b'-' | b'@') {
                self.i += 1;
            } else {
                break;
            }
        }
        if st == self.i {
            return Err(format!("q: attribute name expected at {st}"));
        }
        Ok(String::from_utf8_lossy(&self.s[st..self.i]).into_owned())
    }
    fn term(&mut self) -> Result<Term, String> {
        let neg = self.peek() == Some(b'!');
        if neg {
            self.i += 1;
        }
        let mut path = vec![self.name()?];
        while self.peek() == Some(b'.') {
            self.i += 1;
            path.push(self.name()?);
        }
        let mut keys = Vec::new();
        while self.peek() == Some(b'[') {
            self.i += 1;
            let mut k = self.name()?;
            while self.peek() == Some(b'.') {
                self.i += 1;
                k.push('.');
                k.push_str(&self.name()?);
            }
            if self.peek() != Some(b']') {
                return Err(format!("q: missing ] at {}", self.i));
            }
            self.i += 1;
            keys.push(k);
        }
        if neg {
            return Ok(Term { path, keys, op: Op::NotExists });
        }
        let rest = &self.s[self.i..];
        let (op, n) = if rest.starts_with(b"==") {
            ("==", 2)
        } else if rest.starts_with(b"!=") {
            ("!=", 2)
        } else if rest.starts_with(b">=") {
            (">=", 2)
        } else if rest.starts_with(b"<=") {
            ("<=", 2)
        } else if rest.starts_with(b"!~=") {
            ("!~=", 3)
        } else if rest.starts_with(b"~=") {
            ("~=", 2)
        } else if rest.starts_with(b">") {
            (">", 1)
        } else if rest.starts_with(b"<") {
            ("<", 1)
        } else {
            return Ok(Term { path, keys, op: Op::Exists });
        };
        self.i += n;
        let op = match op {
            "~=" | "!~=" => {
                let st = self.i;
                while let Some(c) = self.peek() {
                    if c == b';' || c == b'|' || (c == b')' && self.depth > 0) {
                        break;
                    }
                    self.i += 1;
                }
                let re = String::from_utf8_lossy(&self.s[st..self.i]).into_owned();
                if re.is_empty() {
                    return Err(format!("q: pattern expected at {st}"));
                }
                if op == "~=" {
                    Op::Match(re)
                } else {
                    Op::NotMatch(re)
                }
            }
            "==" | "!=" => {
                let first = self.lit()?;
                let operand = if self.s[self.i..].starts_with(b"..") {
                    self.i += 2;
                    Operand::Range(first, self.lit()?)
                } else if self.peek() == Some(b',') {
                    let mut l = vec![first];
                    while self.peek() == Some(b',') {
                        self.i += 1;
                        l.push(self.lit()?);
                    }
                    Operand::List(l)
                } else {
                    Operand::One(first)
                };
                if op == "==" {
                    Op::Eq(operand)
                } else {
                    Op::Ne(operand)
                }
            }
            ">" => Op::Gt(self.lit()?),
            ">=" => Op::Ge(self.lit()?),
            "<" => Op::Lt(self.lit()?),
            _ => Op::Le(self.lit()?),
        };
        Ok(Term { path, keys, op })
    }
    fn lit(&mut self) -> Result<Lit, String> {
        let st = self.i;
        if self.peek() == Some(b'"') {
            self.i += 1;
            let mut out = Vec::new();
            loop {
                match self.peek() {
                    None => return Err(format!("q: unterminated string at {st}")),
                    Some(b'"') => {
                        self.i += 1;
                        break;
                    }
                    Some(b'\\') if self.i + 1 < self.s.len() => {
                        out.push(self.s[self.i + 1]);
                        self.i += 2;
                    }
                    Some(c) => {
                        out.push(c);
                        self.i += 1;
                    }
                }
            }
            return Ok(Lit::Str(String::from_utf8_lossy(&out).into_owned()));
        }
        while let Some(c) = self.peek() {
            if matches!(c, b';' | b'|' | b',' | b')' | b'(' | b'"') || self.s[self.i..].starts_with(b"..") {
                break;
            }
            self.i += 1;
        }
        let w = String::from_utf8_lossy(&self.s[st..self.i]).into_owned();
        if w.is_empty() {
            return Err(format!("q: value expected at {st}"));
        }
        Ok(match w.as_str() {
            "true" => Lit::Bool(true),
            "false" => Lit::Bool(false),
            _ => match w.parse::<f64>() {
                Ok(n) if n.is_finite() && !w.starts_with('+') => Lit::Num(n),
                _ => Lit::Str(w),
            },
        })
    }
}

/// Check a parsed expression's regular expressions and attribute names (400 otherwise).
pub fn validate(e: &Expr) -> Result<(), String> {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(validate),
        Expr::Term(t) => {
            if let Op::Match(r) | Op::NotMatch(r) = &t.op {
                compile(r)?;
            }
            Ok(())
        }
    }
}

pub fn compile(r: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(r).size_limit(1 << 20).build().map_err(|e| format!("q: bad pattern: {e}"))
}

fn cmp(v: &Value, l: &Lit) -> Option<std::cmp::Ordering> {
    match (v, l) {
        (Value::Number(n), Lit::Num(x)) => n.as_f64()?.partial_cmp(x),
        (Value::String(s), Lit::Str(x)) => {
            if let (Some(a), Some(b)) = (crate::time::parse(s), crate::time::parse(x)) {
                return Some(a.cmp(&b));
            }
            Some(s.as_str().cmp(x.as_str()))
        }
        (Value::String(s), Lit::Num(x)) => s.parse::<f64>().ok()?.partial_cmp(x),
        (Value::Bool(b), Lit::Bool(x)) => Some(b.cmp(x)),
        (Value::Object(m), _) => cmp(m.get("@value")?, l),
        _ => None,
    }
}

fn eq_operand(v: &Value, o: &Operand) -> bool {
    use std::cmp::Ordering::*;
    if let Value::Array(a) = v {
        return a.iter().any(|x| eq_operand(x, o));
    }
    match o {
        Operand::One(l) => cmp(v, l) == Some(Equal),
        Operand::Range(a, b) => matches!(cmp(v, a), Some(Greater | Equal)) && matches!(cmp(v, b), Some(Less | Equal)),
        Operand::List(l) => l.iter().any(|x| cmp(v, x) == Some(Equal)),
    }
}

fn ord_any(v: &Value, l: &Lit, f: fn(std::cmp::Ordering) -> bool) -> bool {
    match v {
        Value::Array(a) => a.iter().any(|x| ord_any(x, l, f)),
        _ => cmp(v, l).is_some_and(f),
    }
}

/// The values a term's path selects in an entity (one per matching instance).
fn select(e: &Entity, t: &Term, ctx: &ActiveContext) -> Vec<Value> {
    let first = &t.path[0];
    let mut out = Vec::new();
    if first == "id" && t.path.len() == 1 {
        return vec![Value::String(e.id.clone())];
    }
    if (first == "createdAt" || first == "modifiedAt") && t.path.len() == 1 {
        return vec![Value::String(if first == "createdAt" { e.created_at.clone() } else { e.modified_at.clone() })];
    }
    let Some(insts) = e.attrs.get(&ctx.expand(first)) else { return out };
    for inst in insts {
        let mut cur = inst;
        let mut ok = true;
        let mut member: Option<&Value> = None;
        for (i, seg) in t.path[1..].iter().enumerate() {
            let last = i + 2 == t.path.len();
            if last && matches!(seg.as_str(), "observedAt" | "createdAt" | "modifiedAt" | "unitCode" | "datasetId") {
                member = cur.get(seg.as_str());
                break;
            }
            match cur.get(&ctx.expand(seg)).and_then(Value::as_object) {
                Some(s) => cur = s,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        let mut v = match member {
            Some(m) => Some(m),
            None => {
                let kind = cur.get("type").and_then(Value::as_str).unwrap_or("Property");
                crate::model::value_member(kind).and_then(|m| cur.get(m))
            }
        };
        for k in &t.keys {
            v = v.and_then(|x| x.get(k.as_str()));
        }
        if let Some(v) = v {
            out.push(v.clone());
        }
    }
    out
}

/// Whether an entity matches.
pub fn eval(e: &Expr, ent: &Entity, ctx: &ActiveContext) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| eval(x, ent, ctx)),
        Expr::Or(v) => v.iter().any(|x| eval(x, ent, ctx)),
        Expr::Term(t) => {
            let vals = select(ent, t, ctx);
            use std::cmp::Ordering::*;
            match &t.op {
                Op::Exists => !vals.is_empty(),
                Op::NotExists => vals.is_empty(),
                Op::Eq(o) => vals.iter().any(|v| eq_operand(v, o)),
                Op::Ne(o) => !vals.is_empty() && vals.iter().all(|v| !eq_operand(v, o)),
                Op::Gt(l) => vals.iter().any(|v| ord_any(v, l, |o| o == Greater)),
                Op::Ge(l) => vals.iter().any(|v| ord_any(v, l, |o| o != Less)),
                Op::Lt(l) => vals.iter().any(|v| ord_any(v, l, |o| o == Less)),
                Op::Le(l) => vals.iter().any(|v| ord_any(v, l, |o| o != Greater)),
                Op::Match(r) | Op::NotMatch(r) => {
                    let Ok(re) = compile(r) else { return false };
                    let hit = vals.iter().any(|v| v.as_str().is_some_and(|s| re.is_match(s)));
                    if matches!(t.op, Op::Match(_)) {
                        hit
                    } else {
                        !vals.is_empty() && !hit
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert!(parse("speed>50;brandName==\"Mercedes\"").is_ok());
        assert!(parse("(a==1|b==2);c").is_ok());
        assert!(parse("a==1..5").is_ok());
        assert!(parse("a[b.c]==\"x\"").is_ok());
        assert!(parse("a.observedAt>=2020-01-01T00:00:00Z").is_ok());
        assert!(parse("a==").is_err());
        assert!(parse("(a==1").is_err());
        assert!(parse("").is_err());
        assert!(parse(&"(".repeat(100)).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = parse(&s).map(|e| validate(&e));
        }
        #[test]
        fn never_panics_on_q_alphabet(s in "[a-z()|;!=<>~.\\[\\]\"0-9,]{0,48}") {
            let _ = parse(&s).map(|e| validate(&e));
        }
    }
}
