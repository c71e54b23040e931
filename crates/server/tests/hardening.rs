//! Hostile clients against the real HTTP stack on loopback (`server::serve` with a stub
//! backend, so the transport limits are tested without a brain): content types,
//! WebSocket origin, size limit and client cap, header-read and idle timeouts, the
//! connection cap, storage health, bounded query windows and paging.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use server::HttpConfig;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn post(addr: std::net::SocketAddr, path: &str, content_type: Option<&str>, body: &str) -> (u16, String, String) {
    let ct = content_type.map(|c| format!("Content-Type: {c}\r\n")).unwrap_or_default();
    raw(
        addr,
        &format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n{ct}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
    )
}

fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"))
}

/// The problem body's code, checking its shape on the way.
fn code(body: &str) -> String {
    let v = json(body);
    assert!(v["error"]["message"].is_string(), "no message in {body}");
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("no code in {body}")).to_string()
}

#[test]
fn post_bodies_must_be_json() {
    let (addr, _rt, _) = serve_stub(HttpConfig::default());
    let body = r#"{"observations":[]}"#;
    // A form or text/plain POST is what any web page can send cross-origin: refused.
    for ct in [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data; boundary=x"), None] {
        let (status, _, b) = post(addr, "/api/v1/observations", ct, body);
        assert_eq!(status, 415, "{ct:?}: {b}");
        assert_eq!(code(&b), "unsupported_media_type");
    }
    for ct in ["application/json", "application/json; charset=utf-8", "Application/JSON"] {
        let (status, _, b) = post(addr, "/api/v1/observations", Some(ct), body);
        assert_eq!(status, 200, "{ct}: {b}");
    }
    let (status, _, b) = post(addr, "/api/v1/observations", Some("application/json"), "{\"observations\": [");
    assert_eq!((status, code(&b).as_str()), (400, "malformed"));
}

#[test]
fn oversized_body_is_413_before_it_is_read() {
    let (addr, _rt, _) = serve_stub(HttpConfig { max_body_bytes: 1000, ..Default::default() });
    let big = format!("{{\"observations\":[{}]}}", vec!["{}"; 1000].join(","));
    let (status, _, b) = post(addr, "/api/v1/observations", Some("application/json"), &big);
    assert_eq!((status, code(&b).as_str()), (413, "too_large"));
    // Chunked, so no Content-Length to refuse up front: the limit still holds.
    let chunk = format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len());
    let (status, _, b) = raw(addr, &format!("POST /api/v1/observations HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunk}"));
    assert_eq!((status, code(&b).as_str()), (413, "too_large"));
}

#[test]
fn stream_origin_is_checked() {
    let cfg = HttpConfig { ws_allowed_origins: vec!["https://ops.example.org".into()], ..Default::default() };
    let (addr, _rt, _) = serve_stub(cfg);
    // Non-browser clients send no Origin; the served origin and listed ones may connect.
    assert!(ws_handshake(addr, None).is_ok());
    assert!(ws_handshake(addr, Some(&format!("http://{addr}"))).is_ok());
    assert!(ws_handshake(addr, Some("https://ops.example.org")).is_ok());
    for foreign in ["http://evil.example", "null", "http://127.0.0.1:1", &format!("http://{addr}.evil.example")] {
        match ws_handshake(addr, Some(foreign)) {
            Err((403, body)) => assert_eq!(code(&body), "forbidden"),
            Err(other) => panic!("{foreign}: {other:?}"),
            Ok(_) => panic!("{foreign}: a foreign Origin opened the stream"),
        }
    }
    // A plain GET is not an upgrade: a 400 problem, not a crash.
    let (status, _, b) = get(addr, "/api/v1/stream");
    assert_eq!((status, code(&b).as_str()), (400, "malformed"));
}

#[test]
fn stream_client_cap() {
    let (addr, _rt, _) = serve_stub(HttpConfig { ws_max_clients: 3, ..Default::default() });
    let clients: Vec<_> = (0..3).map(|_| ws_handshake(addr, None).expect("under the cap")).collect();
    match ws_handshake(addr, None) {
        Err((503, body)) => assert_eq!(code(&body), "overloaded"),
        other => panic!("fourth client: {:?}", other.map(|_| ())),
    }
    drop(clients);
    // Slots free up once clients leave.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ws_handshake(addr, None) {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "slots never freed: {e:?}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn stream_drops_oversized_and_unfinished_frames() {
    let (addr, _rt, _) = serve_stub(HttpConfig { ws_max_message_bytes: 64 << 10, ..Default::default() });
    // A frame announcing 45 MiB: closed on the header, nothing buffered.
    let mut ws = ws_handshake(addr, None).unwrap();
    ws.get_mut().write_all(&ws_frame_header(0x2, 45 << 20)).unwrap();
    let _ = ws.get_mut().write_all(&vec![0u8; 256 << 10]);
    assert!(closed_within(&mut ws, Duration::from_secs(10)), "a 45 MiB frame was not refused");
    // Fragments that together pass the limit: closed too.
    let mut ws = ws_handshake(addr, None).unwrap();
    let mut frag = vec![0x02, 0x80 | 126, 0x80, 0x00, 1, 2, 3, 4]; // binary, not FIN, 32 KiB
    frag.extend(vec![0u8; 32 << 10]);
    let mut cont = vec![0x00, 0x80 | 126, 0x80, 0x00, 1, 2, 3, 4]; // continuation, not FIN
    cont.extend(vec![0u8; 32 << 10]);
    let _ = ws.get_mut().write_all(&frag);
    for _ in 0..4 {
        let _ = ws.get_mut().write_all(&cont);
    }
    assert!(closed_within(&mut ws, Duration::from_secs(10)), "fragments beyond the limit were buffered");
    // A small control frame is fine: the client stays connected.
    let mut ws = ws_handshake(addr, None).unwrap();
    let mut ping = ws_frame_header(0x9, 4);
    ping.extend_from_slice(&[1, 2, 3, 4]);
    ws.get_mut().write_all(&ping).unwrap();
    assert!(!closed_within(&mut ws, Duration::from_millis(600)), "a ping closed the stream");
}

/// The issue's target: 50 clients sending unfinished frames announcing 45 MiB keep the
/// server's memory bounded (the test process hosts the server).
#[test]
fn fifty_hostile_stream_clients_keep_memory_bounded() {
    let (addr, _rt, _) = serve_stub(HttpConfig::default());
    let before = rss_kib();
    let mut socks = Vec::new();
    for _ in 0..50 {
        let mut ws = ws_handshake(addr, None).unwrap();
        ws.get_mut().write_all(&ws_frame_header(0x2, 45 << 20)).unwrap();
        let _ = ws.get_mut().write_all(&vec![7u8; 1 << 20]);
        socks.push(ws);
    }
    for ws in &mut socks {
        assert!(closed_within(ws, Duration::from_secs(10)), "an unfinished 45 MiB frame was kept open");
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!("RSS grew by {grown} KiB over 50 hostile stream clients");
    assert!(grown < 64 << 10, "RSS grew by {grown} KiB");
}

#[test]
fn slow_headers_and_idle_connections_are_closed() {
    let cfg = HttpConfig {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(1500),
        ..Default::default()
    };
    let (addr, _rt, _) = serve_stub(cfg);
    // Slowloris: a request head that never ends.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(start.elapsed() < Duration::from_secs(8), "an unfinished head kept the connection open");
    // A connection that never sends anything.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let _ = s.read_to_end(&mut buf);
    assert!(start.elapsed() < Duration::from_secs(8), "a silent connection stayed open");
    // A body that stalls: the idle timeout closes it.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        b"POST /api/v1/observations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"obs",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let _ = s.read_to_end(&mut buf);
    assert!(start.elapsed() < Duration::from_secs(8), "a stalled body kept the connection open");
    // A WebSocket whose client is silent is kept alive by the server's pings only while
    // the client answers; this one never reads, but its kernel buffers take the pings, so
    // it stays until the client leaves. Normal requests still work after all that.
    let (status, _, _) = get(addr, "/healthz");
    assert_eq!(status, 200);
}

#[test]
fn connection_cap() {
    let (addr, _rt, _) = serve_stub(HttpConfig { max_connections: 4, ..Default::default() });
    let mut held: Vec<_> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            // A complete request on each keeps it a live keep-alive connection.
            s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
            let mut r = std::io::BufReader::new(s);
            assert_eq!(read_response(&mut r).0, 200);
            r
        })
        .collect();
    let (status, headers, body) = get(addr, "/healthz");
    assert_eq!(status, 503, "{headers}{body}");
    assert_eq!(code(&body), "overloaded");
    held.pop();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if get(addr, "/healthz").0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot of a closed connection was never freed");
    }
}

#[test]
fn health_reports_storage_and_503_never_says_accepted() {
    let (addr, _rt, stub) = serve_stub(HttpConfig::default());
    let (status, _, b) = get(addr, "/healthz");
    assert_eq!(status, 200);
    assert_eq!(json(&b)["storage"]["status"], "ok");
    stub.healthy.store(false, Ordering::Relaxed);
    let (status, _, b) = get(addr, "/healthz");
    assert_eq!(status, 503, "{b}");
    let h = json(&b);
    assert_eq!((h["status"].as_str(), h["storage"]["status"].as_str()), (Some("unavailable"), Some("unavailable")));
    assert!(h["storage"]["error"].as_str().unwrap().contains("disk full"));
    let (status, headers, b) = post(addr, "/api/v1/observations", Some("application/json"), r#"{"observations":[{},{}]}"#);
    assert_eq!(status, 503);
    assert!(headers.contains("retry-after"), "{headers}");
    let r = json(&b);
    assert_eq!(r["accepted"], 0, "{b}");
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == "not_stored"), "a 503 calls a record accepted: {b}");
}

#[test]
fn time_windows_are_bounded() {
    let (addr, _rt, _) = serve_stub(HttpConfig::default());
    let ok = |p: &str| assert_eq!(get(addr, p).0, 200, "{p}");
    let bad = |p: &str, want: u16| {
        let (status, _, b) = get(addr, p);
        assert_eq!(status, want, "{p}: {b}");
        let c = code(&b);
        let msg = json(&b)["error"]["message"].as_str().unwrap().to_string();
        assert_eq!(
            c,
            if want == 400 {
                "malformed"
            } else if want == 404 {
                "not_found"
            } else {
                "invalid"
            },
            "{b}"
        );
        // The message names the parameter at fault.
        assert!(["from", "to", "resolution", "intersection", "t:", "query"].iter().any(|p| msg.contains(p)), "{b}");
    };
    ok("/api/v1/signals/events?intersection=i&from=0&to=86400");
    bad("/api/v1/signals/events?intersection=i&from=0&to=86401", 422);
    bad("/api/v1/signals/events?intersection=i&from=0&to=1e300", 422);
    bad("/api/v1/signals/events?intersection=i&from=10&to=5", 422);
    bad("/api/v1/signals/events?intersection=i&from=abc", 400);
    bad("/api/v1/signals/events", 400);
    ok("/api/v1/history?scope=city&from=0&to=604800&resolution=900");
    bad("/api/v1/history?scope=city&from=0&to=604801&resolution=900", 422);
    bad("/api/v1/history?scope=city&from=0&to=86400&resolution=1", 422);
    bad("/api/v1/history?resolution=0", 422);
    bad("/api/v1/snapshot", 400);
    bad("/api/v1/snapshot?t=NaN", 422);
    let (status, _, b) = get(addr, "/api/v1/snapshot?t=5");
    assert_eq!((status, code(&b).as_str()), (404, "not_found"));
}

#[test]
fn rejected_is_paged() {
    let (addr, _rt, _) = serve_stub(HttpConfig::default());
    let (status, _, b) = get(addr, "/api/v1/rejected?before=7&limit=10");
    assert_eq!(status, 200, "{b}");
    assert_eq!(json(&b)["limit"].as_u64(), Some(10));
    // The default page is bounded, and no page may be larger than the maximum.
    assert_eq!(json(&get(addr, "/api/v1/rejected").2)["limit"].as_u64(), Some(100));
    assert_eq!(get(addr, "/api/v1/rejected?limit=0").0, 422);
    assert_eq!(get(addr, "/api/v1/rejected?limit=1001").0, 422);
    assert_eq!(get(addr, "/api/v1/rejected?before=-1").0, 400);
}
