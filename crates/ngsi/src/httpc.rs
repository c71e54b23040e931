//! A minimal blocking HTTP/1.1 client for the two calls the capability makes out: fetching
//! an allow-listed `@context` and posting a notification. Plain `http://` only (the brain
//! talks to loopback and its own network; no TLS stack here), one request per connection.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Host, port and path of an `http://` URL.
pub fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// is supported"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h.to_string(), p.parse::<u16>().map_err(|_| format!("{url}: bad port"))?)
        }
        _ => (hostport.to_string(), 80),
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok((host, port, path.to_string()))
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (h, port).to_socket_addrs().map_err(|e| e.to_string())?.next().ok_or("no address")?;
    let s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    s.set_nodelay(true).ok();
    Ok(s)
}

/// A response: status and body.
pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Send one request and read the response (at most `max` body bytes).
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
    max: usize,
) -> Result<Resp, String> {
    let (host, port, path) = split_url(url)?;
    let mut s = connect(&host, port, timeout)?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        if v.contains('\r') || v.contains('\n') {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.take((max + 64 * 1024) as u64).read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no response head")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    let mut body = buf[end + 4..].to_vec();
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    if body.len() > max {
        return Err(format!("body over {max} bytes"));
    }
    Ok(Resp { status, body })
}

fn dechunk(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let Some(nl) = b[i..].windows(2).position(|w| w == b"\r\n") else { break };
        let line = String::from_utf8_lossy(&b[i..i + nl]).to_string();
        let n = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        i += nl + 2;
        if n == 0 || i + n > b.len() {
            break;
        }
        out.extend_from_slice(&b[i..i + n]);
        i += n + 2;
    }
    out
}

/// GET a document; a status other than 2xx is an error.
pub fn get(url: &str, timeout: Duration, max: usize) -> Result<Vec<u8>, String> {
    let r = request("GET", url, &[("Accept", "application/ld+json, application/json".into())], &[], timeout, max)?;
    if !(200..300).contains(&r.status) {
        return Err(format!("status {}", r.status));
    }
    Ok(r.body)
}
