//! The business rule, on a real brain (SQLite file) with real governance (its store and
//! audit chain in a temporary directory): only emergency services' operators and
//! services, or a dispatch with a priority flag, start a corridor; every corridor is
//! recorded with who asked and why, and, once it ran on the twin, what it cost.

use std::sync::Arc;

use brain::{Brain, BrainConfig, Caller, ClockSource, Role};
use control::grid::grid_scenario;
use control::{Controller, Protocol};
use corridor::{Corridors, CorridorsError, EngineConfig, Requester, StartInput, Status};
use governance::{Access, GovConfig, Governance};
use twin::{Sim, SimConfig};

fn setup(name: &str) -> (Arc<Brain>, Arc<Governance>, Arc<Corridors>, twin::Scenario) {
    let d = std::env::temp_dir().join(format!("cb-corridor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let mut cfg = GovConfig::new(d.join("gov"));
    cfg.pbkdf2_iterations = 1000;
    let gov = Arc::new(Governance::open(cfg).unwrap());
    let sys = Caller::system();
    for (n, dept, role) in [
        ("es.op", "emergency-services", Role::Operator),
        ("es.viewer", "emergency-services", Role::Viewer),
        ("tp.op", "traffic-police", Role::Operator),
    ] {
        gov.put_principal(&sys, n, dept, role, Some("a long password")).unwrap();
    }
    let s = grid_scenario(3, 3, 8.0, 3600.0);
    let bc = BrainConfig { clock: ClockSource::Driven, day_start_s: 1_767_571_200.0, ..BrainConfig::new(d.join("brain.sqlite")) };
    let brain = Brain::open_with(s.network.clone(), &bc, Box::new(Access(gov.clone()))).unwrap();
    let svc = Corridors::install(&brain, EngineConfig::default());
    (brain, gov, svc, s)
}

fn input(reason: &str) -> StartInput {
    StartInput {
        origin: "road_-1_1_0".into(),
        destination: "road_2_1_0".into(),
        vehicle: "ambulance".into(),
        priority: 6,
        reason: reason.into(),
    }
}

fn decisions(gov: &Governance, kind: &str) -> Vec<String> {
    gov.audit.query(100, |r| r.detail.starts_with(kind)).unwrap().into_iter().map(|r| r.detail).collect()
}

#[test]
fn only_emergency_services_operators_or_priority_dispatches_start_a_corridor_and_each_is_recorded() {
    let (brain, gov, svc, s) = setup("rule");
    let login = |n: &str| gov.login(n, "a long password").unwrap().caller;
    // Refused: the public, another department's operator, a viewer.
    for caller in [Caller::anonymous(), login("tp.op"), login("es.viewer")] {
        let e = svc.start(&caller, &input("test")).unwrap_err();
        assert!(matches!(e, CorridorsError::Brain(brain::BrainError::Denied(_))), "{caller:?}: {e}");
    }
    assert!(svc.snapshot().is_empty(), "a refused request leaves nothing");
    // Fields are checked and named.
    let es = login("es.op");
    let mut bad = input("x");
    bad.vehicle = "tank".into();
    assert!(svc.start(&es, &bad).unwrap_err().to_string().starts_with("vehicle:"));
    let mut bad = input("x");
    bad.origin = "nowhere".into();
    assert!(svc.start(&es, &bad).unwrap_err().to_string().starts_with("origin:"));
    assert!(svc.start(&es, &input("   ")).unwrap_err().to_string().starts_with("reason:"));
    // Allowed: an emergency-services operator; recorded with who and why.
    let id = svc.start(&es, &input("cardiac arrest at the station")).unwrap();
    let c = svc.get(&es, id).unwrap();
    assert_eq!(c.status, Status::Planned);
    assert_eq!(
        c.request.requester,
        Requester::Operator { principal: "es.op".into(), department: Some("emergency-services".into()) }
    );
    let started = decisions(&gov, "corridor-start");
    assert_eq!(started.len(), 1);
    assert!(started[0].contains("operator es.op") && started[0].contains("cardiac arrest"), "{}", started[0]);
    // Reading corridors needs a department's credential.
    assert!(svc.list(&Caller::anonymous()).is_err());
    assert_eq!(svc.list(&login("tp.op")).unwrap().len(), 1);

    // A dispatch: without a priority flag nothing starts; with one, a corridor does.
    let mut d = incidents::PriorityDispatch {
        unit: "ambulance-1".into(),
        kind: incidents::UnitKind::Ambulance,
        incident: 42,
        incident_type: incidents::IncidentType::Collision,
        priority: 0,
        from: s.network.road_by_name("road_1_-1_1").unwrap(),
        to: s.network.road_by_name("road_1_2_1").unwrap(),
        time: 0.0,
    };
    assert_eq!(svc.start_for_dispatch(&d).unwrap(), None);
    d.priority = 7;
    let id2 = svc.start_for_dispatch(&d).unwrap().unwrap();
    assert_eq!(svc.get(&es, id2).unwrap().request.requester, Requester::Dispatch { unit: "ambulance-1".into(), incident: 42 });
    assert_eq!(decisions(&gov, "corridor-start").len(), 2);

    // Run both on the twin: each ends with a report of what it cost.
    let mut ctl = Controller::new(&s, "fixed", Protocol::Operational, 3600.0).unwrap();
    let mut sim = Sim::new(&s, SimConfig { seed: 1, ..SimConfig::default() });
    for _ in 0..900 {
        if sim.time() >= 300.0 || sim.time() == 0.0 {
            svc.before_step(&mut sim, ctl.safety_mut());
        }
        brain.drive_clock(1_767_571_200.0 + sim.time());
        ctl.before_step(&mut sim);
        sim.step();
    }
    let all = svc.list(&es).unwrap();
    assert!(all.iter().all(|c| c.finished()), "{:?}", all.iter().map(|c| (c.id, c.status)).collect::<Vec<_>>());
    let reports = decisions(&gov, "corridor-report");
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports.iter().any(|r| r.contains("operator es.op") && r.contains("vehicle-seconds")));
    assert!(reports.iter().any(|r| r.contains("dispatch of unit ambulance-1 to incident 42")));
    // Journaled in the brain's store too.
    assert!(brain.journal("corridor", Some(&id.to_string()), 10).unwrap().len() >= 2);
}
