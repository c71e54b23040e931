//! Shared helpers of the server's loopback tests: a stub backend (for transport tests
//! that need no brain), a server started with `server::serve`, raw HTTP and WebSocket.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brain::Caller;
use server::api::*;
use server::{ApiError, Backend, HttpConfig, Hub, Ingested};

/// A backend with fixed answers; `healthy` switches storage health.
pub struct Stub {
    pub healthy: AtomicBool,
}

impl Backend for Stub {
    fn ingest(&self, _c: &Caller, body: &[u8]) -> Result<Ingested, ApiError> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| ApiError::Malformed(e.to_string()))?;
        let n = v["observations"].as_array().map_or(0, |a| a.len());
        let stored = self.healthy.load(Ordering::Relaxed);
        let status = if stored { RecordStatus::Accepted } else { RecordStatus::NotStored };
        let results = (0..n).map(|index| IngestResult { index, status, error: None }).collect();
        Ok(Ingested { response: IngestResponse { accepted: if stored { n } else { 0 }, rejected: 0, results }, stored })
    }
    fn history(&self, _c: &Caller, scope: &str, from: f64, to: f64, resolution_s: f64) -> Result<HistoryResponse, ApiError> {
        Ok(HistoryResponse { scope: scope.into(), from, to, resolution_s, points: Vec::new() })
    }
    fn signals(&self, _c: &Caller) -> Result<SignalsResponse, ApiError> {
        Ok(SignalsResponse { time_s: 0.0, signals: Vec::new() })
    }
    fn sensors(&self, _c: &Caller) -> Result<SensorsResponse, ApiError> {
        Ok(SensorsResponse { count: 0, sensors: Vec::new() })
    }
    fn rejected(&self, _c: &Caller, _before: Option<u64>, limit: usize) -> Result<RejectedResponse, ApiError> {
        Ok(RejectedResponse { total_accepted: 0, total_rejected: 0, limit, next_before: None, recent: Vec::new() })
    }
    fn snapshot_at(&self, _c: &Caller, _t: f64) -> Result<Option<LiveState>, ApiError> {
        Ok(None)
    }
    fn authorize(&self, _c: &Caller, _a: brain::Action<'_>) -> Result<(), ApiError> {
        Ok(())
    }
    fn atspm_csv(&self, _c: &Caller, _i: &str, _from: f64, _to: f64) -> Result<String, ApiError> {
        Ok("TimeStamp,DeviceId,EventId,Parameter\n".into())
    }
    fn detectors_csv(&self, _c: &Caller, _i: Option<&str>) -> Result<String, ApiError> {
        Ok(server::http::DETECTOR_CSV_HEADER.into())
    }
    fn prometheus(&self, _out: &mut String) {}
    fn health(&self) -> StorageHealth {
        if self.healthy.load(Ordering::Relaxed) {
            StorageHealth::ok()
        } else {
            StorageHealth { status: HealthStatus::Unavailable, error: Some("disk full".into()) }
        }
    }
    fn now(&self) -> f64 {
        0.0
    }
}

pub fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

pub fn city() -> twin::gen::GenCity {
    twin::gen::generate(&twin::gen::GenConfig {
        rows: 3,
        cols: 3,
        peak_vehicles_per_hour: 1500.0,
        ..twin::gen::GenConfig::demo()
    })
    .unwrap()
}

/// Serve `backend` with `cfg` through `server::serve` on an ephemeral loopback port.
pub fn serve_with(hub: Arc<Hub>, backend: Arc<dyn Backend>, cfg: HttpConfig) -> (SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = server::router(hub, backend, &cfg);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { server::serve(listener, app, &cfg, std::future::pending()).await.unwrap() });
    (addr, rt)
}

/// A stub-backed server; returns the stub to flip its health.
pub fn serve_stub(cfg: HttpConfig) -> (SocketAddr, tokio::runtime::Runtime, Arc<Stub>) {
    let stub = Arc::new(Stub { healthy: AtomicBool::new(true) });
    let hub = Hub::new(&city().network);
    let (addr, rt) = serve_with(hub, stub.clone(), HttpConfig { web_dir: web_dir(), ..cfg });
    (addr, rt, stub)
}

/// One raw HTTP/1.1 exchange on a fresh connection: (status, headers lower-cased, body).
pub fn raw(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    read_response(&mut BufReader::new(s))
}

pub fn read_response(r: &mut BufReader<TcpStream>) -> (u16, String, String) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status =
        line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = String::new();
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.trim_end().is_empty() {
            break;
        }
        let l = line.trim_end().to_ascii_lowercase();
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        headers.push_str(&l);
        headers.push('\n');
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The WebSocket opening handshake on a raw socket, with optional `Origin`. Returns the
/// socket after a `101`, or the status and body of a refusal.
pub fn ws_handshake(addr: SocketAddr, origin: Option<&str>) -> Result<BufReader<TcpStream>, (u16, String)> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "GET /api/v1/stream HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(o) = origin {
        req.push_str(&format!("Origin: {o}\r\n"));
    }
    req.push_str("\r\n");
    let mut r = BufReader::new(s);
    r.get_mut().write_all(req.as_bytes()).unwrap();
    let (status, _, body) = read_response(&mut r);
    if status == 101 {
        Ok(r)
    } else {
        Err((status, body))
    }
}

/// A masked client frame header (FIN set) announcing `len` payload bytes.
pub fn ws_frame_header(opcode: u8, len: u64) -> Vec<u8> {
    let mut h = vec![0x80 | opcode];
    if len < 126 {
        h.push(0x80 | len as u8);
    } else if len <= u16::MAX as u64 {
        h.push(0x80 | 126);
        h.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        h.push(0x80 | 127);
        h.extend_from_slice(&len.to_be_bytes());
    }
    h.extend_from_slice(&[1, 2, 3, 4]); // mask key
    h
}

/// Read until the server closes the socket (EOF, reset or a close frame's EOF after).
/// Returns whether it closed within `within`.
pub fn closed_within(r: &mut BufReader<TcpStream>, within: Duration) -> bool {
    r.get_mut().set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = std::time::Instant::now() + within;
    let mut buf = [0u8; 64 << 10];
    while std::time::Instant::now() < deadline {
        match r.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Resident memory of this process, KiB.
pub fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap()
}
