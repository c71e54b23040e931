//! NGSI-LD over real HTTP on loopback, with a real SQLite file and governance deciding:
//! entities, contexts (inline, Link, allow-listed loopback server, unavailable), batch,
//! subscriptions with a loopback notification receiver, tenants as departments,
//! durability across a reopen, and malformed input answered 4xx.

mod common;
mod ngsi_kit;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::Duration;

use brain::{Caller, Role, Scopes};
use governance::Governance;
use ngsi_kit::{call, problem, world_as, World, JSON, LD};
use serde_json::{json, Value};

/// A world with the default temporal page.
fn world(name: &str, anonymous_as: Option<&str>) -> World {
    world_as(name, anonymous_as, ngsi::NgsiConfig::default().temporal_max_instances)
}

fn token(gov: &Governance, name: &str, dept: &str) -> String {
    gov.put_principal(&Caller::system(), name, dept, Role::Service, None).unwrap();
    gov.issue_token(&Caller::system(), name, Scopes::READ.union(Scopes::WRITE), 3600.0, "test").unwrap()
}

/// Method, path, headers, body.
type BadCase<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

/// A one-shot-per-connection HTTP server on loopback answering every request with `body`,
/// reporting each request's body on the channel.
fn tiny_server(body: &'static str) -> (SocketAddr, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut b = vec![0; len];
            let _ = r.read_exact(&mut b);
            let _ = tx.send(String::from_utf8_lossy(&b).into_owned());
            let mut s = s;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/ld+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, rx)
}

#[test]
fn entities_contexts_batch_and_subscriptions_end_to_end() {
    let w = world("e2e", None);
    let a = w.addr;
    let t = token(&w.gov, "cdo.gateway", "city-data-office");
    let auth = format!("Bearer {t}");
    let au = ("Authorization", auth.as_str());

    // Anonymous callers are the public: the default tenant is internal.
    let (s, _, b) = call(a, "GET", "/ngsi-ld/v1/entities?type=Vehicle", &[], "");
    assert_eq!((s, problem(&b).as_str()), (403, "Forbidden"), "{b}");

    // A user context served on loopback (allow-listed) through a Link header.
    let (ctx_addr, _) =
        tiny_server(r#"{"@context":{"Vehicle":"https://example.org/ns#Vehicle","speed":"https://example.org/ns#speed"}}"#);
    let link =
        format!("<http://{ctx_addr}/ctx.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"");
    let e = json!({"id":"urn:ngsi-ld:Vehicle:A1","type":"Vehicle","speed":{"type":"Property","value":42,"unitCode":"KMH"},
                   "location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[120.15,30.25]}}});
    let (s, h, b) = call(a, "POST", "/ngsi-ld/v1/entities", &[au, JSON, ("Link", &link)], &e.to_string());
    assert_eq!(s, 201, "{b}");
    assert!(h.contains("location: /ngsi-ld/v1/entities/urn:ngsi-ld:vehicle:a1"), "{h}");
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/entities", &[au, JSON, ("Link", &link)], &e.to_string());
    assert_eq!((s, problem(&b).as_str()), (409, "AlreadyExists"));

    // Without the user context, the type is another IRI: the core @vocab's.
    let (s, _, b) = call(a, "GET", "/ngsi-ld/v1/entities?type=Vehicle", &[au], "");
    assert_eq!((s, b.as_str()), (200, "[]"));
    let (s, _, b) = call(a, "GET", "/ngsi-ld/v1/entities?type=https://example.org/ns%23Vehicle", &[au], "");
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v[0]["type"], "https://example.org/ns#Vehicle", "compacted with the core only: {b}");
    // With it: compact terms, q and georel.
    let q = "/ngsi-ld/v1/entities?type=Vehicle&q=speed%3E40&georel=near;maxDistance==1000&geometry=Point&coordinates=%5B120.151,30.251%5D";
    let (s, h, b) = call(a, "GET", q, &[au, ("Link", &link)], "");
    assert_eq!(s, 200, "{b}");
    assert!(h.contains("link: <http://127.0.0.1"), "{h}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v[0]["speed"]["value"], 42, "{b}");
    assert_eq!(v[0]["type"], "Vehicle");
    let (_, _, b) = call(a, "GET", &q.replace("maxDistance==1000", "maxDistance==10"), &[au, ("Link", &link)], "");
    assert_eq!(b, "[]", "200 m away is not within 10 m");
    let (_, _, b) = call(
        a,
        "GET",
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:A1?options=keyValues",
        &[au, ("Link", &link), ("Accept", "application/ld+json")],
        "",
    );
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["speed"], 42, "{b}");
    assert!(v["@context"].is_string(), "{b}");

    // A context nobody may fetch.
    let bad = "<https://example.org/ctx.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"";
    let (s, _, b) = call(a, "GET", "/ngsi-ld/v1/entities?type=Vehicle", &[au, ("Link", bad)], "");
    assert_eq!((s, problem(&b).as_str()), (503, "LdContextNotAvailable"), "{b}");

    // A subscription notifies a loopback receiver, without blocking the update.
    let (rcv, notes) = tiny_server("");
    let sub = json!({"type":"Subscription","entities":[{"type":"Vehicle"}],"watchedAttributes":["speed"],
                     "notification":{"endpoint":{"uri":format!("http://{rcv}/notify")},"format":"keyValues"},
                     "@context":format!("http://{ctx_addr}/ctx.jsonld")});
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/subscriptions", &[au, LD], &sub.to_string());
    assert_eq!(s, 201, "{b}");
    let (s, _, b) = call(
        a,
        "PATCH",
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:A1/attrs",
        &[au, JSON, ("Link", &link)],
        r#"{"speed":{"type":"Property","value":55}}"#,
    );
    assert_eq!(s, 204, "{b}");
    let n: Value = serde_json::from_str(&notes.recv_timeout(Duration::from_secs(10)).expect("a notification")).unwrap();
    assert_eq!(n["type"], "Notification");
    assert_eq!(n["data"][0]["speed"], 55, "{n}");

    // Batch upsert: one bad item gives 207 with a ProblemDetails for it.
    let batch = json!([{"id":"urn:ngsi-ld:Vehicle:B1","type":"Vehicle","speed":{"type":"Property","value":1}},
                       {"id":"not a uri","type":"Vehicle"}]);
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/entityOperations/upsert", &[au, JSON, ("Link", &link)], &batch.to_string());
    assert_eq!(s, 207, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["success"], json!(["urn:ngsi-ld:Vehicle:B1"]));
    assert!(v["errors"][0]["error"]["type"].as_str().unwrap().ends_with("BadRequestData"), "{b}");
    let (s, h, _) = call(a, "GET", "/ngsi-ld/v1/entities?type=Vehicle&count=true&limit=0", &[au, ("Link", &link)], "");
    assert_eq!(s, 200);
    assert!(h.contains("ngsild-results-count: 2"), "{h}");

    // Discovery and the temporal history of the updated attribute.
    let (_, _, b) = call(a, "GET", "/ngsi-ld/v1/types", &[au, ("Link", &link)], "");
    assert!(b.contains("\"Vehicle\""), "{b}");
    let (_, _, b) = call(a, "GET", "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Vehicle:A1", &[au, ("Link", &link)], "");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["speed"].as_array().map(Vec::len), Some(2), "both values are kept: {b}");
    let _ = std::fs::remove_dir_all(&w.dir);
}

#[test]
fn tenants_are_departments_and_governance_decides() {
    let w = world("tenants", None);
    let a = w.addr;
    let tb = token(&w.gov, "tb.gateway", "transport-bureau");
    let tp = token(&w.gov, "tp.gateway", "traffic-police");
    let (tb, tp) = (format!("Bearer {tb}"), format!("Bearer {tp}"));
    let e = r#"{"id":"urn:ngsi-ld:Device:loop1","type":"Device","name":{"type":"Property","value":"loop 1"}}"#;
    // Its own tenant: allowed.
    let (s, _, b) =
        call(a, "POST", "/ngsi-ld/v1/entities", &[("Authorization", &tb), JSON, ("NGSILD-Tenant", "transport-bureau")], e);
    assert_eq!(s, 201, "{b}");
    // Another department's tenant: governance refuses, without a grant.
    let (s, _, b) = call(
        a,
        "GET",
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Device:loop1",
        &[("Authorization", &tp), ("NGSILD-Tenant", "transport-bureau")],
        "",
    );
    assert_eq!(s, 403, "{b}");
    let (s, _, b) =
        call(a, "POST", "/ngsi-ld/v1/entities", &[("Authorization", &tp), JSON, ("NGSILD-Tenant", "transport-bureau")], e);
    assert_eq!(s, 403, "{b}");
    // An unknown tenant.
    let (s, _, b) =
        call(a, "GET", "/ngsi-ld/v1/entities?type=Device", &[("Authorization", &tb), ("NGSILD-Tenant", "nobody")], "");
    assert_eq!((s, problem(&b).as_str()), (404, "NonexistentTenant"), "{b}");
    // The default tenant is not the bureau's tenant.
    let (s, _, _) = call(a, "GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Device:loop1", &[("Authorization", &tb)], "");
    assert_eq!(s, 404);
}

#[test]
fn anonymous_mode_entities_survive_a_reopen_and_malformed_input_is_4xx() {
    let mut w = world("anon", Some("city-data-office"));
    let a = w.addr;
    let e = r#"{"id":"urn:ngsi-ld:Building:1","type":"Building","height":{"type":"Property","value":30}}"#;
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/entities", &[JSON], e);
    assert_eq!(s, 201, "{b}");

    let bad: &[BadCase] = &[
        ("POST", "/ngsi-ld/v1/entities", &[JSON], "{"),
        ("POST", "/ngsi-ld/v1/entities", &[JSON], "[]"),
        ("POST", "/ngsi-ld/v1/entities", &[JSON], r#"{"id":"x","type":"T"}"#),
        ("POST", "/ngsi-ld/v1/entities", &[JSON], r#"{"id":"urn:a:b","type":"T","@context":{}}"#),
        ("POST", "/ngsi-ld/v1/entities", &[LD], r#"{"id":"urn:a:b","type":"T"}"#),
        ("POST", "/ngsi-ld/v1/entities", &[("Content-Type", "text/plain")], r#"{"id":"urn:a:b","type":"T"}"#),
        ("POST", "/ngsi-ld/v1/entities", &[LD], r#"{"id":"urn:a:b","type":"T","@context":[[[[[[[[[[[{}]]]]]]]]]]]}"#),
        (
            "POST",
            "/ngsi-ld/v1/entities",
            &[JSON],
            r#"{"id":"urn:a:b","type":"T","location":{"type":"GeoProperty","value":{"type":"Polygon","coordinates":[[[0,0],[1,1]]]}}}"#,
        ),
        ("POST", "/ngsi-ld/v1/entities", &[JSON], r#"{"id":"urn:a:b","type":"T","p":{"type":"Relationship","object":"no uri"}}"#),
        ("GET", "/ngsi-ld/v1/entities?type=T&q=a%3D%3D", &[], ""),
        ("GET", "/ngsi-ld/v1/entities?type=T&georel=near&geometry=Point&coordinates=%5B1,2%5D", &[], ""),
        ("GET", "/ngsi-ld/v1/entities?type=T&georel=within&geometry=Polygon&coordinates=%5B%5B%5B0,0%5D%5D%5D", &[], ""),
        ("GET", "/ngsi-ld/v1/entities?type=T&limit=x", &[], ""),
        ("GET", "/ngsi-ld/v1/entities/not-a-uri", &[], ""),
        ("GET", "/ngsi-ld/v1/entities", &[], ""),
        ("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:1", &[("Accept", "text/html")], ""),
        ("POST", "/ngsi-ld/v1/entityOperations/create", &[JSON], "{}"),
        ("POST", "/ngsi-ld/v1/subscriptions", &[JSON], r#"{"type":"Subscription"}"#),
        ("GET", "/ngsi-ld/v1/entities?type=T", &[("NGSILD-Tenant", "no-such-department")], ""),
    ];
    for (m, p, h, body) in bad {
        let (s, _, b) = call(a, m, p, h, body);
        assert!((400..500).contains(&s), "{m} {p} {body}: {s} {b}");
        assert!(!problem(&b).is_empty(), "{m} {p}: a ProblemDetails body, got {b}");
    }
    // The one 5xx the spec prescribes: a context that cannot be had is 503 LdContextNotAvailable.
    let (s, _, b) =
        call(a, "POST", "/ngsi-ld/v1/entities", &[LD], r#"{"id":"urn:a:b","type":"T","@context":"https://evil.example/c"}"#);
    assert_eq!((s, problem(&b).as_str()), (503, "LdContextNotAvailable"), "{b}");
    w.stop();
    // Reopen the capability on the same file: the entity is there.
    let n = ngsi::Ngsi::open(ngsi::NgsiConfig { db_path: Some(w.dir.join("ngsi.sqlite")), ..Default::default() }).unwrap();
    assert_eq!(n.count_entities(""), 1);
    let _ = std::fs::remove_dir_all(&w.dir);
}
