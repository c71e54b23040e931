//! `citybrain sim`: run a scenario headless and report metrics.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use twin::{Sim, SimConfig};

use crate::scenario;

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    #[command(flatten)]
    pub scenario: scenario::ScenarioArgs,
    #[command(flatten)]
    pub geo: scenario::GeoArgs,
    /// Steps to simulate (default: as many as --end needs).
    #[arg(long, conflicts_with = "end")]
    pub steps: Option<u64>,
    /// Simulate until this many seconds (default 3600; SUMO's --end).
    #[arg(long, value_name = "SECONDS")]
    pub end: Option<f64>,
    /// Step length in seconds. Default: a .sumocfg's step-length, else 1.
    #[arg(long)]
    pub dt: Option<f64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads for the action phase (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write a CityFlow-format replay (positions and signal states per step); the static
    /// roadnet for CityFlow's viewer goes beside it as FILE with extension .roadnet.json.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Run a signal policy (fixed, webster, actuated, sotl, maxpressure, citybrain)
    /// through the safety layer instead of the roadnet's fixed plans.
    #[arg(long)]
    pub controller: Option<String>,
    /// Also write the imported scenario as CityFlow roadnet.json + flow.json into DIR
    /// (e.g. to run CityFlow itself on CBEngine or SUMO files).
    #[arg(long, value_name = "DIR")]
    pub export_cityflow: Option<PathBuf>,
    /// Control protocol for --controller.
    #[arg(long, value_enum, default_value = "benchmark")]
    pub protocol: crate::control::ProtocolArg,
    #[command(flatten)]
    pub incidents: IncidentArgs,
    /// CityFlow's lane changing (its `laneChange: true`); always on for SUMO input.
    #[arg(long)]
    pub lane_change: bool,
    /// Jam resolution: a lane's front vehicle standing this many seconds jumps to the next
    /// lane of its route, counted as a teleport (SUMO's time-to-teleport). Default: 300 for
    /// SUMO input (or the .sumocfg's value), off for CityFlow and CBEngine files, so
    /// CityFlow runs stay exact. 0 or less: off.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub time_to_teleport: Option<f64>,
    /// Route-aware lane changing (the twin's addition to CityFlow's model for SUMO
    /// networks): vehicles change into a lane that leads on along their route, merge where
    /// a lane ends, and may cross a junction into a lane they must leave again. Default: on
    /// for SUMO input, off for CityFlow and CBEngine files (CityFlow runs stay exact).
    /// Implies lane changing.
    #[arg(long, value_name = "BOOL")]
    pub strategic_lanes: Option<bool>,
    /// Write the virtual signal controllers' ATSPM event log into DIR (`events.csv`,
    /// `detectors.csv`) with the twin's own signal trace (`signal_trace.csv`).
    #[arg(long, value_name = "DIR")]
    pub atspm: Option<PathBuf>,
    /// Write one CSV row per vehicle, like SUMO's tripinfo (`id,depart,arrival,duration,
    /// waiting_time,stops,route_length,finished`; unfinished vehicles last).
    #[arg(long, value_name = "FILE")]
    pub tripinfo: Option<PathBuf>,
    /// Print, on stderr, the vehicles standing at these times (seconds, repeatable),
    /// counted by what holds up the front of their queue (wrong lane, red, no room after
    /// the junction, yielding, inside the junction, lane change, other).
    #[arg(long, value_name = "SECONDS")]
    pub standing_at: Vec<f64>,
}

/// Incidents to inject (issue 16): from a file, drawn at random, or both.
#[derive(Args, Debug, Clone, Default)]
pub struct IncidentArgs {
    /// Incident scenario file (JSON; format in `twin::incident`).
    #[arg(long, value_name = "FILE")]
    pub incidents: Option<PathBuf>,
    /// Also draw this many lane-blocking incidents at random (seeded by --incident-seed).
    #[arg(long, default_value_t = 0)]
    pub random_incidents: usize,
    /// Congestion-only decoys (demand surges, no incident) to draw at random.
    #[arg(long, default_value_t = 0)]
    pub decoys: usize,
    #[arg(long, default_value_t = 0)]
    pub incident_seed: u64,
    /// Write the injected incidents' ground truth as CSV
    /// (`id,type,road,lanes,pos_m,lon,lat,start_s,end_s`).
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,
}

impl IncidentArgs {
    /// The incident plan these flags describe for `net` over `horizon_s` seconds (empty
    /// when none is asked for); writes the ground truth if asked.
    pub fn plan(&self, net: &twin::Network, horizon_s: f64) -> Result<twin::IncidentPlan> {
        let mut plan = match &self.incidents {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                twin::IncidentPlan::from_json(&text, net).with_context(|| format!("in {}", p.display()))?
            }
            None => twin::IncidentPlan::default(),
        };
        if self.random_incidents > 0 || self.decoys > 0 {
            let cfg = twin::incident::RandomIncidents {
                seed: self.incident_seed,
                count: self.random_incidents,
                decoys: self.decoys,
                end_s: (horizon_s * 0.8).max(1.0),
                ..Default::default()
            };
            let drawn = twin::IncidentPlan::random(net, &cfg);
            // Drawn ids follow the file's.
            let base = plan.incidents.iter().map(|i| i.id).chain(plan.decoys.iter().map(|d| d.id)).max().unwrap_or(0);
            plan.incidents.extend(drawn.incidents.into_iter().map(|i| twin::Incident { id: i.id + base, ..i }));
            plan.decoys.extend(drawn.decoys.into_iter().map(|d| twin::incident::Decoy { id: d.id + base, ..d }));
        }
        if let Some(p) = &self.ground_truth {
            std::fs::write(p, twin::incident::ground_truth_csv(net, &plan))
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(plan)
    }
}

pub struct SimReport {
    pub metrics: twin::Metrics,
    /// The vehicles that had not finished at the end.
    pub unfinished: twin::engine::Unfinished,
    pub steps: u64,
    /// The vehicle model's options the run used (reported with the metrics).
    pub config: SimConfig,
    pub load_s: f64,
    pub run_s: f64,
}

pub fn run(args: &SimArgs) -> Result<()> {
    let (dt, steps) = run_length(args)?;
    let t0 = Instant::now();
    let (spec, mut scenario) =
        scenario::load_with_spec(&args.scenario.roadnet, args.scenario.flow.as_deref(), args.scenario.format)?;
    // Loading ends once the engine is built; the export and the controller's set-up are
    // not counted (neither is part of simulating).
    let mut load_s = t0.elapsed().as_secs_f64();
    args.geo.apply(&mut scenario.network)?;
    if let Some(dir) = &args.export_cityflow {
        scenario::write_cityflow(dir, &spec, &scenario)?;
    }
    drop(spec);
    let model = scenario::model_config(&args.scenario, args.time_to_teleport)?;
    let cfg = SimConfig {
        dt,
        seed: args.seed,
        threads: args.threads,
        lane_change: args.lane_change || model.lane_change,
        strategic_lanes: args.strategic_lanes.unwrap_or(model.strategic_lanes),
        // The virtual sensors read the step's events.
        record_events: args.atspm.is_some() || args.tripinfo.is_some(),
        ..model
    };
    let mut ctl = match &args.controller {
        Some(name) => Some(crate::control::sim_controller(name, args.protocol, &scenario, steps)?),
        None => None,
    };
    let plan = args.incidents.plan(&scenario.network, steps as f64 * dt)?;
    let t_build = Instant::now();
    let mut sim = Sim::from_parts(scenario.network, scenario.demand.flows, cfg);
    load_s += t_build.elapsed().as_secs_f64();
    if plan != twin::IncidentPlan::default() {
        sim.schedule_incidents(&plan)?;
    }
    let mut replay = match &args.replay {
        Some(p) => {
            // The static roadnet CityFlow's viewer loads with the replay (`roadnetLogFile`).
            let log = p.with_extension("roadnet.json");
            std::fs::write(&log, twin::engine::roadnet_log(sim.network()))
                .with_context(|| format!("cannot write {}", log.display()))?;
            Some(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?))
        }
        None => None,
    };
    let mut atspm = match &args.atspm {
        Some(dir) => Some(crate::atspm_out::AtspmOut::new(dir, &sim, args.seed)?),
        None => None,
    };
    let mut trips = match &args.tripinfo {
        Some(p) => Some(crate::tripinfo::TripInfo::create(p)?),
        None => None,
    };
    let bar = if std::io::stderr().is_terminal() && !args.json {
        let b = ProgressBar::new(steps);
        b.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} steps {msg}").expect("valid template"));
        Some(b)
    } else {
        None
    };
    let t1 = Instant::now();
    let mut line = String::new();
    let mut run = || -> Result<()> {
        for s in 0..steps {
            if let Some(c) = ctl.as_mut() {
                c.before_step(&mut sim);
            }
            if let Some(a) = atspm.as_mut() {
                a.before_step(&sim);
            }
            sim.step();
            if args.standing_at.iter().any(|&t| (sim.time() - t).abs() < dt / 2.0) {
                let w = sim.standing();
                eprintln!(
                    "t={:.0} standing {}: wrong lane {}, red {}, no room after junction {}, yielding {}, in junction {}, lane change {}, other {}",
                    sim.time(), w.total, w.wrong_lane, w.red, w.no_room, w.yielding, w.in_junction, w.lane_change, w.other
                );
            }
            if let Some(a) = atspm.as_mut() {
                a.after_step(&sim);
            }
            if let Some(t) = trips.as_mut() {
                t.after_step(&sim)?;
            }
            if let Some(w) = replay.as_mut() {
                line.clear();
                sim.write_replay_line(&mut line);
                w.write_all(line.as_bytes())?;
            }
            if let Some(b) = &bar {
                if s % 50 == 0 {
                    let m = sim.metrics();
                    b.set_position(s);
                    b.set_message(format!("{} running, {} finished", m.vehicles_running, m.throughput));
                }
            }
        }
        Ok(())
    };
    if args.threads > 1 {
        // The loop itself runs on a pool worker, so the engine's parallel passes share
        // the pool with it instead of waking the workers from outside at every pass.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads).build().context("building the thread pool")?;
        pool.install(run)?;
    } else {
        run()?;
    }
    let run_s = t1.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(mut w) = replay {
        w.flush()?;
    }
    if let Some(a) = atspm {
        let n = a.finish(&sim)?;
        if !args.json {
            eprintln!("wrote {n} ATSPM events into {}", args.atspm.as_deref().unwrap_or(std::path::Path::new(".")).display());
        }
    }
    if let Some(t) = trips {
        let (done, open) = t.finish(&sim)?;
        if !args.json {
            eprintln!(
                "wrote {done} finished and {open} unfinished trips into {}",
                args.tripinfo.as_deref().unwrap_or(std::path::Path::new(".")).display()
            );
        }
    }
    let rep = SimReport {
        metrics: sim.metrics(),
        unfinished: sim.unfinished(),
        steps: sim.steps(),
        config: *sim.config(),
        load_s,
        run_s,
    };
    print_report(&rep, args.json);
    Ok(())
}

/// The step length and the number of steps of a run: `--dt`, else a `.sumocfg`'s
/// `step-length` (said on stderr), else 1 s; `--steps`, else `--end` (3600 s) over it.
fn run_length(args: &SimArgs) -> Result<(f64, u64)> {
    let dt = match args.dt {
        Some(dt) => dt,
        None => match scenario::step_length(&args.scenario)? {
            Some(dt) => {
                eprintln!("step length {dt} s (the .sumocfg's step-length)");
                dt
            }
            None => 1.0,
        },
    };
    anyhow::ensure!(dt.is_finite() && dt > 0.0, "--dt must be a positive number of seconds, got {dt}");
    let steps = match (args.steps, args.end) {
        (Some(n), _) => n,
        (None, end) => {
            let end = end.unwrap_or(3600.0);
            anyhow::ensure!(end.is_finite() && end >= 0.0, "--end must be a non-negative number of seconds, got {end}");
            (end / dt).round() as u64
        }
    };
    Ok((dt, steps))
}

pub fn print_report(r: &SimReport, json: bool) {
    let m = &r.metrics;
    let u = &r.unfinished;
    // Over every vehicle created: finished trips plus those still running or waiting.
    let all = m.throughput + u.running + u.waiting;
    let per = |sum: f64, n: u64| if n == 0 { 0.0 } else { sum / n as f64 };
    let delay_all = per(m.mean_delay_s * m.throughput as f64 + u.delay_sum_s, all);
    let stops_all = per(m.stops_per_vehicle * m.throughput as f64 + u.stops_sum as f64, all);
    let wall = r.load_s + r.run_s;
    let ups = if r.run_s > 0.0 { m.vehicle_updates as f64 / r.run_s } else { 0.0 };
    if json {
        let v = serde_json::json!({
            "average_travel_time_s": m.average_travel_time_s,
            "throughput": m.throughput,
            "vehicles_created": m.vehicles_created,
            "vehicles_running": m.vehicles_running,
            "vehicles_waiting": m.vehicles_waiting,
            "mean_delay_s": m.mean_delay_s,
            "stops_per_vehicle": m.stops_per_vehicle,
            "mean_delay_all_s": delay_all,
            "stops_per_vehicle_all": stops_all,
            "mean_delay_unfinished_s": per(u.delay_sum_s, u.running + u.waiting),
            "stops_per_vehicle_unfinished": per(u.stops_sum as f64, u.running + u.waiting),
            "average_speed_mps": m.average_speed_mps,
            "steps": r.steps,
            "wall_s": wall,
            "load_s": r.load_s,
            "run_s": r.run_s,
            "vehicle_updates": m.vehicle_updates,
            "teleports": m.teleports,
            "model": {
                "lane_change": r.config.lane_change,
                "strategic_lanes": r.config.strategic_lanes,
                "signal_lookahead": r.config.signal_lookahead,
                "time_to_teleport_s": r.config.teleport_after,
            },
            "vehicle_updates_per_s": ups,
            "peak_rss_bytes": scenario::peak_rss_bytes(),
        });
        println!("{v}");
    } else {
        println!("simulated {} steps ({:.0} s)", r.steps, m.time_s);
        println!("average travel time  {:.2} s", m.average_travel_time_s);
        println!("throughput           {} of {} vehicles", m.throughput, m.vehicles_created);
        println!("teleports            {}", m.teleports);
        let c = &r.config;
        let on = |b: bool| if b { "on" } else { "off" };
        let tele = c.teleport_after.map_or("off".to_string(), |t| format!("after {t} s"));
        println!(
            "model                lane changing {}, strategic lanes {}, signal look-ahead {}, teleports {tele}",
            on(c.lane_change),
            on(c.strategic_lanes),
            on(c.signal_lookahead)
        );
        println!(
            "mean delay, all      {delay_all:.1} s, {stops_all:.2} stops/vehicle over all {all} vehicles ({} finished, {} running, {} waiting to enter)",
            m.throughput, u.running, u.waiting
        );
        println!("  finished trips     {:.1} s, {:.2} stops/vehicle", m.mean_delay_s, m.stops_per_vehicle);
        println!(
            "  unfinished so far  {:.1} s, {:.2} stops/vehicle",
            per(u.delay_sum_s, u.running + u.waiting),
            per(u.stops_sum as f64, u.running + u.waiting)
        );
        println!("average speed        {:.2} m/s", m.average_speed_mps);
        println!("wall time            {:.3} s (load {:.3} s, run {:.3} s)", wall, r.load_s, r.run_s);
        println!("vehicle updates      {} ({:.2} M/s)", m.vehicle_updates, ups / 1e6);
        println!("peak RSS             {:.1} MiB", scenario::peak_rss_bytes() as f64 / 1048576.0);
    }
}
