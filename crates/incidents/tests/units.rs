//! Response units against the twin: a verified event waits for a free unit and gets the
//! first that frees up; a unit that finishes on scene ends the twin's incident; a unit
//! sent where the twin has nothing clears after looking instead of staying for good.

use std::sync::Arc;

use incidents::cameras::{CameraConfig, Cameras, Truth};
use incidents::{Core, IncidentType, IncidentsConfig, Report, SourceKind, Spot, Status, Unit, UnitKind, UnitStatus};
use twin::incident::{Incident, IncidentKind, IncidentPlan, Location};
use twin::{Network, RoadId};

fn grid() -> Arc<Network> {
    let cfg = twin::gen::GenConfig { rows: 4, cols: 4, ring_road: false, t_junction_share: 0.0, ..twin::gen::GenConfig::demo() };
    Arc::new(twin::gen::generate(&cfg).unwrap().network)
}

/// Two interior roads (both ends real junctions) far apart.
fn two_roads(net: &Network) -> (RoadId, RoadId) {
    let interior: Vec<RoadId> = (0..net.roads.len())
        .map(|k| RoadId(k as u32))
        .filter(|&r| !net.intersection(net.road(r).from).is_virtual && !net.intersection(net.road(r).to).is_virtual)
        .collect();
    (interior[0], interior[interior.len() - 1])
}

fn collision(net: &Network, road: RoadId, t: f64) -> Report {
    Report {
        time: t,
        kind: IncidentType::Collision,
        source: SourceKind::Camera,
        origin: "camera:x".into(),
        pos: incidents::detect::point_on_road(net, road, net.road_length(road) / 2.0),
        road: Some(road),
        confidence: 0.9,
        reference: None,
        text: String::new(),
    }
}

fn simulated(net: &Arc<Network>, units: Vec<Unit>) -> Core {
    let cfg = IncidentsConfig { auto_accept_s: Some(5.0), auto_clear_s: Some(600.0), ..Default::default() };
    Core::new(net.clone(), cfg, units)
}

#[test]
fn a_verified_event_gets_the_first_unit_that_frees_up_within_a_tick() {
    let net = grid();
    let (a, b) = two_roads(&net);
    let mut c = simulated(&net, vec![Unit::new("police-1", UnitKind::Police, Spot { road: a, offset: 0.0 })]);
    let first = c.report(collision(&net, a, 0.0), 0.0);
    assert_eq!(c.fusion.get(first).unwrap().status, Status::Dispatched);
    let second = c.report(collision(&net, b, 1.0), 1.0);
    let e = c.fusion.get(second).unwrap();
    assert_eq!(e.status, Status::Verified, "no free unit: verified, waiting");
    assert!(e.timeline.iter().any(|x| x.note.starts_with("no free")), "{:?}", e.timeline);
    c.tick(5.0, None);
    assert_eq!(c.fusion.get(second).unwrap().status, Status::Verified, "still no free unit");
    // The operator closes the first event: the unit is free again.
    c.close(first, "ops", 7.0).unwrap();
    assert!(c.units["police-1"].status.free());
    c.tick(10.0, None);
    let e = c.fusion.get(second).unwrap();
    assert_eq!(e.status, Status::Dispatched, "{:?}", e.timeline);
    assert_eq!(e.unit.as_deref(), Some("police-1"));
    assert_eq!(e.dispatched_at, Some(10.0), "dispatched on the first tick after the unit freed up");
}

/// Drive `c` in 5 s ticks until `until`.
fn run(c: &mut Core, from: f64, until: f64) {
    let mut t = from;
    while t <= until {
        c.tick(t, None);
        t += 5.0;
    }
}

#[test]
fn a_unit_that_finishes_on_scene_ends_the_twin_incident() {
    let net = grid();
    let (a, b) = two_roads(&net);
    let mut c = simulated(&net, vec![Unit::new("police-1", UnitKind::Police, Spot { road: b, offset: 0.0 })]);
    // The twin plays a crash on road `a` from 0 to 3600 s.
    let plan = IncidentPlan {
        incidents: vec![Incident {
            id: 7,
            kind: IncidentKind::Crash,
            location: Location::Lanes { road: a, lanes: vec![0], pos_m: net.road_length(a) / 2.0, length_m: 5.0 },
            start_s: 0.0,
            end_s: 3600.0,
        }],
        decoys: vec![],
    };
    let cams = Cameras::new(&net, CameraConfig { accuracy: 0.0, false_per_camera_hour: 0.0, ..Default::default() });
    c.cameras = Some((cams, Truth::from_plan(&net, &plan), 0.0));
    let id = c.report(collision(&net, a, 30.0), 30.0);
    run(&mut c, 30.0, 600.0);
    let arrived = c.fusion.get(id).unwrap().arrived_at.expect("the unit arrived");
    assert!(c.clearances.is_empty(), "not cleared yet");
    run(&mut c, 605.0, arrived + 605.0);
    let e = c.fusion.get(id).unwrap();
    let cleared = e.cleared_at.expect("cleared");
    assert!((cleared - arrived - 600.0).abs() <= 5.0, "work on a real incident takes auto_clear_s: {arrived} -> {cleared}");
    assert_eq!(c.clearances.len(), 1);
    let x = &c.clearances[0];
    assert_eq!((x.event, x.unit.as_str(), x.road), (id, "police-1", Some(a)));
    // The cameras' ground truth follows: the incident ended when it was cleared.
    let truth = &c.cameras.as_ref().unwrap().1;
    assert!((truth[0].end_s - cleared).abs() < 1e-9, "{:?}", truth[0]);

    // The twin loop's command ends the crash in the engine.
    let scenario = twin::gen::generate(&twin::gen::GenConfig {
        rows: 4,
        cols: 4,
        ring_road: false,
        t_junction_share: 0.0,
        ..twin::gen::GenConfig::demo()
    })
    .unwrap()
    .scenario();
    let mut sim = twin::Sim::from_parts(scenario.network, vec![], twin::SimConfig::default());
    sim.schedule_incidents(&plan).unwrap();
    sim.step();
    assert_eq!(sim.active_incidents().count(), 1);
    let lane = twin::LaneId(net.road(a).first_lane.0);
    assert_eq!(sim.lane_blocks(lane).len(), 1);
    let cmd = brain::Command::ClearIncident { event: x.event, unit: x.unit.clone(), road: x.road, at: x.at };
    // A clearance elsewhere ends nothing.
    let elsewhere = brain::Command::ClearIncident { event: 0, unit: "u".into(), road: Some(b), at: x.at };
    assert!(brain::apply_clearances(&mut sim, &[elsewhere]).is_empty());
    assert_eq!(brain::apply_clearances(&mut sim, std::slice::from_ref(&cmd)), vec![7]);
    assert_eq!(sim.active_incidents().count(), 0);
    assert!(sim.lane_blocks(lane).is_empty(), "the obstacle is gone");
    assert!(brain::apply_clearances(&mut sim, &[cmd]).is_empty(), "ended once");
    // Its scheduled end later changes nothing.
    for _ in 0..5 {
        sim.step();
    }
    assert_eq!(sim.active_incidents().count(), 0);
}

#[test]
fn a_unit_sent_where_the_twin_has_nothing_clears_after_looking() {
    let net = grid();
    let (a, b) = two_roads(&net);
    let mut c = simulated(&net, vec![Unit::new("police-1", UnitKind::Police, Spot { road: b, offset: 0.0 })]);
    // The twin plays nothing (a false camera report, or a person-type event).
    let cams = Cameras::new(&net, CameraConfig { accuracy: 0.0, false_per_camera_hour: 0.0, ..Default::default() });
    c.cameras = Some((cams, Vec::new(), 0.0));
    let mut r = collision(&net, a, 0.0);
    r.kind = IncidentType::Crowd;
    let id = c.report(r, 0.0);
    assert_eq!(c.fusion.get(id).unwrap().unit.as_deref(), Some("police-1"));
    run(&mut c, 0.0, 1200.0);
    let e = c.fusion.get(id).unwrap();
    let (arrived, cleared) = (e.arrived_at.expect("arrived"), e.cleared_at.expect("cleared"));
    assert!(cleared - arrived <= c.cfg.nothing_found_s + 5.0, "{arrived} -> {cleared}");
    assert!(e.timeline.iter().any(|x| x.note.starts_with("nothing")), "{:?}", e.timeline);
    assert_ne!(c.units["police-1"].status, UnitStatus::OnScene, "police are not kept on scene");
}

fn report(net: &Network, kind: IncidentType, road: RoadId, t: f64) -> Report {
    Report { kind, ..collision(net, road, t) }
}

#[test]
fn the_queue_serves_the_highest_priority_first_and_records_the_wait() {
    let net = grid();
    let (a, b) = two_roads(&net);
    let mut c = simulated(&net, vec![Unit::new("police-1", UnitKind::Police, Spot { road: a, offset: 0.0 })]);
    let busy = c.report(report(&net, IncidentType::SignalFault, a, 0.0), 0.0);
    assert_eq!(c.fusion.get(busy).unwrap().queued_at, None, "dispatched at once: never queued");
    assert_eq!(c.fusion.get(busy).unwrap().dispatched_at, Some(0.0));
    // The unit is on scene (no diversion from there); road works wait, then a collision.
    run(&mut c, 5.0, 600.0);
    assert_eq!(c.fusion.get(busy).unwrap().status, Status::OnScene);
    let works = c.report(report(&net, IncidentType::RoadWorks, b, 601.0), 601.0);
    let crash = c.report(report(&net, IncidentType::Collision, b, 602.0), 602.0);
    assert_ne!(works, crash);
    for id in [works, crash] {
        let e = c.fusion.get(id).unwrap();
        assert_eq!(e.status, Status::Verified);
        assert!(e.queued_at.is_some(), "queued: {:?}", e.timeline);
    }
    c.close(busy, "ops", 700.0).unwrap();
    c.tick(705.0, None);
    assert_eq!(c.fusion.get(crash).unwrap().unit.as_deref(), Some("police-1"), "the collision first, though it came later");
    assert_eq!(c.fusion.get(works).unwrap().status, Status::Verified, "the road works still wait");
    let e = c.fusion.get(crash).unwrap();
    assert_eq!(e.dispatched_at, Some(705.0));
    assert_eq!(e.queued_at, Some(602.0));
}

#[test]
fn mutual_aid_stands_in_only_when_no_own_unit_is_free() {
    let net = grid();
    let (a, b) = two_roads(&net);
    let fire = Unit::new("fire-engine-1", UnitKind::FireEngine, Spot { road: a, offset: 0.0 });
    let police = Unit::new("police-1", UnitKind::Police, Spot { road: b, offset: 0.0 });
    // A police unit far away goes before a fire engine on the spot ...
    let mut c = simulated(&net, vec![fire.clone(), police.clone()]);
    let first = c.report(collision(&net, a, 0.0), 0.0);
    assert_eq!(c.fusion.get(first).unwrap().unit.as_deref(), Some("police-1"));
    // ... and with no police free, the fire engine stands in.
    let second = c.report(collision(&net, b, 1.0), 1.0);
    let e = c.fusion.get(second).unwrap();
    assert_eq!(e.unit.as_deref(), Some("fire-engine-1"), "{:?}", e.timeline);
    // An ambulance never stands in for a collision's police.
    let mut c = simulated(&net, vec![Unit::new("ambulance-1", UnitKind::Ambulance, Spot { road: b, offset: 0.0 })]);
    let id = c.report(collision(&net, a, 0.0), 0.0);
    assert_eq!(c.fusion.get(id).unwrap().status, Status::Verified);
    assert!(c.fusion.get(id).unwrap().queued_at.is_some());
    // Police stand in for a tow truck.
    let mut c = simulated(&net, vec![police]);
    let stalled = c.report(report(&net, IncidentType::StalledVehicle, a, 0.0), 0.0);
    assert_eq!(c.fusion.get(stalled).unwrap().unit.as_deref(), Some("police-1"));
}

#[test]
fn a_collision_takes_a_unit_on_its_way_to_road_works() {
    let net = grid();
    let (a, b) = two_roads(&net);
    let mut c = simulated(&net, vec![Unit::new("police-1", UnitKind::Police, Spot { road: b, offset: 0.0 })]);
    let works = c.report(report(&net, IncidentType::RoadWorks, a, 0.0), 0.0);
    assert_eq!(c.fusion.get(works).unwrap().unit.as_deref(), Some("police-1"));
    let crash = c.report(collision(&net, b, 1.0), 1.0);
    assert_eq!(c.fusion.get(crash).unwrap().status, Status::Verified, "no free unit when it arrives");
    c.tick(5.0, None);
    let e = c.fusion.get(crash).unwrap();
    assert_eq!(e.unit.as_deref(), Some("police-1"), "{:?}", e.timeline);
    assert_eq!(e.dispatched_at, Some(5.0));
    let w = c.fusion.get(works).unwrap();
    assert_eq!(w.unit, None);
    assert_eq!(w.diverted_at, Some(5.0));
    assert_eq!(w.status, Status::Dispatched, "still due a unit");
    // A unit on scene is never diverted.
    run(&mut c, 10.0, 300.0);
    assert_eq!(c.fusion.get(crash).unwrap().status, Status::OnScene);
    let crash2 = c.report(collision(&net, a, 301.0), 301.0);
    c.tick(305.0, None);
    assert_eq!(c.fusion.get(crash2).unwrap().status, Status::Verified);
    assert_eq!(c.units["police-1"].event, Some(crash));
}

#[test]
fn a_unit_reaches_a_road_entering_the_network_and_drives_back_home() {
    let net = grid();
    let (a, _) = two_roads(&net);
    let entry = (0..net.roads.len())
        .map(|k| RoadId(k as u32))
        .find(|&r| net.intersection(net.road(r).from).is_virtual)
        .expect("an entry road");
    assert!(
        !net.movements.iter().any(|m| m.to_road == entry),
        "no movement leads into an entry road: it is reached by turning around beyond the edge"
    );
    let home = Spot { road: a, offset: 0.0 };
    let mut c = simulated(&net, vec![Unit::new("police-1", UnitKind::Police, home)]);
    let id = c.report(collision(&net, entry, 0.0), 0.0);
    let e = c.fusion.get(id).unwrap();
    assert_eq!(e.status, Status::Dispatched, "{:?}", e.timeline);
    run(&mut c, 5.0, 3000.0);
    let e = c.fusion.get(id).unwrap();
    assert!(e.arrived_at.is_some() && e.cleared_at.is_some(), "{:?}", e.timeline);
    let u = &c.units["police-1"];
    assert_eq!(u.status, UnitStatus::Available, "back home, not stranded at the edge: {u:?}");
    assert_eq!(u.at.road, a);
}
