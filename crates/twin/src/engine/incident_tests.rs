//! Incidents and dispatched units on small hand-built networks.

use super::*;
use crate::incident::{Incident, IncidentKind, IncidentPlan, Location, SignalFault};
use city::demand::VehicleParams;
use city::testutil::corridor;

fn views(sim: &Sim) -> Vec<VehicleView> {
    let mut out = Vec::new();
    sim.for_each_vehicle(|v| out.push(v));
    out
}

#[test]
fn vehicles_stop_behind_a_blocked_lane_and_go_when_it_clears() {
    // One vehicle every 4 s, for 200 s; road BC blocked from 150 m.
    let s = corridor(vec![(4.0, 0.0, 200.0)]);
    let mut sim = Sim::new(&s, SimConfig::default());
    let bc_lane = LaneId(1);
    let b = sim.block_lane(bc_lane, 150.0, 10.0);
    let mut queued = 0;
    for _ in 0..300 {
        sim.step();
        for v in views(&sim) {
            if v.lane == Some(bc_lane) {
                assert!(v.dis <= 150.0 + 1e-9, "front past the obstacle at t={}: {v:?}", sim.time());
            }
        }
        queued = sim.lane_stats(bc_lane).waiting;
    }
    assert_eq!(sim.metrics().throughput, 0, "nobody gets past a blocked single lane");
    assert!(queued >= 10, "a queue builds behind the obstacle: {queued}");
    assert!(sim.unblock(b));
    assert!(!sim.unblock(b), "a handle is removed once");
    for _ in 0..400 {
        sim.step();
    }
    assert_eq!(sim.metrics().throughput, sim.metrics().vehicles_created, "everyone arrives once it clears");
}

#[test]
fn a_closed_road_is_not_entered() {
    let s = corridor(vec![(3.0, 0.0, 120.0)]);
    let mut sim = Sim::new(&s, SimConfig::default());
    sim.close_road(RoadId(1), true);
    assert!(sim.road_closed(RoadId(1)));
    for _ in 0..200 {
        sim.step();
        assert_eq!(sim.lane_stats(LaneId(1)).count, 0, "a vehicle entered the closed road at t={}", sim.time());
        for v in views(&sim) {
            assert!(v.lane_link.is_none(), "a vehicle entered the junction towards the closed road: {v:?}");
        }
    }
    assert!(sim.lane_stats(LaneId(0)).waiting > 5, "traffic waits before the closed road");
    sim.close_road(RoadId(1), false);
    for _ in 0..300 {
        sim.step();
    }
    assert_eq!(sim.metrics().throughput, sim.metrics().vehicles_created);
}

/// Per vehicle that entered the junction: whether it had come to rest within
/// `STOP_LINE_M` of the stop line first, and its top speed on the lane link.
fn junction_behaviour(sim: &mut Sim, steps: u32) -> Vec<(bool, f64)> {
    let len = sim.network().lanes[0].length;
    let mut stopped = std::collections::BTreeMap::new();
    let mut crossed: std::collections::BTreeMap<u64, (bool, f64)> = Default::default();
    for _ in 0..steps {
        sim.step();
        for v in views(sim) {
            if v.lane == Some(LaneId(0)) && v.speed < 0.1 && len - v.dis <= incidents::STOP_LINE_M {
                stopped.insert(v.id.0, true);
            }
            if v.lane_link.is_some() {
                let e = crossed.entry(v.id.0).or_insert((stopped.contains_key(&v.id.0), 0.0));
                e.1 = e.1.max(v.speed);
            }
        }
    }
    crossed.into_values().collect()
}

#[test]
fn a_dark_signal_is_an_all_way_stop() {
    let s = corridor(vec![(5.0, 0.0, 200.0)]);
    let mut sim = Sim::new(&s, SimConfig::default());
    sim.set_signal_fault(IntersectionId(1), Some(SignalFault::Dark));
    assert_eq!(sim.signal_fault(IntersectionId(1)), Some(SignalFault::Dark));
    let crossed = junction_behaviour(&mut sim, 300);
    assert!(crossed.len() > 20, "traffic crosses a dark junction, red phases included: {}", crossed.len());
    assert!(crossed.iter().all(|c| c.0), "every vehicle stopped at the line first");
    // Without the fault, on green, vehicles do not stop.
    let mut plain = Sim::new(&s, SimConfig::default());
    assert!(junction_behaviour(&mut plain, 300).iter().any(|c| !c.0));
}

#[test]
fn a_flashing_signal_lets_everyone_pass_slowly() {
    let s = corridor(vec![(5.0, 0.0, 200.0)]);
    let mut sim = Sim::new(&s, SimConfig::default());
    sim.set_signal_fault(IntersectionId(1), Some(SignalFault::Flashing));
    let crossed = junction_behaviour(&mut sim, 300);
    let cap = VehicleParams::default().max_speed * incidents::FLASHING_SPEED_SHARE;
    assert!(crossed.len() > 30, "{}", crossed.len());
    assert!(crossed.iter().all(|c| c.1 <= cap + 1e-9), "{crossed:?}");
    // Lifting the fault restores the plan: vehicles wait at red again.
    sim.set_signal_fault(IntersectionId(1), None);
    assert_eq!(sim.signal_fault(IntersectionId(1)), None);
    let mut red_crossing = false;
    for _ in 0..120 {
        sim.step();
        let red = !sim.movement_green(MovementId(0));
        red_crossing |= red && views(&sim).iter().any(|v| v.lane_link.is_some() && v.dis < 1.0 && v.speed > 3.0);
    }
    assert!(!red_crossing, "a vehicle entered on red after the fault was lifted");
}

#[test]
fn scheduled_incidents_switch_on_and_off_and_decoys_add_traffic() {
    let s = corridor(vec![(6.0, 0.0, 600.0)]);
    let plan = IncidentPlan {
        incidents: vec![Incident {
            id: 9,
            kind: IncidentKind::Stalled,
            location: Location::Lanes { road: RoadId(1), lanes: vec![0], pos_m: 100.0, length_m: 6.0 },
            start_s: 50.0,
            end_s: 150.0,
        }],
        decoys: vec![crate::incident::Decoy { id: 10, road: RoadId(0), start_s: 0.0, end_s: 300.0, vehicles_per_hour: 360.0 }],
    };
    let mut sim = Sim::new(&s, SimConfig::default());
    sim.schedule_incidents(&plan).unwrap();
    let mut plain = Sim::new(&s, SimConfig::default());
    for t in 0..400 {
        // The step that starts at time t switches what is due by t.
        sim.step();
        plain.step();
        assert_eq!(sim.active_incidents().count(), usize::from((50..150).contains(&t)), "t={t}");
        assert_eq!(sim.lane_blocks(LaneId(1)).len(), usize::from((50..150).contains(&t)), "t={t}");
    }
    // 300 s at 360 vehicles per hour, both ends included: 31 more vehicles.
    assert_eq!(sim.metrics().vehicles_created, plain.metrics().vehicles_created + 31);
    let bad = IncidentPlan {
        incidents: vec![Incident { id: 1, start_s: 5.0, end_s: 1.0, ..plan.incidents[0].clone() }],
        decoys: vec![],
    };
    assert!(sim.schedule_incidents(&bad).is_err());
}

#[test]
fn an_empty_plan_changes_nothing() {
    let s = crate::gen::generate(&crate::gen::GenConfig::demo()).unwrap().scenario();
    let mut a = Sim::new(&s, SimConfig::default());
    let mut b = Sim::new(&s, SimConfig::default());
    b.schedule_incidents(&IncidentPlan::default()).unwrap();
    for _ in 0..600 {
        a.step();
        b.step();
    }
    assert_eq!(a.metrics(), b.metrics());
}

#[test]
fn spawned_units_are_tracked_to_arrival_and_emergency_is_faster() {
    let s = corridor(vec![]);
    let trip = |class| {
        let mut sim = Sim::new(&s, SimConfig::default());
        // Wait for green (phase 0 runs 0..30 s, 60 s cycle): spawn at 60 s.
        for _ in 0..60 {
            sim.step();
        }
        let id = sim.spawn_vehicle(&[RoadId(0), RoadId(1)], class).unwrap();
        assert_eq!(sim.tracked(id).unwrap().state, TripState::Waiting);
        let mut last = 0.0;
        for _ in 0..200 {
            sim.step();
            let t = sim.tracked(id).unwrap();
            assert!(t.progress >= last, "progress goes forward: {t:?}");
            last = t.progress;
            if let TripState::Arrived { time_s } = t.state {
                assert_eq!(t.progress, 1.0);
                assert_eq!(sim.metrics().throughput, 1);
                return time_s - t.spawned_s;
            }
            assert_eq!(t.state, TripState::Running);
            assert!(t.point.is_some() && t.lonlat.is_some());
        }
        panic!("never arrived");
    };
    let (normal, emergency) = (trip(VehicleClass::Normal), trip(VehicleClass::Emergency));
    assert!(emergency < normal * 0.85, "emergency {emergency} s vs normal {normal} s");
    let mut sim = Sim::new(&s, SimConfig::default());
    assert_eq!(sim.spawn_vehicle(&[], VehicleClass::Normal), Err(SpawnError::EmptyRoute));
    assert_eq!(sim.spawn_vehicle(&[RoadId(7)], VehicleClass::Normal), Err(SpawnError::UnknownRoad(0)));
    assert_eq!(sim.spawn_vehicle(&[RoadId(1), RoadId(0)], VehicleClass::Normal), Err(SpawnError::NotConnected(1)));
}

#[test]
fn a_unit_spawned_in_traffic_enters_first_and_leaves_the_flows_draws_alone() {
    let s = crate::gen::generate(&crate::gen::GenConfig::demo()).unwrap().scenario();
    let route = s.demand.flows[0].route.clone();
    let mut a = Sim::new(&s, SimConfig::default());
    for _ in 0..300 {
        a.step();
    }
    let mut b = a.clone();
    let id = b.spawn_vehicle(&route, VehicleClass::Emergency).unwrap();
    a.step();
    b.step();
    assert_eq!(b.tracked(id).unwrap().state, TripState::Running, "the unit enters at the next step");
    for t in 0..1200 {
        a.step();
        b.step();
        assert_eq!(b.metrics().vehicles_created, a.metrics().vehicles_created + 1, "t={t}");
    }
    assert!(matches!(b.tracked(id).unwrap().state, TripState::Arrived { .. }));
    // The flows released the same vehicles (plus the unit).
    assert_eq!(b.metrics().vehicles_created, a.metrics().vehicles_created + 1);
}

#[test]
fn fastest_route_avoids_closed_roads() {
    let s = crate::gen::generate(&crate::gen::GenConfig::demo()).unwrap().scenario();
    let flow = s.demand.flows.iter().find(|f| f.route.len() >= 4).unwrap();
    let (from, to) = (flow.route[0], *flow.route.last().unwrap());
    let mut sim = Sim::new(&s, SimConfig::default());
    let (r, t) = sim.fastest_route(from, to).unwrap();
    assert_eq!((r[0], *r.last().unwrap()), (from, to));
    assert!(r.windows(2).all(|w| sim.network().connected(w[0], w[1])));
    assert!(t.is_finite() && t > 0.0);
    let mid = r[r.len() / 2];
    sim.close_road(mid, true);
    let (r2, t2) = sim.fastest_route(from, to).unwrap();
    assert!(!r2.contains(&mid), "the route avoids the closed road");
    assert!(t2 >= t);
    assert!(sim.road_travel_times()[mid.idx()].is_infinite());
    // A unit can drive the route it was given.
    sim.close_road(mid, false);
    let id = sim.spawn_vehicle(&r2, VehicleClass::Normal).unwrap();
    for _ in 0..1500 {
        sim.step();
    }
    assert!(matches!(sim.tracked(id).unwrap().state, TripState::Arrived { .. }), "{:?}", sim.tracked(id));
}

#[test]
fn a_vehicle_spawned_as_a_flow_entry_is_the_scenario_with_that_flow_first() {
    let s = crate::gen::generate(&crate::gen::GenConfig::demo()).unwrap().scenario();
    let route = s.demand.flows[0].route.clone();
    let mut a = Sim::new(&s, SimConfig::default());
    for _ in 0..300 {
        a.step();
    }
    let mut unit = a.clone();
    let id = a.spawn_vehicle_as(&route, VehicleClass::Emergency, SpawnMode::Flow).unwrap();
    unit.spawn_vehicle(&route, VehicleClass::Emergency).unwrap();
    // The same run from the files: the vehicle's flow entry first in the flow list.
    let params = a.spawn_params(VehicleClass::Emergency);
    assert!(params.max_speed > s.demand.flows[0].params.max_speed);
    let mut s2 = s.clone();
    s2.demand.flows.insert(
        0,
        Flow { params, route: route.clone(), interval: 1.0, start: 300.0, end: Some(300.0), depart: Default::default() },
    );
    let mut b = Sim::new(&s2, SimConfig::default());
    for _ in 0..300 {
        b.step();
    }
    for _ in 0..1500 {
        a.step();
        b.step();
        unit.step();
    }
    assert!(matches!(a.tracked(id).unwrap().state, TripState::Arrived { .. }));
    assert_eq!(a.metrics(), b.metrics());
    // A dispatched unit (first in the buffer, its own draws, 1.5x the limits) is another run.
    assert_ne!(unit.metrics(), b.metrics());
    let mut lc = Sim::new(&s, SimConfig { lane_change: true, ..SimConfig::default() });
    assert_eq!(lc.spawn_vehicle_as(&route, VehicleClass::Emergency, SpawnMode::Flow), Err(SpawnError::FlowModeWithLaneChange));
}
