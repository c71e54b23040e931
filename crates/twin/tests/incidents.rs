//! Incidents on the shared real networks: 200 seeded lane-blocking incidents plus
//! congestion-only decoys on Hangzhou 4x4 with its real demand. Needs `../shared/data`
//! (or `$CITYBRAIN_DATA`); skips with a message without it, fails under `CI=true`.

use twin::engine::VehicleClass;
use twin::incident::{ground_truth_csv, Location, RandomIncidents};
use twin::{IncidentPlan, LaneId, Sim, SimConfig};

#[test]
fn hangzhou_with_200_incidents_and_decoys() {
    let Some(s) = testdata::cityflow("hangzhou_4x4") else { return };
    let cfg = RandomIncidents { seed: 16, count: 200, decoys: 20, end_s: 3000.0, ..Default::default() };
    let plan = IncidentPlan::random(&s.network, &cfg);
    assert_eq!(plan.incidents.len(), 200);
    let csv = ground_truth_csv(&s.network, &plan);
    assert_eq!(csv.lines().count(), 201);

    let mut base = Sim::new(&s, SimConfig::default());
    let mut sim = Sim::new(&s, SimConfig::default());
    sim.schedule_incidents(&plan).unwrap();
    let mut max_live = 0;
    // (lane, block id, vehicle id) -> the vehicle's front was behind the block's back.
    let mut behind = std::collections::BTreeSet::new();
    for _ in 0..3600 {
        base.step();
        sim.step();
        max_live = max_live.max(sim.active_incidents().count());
        // No vehicle drives into an obstacle: a front that was behind a blocked stretch
        // at the end of the last step is still behind it.
        let mut now = std::collections::BTreeSet::new();
        for l in 0..s.network.lanes.len() as u32 {
            for b in sim.lane_blocks(LaneId(l)) {
                for (id, dis, _, _) in sim.lane_vehicles(LaneId(l)) {
                    if dis <= b.back + 1e-9 || b.passing.contains(&id) {
                        now.insert((l, b.id, id));
                    } else {
                        assert!(!behind.contains(&(l, b.id, id)), "vehicle {id:?} drove into {b:?} on lane {l}: front at {dis}");
                    }
                }
            }
        }
        behind = now;
    }
    let (m, mb) = (sim.metrics(), base.metrics());
    eprintln!(
        "hangzhou: {} incidents at most at once; average travel time {:.1} s vs {:.1} s without; created {} vs {}",
        max_live, m.average_travel_time_s, mb.average_travel_time_s, m.vehicles_created, mb.vehicles_created
    );
    assert!(max_live >= 10, "incidents overlap in time: {max_live}");
    assert!(m.vehicles_created > mb.vehicles_created, "decoys add traffic");
    assert!(m.average_travel_time_s > mb.average_travel_time_s, "incidents cost time");
    assert!(plan.incidents.iter().all(|i| matches!(i.location, Location::Lanes { .. })));
}

#[test]
fn hangzhou_units_drive_the_fastest_route() {
    let Some(s) = testdata::cityflow("hangzhou_4x4") else { return };
    let mut sim = Sim::new(&s, SimConfig::default());
    for _ in 0..900 {
        sim.step();
    }
    // Ten units between the two ends of ten flows' routes, half of them emergency.
    let mut ids = Vec::new();
    for (k, f) in s.demand.flows.iter().step_by(97).take(10).enumerate() {
        let (from, to) = (f.route[0], *f.route.last().unwrap());
        let (route, eta) = sim.fastest_route(from, to).expect("reachable");
        assert!(eta.is_finite());
        let class = if k % 2 == 0 { VehicleClass::Emergency } else { VehicleClass::Normal };
        ids.push(sim.spawn_vehicle(&route, class).unwrap());
    }
    for _ in 0..900 {
        sim.step();
    }
    for id in ids {
        let t = sim.tracked(id).unwrap();
        assert!(matches!(t.state, twin::engine::TripState::Arrived { .. }), "{t:?}");
    }
}
