//! NGSI-LD over real HTTP on loopback (governance deciding, a real SQLite file): context
//! source registrations (create, retrieve, query, update, delete, per tenant, durable),
//! `orderBy`, `scopeQ`, nested `pick`/`omit` on linked entities, scope updates and
//! purges with `drop`/`keep`; malformed input answered 4xx.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use brain::{Brain, BrainConfig, Caller, Role, Scopes};
use common::{city, raw, web_dir};
use governance::{Access, GovConfig, Governance};
use serde_json::{json, Value};

struct World {
    addr: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
    gov: Arc<Governance>,
    dir: std::path::PathBuf,
}

fn world(name: &str) -> World {
    let dir = std::env::temp_dir().join(format!("citybrain-ngsiq-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let gov = Arc::new(Governance::open(GovConfig::new(&dir)).unwrap());
    let brain =
        Brain::open_with(city().network, &BrainConfig::new(dir.join("brain.sqlite")), Box::new(Access(gov.clone()))).unwrap();
    let g = gov.clone();
    let ncfg = ngsi::NgsiConfig {
        db_path: Some(dir.join("ngsi.sqlite")),
        tenants: Some(Arc::new(move |t: &str| g.departments().iter().any(|d| d.id == t))),
        ..Default::default()
    };
    ngsi::Ngsi::install(&brain, ncfg).unwrap();
    let hub = server::Hub::new(&brain.net);
    let http = server::HttpConfig { web_dir: web_dir(), ..Default::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = server::router_with(hub, brain.clone(), &http, Some(gov.clone()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { server::serve(listener, app, &http, std::future::pending()).await.unwrap() });
    World { addr, rt: Some(rt), gov, dir }
}

fn token(gov: &Governance, name: &str, dept: &str) -> String {
    gov.put_principal(&Caller::system(), name, dept, Role::Service, None).unwrap();
    gov.issue_token(&Caller::system(), name, Scopes::READ.union(Scopes::WRITE), 3600.0, "test").unwrap()
}

struct Client {
    addr: SocketAddr,
    auth: String,
}

impl Client {
    /// One request: (status, lower-cased headers, body).
    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
        let mut h = format!("Authorization: {}\r\n", self.auth);
        for (k, v) in headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        raw(
            self.addr,
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\n{h}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                self.addr,
                body.len()
            ),
        )
    }
    fn json(&self, path: &str) -> Value {
        let (s, _, b) = self.call("GET", path, &[], "");
        assert_eq!(s, 200, "{path}: {b}");
        serde_json::from_str(&b).unwrap()
    }
    fn post(&self, path: &str, v: &Value) -> (u16, String) {
        let (s, _, b) = self.call("POST", path, &[JSON], &v.to_string());
        (s, b)
    }
}

fn problem(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    v["type"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("").to_string()
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect()
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

#[test]
fn context_source_registrations_are_stored_per_tenant_and_durable() {
    let mut w = world("csr");
    let c = Client { addr: w.addr, auth: format!("Bearer {}", token(&w.gov, "cdo.registry", "city-data-office")) };
    let reg = json!({"id": "urn:ngsi-ld:ContextSourceRegistration:1", "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Vehicle"}], "propertyNames": ["speed"]},
                        {"entities": [{"idPattern": ".*downtown$", "type": "OffStreetParking"}]}],
        "endpoint": "http://source.example:1026", "expiresAt": "2035-11-29T14:53:15Z"});
    let (s, h, b) = c.call("POST", "/ngsi-ld/v1/csourceRegistrations", &[JSON], &reg.to_string());
    assert_eq!(s, 201, "{b}");
    assert!(h.contains("location: /ngsi-ld/v1/csourceregistrations/urn:ngsi-ld:contextsourceregistration:1"), "{h}");
    let (s, b) = c.post("/ngsi-ld/v1/csourceRegistrations", &reg);
    assert_eq!((s, problem(&b).as_str()), (409, "AlreadyExists"));

    let r = c.json("/ngsi-ld/v1/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:1");
    assert_eq!(r["information"][0]["entities"][0]["type"], "Vehicle");
    assert_eq!(r["endpoint"], "http://source.example:1026");
    // Queries match on entity type, id pattern and attribute names.
    assert_eq!(c.json("/ngsi-ld/v1/csourceRegistrations?type=Vehicle").as_array().unwrap().len(), 1);
    assert_eq!(c.json("/ngsi-ld/v1/csourceRegistrations?type=Building").as_array().unwrap().len(), 0);
    assert_eq!(c.json("/ngsi-ld/v1/csourceRegistrations?type=Vehicle&attrs=colour").as_array().unwrap().len(), 0);
    let q = "/ngsi-ld/v1/csourceRegistrations?type=OffStreetParking&id=urn:ngsi-ld:OffStreetParking:downtown";
    assert_eq!(c.json(q).as_array().unwrap().len(), 1);
    let (s, h, _) = c.call("GET", "/ngsi-ld/v1/csourceRegistrations?type=Vehicle", &[("Accept", "*/*")], "");
    assert!(s == 200 && h.contains("content-type: application/json") && h.contains("link: <"), "{h}");
    for accept in ["application/xml", "application/geo+json"] {
        let (s, _, _) = c.call("GET", "/ngsi-ld/v1/csourceRegistrations?type=Vehicle", &[("Accept", accept)], "");
        assert_eq!(s, 406, "{accept}");
    }
    // What the brain does not do is said, not pretended.
    let (s, _, b) = c.call("GET", "/ngsi-ld/v1/csourceRegistrations?type=Vehicle&csf=x%3D%3D1", &[], "");
    assert_eq!((s, problem(&b).as_str()), (422, "OperationNotSupported"));
    assert_eq!(c.json("/ngsi-ld/v1/csourceSubscriptions"), json!([]));
    let (s, b) = c.post("/ngsi-ld/v1/csourceSubscriptions", &json!({"type": "Subscription"}));
    assert_eq!((s, problem(&b).as_str()), (422, "OperationNotSupported"));

    // Another tenant sees none of it.
    let (s, _, b) = c.call("GET", "/ngsi-ld/v1/csourceRegistrations?type=Vehicle", &[("NGSILD-Tenant", "transport-bureau")], "");
    assert!(s == 403 || (s == 200 && b == "[]"), "{s} {b}");

    // Update: members replaced, the whole validated.
    let p = "/ngsi-ld/v1/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:1";
    let (s, _, b) = c.call("PATCH", p, &[JSON], r#"{"endpoint": "http://other.example:1026", "registrationName": "fleet"}"#);
    assert_eq!(s, 204, "{b}");
    let r = c.json(p);
    assert_eq!((r["endpoint"].as_str(), r["registrationName"].as_str()), (Some("http://other.example:1026"), Some("fleet")));
    let (s, _, b) = c.call("PATCH", p, &[JSON], r#"{"endpoint": "not a uri"}"#);
    assert_eq!((s, problem(&b).as_str()), (400, "BadRequestData"));
    assert_eq!(c.json(p)["endpoint"], "http://other.example:1026");

    // Hostile bodies are 4xx.
    for bad in [
        json!({"type": "ContextSourceRegistration", "information": [], "endpoint": "http://x"}),
        json!({"type": "ContextSourceRegistration", "information": [{"entities": [{"id": "urn:a:b"}]}], "endpoint": "http://x"}),
        json!({"type": "ContextSourceRegistration", "information": [{"entities": [{"type": "T"}]}]}),
        json!({"type": "Registration", "information": [{"entities": [{"type": "T"}]}], "endpoint": "http://x"}),
        json!([1, 2]),
    ] {
        let (s, b) = c.post("/ngsi-ld/v1/csourceRegistrations", &bad);
        assert!((400..500).contains(&s), "{bad}: {s} {b}");
    }
    let (s, _, _) = c.call("GET", "/ngsi-ld/v1/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:nope", &[], "");
    assert_eq!(s, 404);

    // Durable: a reopened capability holds it; a deletion is durable too.
    w.rt.take();
    let n = ngsi::Ngsi::open(ngsi::NgsiConfig { db_path: Some(w.dir.join("ngsi.sqlite")), ..Default::default() }).unwrap();
    assert_eq!(n.count_registrations(""), 1);
    drop(n);
    let mut w2 = world_on(&w.dir);
    let c = Client { addr: w2.addr, auth: c.auth.clone() };
    let (s, _, _) = c.call("DELETE", p, &[], "");
    assert_eq!(s, 204);
    let (s, _, _) = c.call("DELETE", p, &[], "");
    assert_eq!(s, 404);
    w2.rt.take();
    let n = ngsi::Ngsi::open(ngsi::NgsiConfig { db_path: Some(w.dir.join("ngsi.sqlite")), ..Default::default() }).unwrap();
    assert_eq!(n.count_registrations(""), 0);
    let _ = std::fs::remove_dir_all(&w.dir);
}

/// A second brain on the same directory (governance, accounts and `ngsi.sqlite` kept).
fn world_on(dir: &std::path::Path) -> World {
    let gov = Arc::new(Governance::open(GovConfig::new(dir)).unwrap());
    let brain =
        Brain::open_with(city().network, &BrainConfig::new(dir.join("brain.sqlite")), Box::new(Access(gov.clone()))).unwrap();
    let ncfg = ngsi::NgsiConfig { db_path: Some(dir.join("ngsi.sqlite")), ..Default::default() };
    ngsi::Ngsi::install(&brain, ncfg).unwrap();
    let hub = server::Hub::new(&brain.net);
    let http = server::HttpConfig { web_dir: web_dir(), ..Default::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = server::router_with(hub, brain.clone(), &http, Some(gov.clone()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { server::serve(listener, app, &http, std::future::pending()).await.unwrap() });
    World { addr, rt: Some(rt), gov, dir: dir.to_path_buf() }
}

#[test]
fn order_scopes_linked_projections_and_purges() {
    let w = world("query");
    let c = Client { addr: w.addr, auth: format!("Bearer {}", token(&w.gov, "cdo.app", "city-data-office")) };
    // Created in the order 2, 1, 3 (a few ms apart: creation times have ms resolution).
    for (i, name) in [(2, "B"), (1, "A"), (3, "C")] {
        std::thread::sleep(std::time::Duration::from_millis(5));
        let e = json!({"id": format!("urn:ngsi-ld:Building:{i}"), "type": "Building", "scope": format!("/City/Zone{i}"),
            "name": {"type": "Property", "value": name, "sub": {"type": "Property", "value": i}},
            "locatedAt": {"type": "Relationship", "object": format!("urn:ngsi-ld:City:{i}")}});
        assert_eq!(c.post("/ngsi-ld/v1/entities", &e).0, 201);
        let city = json!({"id": format!("urn:ngsi-ld:City:{i}"), "type": "City",
            "name": {"type": "Property", "value": "Paris"}, "population": {"type": "Property", "value": 2}});
        assert_eq!(c.post("/ngsi-ld/v1/entities", &city).0, 201);
    }
    // Not an entity at all: an invalid request; a type naming a JSON-LD keyword (`type`
    // is `@type` in the core context): bad data. Neither is stored.
    let (s, b) = c.post("/ngsi-ld/v1/entities", &json!([]));
    assert_eq!((s, problem(&b).as_str()), (400, "InvalidRequest"), "{b}");
    let (s, b) = c.post("/ngsi-ld/v1/entities", &json!({"id": "urn:ngsi-ld:Building:kw", "type": "type"}));
    assert_eq!((s, problem(&b).as_str()), (400, "BadRequestData"), "{b}");
    assert_eq!(c.call("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:kw", &[], "").0, 404);
    let q = |s: &str| c.json(&format!("/ngsi-ld/v1/entities?type=Building&{s}"));
    let building = |i: i32| format!("urn:ngsi-ld:Building:{i}");
    assert_eq!(ids(&q("orderBy=name")), [building(1), building(2), building(3)]);
    assert_eq!(ids(&q("orderBy=name;desc")), [building(3), building(2), building(1)]);
    assert_eq!(ids(&q("orderBy=createdAt")), [building(2), building(1), building(3)]);
    assert_eq!(ids(&q("orderBy=name.sub;desc&limit=2")), [building(3), building(2)]);
    assert_eq!(ids(&q("orderBy=name&offset=1&limit=1")), [building(2)]);
    let (s, _, _) = c.call("GET", "/ngsi-ld/v1/entities?type=Building&orderBy=name;sideways", &[], "");
    assert_eq!(s, 400);

    // scopeQ with wildcards.
    assert_eq!(ids(&q("scopeQ=/City/Zone1")), [building(1)]);
    assert_eq!(q("scopeQ=/City/%23").as_array().unwrap().len(), 3);
    assert_eq!(q("scopeQ=/City/%2B").as_array().unwrap().len(), 3);
    assert_eq!(q("scopeQ=/Town/%23").as_array().unwrap().len(), 0);
    let (s, _, _) = c.call("GET", "/ngsi-ld/v1/entities?type=Building&scopeQ=City", &[], "");
    assert_eq!(s, 400);

    // Nested pick: the linked entity shows only what its projection names; flat follows
    // only the relationships picked.
    let v = q("id=urn:ngsi-ld:Building:1&join=inline&pick=id,locatedAt%7Bid,name%7D");
    assert_eq!(
        v[0],
        json!({"id": building(1), "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:1",
              "entity": {"id": "urn:ngsi-ld:City:1", "name": {"type": "Property", "value": "Paris"}}}})
    );
    let v = q("id=urn:ngsi-ld:Building:1&join=flat&pick=id,name");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    let v = q("id=urn:ngsi-ld:Building:1&join=flat&omit=name,locatedAt%7Bname%7D");
    assert_eq!(v[1], json!({"id": "urn:ngsi-ld:City:1", "type": "City", "population": {"type": "Property", "value": 2}}));
    // The same through POST /entityOperations/query.
    let body = json!({"type": "Query", "entities": [{"type": "Building", "id": building(1)}], "join": "inline", "joinLevel": 1});
    let (s, b) = c.post("/ngsi-ld/v1/entityOperations/query", &body);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!((s, v[0]["locatedAt"]["entity"]["id"].as_str()), (200, Some("urn:ngsi-ld:City:1")), "{b}");
    // A flat retrieval with nothing linked is the entity itself.
    let (s, _, b) = c.call("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:City:1?join=flat", &[], "");
    assert!(s == 200 && b.starts_with('{'), "{b}");

    // Scope: append replaces (or adds, noOverwrite), update needs one, delete drops it.
    let p = "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:1";
    let (s, _, _) = c.call("POST", &format!("{p}/attrs?options=noOverwrite"), &[JSON], r#"{"scope": "/Other"}"#);
    assert_eq!(s, 204);
    assert_eq!(c.json(p)["scope"], json!(["/City/Zone1", "/Other"]));
    let (s, _, _) = c.call("PATCH", &format!("{p}/attrs"), &[JSON], r#"{"scope": "/Only", "type": "Landmark"}"#);
    assert_eq!(s, 204);
    let e = c.json(p);
    assert_eq!((e["scope"].as_str(), e["type"].clone()), (Some("/Only"), json!(["Building", "Landmark"])));
    let (s, _, _) = c.call("DELETE", &format!("{p}/attrs/scope"), &[], "");
    assert_eq!(s, 204);
    assert!(c.json(p).get("scope").is_none());
    let (s, _, _) = c.call("PATCH", &format!("{p}/attrs"), &[JSON], r#"{"scope": "/Only"}"#);
    assert_eq!(s, 207);
    // Update Entity Attributes (ETSI GS CIM 009 5.6.2) appends an attribute, or a datasetId
    // instance, the entity lacks (the suite's 011_01_03, 046_2x).
    let frag = r#"{"height": {"type": "Property", "value": 300},
        "width": {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:w"}}"#;
    let (s, _, b) = c.call("PATCH", &format!("{p}/attrs"), &[JSON], frag);
    assert_eq!(s, 204, "{b}");
    let frag = r#"{"width": {"type": "Property", "value": 3}, "height": {"type": "Property", "value": 301}}"#;
    let (s, _, b) = c.call("PATCH", &format!("{p}/attrs"), &[JSON], frag);
    assert_eq!(s, 204, "{b}");
    let e = c.json(p);
    assert_eq!(e["height"]["value"], 301, "{e}");
    let widths = e["width"].as_array().unwrap_or_else(|| panic!("two width instances: {e}"));
    assert_eq!(widths.len(), 2, "{e}");
    for bad in ["scope", "@invalid"] {
        let (s, _, _) = c.call("PUT", &format!("{p}/attrs/{bad}"), &[JSON], r#"{"type":"Property","value":1}"#);
        assert_eq!(s, 400, "{bad}");
    }

    // Purge: drop and keep exclude each other; keep leaves only those attributes.
    let (s, _, b) = c.call("DELETE", "/ngsi-ld/v1/entities?type=City&drop=name&keep=population", &[], "");
    assert_eq!((s, problem(&b).as_str()), (400, "BadRequestData"));
    let (s, _, _) = c.call("DELETE", "/ngsi-ld/v1/entities?type=City&keep=population", &[], "");
    assert_eq!(s, 204);
    let city = c.json("/ngsi-ld/v1/entities/urn:ngsi-ld:City:2");
    assert!(city.get("name").is_none() && city.get("population").is_some(), "{city}");
    let (s, _, _) = c.call("DELETE", "/ngsi-ld/v1/entities?type=City&drop=population", &[], "");
    assert_eq!(s, 204);
    assert!(c.json("/ngsi-ld/v1/entities/urn:ngsi-ld:City:2").get("population").is_none());
    let (s, _, _) = c.call("DELETE", "/ngsi-ld/v1/entities?local=true", &[], "");
    assert_eq!(s, 204);
    assert_eq!(q("local=true").as_array().unwrap().len(), 0);
    let _ = std::fs::remove_dir_all(&w.dir);
}
