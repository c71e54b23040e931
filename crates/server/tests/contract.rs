//! The API contract: a real brain (twin, SQLite) served on loopback, and a live response
//! of every endpoint (successes and errors) validated against the OpenAPI document the
//! server itself serves: the status must be documented for the route, the content type
//! must match, and a JSON body must satisfy the documented schema (`$ref`s resolved into
//! the document's components, JSON Schema 2020-12 as OpenAPI 3.1 says).

mod common;
#[path = "contract/gov.rs"]
mod gov;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use brain::{run_twin, Brain, BrainConfig};
use common::*;
use serde_json::{json, Value};
use server::client::Client;
use twin::{Sim, SimConfig};

struct Contract {
    doc: Value,
    checked: Vec<String>,
}

impl Contract {
    /// Check one exchange against the document; `route` is the documented path template.
    fn check(&mut self, method: &str, route: &str, status: u16, content_type: &str, body: &str) {
        let op = &self.doc["paths"][route][method];
        assert!(op.is_object(), "{method} {route} is not documented");
        let resp = &op["responses"][status.to_string()];
        assert!(resp.is_object(), "{method} {route}: status {status} is not documented (body {body})");
        let media = content_type.split(';').next().unwrap().trim();
        if status == 101 || (body.is_empty() && resp.get("content").is_none()) {
            self.checked.push(format!("{method} {route} {status}"));
            return;
        }
        let content = resp["content"].as_object().unwrap_or_else(|| panic!("{method} {route} {status}: no content documented"));
        let schema = &content
            .get(media)
            .unwrap_or_else(|| panic!("{method} {route} {status}: content type {media} not documented ({:?})", content.keys()))
            ["schema"];
        if media == "application/json" {
            let instance: Value =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{method} {route} {status}: not JSON ({e}): {body}"));
            self.validate(schema, &instance, &format!("{method} {route} {status}"));
        }
        self.checked.push(format!("{method} {route} {status}"));
    }

    fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        let mut root = schema.clone();
        root.as_object_mut().unwrap().insert("components".into(), self.doc["components"].clone());
        let v = jsonschema::draft202012::options().build(&root).unwrap_or_else(|e| panic!("{what}: bad schema: {e}"));
        let errors: Vec<String> = v.iter_errors(instance).take(5).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        let shown = instance.to_string();
        assert!(errors.is_empty(), "{what}: response violates the document: {errors:?}\n{}", &shown[..shown.len().min(2000)]);
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> (u16, String, String) {
    let (status, h, b) = raw(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let ct = h.lines().find_map(|l| l.strip_prefix("content-type:")).unwrap_or("").trim().to_string();
    (status, ct, b)
}

#[test]
fn every_endpoint_answers_what_the_document_says() {
    let dir = std::env::temp_dir().join(format!("citybrain-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = BrainConfig { speed: 1e6, duration_s: Some(300.0), ..BrainConfig::new(dir.join("brain.sqlite")) };
    let c = city();
    let brain = Brain::open(c.network.clone(), &cfg).unwrap();
    incidents::Incidents::install(&brain, Default::default(), incidents::dispatch::default_fleet(&brain.net, 1));
    corridor::Corridors::install(&brain, Default::default());
    let http = server::HttpConfig { web_dir: web_dir(), max_body_bytes: 1 << 16, ..Default::default() };
    let hub = server::Hub::new(&brain.net);
    server::attach(&brain, hub.clone());
    let (addr, _rt) = serve_with(hub, brain.clone(), http);
    let sim = Sim::from_parts(c.network.clone(), c.demand.flows.clone(), SimConfig { record_events: true, ..Default::default() });
    run_twin(brain.clone(), sim, None, Arc::new(AtomicBool::new(false)));

    let mut client = Client::connect(addr).unwrap();
    let doc: Value = serde_json::from_str(&client.get("/api/v1/openapi.json").unwrap().body).unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    let mut k = Contract { doc, checked: Vec::new() };
    let get = |k: &mut Contract, route: &str, path: &str| {
        let (status, ct, body) = request(addr, "GET", path, "", "");
        k.check("get", route, status, &ct, &body);
        (status, body)
    };

    get(&mut k, "/api/v1/openapi.json", "/api/v1/openapi.json");
    get(&mut k, "/api/v1/network", "/api/v1/network");
    let (_, state) = get(&mut k, "/api/v1/state", "/api/v1/state");
    let state: Value = serde_json::from_str(&state).unwrap();
    // The generated client crashed on these: null speeds and the `unknown` grade.
    assert!(state["roads"].as_array().unwrap().iter().any(|r| r["speed_kmh"].is_number()));
    let road = state["roads"][0]["id"].as_str().unwrap().to_string();
    let t_end = state["city"]["time_s"].as_f64().unwrap();
    for p in [
        "/api/v1/history",
        "/api/v1/history?scope=city&resolution=60",
        &format!("/api/v1/history?scope=road:{road}&resolution=5"),
    ] {
        assert_eq!(get(&mut k, "/api/v1/history", p).0, 200, "{p}");
    }
    assert_eq!(get(&mut k, "/api/v1/history", "/api/v1/history?scope=road:nowhere").0, 404);
    assert_eq!(get(&mut k, "/api/v1/history", "/api/v1/history?scope=what").0, 422);
    assert_eq!(get(&mut k, "/api/v1/history", "/api/v1/history?from=x").0, 400);
    assert_eq!(get(&mut k, "/api/v1/history", "/api/v1/history?from=10&to=5").0, 422);
    assert_eq!(get(&mut k, "/api/v1/snapshot", &format!("/api/v1/snapshot?t={}", t_end - 100.0)).0, 200);
    assert_eq!(get(&mut k, "/api/v1/snapshot", "/api/v1/snapshot").0, 400);
    assert_eq!(get(&mut k, "/api/v1/snapshot", "/api/v1/snapshot?t=inf").0, 422);
    let (_, signals) = get(&mut k, "/api/v1/signals", "/api/v1/signals");
    let signals: Value = serde_json::from_str(&signals).unwrap();
    let id = signals["signals"][0]["id"].as_str().unwrap().to_string();
    // The NEMA numbering is served with every signal, and the green phases are its numbers.
    let nema: Vec<u64> = signals["signals"][0]["nema"].as_array().unwrap().iter().map(|p| p["phase"].as_u64().unwrap()).collect();
    assert!(!nema.is_empty(), "{signals}");
    assert!(signals["signals"][0]["green_phases"].as_array().unwrap().iter().all(|p| nema.contains(&p.as_u64().unwrap())));
    let (status, dets) = get(&mut k, "/api/v1/signals/detectors", &format!("/api/v1/signals/detectors?intersection={id}"));
    assert_eq!(status, 200);
    assert!(dets.starts_with("DeviceId,Parameter,Phase,Function,Distance_m"), "{dets}");
    assert!(dets.contains(",Presence,0,") && dets.contains(",Advance,"), "{dets}");
    assert_eq!(get(&mut k, "/api/v1/signals/detectors", "/api/v1/signals/detectors?intersection=nowhere").0, 404);
    let (status, all) = get(&mut k, "/api/v1/signals/detectors", "/api/v1/signals/detectors");
    assert_eq!(status, 200);
    assert!(all.lines().count() > dets.lines().count(), "every controller's detectors");
    let events = format!("/api/v1/signals/events?intersection={id}&from={}&to={t_end}", t_end - 400.0);
    let (status, csv) = get(&mut k, "/api/v1/signals/events", &events);
    assert_eq!(status, 200);
    assert!(csv.lines().count() > 10, "{csv}");
    // The same window as RFC 3339 datetimes gives the same log, in time order.
    let iso = |t: f64| sense::time::format_utc(t).replace('+', "%2B");
    let by_iso = format!("/api/v1/signals/events?intersection={id}&from={}&to={}", iso(t_end - 400.0), iso(t_end));
    assert_eq!(get(&mut k, "/api/v1/signals/events", &by_iso), (200, csv.clone()), "{by_iso}");
    let stamps: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    // Phase events pair up as ATSPM's timeline reads them: greens begin (1) and end (7).
    let codes: std::collections::BTreeSet<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    for c in ["1", "7", "8", "9", "10", "11", "81", "82"] {
        assert!(codes.contains(c), "code {c} missing: {codes:?}");
    }
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "CSV not in time order");
    let bad = format!("/api/v1/signals/events?intersection={id}&from=2026-13-01T00:00:00Z");
    assert_eq!(get(&mut k, "/api/v1/signals/events", &bad).0, 400);
    assert_eq!(get(&mut k, "/api/v1/signals/events", "/api/v1/signals/events?intersection=nowhere").0, 404);
    assert_eq!(get(&mut k, "/api/v1/signals/events", &format!("/api/v1/signals/events?intersection={id}&from=0&to=1e9")).0, 422);
    let (_, sensors) = get(&mut k, "/api/v1/sensors", "/api/v1/sensors");
    let sensors: Value = serde_json::from_str(&sensors).unwrap();
    let lp = sensors["sensors"].as_array().unwrap().iter().find(|s| s["kind"] == "loop").unwrap()["id"].clone();

    let t = t_end + 10.0;
    let body = json!({"observations": [
        {"sensor": lp, "kind": "loop", "time": t, "start": t - 30.0, "end": t, "count": 4, "occupancy": 0.1, "speed": 9.5},
        {"sensor": lp, "kind": "loop", "time": t, "start": t - 30.0, "end": t, "count": 4, "occupancy": 1.7},
        {"sensor": "nope", "kind": "loop", "time": "late"}
    ]})
    .to_string();
    let json_ct = "Content-Type: application/json\r\n";
    let (status, ct, b) = request(addr, "POST", "/api/v1/observations", json_ct, &body);
    assert_eq!(status, 200, "{b}");
    k.check("post", "/api/v1/observations", status, &ct, &b);
    for (headers, body, want) in [
        (json_ct, "{\"observations\": [", 400),
        (json_ct, "[1, 2]", 400),
        ("Content-Type: text/plain\r\n", "{\"observations\": []}", 415),
        (json_ct, &format!("{{\"observations\":[{}]}}", vec!["{}"; 40_000].join(",")), 413),
    ] {
        let (status, ct, b) = request(addr, "POST", "/api/v1/observations", headers, body);
        assert_eq!(status, want, "{b}");
        k.check("post", "/api/v1/observations", status, &ct, &b);
    }
    let (_, rejected) = get(&mut k, "/api/v1/rejected", "/api/v1/rejected?limit=2");
    let rejected: Value = serde_json::from_str(&rejected).unwrap();
    assert_eq!(rejected["recent"].as_array().unwrap().len(), 2, "{rejected}");
    // Paging by cursor: two pages of one, newest first, then the end.
    let (_, p1) = get(&mut k, "/api/v1/rejected", "/api/v1/rejected?limit=1");
    let p1: Value = serde_json::from_str(&p1).unwrap();
    let next = p1["next_before"].as_u64().unwrap_or_else(|| panic!("no next page: {p1}"));
    let (_, p2) = get(&mut k, "/api/v1/rejected", &format!("/api/v1/rejected?limit=1&before={next}"));
    let p2: Value = serde_json::from_str(&p2).unwrap();
    assert_eq!(p2["recent"][0], rejected["recent"][1], "{p2}");
    // Older rejections (the twin's own, if any) continue on further pages.
    assert!(p2["next_before"].as_u64().is_none_or(|n| n < next), "{p2}");
    assert_eq!(get(&mut k, "/api/v1/rejected", "/api/v1/rejected?limit=0").0, 422);
    assert_eq!(get(&mut k, "/api/v1/rejected", "/api/v1/rejected?before=x").0, 400);

    // The stream: a plain GET is a documented 400; an upgrade a 101 whose first message is
    // a StreamMessage; a foreign Origin a documented 403.
    assert_eq!(get(&mut k, "/api/v1/stream", "/api/v1/stream").0, 400);
    let mut ws = ws_handshake(addr, None).unwrap();
    k.check("get", "/api/v1/stream", 101, "", "");
    let first = read_ws_text(&mut ws);
    let msg: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(msg["type"], "snapshot");
    k.validate(&json!({"$ref": "#/components/schemas/StreamMessage"}), &msg, "stream message");
    let (status, body) = ws_handshake(addr, Some("http://evil.example")).map(|_| (101, String::new())).unwrap_or_else(|e| e);
    k.check("get", "/api/v1/stream", status, "application/json", &body);

    let (status, _) = get(&mut k, "/healthz", "/healthz");
    assert_eq!(status, 200);
    let (_, metrics) = get(&mut k, "/metrics", "/metrics");
    assert!(metrics.contains("citybrain_observations_accepted_total"));

    incident_routes(&mut k, addr, &brain);
    corridor_routes(&mut k, addr, &brain);

    gov::governance_and_open_routes(&mut k);

    // Every documented route was exercised.
    let routes: Vec<String> = k.doc["paths"].as_object().unwrap().keys().cloned().collect();
    for r in routes {
        assert!(k.checked.iter().any(|c| c.split(' ').nth(1) == Some(r.as_str())), "{r} was not exercised");
    }
    let _ = std::io::stderr().write_all(format!("checked {} exchanges\n", k.checked.len()).as_bytes());
    std::fs::remove_dir_all(&dir).ok();
}

/// Read one unmasked server text frame (payload under 64 KiB or 64-bit length).
fn read_ws_text(r: &mut std::io::BufReader<std::net::TcpStream>) -> String {
    use std::io::Read;
    let mut h = [0u8; 2];
    r.read_exact(&mut h).unwrap();
    assert_eq!(h[0] & 0x0f, 1, "not a text frame");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut p = vec![0u8; len];
    r.read_exact(&mut p).unwrap();
    String::from_utf8(p).unwrap()
}

/// The corridor routes: start (and its errors), list, one, report.
fn corridor_routes(k: &mut Contract, addr: SocketAddr, brain: &Brain) {
    let json_ct = "Content-Type: application/json\r\n";
    let net = &brain.net;
    let (a, b) = (net.road(twin::RoadId(0)).name.clone(), net.road(twin::RoadId(1)).name.clone());
    let post = |k: &mut Contract, body: &str, headers: &str| {
        let (status, ct, b) = request(addr, "POST", "/api/v1/corridors", headers, body);
        k.check("post", "/api/v1/corridors", status, &ct, &b);
        (status, b)
    };
    let start = |vehicle: &str, priority: u32| {
        json!({"origin": a, "destination": b, "vehicle": vehicle, "priority": priority, "reason": "contract test"}).to_string()
    };
    let (status, body) = post(k, &start("ambulance", 5), json_ct);
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"].as_u64().unwrap();
    let (status, body) = post(k, &start("tank", 5), json_ct);
    assert_eq!(status, 422);
    assert!(body.contains("vehicle"), "{body}");
    assert_eq!(post(k, &start("ambulance", 0), json_ct).0, 422);
    assert_eq!(post(k, "{", json_ct).0, 400);
    assert_eq!(post(k, &start("ambulance", 5), "Content-Type: text/plain\r\n").0, 415);
    let get = |k: &mut Contract, route: &str, path: &str| {
        let (status, ct, body) = request(addr, "GET", path, "", "");
        k.check("get", route, status, &ct, &body);
        (status, body)
    };
    let (status, list) = get(k, "/api/v1/corridors", "/api/v1/corridors");
    assert_eq!(status, 200);
    assert!(list.contains("contract test"), "{list}");
    assert_eq!(get(k, "/api/v1/corridors/{id}", &format!("/api/v1/corridors/{id}")).0, 200);
    assert_eq!(get(k, "/api/v1/corridors/{id}", "/api/v1/corridors/999").0, 404);
    assert_eq!(get(k, "/api/v1/corridors/{id}", "/api/v1/corridors/x").0, 404);
    // The twin has stopped: the corridor stays planned, so there is no report yet.
    assert_eq!(get(k, "/api/v1/corridors/{id}/report", &format!("/api/v1/corridors/{id}/report")).0, 409);
    assert_eq!(get(k, "/api/v1/corridors/{id}/report", "/api/v1/corridors/999/report").0, 404);
    // The public KPIs count the accepted request, and none has run; no reason shown.
    let (status, kpis) = get(k, "/api/v1/kpis/corridors", "/api/v1/kpis/corridors");
    assert_eq!(status, 200, "{kpis}");
    let v: Value = serde_json::from_str(&kpis).unwrap();
    let requested: u64 = v["months"].as_array().unwrap().iter().map(|m| m["requested"].as_u64().unwrap()).sum();
    let run: u64 = v["months"].as_array().unwrap().iter().map(|m| m["run"].as_u64().unwrap()).sum();
    assert!(requested >= 1 && run == 0, "{kpis}");
    assert!(!kpis.contains("contract test") && v["method"]["others_delay_veh_s"].is_string(), "{kpis}");
}

/// The incident routes: reports, events, operator actions, units.
fn incident_routes(k: &mut Contract, addr: SocketAddr, brain: &Brain) {
    let json_ct = "Content-Type: application/json\r\n";
    let net = &brain.net;
    let road = twin::RoadId(0);
    let mid = incidents::detect::point_on_road(net, road, net.road_length(road) / 2.0);
    let (lon, lat) = net.georef.to_lonlat(mid);
    let post = |k: &mut Contract, route: &str, path: &str, headers: &str, body: &str| {
        let (status, ct, b) = request(addr, "POST", path, headers, body);
        k.check("post", route, status, &ct, &b);
        (status, b)
    };
    let rep = "/api/v1/events/reports";
    let camera = |kind: &str| {
        json!({"source": "camera", "type": kind, "location": {"lon": lon, "lat": lat}, "confidence": 0.9, "snapshot": "snap://1"})
            .to_string()
    };
    let (status, b) = post(k, rep, rep, json_ct, &camera("illegal_parking"));
    assert_eq!(status, 201, "{b}");
    let parking = serde_json::from_str::<Value>(&b).unwrap()["event"].as_u64().unwrap();
    let bad =
        json!({"source": "camera", "type": "collision", "location": {"lon": lon, "lat": lat}, "confidence": 2.0}).to_string();
    let (status, b) = post(k, rep, rep, json_ct, &bad);
    assert_eq!(status, 422);
    assert!(b.contains("confidence"), "{b}");
    assert_eq!(post(k, rep, rep, json_ct, "{\"source\":").0, 400);
    assert_eq!(post(k, rep, rep, "Content-Type: text/plain\r\n", &camera("debris")).0, 415);
    // Two places far from the first and from each other.
    let far = |from: &[twin::Point]| {
        (0..net.roads.len())
            .map(|k| incidents::detect::point_on_road(net, twin::RoadId(k as u32), net.road_length(twin::RoadId(k as u32)) / 2.0))
            .find(|p| from.iter().all(|q| incidents::fusion::dist(*p, *q) > 400.0))
            .unwrap()
    };
    let p1 = far(&[mid]);
    let p2 = far(&[mid, p1]);
    let (lon1, lat1) = net.georef.to_lonlat(p1);
    let (lon2, lat2) = net.georef.to_lonlat(p2);
    let citizen =
        json!({"source": "citizen", "text": "a sofa on the road", "location": {"lon": lon1, "lat": lat1}, "photo": "photo://9"})
            .to_string();
    let (status, b) = post(k, rep, rep, json_ct, &citizen);
    assert_eq!(status, 201, "{b}");
    let sofa = serde_json::from_str::<Value>(&b).unwrap()["event"].as_u64().unwrap();
    let (status, b) = post(
        k,
        rep,
        rep,
        json_ct,
        &json!({"source": "citizen", "text": "again", "location": {"lon": lon2, "lat": lat2}}).to_string(),
    );
    assert_eq!(status, 201, "{b}");
    let dup = serde_json::from_str::<Value>(&b).unwrap()["event"].as_u64().unwrap();
    assert_ne!(sofa, parking);

    let get = |k: &mut Contract, route: &str, path: &str| {
        let (status, ct, body) = request(addr, "GET", path, "", "");
        k.check("get", route, status, &ct, &body);
        (status, body)
    };
    let (status, list) = get(k, "/api/v1/events", "/api/v1/events");
    assert_eq!(status, 200);
    assert!(list.contains("illegal_parking"), "{list}");
    assert_eq!(get(k, "/api/v1/events", "/api/v1/events?status=what").0, 422);
    assert_eq!(get(k, "/api/v1/events", "/api/v1/events?limit=x").0, 400);
    let (status, d) = get(k, "/api/v1/events/{id}", &format!("/api/v1/events/{parking}"));
    assert_eq!(status, 200);
    let d: Value = serde_json::from_str(&d).unwrap();
    assert_eq!(d["event"]["status"], "detected", "a penalty type waits for an operator: {d}");
    assert_eq!(d["sources"][0]["reference"], "snap://1");
    assert_eq!(get(k, "/api/v1/events/{id}", "/api/v1/events/99999").0, 404);
    assert_eq!(get(k, "/api/v1/events/{id}", "/api/v1/events/abc").0, 404);

    let verify = "/api/v1/events/{id}/verify";
    assert_eq!(post(k, verify, &format!("/api/v1/events/{parking}/verify"), json_ct, "{}").0, 422, "no operator named");
    let (status, b) = post(k, verify, &format!("/api/v1/events/{parking}/verify"), json_ct, r#"{"operator":"ops-wang"}"#);
    assert_eq!(status, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["event"]["verified_by"], "operator:ops-wang");
    assert_eq!(v["event"]["status"], "dispatched", "{v}");
    let unit = v["event"]["unit"].as_str().unwrap().to_string();
    assert_eq!(post(k, verify, &format!("/api/v1/events/{parking}/verify"), json_ct, r#"{"operator":"ops-wang"}"#).0, 409);
    assert_eq!(post(k, verify, "/api/v1/events/77777/verify", json_ct, r#"{"operator":"x"}"#).0, 404);
    assert_eq!(post(k, verify, &format!("/api/v1/events/{parking}/verify"), "Content-Type: text/plain\r\n", "{}").0, 415);
    assert_eq!(post(k, verify, &format!("/api/v1/events/{parking}/verify"), json_ct, "{").0, 400);

    let (status, b) = get(k, "/api/v1/units", "/api/v1/units");
    assert_eq!(status, 200);
    assert!(b.contains(&unit), "{b}");
    let (status, b) = get(k, "/api/v1/units/{id}", &format!("/api/v1/units/{unit}"));
    assert_eq!(status, 200);
    let view: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(view["alert"]["id"].as_u64(), Some(parking), "{view}");
    assert!(view["route"].as_array().unwrap().len() >= 2, "{view}");
    assert_eq!(get(k, "/api/v1/units/{id}", "/api/v1/units/nobody").0, 404);
    assert_eq!(get(k, "/api/v1/units/{id}/stream", &format!("/api/v1/units/{unit}/stream")).0, 400);
    for action in ["accept", "on_scene", "cleared"] {
        let route = format!("/api/v1/units/{{id}}/{action}");
        let (status, b) = post(k, &route, &format!("/api/v1/units/{unit}/{action}"), "", "");
        assert_eq!(status, 200, "{action}: {b}");
        assert_eq!(post(k, &route, &format!("/api/v1/units/nobody/{action}"), "", "").0, 404);
    }
    assert_eq!(post(k, "/api/v1/units/{id}/accept", &format!("/api/v1/units/{unit}/accept"), "", "").0, 409);

    let merge = "/api/v1/events/{id}/merge";
    assert_eq!(post(k, merge, &format!("/api/v1/events/{dup}/merge"), json_ct, r#"{"operator":"ops"}"#).0, 422);
    let (status, b) =
        post(k, merge, &format!("/api/v1/events/{dup}/merge"), json_ct, &format!(r#"{{"operator":"ops","into":{sofa}}}"#));
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        post(k, merge, &format!("/api/v1/events/{dup}/merge"), json_ct, &format!(r#"{{"operator":"ops","into":{sofa}}}"#)).0,
        409
    );
    let reject = "/api/v1/events/{id}/reject";
    let (status, b) =
        post(k, reject, &format!("/api/v1/events/{sofa}/reject"), json_ct, r#"{"operator":"ops","note":"no sofa"}"#);
    assert_eq!(status, 200, "{b}");
    assert_eq!(post(k, reject, &format!("/api/v1/events/{sofa}/reject"), json_ct, r#"{"operator":"ops"}"#).0, 409);
    let close = "/api/v1/events/{id}/close";
    let (status, b) = post(k, close, &format!("/api/v1/events/{parking}/close"), json_ct, r#"{"operator":"ops"}"#);
    assert_eq!(status, 200, "{b}");
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["event"]["status"], "closed");
    assert_eq!(post(k, close, &format!("/api/v1/events/{parking}/close"), json_ct, r#"{"operator":"ops"}"#).0, 409);
    // Every transition is in the store's journal.
    let stored = brain.journal("incident", Some(&parking.to_string()), 100).unwrap();
    assert!(stored.iter().any(|e| e.body.contains("\"to\":\"verified\"") && e.body.contains("ops-wang")), "{stored:?}");
    assert!(stored.iter().any(|e| e.body.contains("\"to\":\"closed\"")));
}
