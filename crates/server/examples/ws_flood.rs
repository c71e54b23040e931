//! Hostile WebSocket clients against a running server, and the server's memory after.
//!
//! `cargo run -p server --example ws_flood -- 127.0.0.1:8080 <server pid> [clients] [MiB]`
//!
//! Opens `clients` (default 50) streams; each sends a frame header announcing `MiB`
//! (default 45) MiB and 1 MiB of it, then stalls (an unfinished frame), and a second
//! round sends oversized complete frames. Prints the server's VmRSS from
//! `/proc/<pid>/status` and exits 1 if it is 200 MiB or more (the target).
//! Only loopback addresses are accepted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn handshake(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET /api/v1/stream HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    if !line.contains(" 101 ") {
        return Err(std::io::Error::other(format!("handshake refused: {line:?}")));
    }
    Ok(s)
}

fn frame_header(len: u64) -> Vec<u8> {
    let mut h = vec![0x82, 0x80 | 127];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[1, 2, 3, 4]);
    h
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("no such process");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ws_flood ADDR PID [CLIENTS] [MIB]");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[1].parse().expect("ADDR like 127.0.0.1:8080");
    assert!(addr.ip().is_loopback(), "ws_flood only targets loopback");
    let pid: u32 = args[2].parse().expect("PID");
    let clients: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(50);
    let mib: u64 = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(45);
    let before = rss_kib(pid);
    let start = Instant::now();
    let mut peak = before;
    let mut refused = 0;
    for round in 0..2 {
        let mut socks = Vec::new();
        for _ in 0..clients {
            match handshake(addr) {
                Ok(mut s) => {
                    let _ = s.write_all(&frame_header(mib << 20));
                    // Round 0: 1 MiB then stall; round 1: as much as the server takes in 50 ms.
                    let chunk = vec![0u8; 1 << 20];
                    let _ = s.set_write_timeout(Some(Duration::from_millis(50)));
                    let _ = s.write_all(&chunk);
                    if round == 1 {
                        for _ in 0..4 {
                            if s.write_all(&chunk).is_err() {
                                break;
                            }
                        }
                    }
                    socks.push(s);
                }
                Err(_) => refused += 1,
            }
            peak = peak.max(rss_kib(pid));
        }
        // Give the server time to buffer whatever it would buffer, sampling its RSS.
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(100));
            peak = peak.max(rss_kib(pid));
        }
        let mut closed = 0;
        for s in &mut socks {
            let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => {
                        closed += 1;
                        break;
                    }
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => break,
                    Err(_) => {
                        closed += 1;
                        break;
                    }
                }
            }
        }
        println!("round {round}: {} clients connected, {closed} closed by the server", socks.len());
    }
    let after = rss_kib(pid);
    println!(
        "ws_flood: {clients} clients x {mib} MiB frames, 2 rounds in {:.1} s; server VmRSS before {:.1} MiB, peak {:.1} MiB, after {:.1} MiB; {refused} handshakes refused",
        start.elapsed().as_secs_f64(),
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        after as f64 / 1024.0
    );
    if peak >= 200 << 10 {
        eprintln!("FAIL: server RSS peaked at {:.1} MiB (target < 200 MiB)", peak as f64 / 1024.0);
        std::process::exit(1);
    }
}
