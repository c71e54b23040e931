//! The exhaustive access test: a real brain (twin, SQLite) with governance, served on
//! loopback; every endpoint (REST, the WebSocket stream, the open-data exports, the
//! governance routes) is called as every role, without grants, with grants and after
//! their revocation. Each answer must be a success exactly when the role may read what
//! the endpoint serves, and no answer may contain a marker of data the role may not see
//! (a citizen's ticket text, a rejected record, controller event logs, the sensor
//! registry, an audit purpose) nor any credential.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use brain::{run_twin, Brain, BrainConfig, Caller, Role, Scopes};
use common::*;
use governance::{datasets, Access, GovConfig, Governance};
use twin::{Sim, SimConfig};

const M_TICKET: &str = "leakcheck-ticket-7f3a";
const M_REJECT: &str = "leakcheck-rejected-91c2";
const M_EVENTS: &str = "TimeStamp,DeviceId,EventId,Parameter";
const M_SENSORS: &str = "probe:taxi";
const M_PURPOSE: &str = "leakcheck-purpose-55";
const M_INCIDENT: &str = "leakcheck-incident-33";

/// Each role: (name, department, role, token credential?).
const ROLES: [(&str, &str, Role); 8] = [
    ("tp.admin", "traffic-police", Role::Admin),
    ("tp.operator", "traffic-police", Role::Operator),
    ("tp.cameras", "traffic-police", Role::Service),
    ("tb.admin", "transport-bureau", Role::Admin),
    ("tb.analyst", "transport-bureau", Role::Viewer),
    ("tb.loops", "transport-bureau", Role::Service),
    ("cdo.admin", "city-data-office", Role::Admin),
    ("es.operator", "emergency-services", Role::Operator),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    NoGrants,
    Granted,
    Revoked,
}

struct Who {
    name: &'static str,
    dept: Option<&'static str>,
    role: Role,
    headers: String,
}

fn send(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let ct = if body.is_empty() { String::new() } else { "Content-Type: application/json\r\n".into() };
    let (s, h, b) = raw(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}{ct}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    (s, format!("{h}\n{b}"))
}

/// What a role may read: (dataset class rule) per endpoint.
fn may(who: &Who, rule: &str, phase: Phase) -> bool {
    let staff = who.role != Role::Public;
    let granted = phase == Phase::Granted && who.dept == Some("transport-bureau");
    match rule {
        "public" => true,
        "internal" => staff,
        "signal-events" | "queue-tp" => who.dept == Some("traffic-police") || granted,
        "rejected" => who.dept == Some("city-data-office") || granted,
        // The analyst's declared purpose: in the audit of the owners of what it read or
        // tried to (its own department's audit included).
        "purpose" => matches!(who.name, "tp.admin" | "cdo.admin" | "tb.admin"),
        "admin" => who.role == Role::Admin,
        // Acting as a response unit: emergency services' operators.
        "unit" => who.dept == Some("emergency-services") && who.role == Role::Operator,
        _ => panic!("rule {rule}"),
    }
}

#[test]
fn no_role_sees_what_it_may_not() {
    let dir = std::env::temp_dir().join(format!("citybrain-leaks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut gcfg = GovConfig::new(&dir);
    gcfg.pbkdf2_iterations = 1000;
    let gov = Arc::new(Governance::open(gcfg).unwrap());
    let sys = Caller::system();
    let mut who = vec![Who { name: "public", dept: None, role: Role::Public, headers: String::new() }];
    let mut secrets = Vec::new();
    for (name, dept, role) in ROLES {
        let headers = if role == Role::Service {
            gov.put_principal(&sys, name, dept, role, None).unwrap();
            let t = gov.issue_token(&sys, name, Scopes::READ.union(Scopes::WRITE), 3600.0, "test").unwrap();
            secrets.push(t.clone());
            format!("Authorization: Bearer {t}\r\n")
        } else {
            gov.put_principal(&sys, name, dept, role, Some("leakcheck password")).unwrap();
            let s = gov.login(name, "leakcheck password").unwrap();
            secrets.push(s.id.clone());
            format!("Cookie: cb_session={}\r\nX-CSRF-Token: {}\r\n", s.id, s.csrf)
        };
        who.push(Who { name, dept: Some(dept), role, headers });
    }

    let cfg = BrainConfig { speed: 1e6, duration_s: Some(300.0), ..BrainConfig::new(dir.join("brain.sqlite")) };
    let c = city();
    let brain = Brain::open_with(c.network.clone(), &cfg, Box::new(Access(gov.clone()))).unwrap();
    let incidents = incidents::Incidents::install(
        &brain,
        incidents::IncidentsConfig::default(),
        incidents::dispatch::default_fleet(&brain.net, 3),
    );
    let unit = incidents.units(&sys).unwrap()[0].id.clone();
    corridor::Corridors::install(&brain, corridor::EngineConfig::default());
    let hub = server::Hub::new(&brain.net);
    let hub_network = hub.network_geojson().to_string();
    server::attach(&brain, hub.clone());
    let http = server::HttpConfig { web_dir: web_dir(), ..Default::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = server::router_with(hub, brain.clone(), &http, Some(gov.clone()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let h2 = http.clone();
    rt.spawn(async move { server::serve(listener, app, &h2, std::future::pending()).await.unwrap() });
    let sim = Sim::from_parts(c.network.clone(), c.demand.flows.clone(), SimConfig { record_events: true, ..Default::default() });
    run_twin(brain.clone(), sim, None, Arc::new(AtomicBool::new(false)));
    let now = brain.now();

    // Plant the markers: a citizen's ticket (routed to traffic police), and a record a
    // transport-bureau service posts for the citizen feed (refused, stored as rejected).
    let (s, b) = send(
        addr,
        "POST",
        "/api/v1/tickets",
        "",
        &format!(r#"{{"category":"accident","text":"{M_TICKET}","lon":120.15,"lat":30.25}}"#),
    );
    assert_eq!(s, 201, "{b}");
    let number = b.split("\"number\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let loops = who.iter().find(|w| w.name == "tb.loops").unwrap();
    let foreign = format!(
        r#"{{"observations":[{{"sensor":"{}","kind":"report","time":{now},"category":"other","text":"x","road":"{M_REJECT}"}}]}}"#,
        sense::CITIZEN_FEED_ID
    );
    let (s, b) = send(addr, "POST", "/api/v1/observations", &loops.headers, &foreign);
    assert_eq!(s, 403, "posting for another department's sensor: {b}");
    let net: serde_json::Value = serde_json::from_str(&hub_network).unwrap();
    let point = net["features"].as_array().unwrap().iter().find(|f| f["geometry"]["type"] == "Point").unwrap();
    let (lon, lat) = (point["geometry"]["coordinates"][0].clone(), point["geometry"]["coordinates"][1].clone());
    let report = format!(r#"{{"source":"citizen","location":{{"lon":{lon},"lat":{lat}}},"text":"{M_INCIDENT}"}}"#);
    let (s, b) = send(addr, "POST", "/api/v1/events/reports", "", &report);
    assert_eq!(s, 201, "a citizen's incident report: {b}");
    let event = b.split("\"event\":").nth(1).unwrap().trim_end_matches('}').trim().to_string();
    let inter = brain.net.intersections.iter().find(|i| i.is_signalised()).unwrap().name.clone();
    let road = brain.net.roads[0].name.clone();

    // (method, path, rule, markers it may carry)
    let gets: Vec<(String, &str)> = vec![
        ("/api/v1/network".into(), "public"),
        ("/api/v1/state".into(), "public"),
        ("/api/v1/history?scope=city&resolution=60".into(), "public"),
        (format!("/api/v1/history?scope=road:{road}&resolution=5"), "public"),
        (format!("/api/v1/snapshot?t={}", now - 10.0), "public"),
        ("/api/v1/signals".into(), "public"),
        (format!("/api/v1/signals/events?intersection={inter}&from={}&to={now}", now - 300.0), "signal-events"),
        ("/api/v1/sensors".into(), "internal"),
        ("/api/v1/rejected".into(), "rejected"),
        ("/healthz".into(), "public"),
        ("/metrics".into(), "public"),
        ("/api/v1/open".into(), "public"),
        ("/api/v1/open/road-state.csv".into(), "public"),
        ("/api/v1/open/road-state.geojson".into(), "public"),
        ("/api/v1/open/signal-plans.csv".into(), "public"),
        (format!("/api/v1/open/aggregates.csv?scope=city&from={}&to={now}", now - 3600.0), "public"),
        ("/api/v1/open/transparency.csv".into(), "public"),
        ("/api/v1/open/incidents.csv".into(), "public"),
        ("/api/v1/open/road-state.parquet".into(), "public"),
        ("/api/v1/open/signal-plans.parquet".into(), "public"),
        (format!("/api/v1/open/aggregates.parquet?scope=city&from={}&to={now}", now - 3600.0), "public"),
        ("/api/v1/open/transparency.parquet".into(), "public"),
        ("/api/v1/open/incidents.parquet".into(), "public"),
        ("/api/v1/signals/detectors".into(), "internal"),
        ("/api/v1/transparency".into(), "public"),
        ("/api/v1/catalogue".into(), "public"),
        ("/api/v1/kpis/tickets".into(), "public"),
        ("/api/v1/data-protection".into(), "public"),
        ("/api/v1/grants".into(), "public"),
        ("/api/v1/tokens".into(), "internal"),
        ("/api/v1/audit".into(), "admin"),
        ("/api/v1/queue?department=traffic-police".into(), "queue-tp"),
        ("/api/v1/auth/me".into(), "public"),
        (format!("/api/v1/tickets/{number}"), "public"),
        ("/api/v1/events".into(), "internal"),
        ("/api/v1/events?status=all".into(), "internal"),
        ("/api/v1/units".into(), "internal"),
        (format!("/api/v1/events/{event}"), "internal"),
        (format!("/api/v1/units/{unit}"), "unit"),
        ("/api/v1/corridors".into(), "internal"),
        ("/api/v1/kpis/corridors".into(), "public"),
    ];
    let markers: [(&str, &str); 6] = [
        (M_INCIDENT, "internal"),
        (M_TICKET, "queue-tp"),
        (M_REJECT, "rejected"),
        (M_EVENTS, "signal-events"),
        (M_SENSORS, "internal"),
        (M_PURPOSE, "purpose"),
    ];
    let tp_admin = gov.login("tp.admin", "leakcheck password").unwrap().caller;
    let cdo_admin = gov.login("cdo.admin", "leakcheck password").unwrap().caller;
    let mut checks = 0usize;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut leaks = Vec::new();
    let mut grant_ids = Vec::new();
    for phase in [Phase::NoGrants, Phase::Granted, Phase::Revoked] {
        if phase == Phase::Granted {
            let until = brain::wall_clock() + 600.0;
            for (by, ds) in
                [(&tp_admin, datasets::SIGNAL_EVENTS), (&tp_admin, "tickets:traffic-police"), (&cdo_admin, datasets::REJECTED)]
            {
                grant_ids.push((by.clone(), gov.grant(by, ds, "transport-bureau", "leak test", until).unwrap().id));
            }
        }
        if phase == Phase::Revoked {
            for (by, id) in &grant_ids {
                gov.revoke_grant(by, *id).unwrap();
            }
        }
        for w in &who {
            for (path, rule) in &gets {
                // The analyst declares a purpose when reading under the grant.
                let purpose = if w.name == "tb.analyst" { format!("X-Purpose: {M_PURPOSE}\r\n") } else { String::new() };
                let (status, text) = send(addr, "GET", path, &format!("{}{purpose}", w.headers), "");
                checks += 1;
                let allowed = may(w, rule, phase);
                let ok = (200..300).contains(&status);
                if ok != allowed {
                    leaks.push(format!("{phase:?} {} GET {path}: status {status}, expected allowed={allowed}", w.name));
                }
                for (m, mrule) in &markers {
                    if text.contains(m) {
                        *seen.entry(m).or_default() += 1;
                    }
                    if text.contains(m) && !may(w, mrule, phase) {
                        leaks.push(format!("{phase:?} {} GET {path}: holds marker {m}", w.name));
                    }
                }
                for s in &secrets {
                    if text.contains(s.as_str()) {
                        leaks.push(format!("{phase:?} {} GET {path}: holds a credential", w.name));
                    }
                }
            }
            // The stream: public live state for everyone.
            let h = format!(
                "GET /api/v1/stream HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{}\r\n",
                w.headers
            );
            let s = std::net::TcpStream::connect(addr).unwrap();
            let mut r = std::io::BufReader::new(s);
            std::io::Write::write_all(r.get_mut(), h.as_bytes()).unwrap();
            let (status, _, _) = read_response(&mut r);
            checks += 1;
            if status != 101 {
                leaks.push(format!("{phase:?} {} stream: status {status}", w.name));
            }
            // A unit's alert stream: only the crew (emergency services' operators).
            let h = h.replace("GET /api/v1/stream ", &format!("GET /api/v1/units/{unit}/stream "));
            let s = std::net::TcpStream::connect(addr).unwrap();
            let mut r = std::io::BufReader::new(s);
            std::io::Write::write_all(r.get_mut(), h.as_bytes()).unwrap();
            let (status, _, body) = read_response(&mut r);
            checks += 1;
            if (status == 101) != may(w, "unit", phase) {
                leaks.push(format!("{phase:?} {} unit stream: status {status}", w.name));
            }
            if status != 101 && body.contains(M_INCIDENT) {
                leaks.push(format!("{phase:?} {} unit stream refusal holds a marker", w.name));
            }
        }
    }
    // Each marker is really served to those who may see it (else its check proves nothing).
    for (m, _) in &markers {
        assert!(seen.get(m).copied().unwrap_or(0) > 0, "marker {m} never appeared in any answer");
    }
    eprintln!("markers seen in allowed answers: {seen:?}");
    eprintln!("matrix: {} findings\n{}", leaks.len(), leaks.join("\n"));
    // Writes: only the owner's writers post for a sensor; viewers and the public never.
    let lp = brain.registry.sensors().find(|(_, s)| s.kind == sense::SensorKind::Loop).unwrap().1.id.clone();
    let rec = format!(
        r#"{{"observations":[{{"sensor":"{lp}","kind":"loop","time":{now},"start":{},"end":{now},"count":3,"occupancy":0.1}}]}}"#,
        now - 60.0
    );
    for w in &who {
        let (status, body) = send(addr, "POST", "/api/v1/observations", &w.headers, &rec);
        checks += 1;
        let allowed = w.dept == Some("transport-bureau") && matches!(w.role, Role::Service | Role::Admin);
        let accepted = body.contains("\"accepted\":1");
        if (status == 200 && accepted) != allowed || (!allowed && status != 403) {
            leaks.push(format!("{} POST observations for {lp}: status {status} {body}", w.name));
        }
    }
    // A session without its CSRF token cannot change anything.
    let s = gov.login("tb.admin", "leakcheck password").unwrap();
    let (status, _) = send(addr, "POST", "/api/v1/observations", &format!("Cookie: cb_session={}\r\n", s.id), &rec);
    assert_eq!(status, 403, "CSRF");
    // A revoked token fails on the next request, on REST and on the stream.
    let t = gov.issue_token(&sys, "tb.loops", Scopes::READ, 600.0, "revoke").unwrap();
    let auth = format!("Authorization: Bearer {t}\r\n");
    assert_eq!(send(addr, "GET", "/api/v1/sensors", &auth, "").0, 200);
    gov.revoke_token(&sys, t.split('_').nth(1).unwrap()).unwrap();
    assert_eq!(send(addr, "GET", "/api/v1/sensors", &auth, "").0, 401);
    assert_eq!(send(addr, "GET", "/api/v1/state", &auth, "").0, 401, "a bad credential is never silently the public");
    // The refused record is kept as rejected, with the reason.
    let (_, rej) = send(addr, "GET", "/api/v1/rejected", &who.iter().find(|w| w.name == "cdo.admin").unwrap().headers, "");
    assert!(rej.contains(M_REJECT) && rej.contains("forbidden"), "{rej}");
    // The owner can see who read their data and for what purpose.
    let (_, audit) = send(addr, "GET", "/api/v1/audit?dataset=signal-events&limit=5000", &who[1].headers, "");
    assert!(audit.contains("tb.analyst") && audit.contains(M_PURPOSE), "{audit}");
    assert!(governance::audit::verify(gov.audit.path()).unwrap().is_ok());
    let by: BTreeMap<&str, usize> = leaks.iter().fold(BTreeMap::new(), |mut m, l| {
        *m.entry(l.split(' ').nth(1).unwrap_or("")).or_default() += 1;
        m
    });
    println!(
        "{checks} checks over {} roles and {} endpoints (REST, streams, exports), {} leaks {by:?}",
        who.len(),
        gets.len() + 3,
        leaks.len()
    );
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
}
