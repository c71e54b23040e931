//! NGSI-LD geo-queries (`ngsi::geo`): `georel`, `geometry` and `coordinates` split from
//! the input by newlines; never a panic, and a parsed query evaluates against itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mut it = s.splitn(3, '\n');
    let (Some(rel), Some(geom), Some(coords)) = (it.next(), it.next(), it.next()) else { return };
    if let Ok(q) = ngsi::geo::GeoQuery::parse(rel, geom, coords, String::new()) {
        let _ = q.matches(&q.geometry);
    }
});
