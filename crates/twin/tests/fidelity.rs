//! Fidelity against CityFlow on the shared real-data scenarios: with each roadnet's own
//! phase plan cycling, the average travel time (CityFlow's definition) must equal
//! CityFlow's to 1e-6 relative.
//!
//! The reference values are CityFlow's own output on these files: CityFlow
//! (cityflow-project/CityFlow) built from source outside this repository and driven by
//! `scripts/cityflow/bench.cpp` (`Engine(config, 1)`, config `interval 1.0, seed 0,
//! laneChange false`), which prints `getAverageTravelTime()` to four decimals: 525.2752 s
//! (Hangzhou 4x4, 3,600 s), 444.8367 s (Jinan 3x4, 3,600 s) and, on the twin's CityFlow
//! export of Nanchang round 2, 277.4144 s after 600 s (BENCHMARKS.md, "Against CityFlow and
//! SUMO" and "CityFlow on files the twin exported").
//! The data README's reference values (525.28 s, 444.84 s) agree but have two decimals,
//! too coarse for this tolerance. A value printed to four decimals is at most 5e-5 s off
//! CityFlow's double (under 2e-7 relative here), so 1e-6 relative checks agreement to
//! about the fourth decimal. (The twin's exact values are 525.2752262822662 s and
//! 444.83669579030976 s.)
//!
//! Needs `../shared/data` beside the repository (or `$CITYBRAIN_DATA`). Without it the
//! tests skip with a message, except under `CI=true`, where they fail.

use twin::{Scenario, Sim, SimConfig};

fn run(s: &Scenario, steps: u32) -> twin::Metrics {
    let mut sim = Sim::new(s, SimConfig::default());
    for _ in 0..steps {
        sim.step();
    }
    sim.metrics()
}

/// Largest accepted relative difference from CityFlow's value.
const TOLERANCE: f64 = 1e-6;

fn check(name: &str, reference: f64, vehicles: u64) {
    let Some(s) = testdata::cityflow(name) else { return };
    assert_eq!(s.demand.vehicles_until(3600.0), vehicles);
    let m = run(&s, 3600);
    let err = (m.average_travel_time_s - reference) / reference;
    eprintln!(
        "{name}: average travel time {} s vs CityFlow {reference} s ({err:+.2e} relative), throughput {}",
        m.average_travel_time_s, m.throughput
    );
    assert!(
        err.abs() <= TOLERANCE,
        "{name}: average travel time {} s is not within {TOLERANCE:e} relative of CityFlow's {reference} s",
        m.average_travel_time_s
    );
}

#[test]
fn hangzhou_4x4_matches_cityflow() {
    check("hangzhou_4x4", 525.2752, 2983);
}

#[test]
fn jinan_3x4_matches_cityflow() {
    check("jinan_3x4", 444.8367, 6295);
}

#[test]
fn nanchang_round2_imports_and_runs() {
    let Some(s) = testdata::nanchang() else { return };
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

/// Nanchang round 2 for its first 600 s against CityFlow run on the twin's CityFlow export
/// of the same files (`citybrain sim --format cbengine … --export-cityflow`, CityFlow built
/// from source, see BENCHMARKS.md): 277.4144 s with 16,245 vehicles running. Its lane links
/// carry no points, so this checks the default lane-link curves and crossing points too,
/// and it has lanes where a vehicle leaves before one it overtook at the lane entry.
#[test]
fn nanchang_first_10_minutes_match_cityflow() {
    let Some(s) = testdata::nanchang() else { return };
    let mut sim = Sim::new(&s, SimConfig::default());
    for _ in 0..600 {
        sim.step();
    }
    let m = sim.metrics();
    let reference = 277.4144;
    let err = (m.average_travel_time_s - reference) / reference;
    eprintln!(
        "nanchang 600 s: average travel time {} s vs CityFlow {reference} s ({err:+.2e} relative), running {}",
        m.average_travel_time_s, m.vehicles_running
    );
    assert!(err.abs() <= TOLERANCE, "average travel time {} s vs CityFlow's {reference} s", m.average_travel_time_s);
    assert_eq!(m.vehicles_running, 16_245);
}

/// With CityFlow's lane changing (`laneChange: true`) the twin must give CityFlow's average
/// travel time to four decimals. CityFlow's own result there is not a function of its
/// inputs: it visits vehicles in a `std::set<Vehicle *>` (heap-address order) and reads a
/// vehicle's `gap` before it is ever written (`ControllerInfo::gap` is uninitialised), so it
/// changes with the allocator's layout. Built from source here (`bench.cpp`, `g++ -O2`,
/// glibc) it gives 525.2681 s (Hangzhou) and 444.6474 s (Jinan); under `MALLOC_PERTURB_`
/// 525.2056 s and 444.6466 s; the issue quotes 525.0887 s and 444.6465 s from another
/// build. The reference is therefore CityFlow with those two inputs defined (two lines
/// changed, outside this repository: `double gap = 0;` in `ControllerInfo`, and the
/// vehicle set ordered by creation instead of by address): 525.6461 s and 444.6474 s,
/// with the same 26,692 lane-change events (start step, vehicle, position to 1e-6 m,
/// lanes; completions; aborts) as the twin. See BENCHMARKS.md, "Lane changing".
fn check_lane_change(name: &str, reference: f64) {
    let Some(s) = testdata::cityflow(name) else { return };
    let mut sim = Sim::new(&s, SimConfig { lane_change: true, ..Default::default() });
    for _ in 0..3600 {
        sim.step();
    }
    let m = sim.metrics();
    eprintln!(
        "{name} with lane changing: average travel time {} s vs CityFlow {reference} s, throughput {}, {} lane changes, {} undefined",
        m.average_travel_time_s,
        m.throughput,
        sim.lane_changes_completed(),
        sim.lane_changes_undefined()
    );
    assert_eq!(format!("{:.4}", m.average_travel_time_s), format!("{reference:.4}"));
    assert_eq!(sim.lane_changes_undefined(), 0, "no change ends where CityFlow is undefined on this file");
}

#[test]
fn hangzhou_4x4_with_lane_changing_matches_cityflow() {
    check_lane_change("hangzhou_4x4", 525.6461);
}

#[test]
fn jinan_3x4_with_lane_changing_matches_cityflow() {
    check_lane_change("jinan_3x4", 444.6474);
}
