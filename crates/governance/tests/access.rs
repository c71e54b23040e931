//! The decision table of governance, on a real store in a temporary directory.

use brain::{Action, Authorizer, Caller, Role, Scopes};
use governance::{datasets, Access, AuditKind, GovConfig, Governance};

fn gov(name: &str) -> Governance {
    let d = std::env::temp_dir().join(format!("cb-gov-access-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let mut cfg = GovConfig::new(&d);
    cfg.pbkdf2_iterations = 1000;
    Governance::open(cfg).unwrap()
}

fn accounts(g: &Governance) {
    let sys = Caller::system();
    for (name, dept, role) in [
        ("tp.admin", "traffic-police", Role::Admin),
        ("tp.op", "traffic-police", Role::Operator),
        ("tp.cams", "traffic-police", Role::Service),
        ("tb.admin", "transport-bureau", Role::Admin),
        ("tb.analyst", "transport-bureau", Role::Viewer),
        ("tb.loops", "transport-bureau", Role::Service),
    ] {
        let pw = (role != Role::Service).then_some("a long password");
        g.put_principal(&sys, name, dept, role, pw).unwrap();
    }
}

fn login(g: &Governance, name: &str) -> Caller {
    g.login(name, "a long password").unwrap().caller
}

#[test]
fn public_reads_public_data_only() {
    let g = gov("public");
    let p = Caller::anonymous();
    assert!(g.decide(&p, &Action::ReadLive).is_ok());
    assert!(g.decide(&p, &Action::ReadHistory).is_ok());
    assert!(g.decide(&p, &Action::Read { dataset: datasets::SIGNAL_PLANS }).is_ok());
    for a in [
        Action::ReadSensors,
        Action::ReadRejected,
        Action::ReadRaw { intersection: None },
        Action::ReadEvents,
        Action::Ingest,
        Action::Read { dataset: datasets::OBSERVATIONS },
        Action::Read { dataset: "no-such-dataset" },
        Action::Manage { dataset: "department:traffic-police" },
    ] {
        assert!(g.decide(&p, &a).is_err(), "{a:?}");
    }
}

#[test]
fn writes_only_by_the_owning_departments_services() {
    let g = gov("writes");
    accounts(&g);
    let sys = Caller::system();
    let cams =
        g.authenticate_token(&g.issue_token(&sys, "tp.cams", Scopes::READ.union(Scopes::WRITE), 3600.0, "t").unwrap()).unwrap();
    let loops = g.authenticate_token(&g.issue_token(&sys, "tb.loops", Scopes::WRITE, 3600.0, "t").unwrap()).unwrap();
    assert!(g.decide(&cams, &Action::Ingest).is_ok());
    assert!(g.decide(&loops, &Action::Ingest).is_ok(), "the batch: any department's writer");
    assert!(g.decide(&Caller::anonymous(), &Action::Ingest).is_err());
    assert!(g.decide(&login(&g, "tb.analyst"), &Action::Ingest).is_err(), "a viewer does not write");
    assert!(g.decide(&cams, &Action::IngestFor { sensor: "camera:X", owner: "traffic-police" }).is_ok());
    assert!(g.decide(&loops, &Action::IngestFor { sensor: "camera:X", owner: "traffic-police" }).is_err());
    assert!(g.decide(&loops, &Action::IngestFor { sensor: "loop:Y", owner: "transport-bureau" }).is_ok());
    let read_only = g.authenticate_token(&g.issue_token(&sys, "tp.cams", Scopes::READ, 3600.0, "t").unwrap()).unwrap();
    assert!(g.decide(&read_only, &Action::IngestFor { sensor: "camera:X", owner: "traffic-police" }).is_err());
    assert!(g.decide(&Caller::anonymous(), &Action::IngestFor { sensor: "camera:X", owner: "traffic-police" }).is_err());
}

#[test]
fn restricted_reads_need_a_grant_and_revocation_is_immediate() {
    let g = gov("grants");
    accounts(&g);
    let tp_admin = login(&g, "tp.admin");
    let tb = login(&g, "tb.analyst");
    let ds = datasets::SIGNAL_EVENTS;
    assert!(g.decide(&login(&g, "tp.op"), &Action::Read { dataset: ds }).is_ok(), "the owner's staff read");
    assert!(g.decide(&tb, &Action::Read { dataset: ds }).is_err(), "another department needs a grant");
    // Only the owner's administrator grants.
    assert!(g.grant(&tb, ds, "transport-bureau", "study", brain::wall_clock() + 3600.0).is_err());
    assert!(g.grant(&login(&g, "tb.admin"), ds, "transport-bureau", "study", brain::wall_clock() + 3600.0).is_err());
    let gr = g.grant(&tp_admin, ds, "transport-bureau", "signal timing study", brain::wall_clock() + 3600.0).unwrap();
    assert!(g.decide(&tb, &Action::Read { dataset: ds }).is_ok());
    assert!(g.decide(&tb, &Action::Read { dataset: datasets::OBSERVATIONS }).is_err(), "the grant names one dataset");
    g.revoke_grant(&tp_admin, gr.id).unwrap();
    assert!(g.decide(&tb, &Action::Read { dataset: ds }).is_err(), "revoked: refused on the next request");
    // An expired grant cannot be issued, and bad fields are named.
    let e = g.grant(&tp_admin, ds, "transport-bureau", "x", 1.0).unwrap_err().to_string();
    assert!(e.contains("expires"), "{e}");
    let e = g.grant(&tp_admin, ds, "nobody", "x", brain::wall_clock() + 60.0).unwrap_err().to_string();
    assert!(e.contains("grantee"), "{e}");
    // The owner sees who read, when and why.
    let trail = g.audit_of(&tp_admin, Some(ds), 100).unwrap();
    assert!(trail.iter().any(|r| r.kind == AuditKind::Read
        && r.actor == "tb.analyst"
        && r.purpose.as_deref().is_some_and(|p| p.contains("signal timing study"))));
    assert!(trail.iter().any(|r| r.kind == AuditKind::Grant && r.detail.contains("revoked")));
    assert!(g.audit_of(&tb, None, 10).is_err(), "a viewer does not read the audit");
    assert!(governance::audit::verify(g.audit.path()).unwrap().is_ok());
}

#[test]
fn tokens_expire_and_revoke_and_are_stored_hashed() {
    let g = gov("tokens");
    accounts(&g);
    let sys = Caller::system();
    let t = g.issue_token(&sys, "tb.loops", Scopes::WRITE, 3600.0, "x").unwrap();
    assert!(g.authenticate_token(&t).is_ok());
    let mut wrong = t.clone();
    wrong.pop();
    wrong.push(if t.ends_with('0') { '1' } else { '0' });
    assert!(g.authenticate_token(&wrong).is_err());
    let id = t.split('_').nth(1).unwrap();
    g.revoke_token(&login(&g, "tb.admin"), id).unwrap();
    assert!(g.authenticate_token(&t).is_err());
    assert!(g.issue_token(&sys, "tb.loops", Scopes::ADMIN, 3600.0, "x").is_err(), "a service holds no admin scope");
    assert!(g.issue_token(&login(&g, "tp.admin"), "tb.loops", Scopes::WRITE, 3600.0, "x").is_err(), "another department");
    let bytes = std::fs::read(g.config().data_dir.join(governance::DB_FILE)).unwrap();
    let secret = t.rsplit('_').next().unwrap();
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "no raw token at rest");
    assert!(!bytes.windows(15).any(|w| w == b"a long password"), "no raw password at rest");
}

#[test]
fn sessions_log_in_out_and_wrong_passwords_fail() {
    let g = gov("sessions");
    accounts(&g);
    assert!(g.login("tp.admin", "wrong password!").is_err());
    assert!(g.login("nobody", "a long password").is_err());
    let s = g.login("tp.admin", "a long password").unwrap();
    let (c, csrf) = g.session(&s.id).unwrap();
    assert_eq!((c.role, c.department.as_deref(), csrf), (Role::Admin, Some("traffic-police"), s.csrf));
    g.logout(&s.id);
    assert!(g.session(&s.id).is_err());
}

#[test]
fn decisions_go_to_the_public_transparency_log() {
    let g = std::sync::Arc::new(gov("decisions"));
    let a = Access(g.clone());
    a.decision(&brain::Decision {
        time: 1.0,
        source: "congestion-watch".into(),
        kind: "hold-phase".into(),
        subject: "intersection:A".into(),
        reason: "queue spill-back".into(),
    });
    let t = g.transparency(10).unwrap();
    assert_eq!(t.len(), 1);
    assert!(t[0].detail.contains("queue spill-back"));
}

#[test]
fn tickets_route_answer_and_erase() {
    let g = gov("tickets");
    accounts(&g);
    let p = Caller::anonymous();
    let t = g
        .submit_ticket(
            &p,
            governance::NewTicket {
                category: "accident".into(),
                lon: Some(120.1),
                lat: Some(30.2),
                text: "crash at the bridge".into(),
                photo_ref: None,
            },
        )
        .unwrap();
    assert_eq!(t.department, "traffic-police");
    assert!(g
        .submit_ticket(&p, governance::NewTicket { category: "ufo".into(), text: "x".into(), ..Default::default() })
        .unwrap_err()
        .to_string()
        .contains("category"));
    let st = g.ticket_status(&t.number).unwrap();
    assert_eq!(st.status, "open");
    assert!(g.queue(&p, "traffic-police", 10).is_err());
    assert!(g.queue(&login(&g, "tb.analyst"), "traffic-police", 10).is_err());
    let q = g.queue(&login(&g, "tp.op"), "traffic-police", 10).unwrap();
    assert_eq!(q.len(), 1);
    assert!(g.answer_ticket(&login(&g, "tb.admin"), &t.number, "answered", Some("no")).is_err());
    g.answer_ticket(&login(&g, "tp.op"), &t.number, "answered", Some("cleared, thank you")).unwrap();
    assert_eq!(g.ticket_status(&t.number).unwrap().answer.as_deref(), Some("cleared, thank you"));
    let k = g.ticket_kpis().unwrap();
    assert_eq!((k[0].received, k[0].answered), (1, 1));
    assert_eq!(g.apply_retention(brain::wall_clock() + 8.0 * 86_400.0).unwrap(), 1);
    assert_eq!(g.queue(&login(&g, "tp.op"), "traffic-police", 10).unwrap()[0].text, "");
}
