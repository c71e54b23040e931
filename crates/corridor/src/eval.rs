//! `citybrain eval corridor`: paired runs with the same seed and demand, with and without
//! a corridor, over many origin–destination pairs at the busiest hour.
//!
//! Each pair is two runs of the same scenario and controller (policy behind the safety
//! layer) from time 0 to the end of the busiest hour plus the recovery period. At
//! `spawn_s` an emergency vehicle is put on the fastest route on live travel times (the
//! same route in both runs: up to that moment the runs are identical). In one run the
//! corridor engine preempts the signals for it; in the other it drives in normal traffic.
//!
//! Measured per pair: the vehicle's travel time in both runs and its free-flow time (the
//! bound: a corridor cannot beat it); everyone else's average travel time over the whole
//! run (CityFlow's definition: unfinished trips count up to the end, the emergency
//! vehicle excluded); everyone else's delay (vehicle-seconds below their lane's speed
//! limit) and the mean travel time of trips finished during the window from the spawn
//! to 10 minutes after the corridor's vehicle arrived; and the corridor's arrival
//! predictions made 60 s before the vehicle reached each signal.

use city::demand::Demand;
use city::Scenario;
use control::{Controller, Protocol};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use twin::engine::{TripState, VehicleClass};
use twin::{RoadId, Sim, SimConfig, VehicleId};

use crate::engine::{Engine, EngineConfig};
use crate::eta_causes;
use crate::external::{green_line, PairExport};
use crate::model::{Request, Requester, VehicleType};

/// Settings of an evaluation.
#[derive(Clone, Debug)]
pub struct EvalConfig {
    /// Signal policy behind the safety layer (`control::policy::CLI_NAMES`).
    pub policy: String,
    pub protocol: Protocol,
    pub seed: u64,
    pub pairs: usize,
    /// Seconds after the last trip of the hour during which recovery is measured.
    pub recovery_s: f64,
    pub lane_change: bool,
    /// How the emergency vehicle enters (in both runs): `engine.spawn`.
    pub engine: EngineConfig,
    /// Keep each run's per-step signal trace ([`PairResult::export`]).
    pub record_traces: bool,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            policy: "fixed".into(),
            protocol: Protocol::Operational,
            seed: 1,
            pairs: 20,
            recovery_s: 600.0,
            lane_change: false,
            engine: EngineConfig::default(),
            record_traces: false,
        }
    }
}

/// One OD pair's paired result.
#[derive(Clone, Debug, PartialEq)]
pub struct PairResult {
    pub origin: String,
    pub destination: String,
    pub spawn_s: f64,
    pub signals: usize,
    pub free_flow_s: f64,
    /// The route's live travel time at the spawn (the corridor's prediction without it).
    pub predicted_without_s: f64,
    pub ev_without_s: f64,
    pub ev_with_s: f64,
    /// Everyone else's average travel time over the run.
    pub others_att_without_s: f64,
    pub others_att_with_s: f64,
    /// Everyone else's delay in the window, vehicle-seconds.
    pub window_delay_without: f64,
    pub window_delay_with: f64,
    /// Mean travel time of others' trips finished in the window.
    pub window_att_without_s: f64,
    pub window_att_with_s: f64,
    pub window_s: (f64, f64),
    /// Per signal passed: prediction 60 s before arrival minus the arrival, seconds.
    pub prediction_errors_s: Vec<f64>,
    /// Per prediction error: its cause, an index into [`eta_causes::CAUSES`].
    pub prediction_causes: Vec<usize>,
    /// Seconds the vehicle lost against its desired speed, by cause (following, queue,
    /// red, other: [`eta_causes::lost_between`]), without and with the corridor.
    pub lost_without_s: [f64; 4],
    pub lost_with_s: [f64; 4],
    /// Vehicles that moved aside for it into a lane their route does not continue from
    /// (with lane changing), without and with the corridor ([`Sim::emergency_asides`]).
    pub asides_without: u64,
    pub asides_with: u64,
    /// The vehicle's route and type and both runs' signal traces (with `record_traces`).
    pub export: Option<PairExport>,
}

impl PairResult {
    pub fn reduction_pct(&self) -> f64 {
        100.0 * (1.0 - self.ev_with_s / self.ev_without_s)
    }
    /// The best reduction any corridor could give: down to free flow.
    pub fn bound_pct(&self) -> f64 {
        100.0 * (1.0 - self.free_flow_s / self.ev_without_s)
    }
    pub fn others_change_pct(&self) -> f64 {
        100.0 * (self.others_att_with_s / self.others_att_without_s - 1.0)
    }
}

/// The hour `[start, start + 3600)` in which the demand releases the most vehicles.
pub fn busiest_hour(demand: &Demand) -> (f64, u64) {
    let end = demand.flows.iter().map(|f| f.end.unwrap_or(f.start)).filter(|e| e.is_finite()).fold(0.0, f64::max);
    let hours = ((end / 3600.0).ceil() as usize).max(1);
    let mut best = (0.0, 0);
    for h in 0..hours {
        let (a, b) = (h as f64 * 3600.0, (h + 1) as f64 * 3600.0);
        let mut n = 0u64;
        for f in &demand.flows {
            let last = f.end.unwrap_or(f.start);
            if !f.start.is_finite() || f.interval <= 0.0 {
                continue;
            }
            let lo = a.max(f.start);
            let hi = b.min(last + 1e-9);
            if hi < lo {
                continue;
            }
            let k0 = ((lo - f.start) / f.interval).ceil().max(0.0);
            let k1 = ((hi - f.start) / f.interval).floor();
            if k1 >= k0 {
                n += (k1 - k0) as u64 + 1;
            }
        }
        if n > best.1 {
            best = (a, n);
        }
    }
    best
}

/// `n` origin–destination pairs: entry roads (from a boundary junction) to exit roads
/// (into one) whose free-flow route crosses at least `min_signals` signalised
/// intersections, drawn with `seed`.
pub fn od_pairs(scenario: &Scenario, n: usize, min_signals: usize, seed: u64) -> Vec<(RoadId, RoadId)> {
    let net = &scenario.network;
    let empty = Sim::new(&Scenario { network: net.clone(), demand: Demand { flows: Vec::new() } }, SimConfig::default());
    let roads = || (0..net.roads.len()).map(|k| RoadId(k as u32));
    let entries: Vec<RoadId> = roads().filter(|&r| !net.intersection(net.road(r).from).is_signalised()).collect();
    let exits: Vec<RoadId> = roads().filter(|&r| !net.intersection(net.road(r).to).is_signalised()).collect();
    let mut all = Vec::new();
    for &o in &entries {
        for &d in &exits {
            if net.road(o).from == net.road(d).to {
                continue;
            }
            if let Some((route, _)) = empty.fastest_route(o, d) {
                let signals =
                    route[..route.len() - 1].iter().filter(|&&r| net.intersection(net.road(r).to).is_signalised()).count();
                if signals >= min_signals {
                    all.push((o, d));
                }
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    all.shuffle(&mut rng);
    all.truncate(n);
    all
}

/// Per step of a run: cumulative (finished trips, their travel-time sum, delay) of
/// everyone but the emergency vehicle.
struct Trace {
    finished: Vec<(u64, f64, f64)>,
}

/// What one run of a pair gives.
struct RunOut {
    ev_s: f64,
    others_att_s: f64,
    trace: Trace,
    predicted_without_s: f64,
    free_flow_s: f64,
    signals: usize,
    errors: Vec<f64>,
    causes: Vec<usize>,
    route: Vec<RoadId>,
    lines: String,
    lost: [f64; 4],
    asides: u64,
}

fn run(
    scenario: &Scenario,
    cfg: &EvalConfig,
    od: (RoadId, RoadId),
    spawn_s: f64,
    end_s: f64,
    with: bool,
) -> Result<RunOut, String> {
    let mut ctl = Controller::new(scenario, &cfg.policy, cfg.protocol, end_s).map_err(|e| e.to_string())?;
    let mut sim = Sim::new(scenario, SimConfig { seed: cfg.seed, lane_change: cfg.lane_change, ..SimConfig::default() });
    let mut engine = Engine::new(cfg.engine);
    let mut ev: Option<VehicleId> = None;
    let mut corridor = None;
    let mut predicted_without_s = f64::NAN;
    let mut trace = Trace { finished: Vec::with_capacity(end_s as usize + 1) };
    let mut delay = 0.0;
    let mut ev_done = (0u64, 0.0);
    let mut route = Vec::new();
    let mut lines = String::new();
    let mut samples = Vec::new();
    let steps = end_s.round() as u64;
    for _ in 0..steps {
        let now = sim.time();
        if ev.is_none() && now + 1e-9 >= spawn_s {
            if with {
                let req = Request {
                    origin: od.0,
                    destination: od.1,
                    vehicle: VehicleType::Ambulance,
                    priority: 5,
                    requester: Requester::Evaluation,
                    reason: "paired evaluation".into(),
                };
                let id = engine.start(&mut sim, ctl.safety(), req, None).map_err(|e| e.to_string())?;
                let c = engine.get(id).expect("started");
                ev = c.vehicle;
                predicted_without_s = c.predicted_without_s;
                route.clone_from(&c.route);
                corridor = Some(id);
            } else {
                let (r, tt) = sim.fastest_route(od.0, od.1).ok_or("unreachable")?;
                ev = Some(sim.spawn_vehicle_as(&r, VehicleClass::Emergency, cfg.engine.spawn).map_err(|e| e.to_string())?);
                predicted_without_s = tt;
                route = r;
            }
        }
        if with {
            engine.step(&sim, ctl.safety_mut());
        }
        if let Some(v) = ev {
            samples.extend(eta_causes::sample(&sim, v, ctl.safety()));
        }
        ctl.before_step(&mut sim);
        if cfg.record_traces {
            lines.push_str(&green_line(&sim));
        }
        sim.step();
        // Others' delay this step: running vehicles below their lane's limit.
        let net = sim.network();
        let dt = sim.dt();
        sim.for_each_vehicle(|v| {
            if Some(v.id) == ev {
                return;
            }
            let limit = match (v.lane, v.lane_link) {
                (Some(l), _) => net.lane(l).max_speed,
                (None, Some(ll)) => net.lane(net.lane_link(ll).from_lane).max_speed,
                _ => return,
            };
            if limit > 0.0 {
                delay += (1.0 - (v.speed / limit).min(1.0)) * dt;
            }
        });
        if let Some(t) = ev.and_then(|id| sim.tracked(id)) {
            if let TripState::Arrived { time_s } = t.state {
                ev_done = (1, time_s - t.spawned_s);
            }
        }
        let (n, tt) = sim.finished_trips();
        trace.finished.push((n - ev_done.0, tt - ev_done.1, delay));
    }
    let t = ev.and_then(|id| sim.tracked(id)).ok_or("the emergency vehicle was never spawned")?;
    let ev_s = match t.state {
        TripState::Arrived { time_s } => time_s - t.spawned_s,
        _ => return Err(format!("the emergency vehicle did not arrive by {end_s} s")),
    };
    let m = sim.metrics();
    let n = (m.throughput + m.vehicles_running + m.vehicles_waiting) as f64;
    let others_att_s = (m.average_travel_time_s * n - ev_s) / (n - 1.0);
    let (mut free_flow_s, mut signals, mut errors, mut causes) = (f64::NAN, 0, Vec::new(), Vec::new());
    if let Some((p, limit)) = ev.and_then(|v| sim.unit_params(v)) {
        free_flow_s = crate::engine::free_flow(sim.network(), &route, p.max_speed, limit, p.turn_speed);
    }
    if let Some(c) = corridor.and_then(|id| engine.get(id)) {
        free_flow_s = c.free_flow_s;
        signals = c.signals.len();
        errors = c.prediction_errors();
        // The same signals, in the same order, as `prediction_errors`.
        for sp in &c.signals {
            if let (Some(pred), Some(pass)) = (sp.predicted_at_60s, sp.passed_at) {
                causes.push(eta_causes::classify(&samples, pred - pass, pass - 60.0, pass, sim.dt()));
            }
        }
    }
    let lost = eta_causes::trip_losses(&samples, sim.dt());
    let asides = sim.emergency_asides().0;
    Ok(RunOut {
        ev_s,
        others_att_s,
        trace,
        predicted_without_s,
        free_flow_s,
        signals,
        errors,
        causes,
        route,
        lines,
        lost,
        asides,
    })
}

/// Evaluate `pairs` OD pairs on `scenario` (in parallel with rayon).
pub fn evaluate(scenario: &Scenario, cfg: &EvalConfig) -> Result<(f64, Vec<PairResult>), String> {
    let (hour, _) = busiest_hour(&scenario.demand);
    let end_s = hour + 3600.0 + cfg.recovery_s;
    let pairs = od_pairs(scenario, cfg.pairs, 3, cfg.seed);
    if pairs.len() < cfg.pairs {
        return Err(format!("only {} OD pairs cross at least 3 signals", pairs.len()));
    }
    let net = &scenario.network;
    let results: Result<Vec<PairResult>, String> = pairs
        .par_iter()
        .enumerate()
        .map(|(k, &od)| {
            // Spread over the middle of the busiest hour.
            let spawn_s = hour + 1200.0 + (k % 10) as f64 * 120.0;
            let without = run(scenario, cfg, od, spawn_s, end_s, false)?;
            let with = run(scenario, cfg, od, spawn_s, end_s, true)?;
            let w0 = spawn_s;
            let w1 = (spawn_s + with.ev_s + 600.0).min(end_s);
            let at = |t: &Trace, s: f64| t.finished[((s.round() as usize).max(1) - 1).min(t.finished.len() - 1)];
            let window = |t: &Trace| {
                let (a, b) = (at(t, w0), at(t, w1));
                let n = (b.0 - a.0) as f64;
                (b.2 - a.2, if n > 0.0 { (b.1 - a.1) / n } else { f64::NAN })
            };
            let (d0, a0) = window(&without.trace);
            let (d1, a1) = window(&with.trace);
            if with.route != without.route && cfg.engine.route == crate::route::RouteMode::Traffic {
                return Err(format!("pair {k}: the two runs routed the vehicle differently"));
            }
            let export = cfg.record_traces.then(|| PairExport {
                params: Sim::new(scenario, SimConfig::default()).spawn_params(VehicleClass::Emergency),
                route: with.route.clone(),
                trace_with: with.lines,
                trace_without: without.lines,
            });
            Ok(PairResult {
                origin: net.road(od.0).name.clone(),
                destination: net.road(od.1).name.clone(),
                spawn_s,
                signals: with.signals,
                // The lower of the two routes' (they differ only with the corridor's own routing).
                free_flow_s: with.free_flow_s.min(without.free_flow_s),
                predicted_without_s: without.predicted_without_s,
                ev_without_s: without.ev_s,
                ev_with_s: with.ev_s,
                others_att_without_s: without.others_att_s,
                others_att_with_s: with.others_att_s,
                window_delay_without: d0,
                window_delay_with: d1,
                window_att_without_s: a0,
                window_att_with_s: a1,
                window_s: (w0, w1),
                prediction_errors_s: with.errors,
                prediction_causes: with.causes,
                lost_without_s: without.lost,
                lost_with_s: with.lost,
                asides_without: without.asides,
                asides_with: with.asides,
                export,
            })
        })
        .collect();
    Ok((hour, results?))
}

/// The median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The medians and shares the targets name.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub pairs: usize,
    pub median_ev_without_s: f64,
    pub median_ev_with_s: f64,
    pub median_free_flow_s: f64,
    pub median_reduction_pct: f64,
    pub median_bound_pct: f64,
    pub median_others_change_pct: f64,
    pub max_others_change_pct: f64,
    pub median_window_delay_change_pct: f64,
    /// Predictions within ±10 s of the arrival, and how many there were.
    pub predictions_within_10s: usize,
    pub predictions: usize,
    pub median_abs_prediction_error_s: f64,
    /// Per cause ([`eta_causes::CAUSES`]): predictions, and those off by more than 10 s.
    pub predictions_by_cause: [usize; 6],
    pub misses_by_cause: [usize; 6],
    /// Median seconds the vehicle lost per cause (following, queue, red, other), without
    /// and with the corridor.
    pub median_lost_without_s: [f64; 4],
    pub median_lost_with_s: [f64; 4],
}

pub fn summarize(r: &[PairResult]) -> Summary {
    let errs: Vec<f64> = r.iter().flat_map(|p| p.prediction_errors_s.iter().copied()).collect();
    Summary {
        pairs: r.len(),
        median_ev_without_s: median(r.iter().map(|p| p.ev_without_s).collect()),
        median_ev_with_s: median(r.iter().map(|p| p.ev_with_s).collect()),
        median_free_flow_s: median(r.iter().map(|p| p.free_flow_s).collect()),
        median_reduction_pct: median(r.iter().map(PairResult::reduction_pct).collect()),
        median_bound_pct: median(r.iter().map(PairResult::bound_pct).collect()),
        median_others_change_pct: median(r.iter().map(PairResult::others_change_pct).collect()),
        max_others_change_pct: r.iter().map(PairResult::others_change_pct).fold(f64::NEG_INFINITY, f64::max),
        median_window_delay_change_pct: median(
            r.iter().map(|p| 100.0 * (p.window_delay_with / p.window_delay_without - 1.0)).collect(),
        ),
        predictions_within_10s: errs.iter().filter(|e| e.abs() <= 10.0).count(),
        predictions: errs.len(),
        median_abs_prediction_error_s: median(errs.iter().map(|e| e.abs()).collect()),
        predictions_by_cause: by_cause(r, |_| true),
        misses_by_cause: by_cause(r, |e| e.abs() > 10.0),
        median_lost_without_s: std::array::from_fn(|k| median(r.iter().map(|p| p.lost_without_s[k]).collect())),
        median_lost_with_s: std::array::from_fn(|k| median(r.iter().map(|p| p.lost_with_s[k]).collect())),
    }
}

/// Predictions whose error passes `keep`, counted by cause.
fn by_cause(r: &[PairResult], keep: impl Fn(f64) -> bool) -> [usize; 6] {
    let mut n = [0; 6];
    for p in r {
        for (&e, &c) in p.prediction_errors_s.iter().zip(&p.prediction_causes) {
            if keep(e) {
                n[c.min(5)] += 1;
            }
        }
    }
    n
}
