//! Shared helpers of the fuzz targets (see `fuzz_targets/`).
//!
//! The importer targets take one input holding both files of a scenario: the network
//! file, a NUL byte, then the demand file (none of the formats contains NUL). An input
//! without NUL is tried as both files. The demand file is parsed against the network
//! the input's own network file gives, or, when that one is rejected, against the small
//! reference network of the format, so that the demand parser runs on every input.

use city::import::{cityflow, ImportError};
use city::spec::NetworkSpec;
use city::Network;

/// Split an input into (network file, demand file) text; `None` if either is not UTF-8
/// (the importers take `&str`: a file that is not UTF-8 is rejected before them).
pub fn split(data: &[u8]) -> Option<(&str, &str)> {
    let (net, demand) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    Some((std::str::from_utf8(net).ok()?, std::str::from_utf8(demand).ok()?))
}

/// What `--export-cityflow` does with an imported network: write it as CityFlow JSON.
/// CityFlow's importer must read it back, with the same counts of everything.
pub fn check_cityflow_export(spec: &NetworkSpec, net: &Network) {
    let text = cityflow::write_roadnet(spec);
    let back: Result<(NetworkSpec, Network), ImportError> = cityflow::parse_roadnet(&text, "exported.json");
    let (_, again) = back.unwrap_or_else(|e| panic!("the exported roadnet does not load: {e}\n{text}"));
    assert_eq!(again.roads.len(), net.roads.len());
    assert_eq!(again.lanes.len(), net.lanes.len());
    assert_eq!(again.movements.len(), net.movements.len());
}
