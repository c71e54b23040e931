//! NGSI-LD JSON-LD handling (`ngsi::context` + `ngsi::model`): any bytes as an entity with
//! its inline `@context` (cyclic, huge, deep, malformed) resolve or fail with an error,
//! never a panic; expansion and compaction of every term round-trip through the context.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use ngsi::{ContextConfig, Contexts};

static CTX: LazyLock<Contexts> = LazyLock::new(|| Contexts::new(ContextConfig::default()));

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let c = v.get("@context").cloned().unwrap_or(serde_json::Value::Null);
    let Ok(active) = CTX.resolve(&c) else { return };
    if let Some(m) = v.as_object() {
        if let Ok(e) = ngsi::model::Entity::parse(m.clone(), &active, true, "2024-01-01T00:00:00.000Z") {
            let _ = ngsi::render::entity(&e, &active, &ngsi::render::RenderOpts::new());
        }
        for k in m.keys() {
            let iri = active.expand(k);
            let back = active.compact(&iri);
            assert_eq!(active.expand(&back), iri, "{k} -> {iri} -> {back}");
        }
    }
});
