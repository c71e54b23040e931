//! Try CityBrain search settings on one scenario:
//! `cargo run -p control --release --example tune_mpc -- hangzhou|jinan benchmark|operational closed DECISIONS AHEAD`
//! or `… seq SEGMENT_S SEGMENTS`. Prints the average travel time and the wall time.

use control::policy::{CityBrainMpc, MpcParams, PolicyContext};
use control::{Controller, Protocol};
use twin::{Sim, SimConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let dir = if arg(0) == "jinan" { "jinan_3x4" } else { "hangzhou_4x4" };
    let protocol = if arg(1) == "operational" { Protocol::Operational } else { Protocol::Benchmark };
    let num = |i: usize| arg(i).parse::<f64>().expect("a number");
    let params = match arg(2) {
        "closed" => MpcParams::ClosedLoop { decisions: num(3) as usize, ahead: num(4) as usize },
        "seq" => MpcParams::Sequences { segment_s: num(3), segments: num(4) as usize },
        _ => MpcParams::for_timing(&protocol.timing()),
    };
    let s = testdata::cityflow(dir).expect("the shared data");
    let js = control::junctions(&s.network, protocol.phase_set()).expect("junctions");
    let ctx = PolicyContext { net: &s.network, junctions: &js, timing: protocol.timing(), demand: &s.demand, horizon_s: 3600.0 };
    let policy = Box::new(CityBrainMpc::new(&ctx, Some(params)));
    let mut ctl = Controller::from_policy(&s, policy, js.clone(), protocol.timing()).expect("controller");
    let mut sim = Sim::new(&s, SimConfig::default());
    let t0 = std::time::Instant::now();
    for _ in 0..3600 {
        ctl.before_step(&mut sim);
        sim.step();
    }
    let m = sim.metrics();
    println!(
        "{dir} {} {params:?}: ATT {:.2} throughput {} ({:.1} s wall, {} decisions)",
        protocol.name(),
        m.average_travel_time_s,
        m.throughput,
        t0.elapsed().as_secs_f64(),
        ctl.decisions()
    );
}
