use super::*;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Read one request (head and `Content-Length` body); `None` at EOF.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut len = 0;
    let mut first = true;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).ok()? == 0 {
            return None;
        }
        if l.trim().is_empty() {
            if first {
                continue;
            }
            break;
        }
        first = false;
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut b = vec![0; len];
    r.read_exact(&mut b).ok()?;
    Some(b)
}

/// A server: `serve(request index on the connection, body)` answers a request (`None`:
/// close the connection without an answer). Counts connections and requests.
fn server(
    serve: impl Fn(usize, &[u8]) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", l.local_addr().unwrap());
    let conns = Arc::new(AtomicUsize::new(0));
    let reqs = Arc::new(AtomicUsize::new(0));
    let (c2, r2) = (conns.clone(), reqs.clone());
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            c2.fetch_add(1, Ordering::SeqCst);
            let (serve, r2) = (serve.clone(), r2.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(s);
                let mut i = 0;
                while let Some(b) = read_request(&mut r) {
                    r2.fetch_add(1, Ordering::SeqCst);
                    match serve(i, &b) {
                        Some(out) => {
                            if r.get_mut().write_all(&out).is_err() {
                                return;
                            }
                        }
                        None => return,
                    }
                    i += 1;
                }
            });
        }
    });
    (url, conns, reqs)
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const T: Duration = Duration::from_secs(5);

#[test]
fn keep_alive_reuses_one_connection() {
    let (url, conns, reqs) = server(|_, _| Some(OK.to_vec()));
    let pool = Pool::new(4);
    for i in 0..20 {
        let r =
            send(Some(&pool), "POST", &url, &[("Content-Type", "application/json".into())], format!("{i}").as_bytes(), T, 1024)
                .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    }
    assert_eq!(reqs.load(Ordering::SeqCst), 20);
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    assert_eq!(pool.idle(), 1);
}

#[test]
fn a_connection_the_server_closed_is_retried_once_on_a_new_one() {
    // Each connection answers its first request and closes on the second, unanswered.
    let (url, conns, reqs) = server(|i, _| (i == 0).then(|| OK.to_vec()));
    let pool = Pool::new(4);
    for _ in 0..3 {
        let r = send(Some(&pool), "POST", &url, &[], b"{}", T, 1024).unwrap();
        assert_eq!(r.status, 200);
    }
    // 1st on a new connection; 2nd and 3rd each sent on the kept one (closed unanswered)
    // and again on a new one.
    assert_eq!(conns.load(Ordering::SeqCst), 3);
    assert_eq!(reqs.load(Ordering::SeqCst), 5);
}

#[test]
fn a_server_that_never_answers_fails_without_a_second_retry() {
    let (url, conns, reqs) = server(|_, _| None);
    let pool = Pool::new(4);
    assert!(send(Some(&pool), "POST", &url, &[], b"{}", T, 1024).is_err());
    assert_eq!(reqs.load(Ordering::SeqCst), 1);
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    assert_eq!(pool.idle(), 0);
}

#[test]
fn connection_close_and_close_delimited_bodies_are_not_kept() {
    let (url, conns, _) = server(|_, _| Some(b"HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec()));
    let pool = Pool::new(4);
    for _ in 0..2 {
        assert_eq!(send(Some(&pool), "POST", &url, &[], b"{}", T, 1024).unwrap().status, 201);
    }
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    assert_eq!(pool.idle(), 0);
    // No length: the body runs to the end of the connection.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s);
        read_request(&mut r);
        r.get_mut().write_all(b"HTTP/1.0 200 OK\r\n\r\nall of it").unwrap();
    });
    let r = send(Some(&pool), "POST", &url, &[], b"{}", T, 1024).unwrap();
    assert_eq!(r.body, b"all of it");
    assert_eq!(pool.idle(), 0);
}

#[test]
fn chunked_bodies_are_decoded_and_bounded() {
    let (url, conns, _) = server(|_, _| {
        Some(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nX-T: 1\r\n\r\n".to_vec())
    });
    let pool = Pool::new(4);
    for _ in 0..2 {
        assert_eq!(send(Some(&pool), "GET", &url, &[], b"", T, 1024).unwrap().body, b"Wikipedia");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    assert!(send(Some(&pool), "GET", &url, &[], b"", T, 6).is_err());
}

#[test]
fn a_silent_server_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        drop(s);
    });
    let t = Instant::now();
    let pool = Pool::new(4);
    assert!(send(Some(&pool), "POST", &url, &[], b"{}", Duration::from_millis(300), 1024).is_err());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn headers_with_line_breaks_are_not_sent() {
    let seen = Arc::new(Mutex::new(String::new()));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    let s2 = seen.clone();
    std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
            head.push_str(&line);
        }
        *s2.lock().unwrap() = head;
        r.get_mut().write_all(OK).unwrap();
    });
    let h = [("X-A", "1".to_string()), ("X-B", "2\r\nX-Evil: 1".to_string())];
    assert_eq!(request("POST", &url, &h, b"", T, 1024).unwrap().status, 200);
    let head = seen.lock().unwrap().clone();
    assert!(head.contains("X-A: 1") && !head.contains("X-Evil") && head.contains("Connection: close"), "{head}");
}
