//! The external check of a corridor run (issue 17): the run's signals as a per-step trace
//! and its emergency vehicle as a flow entry, which CityFlow replays
//! (`scripts/cityflow/control.cpp CONFIG trace TRACE flow_0_0`), and the same replay in
//! the twin.
//!
//! With [`twin::engine::SpawnMode::Flow`] the emergency vehicle enters exactly as the
//! first flow of the file releasing one vehicle at the spawn time, so the run is the
//! scenario with that flow prepended ([`demand_with_ev`]) under the signals the corridor
//! and the controller chose ([`green_line`] per step). Replaying both in CityFlow, or in
//! the twin ([`replay_in_twin`]), must give the run's travel times.

use city::demand::{Demand, Flow, VehicleParams};
use city::Scenario;
use twin::engine::SimEvent;
use twin::{IntersectionId, RoadId, Sim, SimConfig, VehicleId};

/// What a pair's export holds: the vehicle's flow entry and both runs' signal traces.
#[derive(Clone, Debug, PartialEq)]
pub struct PairExport {
    /// The emergency vehicle's route, the same in both runs.
    pub route: Vec<RoadId>,
    /// Its vehicle type (the emergency class's parameters).
    pub params: VehicleParams,
    /// One line per step ([`green_line`]), with and without the corridor.
    pub trace_with: String,
    pub trace_without: String,
}

/// The green sets the twin shows now: one hexadecimal word per signalised intersection
/// (network order), bit `r` set when the intersection's movement `r` (the roadnet's road
/// link `r`) is green, separated by spaces, ending in a newline; the format of
/// `control`'s `trace` example.
pub fn green_line(sim: &Sim) -> String {
    let net = sim.network();
    let mut out = String::new();
    for inter in net.intersections.iter().filter(|i| i.is_signalised()) {
        let bits = inter.movements.iter().enumerate().filter(|&(_, &m)| sim.movement_green(m)).fold(0u64, |w, (r, _)| w | 1 << r);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{bits:x}"));
    }
    out.push('\n');
    out
}

/// The scenario's demand with the emergency vehicle's flow entry first: one vehicle of
/// type `params` on `route` released at `spawn_s` (CityFlow names it `flow_0_0`).
pub fn demand_with_ev(demand: &Demand, route: &[RoadId], params: VehicleParams, spawn_s: f64) -> Demand {
    let ev =
        Flow { params, route: route.to_vec(), interval: 1.0, start: spawn_s, end: Some(spawn_s), depart: Default::default() };
    Demand { flows: std::iter::once(ev).chain(demand.flows.iter().cloned()).collect() }
}

/// Why a replay failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReplayError {
    #[error("trace line {line}: {msg}")]
    Trace { line: usize, msg: String },
    #[error("the emergency vehicle (the first flow's vehicle) did not finish in {0} steps")]
    Unfinished(usize),
}

/// What a replay gives: the emergency vehicle's travel time and everyone else's average
/// travel time (CityFlow's definition: unfinished trips count up to the end).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Replayed {
    pub ev_s: f64,
    pub others_att_s: f64,
    pub vehicles: u64,
}

/// Play `trace` (one [`green_line`] per step, every line played) on `scenario` (whose
/// first flow is the emergency vehicle's, released at `spawn_s`) in the twin with lane
/// changing off, as `control.cpp` plays it in CityFlow.
pub fn replay_in_twin(scenario: &Scenario, trace: &str, seed: u64, spawn_s: f64) -> Result<Replayed, ReplayError> {
    // Trip-end events name the vehicle; recording them changes nothing in the run.
    let mut sim = Sim::new(scenario, SimConfig { seed, record_events: true, ..SimConfig::default() });
    let signals: Vec<IntersectionId> = (0..scenario.network.intersections.len())
        .map(IntersectionId::from)
        .filter(|&i| scenario.network.intersection(i).is_signalised())
        .collect();
    let mut ev: Option<VehicleId> = None;
    let mut ev_s = None;
    let lines: Vec<&str> = trace.lines().filter(|l| !l.is_empty()).collect();
    let mut green = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split(' ').collect();
        if words.len() != signals.len() {
            return Err(ReplayError::Trace { line: k + 1, msg: format!("{} words, {} signals", words.len(), signals.len()) });
        }
        for (&i, w) in signals.iter().zip(&words) {
            let bits = u64::from_str_radix(w, 16)
                .map_err(|e| ReplayError::Trace { line: k + 1, msg: format!("{w:?} is not a hexadecimal mask: {e}") })?;
            let n = scenario.network.intersection(i).movements.len();
            if n < 64 && bits >> n != 0 {
                return Err(ReplayError::Trace { line: k + 1, msg: format!("mask {w} has bits beyond {n} movements") });
            }
            green.clear();
            green.extend((0..n).map(|r| r < 64 && (bits >> r) & 1 == 1));
            sim.set_green(i, &green);
        }
        let now = sim.time();
        if ev.is_none() && now + 1e-9 >= spawn_s {
            // The first flow releases before every other one: the next vehicle created.
            let m = sim.metrics();
            ev = Some(VehicleId(m.throughput + m.vehicles_running + m.vehicles_waiting));
        }
        sim.step();
        if let Some(id) = ev.filter(|_| ev_s.is_none()) {
            ev_s = sim.step_events().iter().find_map(|e| match e {
                SimEvent::TripEnd { veh, travel_time, .. } if *veh == id => Some(*travel_time),
                _ => None,
            });
        }
    }
    let ev_s = ev_s.ok_or(ReplayError::Unfinished(lines.len()))?;
    let m = sim.metrics();
    let n = m.throughput + m.vehicles_running + m.vehicles_waiting;
    let others_att_s = (m.average_travel_time_s * n as f64 - ev_s) / (n as f64 - 1.0);
    Ok(Replayed { ev_s, others_att_s, vehicles: n })
}
