//! The importers' scenarios run: tests that need the engine, kept here because the
//! importers live in the `city` crate, which has no simulator.

use city::import::{cbengine, cityflow, sumo};
use city::testutil::{corridor, CBENGINE_CROSS_FLOW, CBENGINE_CROSS_ROADNET, SUMO_CROSS_NET, SUMO_CROSS_ROUTES};
use city::Demand;

use crate::{Sim, SimConfig};

#[test]
fn cbengine_flows_release_and_finish() {
    let s = cbengine::load_scenario_named(CBENGINE_CROSS_ROADNET, CBENGINE_CROSS_FLOW, "roadnet.txt", "flow.txt").unwrap();
    let mut sim = Sim::new(&s, SimConfig::default());
    for _ in 0..900 {
        sim.step();
    }
    let m = sim.metrics();
    assert_eq!(m.vehicles_created, 18);
    assert_eq!(m.throughput, 18, "{m:?}");
}

#[test]
fn cityflow_real_shape_scenario_runs() {
    // The corridor helper's network written out and read back simulates identically.
    let s = corridor(vec![(2.0, 0.0, 200.0)]);
    let text = cityflow::write_flow(&s.demand, &s.network);
    let again = cityflow::parse_flow(&text, &s.network, "f").unwrap();
    let run = |d: &Demand| {
        let mut sim = Sim::from_parts(s.network.clone(), d.flows.clone(), SimConfig::default());
        for _ in 0..400 {
            sim.step();
        }
        sim.metrics()
    };
    assert_eq!(format!("{:?}", run(&s.demand)), format!("{:?}", run(&again)));
}

#[test]
fn sumo_cross_every_vehicle_finishes() {
    let s = sumo::load_scenario_named(SUMO_CROSS_NET, SUMO_CROSS_ROUTES, "x.net.xml", "x.rou.xml").unwrap();
    let mut sim = Sim::new(&s, SimConfig::default());
    for _ in 0..600 {
        sim.step();
    }
    let m = sim.metrics();
    assert_eq!((m.vehicles_created, m.throughput), (15, 15), "{m:?}");
}
