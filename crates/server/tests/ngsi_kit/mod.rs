//! A brain with the NGSI-LD capability served on loopback, anonymous callers acting as
//! the city data office, and a loopback receiver that records what is posted to it
//! (headers and body): the rig of the subscription and temporal tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use brain::{Brain, BrainConfig};
use governance::{Access, GovConfig, Governance};
use serde_json::Value;

use crate::common::{city, raw, web_dir};

pub struct World {
    pub addr: SocketAddr,
    /// The server's runtime; `None` once [`World::stop`] has stopped it.
    pub rt: Option<tokio::runtime::Runtime>,
    pub gov: Arc<Governance>,
    pub dir: std::path::PathBuf,
}

impl World {
    /// Stop serving (the data directory stays until the world is dropped).
    pub fn stop(&mut self) {
        self.rt.take();
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `temporal_max_instances`: the temporal page (instances per entity).
pub fn world(name: &str, temporal_max_instances: usize) -> World {
    world_as(name, Some("city-data-office"), temporal_max_instances)
}

/// A world whose anonymous NGSI-LD callers act as `anonymous_as` (`None`: refused).
pub fn world_as(name: &str, anonymous_as: Option<&str>, temporal_max_instances: usize) -> World {
    let dir = std::env::temp_dir().join(format!("citybrain-ngsikit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let gov = Arc::new(Governance::open(GovConfig::new(&dir)).unwrap());
    let cfg = BrainConfig::new(dir.join("brain.sqlite"));
    let brain = Brain::open_with(city().network, &cfg, Box::new(Access(gov.clone()))).unwrap();
    let g = gov.clone();
    let ncfg = ngsi::NgsiConfig {
        db_path: Some(dir.join("ngsi.sqlite")),
        contexts: ngsi::ContextConfig { allow: vec!["http://127.0.0.1:".into()], preload: vec![], fetch_timeout_s: 2.0 },
        tenants: Some(Arc::new(move |t: &str| g.departments().iter().any(|d| d.id == t))),
        temporal_max_instances,
        ..Default::default()
    };
    ngsi::Ngsi::install(&brain, ncfg).unwrap();
    let hub = server::Hub::new(&brain.net);
    let http =
        server::HttpConfig { web_dir: web_dir(), ngsi_anonymous_as: anonymous_as.map(str::to_string), ..Default::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = server::router_with(hub, brain.clone(), &http, Some(gov.clone()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { server::serve(listener, app, &http, std::future::pending()).await.unwrap() });
    World { addr, rt: Some(rt), gov, dir }
}

/// One request: (status, lower-cased headers, body).
pub fn call(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    let mut h = String::new();
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    raw(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{h}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

pub fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

pub fn problem(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    v["type"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("").to_string()
}

pub const LD: (&str, &str) = ("Content-Type", "application/ld+json");
pub const JSON: (&str, &str) = ("Content-Type", "application/json");

/// A request the receiver got: lower-cased header lines and the body as JSON.
pub struct Posted {
    pub headers: String,
    pub body: Value,
}

/// A loopback HTTP receiver answering 204 to everything, reporting each request.
pub fn receiver() -> (String, mpsc::Receiver<Posted>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            let mut headers = String::new();
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                let l = line.trim_end().to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                headers.push_str(&l);
                headers.push('\n');
            }
            let mut b = vec![0; len];
            let _ = r.read_exact(&mut b);
            let body = serde_json::from_slice(&b).unwrap_or(Value::Null);
            let _ = tx.send(Posted { headers, body });
            let mut s = s;
            let _ = write!(s, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    (format!("http://{addr}/notify"), rx)
}

/// The next notification, or a panic naming what was awaited.
pub fn next(rx: &mpsc::Receiver<Posted>, what: &str) -> Posted {
    rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("no notification: {what}"))
}

/// No notification within a second.
pub fn none(rx: &mpsc::Receiver<Posted>, what: &str) {
    if let Ok(p) = rx.recv_timeout(Duration::from_secs(1)) {
        panic!("unexpected notification ({what}): {}", p.body);
    }
}
