//! Decision time per step: observation + every policy's `decide` for all signals of the
//! Nanchang network (859 signals) after 600 s of FixedTime traffic, or of a synthetic
//! 6×6 grid when the shared data is missing (CityBrain runs its heuristic alone there:
//! more than `MPC_MAX_JUNCTIONS` signals). Then the model-predictive CityBrain's decision
//! with a forecast (snapshot + rollouts) on Hangzhou 4x4 after 600 s of its own control.
//! Run: `cargo bench -p control --bench decide`.

use std::time::Instant;

use control::{Controller, Observer, PhaseSet, Protocol, SafetyLayer};
use twin::{Sim, SimConfig};

fn main() {
    let dir = std::env::var_os("CITYBRAIN_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("cbengine/nanchang_round2");
    let scenario = match (std::fs::read_to_string(dir.join("roadnet.txt")), std::fs::read_to_string(dir.join("flow.txt"))) {
        (Ok(r), Ok(f)) => city::import::cbengine::load_scenario_named(&r, &f, "roadnet.txt", "flow.txt").expect("nanchang loads"),
        _ => {
            eprintln!("shared Nanchang data missing; benchmarking a 6x6 synthetic grid");
            control::grid::grid_scenario(6, 6, 6.0, 3600.0)
        }
    };
    let data = dir.parent().map(|p| p.join("cityflow/hangzhou_4x4"));
    let mut sim = Sim::new(&scenario, SimConfig::default());
    let mut warm = Controller::new(&scenario, "FixedTime", Protocol::Operational, 3600.0).expect("controller");
    for _ in 0..600 {
        warm.before_step(&mut sim);
        sim.step();
    }
    for protocol in [Protocol::Operational, Protocol::Benchmark] {
        let js = match control::junctions(&scenario.network, protocol.phase_set()) {
            Ok(js) => js,
            Err(e) => {
                println!("{}: phase set not applicable here: {e}", protocol.name());
                continue;
            }
        };
        let n = js.len();
        let safety = SafetyLayer::new(&scenario.network, js.clone(), protocol.timing()).expect("safety");
        let mut observer = Observer::new(&scenario.network, &js);
        let t0 = Instant::now();
        let reps = 50;
        for _ in 0..reps {
            std::hint::black_box(observer.observe(&sim, &safety));
        }
        let obs_t = t0.elapsed().as_secs_f64() / reps as f64;
        let obs = observer.observe(&sim, &safety).clone();
        for name in control::policy::NAMES {
            let ctx = context(&scenario, &js, protocol);
            let mut policy = control::policy::by_name(name, &ctx).expect("policy");
            let t0 = Instant::now();
            for r in 0..reps {
                std::hint::black_box(policy.decide(&obs, 600.0 + r as f64));
            }
            let dt = t0.elapsed().as_secs_f64() / reps as f64;
            println!(
                "{:<11} {:<18} {n} signals: decide {:.3} ms/step (observe {:.3} ms)",
                protocol.name(),
                name,
                dt * 1e3,
                obs_t * 1e3
            );
        }
        let _ = PhaseSet::Four;
    }
    let hz = data.and_then(|d| {
        Some((std::fs::read_to_string(d.join("roadnet.json")).ok()?, std::fs::read_to_string(d.join("flow.json")).ok()?))
    });
    match hz {
        Some((r, f)) => forecast_decisions(&city::import::cityflow::load_scenario(&r, &f).expect("hangzhou loads")),
        None => forecast_decisions(&control::grid::grid_scenario(4, 4, 6.0, 3600.0)),
    }
}

/// Time CityBrain's decisions with a forecast (building the forecast included).
fn forecast_decisions(scenario: &city::Scenario) {
    for protocol in [Protocol::Benchmark, Protocol::Operational] {
        let mut ctl = Controller::new(scenario, "CityBrain", protocol, 3600.0).expect("controller");
        let mut sim = Sim::new(scenario, SimConfig::default());
        for _ in 0..600 {
            ctl.before_step(&mut sim);
            sim.step();
        }
        let js = control::junctions(&scenario.network, protocol.phase_set()).expect("junctions");
        let ctx = context(scenario, &js, protocol);
        let mut policy = control::policy::by_name("CityBrain", &ctx).expect("policy");
        let mut observer = Observer::new(&scenario.network, &js);
        let obs = observer.observe(&sim, ctl.safety()).clone();
        let reps = 10;
        let t0 = Instant::now();
        for _ in 0..reps {
            let forecast = control::Forecast::new(&sim, ctl.safety());
            std::hint::black_box(policy.decide_with_forecast(&obs, &forecast, 600.0));
        }
        let dt = t0.elapsed().as_secs_f64() / reps as f64;
        println!(
            "{:<11} CityBrain          {} signals, with forecast: decide {:.1} ms/decision",
            protocol.name(),
            js.len(),
            dt * 1e3
        );
    }
}

/// What a policy is built from: the scenario's network and demand over an hour.
fn context<'a>(scenario: &'a city::Scenario, js: &'a [control::Junction], protocol: Protocol) -> control::PolicyContext<'a> {
    control::PolicyContext {
        net: &scenario.network,
        junctions: js,
        timing: protocol.timing(),
        demand: &scenario.demand,
        horizon_s: 3600.0,
    }
}
