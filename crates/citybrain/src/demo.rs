//! `citybrain demo`: the generated demo city, live.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use twin::{Sim, SimConfig};

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Simulated seconds per wall-clock second.
    #[arg(long, default_value_t = 10.0)]
    pub speed: f64,
    /// Stop after this many simulated seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<f64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(a: &DemoArgs) -> Result<()> {
    anyhow::ensure!(a.speed.is_finite() && a.speed > 0.0, "--speed must be positive, got {}", a.speed);
    let city = twin::gen::generate(&twin::gen::GenConfig::demo()).map_err(anyhow::Error::msg)?;
    let mut sim = Sim::from_parts(city.network, city.demand.flows, SimConfig { seed: a.seed, ..Default::default() });
    let tty = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut last_print = Instant::now() - Duration::from_secs(1);
    loop {
        let target = start.elapsed().as_secs_f64() * a.speed;
        while sim.time() < target {
            sim.step();
        }
        if a.duration.is_some_and(|d| sim.time() >= d) {
            break;
        }
        if last_print.elapsed() >= Duration::from_millis(500) {
            last_print = Instant::now();
            let m = sim.metrics();
            let line = format!(
                "t={:>6.0}s  vehicles {:>5}  finished {:>6}  avg speed {:>5.1} km/h  avg travel time {:>6.1}s",
                m.time_s,
                m.vehicles_running,
                m.throughput,
                sim.series().last().map(|p| p.mean_speed_mps * 3.6).unwrap_or(0.0),
                m.average_travel_time_s
            );
            if tty {
                eprint!("\r{line}");
                std::io::stderr().flush().ok();
            } else {
                eprintln!("{line}");
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if tty {
        eprintln!();
    }
    Ok(())
}
