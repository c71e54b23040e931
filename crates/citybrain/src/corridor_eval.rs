//! `citybrain eval corridor`: paired runs (same seed and demand) with and without an
//! emergency green corridor over OD pairs at the busiest hour (`corridor::eval`); a
//! Markdown table per pair, the medians, optional JSON.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use corridor::eval::{evaluate, summarize, EvalConfig, PairResult};

use crate::control::ProtocolArg;
use crate::scenario::ScenarioArgs;

#[derive(Args, Debug, Clone)]
pub struct CorridorEvalArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// OD pairs (each a pair of runs).
    #[arg(long, default_value_t = 20)]
    pub pairs: usize,
    /// Signal policy behind the safety layer in both runs of a pair.
    #[arg(long, default_value = "fixed")]
    pub controller: String,
    #[arg(long, value_enum, default_value = "operational")]
    pub protocol: ProtocolArg,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds after the busiest hour included in the runs (recovery).
    #[arg(long, default_value_t = 600.0)]
    pub recovery: f64,
    /// CityFlow's lane changing (other vehicles then also move aside for the vehicle).
    #[arg(long)]
    pub lane_change: bool,
    /// Write every pair and the summary as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The emergency vehicle enters as a CityFlow flow entry in both runs (listed first,
    /// its own vehicle type, capped by lane limits like everyone; nobody yields; lane
    /// changing off), so CityFlow can replay the runs (`--export`).
    #[arg(long)]
    pub cityflow_ev: bool,
    /// Write each pair's CityFlow replay (config, the flow file with the vehicle first,
    /// both runs' per-step signal traces) under DIR and replay it in the twin (needs
    /// --cityflow-ev).
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// The arrival predictor: speeds (speeds per road, no car following), or the
    /// car-following one seeing detectors (the vehicle's GPS, per lane camera queues,
    /// loop counts and speeds) or perfect (every vehicle's position, speed and route: a
    /// bound, not a brain's view), or blend (the mean of speeds and detectors; the
    /// default).
    #[arg(long, default_value = "blend")]
    pub eta: String,
    /// How the corridor routes its vehicle: traffic (the fastest route on general
    /// traffic's live travel times, the same as without a corridor) or lanes (the fastest
    /// for a vehicle with green signals that cannot overtake: the traffic on its lanes).
    #[arg(long, default_value = "traffic")]
    pub route: String,
}

fn row(p: &PairResult) -> String {
    let errs: Vec<String> = p.prediction_errors_s.iter().map(|e| format!("{e:+.0}")).collect();
    format!(
        "| {} → {} | {:.0} | {} | {:.0} | {:.0} | {:.0} | {:.1} % | {:.1} % | {:.2} % | {:+.1} % | {} |",
        p.origin,
        p.destination,
        p.spawn_s,
        p.signals,
        p.free_flow_s,
        p.ev_without_s,
        p.ev_with_s,
        p.reduction_pct(),
        p.bound_pct(),
        p.others_change_pct(),
        100.0 * (p.window_delay_with / p.window_delay_without - 1.0),
        errs.join(" ")
    )
}

pub fn run(a: &CorridorEvalArgs) -> Result<()> {
    anyhow::ensure!(a.pairs >= 1, "--pairs must be at least 1");
    anyhow::ensure!(a.recovery.is_finite() && a.recovery >= 0.0, "--recovery must be a non-negative number");
    let scenario = a.scenario.load()?;
    control::policy::cli_name(&a.controller).ok_or_else(|| anyhow!("--controller: unknown policy {:?}", a.controller))?;
    anyhow::ensure!(a.export.is_none() || a.cityflow_ev, "--export needs --cityflow-ev (CityFlow has no dispatched units)");
    anyhow::ensure!(!(a.cityflow_ev && a.lane_change), "--cityflow-ev needs lane changing off");
    let eta = corridor::EtaModel::parse(&a.eta)
        .ok_or_else(|| anyhow!("--eta: expected speeds, detectors, perfect or blend, got {:?}", a.eta))?;
    let route =
        corridor::RouteMode::parse(&a.route).ok_or_else(|| anyhow!("--route: expected traffic or lanes, got {:?}", a.route))?;
    let mut engine = corridor::EngineConfig { eta, route, ..Default::default() };
    if a.cityflow_ev {
        engine.spawn = twin::engine::SpawnMode::Flow;
    }
    let cfg = EvalConfig {
        policy: a.controller.clone(),
        protocol: a.protocol.into(),
        seed: a.seed,
        pairs: a.pairs,
        recovery_s: a.recovery,
        lane_change: a.lane_change,
        engine,
        record_traces: a.export.is_some(),
    };
    let (hour, results) = evaluate(&scenario, &cfg).map_err(|e| anyhow!("{e}"))?;
    let s = summarize(&results);
    println!("busiest hour {:.0}-{:.0} s; controller {}; {} pairs\n", hour, hour + 3600.0, a.controller, results.len());
    println!("| OD pair | spawn (s) | signals | EV free flow (s) | EV without (s) | EV with (s) | reduction | bound | others' ATT, run | others' delay, window | prediction error at 60 s (s) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for p in &results {
        println!("{}", row(p));
    }
    println!(
        "\nmedians: EV {:.0} s without, {:.0} s with (free flow {:.0} s): reduction {:.1} % (bound {:.1} %); others' average travel time {:+.2} % (worst pair {:+.2} %); others' delay in the window {:+.1} %; predictions within ±10 s at 60 s: {}/{} (median |error| {:.1} s)",
        s.median_ev_without_s,
        s.median_ev_with_s,
        s.median_free_flow_s,
        s.median_reduction_pct,
        s.median_bound_pct,
        s.median_others_change_pct,
        s.max_others_change_pct,
        s.median_window_delay_change_pct,
        s.predictions_within_10s,
        s.predictions,
        s.median_abs_prediction_error_s
    );
    let causes: Vec<String> = corridor::eta_causes::CAUSES
        .iter()
        .enumerate()
        .map(|(k, name)| format!("{name} {}/{}", s.misses_by_cause[k], s.predictions_by_cause[k]))
        .collect();
    println!("ETA misses (beyond ±10 s) by cause, of predictions by cause: {}", causes.join(", "));
    println!("\nwhere the vehicle's time goes: seconds lost against its desired speed (without / with the corridor), by cause\n");
    println!("| OD pair | without − free flow (s) | with − free flow (s) | following | queue | red | other |");
    println!("|---|---|---|---|---|---|---|");
    for p in &results {
        let (w, c) = (p.lost_without_s, p.lost_with_s);
        println!(
            "| {} → {} | {:.0} | {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} |",
            p.origin,
            p.destination,
            p.ev_without_s - p.free_flow_s,
            p.ev_with_s - p.free_flow_s,
            w[0],
            c[0],
            w[1],
            c[1],
            w[2],
            c[2],
            w[3],
            c[3]
        );
    }
    let (w, c) = (s.median_lost_without_s, s.median_lost_with_s);
    println!(
        "medians lost (without / with): following {:.0} / {:.0} s, queue {:.0} / {:.0} s, red {:.0} / {:.0} s, other {:.0} / {:.0} s",
        w[0], c[0], w[1], c[1], w[2], c[2], w[3], c[3]
    );
    if a.lane_change {
        let (n0, n1): (u64, u64) = (results.iter().map(|p| p.asides_without).sum(), results.iter().map(|p| p.asides_with).sum());
        println!("vehicles that moved aside into a lane off their route: {n0} without, {n1} with the corridor");
    }
    if let Some(dir) = &a.export {
        crate::corridor_export::export(&a.scenario, &scenario, a.seed, &results, dir)?;
    }
    if let Some(path) = &a.json {
        let pairs: Vec<serde_json::Value> = results
            .iter()
            .map(|p| {
                serde_json::json!({
                    "origin": p.origin, "destination": p.destination, "spawn_s": p.spawn_s, "signals": p.signals,
                    "free_flow_s": p.free_flow_s, "predicted_without_s": p.predicted_without_s,
                    "ev_without_s": p.ev_without_s, "ev_with_s": p.ev_with_s,
                    "reduction_pct": p.reduction_pct(), "bound_pct": p.bound_pct(),
                    "others_att_without_s": p.others_att_without_s, "others_att_with_s": p.others_att_with_s,
                    "others_change_pct": p.others_change_pct(),
                    "window_s": [p.window_s.0, p.window_s.1],
                    "window_delay_without_veh_s": p.window_delay_without, "window_delay_with_veh_s": p.window_delay_with,
                    "window_att_without_s": p.window_att_without_s, "window_att_with_s": p.window_att_with_s,
                    "prediction_errors_s": p.prediction_errors_s, "prediction_causes": p.prediction_causes,
                    "lost_without_s": p.lost_without_s, "lost_with_s": p.lost_with_s,
                    "asides_without": p.asides_without, "asides_with": p.asides_with,
                })
            })
            .collect();
        let out = serde_json::json!({
            "controller": a.controller, "seed": a.seed, "busiest_hour_start_s": hour, "pairs": pairs,
            "summary": {
                "pairs": s.pairs, "median_ev_without_s": s.median_ev_without_s, "median_ev_with_s": s.median_ev_with_s,
                "median_free_flow_s": s.median_free_flow_s, "median_reduction_pct": s.median_reduction_pct,
                "median_bound_pct": s.median_bound_pct, "median_others_change_pct": s.median_others_change_pct,
                "max_others_change_pct": s.max_others_change_pct,
                "median_window_delay_change_pct": s.median_window_delay_change_pct,
                "predictions_within_10s": s.predictions_within_10s, "predictions": s.predictions,
                "median_abs_prediction_error_s": s.median_abs_prediction_error_s,
                "eta_causes": corridor::eta_causes::CAUSES, "predictions_by_cause": s.predictions_by_cause,
                "misses_by_cause": s.misses_by_cause, "eta_model": a.eta,
                "median_lost_without_s": s.median_lost_without_s, "median_lost_with_s": s.median_lost_with_s,
            }
        });
        std::fs::write(path, serde_json::to_string_pretty(&out)?).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
