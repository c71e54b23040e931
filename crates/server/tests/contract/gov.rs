//! The governance, citizens' and open-data routes of the contract: a server with
//! governance (real `governance.sqlite` and audit log in a temporary directory) in front
//! of the stub backend, every route called for its successes and its documented errors.

use std::sync::Arc;

use brain::{Caller, Role};
use governance::{GovConfig, Governance, LoginLimits};
use serde_json::{json, Value};

use super::common::*;
use super::{request, Contract};

pub fn governance_and_open_routes(k: &mut Contract) {
    let dir = std::env::temp_dir().join(format!("citybrain-contract-gov-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut gcfg = GovConfig::new(&dir);
    gcfg.pbkdf2_iterations = 1000;
    gcfg.login_limits = LoginLimits { window_s: 600.0, per_account: 3, per_address: 1000 };
    let gov = Arc::new(Governance::open(gcfg).unwrap());
    let sys = Caller::system();
    gov.put_principal(&sys, "tp.admin", "traffic-police", Role::Admin, Some("contract password")).unwrap();
    gov.put_principal(&sys, "tp.svc", "traffic-police", Role::Service, None).unwrap();
    let stub = Arc::new(Stub { healthy: std::sync::atomic::AtomicBool::new(true) });
    let hub = server::Hub::new(&city().network);
    let cfg = server::HttpConfig { web_dir: web_dir(), ..Default::default() };
    let app = server::router_with(hub, stub, &cfg, Some(gov.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { server::serve(listener, app, &cfg, std::future::pending()).await.unwrap() });

    let json_ct = "Content-Type: application/json\r\n";
    let call = |k: &mut Contract, method: &str, route: &str, path: &str, headers: &str, body: &str| {
        let (status, ct, b) = request(addr, method, path, headers, body);
        k.check(&method.to_lowercase(), route, status, &ct, &b);
        (status, b)
    };

    // Login: success, wrong password, bad bodies, then the account locks (429).
    let login = "/api/v1/auth/login";
    let (status, b) = call(k, "POST", login, login, json_ct, r#"{"name":"tp.admin","password":"contract password"}"#);
    assert_eq!(status, 200, "{b}");
    assert!(serde_json::from_str::<Value>(&b).unwrap()["csrf"].is_string(), "{b}");
    let s = gov.login("tp.admin", "contract password").unwrap();
    let admin = format!("Cookie: cb_session={}\r\nX-CSRF-Token: {}\r\n", s.id, s.csrf);
    let admin_json = format!("{admin}{json_ct}");
    assert_eq!(call(k, "POST", login, login, json_ct, r#"{"name":"tp.admin","password":"wrong"}"#).0, 401);
    assert_eq!(call(k, "POST", login, login, json_ct, r#"{"name":"#).0, 400);
    assert_eq!(call(k, "POST", login, login, "Content-Type: text/plain\r\n", "{}").0, 415);
    let long = format!(r#"{{"name":"{}","password":"x"}}"#, "n".repeat(65));
    assert_eq!(call(k, "POST", login, login, json_ct, &long).0, 422);
    for _ in 0..3 {
        assert_eq!(call(k, "POST", login, login, json_ct, r#"{"name":"mallory","password":"guess"}"#).0, 401);
    }
    let (status, b) = call(k, "POST", login, login, json_ct, r#"{"name":"mallory","password":"guess"}"#);
    assert_eq!(status, 429, "{b}");
    assert!(b.contains("too many failed logins"), "{b}");
    let again = r#"{"name":"mallory","password":"g"}"#;
    let (_, h, _) = raw(
        addr,
        &format!(
            "POST {login} HTTP/1.1\r\nHost: {addr}\r\n{json_ct}Content-Length: {}\r\nConnection: close\r\n\r\n{again}",
            again.len()
        ),
    );
    assert!(h.contains("retry-after:"), "{h}");
    // Locked before any password is checked.
    assert!(gov.login_from("mallory", "guess", None).map(|_| ()).unwrap_err().to_string().contains("too many"));

    assert_eq!(call(k, "GET", "/api/v1/auth/me", "/api/v1/auth/me", &admin, "").0, 200);

    // Tokens.
    let tokens = "/api/v1/tokens";
    assert_eq!(call(k, "GET", tokens, tokens, "", "").0, 403);
    let body = json!({"principal": "tp.svc", "scopes": "read,write", "ttl_s": 3600.0, "label": "contract"}).to_string();
    let (status, b) = call(k, "POST", tokens, tokens, &admin_json, &body);
    assert_eq!(status, 201, "{b}");
    let bad = json!({"principal": "tp.svc", "scopes": "root", "ttl_s": 3600.0}).to_string();
    assert_eq!(call(k, "POST", tokens, tokens, &admin_json, &bad).0, 422);
    assert_eq!(call(k, "POST", tokens, tokens, &admin_json, "[").0, 400);
    assert_eq!(call(k, "POST", tokens, tokens, &format!("{admin}Content-Type: text/plain\r\n"), &body).0, 415);
    let (status, list) = call(k, "GET", tokens, tokens, &admin, "");
    assert_eq!(status, 200);
    let id = serde_json::from_str::<Value>(&list).unwrap()[0]["id"].as_str().unwrap().to_string();
    let one = "/api/v1/tokens/{id}";
    assert_eq!(call(k, "DELETE", one, &format!("/api/v1/tokens/{id}"), &admin, "").0, 204);
    assert_eq!(call(k, "DELETE", one, "/api/v1/tokens/nope", &admin, "").0, 404);

    // Accounts.
    let accounts = "/api/v1/accounts";
    let acc = json!({"name": "tp.viewer", "department": "traffic-police", "role": "viewer", "password": "a long password"});
    assert_eq!(call(k, "POST", accounts, accounts, &admin_json, &acc.to_string()).0, 201);
    let acc = json!({"name": "tp.x", "department": "traffic-police", "role": "emperor"});
    assert_eq!(call(k, "POST", accounts, accounts, &admin_json, &acc.to_string()).0, 422);
    let acc = json!({"name": "tb.x", "department": "transport-bureau", "role": "viewer", "password": "a long password"});
    assert_eq!(call(k, "POST", accounts, accounts, &admin_json, &acc.to_string()).0, 403);

    // Grants.
    let grants = "/api/v1/grants";
    assert_eq!(call(k, "GET", grants, grants, &admin, "").0, 200);
    let until = brain::wall_clock() + 600.0;
    let g = json!({"dataset": "signal-events", "grantee": "transport-bureau", "purpose": "contract", "expires": until});
    let (status, b) = call(k, "POST", grants, grants, &admin_json, &g.to_string());
    assert_eq!(status, 201, "{b}");
    let gid = serde_json::from_str::<Value>(&b).unwrap()["id"].as_u64().unwrap();
    let g = json!({"dataset": "nothing", "grantee": "transport-bureau", "purpose": "contract", "expires": until});
    assert_eq!(call(k, "POST", grants, grants, &admin_json, &g.to_string()).0, 403, "unknown datasets are refused (fail closed)");
    let g = json!({"dataset": "signal-events", "grantee": "transport-bureau", "purpose": "contract", "expires": until});
    assert_eq!(call(k, "POST", grants, grants, json_ct, &g.to_string()).0, 403, "the public grants nothing");
    let one = "/api/v1/grants/{id}";
    assert_eq!(call(k, "DELETE", one, &format!("/api/v1/grants/{gid}"), &admin, "").0, 204);
    assert_eq!(call(k, "DELETE", one, "/api/v1/grants/abc", &admin, "").0, 400);
    assert_eq!(call(k, "DELETE", one, "/api/v1/grants/99999", &admin, "").0, 404);

    // Audit, catalogue, transparency.
    let audit = "/api/v1/audit";
    assert_eq!(call(k, "GET", audit, audit, &admin, "").0, 200);
    assert_eq!(call(k, "GET", audit, "/api/v1/audit?limit=x", &admin, "").0, 400);
    assert_eq!(call(k, "GET", audit, audit, "", "").0, 403);
    assert_eq!(call(k, "GET", "/api/v1/catalogue", "/api/v1/catalogue", "", "").0, 200);
    let tr = "/api/v1/transparency";
    assert_eq!(call(k, "GET", tr, tr, "", "").0, 200);
    assert_eq!(call(k, "GET", tr, "/api/v1/transparency?limit=x", "", "").0, 400);

    // Citizens' tickets: submit, follow, answer; the queue and the KPIs.
    let tickets = "/api/v1/tickets";
    let t = json!({"category": "noise", "text": "a contract ticket", "lon": 120.15, "lat": 30.25}).to_string();
    let (status, b) = call(k, "POST", tickets, tickets, json_ct, &t);
    assert_eq!(status, 201, "{b}");
    let ticket: Value = serde_json::from_str(&b).unwrap();
    let number = ticket["number"].as_str().unwrap().to_string();
    let dept = ticket["department"].as_str().unwrap().to_string();
    assert_eq!(call(k, "POST", tickets, tickets, json_ct, &json!({"category": "ufo", "text": "x"}).to_string()).0, 422);
    assert_eq!(call(k, "POST", tickets, tickets, json_ct, "{").0, 400);
    assert_eq!(call(k, "POST", tickets, tickets, "Content-Type: text/plain\r\n", &t).0, 415);
    let one = "/api/v1/tickets/{number}";
    assert_eq!(call(k, "GET", one, &format!("/api/v1/tickets/{number}"), "", "").0, 200);
    assert_eq!(call(k, "GET", one, "/api/v1/tickets/T-NOPE-NOPE", "", "").0, 404);
    assert_eq!(call(k, "GET", one, &format!("/api/v1/tickets/{}", "X".repeat(41)), "", "").0, 422);
    gov.put_principal(&sys, "owner.admin", &dept, Role::Admin, Some("contract password")).unwrap();
    let o = gov.login("owner.admin", "contract password").unwrap();
    let owner = format!("Cookie: cb_session={}\r\nX-CSRF-Token: {}\r\n", o.id, o.csrf);
    let answer = "/api/v1/tickets/{number}/answer";
    let a = json!({"status": "answered", "answer": "on it"}).to_string();
    let (status, b) = call(k, "POST", answer, &format!("/api/v1/tickets/{number}/answer"), &format!("{owner}{json_ct}"), &a);
    assert_eq!(status, 200, "{b}");
    assert_eq!(call(k, "POST", answer, "/api/v1/tickets/T-NOPE-NOPE/answer", &format!("{owner}{json_ct}"), &a).0, 404);
    assert_eq!(call(k, "POST", answer, &format!("/api/v1/tickets/{number}/answer"), json_ct, &a).0, 403);
    let queue = "/api/v1/queue";
    assert_eq!(call(k, "GET", queue, &format!("/api/v1/queue?department={dept}"), &owner, "").0, 200);
    assert_eq!(call(k, "GET", queue, "/api/v1/queue", "", "").0, 403);
    assert_eq!(call(k, "GET", queue, "/api/v1/queue?limit=x", &owner, "").0, 400);
    assert_eq!(call(k, "GET", "/api/v1/kpis/tickets", "/api/v1/kpis/tickets", "", "").0, 200);
    assert_eq!(call(k, "GET", "/api/v1/data-protection", "/api/v1/data-protection", "", "").0, 200);

    // Open data: every download, CSV and Parquet alike.
    assert_eq!(call(k, "GET", "/api/v1/open", "/api/v1/open", "", "").0, 200);
    for name in ["road-state", "signal-plans", "transparency", "incidents"] {
        for ext in ["csv", "parquet"] {
            let route = format!("/api/v1/open/{name}.{ext}");
            let (status, b) = call(k, "GET", &route, &route, "", "");
            assert_eq!(status, 200, "{route}: {b}");
            if ext == "parquet" {
                assert!(b.starts_with("PAR1") && b.ends_with("PAR1"), "{route}");
            }
        }
    }
    assert_eq!(call(k, "GET", "/api/v1/open/road-state.geojson", "/api/v1/open/road-state.geojson", "", "").0, 200);
    for ext in ["csv", "parquet"] {
        let route = format!("/api/v1/open/aggregates.{ext}");
        assert_eq!(call(k, "GET", &route, &format!("{route}?scope=city&from=0&to=3600"), "", "").0, 200);
        assert_eq!(call(k, "GET", &route, &format!("{route}?from=x"), "", "").0, 400);
        assert_eq!(call(k, "GET", &route, &format!("{route}?resolution=1"), "", "").0, 422);
    }

    assert_eq!(call(k, "POST", "/api/v1/auth/logout", "/api/v1/auth/logout", &admin, "").0, 204);
    drop(rt);
    std::fs::remove_dir_all(&dir).ok();
}
