//! A minimal blocking HTTP/1.1 client for the two calls the capability makes out: fetching
//! an allow-listed `@context` (one request per connection) and posting a notification
//! (keep-alive connections reused per endpoint through a [`Pool`]). Plain `http://` only
//! (the brain talks to loopback and its own network; no TLS stack here).
//!
//! A pooled connection is only ever reused for the same host and port it was opened to
//! (the URL's, which the caller checked against its allow-list), never redirected. A
//! request sent on a reused connection that the server had closed (no byte of a response
//! came back) is sent once more on a fresh connection; any other failure is the caller's.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// An idle connection and since when it has been idle.
type Idle = (BufReader<TcpStream>, Instant);

/// Idle keep-alive connections, per `host:port`.
pub struct Pool {
    idle: Mutex<HashMap<(String, u16), Vec<Idle>>>,
    /// Idle connections kept per endpoint.
    per_endpoint: usize,
    /// Endpoints with idle connections kept (beyond it, a connection is closed after use).
    max_endpoints: usize,
    /// An idle connection older than this is closed instead of reused.
    max_idle: Duration,
}

impl Pool {
    pub fn new(per_endpoint: usize) -> Pool {
        Pool { idle: Mutex::new(HashMap::new()), per_endpoint, max_endpoints: 1024, max_idle: Duration::from_secs(30) }
    }

    fn take(&self, host: &str, port: u16) -> Option<BufReader<TcpStream>> {
        let mut g = crate::lock(&self.idle);
        let list = g.get_mut(&(host.to_string(), port))?;
        while let Some((c, at)) = list.pop() {
            if at.elapsed() < self.max_idle && still_open(c.get_ref()) && c.buffer().is_empty() {
                return Some(c);
            }
        }
        None
    }

    fn put(&self, host: &str, port: u16, c: BufReader<TcpStream>) {
        let mut g = crate::lock(&self.idle);
        let key = (host.to_string(), port);
        if !g.contains_key(&key) && g.len() >= self.max_endpoints {
            g.retain(|_, v| !v.is_empty());
            if g.len() >= self.max_endpoints {
                return;
            }
        }
        let list = g.entry(key).or_default();
        if list.len() < self.per_endpoint {
            list.push((c, Instant::now()));
        }
    }

    /// Idle connections held (tests).
    pub fn idle(&self) -> usize {
        crate::lock(&self.idle).values().map(Vec::len).sum()
    }
}

/// Whether the peer has not closed an idle connection (nothing to read, no EOF).
fn still_open(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let r = s.peek(&mut [0u8; 1]);
    let open = matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).is_ok() && open
}

/// How a failed exchange ended: `stale` when no byte of a response arrived because the
/// peer had closed (or reset) the connection, which a reused connection may retry.
struct Failure {
    msg: String,
    stale: bool,
}

fn fail(msg: impl Into<String>) -> Failure {
    Failure { msg: msg.into(), stale: false }
}

fn closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof)
}

fn head_of(method: &str, host: &str, port: u16, path: &str, headers: &[(&str, String)], len: usize, keep: bool) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    let conn = if keep { "" } else { "Connection: close\r\n" };
    let _ = write!(head, "{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{conn}Content-Length: {len}\r\n");
    for (k, v) in headers {
        if v.contains('\r') || v.contains('\n') || k.contains('\r') || k.contains('\n') {
            continue;
        }
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Limit of a response head.
const MAX_HEAD: usize = 64 * 1024;

/// Send one request on `c` and read its response; `Ok((resp, reusable))`.
fn exchange(c: &mut BufReader<TcpStream>, head: &[u8], body: &[u8], max: usize) -> Result<(Resp, bool), Failure> {
    let s = c.get_mut();
    let sent = s.write_all(head).and_then(|_| s.write_all(body)).and_then(|_| s.flush());
    if let Err(e) = sent {
        // The peer closed before taking the request: nothing was answered.
        return Err(Failure { msg: e.to_string(), stale: closed(&e) });
    }
    let (status, keep, framing) = loop {
        let mut line = Vec::new();
        match c.by_ref().take(MAX_HEAD as u64).read_until(b'\n', &mut line) {
            Ok(0) => return Err(Failure { msg: "connection closed before a response".into(), stale: true }),
            Err(e) if closed(&e) && line.is_empty() => return Err(Failure { msg: e.to_string(), stale: true }),
            Err(e) => return Err(fail(e.to_string())),
            Ok(_) => {}
        }
        let status_line = String::from_utf8_lossy(&line).to_string();
        let mut words = status_line.split_whitespace();
        let version = words.next().unwrap_or("");
        let status: u16 = words.next().and_then(|s| s.parse().ok()).ok_or_else(|| fail("bad status line"))?;
        if !version.starts_with("HTTP/1.") {
            return Err(fail("bad status line"));
        }
        let mut keep = version == "HTTP/1.1";
        let (mut length, mut chunked) = (None, false);
        let mut total = line.len();
        loop {
            let mut h = Vec::new();
            let n = c
                .by_ref()
                .take((MAX_HEAD - total.min(MAX_HEAD)) as u64)
                .read_until(b'\n', &mut h)
                .map_err(|e| fail(e.to_string()))?;
            total += n;
            if n == 0 || total >= MAX_HEAD {
                return Err(fail("no response head"));
            }
            let h = String::from_utf8_lossy(&h);
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let Some((k, v)) = h.split_once(':') else { continue };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
            match k.as_str() {
                "content-length" => length = Some(v.parse::<usize>().map_err(|_| fail("bad content-length"))?),
                "transfer-encoding" => chunked = v.contains("chunked"),
                "connection" if v.split(',').any(|t| t.trim() == "close") => keep = false,
                "connection" if v.split(',').any(|t| t.trim() == "keep-alive") => keep = true,
                _ => {}
            }
        }
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let framing = if status == 204 || status == 304 {
            Some(0)
        } else if chunked {
            None
        } else {
            match length {
                Some(n) => Some(n),
                None => {
                    keep = false;
                    Some(usize::MAX)
                }
            }
        };
        break (status, keep, framing);
    };
    let body = match framing {
        Some(usize::MAX) => {
            let mut b = Vec::new();
            c.by_ref().take(max as u64 + 1).read_to_end(&mut b).map_err(|e| fail(e.to_string()))?;
            b
        }
        Some(n) => {
            if n > max {
                return Err(fail(format!("body over {max} bytes")));
            }
            let mut b = vec![0; n];
            c.read_exact(&mut b).map_err(|e| fail(e.to_string()))?;
            b
        }
        None => dechunk(c, max)?,
    };
    if body.len() > max {
        return Err(fail(format!("body over {max} bytes")));
    }
    Ok((Resp { status, body }, keep))
}

/// Read a chunked body (and its trailers).
fn dechunk(c: &mut BufReader<TcpStream>, max: usize) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let line = |c: &mut BufReader<TcpStream>| -> Result<String, Failure> {
        let mut l = Vec::new();
        let n = c.by_ref().take(4096).read_until(b'\n', &mut l).map_err(|e| fail(e.to_string()))?;
        if n == 0 || l.last() != Some(&b'\n') {
            return Err(fail("truncated chunked body"));
        }
        Ok(String::from_utf8_lossy(&l).trim().to_string())
    };
    loop {
        let size = line(c)?;
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).map_err(|_| fail("bad chunk size"))?;
        if n == 0 {
            // Trailers, up to the empty line.
            while !line(c)?.is_empty() {}
            return Ok(out);
        }
        if out.len().saturating_add(n) > max {
            return Err(fail(format!("body over {max} bytes")));
        }
        let at = out.len();
        out.resize(at + n, 0);
        c.read_exact(&mut out[at..]).map_err(|e| fail(e.to_string()))?;
        let mut crlf = [0u8; 2];
        c.read_exact(&mut crlf).map_err(|e| fail(e.to_string()))?;
    }
}

/// Send one request and read the response (at most `max` body bytes). With a `pool`, the
/// connection is taken from and given back to it (keep-alive); without, it is closed.
pub fn send(
    pool: Option<&Pool>,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
    max: usize,
) -> Result<Resp, String> {
    let (host, port, path) = split_url(url)?;
    let head = head_of(method, &host, port, &path, headers, body.len(), pool.is_some());
    // The connection goes back to the pool when the server keeps it open.
    let give_back = |c: BufReader<TcpStream>, keep: bool| {
        if let (true, Some(p)) = (keep, pool) {
            p.put(&host, port, c);
        }
    };
    if let Some(mut c) = pool.and_then(|p| p.take(&host, port)) {
        c.get_ref().set_read_timeout(Some(timeout)).ok();
        c.get_ref().set_write_timeout(Some(timeout)).ok();
        match exchange(&mut c, &head, body, max) {
            Ok((r, keep)) => {
                give_back(c, keep);
                return Ok(r);
            }
            // The server had closed it: once more, on a fresh connection.
            Err(f) if f.stale => {}
            Err(f) => return Err(f.msg),
        }
    }
    let mut c = BufReader::new(connect(&host, port, timeout)?);
    let (r, keep) = exchange(&mut c, &head, body, max).map_err(|f| f.msg)?;
    give_back(c, keep);
    Ok(r)
}

/// Send one request on a new connection, closed afterwards.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
    max: usize,
) -> Result<Resp, String> {
    send(None, method, url, headers, body, timeout, max)
}

/// GET a document; a status other than 2xx is an error.
pub fn get(url: &str, timeout: Duration, max: usize) -> Result<Vec<u8>, String> {
    let r = request("GET", url, &[("Accept", "application/ld+json, application/json".into())], &[], timeout, max)?;
    if !(200..300).contains(&r.status) {
        return Err(format!("status {}", r.status));
    }
    Ok(r.body)
}

#[cfg(test)]
#[path = "httpc_tests.rs"]
mod tests;
