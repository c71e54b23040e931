//! Glue between the CLI and the `control` crate: `citybrain eval`, and the controller the
//! live brain and `sim --controller` run.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use control::{Controller, Protocol, RunResult};
use rayon::prelude::*;
use twin::{Scenario, Sim};

use crate::scenario;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Benchmark,
    Operational,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Protocol {
        match p {
            ProtocolArg::Benchmark => Protocol::Benchmark,
            ProtocolArg::Operational => Protocol::Operational,
        }
    }
}

/// A controller closure for the live brain (operational timing); `None` for `fixed`
/// without corridors (the roadnet's plans run in the twin). With the corridor capability
/// the closure first advances the corridors, which place their preemption calls on the
/// controller's safety layer (`fixed` then runs the plans behind the safety layer, which
/// a preemption can take back).
pub fn live_controller(
    name: &str,
    scenario: &Scenario,
    corridors: Option<Arc<corridor::Corridors>>,
) -> Result<Option<brain::Controller>> {
    if control::policy::cli_name(name) == Some("fixed") && corridors.is_none() {
        return Ok(None);
    }
    let mut c =
        Controller::new(scenario, name, Protocol::Operational, 86_400.0).map_err(|e| anyhow!("--controller {name}: {e}"))?;
    // Plug-in commands (holds) have no effect on the policies of today; they arrive here
    // so that the safety layer stays the only way to the signals.
    Ok(Some(Box::new(move |sim: &mut Sim, _commands: &[brain::Command]| {
        if let Some(k) = &corridors {
            k.before_step(sim, c.safety_mut());
        }
        c.before_step(sim)
    })))
}

/// A controller for `citybrain sim --controller NAME --protocol P`.
pub fn sim_controller(name: &str, protocol: ProtocolArg, scenario: &Scenario, steps: u64) -> Result<Controller> {
    Controller::new(scenario, name, protocol.into(), steps as f64).map_err(|e| anyhow!("--controller {name}: {e}"))
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub scenario: scenario::ScenarioArgs,
    #[arg(long, value_enum, default_value = "benchmark")]
    pub protocol: ProtocolArg,
    /// Comma-separated controllers.
    #[arg(long, default_value = "fixed,webster,actuated,sotl,maxpressure,citybrain")]
    pub controllers: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 3600)]
    pub steps: u64,
    /// Print one JSON object keyed by controller (the names `--controllers` takes:
    /// `fixed`, `maxpressure`, `citybrain`, ...) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Where to write the JSON results and the SVG plot (default: current directory).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

fn result_json(r: &RunResult, base: Option<&RunResult>) -> serde_json::Value {
    let pct = |v: f64, b: f64| if b.abs() > 1e-12 { Some((v - b) / b * 100.0) } else { None };
    let mut o = serde_json::json!({
        "average_travel_time_s": r.average_travel_time_s,
        "throughput": r.throughput,
        "mean_delay_s": r.mean_delay_s,
        "stops_per_vehicle": r.stops_per_vehicle,
        "average_speed_mps": r.average_speed_mps,
        "delay_index": r.delay_index,
        "phase_changes": r.phase_changes,
    });
    if let Some(b) = base {
        o["change_vs_fixed_pct"] = serde_json::json!({
            "average_travel_time_s": pct(r.average_travel_time_s, b.average_travel_time_s),
            "throughput": pct(r.throughput as f64, b.throughput as f64),
            "mean_delay_s": pct(r.mean_delay_s, b.mean_delay_s),
            "stops_per_vehicle": pct(r.stops_per_vehicle, b.stops_per_vehicle),
            "average_speed_mps": pct(r.average_speed_mps, b.average_speed_mps),
            "delay_index": pct(r.delay_index, b.delay_index),
        });
    }
    o
}

/// `--controllers` as command-line names (`FixedTime` and `fixedtime` become `fixed`, `mp`
/// becomes `maxpressure`), in the order given; an unknown or repeated controller is an error.
fn cli_names(list: &str) -> Result<Vec<&'static str>> {
    let mut names: Vec<&'static str> = Vec::new();
    for given in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let n = control::policy::cli_name(given).ok_or_else(|| {
            anyhow!("--controllers: unknown controller {given:?}; expected one of {}", control::policy::CLI_NAMES.join(", "))
        })?;
        anyhow::ensure!(!names.contains(&n), "--controllers: {given} names {n}, which is already in the list");
        names.push(n);
    }
    anyhow::ensure!(!names.is_empty(), "--controllers: no controller given");
    Ok(names)
}

pub fn eval(a: &EvalArgs) -> Result<()> {
    let s = a.scenario.load()?;
    let names = cli_names(&a.controllers)?;
    let protocol: Protocol = a.protocol.into();
    // Fail fast on a policy that cannot run here before spending minutes on the others.
    for n in &names {
        Controller::new(&s, n, protocol, a.steps as f64).map_err(|e| anyhow!("--controllers: {n}: {e}"))?;
    }
    // Keyed by command-line name (the JSON); the table and the plot show display names.
    let results: Vec<(&str, RunResult)> = names
        .par_iter()
        .map(|&n| control::run(&s, n, protocol, a.seed, a.steps).map(|r| (n, r)).map_err(|e| anyhow!("{n}: {e}")))
        .collect::<Result<_>>()?;
    let base = results.iter().find(|(n, _)| *n == "fixed").map(|(_, r)| r.clone());
    let mut obj = serde_json::Map::new();
    for (n, r) in &results {
        obj.insert(n.to_string(), result_json(r, base.as_ref()));
    }
    let results: Vec<(String, RunResult)> =
        results.into_iter().map(|(n, r)| (control::policy::display_name(n).unwrap_or(n).to_string(), r)).collect();
    let json = serde_json::Value::Object(obj);
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let stem = a.scenario.roadnet.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or("scenario").to_string();
    let proto = protocol.name();
    let json_path = a.out.join(format!("eval-{stem}-{proto}.json"));
    let svg_path = a.out.join(format!("eval-{stem}-{proto}.svg"));
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let title = format!("{stem}, {proto} protocol");
    std::fs::write(&svg_path, control::svg_plot(&title, &results)).with_context(|| format!("writing {}", svg_path.display()))?;
    if a.json {
        println!("{json}");
    } else {
        println!("{}", control::markdown_table(&results));
        println!("wrote {} and {}", json_path.display(), svg_path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cli_names;

    #[test]
    fn controllers_are_keyed_by_their_command_line_names() {
        let names = cli_names("FixedTime, mp,webster,Actuated,SOTL,citybrainheuristic,CityBrain").unwrap();
        assert_eq!(names, ["fixed", "maxpressure", "webster", "actuated", "sotl", "citybrainheuristic", "citybrain"]);
        assert_eq!(cli_names("fixedtime,maxpressure").unwrap(), ["fixed", "maxpressure"]);
    }

    #[test]
    fn unknown_repeated_or_no_controllers_are_errors() {
        let e = cli_names("fixed,greedy").unwrap_err().to_string();
        assert!(e.contains("unknown controller \"greedy\"") && e.contains("maxpressure"), "{e}");
        let e = cli_names("fixed,FixedTime").unwrap_err().to_string();
        assert!(e.contains("FixedTime names fixed"), "{e}");
        assert!(cli_names(" , ").is_err());
    }
}
