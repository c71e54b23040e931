//! The forecast knows only the present: no future vehicles, routes only to the next road;
//! the model-predictive CityBrain runs on a small generated city.

use std::collections::HashMap;

use city::{Flow, Scenario};
use control::grid::grid_scenario;
use control::{run, Controller, Forecast, Protocol};
use twin::{Sim, SimConfig};

/// Run `scenario` under MaxPressure for `steps` and snapshot a forecast.
fn forecast_at(scenario: &Scenario, steps: u64) -> (Sim, Forecast) {
    let mut ctl = Controller::new(scenario, "MaxPressure", Protocol::Benchmark, 3600.0).unwrap();
    let mut sim = Sim::new(scenario, SimConfig::default());
    for _ in 0..steps {
        ctl.before_step(&mut sim);
        sim.step();
    }
    let f = Forecast::new(&sim, ctl.safety());
    (sim, f)
}

fn groups(scenario: &Scenario) -> Vec<Vec<city::LaneId>> {
    let js = control::junctions(&scenario.network, control::PhaseSet::Four).unwrap();
    js.iter().map(control::forecast::incoming_lanes).collect()
}

/// A small city, and the same city with heavy extra demand that starts only after the
/// snapshot (at 300 s).
fn base_and_busy() -> (Scenario, Scenario) {
    let base = grid_scenario(2, 2, 6.0, 1200.0);
    let mut busy = base.clone();
    let extra: Vec<Flow> =
        base.demand.flows.iter().map(|f| Flow { interval: 1.0, start: 301.0, end: Some(1200.0), ..f.clone() }).collect();
    busy.demand.flows.extend(extra);
    (base, busy)
}

#[test]
fn the_forecast_never_sees_future_vehicles() {
    let (base, busy) = base_and_busy();
    let (live_a, fa) = forecast_at(&base, 300);
    let (mut live_b, fb) = forecast_at(&busy, 300);
    assert_eq!(live_a.metrics(), live_b.metrics(), "the two cities are identical up to the snapshot");
    assert_eq!(fa.vehicles(), live_a.vehicles_present());
    let groups = groups(&base);
    let (mut ca, mut cb) = (vec![0.0; groups.len()], vec![0.0; groups.len()]);
    let plan = |k: usize, s: usize| Some((k + s) % 4);
    fa.rollout(4, 30.0, plan, &groups, &mut ca);
    fb.rollout(4, 30.0, plan, &groups, &mut cb);
    assert_eq!(ca, cb, "future demand must not change the forecast");
    assert!(ca.iter().all(|&c| c > 0.0), "{ca:?}");
    // The live busy city does get its extra vehicles: the test can tell them apart.
    let created = live_b.metrics().vehicles_created;
    for _ in 0..60 {
        live_b.step();
    }
    assert!(live_b.metrics().vehicles_created > created + 60);
}

#[test]
fn known_vehicles_leave_the_forecast_after_their_next_road() {
    // A 1×3 corridor of signals: through vehicles cross three junctions in the live city.
    let s = grid_scenario(1, 3, 4.0, 1200.0);
    let (live, _) = forecast_at(&s, 300);
    let mut copy = live.forecast_copy();
    let net = &s.network;
    let mut first_road = HashMap::new();
    copy.for_each_vehicle(|v| {
        if let (Some(r), Some(_)) = (v.road, v.lane) {
            first_road.insert(v.id, r);
        }
    });
    assert!(first_road.len() > 20, "{}", first_road.len());
    // Lights as the live city left them (fixed-time plan afterwards); long enough for
    // a through vehicle to cross several junctions.
    for _ in 0..400 {
        copy.step();
        copy.for_each_vehicle(|v| {
            let (Some(&r0), Some(r)) = (first_road.get(&v.id), v.road) else { return };
            let next = net.road(r0).to == net.road(r).from;
            assert!(r == r0 || next, "vehicle {:?} went past its next road: {r0:?} -> {r:?}", v.id);
        });
    }
    assert_eq!(copy.metrics().vehicles_created, live.metrics().vehicles_created);
}

#[test]
fn model_predictive_citybrain_beats_max_pressure_on_a_small_city() {
    let s = grid_scenario(2, 2, 4.0, 900.0);
    for protocol in [Protocol::Benchmark, Protocol::Operational] {
        let mp = run(&s, "MaxPressure", protocol, 0, 1200).unwrap();
        let cb = run(&s, "CityBrain", protocol, 0, 1200).unwrap();
        assert!(
            cb.average_travel_time_s < mp.average_travel_time_s,
            "{protocol:?}: CityBrain {:.2} vs MaxPressure {:.2}",
            cb.average_travel_time_s,
            mp.average_travel_time_s
        );
    }
}

#[test]
fn large_networks_get_the_heuristic_alone() {
    let ctx_wants = |s: &Scenario| {
        let js = control::junctions(&s.network, control::PhaseSet::Four).unwrap();
        let ctx = control::PolicyContext {
            net: &s.network,
            junctions: &js,
            timing: Protocol::Operational.timing(),
            demand: &s.demand,
            horizon_s: 600.0,
        };
        (js.len(), control::policy::by_name("CityBrain", &ctx).unwrap().wants_forecast())
    };
    let small = grid_scenario(2, 2, 6.0, 600.0);
    assert_eq!(ctx_wants(&small), (4, true));
    let large = grid_scenario(6, 6, 6.0, 600.0);
    let (n, wants) = ctx_wants(&large);
    assert!(n > control::policy::MPC_MAX_JUNCTIONS && !wants);
    let a = run(&large, "CityBrain", Protocol::Operational, 0, 300).unwrap();
    let b = run(&large, "CityBrainHeuristic", Protocol::Operational, 0, 300).unwrap();
    assert_eq!(a, b);
}

#[test]
fn whole_routes_still_know_no_future_vehicles() {
    // The closed-loop search's forecast: the present vehicles' whole routes, a policy
    // deciding on what the model shows; future demand still must not change anything.
    let (base, busy) = base_and_busy();
    let groups = groups(&base);
    let js = control::junctions(&base.network, control::PhaseSet::Four).unwrap();
    let roll = |s: &Scenario| {
        let mut ctl = Controller::new(s, "MaxPressure", Protocol::Benchmark, 3600.0).unwrap();
        let mut sim = Sim::new(s, SimConfig::default());
        for _ in 0..300 {
            ctl.before_step(&mut sim);
            sim.step();
        }
        let f = Forecast::with_routes(&sim, ctl.safety(), true);
        assert_eq!(f.vehicles(), sim.vehicles_present());
        let mut observer = control::Observer::new(&s.network, &js);
        let mut cost = vec![0.0; groups.len()];
        let mut calls = Vec::new();
        let total = f.rollout_closed_loop(
            6,
            10.0,
            &mut observer,
            |o, d| {
                calls.push((d, o.time));
                js.iter().map(|j| control::Request { intersection: j.id, target: control::Target::Phase(d % 4) }).collect()
            },
            &groups,
            &mut cost,
        );
        (total, cost, calls)
    };
    let (ta, ca, calls) = roll(&base);
    let (tb, cb, _) = roll(&busy);
    assert_eq!((ta, &ca), (tb, &cb), "future demand must not change the forecast");
    assert!(ta > 0.0 && ca.iter().all(|&c| c > 0.0), "{ta} {ca:?}");
    let times: Vec<(usize, f64)> = (0..6).map(|d| (d, 300.0 + 10.0 * d as f64)).collect();
    assert_eq!(calls, times, "the policy decides at every decision on the model's own clock");
}

#[test]
fn whole_routes_take_vehicles_past_their_next_road() {
    // Unlike the default forecast (see above), with whole routes through vehicles of a
    // 1×3 corridor go on past the road after their current one.
    let s = grid_scenario(1, 3, 4.0, 1200.0);
    let (live, _) = forecast_at(&s, 300);
    let mut copy = live.forecast_copy_with(true);
    let net = &s.network;
    let mut first_road = HashMap::new();
    copy.for_each_vehicle(|v| {
        if let (Some(r), Some(_)) = (v.road, v.lane) {
            first_road.insert(v.id, r);
        }
    });
    let mut beyond = 0;
    for _ in 0..400 {
        copy.step();
        copy.for_each_vehicle(|v| {
            let (Some(&r0), Some(r)) = (first_road.get(&v.id), v.road) else { return };
            if r != r0 && net.road(r0).to != net.road(r).from {
                beyond += 1;
            }
        });
    }
    assert!(beyond > 0, "no vehicle went past its next road");
    assert_eq!(copy.metrics().vehicles_created, live.metrics().vehicles_created);
}

#[test]
fn field_timing_searches_in_closed_loop_on_whole_routes() {
    let s = grid_scenario(2, 2, 6.0, 600.0);
    for (protocol, whole) in [(Protocol::Benchmark, false), (Protocol::Operational, true)] {
        let js = control::junctions(&s.network, protocol.phase_set()).unwrap();
        let ctx = control::PolicyContext {
            net: &s.network,
            junctions: &js,
            timing: protocol.timing(),
            demand: &s.demand,
            horizon_s: 600.0,
        };
        let p = control::policy::by_name("CityBrain", &ctx).unwrap();
        assert!(p.wants_forecast());
        assert_eq!(p.forecast_full_routes(), whole, "{protocol:?}");
    }
    // The closed-loop search decides differently from its base, the heuristic.
    let a = run(&s, "CityBrain", Protocol::Operational, 0, 600).unwrap();
    let b = run(&s, "CityBrainHeuristic", Protocol::Operational, 0, 600).unwrap();
    assert_ne!(a, b);
}
