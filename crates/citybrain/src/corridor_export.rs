//! `citybrain eval corridor --cityflow-ev --export DIR`: each pair's runs as files CityFlow
//! replays (issue 17's external check), and the same replay in the twin.
//!
//! DIR holds `roadnet.json` (the input's roadnet: copied when it is CityFlow JSON, else
//! written by the CityFlow writer) and per pair `pair-K/`: `flow.json` (the emergency
//! vehicle's flow entry first, then the scenario's flows), `trace-with.txt` and
//! `trace-without.txt` (the green sets of every step of the run with and without the
//! corridor), `config.json` (CityFlow: `rlTrafficLight` true, lane changing off). Then
//! `scripts/cityflow/control.cpp`'s driver: `cityflow_control DIR/pair-K/config.json trace
//! DIR/pair-K/trace-with.txt flow_0_0`. `DIR/twin.json` holds the twin's figures: the
//! runs' own and the replay of the exported files in the twin.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use corridor::eval::PairResult;
use corridor::external::{demand_with_ev, replay_in_twin};
use twin::import::cityflow;
use twin::Scenario;

use crate::scenario::{load_with_spec, Format, ScenarioArgs};

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Write every pair's files under `dir`, replay them in the twin and print a table.
pub fn export(args: &ScenarioArgs, scenario: &Scenario, seed: u64, results: &[PairResult], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize().with_context(|| format!("cannot resolve {}", dir.display()))?;
    let roadnet = dir.join("roadnet.json");
    if args.format.unwrap_or_else(|| Format::detect(&args.roadnet)) == Format::Cityflow {
        std::fs::copy(&args.roadnet, &roadnet).with_context(|| format!("cannot copy {}", args.roadnet.display()))?;
    } else {
        let (spec, _) = load_with_spec(&args.roadnet, args.flow.as_deref(), args.format)?;
        write(&roadnet, &cityflow::write_roadnet(&spec))?;
    }
    println!(
        "\n| pair | run | EV twin (s) | EV twin replay (s) | others' ATT twin (s) | others' ATT twin replay (s) | vehicles |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for (k, p) in results.iter().enumerate() {
        let e = p.export.as_ref().ok_or_else(|| anyhow!("pair {k}: no trace recorded"))?;
        let pd = dir.join(format!("pair-{}", k + 1));
        std::fs::create_dir_all(&pd).with_context(|| format!("cannot create {}", pd.display()))?;
        let demand = demand_with_ev(&scenario.demand, &e.route, e.params, p.spawn_s);
        let flow_text = cityflow::write_flow(&demand, &scenario.network);
        write(&pd.join("flow.json"), &flow_text)?;
        let config = serde_json::json!({
            "interval": 1.0, "seed": seed, "dir": "", "roadnetFile": roadnet.display().to_string(),
            "flowFile": pd.join("flow.json").display().to_string(), "rlTrafficLight": true, "laneChange": false,
            "saveReplay": false, "roadnetLogFile": "roadnet_log.json", "replayLogFile": "replay.txt",
        });
        write(&pd.join("config.json"), &serde_json::to_string_pretty(&config)?)?;
        // The replay reads the flow file back, so it checks the file, not the run's memory.
        let flow_name = pd.join("flow.json").display().to_string();
        let demand = cityflow::parse_flow(&flow_text, &scenario.network, &flow_name).map_err(anyhow::Error::msg)?;
        let exported = Scenario { network: scenario.network.clone(), demand };
        for (run, trace, ev, others) in [
            ("with", &e.trace_with, p.ev_with_s, p.others_att_with_s),
            ("without", &e.trace_without, p.ev_without_s, p.others_att_without_s),
        ] {
            write(&pd.join(format!("trace-{run}.txt")), trace)?;
            let r = replay_in_twin(&exported, trace, seed, p.spawn_s).map_err(|e| anyhow!("pair {}: {e}", k + 1))?;
            println!(
                "| {} {} → {} | {run} | {ev:.4} | {:.4} | {others:.4} | {:.4} | {} |",
                k + 1,
                p.origin,
                p.destination,
                r.ev_s,
                r.others_att_s,
                r.vehicles
            );
            rows.push(serde_json::json!({
                "pair": k + 1, "origin": p.origin, "destination": p.destination, "spawn_s": p.spawn_s, "run": run,
                "ev_s": ev, "others_att_s": others, "replay_ev_s": r.ev_s, "replay_others_att_s": r.others_att_s,
                "vehicles": r.vehicles,
            }));
        }
    }
    write(&dir.join("twin.json"), &serde_json::to_string_pretty(&rows)?)?;
    println!(
        "\nfiles under {}; CityFlow: cityflow_control {}/pair-K/config.json trace {}/pair-K/trace-with.txt flow_0_0",
        dir.display(),
        dir.display(),
        dir.display()
    );
    Ok(())
}
