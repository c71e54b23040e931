//! The live brain over real HTTP on loopback, with a real SQLite file: ingestion (good,
//! bad and malformed records, oversized bodies), state, history, replay, OpenAPI,
//! health, metrics, and restart continuity.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use brain::{run_twin, Brain, BrainConfig};
use server::client::Client;
use twin::{Sim, SimConfig};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("citybrain-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A twin-driven brain whose day starts at 07:00 today in the city (as in the demo).
fn config(dir: &std::path::Path) -> BrainConfig {
    let day_start_s = sense::CityZone::default().day_at(brain::wall_clock(), 7.0).unwrap();
    BrainConfig {
        speed: 1e6,
        duration_s: Some(400.0),
        clock: brain::ClockSource::Driven,
        day_start_s,
        ..BrainConfig::new(dir.join("brain.sqlite"))
    }
}

fn city() -> twin::gen::GenCity {
    twin::gen::generate(&twin::gen::GenConfig {
        rows: 3,
        cols: 3,
        peak_vehicles_per_hour: 1500.0,
        ..twin::gen::GenConfig::demo()
    })
    .unwrap()
}

/// Serve `brain` on an ephemeral loopback port; the runtime lives as long as the test.
fn serve(brain: Arc<Brain>, max_body: usize) -> (SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = server::HttpConfig {
        web_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web"),
        max_body_bytes: max_body,
        ..Default::default()
    };
    let hub = server::Hub::new(&brain.net);
    server::attach(&brain, hub.clone());
    let app = server::router(hub, brain.clone(), &cfg);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { server::serve(listener, app, &cfg, std::future::pending()).await.unwrap() });
    (addr, rt)
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn live_brain_over_http() {
    let dir = temp_dir("http");
    let cfg = config(&dir);
    let c = city();
    let brain = Brain::open(c.network.clone(), &cfg).unwrap();
    let (addr, _rt) = serve(brain.clone(), 1 << 20);
    // The twin plays 400 s of city as fast as it can, through the ingestion pipeline.
    let sim = Sim::from_parts(c.network.clone(), c.demand.flows.clone(), SimConfig { record_events: true, ..Default::default() });
    let steps = run_twin(brain.clone(), sim, None, Arc::new(AtomicBool::new(false)));
    assert_eq!(steps, 400);
    let mut http = Client::connect(addr).unwrap();

    let r = http.get("/healthz").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(json(&r.body)["storage"]["status"], "ok", "{}", r.body);

    let state = json(&http.get("/api/v1/state").unwrap().body);
    let d0 = cfg.day_start_s;
    assert_eq!(state["city"]["time_s"].as_f64().unwrap(), d0 + 400.0);
    assert_eq!(state["roads"].as_array().unwrap().len(), c.network.roads.len());
    assert!(state["roads"].as_array().unwrap().iter().any(|r| r["speed_kmh"].is_number()), "no road has a speed");

    // A batch with two good records and one bad one: the bad one alone is rejected.
    let sensors = json(&http.get("/api/v1/sensors").unwrap().body);
    let loops: Vec<String> = sensors["sensors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "loop")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .take(2)
        .collect();
    let t = d0 + 430.0;
    let rec = |sensor: &str, occ: f64| serde_json::json!({"sensor": sensor, "kind": "loop", "time": t, "start": t - 30.0, "end": t, "count": 4, "occupancy": occ, "speed": 9.5});
    let body = serde_json::json!({"observations": [rec(&loops[0], 0.1), rec(&loops[1], 1.7), rec(&loops[1], 0.2)]});
    let r = http.post_json("/api/v1/observations", body.to_string().as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let rep = json(&r.body);
    assert_eq!((rep["accepted"].as_u64(), rep["rejected"].as_u64()), (Some(2), Some(1)), "{rep}");
    assert_eq!(rep["results"][1]["status"], "rejected");
    assert!(rep["results"][1]["error"].as_str().unwrap().contains("observations[1].occupancy"), "{rep}");
    let rejected = json(&http.get("/api/v1/rejected").unwrap().body);
    assert!(
        rejected["recent"].as_array().unwrap().iter().any(|r| r["error"].as_str().unwrap().contains("occupancy")),
        "{rejected}"
    );

    // Malformed JSON is a 400, an oversized body a 413; the connection stays usable.
    assert_eq!(http.post_json("/api/v1/observations", b"{\"observations\": [").unwrap().status, 400);
    // The 413 comes as soon as the declared length is read, before the body is: send the
    // head and a first part only, as a client reading while it writes would see it.
    let huge = format!("{{\"observations\":[{}]}}", vec![rec(&loops[0], 0.1).to_string(); 20_000].join(","));
    assert!(huge.len() > 1 << 20);
    let mut big = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /api/v1/observations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        huge.len()
    );
    std::io::Write::write_all(&mut big, head.as_bytes()).unwrap();
    std::io::Write::write_all(&mut big, &huge.as_bytes()[..4096]).unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(big), &mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");

    // History: the city and a road; bad scopes are 400 with the field named.
    let h = json(&http.get("/api/v1/history?scope=city&resolution=60").unwrap().body);
    assert!(h["points"].as_array().unwrap().iter().any(|p| p["speed_kmh"].is_number()), "{h}");
    let road = state["roads"].as_array().unwrap().iter().find(|r| r["speed_kmh"].is_number()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let h = json(&http.get(&format!("/api/v1/history?scope=road:{road}&resolution=5")).unwrap().body);
    assert!(h["points"].as_array().unwrap().iter().any(|p| p["speed_kmh"].is_number()), "{h}");
    let r = http.get("/api/v1/history?scope=road:no-such-road").unwrap();
    // An unknown road is a 404, a reversed window a 422, both naming the parameter.
    assert_eq!(r.status, 404);
    assert!(r.body.contains("scope"), "{}", r.body);
    assert_eq!(json(&r.body)["error"]["code"], "not_found");
    assert_eq!(http.get("/api/v1/history?from=10&to=5").unwrap().status, 422);

    // Replay: the snapshot nearest a past time.
    let snap = json(&http.get(&format!("/api/v1/snapshot?t={}", d0 + 200.0)).unwrap().body);
    assert_eq!(snap["city"]["time_s"].as_f64().unwrap(), d0 + 200.0);

    let signals = json(&http.get("/api/v1/signals").unwrap().body);
    assert!(!signals["signals"].as_array().unwrap().is_empty());
    // The controller's ATSPM hi-res log as CSV, for ATSPM tools.
    let id = signals["signals"][0]["id"].as_str().unwrap().to_string();
    let csv = http.get(&format!("/api/v1/signals/events?intersection={id}")).unwrap();
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "TimeStamp,DeviceId,EventId,Parameter");
    // Real dates in the city's time zone with the offset: today, from 07:00.
    let day = sense::CityZone::default().format_log(d0);
    assert!(lines[1].starts_with(&day[..15]), "{} vs {day}", lines[1]);
    assert!(lines[1].split(',').next().unwrap().ends_with("+08:00"), "{}", lines[1]);
    let codes: std::collections::BTreeSet<&str> = lines[1..].iter().filter_map(|l| l.split(',').nth(2)).collect();
    for code in ["1", "8", "9", "10", "11"] {
        assert!(codes.contains(code), "event code {code} missing from {codes:?}");
    }
    assert_eq!(http.get("/api/v1/signals/events?intersection=nowhere").unwrap().status, 404);
    // The network: RFC 7946 WGS84 by default (the generated city sits at the default
    // origin, West Lake), local metres on request, anything else a 422.
    let net = json(&http.get("/api/v1/network").unwrap().body);
    assert!(net.get("crs").is_none(), "RFC 7946 has no crs member");
    let p = &net["features"][0]["geometry"]["coordinates"][0];
    let (lon, lat) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
    assert!((120.0..120.3).contains(&lon) && (30.1..30.4).contains(&lat), "{lon},{lat}");
    let local = json(&http.get("/api/v1/network?crs=local").unwrap().body);
    assert_eq!(local["georef"]["frame"], "local");
    let (x, y) = (c.network.roads[0].points[0].x, c.network.roads[0].points[0].y);
    let q = &local["features"][0]["geometry"]["coordinates"][0];
    assert!((q[0].as_f64().unwrap() - x).abs() <= 0.05 && (q[1].as_f64().unwrap() - y).abs() <= 0.05);
    assert_eq!(http.get("/api/v1/network?crs=EPSG:3857").unwrap().status, 422);
    let api = json(&http.get("/api/v1/openapi.json").unwrap().body);
    assert!(api["paths"]["/api/v1/observations"]["post"].is_object());
    let m = http.get("/metrics").unwrap().body;
    assert!(m.contains("citybrain_observations_rejected_total 1"), "{m}");
    // Prometheus naming: every `_total` metric is a counter (promtool rejects a `_total` gauge).
    for line in m.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut w = line.split_whitespace().skip(2);
        let (name, kind) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
        assert!(!name.ends_with("_total") || kind == "counter", "{line}");
    }
    let page = http.get("/").unwrap();
    assert!(page.status == 200 && page.body.contains("<canvas id=\"map\""));

    // Restart: a new brain on the same file continues the city clock after the stored data.
    drop(http);
    let last = brain.stored_until().unwrap();
    drop(brain);
    let again = Brain::open(c.network.clone(), &cfg).unwrap();
    assert_eq!(again.stored_until(), Some(last));
    let sim = Sim::from_parts(c.network.clone(), c.demand.flows.clone(), SimConfig { record_events: true, ..Default::default() });
    drop(again);
    let cfg2 = BrainConfig { duration_s: Some(20.0), ..config(&dir) };
    let again = Brain::open(c.network.clone(), &cfg2).unwrap();
    run_twin(again.clone(), sim, None, Arc::new(AtomicBool::new(false)));
    assert!(again.now() > last, "clock {} did not continue after {last}", again.now());
    std::fs::remove_dir_all(&dir).ok();
}

/// `serve` without a twin: the brain runs on the wall clock; observations posted over
/// HTTP (with RFC 3339 or Unix-seconds times) become live state at the next tick.
#[test]
fn brain_without_twin_publishes_posted_observations() {
    let dir = temp_dir("notwin");
    let c = city();
    let brain = Brain::open(c.network.clone(), &BrainConfig::new(dir.join("brain.sqlite"))).unwrap();
    let (addr, _rt) = serve(brain.clone(), 1 << 20);
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (b, s) = (brain.clone(), stop.clone());
        std::thread::spawn(move || brain::run_publisher(b, std::time::Duration::from_millis(200), s))
    };
    let mut http = Client::connect(addr).unwrap();
    let sensors = json(&http.get("/api/v1/sensors").unwrap().body);
    let lp =
        sensors["sensors"].as_array().unwrap().iter().find(|s| s["kind"] == "loop").unwrap()["id"].as_str().unwrap().to_string();
    let road = lp.trim_start_matches("loop:").rsplit_once(':').unwrap().0.to_string();
    let t = brain::wall_clock().floor() - 1.0;
    let zone = sense::CityZone::default();
    let body = serde_json::json!({"observations": [
        {"sensor": lp, "kind": "loop", "time": zone.format(t), "start": t - 30.0, "end": zone.format(t), "count": 5, "occupancy": 0.1, "speed": 4.0}
    ]});
    assert_eq!(json(&http.post_json("/api/v1/observations", body.to_string().as_bytes()).unwrap().body)["accepted"], 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let state = loop {
        let s = json(&http.get("/api/v1/state").unwrap().body);
        if s["city"]["time_s"].as_f64().is_some_and(|now| now >= t) {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "state never reached t={t}: {s}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let r = state["roads"].as_array().unwrap().iter().find(|r| r["id"] == road.as_str()).unwrap();
    assert!((r["speed_kmh"].as_f64().unwrap() - 14.4).abs() < 0.05, "{r}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    publisher.join().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
