//! Record the signal trace a controller plays, to replay it in CityFlow (diagnostic):
//! `cargo run -p control --release --example trace -- hangzhou|jinan benchmark|operational POLICY OUT`
//!
//! Runs POLICY through the safety layer for 3,600 s as `eval` does and writes OUT: one
//! line per step, one hexadecimal word per signalised intersection (roadnet order, as
//! `control::junctions`), separated by spaces: bit `r` is set when the intersection's
//! movement `r` (the roadnet's road link `r`) has green in the twin during that step.
//! Prints the run's average travel time; `scripts/cityflow/control.cpp … trace OUT`
//! replays the file in CityFlow.

use control::{Controller, Protocol};
use twin::{Sim, SimConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let city = if arg(0) == "jinan" { "jinan_3x4" } else { "hangzhou_4x4" };
    let protocol = if arg(1) == "operational" { Protocol::Operational } else { Protocol::Benchmark };
    let policy = if arg(2).is_empty() { "maxpressure" } else { arg(2) };
    let out =
        if arg(3).is_empty() { format!("target/trace-{city}-{}-{policy}.txt", protocol.name()) } else { arg(3).to_string() };
    let scenario = testdata::cityflow(city).expect("the shared data");
    let mut ctl = Controller::new(&scenario, policy, protocol, 3600.0).expect("controller");
    let mut sim = Sim::new(&scenario, SimConfig::default());
    let mut text = String::new();
    for _ in 0..3600 {
        ctl.before_step(&mut sim);
        let words: Vec<String> = ctl
            .safety()
            .junctions()
            .iter()
            .map(|j| {
                let bits =
                    j.movements.iter().enumerate().filter(|&(_, &m)| sim.movement_green(m)).fold(0u64, |w, (r, _)| w | 1 << r);
                format!("{bits:x}")
            })
            .collect();
        text.push_str(&words.join(" "));
        text.push('\n');
        sim.step();
    }
    std::fs::write(&out, text).expect("write the trace");
    println!("{policy} {} on {city}: ATT {:.4}; trace in {out}", protocol.name(), sim.metrics().average_travel_time_s);
}
