//! Fidelity against CityFlow on the shared real-data scenarios: with each roadnet's own
//! phase plan cycling for 3,600 s, the average travel time (CityFlow's definition) must
//! land within ±5% of CityFlow's measured value.
//!
//! Needs `../shared/data` beside the repository (or `$CITYBRAIN_DATA`). Without it the
//! tests skip with a message, except under `CI=true`, where they fail.

use std::path::PathBuf;

use twin::import::{cbengine, cityflow};
use twin::{Scenario, Sim, SimConfig};

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CITYBRAIN_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but the shared data directory {} is missing", dir.display());
    }
    eprintln!("SKIPPED: shared data directory {} not found", dir.display());
    None
}

fn load_cityflow(dir: &std::path::Path, name: &str) -> Scenario {
    let d = dir.join("cityflow").join(name);
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_else(|e| panic!("{}: {e}", d.join(f).display()));
    cityflow::load_scenario(&read("roadnet.json"), &read("flow.json")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario, steps: u32) -> twin::Metrics {
    let mut sim = Sim::new(s, SimConfig::default());
    for _ in 0..steps {
        sim.step();
    }
    sim.metrics()
}

fn check(name: &str, reference: f64, vehicles: u64) {
    let Some(dir) = data_dir() else { return };
    let s = load_cityflow(&dir, name);
    assert_eq!(s.demand.vehicles_until(3600.0), vehicles);
    let m = run(&s, 3600);
    let err = (m.average_travel_time_s - reference) / reference;
    eprintln!(
        "{name}: average travel time {:.2} s vs CityFlow {reference} s ({:+.2}%), throughput {}",
        m.average_travel_time_s,
        err * 100.0,
        m.throughput
    );
    assert!(err.abs() <= 0.05, "{name}: average travel time {:.2} s is not within 5% of {reference} s", m.average_travel_time_s);
}

#[test]
fn hangzhou_4x4_matches_cityflow() {
    check("hangzhou_4x4", 525.28, 2983);
}

#[test]
fn jinan_3x4_matches_cityflow() {
    check("jinan_3x4", 444.84, 6295);
}

#[test]
fn nanchang_round2_imports_and_runs() {
    let Some(dir) = data_dir() else { return };
    let d = dir.join("cbengine/nanchang_round2");
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_else(|e| panic!("{}: {e}", d.join(f).display()));
    let s = cbengine::load_scenario_named(&read("roadnet.txt"), &read("flow.txt"), "roadnet.txt", "flow.txt")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.network.intersections.len(), 2048);
    assert_eq!(s.network.intersections.iter().filter(|i| i.is_signalised()).count(), 859);
    assert_eq!(s.network.roads.len(), 6024);
    // The data README says "about 121.5k"; CityFlow's release rule (every `interval` from
    // `start` to `end`, both inclusive) gives 126,669 for these 9,786 flows.
    assert_eq!(s.demand.flows.len(), 9786);
    assert_eq!(s.demand.vehicles_until(3600.0), 126_669);
    // A short run: vehicles enter and move.
    let m = run(&s, 300);
    assert!(m.vehicles_created > 5_000 && m.average_speed_mps > 1.0, "{m:?}");
}
