//! Fusion, every lifecycle transition, the review rule for penalty types, escalation,
//! reassignment, and a dispatch where live travel time and straight line disagree.

use std::sync::Arc;

use incidents::dispatch::{choose, fastest, nearest_straight, Speeds};
use incidents::{
    Actor, Core, IncidentType, IncidentsConfig, LifecycleError, Report, SourceKind, Spot, Status, Unit, UnitKind, UnitStatus,
};
use twin::{Network, Point, RoadId};

fn grid() -> Arc<Network> {
    let cfg = twin::gen::GenConfig { rows: 4, cols: 4, ring_road: false, t_junction_share: 0.0, ..twin::gen::GenConfig::demo() };
    Arc::new(twin::gen::generate(&cfg).unwrap().network)
}

/// An interior road (both ends real junctions) and a road leading into its start.
fn interior(net: &Network) -> (RoadId, RoadId) {
    let next = incidents::dispatch::successors(net);
    for k in 0..net.roads.len() {
        let t = RoadId(k as u32);
        let r = net.road(t);
        if net.intersection(r.from).is_virtual || net.intersection(r.to).is_virtual {
            continue;
        }
        if let Some(p) = (0..net.roads.len()).map(|j| RoadId(j as u32)).find(|&p| {
            next[p.0 as usize].contains(&t) && net.road(p).from != r.to && !net.intersection(net.road(p).from).is_virtual
        }) {
            return (t, p);
        }
    }
    panic!("no interior road");
}

fn report(net: &Network, road: RoadId, kind: IncidentType, source: SourceKind, t: f64, c: f64) -> Report {
    let pos = incidents::detect::point_on_road(net, road, net.road_length(road) / 2.0);
    Report {
        time: t,
        kind,
        source,
        origin: format!("{}:x", source.as_str()),
        pos,
        road: Some(road),
        confidence: c,
        reference: None,
        text: String::new(),
    }
}

fn core(net: &Arc<Network>, units: Vec<Unit>) -> Core {
    Core::new(net.clone(), IncidentsConfig { auto_verify: 0.6, ..Default::default() }, units)
}

#[test]
fn reports_fuse_by_place_time_and_type_and_corroboration_raises_confidence() {
    let net = grid();
    let (t, p) = interior(&net);
    let mut c = core(&net, vec![]);
    let a = c.report(report(&net, t, IncidentType::Blockage, SourceKind::Occupancy, 100.0, 0.4), 100.0);
    let c1 = c.fusion.get(a).unwrap().confidence;
    // Same source kind again: no rise (not independent).
    assert_eq!(c.report(report(&net, t, IncidentType::Blockage, SourceKind::Occupancy, 110.0, 0.4), 110.0), a);
    assert_eq!(c.fusion.get(a).unwrap().confidence, c1);
    // A camera sees a collision there: same event, type refined, confidence up.
    assert_eq!(c.report(report(&net, t, IncidentType::Collision, SourceKind::Camera, 120.0, 0.5), 120.0), a);
    let e = c.fusion.get(a).unwrap();
    assert_eq!(e.kind, IncidentType::Collision);
    assert!((e.confidence - (1.0 - 0.6 * 0.5)).abs() < 1e-12, "{}", e.confidence);
    assert_eq!(e.sources(), vec![SourceKind::Occupancy, SourceKind::Camera]);
    // Far away: a new event. Incompatible type at the same place: a new event.
    let far = c.report(report(&net, p, IncidentType::Collision, SourceKind::Camera, 130.0, 0.5), 130.0);
    let d = incidents::fusion::dist(c.fusion.get(far).unwrap().pos, c.fusion.get(a).unwrap().pos);
    assert!(far != a && d > 150.0, "distance {d}");
    let crowd = c.report(report(&net, t, IncidentType::Crowd, SourceKind::Citizen, 140.0, 0.3), 140.0);
    assert_ne!(crowd, a);
    // Too late: a new event.
    let late = c.report(report(&net, t, IncidentType::Collision, SourceKind::Citizen, 120.0 + 2000.0, 0.3), 2120.0);
    assert_ne!(late, a);
}

#[test]
fn every_lifecycle_transition_is_timestamped_attributed_and_recorded() {
    let net = grid();
    let (t, _) = interior(&net);
    let units = vec![Unit::new("tow-1", UnitKind::TowTruck, Spot { road: t, offset: 0.0 })];
    let mut c = core(&net, units);
    let id = c.report(report(&net, t, IncidentType::StalledVehicle, SourceKind::Camera, 10.0, 0.9), 10.0);
    // Detected → verified (system, penalises nobody) → dispatched at once.
    let e = c.fusion.get(id).unwrap();
    assert_eq!(e.status, Status::Dispatched);
    assert_eq!(e.verified_by, Some(Actor::System));
    assert_eq!(e.dispatched_at, Some(10.0));
    assert_eq!(c.units["tow-1"].status, UnitStatus::Alerted);
    c.accept("tow-1", 12.0).unwrap();
    assert_eq!(c.units["tow-1"].status, UnitStatus::EnRoute);
    c.on_scene("tow-1", 50.0).unwrap();
    c.cleared("tow-1", 80.0).unwrap();
    c.close(id, "ops-ann", 90.0).unwrap();
    let e = c.fusion.get(id).unwrap();
    let steps: Vec<_> = e.timeline.iter().filter(|x| x.from != Some(x.to)).map(|x| (x.to, x.actor.kind(), x.time)).collect();
    assert_eq!(
        steps,
        vec![
            (Status::Detected, "system", 10.0),
            (Status::Verified, "system", 10.0),
            (Status::Dispatched, "system", 10.0),
            (Status::OnScene, "unit", 50.0),
            (Status::Cleared, "unit", 80.0),
            (Status::Closed, "operator", 90.0),
        ]
    );
    assert!(e.timeline.iter().any(|x| x.note == "alert accepted" && x.actor == Actor::Unit("tow-1".into())));
    // The journal got one record per timeline entry, in order.
    assert_eq!(c.pending.len(), e.timeline.len());
    assert!(c.pending.iter().all(|(k, _, _)| *k == id));
    assert!(c.pending.last().unwrap().2.contains("\"to\":\"closed\"") && c.pending.last().unwrap().2.contains("ops-ann"));
    // Nothing after closed.
    assert!(matches!(c.transition(id, Status::Verified, Actor::System, 95.0, ""), Err(LifecycleError::Illegal { .. })));
    assert!(c.units["tow-1"].status.free());
    assert_eq!(c.units["tow-1"].event, None);
}

#[test]
fn reject_merge_and_illegal_steps() {
    let net = grid();
    let (t, _) = interior(&net);
    let mut c = core(&net, vec![]);
    let a = c.report(report(&net, t, IncidentType::Debris, SourceKind::Citizen, 0.0, 0.3), 0.0);
    assert_eq!(c.fusion.get(a).unwrap().status, Status::Detected, "0.3 is under the auto-verify confidence");
    c.reject(a, "ops", 5.0, "a shadow").unwrap();
    assert_eq!(c.fusion.get(a).unwrap().status, Status::Rejected);
    assert!(c.verify(a, "ops", 6.0).is_err());
    let b = c.report(report(&net, t, IncidentType::Debris, SourceKind::Citizen, 10.0, 0.3), 10.0);
    assert_ne!(a, b, "a rejected event takes no more reports");
    let (_, p) = interior(&net);
    let d = c.report(report(&net, p, IncidentType::Pedestrian, SourceKind::Citizen, 11.0, 0.3), 11.0);
    assert!(c.merge(b, b, "ops", 12.0).is_err());
    c.merge(b, d, "ops", 12.0).unwrap();
    assert_eq!(c.fusion.get(d).unwrap().status, Status::Merged);
    assert_eq!(c.fusion.get(d).unwrap().merged_into, Some(b));
    assert_eq!(c.fusion.get(b).unwrap().merged, vec![d]);
    assert_eq!(c.fusion.get(b).unwrap().reports.len(), 2);
    // Skipping steps is refused.
    assert!(matches!(c.transition(b, Status::OnScene, Actor::System, 13.0, ""), Err(LifecycleError::Illegal { .. })));
    c.verify(b, "ops", 14.0).unwrap();
    c.close(b, "ops", 15.0).unwrap();
    assert_eq!(c.fusion.get(b).unwrap().status, Status::Closed);
}

#[test]
fn penalty_types_need_an_operator_and_the_record_names_them() {
    let net = grid();
    let (t, _) = interior(&net);
    let units = vec![
        Unit::new("police-1", UnitKind::Police, Spot { road: t, offset: 0.0 }),
        Unit::new("tow-1", UnitKind::TowTruck, Spot { road: t, offset: 0.0 }),
    ];
    let mut c = core(&net, units);
    for kind in [IncidentType::IllegalParking, IncidentType::RedLight, IncidentType::WrongWay] {
        let id = c.report(report(&net, t, kind, SourceKind::Camera, 0.0, 0.99), 0.0);
        let e = c.fusion.get(id).unwrap();
        assert_eq!(e.status, Status::Detected, "{kind:?}: no automated verification");
        assert!(matches!(c.transition(id, Status::Verified, Actor::System, 1.0, ""), Err(LifecycleError::NeedsOperator { .. })));
        assert!(matches!(
            c.transition(id, Status::Verified, Actor::Unit("police-1".into()), 1.0, ""),
            Err(LifecycleError::NeedsOperator { .. })
        ));
        c.verify(id, "officer-li", 2.0).unwrap();
        let e = c.fusion.get(id).unwrap();
        assert_eq!(e.verified_by, Some(Actor::Operator("officer-li".into())));
        assert_eq!(e.status, Status::Dispatched, "{kind:?}: dispatched once verified");
        assert_eq!(e.dispatched_at, Some(2.0));
        c.close(id, "officer-li", 3.0).unwrap();
    }
    // A blockage verified by the system does not become a penalty type later.
    let id = c.report(report(&net, t, IncidentType::Blockage, SourceKind::Occupancy, 10.0, 0.7), 10.0);
    assert_eq!(c.fusion.get(id).unwrap().verified_by, Some(Actor::System));
    assert_eq!(c.report(report(&net, t, IncidentType::IllegalParking, SourceKind::Camera, 11.0, 0.9), 11.0), id);
    assert_eq!(c.fusion.get(id).unwrap().kind, IncidentType::Blockage);
}

#[test]
fn dispatch_follows_live_travel_time_not_straight_line() {
    let net = grid();
    let (t, p) = interior(&net);
    // The reverse of t: straight-line next to the target, but a unit on it must drive
    // around the block (no U-turn in the generated grid).
    let rev = (0..net.roads.len())
        .map(|k| RoadId(k as u32))
        .find(|&r| net.road(r).from == net.road(t).to && net.road(r).to == net.road(t).from)
        .unwrap();
    let target = Spot { road: t, offset: net.road_length(t) / 2.0 };
    let near = Unit::new("police-near", UnitKind::Police, Spot { road: rev, offset: net.road_length(rev) / 2.0 });
    let far = Unit::new("police-far", UnitKind::Police, Spot { road: p, offset: 0.0 });
    let units = [near.clone(), far.clone()];
    let speeds = Speeds::free(&net);
    assert_eq!(nearest_straight(&net, &units, IncidentType::Collision, target).as_deref(), Some("police-near"));
    let (chosen, route, eta) = choose(&net, &speeds, &units, IncidentType::Collision, target, &[]).unwrap();
    assert_eq!(chosen, "police-far", "route {route:?} eta {eta}");
    assert_eq!(route, vec![p, t]);
    let around = fastest(&net, &speeds, near.at, target).unwrap();
    assert!(around.1 > eta && around.0.len() > 3, "{around:?}");
    // Live speeds count: jam p and the far unit's time grows with it.
    let mut jam = speeds.clone();
    jam.speed[p.0 as usize] = 0.5;
    let slow = fastest(&net, &jam, far.at, target).unwrap().1;
    assert!(slow >= net.road_length(p) / 0.5, "{slow}");
    // The core dispatches the same way, and units drive there at live speeds.
    let mut c = core(&net, units.to_vec());
    c.cfg.auto_accept_s = Some(0.0);
    let id = c.report(report(&net, t, IncidentType::Collision, SourceKind::Camera, 0.0, 0.9), 0.0);
    assert_eq!(c.fusion.get(id).unwrap().unit.as_deref(), Some("police-far"));
    let mut now = 0.0;
    while c.fusion.get(id).unwrap().status != Status::OnScene && now < 600.0 {
        now += 5.0;
        c.tick(now, None);
    }
    assert_eq!(c.fusion.get(id).unwrap().status, Status::OnScene);
    assert!((now - eta).abs() <= 10.0, "arrived at {now}, eta {eta}");
}

#[test]
fn unaccepted_alerts_escalate_and_closer_free_units_take_over() {
    let net = grid();
    let (t, p) = interior(&net);
    let target = Spot { road: t, offset: net.road_length(t) / 2.0 };
    let free = Speeds::free(&net);
    let far_road = (0..net.roads.len())
        .map(|k| RoadId(k as u32))
        .max_by(|&x, &y| {
            let d = |r: RoadId| fastest(&net, &free, Spot { road: r, offset: 0.0 }, target).map_or(0.0, |x| x.1);
            d(x).total_cmp(&d(y))
        })
        .unwrap();
    let a = Unit::new("fire-1", UnitKind::FireEngine, Spot { road: p, offset: 0.0 });
    let b = Unit::new("fire-2", UnitKind::FireEngine, Spot { road: far_road, offset: 0.0 });
    let c3 = Unit::new("fire-3", UnitKind::FireEngine, Spot { road: far_road, offset: 0.0 });
    let mut c = core(&net, vec![a, b, c3]);
    c.cfg.accept_timeout_s = 30.0;
    let id = c.report(report(&net, t, IncidentType::FireSmoke, SourceKind::Camera, 0.0, 0.9), 0.0);
    assert_eq!(c.fusion.get(id).unwrap().unit.as_deref(), Some("fire-1"));
    c.tick(0.0, None);
    c.tick(35.0, None);
    let e = c.fusion.get(id).unwrap();
    let second = e.unit.clone().unwrap();
    assert_ne!(second, "fire-1", "escalated to the next unit");
    assert_eq!(e.escalations, 1);
    assert!(e.timeline.iter().any(|x| x.note.starts_with("escalated: fire-1")));
    assert!(c.units["fire-1"].status.free());
    // fire-1 stays excluded from this event (it did not answer); the other far unit is
    // busy elsewhere and frees up: it is no closer, so nothing changes.
    c.accept(&second, 36.0).unwrap();
    c.tick(40.0, None);
    assert_eq!(c.fusion.get(id).unwrap().unit.as_deref(), Some(second.as_str()));

    // Reassignment: a closer unit frees up before the first one arrives.
    let mut c = core(
        &net,
        vec![
            Unit::new("amb-far", UnitKind::Ambulance, Spot { road: far_road, offset: 0.0 }),
            Unit::new("amb-near", UnitKind::Ambulance, Spot { road: p, offset: 0.0 }),
        ],
    );
    c.cfg.auto_accept_s = Some(0.0);
    let (_, other) = interior(&net);
    // amb-near is busy with another event first.
    let busy = c.report(report(&net, other, IncidentType::Pedestrian, SourceKind::Camera, 0.0, 0.9), 0.0);
    assert_eq!(c.fusion.get(busy).unwrap().unit.as_deref(), Some("amb-near"));
    let id = c.report(report(&net, t, IncidentType::Pedestrian, SourceKind::Camera, 1.0, 0.9), 1.0);
    assert_ne!(busy, id);
    assert_eq!(c.fusion.get(id).unwrap().unit.as_deref(), Some("amb-far"));
    c.tick(1.0, None);
    c.tick(2.0, None);
    // amb-near's event ends (an operator closes it): it is free and much closer.
    c.close(busy, "ops", 3.0).unwrap();
    c.tick(5.0, None);
    let e = c.fusion.get(id).unwrap();
    assert_eq!(e.unit.as_deref(), Some("amb-near"), "{:?}", e.timeline);
    assert!(e.timeline.iter().any(|x| x.note.starts_with("reassigned from amb-far")));
    assert!(c.units["amb-far"].status.free());
}

#[test]
fn congestion_alone_dispatches_nobody() {
    let net = grid();
    let (t, _) = interior(&net);
    let mut c = core(&net, vec![Unit::new("police-1", UnitKind::Police, Spot { road: t, offset: 0.0 })]);
    let id = c.report(report(&net, t, IncidentType::Congestion, SourceKind::Spillback, 0.0, 0.9), 0.0);
    assert_eq!(c.fusion.get(id).unwrap().status, Status::Detected);
    assert_eq!(c.units["police-1"].status, UnitStatus::Available);
    let _ = Point::new(0.0, 0.0);
}

#[test]
fn refreshed_speeds_equal_live_ones_and_route_the_same() {
    let net = grid();
    let (t, p) = interior(&net);
    let target = Spot { road: t, offset: net.road_length(t) / 2.0 };
    let from = Spot { road: p, offset: 0.0 };
    let mut est = state::StateEstimator::new(&net, state::StateConfig::default());
    let mut jammed = est.update(0.0).clone();
    jammed.roads[p.0 as usize].speed = Some(0.2);
    let live = Speeds::live(&net, &jammed);
    let mut kept = Speeds::free(&net);
    let free_eta = fastest(&net, &kept, from, target).unwrap().1;
    kept.refresh(&net, &jammed);
    assert_eq!(kept.speed, live.speed);
    assert_eq!(kept.of(p), 0.5, "floored");
    let jam_eta = fastest(&net, &kept, from, target).unwrap().1;
    assert_eq!(Some(jam_eta), fastest(&net, &live, from, target).map(|x| x.1));
    assert!(jam_eta > free_eta, "{jam_eta} vs {free_eta}");
    // A later estimate without the jam brings the free speed back.
    let clear = est.update(1.0).clone();
    kept.refresh(&net, &clear);
    assert_eq!(kept.speed, Speeds::free(&net).speed);
    assert_eq!(fastest(&net, &kept, from, target).unwrap().1, free_eta);
}
