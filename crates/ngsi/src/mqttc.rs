//! A minimal blocking MQTT 3.1.1 publisher for notifications whose endpoint is
//! `mqtt://host[:port]/topic` (ETSI GS CIM 009 v1.8, 7.4.2: the MQTT binding of
//! notifications): one connection per notification (CONNECT with a clean session,
//! PUBLISH at QoS 0 or 1, PUBACK awaited at QoS 1, DISCONNECT). No TLS (`mqtts://` is
//! refused), no retained messages, no QoS 2 (answered as QoS 1).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where an `mqtt://[user[:password]@]host[:port]/topic` URL publishes.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub topic: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Parse an `mqtt://` URL (port 1883 by default).
pub fn split_url(url: &str) -> Result<Target, String> {
    let rest = url.strip_prefix("mqtt://").ok_or_else(|| format!("{url}: only mqtt:// is supported"))?;
    let (auth, rest) = match rest.split_once('/').map(|(hp, _)| hp.rfind('@')).unwrap_or(None) {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let (user, password) = match auth {
        Some(a) => match a.split_once(':') {
            Some((u, p)) => (Some(crate::util::percent_decode(u)), Some(crate::util::percent_decode(p))),
            None => (Some(crate::util::percent_decode(a)), None),
        },
        None => (None, None),
    };
    let (hostport, topic) = rest.split_once('/').ok_or_else(|| format!("{url}: no topic"))?;
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| format!("{url}: bad port"))?),
        None => (hostport.to_string(), 1883),
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    if topic.is_empty() || topic.len() > 65_535 || topic.contains(['+', '#', '\0']) {
        return Err(format!("{url}: not a topic to publish to"));
    }
    if user.as_ref().is_some_and(|u| u.len() > 65_535) || password.as_ref().is_some_and(|p| p.len() > 65_535) {
        return Err(format!("{url}: credentials too long"));
    }
    Ok(Target { host, port, topic: topic.to_string(), user, password })
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The remaining-length encoding of MQTT (at most 268,435,455).
fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return;
        }
    }
}

fn packet(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![kind];
    put_len(&mut p, body.len());
    p.extend_from_slice(body);
    p
}

/// Read one packet: (first byte, body).
fn read_packet(s: &mut TcpStream) -> Result<(u8, Vec<u8>), String> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b).map_err(|e| format!("reading from the broker: {e}"))?;
    let kind = b[0];
    let (mut len, mut mul) = (0usize, 1usize);
    for _ in 0..4 {
        s.read_exact(&mut b).map_err(|e| format!("reading from the broker: {e}"))?;
        len += (b[0] & 0x7f) as usize * mul;
        if b[0] & 0x80 == 0 {
            let mut body = vec![0u8; len.min(1 << 16)];
            s.read_exact(&mut body).map_err(|e| format!("reading from the broker: {e}"))?;
            return Ok((kind, body));
        }
        mul *= 128;
    }
    Err("the broker sent a malformed length".into())
}

/// Publish `payload` to the `mqtt://` URL at QoS 0 or 1 (higher is taken as 1).
pub fn publish(url: &str, payload: &[u8], qos: u8, client_id: &str, timeout: Duration) -> Result<(), String> {
    let Target { host, port, topic, user, password } = split_url(url)?;
    if payload.len() > 128 << 20 {
        return Err("notification too large for MQTT".into());
    }
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (h, port).to_socket_addrs().map_err(|e| e.to_string())?.next().ok_or("no address")?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    s.set_nodelay(true).ok();
    // CONNECT: protocol "MQTT" level 4, clean session, keep-alive 30 s, the URL's
    // credentials.
    let mut c = Vec::new();
    put_str(&mut c, "MQTT");
    let flags = 0x02 | if user.is_some() { 0x80 } else { 0 } | if password.is_some() { 0x40 } else { 0 };
    c.extend_from_slice(&[4, flags, 0, 30]);
    put_str(&mut c, client_id);
    if let Some(u) = &user {
        put_str(&mut c, u);
    }
    if let Some(p) = &password {
        put_str(&mut c, p);
    }
    s.write_all(&packet(0x10, &c)).map_err(|e| e.to_string())?;
    let (kind, body) = read_packet(&mut s)?;
    if kind != 0x20 || body.len() < 2 {
        return Err(format!("the broker answered CONNECT with packet type {}", kind >> 4));
    }
    if body[1] != 0 {
        return Err(format!("the broker refused the connection (code {})", body[1]));
    }
    let qos = qos.min(1);
    let mut p = Vec::new();
    put_str(&mut p, &topic);
    if qos == 1 {
        p.extend_from_slice(&1u16.to_be_bytes());
    }
    p.extend_from_slice(payload);
    s.write_all(&packet(0x30 | (qos << 1), &p)).map_err(|e| e.to_string())?;
    if qos == 1 {
        let (kind, body) = read_packet(&mut s)?;
        if kind >> 4 != 4 || body.get(..2) != Some(&[0, 1]) {
            return Err(format!("no PUBACK from the broker (packet type {})", kind >> 4));
        }
    }
    let _ = s.write_all(&[0xe0, 0]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_lengths() {
        let t = split_url("mqtt://127.0.0.1:1884/a/b").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.topic.as_str(), t.user), ("127.0.0.1", 1884, "a/b", None));
        let t = split_url("mqtt://user:p%40ss@broker/t").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_deref(), t.password.as_deref()),
            ("broker", 1883, Some("user"), Some("p@ss"))
        );
        let t = split_url("mqtt://user@broker/t/x@y").unwrap();
        assert_eq!((t.user.as_deref(), t.password, t.topic.as_str()), (Some("user"), None, "t/x@y"));
        for bad in ["http://h/t", "mqtt://h", "mqtt://h/", "mqtt://h/a/#", "mqtt://:1883/t", "mqtt://h:99999/t", "mqtts://h/t"] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
        for (n, enc) in [
            (0usize, vec![0u8]),
            (127, vec![127]),
            (128, vec![0x80, 1]),
            (16_383, vec![0xff, 0x7f]),
            (2_097_152, vec![0x80, 0x80, 0x80, 1]),
        ] {
            let mut v = Vec::new();
            put_len(&mut v, n);
            assert_eq!(v, enc, "{n}");
        }
    }
}
