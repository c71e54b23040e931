//! Sweep CityBrain parameters on Hangzhou and Jinan:
//! `cargo run -p control --release --example tune -- benchmark|operational`
//! Each line: parameters, then ATT for Hangzhou and Jinan.

use control::policy::{CityBrain, CityBrainParams, PolicyContext};
use control::{Controller, Protocol};
use twin::{Sim, SimConfig};

fn main() {
    let protocol = match std::env::args().nth(1).as_deref() {
        Some("operational") => Protocol::Operational,
        _ => Protocol::Benchmark,
    };
    let load = |c: &str| testdata::cityflow(c).expect("the shared data");
    let cities = [load("hangzhou_4x4"), load("jinan_3x4")];
    let base = CityBrainParams::for_timing(&protocol.timing());
    let spec = std::env::var("TUNE").unwrap_or_default();
    // TUNE="field=v1,v2;field=v1" sweeps the cartesian product.
    let mut grid = vec![base];
    for part in spec.split(';').filter(|s| !s.is_empty()) {
        let (field, vals) = part.split_once('=').expect("field=values");
        let vals: Vec<f64> = vals.split(',').map(|v| v.parse().expect("number")).collect();
        grid = grid
            .iter()
            .flat_map(|p| {
                vals.iter().map(move |&v| {
                    let mut q = *p;
                    match field {
                        "approach" => q.approach = v,
                        "arrival" => q.arrival = v,
                        "downstream" => q.downstream = v,
                        "spill" => q.spill_occupancy = v,
                        "damp" => q.spill_damp = v,
                        "penalty" => q.switch_penalty_per_s = v,
                        "cap" => q.lane_cap = v,
                        _ => panic!("unknown field {field}"),
                    }
                    q
                })
            })
            .collect();
    }
    for p in grid {
        let mut atts = Vec::new();
        for s in &cities {
            let js = control::junctions(&s.network, protocol.phase_set()).expect("junctions");
            let ctx = PolicyContext {
                net: &s.network,
                junctions: &js,
                timing: protocol.timing(),
                demand: &s.demand,
                horizon_s: 3600.0,
            };
            let policy = Box::new(CityBrain::new(&ctx, p));
            let mut ctl = Controller::from_policy(s, policy, js.clone(), protocol.timing()).expect("controller");
            let mut sim = Sim::new(s, SimConfig::default());
            for _ in 0..3600 {
                ctl.before_step(&mut sim);
                sim.step();
            }
            atts.push(sim.metrics().average_travel_time_s);
        }
        println!("{p:?} hangzhou {:.2} jinan {:.2}", atts[0], atts[1]);
    }
}
