//! `citybrain eval incidents`: a scripted day with injected incidents (the twin's seeded
//! plans, congestion-only decoys included) played through the real brain (virtual
//! sensors → the one ingestion path → SQLite → the incident plug-in), scored by type
//! against the ground truth. `--ground-truth FILE --observations FILE` scores
//! observations recorded elsewhere (another simulator) against its CSV instead.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use brain::{Brain, BrainConfig, ClockSource};
use clap::Args;
use incidents::cameras::{CameraConfig, Cameras, Truth};
use incidents::score::{self, GroundTruth, MatchRule};
use incidents::{Incident, Incidents};
use sense::RawRecord;
use twin::incident::{IncidentPlan, RandomIncidents};
use twin::sensors::{SensorConfig, VirtualSensors};
use twin::{Sim, SimConfig};

use crate::scenario::ScenarioArgs;

/// 2026-01-05 00:00:00 UTC: the evaluation's day (runs follow each other a day apart).
const T0: f64 = 1_767_571_200.0;
const RUN_GAP_S: f64 = 86_400.0;

#[derive(Args, Debug, Clone)]
pub struct IncidentsEvalArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Lane-blocking incidents in total (spread over runs of `--per-run`).
    #[arg(long, default_value_t = 200)]
    pub incidents: usize,
    /// Incidents per run (one run = one simulated `--duration`).
    #[arg(long, default_value_t = 10)]
    pub per_run: usize,
    /// Congestion-only decoys per run.
    #[arg(long, default_value_t = 2)]
    pub decoys: usize,
    /// Simulated seconds per run.
    #[arg(long, default_value_t = 3600.0)]
    pub duration: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Virtual camera analytics accuracy (0 = cameras off: detectors and probes only).
    #[arg(long, default_value_t = 0.0)]
    pub camera_accuracy: f64,
    /// Score observations recorded elsewhere against this ground-truth CSV
    /// (`id,type,road,lanes,pos_m,lon,lat,start_s,end_s`); needs `--observations`.
    #[arg(long)]
    pub ground_truth: Option<PathBuf>,
    /// Observation batches to replay (JSON lines, each `{"observations":[...]}` with
    /// times in seconds of the run), with `--ground-truth`.
    #[arg(long, requires = "ground_truth")]
    pub observations: Option<PathBuf>,
    /// Response units of each kind (police, ambulance, tow truck, fire engine), spread
    /// over the network's junctions: the fleet is a parameter of the scenario.
    #[arg(long, default_value_t = 3)]
    pub units: usize,
    /// Override one kind of report's confidence for this evaluation (to tune, on seeds
    /// other than the one reported): `loop_stuck`, `loop_silent`, `probe_stop`,
    /// `queue_gap`, `detector_log` (0 turns the starved-lane test off), `flow_balance`
    /// (0 turns the exit roads' input–output test off), `exit_stuck` or `exit_probe_stop`, e.g.
    /// `--confidence detector_log=0.25`. Repeatable.
    #[arg(long = "confidence", value_parser = parse_confidence)]
    pub confidence: Vec<(String, f64)>,
    /// Override one threshold of the exit roads' input–output test (to tune, on seeds
    /// other than the one reported): `min_excess`, `persist`, `transit_speed_share` or
    /// `transit_extra_s`, e.g. `--balance min_excess=4`. Repeatable.
    #[arg(long = "balance", value_parser = parse_flow)]
    pub balance: Vec<(String, f64)>,
    /// Write the figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write the ground truth of the scripted runs as CSV here.
    #[arg(long)]
    pub write_ground_truth: Option<PathBuf>,
    /// Draw incidents on any eligible road, including roads no flow of the demand
    /// drives (by default only roads some flow drives: roads with probes).
    #[arg(long)]
    pub any_road: bool,
    /// Instead of detecting, measure the perfect-information bound: each incident's run
    /// against the same run without it, every sensor feed compared (see
    /// `twin::incident::bound`); prints the share observable and the earliest possible
    /// detection times. `--json` writes every incident's bound.
    #[arg(long, conflicts_with = "ground_truth")]
    pub bound: bool,
    /// Write every event (time from its run's start, type, status, road, confidence,
    /// sources, first report's text) as CSV here, for study.
    #[arg(long)]
    pub dump_events: Option<PathBuf>,
    /// Also print each kind of report's reliability (the share that matched a real
    /// incident), the figures `incidents::detect::Reliability` is calibrated from. Run it
    /// on seeds other than the one evaluated.
    #[arg(long)]
    pub calibrate: bool,
}

fn parse_confidence(s: &str) -> std::result::Result<(String, f64), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected KIND=VALUE, got {s:?}"))?;
    if !["loop_stuck", "loop_silent", "probe_stop", "queue_gap", "detector_log", "flow_balance", "exit_stuck", "exit_probe_stop"]
        .contains(&k)
    {
        return Err(format!("unknown report kind {k:?}"));
    }
    match v.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok((k.to_string(), x)),
        _ => Err(format!("{k}: expected a confidence in 0..=1, got {v:?}")),
    }
}

fn parse_flow(s: &str) -> std::result::Result<(String, f64), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    if !["min_excess", "persist", "transit_speed_share", "transit_extra_s"].contains(&k) {
        return Err(format!("unknown threshold {k:?}"));
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok((k.to_string(), x)),
        _ => Err(format!("{k}: expected a non-negative number, got {v:?}")),
    }
}

/// The capability's settings for the evaluation: simulated units, `--confidence`
/// overrides.
fn incident_config(a: &IncidentsEvalArgs) -> incidents::IncidentsConfig {
    let mut cfg = incidents::IncidentsConfig { keep_s: f64::INFINITY, ..crate::plugins::incident_config(true) };
    let r = &mut cfg.detect.reliability;
    for (k, v) in &a.confidence {
        match k.as_str() {
            "loop_stuck" => r.loop_stuck = *v,
            "loop_silent" => r.loop_silent = *v,
            "probe_stop" => r.probe_stop = *v,
            "queue_gap" => r.queue_gap = *v,
            "flow_balance" => r.flow_balance = *v,
            "exit_stuck" => r.exit_stuck = *v,
            "exit_probe_stop" => r.exit_probe_stop = *v,
            _ => r.detector_log = *v,
        }
    }
    let f = &mut cfg.detect.flow;
    for (k, v) in &a.balance {
        match k.as_str() {
            "min_excess" => f.min_excess = *v as u32,
            "persist" => f.persist = *v as u32,
            "transit_speed_share" => f.transit_speed_share = *v,
            _ => f.transit_extra_s = *v,
        }
    }
    cfg
}

/// Run `run`'s incident plan (seeded): `--per-run` incidents and `--decoys` decoys.
/// Incidents go only on roads some flow of the demand drives (roads with probes: the
/// target's "roads with detectors or probes"), unless `--any-road`: the plan is drawn
/// as `IncidentPlan::random` draws it, with three times as many incidents, and the first
/// `--per-run` on such roads are kept (a uniform draw among them), renumbered.
pub(crate) fn plan_for(a: &IncidentsEvalArgs, scenario: &twin::Scenario, run: usize) -> IncidentPlan {
    let net = &scenario.network;
    let draw = |count: usize| {
        IncidentPlan::random(
            net,
            &RandomIncidents {
                seed: a.seed.wrapping_mul(1000).wrapping_add(run as u64),
                count,
                decoys: a.decoys,
                // Ten minutes to learn baselines; incidents end before the run does.
                start_s: 600.0,
                end_s: (a.duration - 900.0).max(700.0),
                ..Default::default()
            },
        )
    };
    if a.any_road {
        return draw(a.per_run);
    }
    let driven: std::collections::BTreeSet<twin::RoadId> =
        scenario.demand.flows.iter().flat_map(|f| f.route.iter().copied()).collect();
    let mut plan = draw(a.per_run * 3);
    plan.incidents.retain(|i| i.road_and_pos(net).0.is_some_and(|r| driven.contains(&r)));
    plan.incidents.truncate(a.per_run);
    let mut id = 0;
    for i in &mut plan.incidents {
        id += 1;
        i.id = id;
    }
    for d in &mut plan.decoys {
        id += 1;
        d.id = id;
    }
    plan
}

/// Run `run`'s engine settings.
pub(crate) fn sim_config(a: &IncidentsEvalArgs, run: usize) -> SimConfig {
    SimConfig { seed: a.seed + run as u64, record_events: true, ..Default::default() }
}

fn brain_for(
    net: &twin::Network,
    dir: &std::path::Path,
    run: usize,
    t0: f64,
    a: &IncidentsEvalArgs,
) -> Result<(Arc<Brain>, Arc<Incidents>)> {
    let db = dir.join(format!("run-{run}.sqlite"));
    let _ = std::fs::remove_file(&db);
    let cfg = BrainConfig {
        day_start_s: t0,
        clock: ClockSource::Driven,
        // Records are stamped by the twin's clock; anything within the run is fine.
        pipeline: sense::PipelineConfig { max_age_s: 86_400.0, ..Default::default() },
        ..BrainConfig::new(&db)
    };
    let brain = Brain::open(net.clone(), &cfg)?;
    let svc = Incidents::install(&brain, incident_config(a), incidents::dispatch::default_fleet(&brain.net, a.units));
    Ok((brain, svc))
}

/// One scripted run: returns its events (brain clock) and its ground truth (run seconds).
fn run_once(
    a: &IncidentsEvalArgs,
    scenario: &twin::Scenario,
    dir: &std::path::Path,
    run: usize,
) -> Result<(Vec<Incident>, String)> {
    let net = &scenario.network;
    let t0 = T0 + run as f64 * RUN_GAP_S;
    let plan = plan_for(a, scenario, run);
    let mut sim = Sim::from_parts(net.clone(), scenario.demand.flows.clone(), sim_config(a, run));
    sim.schedule_incidents(&plan).map_err(anyhow::Error::msg)?;
    let (brain, svc) = brain_for(net, dir, run, t0, a)?;
    brain.drive_clock(t0);
    let mut sensors = VirtualSensors::new(&sim, SensorConfig { seed: a.seed + run as u64, ..Default::default() });
    if a.camera_accuracy > 0.0 {
        let cams =
            Cameras::new(net, CameraConfig { accuracy: a.camera_accuracy, seed: a.seed + run as u64, ..Default::default() });
        let truth = Truth::from_plan(net, &plan);
        svc.with(|c| c.cameras = Some((cams, truth, t0)));
    }
    let (mut readings, mut records) = (Vec::new(), Vec::new());
    let mut next_tick = 5.0;
    while sim.time() < a.duration {
        sim.step();
        let now = t0 + sim.time();
        brain.drive_clock(now);
        readings.clear();
        sensors.observe(&sim, &mut readings);
        records.clear();
        records.extend(readings.iter().filter_map(|r| twin::wire::from_reading(r, &brain.registry, t0)).map(RawRecord::from));
        if !records.is_empty() {
            brain.ingest_records(&records);
        }
        if sim.time() >= next_tick {
            next_tick += 5.0;
            let m = sim.metrics();
            brain.tick(now, m.vehicles_running, m.throughput);
            // The scenes units cleared are not ended early here: the scripted incidents
            // keep their durations, so the ground truth stays the plan's.
            drop(brain.take_commands());
        }
    }
    let events = svc.with(|c| c.fusion.events.values().cloned().collect());
    Ok((events, twin::incident::ground_truth_csv(net, &plan)))
}

pub fn run(a: &IncidentsEvalArgs) -> Result<()> {
    let scenario = a.scenario.load()?;
    if a.bound {
        return crate::incidents_bound::run(a, &scenario);
    }
    let net = &scenario.network;
    let dir = std::env::temp_dir().join(format!("citybrain-eval-incidents-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (truth, events, hours) = match &a.ground_truth {
        Some(gt) => replay(a, &scenario, gt, &dir)?,
        None => {
            anyhow::ensure!(a.per_run > 0 && a.duration >= 1800.0, "--per-run must be positive and --duration at least 1800");
            let runs = a.incidents.div_ceil(a.per_run).max(1);
            let mut truth = Vec::new();
            let mut events = Vec::new();
            let mut csv = String::from(score::CSV_HEADER);
            csv.push('\n');
            for run in 0..runs {
                let (ev, gt) = run_once(a, &scenario, &dir, run)?;
                let rows = score::parse_csv(&gt, net, "ground truth").map_err(anyhow::Error::msg)?;
                let shift = run as f64 * RUN_GAP_S;
                for line in gt.lines().skip(1) {
                    csv.push_str(line);
                    csv.push('\n');
                }
                truth.extend(rows.into_iter().map(|g| GroundTruth { start_s: g.start_s + shift, end_s: g.end_s + shift, ..g }));
                events.extend(ev);
                eprintln!("run {}/{runs}: {} events so far", run + 1, events.len());
            }
            if let Some(p) = &a.write_ground_truth {
                std::fs::write(p, csv).with_context(|| format!("cannot write {}", p.display()))?;
            }
            (truth, events, runs as f64 * a.duration / 3600.0)
        }
    };
    if let Some(p) = &a.dump_events {
        let mut out = String::from("run,t_s,type,status,road,confidence,sources,text\n");
        for e in &events {
            let run = ((e.detected_at - T0) / RUN_GAP_S).floor();
            let t = e.detected_at - T0 - run * RUN_GAP_S;
            let srcs: Vec<&str> = e.sources().iter().map(|s| s.as_str()).collect();
            out.push_str(&format!(
                "{run},{t:.0},{},{},{},{:.2},{},{}\n",
                e.kind.as_str(),
                e.status.as_str(),
                e.road.map_or(String::new(), |r| net.road(r).name.clone()),
                e.confidence,
                srcs.join(";"),
                e.reports.first().map_or(String::new(), |r| r.text.replace(',', ";"))
            ));
        }
        std::fs::write(p, out).with_context(|| format!("cannot write {}", p.display()))?;
    }
    let s = score::score(net, &truth, &events, T0, hours, &MatchRule::default());
    println!("{}", score::markdown(&s));
    let rel = score::reliability(net, &truth, &events, T0, &MatchRule::default());
    if a.calibrate {
        println!("\n{}", score::reliability_markdown(&rel));
    }
    if let Some(p) = &a.json {
        let mut j = score::json(&s);
        j["reliability"] = serde_json::json!(rel
            .iter()
            .map(|(k, &(n, m))| (k.clone(), serde_json::json!({"reports": n, "matched": m})))
            .collect::<serde_json::Map<_, _>>());
        let j = serde_json::to_string_pretty(&j)?;
        std::fs::write(p, j).with_context(|| format!("cannot write {}", p.display()))?;
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Replay observations recorded elsewhere (JSON lines of batches, times in seconds of
/// the run) through a brain and score them against a ground-truth CSV.
fn replay(
    a: &IncidentsEvalArgs,
    scenario: &twin::Scenario,
    gt: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(Vec<GroundTruth>, Vec<Incident>, f64)> {
    let net = &scenario.network;
    let text = std::fs::read_to_string(gt).with_context(|| format!("cannot read {}", gt.display()))?;
    let truth = score::parse_csv(&text, net, &gt.display().to_string()).map_err(anyhow::Error::msg)?;
    let obs = a.observations.as_ref().context("--ground-truth needs --observations FILE (JSON lines of observation batches)")?;
    let lines = std::fs::read_to_string(obs).with_context(|| format!("cannot read {}", obs.display()))?;
    let (brain, svc) = brain_for(net, dir, 0, T0, a)?;
    let mut last = 0.0_f64;
    let mut next_tick = 5.0;
    let (mut accepted, mut rejected, mut shown) = (0usize, 0usize, 0usize);
    for (n, line) in lines.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}:{}: not JSON", obs.display(), n + 1))?;
        // Times are run seconds: move them onto the brain's clock.
        let mut t_max = last;
        if let Some(list) = v.get_mut("observations").and_then(|o| o.as_array_mut()) {
            for o in list {
                for key in ["time", "start", "end"] {
                    if let Some(t) = o.get(key).and_then(|t| t.as_f64()) {
                        t_max = t_max.max(t);
                        o[key] = serde_json::json!(t + T0);
                    }
                }
            }
        }
        while next_tick <= t_max {
            brain.drive_clock(T0 + next_tick);
            brain.tick(T0 + next_tick, 0, 0);
            next_tick += 5.0;
        }
        brain.drive_clock(T0 + t_max);
        last = t_max;
        let out = brain
            .ingest_body(&brain::Caller::system(), v.to_string().as_bytes())
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", obs.display(), n + 1))?;
        accepted += out.report.accepted;
        rejected += out.report.rejected;
        for (_, r) in &out.report.results {
            if let Err(e) = r {
                if shown < 5 {
                    eprintln!("{}:{}: rejected: {e}", obs.display(), n + 1);
                    shown += 1;
                }
            }
        }
    }
    eprintln!("{}: {accepted} records accepted, {rejected} rejected", obs.display());
    let events = svc.with(|c| c.fusion.events.values().cloned().collect());
    Ok((truth, events, (last / 3600.0).max(1e-9)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: IncidentsEvalArgs,
    }

    /// A generated city whose demand is cut until about half its roads see no vehicle.
    fn city() -> twin::Scenario {
        let mut s = twin::gen::generate(&twin::gen::GenConfig::demo()).unwrap().scenario();
        let mut driven = std::collections::BTreeSet::new();
        let keep = s
            .demand
            .flows
            .iter()
            .take_while(|f| {
                driven.extend(f.route.iter().copied());
                driven.len() * 2 < s.network.roads.len()
            })
            .count();
        s.demand.flows.truncate(keep + 1);
        s
    }

    #[test]
    fn incidents_go_on_driven_roads_unless_any_road() {
        let s = city();
        let driven: std::collections::BTreeSet<twin::RoadId> =
            s.demand.flows.iter().flat_map(|f| f.route.iter().copied()).collect();
        let args = |extra: &[&str]| {
            let base = ["eval", "--roadnet", "r.json", "--per-run", "10", "--decoys", "2"];
            Cli::parse_from(base.iter().chain(extra)).a
        };
        let a = args(&[]);
        let (mut on_driven, mut off) = (0, 0);
        for run in 0..5 {
            let plan = plan_for(&a, &s, run);
            assert_eq!(plan.decoys.len(), 2);
            let ids: Vec<u32> = plan.incidents.iter().map(|i| i.id).chain(plan.decoys.iter().map(|d| d.id)).collect();
            assert_eq!(ids, (1..=ids.len() as u32).collect::<Vec<_>>(), "ids renumbered 1, 2, ...");
            for i in &plan.incidents {
                assert!(driven.contains(&i.road_and_pos(&s.network).0.unwrap()), "run {run}: {i:?} on a road no flow drives");
                on_driven += 1;
            }
            let any = plan_for(&args(&["--any-road"]), &s, run);
            assert_eq!(any.incidents.len(), 10);
            off += any.incidents.iter().filter(|i| !driven.contains(&i.road_and_pos(&s.network).0.unwrap())).count();
        }
        assert!(on_driven >= 40, "{on_driven} incidents drawn on driven roads in 5 runs of 10");
        assert!(off > 0, "--any-road draws roads no flow drives");
    }
}
