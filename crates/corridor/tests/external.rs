//! The external check's files, checked without CityFlow: a paired run with the emergency
//! vehicle entering as a CityFlow flow entry, exported as a per-step signal trace and a
//! flow file with the vehicle first, replays in the twin to the same travel times (the
//! vehicle's and everyone else's), with and without the corridor. CityFlow replays the
//! same files (`scripts/cityflow/control.cpp`, BENCHMARKS.md "Green corridors").

use control::grid::grid_scenario;
use corridor::eval::{evaluate, EvalConfig, PairResult};
use corridor::external::{demand_with_ev, replay_in_twin, ReplayError, Replayed};
use corridor::EngineConfig;
use twin::engine::SpawnMode;
use twin::import::cityflow::{parse_flow, write_flow};
use twin::Scenario;

fn config(spawn: SpawnMode) -> EvalConfig {
    EvalConfig {
        pairs: 2,
        recovery_s: 600.0,
        engine: EngineConfig { spawn, ..EngineConfig::default() },
        record_traces: true,
        ..EvalConfig::default()
    }
}

/// Replay both runs of pair `p` from the files written for it (flow JSON read back).
fn replay(s: &Scenario, p: &PairResult, seed: u64) -> Result<(Replayed, Replayed), ReplayError> {
    let e = p.export.as_ref().expect("traces recorded");
    let text = write_flow(&demand_with_ev(&s.demand, &e.route, e.params, p.spawn_s), &s.network);
    let demand = parse_flow(&text, &s.network, "flow.json").unwrap();
    assert_eq!(demand.flows.len(), s.demand.flows.len() + 1);
    let exported = Scenario { network: s.network.clone(), demand };
    let with = replay_in_twin(&exported, &e.trace_with, seed, p.spawn_s)?;
    let without = replay_in_twin(&exported, &e.trace_without, seed, p.spawn_s)?;
    Ok((with, without))
}

#[test]
fn the_exported_trace_and_flow_replay_the_corridor_run_in_the_twin() {
    let s = grid_scenario(3, 3, 12.0, 3600.0);
    let cfg = config(SpawnMode::Flow);
    let (_, results) = evaluate(&s, &cfg).unwrap();
    assert_eq!(results.len(), 2);
    for p in &results {
        let e = p.export.as_ref().unwrap();
        assert_eq!(e.trace_with.lines().count(), 4200, "one line per step");
        assert_ne!(e.trace_with, e.trace_without, "the corridor changed the signals");
        assert!(p.ev_with_s < p.ev_without_s, "{p:?}");
        let (with, without) = replay(&s, p, cfg.seed).unwrap();
        assert_eq!((with.ev_s, with.others_att_s), (p.ev_with_s, p.others_att_with_s), "with the corridor");
        assert_eq!((without.ev_s, without.others_att_s), (p.ev_without_s, p.others_att_without_s), "without");
    }
}

#[test]
fn a_dispatched_unit_is_not_what_the_files_describe() {
    // The unit enters ahead of the queue with its own draws and drives at 1.5x the lane
    // limits: the flow entry's replay gives other times, so the check above can fail.
    let s = grid_scenario(3, 3, 12.0, 3600.0);
    let cfg = config(SpawnMode::Unit);
    let (_, results) = evaluate(&s, &cfg).unwrap();
    // (The replayed vehicle may not even finish under signals timed for the unit.)
    let differs = results.iter().any(|p| match replay(&s, p, cfg.seed) {
        Ok((with, without)) => with.ev_s != p.ev_with_s || without.ev_s != p.ev_without_s,
        Err(e) => matches!(e, ReplayError::Unfinished(_)),
    });
    assert!(differs, "the flow entry replays a unit's run exactly");
}
