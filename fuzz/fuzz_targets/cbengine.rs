//! CBEngine (KDD Cup 2021) `roadnet.txt` + `flow.txt` (`city::import::cbengine`): never a
//! panic, and every accepted network survives the CityFlow export.
#![no_main]

use std::sync::LazyLock;

use citybrain_fuzz::{check_cityflow_export, split};
use libfuzzer_sys::fuzz_target;
use city::import::cbengine;
use city::Network;

static REFERENCE: LazyLock<Network> = LazyLock::new(|| {
    cbengine::parse_roadnet(include_str!("../seeds/cbengine/cross.roadnet.txt"), "reference.txt").expect("reference").1
});

fuzz_target!(|data: &[u8]| {
    let Some((roadnet, flow)) = split(data) else { return };
    let net = match cbengine::parse_roadnet(roadnet, "roadnet.txt") {
        Ok((spec, net)) => {
            check_cityflow_export(&spec, &net);
            Some(net)
        }
        Err(_) => None,
    };
    let _ = cbengine::parse_flow(flow, net.as_ref().unwrap_or(&REFERENCE), "flow.txt");
});
