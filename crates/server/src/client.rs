//! A minimal blocking HTTP/1.1 client over one keep-alive TCP connection, for the load
//! generator and the loopback tests. It speaks only what our server answers:
//! `Content-Length` bodies (no chunked encoding).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Client {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
    /// `Authorization: Bearer` credential sent with every request.
    token: Option<String>,
}

/// A response: status code and body text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client { addr, reader: BufReader::new(s), token: None })
    }

    /// Send `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: Option<String>) -> Client {
        self.token = token;
        self
    }

    pub fn get(&mut self, path: &str) -> std::io::Result<Reply> {
        self.request("GET", path, None)
    }

    pub fn post_json(&mut self, path: &str, body: &[u8]) -> std::io::Result<Reply> {
        self.request("POST", path, Some(body))
    }

    /// Sends one request. A `GET` that finds the kept-alive connection closed by the server
    /// (it closes idle connections after its header-read timeout) is sent once more on a
    /// new connection; other methods are never resent.
    pub fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<Reply> {
        match self.request_once(method, path, body) {
            Err(e) if method == "GET" && is_closed(&e) => {
                *self = Client::connect(self.addr)?.with_token(self.token.take());
                self.request_once(method, path, body)
            }
            r => r,
        }
    }

    fn request_once(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<Reply> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n", self.addr);
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        let s = self.reader.get_mut();
        s.write_all(head.as_bytes())?;
        if let Some(b) = body {
            s.write_all(b)?;
        }
        s.flush()?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before the status line"));
        }
        let status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| bad(&line))?;
        let mut len = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().map_err(|_| bad(l))?;
                }
            }
        }
        let mut buf = vec![0; len];
        self.reader.read_exact(&mut buf)?;
        Ok(Reply { status, body: String::from_utf8_lossy(&buf).into_owned() })
    }
}

/// The server closed the connection before answering (EOF, reset or broken pipe).
fn is_closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe)
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad HTTP response: {what:?}"))
}
