//! The NGSI-LD `q` language (`ngsi::query`): never a panic, and a parsed, valid query
//! evaluates against an entity with properties, a relationship, a language property and
//! sub-attributes (every path of `select` and the comparisons).
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use ngsi::{ActiveContext, ContextConfig, Contexts};

static CORE: LazyLock<Arc<ActiveContext>> =
    LazyLock::new(|| Contexts::new(ContextConfig::default()).resolve(&serde_json::Value::Null).expect("the core context"));

static ENTITY: LazyLock<ngsi::model::Entity> = LazyLock::new(|| {
    let v = serde_json::json!({
        "id": "urn:ngsi-ld:Vehicle:1",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": 55, "observedAt": "2020-01-01T00:00:00Z",
                  "source": {"type": "Property", "value": "gps"}},
        "brand": {"type": "Property", "value": "Bxyz"},
        "a": {"type": "Property", "value": {"b": {"c": 3}, "d": [1, 2, "x"]}},
        "parkedIn": {"type": "Relationship", "object": "urn:ngsi-ld:Parking:1"},
        "name": {"type": "LanguageProperty", "languageMap": {"en": "car", "fr": "voiture"}},
        "on": {"type": "Property", "value": true},
        "when": {"type": "Property", "value": "2021-05-01T10:00:00Z"}
    });
    ngsi::model::Entity::parse(v.as_object().expect("object").clone(), &CORE, true, "2024-01-01T00:00:00.000Z")
        .expect("the fixed entity parses")
});

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(e) = ngsi::query::parse(s) {
        if ngsi::query::validate(&e).is_ok() {
            let _ = ngsi::query::eval(&e, &ENTITY, &CORE);
        }
    }
});
