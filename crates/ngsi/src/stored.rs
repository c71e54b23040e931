//! An entity's stored JSON (`entities.body`) and the history rows of its changed
//! attribute instances, serialised in one pass: each row's body is the text of its
//! instance inside the entity's, copied out, instead of the instance being serialised a
//! second time. The text is the same as `serde_json` gives for [`Entity`] and [`Attr`].

use serde_json::Value;

use crate::db::Write;
use crate::model::{Attr, Entity};

/// The time of an instance's history row: `observedAt`, else `modifiedAt`, else 0.
pub(crate) fn row_time(a: &Attr) -> f64 {
    a.get("observedAt")
        .and_then(Value::as_str)
        .and_then(crate::time::secs)
        .or_else(|| a.get("modifiedAt").and_then(Value::as_str).and_then(crate::time::secs))
        .unwrap_or(0.0)
}

fn put<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, v: &T) {
    // Writing into a Vec fails only where serialising fails, which these types never do
    // (string keys, finite JSON numbers).
    let _ = serde_json::to_writer(&mut *buf, v);
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The stored JSON of `new`; a history row pushed to `rows` for every attribute instance
/// `old` does not hold as it is (all of them without `old`). `buf` is scratch space.
pub(crate) fn entity_and_rows(
    tenant: &str,
    id: &str,
    old: Option<&Entity>,
    new: &Entity,
    rows: &mut Vec<Write>,
    buf: &mut Vec<u8>,
) -> String {
    buf.clear();
    buf.extend_from_slice(b"{\"id\":");
    put(buf, &new.id);
    buf.extend_from_slice(b",\"types\":");
    put(buf, &new.types);
    if let Some(s) = &new.scope {
        buf.extend_from_slice(b",\"scope\":");
        put(buf, s);
    }
    buf.extend_from_slice(b",\"created_at\":");
    put(buf, &new.created_at);
    buf.extend_from_slice(b",\"modified_at\":");
    put(buf, &new.modified_at);
    buf.extend_from_slice(b",\"attrs\":{");
    for (i, (name, insts)) in new.attrs.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        put(buf, name);
        buf.extend_from_slice(b":[");
        let olds = old.and_then(|o| o.attrs.get(name));
        for (j, a) in insts.iter().enumerate() {
            if j > 0 {
                buf.push(b',');
            }
            let start = buf.len();
            put(buf, a);
            if olds.is_some_and(|o| o.contains(a)) {
                continue;
            }
            rows.push(Write::History {
                tenant: tenant.into(),
                entity: id.to_string(),
                attr: name.clone(),
                time: row_time(a),
                body: text(&buf[start..]),
            });
        }
        buf.push(b']');
    }
    buf.push(b'}');
    if new.brain {
        buf.extend_from_slice(b",\"brain\":true");
    }
    buf.push(b'}');
    text(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::{changed_instances, json};
    use serde_json::json;

    fn attr(v: Value) -> Attr {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    fn entity(scope: Option<Value>, brain: bool, count: f64) -> Entity {
        let mut e = Entity {
            id: "urn:ngsi-ld:T:1 \"quoted\"\n".into(),
            types: vec!["https://uri.etsi.org/ngsi-ld/default-context/T".into(), "B\u{e9}".into()],
            scope,
            created_at: "2026-12-06T08:00:00Z".into(),
            modified_at: "2026-12-06T08:00:01Z".into(),
            attrs: Default::default(),
            brain,
        };
        e.attrs.insert(
            "count".into(),
            vec![
                attr(json!({"type": "Property", "value": count, "observedAt": "2026-12-06T08:00:00Z"})),
                attr(json!({"type": "Property", "value": 2, "datasetId": "urn:d:2", "modifiedAt": "2026-12-06T09:00:00Z"})),
            ],
        );
        e.attrs.insert(
            "loc\"ation".into(),
            vec![attr(json!({"type": "GeoProperty", "value": {"type": "Point", "coordinates": [120.1, 30.25]}}))],
        );
        e.attrs.insert("empty".into(), vec![]);
        e
    }

    /// The body and rows match serde's text of the entity and `changed_instances`.
    #[test]
    fn same_text_as_serialising_twice() {
        let mut buf = Vec::new();
        let cases = [
            (None, entity(None, false, 1.0)),
            (Some(entity(None, false, 1.0)), entity(Some(json!("/a/b")), true, 1.5)),
            (Some(entity(None, false, 1.0)), entity(None, false, 1.0)),
            (None, Entity { id: "urn:x".into(), ..Default::default() }),
        ];
        for (old, new) in &cases {
            let mut rows = Vec::new();
            let body = entity_and_rows("t", &new.id, old.as_ref(), new, &mut rows, &mut buf);
            let mut want = Vec::new();
            let mut b2 = Vec::new();
            changed_instances("t", &new.id, old.as_ref(), new, &mut want, &mut b2);
            assert_eq!(body, json(&mut b2, new));
            let key = |w: &Write| format!("{w:?}");
            assert_eq!(rows.iter().map(key).collect::<Vec<_>>(), want.iter().map(key).collect::<Vec<_>>());
            let back: Entity = serde_json::from_str(&body).unwrap();
            assert_eq!(&back, new);
        }
        // A new entity: a row per instance; unchanged: none; one value changed: one row.
        let mut n = |old: Option<&Entity>, new: &Entity| {
            let mut rows = Vec::new();
            entity_and_rows("t", "x", old, new, &mut rows, &mut buf);
            rows.len()
        };
        let a = entity(None, false, 1.0);
        assert_eq!((n(None, &a), n(Some(&a), &a), n(Some(&a), &entity(None, false, 3.0))), (3, 0, 1));
    }
}
