//! citybrain: the one binary. A thin clap CLI; all logic lives in the library crates.

#[cfg(target_os = "linux")]
mod alloc;
mod atspm_out;
mod bench;
mod bench_mqtt;
mod bench_ngsi;
mod control;
mod corridor_eval;
mod corridor_export;
mod demo;
mod demo_day;
mod gen;
mod incidents_bound;
mod incidents_eval;
mod kill9;
mod loadgen;
mod mqtt_cli;
mod mqtt_kill9;
mod plugins;
mod scenario;
mod sim;
mod tripinfo;
mod trust;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: alloc::HugeAlloc = alloc::HugeAlloc;

#[derive(Parser)]
#[command(name = "citybrain", version, about = "An open-source City Brain with a digital twin")]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the generated demo city live: twin, brain, API and dashboard on 127.0.0.1.
    Demo(demo::DemoArgs),
    /// Serve the brain for a real deployment from a JSON config (twin optional).
    Serve(demo::ServeArgs),
    /// Evaluate signal controllers on a scenario under a protocol. `citybrain eval
    /// incidents --help`: the incident evaluation; `citybrain eval corridor --help`: the
    /// green-corridor evaluation.
    Eval(control::EvalArgs),
    /// Simulate a scenario headless and report metrics.
    Sim(sim::SimArgs),
    /// Generate a synthetic city in CityFlow format.
    Gen(gen::GenArgs),
    /// Benchmark the twin on the shared scenarios.
    Bench(bench::BenchArgs),
    /// The audit log: `audit verify` checks its hash chain.
    Audit(trust::AuditArgs),
    /// Accounts of departments: `accounts add`.
    Accounts(trust::AccountsArgs),
}

/// `citybrain eval incidents`: a scripted day with injected incidents, scored by incident
/// type (or a ground-truth CSV with recorded observations).
#[derive(Parser)]
#[command(name = "citybrain eval incidents")]
struct EvalIncidents {
    #[command(flatten)]
    args: incidents_eval::IncidentsEvalArgs,
}

/// `citybrain eval corridor`: paired runs with and without an emergency green corridor.
#[derive(Parser)]
#[command(name = "citybrain eval corridor")]
struct EvalCorridor {
    #[command(flatten)]
    args: corridor_eval::CorridorEvalArgs,
}

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "eval") && argv.get(2).is_some_and(|a| a == "corridor") {
        let cli = EvalCorridor::parse_from(std::iter::once("citybrain eval corridor".into()).chain(argv[3..].iter().cloned()));
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(tracing_subscriber::EnvFilter::new("warn")).init();
        if let Err(e) = corridor_eval::run(&cli.args) {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    if argv.get(1).is_some_and(|a| a == "eval") && argv.get(2).is_some_and(|a| a == "incidents") {
        let cli = EvalIncidents::parse_from(std::iter::once("citybrain eval incidents".into()).chain(argv[3..].iter().cloned()));
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(tracing_subscriber::EnvFilter::new("warn")).init();
        if let Err(e) = incidents_eval::run(&cli.args) {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let r: Result<()> = match cli.cmd {
        Command::Demo(a) => demo::run(&a),
        Command::Serve(a) => demo::serve(&a),
        Command::Eval(a) => control::eval(&a),
        Command::Sim(a) => sim::run(&a),
        Command::Gen(a) => gen::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Audit(a) => trust::audit(&a),
        Command::Accounts(a) => trust::accounts(&a),
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
