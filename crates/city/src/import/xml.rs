//! A small streaming view of an XML document for the SUMO importer: every element's
//! name, attributes, depth and line, in document order. Text content is ignored (SUMO
//! files carry everything in attributes).

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::ImportError;

/// One element start (`<a ...>` or `<a .../>`).
#[derive(Clone, Debug)]
pub struct Element {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    /// 1-based line of the `<`.
    pub line: usize,
    /// Nesting depth: the root element is 0.
    pub depth: usize,
}

impl Element {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }
}

/// Byte offset → 1-based line number.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i).collect())
    }
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

/// Every element of `text`, or the first syntax error with its line.
pub fn elements(text: &str, file: &str) -> Result<Vec<Element>, ImportError> {
    let lines = Lines::new(text);
    let mut reader = Reader::from_str(text);
    let mut out = Vec::new();
    let mut depth = 0usize;
    loop {
        let start = reader.buffer_position() as usize;
        let ev = reader.read_event().map_err(|e| {
            let at = reader.error_position() as usize;
            ImportError::new(file, format!("line {}", lines.line(at)), format!("malformed XML: {e}"))
        })?;
        // The tag itself starts after any whitespace the previous event left behind.
        let tag_at = start + text.get(start..).map(|s| s.len() - s.trim_start().len()).unwrap_or(0);
        let line = lines.line(tag_at);
        match ev {
            Event::Start(e) => {
                out.push(element(&e, line, depth, file)?);
                depth += 1;
            }
            Event::Empty(e) => out.push(element(&e, line, depth, file)?),
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn element(e: &BytesStart, line: usize, depth: usize, file: &str) -> Result<Element, ImportError> {
    let bad = |msg: String| ImportError::new(file, format!("line {line}"), msg);
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = BTreeMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| bad(format!("<{name}>: malformed attribute: {err}")))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a.unescape_value().map_err(|err| bad(format!("<{name}> {key}: {err}")))?.into_owned();
        attrs.insert(key, value);
    }
    Ok(Element { name, attrs, line, depth })
}

/// Error helpers bound to one file.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub file: &'a str,
}

impl At<'_> {
    pub fn err(&self, el: &Element, msg: impl Into<String>) -> ImportError {
        ImportError::new(self.file, format!("line {}", el.line), format!("<{}>: {}", el.name, msg.into()))
    }
    /// A required attribute.
    pub fn req<'e>(&self, el: &'e Element, key: &str) -> Result<&'e str, ImportError> {
        el.get(key).ok_or_else(|| self.err(el, format!("missing attribute {key:?}")))
    }
    /// An optional finite number.
    pub fn num(&self, el: &Element, key: &str) -> Result<Option<f64>, ImportError> {
        match el.get(key) {
            None => Ok(None),
            Some(s) => match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(self.err(el, format!("{key}: expected a number, got {s:?}"))),
            },
        }
    }
    /// An optional non-negative integer.
    pub fn index(&self, el: &Element, key: &str) -> Result<Option<usize>, ImportError> {
        match el.get(key) {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<usize>()
                .map(Some)
                .map_err(|_| self.err(el, format!("{key}: expected a non-negative integer, got {s:?}"))),
        }
    }
    /// A SUMO shape: `x,y x,y ...` (a third coordinate is ignored).
    pub fn shape(&self, el: &Element, key: &str) -> Result<Option<Vec<crate::geom::Point>>, ImportError> {
        let Some(s) = el.get(key) else { return Ok(None) };
        let mut pts = Vec::new();
        for pair in s.split_whitespace() {
            let mut it = pair.split(',');
            let x = it.next().and_then(|v| v.parse::<f64>().ok());
            let y = it.next().and_then(|v| v.parse::<f64>().ok());
            match (x, y) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => pts.push(crate::geom::Point::new(x, y)),
                _ => return Err(self.err(el, format!("{key}: bad point {pair:?} (expected x,y)"))),
            }
        }
        Ok(Some(pts))
    }
}
