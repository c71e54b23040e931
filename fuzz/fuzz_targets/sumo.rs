//! SUMO `.net.xml` + `.rou.xml` (`city::import::sumo`): never a panic, and every accepted
//! network survives the CityFlow export.
#![no_main]

use std::sync::LazyLock;

use citybrain_fuzz::{check_cityflow_export, split};
use libfuzzer_sys::fuzz_target;
use city::import::sumo;
use city::Network;

static REFERENCE: LazyLock<Network> =
    LazyLock::new(|| sumo::parse_net(include_str!("../seeds/sumo/cross.net.xml"), "reference.net.xml").expect("reference").1);

fuzz_target!(|data: &[u8]| {
    let Some((net_xml, rou_xml)) = split(data) else { return };
    let net = match sumo::parse_net(net_xml, "net.xml") {
        Ok((spec, net)) => {
            check_cityflow_export(&spec, &net);
            Some(net)
        }
        Err(_) => None,
    };
    let _ = sumo::parse_routes(rou_xml, net.as_ref().unwrap_or(&REFERENCE), "rou.xml");
});
