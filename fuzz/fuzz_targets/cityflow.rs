//! CityFlow `roadnet.json` + `flow.json` (`city::import::cityflow`): never a panic, and
//! every accepted network survives the CityFlow export.
#![no_main]

use std::sync::LazyLock;

use citybrain_fuzz::{check_cityflow_export, split};
use libfuzzer_sys::fuzz_target;
use city::import::cityflow;
use city::Network;

static REFERENCE: LazyLock<Network> = LazyLock::new(|| {
    cityflow::parse_roadnet(include_str!("../seeds/cityflow/cross.roadnet.json"), "reference.json").expect("reference").1
});

fuzz_target!(|data: &[u8]| {
    let Some((roadnet, flow)) = split(data) else { return };
    let net = match cityflow::parse_roadnet(roadnet, "roadnet.json") {
        Ok((spec, net)) => {
            check_cityflow_export(&spec, &net);
            Some(net)
        }
        Err(_) => None,
    };
    let _ = cityflow::parse_flow(flow, net.as_ref().unwrap_or(&REFERENCE), "flow.json");
});
