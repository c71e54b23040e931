//! Vehicles move aside for an emergency vehicle (issue 17) on Jinan 3x4, where every
//! movement has a lane of its own: with lane changing on, a vehicle with the ambulance
//! close behind it moves into a free adjacent lane even though its route does not go on
//! from there, and changes back once the ambulance has passed. Without a unit nothing of
//! this runs (the lane-change fidelity test in `fidelity.rs` covers that).
//!
//! Needs `../shared/data` beside the repository (or `$CITYBRAIN_DATA`); skips without it
//! (fails under `CI=true`, see `testdata`).

use twin::engine::{TripState, VehicleClass};
use twin::{RoadId, Sim, SimConfig};

fn road(sim: &Sim, name: &str) -> RoadId {
    sim.network().road_by_name(name).unwrap_or_else(|| panic!("no road {name}"))
}

#[test]
fn vehicles_move_aside_for_an_ambulance_and_return() {
    let Some(s) = testdata::cityflow("jinan_3x4") else { return };
    let mut sim = Sim::new(&s, SimConfig { lane_change: true, ..SimConfig::default() });
    for _ in 0..1500 {
        sim.step();
    }
    assert_eq!(sim.emergency_asides(), (0, 0), "nobody moves aside without an emergency vehicle");
    let route: Vec<RoadId> = ["road_0_1_0", "road_1_1_0", "road_2_1_0", "road_3_1_0"].iter().map(|n| road(&sim, n)).collect();
    let id = sim.spawn_vehicle(&route, VehicleClass::Emergency).expect("spawn");
    let mut arrived = None;
    for _ in 0..900 {
        sim.step();
        if let TripState::Arrived { time_s } = sim.tracked(id).expect("tracked").state {
            arrived = Some(time_s);
            break;
        }
    }
    assert!(arrived.is_some(), "the ambulance arrives");
    // Those that moved aside get back to their route's lanes once it has passed.
    for _ in 0..300 {
        sim.step();
    }
    let (aside, back) = sim.emergency_asides();
    eprintln!("moved aside {aside}, back {back}");
    assert!(aside > 0, "someone moved aside");
    assert!(back >= aside.saturating_sub(1) && back <= aside, "aside {aside}, back {back}");
}
