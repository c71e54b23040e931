//! NGSI-LD batch upserts over real HTTP and a real SQLite file: the attribute history a
//! batch leaves (replacing, an id twice in one batch, `options=update` keeping an
//! unchanged attribute out of the history) is the same with and without subscriptions
//! on the tenant (the two ways `batch_write` works), and survives a reopen.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use brain::{Brain, BrainConfig, Caller, Role, Scopes};
use common::{city, raw, web_dir};
use governance::{Access, GovConfig, Governance};
use serde_json::{json, Value};

/// A brain with governance and the NGSI-LD capability on `dir` (kept across calls), served
/// on loopback; a city data office token.
fn serve(dir: &std::path::Path) -> (SocketAddr, tokio::runtime::Runtime, String) {
    let gov = Arc::new(Governance::open(GovConfig::new(dir)).unwrap());
    let brain =
        Brain::open_with(city().network, &BrainConfig::new(dir.join("brain.sqlite")), Box::new(Access(gov.clone()))).unwrap();
    let ncfg = ngsi::NgsiConfig { db_path: Some(dir.join("ngsi.sqlite")), ..Default::default() };
    ngsi::Ngsi::install(&brain, ncfg).unwrap();
    let sys = Caller::system();
    let _ = gov.put_principal(&sys, "cdo.batch", "city-data-office", Role::Service, None);
    let token = gov.issue_token(&sys, "cdo.batch", Scopes::READ.union(Scopes::WRITE), 3600.0, "test").unwrap();
    let http = server::HttpConfig { web_dir: web_dir(), ..Default::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = server::router_with(server::Hub::new(&brain.net), brain.clone(), &http, Some(gov.clone()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { server::serve(listener, app, &http, std::future::pending()).await.unwrap() });
    (addr, rt, format!("Bearer {token}"))
}

fn call(addr: SocketAddr, auth: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let (s, _, b) = raw(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    (s, b)
}

fn counter(n: u32, count: f64, x: f64) -> Value {
    json!({"id": format!("urn:ngsi-ld:Counter:{n}"), "type": "Counter",
           "count": {"type": "Property", "value": count, "observedAt": format!("2026-12-06T08:00:{:02}Z", count as u32)},
           "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [x, 30.25]}}})
}

/// The history of one entity: (count values, how many location instances).
fn history(addr: SocketAddr, auth: &str, n: u32) -> (Vec<f64>, usize) {
    let (s, b) = call(addr, auth, "GET", &format!("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Counter:{n}"), "");
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    let counts = v["count"].as_array().map(|a| a.iter().filter_map(|i| i["value"].as_f64()).collect()).unwrap_or_default();
    (counts, v["location"].as_array().map_or(0, Vec::len))
}

/// Upsert rounds on entity `n`, as (batch, query); the same on every tenant state.
fn rounds(addr: SocketAddr, auth: &str, n: u32) {
    let steps: [(Value, &str); 3] = [
        (json!([counter(n, 1.0, 120.15)]), ""),
        // Replacing, with the id twice: the later item wins, one change for the batch.
        (json!([counter(n, 2.0, 120.15), counter(n, 3.0, 120.16)]), ""),
        // Update: only `count` changes, the unchanged location adds no history.
        (
            json!([{"id": format!("urn:ngsi-ld:Counter:{n}"), "type": "Counter",
                 "count": {"type": "Property", "value": 4.0, "observedAt": "2026-12-06T08:00:04Z"}}]),
            "?options=update",
        ),
    ];
    for (batch, q) in steps {
        let (s, b) = call(addr, auth, "POST", &format!("/ngsi-ld/v1/entityOperations/upsert{q}"), &batch.to_string());
        assert!(s == 201 || s == 204, "{s} {b}");
    }
}

/// A receiver that answers 204 and hands over each request body.
fn receiver() -> (SocketAddr, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut line, mut len) = (String::new(), 0);
            while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut b = vec![0; len];
            let _ = r.read_exact(&mut b);
            let _ = (&s).write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&b).into_owned());
        }
    });
    (addr, rx)
}

#[test]
fn batch_history_is_the_same_with_and_without_subscriptions() {
    let dir = std::env::temp_dir().join(format!("citybrain-ngsi-batch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (addr, rt, auth) = serve(&dir);
    // No subscription on the tenant.
    rounds(addr, &auth, 1);
    let (counts, locations) = history(addr, &auth, 1);
    // 1; then 3 (the batch's last item); then 4.
    assert_eq!(counts, vec![1.0, 3.0, 4.0]);
    assert_eq!(locations, 2, "the update left the location alone");
    // With a subscription (on entity 2 only): the same history, and the notifications.
    let (rcv, notes) = receiver();
    let sub = json!({"type": "Subscription", "entities": [{"type": "Counter", "id": "urn:ngsi-ld:Counter:2"}],
                     "watchedAttributes": ["count"], "notification": {"endpoint": {"uri": format!("http://{rcv}/n")}}});
    let (s, b) = call(addr, &auth, "POST", "/ngsi-ld/v1/subscriptions", &sub.to_string());
    assert_eq!(s, 201, "{b}");
    rounds(addr, &auth, 2);
    assert_eq!(history(addr, &auth, 2), (vec![1.0, 3.0, 4.0], 2));
    let mut seen = Vec::new();
    while let Ok(n) = notes.recv_timeout(Duration::from_secs(10)) {
        let v: Value = serde_json::from_str(&n).unwrap();
        assert_eq!(v["data"][0]["id"], "urn:ngsi-ld:Counter:2", "{n}");
        seen.push(v["data"][0]["count"]["value"].as_f64().unwrap());
        if seen.len() == 3 {
            break;
        }
    }
    seen.sort_by(f64::total_cmp);
    assert_eq!(seen, vec![1.0, 3.0, 4.0], "one notification per batch");
    // Entity 1 is kept as the last write left it, and both histories survive a reopen.
    drop(rt);
    let (addr, _rt, auth) = serve(&dir);
    assert_eq!(history(addr, &auth, 1), (vec![1.0, 3.0, 4.0], 2));
    assert_eq!(history(addr, &auth, 2), (vec![1.0, 3.0, 4.0], 2));
    let (s, b) = call(addr, &auth, "GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Counter:1", "");
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!((v["count"]["value"].as_f64(), &v["location"]["value"]["coordinates"][0]), (Some(4.0), &json!(120.16)), "{b}");
    let _ = std::fs::remove_dir_all(&dir);
}
