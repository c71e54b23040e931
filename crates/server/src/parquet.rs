//! A small Apache Parquet writer for the open-data downloads: one row group, one
//! uncompressed data page (v1) per column, PLAIN values, every column OPTIONAL with its
//! definition levels RLE-encoded; column types INT64, DOUBLE and UTF-8 strings
//! (BYTE_ARRAY with the STRING logical type). Metadata in the Thrift compact protocol,
//! as the format specifies. No dependency: the `parquet` crate (with arrow) would
//! multiply the build for a few tables of live data.

/// One column's values (`None` = null).
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    I64(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    Str(Vec<Option<String>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::I64(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }
    fn defined(&self, i: usize) -> bool {
        match self {
            Values::I64(v) => v[i].is_some(),
            Values::F64(v) => v[i].is_some(),
            Values::Str(v) => v[i].is_some(),
        }
    }
    /// Parquet physical type: INT64 = 2, DOUBLE = 5, BYTE_ARRAY = 6.
    fn physical(&self) -> i32 {
        match self {
            Values::I64(_) => 2,
            Values::F64(_) => 5,
            Values::Str(_) => 6,
        }
    }
    fn plain(&self, out: &mut Vec<u8>) {
        match self {
            Values::I64(v) => v.iter().flatten().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Values::F64(v) => v.iter().flatten().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Values::Str(v) => v.iter().flatten().for_each(|s| {
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }),
        }
    }
}

/// A table: named columns of equal length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, Values)>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.1.len())
    }
}

/// Thrift compact protocol, the subset the metadata needs.
struct Compact {
    out: Vec<u8>,
    last: Vec<i16>,
}

const T_I32: u8 = 5;
const T_I64: u8 = 6;
const T_BINARY: u8 = 8;
const T_LIST: u8 = 9;
const T_STRUCT: u8 = 12;

impl Compact {
    fn new() -> Compact {
        Compact { out: Vec::new(), last: vec![0] }
    }
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.out.push(b);
                return;
            }
            self.out.push(b | 0x80);
        }
    }
    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }
    fn field(&mut self, id: i16, ty: u8) {
        let last = self.last.last_mut().expect("inside a struct");
        let delta = id - *last;
        *last = id;
        if (1..=15).contains(&delta) {
            self.out.push(((delta as u8) << 4) | ty);
        } else {
            self.out.push(ty);
            self.zigzag(i64::from(id));
        }
    }
    fn i32(&mut self, id: i16, v: i32) {
        self.field(id, T_I32);
        self.zigzag(i64::from(v));
    }
    fn i64(&mut self, id: i16, v: i64) {
        self.field(id, T_I64);
        self.zigzag(v);
    }
    fn string(&mut self, id: i16, s: &str) {
        self.field(id, T_BINARY);
        self.varint(s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }
    fn list_header(&mut self, id: i16, elem: u8, n: usize) {
        self.field(id, T_LIST);
        if n < 15 {
            self.out.push(((n as u8) << 4) | elem);
        } else {
            self.out.push(0xf0 | elem);
            self.varint(n as u64);
        }
    }
    /// Begin a struct: as field `id` of the enclosing struct, or (`None`) a list element.
    fn begin(&mut self, id: Option<i16>) {
        if let Some(id) = id {
            self.field(id, T_STRUCT);
        }
        self.last.push(0);
    }
    fn end(&mut self) {
        self.out.push(0);
        self.last.pop();
    }
}

/// Definition levels (bit width 1) as the RLE/bit-packed hybrid, RLE runs only, with
/// the 4-byte length prefix of data page v1.
fn def_levels(v: &Values) -> Vec<u8> {
    let mut body = Vec::new();
    let n = v.len();
    let mut i = 0;
    while i < n {
        let d = v.defined(i);
        let mut j = i;
        while j < n && v.defined(j) == d {
            j += 1;
        }
        let mut run = ((j - i) as u64) << 1;
        loop {
            let b = (run & 0x7f) as u8;
            run >>= 7;
            if run == 0 {
                body.push(b);
                break;
            }
            body.push(b | 0x80);
        }
        body.push(u8::from(d));
        i = j;
    }
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// The table as a Parquet file.
pub fn write(t: &Table) -> Vec<u8> {
    let rows = t.rows();
    let mut file = b"PAR1".to_vec();
    // (offset of the page, its total size) per column.
    let mut chunks = Vec::with_capacity(t.columns.len());
    if rows > 0 {
        for (_, v) in &t.columns {
            let mut page = def_levels(v);
            v.plain(&mut page);
            let mut h = Compact::new();
            h.i32(1, 0); // DATA_PAGE
            h.i32(2, page.len() as i32);
            h.i32(3, page.len() as i32);
            h.begin(Some(5));
            h.i32(1, rows as i32);
            h.i32(2, 0); // PLAIN
            h.i32(3, 3); // RLE definition levels
            h.i32(4, 3); // RLE repetition levels (none: max level 0)
            h.end();
            h.out.push(0);
            let offset = file.len();
            file.extend_from_slice(&h.out);
            file.extend_from_slice(&page);
            chunks.push((offset, h.out.len() + page.len()));
        }
    }
    let mut m = Compact::new();
    m.i32(1, 1);
    m.list_header(2, T_STRUCT, t.columns.len() + 1);
    m.begin(None);
    m.string(4, "schema");
    m.i32(5, t.columns.len() as i32);
    m.end();
    for (name, v) in &t.columns {
        m.begin(None);
        m.i32(1, v.physical());
        m.i32(3, 1); // OPTIONAL
        m.string(4, name);
        if matches!(v, Values::Str(_)) {
            m.i32(6, 0); // converted type UTF8
            m.begin(Some(10));
            m.begin(Some(1)); // LogicalType.STRING
            m.end();
            m.end();
        }
        m.end();
    }
    m.i64(3, rows as i64);
    if rows > 0 {
        m.list_header(4, T_STRUCT, 1);
        m.begin(None);
        m.list_header(1, T_STRUCT, t.columns.len());
        for ((name, v), &(offset, size)) in t.columns.iter().zip(&chunks) {
            m.begin(None);
            m.i64(2, offset as i64);
            m.begin(Some(3));
            m.i32(1, v.physical());
            m.list_header(2, T_I32, 2);
            m.zigzag(0); // PLAIN
            m.zigzag(3); // RLE
            m.list_header(3, T_BINARY, 1);
            m.varint(name.len() as u64);
            m.out.extend_from_slice(name.as_bytes());
            m.i32(4, 0); // UNCOMPRESSED
            m.i64(5, rows as i64);
            m.i64(6, size as i64);
            m.i64(7, size as i64);
            m.i64(9, offset as i64);
            m.end();
            m.end();
        }
        m.i64(2, chunks.iter().map(|c| c.1 as i64).sum());
        m.i64(3, rows as i64);
        m.end();
    } else {
        m.list_header(4, T_STRUCT, 0);
    }
    m.string(6, concat!("citybrain ", env!("CARGO_PKG_VERSION")));
    m.out.push(0);
    file.extend_from_slice(&m.out);
    file.extend_from_slice(&(m.out.len() as u32).to_le_bytes());
    file.extend_from_slice(b"PAR1");
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table {
            columns: vec![
                ("id".into(), Values::I64(vec![Some(1), None, Some(-3)])),
                ("speed".into(), Values::F64(vec![Some(9.5), Some(0.0), None])),
                ("road".into(), Values::Str(vec![Some("r_1".into()), None, Some("é,\"x\"".into())])),
            ],
        }
    }

    #[test]
    fn the_file_has_the_magic_and_a_footer_of_the_stated_length() {
        let b = write(&sample());
        assert_eq!(&b[..4], b"PAR1");
        assert_eq!(&b[b.len() - 4..], b"PAR1");
        let n = u32::from_le_bytes(b[b.len() - 8..b.len() - 4].try_into().unwrap()) as usize;
        let footer = &b[b.len() - 8 - n..b.len() - 8];
        // The footer names every column and ends its struct.
        for name in ["schema", "id", "speed", "road"] {
            assert!(footer.windows(name.len()).any(|w| w == name.as_bytes()), "{name}");
        }
        assert_eq!(footer.last(), Some(&0));
        // The string values are in a page, PLAIN: length then bytes.
        let v = "é,\"x\"".as_bytes();
        let mut plain = (v.len() as u32).to_le_bytes().to_vec();
        plain.extend_from_slice(v);
        assert!(b.windows(plain.len()).any(|w| w == plain.as_slice()));
    }

    #[test]
    fn definition_levels_are_rle_runs() {
        let v = Values::I64(vec![Some(1), Some(2), None, Some(4)]);
        // Runs: 2 defined, 1 null, 1 defined: headers 4, 2, 2.
        assert_eq!(def_levels(&v), vec![6, 0, 0, 0, 4, 1, 2, 0, 2, 1]);
    }

    #[test]
    fn compact_fields_use_deltas_and_long_ids() {
        let mut c = Compact::new();
        c.i32(1, -1);
        c.i32(20, 2);
        assert_eq!(c.out, vec![0x15, 0x01, 0x05, 0x28, 0x04]);
    }

    #[test]
    fn an_empty_table_is_a_valid_file_without_row_groups() {
        let t = Table { columns: vec![("a".into(), Values::F64(vec![]))] };
        let b = write(&t);
        assert_eq!(&b[..4], b"PAR1");
        assert_eq!(&b[b.len() - 4..], b"PAR1");
    }
}
