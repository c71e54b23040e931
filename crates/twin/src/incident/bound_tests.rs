//! The detection bound on the corridor: a busy single lane, an empty road, an unused lane.

use super::bound::{incident_bounds, BoundConfig, Cause, Feed};
use super::{Incident, IncidentKind, IncidentPlan, Location};
use crate::SimConfig;
use city::demand::{Flow, VehicleParams};
use city::ids::RoadId;
use city::network::Network;
use city::spec::LaneSpec;
use city::testutil::{corridor, corridor_spec};

fn stalled(road: u32, lane: u32, pos_m: f64, start_s: f64, end_s: f64) -> IncidentPlan {
    IncidentPlan {
        incidents: vec![Incident {
            id: 1,
            kind: IncidentKind::Stalled,
            location: Location::Lanes { road: RoadId(road), lanes: vec![lane], pos_m, length_m: 6.0 },
            start_s,
            end_s,
        }],
        decoys: vec![],
    }
}

fn cfg(until_s: f64) -> BoundConfig {
    BoundConfig { until_s, ..Default::default() }
}

#[test]
fn a_blocked_busy_single_lane_is_observable_within_a_loop_interval() {
    // A vehicle every 4 s on A -> B -> C; BC's only lane blocked at 200 m (its loop sits
    // at 150 m) from 300 s to 600 s.
    let s = corridor(vec![(4.0, 0.0, 1200.0)]);
    let b = incident_bounds(&s.network, &s.demand.flows, SimConfig::default(), &stalled(1, 0, 200.0, 300.0, 600.0), &cfg(700.0))
        .unwrap();
    assert_eq!(b.len(), 1);
    let b = &b[0];
    assert_eq!(b.pre_start_differences, 0, "the twin runs are identical before the incident");
    let first = b.first_local_s.expect("a blocked busy lane is observable");
    // Vehicles brake for the obstacle within seconds; the loop reports every 30 s.
    assert!(first <= 60.0, "first local difference after {first} s");
    assert!(b.by_feed[Feed::Loop as usize].is_some(), "the loop upstream of the obstacle sees it: {b:?}");
    assert!(b.first_any_s.unwrap() <= first);
    assert!(b.stopped_behind > 0 && b.lane_vehicles > 50, "{b:?}");
    assert_eq!(b.cause, None);
    assert!(!b.exit_road || s.network.intersection(s.network.road(RoadId(1)).to).is_virtual);
}

#[test]
fn an_incident_on_a_road_without_traffic_is_unobservable() {
    // The flow stops at 100 s: by 400 s the corridor is empty.
    let s = corridor(vec![(4.0, 0.0, 100.0)]);
    let b = incident_bounds(&s.network, &s.demand.flows, SimConfig::default(), &stalled(1, 0, 200.0, 400.0, 700.0), &cfg(800.0))
        .unwrap();
    let b = &b[0];
    assert_eq!(b.first_local_s, None, "{b:?}");
    assert_eq!(b.first_any_s, None, "no feed anywhere differs: {b:?}");
    assert_eq!(b.cause, Some(Cause::NoTrafficOnRoad));
    assert_eq!((b.road_vehicles, b.lane_vehicles, b.stopped_behind), (0, 0, 0));
}

#[test]
fn a_lane_no_route_uses_is_unobservable_and_says_why() {
    // Two lanes per road, but the only movement links lane 0 to lane 0: BC's lane 1 is
    // never used, however busy the road.
    let two = vec![LaneSpec { width: 4.0, max_speed: 16.67 }; 2];
    let net = Network::build(&corridor_spec(two)).unwrap();
    let flows = vec![Flow {
        params: VehicleParams::default(),
        route: vec![RoadId(0), RoadId(1)],
        interval: 4.0,
        start: 0.0,
        end: Some(1200.0),
        depart: Default::default(),
    }];
    let bounds = incident_bounds(&net, &flows, SimConfig::default(), &stalled(1, 1, 200.0, 300.0, 600.0), &cfg(700.0)).unwrap();
    let b = &bounds[0];
    assert_eq!(b.first_local_s, None, "{b:?}");
    assert!(b.road_vehicles > 50, "{b:?}");
    assert_eq!(b.cause, Some(Cause::LaneUnused));
    // The same road's used lane, blocked, is observable.
    let used = incident_bounds(&net, &flows, SimConfig::default(), &stalled(1, 0, 200.0, 300.0, 600.0), &cfg(700.0)).unwrap();
    assert!(used[0].observable(), "{:?}", used[0]);
}
