//! The NGSI-LD `q` language (`ngsi::query`): never a panic, and a parsed query evaluates.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(e) = ngsi::query::parse(s) {
        let _ = ngsi::query::validate(&e);
    }
});
