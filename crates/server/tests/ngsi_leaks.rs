//! The exhaustive access test of the NGSI-LD interface (`/ngsi-ld/v1`): a real brain with
//! governance and the NGSI-LD capability (its own SQLite file), served on loopback. Every
//! read route (entities, queries, batch query, temporal, discovery, subscriptions,
//! context source registrations, contexts) is called in every tenant (the default one and two departments') as every
//! role, without grants, with a grant of the traffic police's tenant to the transport
//! bureau, and after its revocation; every write route is tried as every role in every
//! tenant. An answer must be a success exactly when the role may do what the route does,
//! and no answer may hold a marker of data the role may not see (an entity of a tenant it
//! may not read, another department's subscription with its receiver's secret) nor any
//! credential. Subscriptions notify real receivers on loopback: a grantee's subscription
//! delivers while the grant holds and nothing once it is revoked.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use brain::{Brain, BrainConfig, Caller, Role, Scopes};
use common::{city, raw, web_dir};
use governance::{Access, GovConfig, Governance};
use serde_json::json;

const TP: &str = "traffic-police";
const TB: &str = "transport-bureau";
const CDO: &str = "city-data-office";

// What each tenant holds, and the subscriptions' receiver secrets.
const M_TP: &str = "leakcheck-ngsi-tp-4e1";
const M_TB: &str = "leakcheck-ngsi-tb-8c2";
const M_DEF: &str = "leakcheck-ngsi-default-17";
const M_SUB_TP: &str = "leakcheck-subsecret-tp-a9";
const M_SUB_TB: &str = "leakcheck-subsecret-tb-b3";
const M_SUB_CDO: &str = "leakcheck-subsecret-cdo-c7";
const M_CTX: &str = "leakcheckCtxTerm";
const M_REG_TP: &str = "leakcheck-reg-tp-3f";
const M_REG_SECRET: &str = "leakcheck-regsecret-tp-66";

const ROLES: [(&str, &str, Role); 8] = [
    ("tp.admin", TP, Role::Admin),
    ("tp.operator", TP, Role::Operator),
    ("tp.cameras", TP, Role::Service),
    ("tb.admin", TB, Role::Admin),
    ("tb.analyst", TB, Role::Viewer),
    ("tb.loops", TB, Role::Service),
    ("cdo.admin", CDO, Role::Admin),
    ("es.operator", "emergency-services", Role::Operator),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    NoGrants,
    Granted,
    Revoked,
}

struct Who {
    name: &'static str,
    dept: Option<&'static str>,
    role: Role,
    auth: String,
}

/// The owner of a tenant's dataset (`None`: the default tenant, the city data office's).
fn owner(tenant: Option<&str>) -> &str {
    tenant.unwrap_or(CDO)
}

/// Whether `w` may read `tenant` in `phase`.
fn reads(w: &Who, tenant: Option<&str>, phase: Phase) -> bool {
    match tenant {
        None => w.role != Role::Public,
        Some(t) => w.dept == Some(t) || (t == TP && phase == Phase::Granted && w.dept == Some(TB)),
    }
}

/// Whether `w` may write `tenant`: its owner's operators, administrators and services.
fn writes(w: &Who, tenant: Option<&str>) -> bool {
    w.dept == Some(owner(tenant)) && matches!(w.role, Role::Operator | Role::Admin | Role::Service)
}

fn call(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let ct = if body.is_empty() { String::new() } else { "Content-Type: application/json\r\n".into() };
    let (s, h, b) = raw(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}{ct}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    (s, format!("{h}\n{b}"))
}

fn hdrs(w: &Who, tenant: Option<&str>) -> String {
    let t = tenant.map(|t| format!("NGSILD-Tenant: {t}\r\n")).unwrap_or_default();
    format!("{}{t}", w.auth)
}

/// A notification receiver on loopback: every request's headers and body, in order.
fn receiver() -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut len, mut text, mut line) = (0, String::new(), String::new());
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                text.push_str(&line);
            }
            let mut b = vec![0; len];
            let _ = r.read_exact(&mut b);
            text.push_str(&String::from_utf8_lossy(&b));
            let _ = tx.send(text);
            let mut s = s;
            let _ = write!(s, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    (format!("http://{addr}/notify"), rx)
}

/// The first request `rx` receives (within 10 s each) that holds `needle`.
fn heard(rx: &mpsc::Receiver<String>, needle: &str) -> Option<String> {
    while let Ok(n) = rx.recv_timeout(Duration::from_secs(10)) {
        if n.contains(needle) {
            return Some(n);
        }
    }
    None
}

fn probe(id: &str, marker: &str) -> String {
    json!({"id": id, "type": "LeakProbe", "note": {"type": "Property", "value": marker},
           "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [120.15, 30.25]}}})
    .to_string()
}

fn subscription(id: &str, uri: &str, secret: &str) -> String {
    json!({"id": id, "type": "Subscription", "entities": [{"type": "LeakProbe"}],
           "notification": {"endpoint": {"uri": uri, "receiverInfo": [{"key": "X-Leakcheck-Key", "value": secret}]}}})
    .to_string()
}

fn location_of(b: &str) -> String {
    b.lines().find_map(|l| l.strip_prefix("location: ")).unwrap_or_else(|| panic!("no Location in {b}")).trim().to_string()
}

#[test]
fn no_role_sees_or_changes_what_it_may_not_over_ngsi_ld() {
    let dir = std::env::temp_dir().join(format!("citybrain-ngsi-leaks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut gcfg = GovConfig::new(&dir);
    gcfg.pbkdf2_iterations = 1000;
    let gov = Arc::new(Governance::open(gcfg).unwrap());
    let sys = Caller::system();
    let mut who = vec![Who { name: "public", dept: None, role: Role::Public, auth: String::new() }];
    let mut secrets = Vec::new();
    for (name, dept, role) in ROLES {
        let auth = if role == Role::Service {
            gov.put_principal(&sys, name, dept, role, None).unwrap();
            let t = gov.issue_token(&sys, name, Scopes::READ.union(Scopes::WRITE), 3600.0, "test").unwrap();
            secrets.push(t.clone());
            format!("Authorization: Bearer {t}\r\n")
        } else {
            gov.put_principal(&sys, name, dept, role, Some("leakcheck password")).unwrap();
            let s = gov.login(name, "leakcheck password").unwrap();
            secrets.push(s.id.clone());
            format!("Cookie: cb_session={}\r\nX-CSRF-Token: {}\r\n", s.id, s.csrf)
        };
        who.push(Who { name, dept: Some(dept), role, auth });
    }
    let by = |n: &str| who.iter().position(|w| w.name == n).unwrap();

    let brain =
        Brain::open_with(city().network, &BrainConfig::new(dir.join("brain.sqlite")), Box::new(Access(gov.clone()))).unwrap();
    let g = gov.clone();
    let ncfg = ngsi::NgsiConfig {
        db_path: Some(dir.join("ngsi.sqlite")),
        tenants: Some(Arc::new(move |t: &str| g.departments().iter().any(|d| d.id == t))),
        ..Default::default()
    };
    let ngsi = ngsi::Ngsi::install(&brain, ncfg).unwrap();
    let hub = server::Hub::new(&brain.net);
    let http = server::HttpConfig { web_dir: web_dir(), ..Default::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = server::router_with(hub, brain.clone(), &http, Some(gov.clone()));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let h2 = http.clone();
    rt.spawn(async move { server::serve(listener, app, &h2, std::future::pending()).await.unwrap() });

    // Plant the data: an entity per tenant (written by its owner's systems), a
    // subscription per tenant with its receiver's secret, a context hosted by the police.
    let id = |t: &str| format!("urn:ngsi-ld:LeakProbe:{t}");
    let tenants: [(Option<&str>, &str, &str); 3] =
        [(Some(TP), "tp.cameras", M_TP), (Some(TB), "tb.loops", M_TB), (None, "cdo.admin", M_DEF)];
    let (tp_uri, tp_notes) = receiver();
    let mut sub_ids: BTreeMap<Option<&str>, String> = BTreeMap::new();
    for (tenant, writer, marker) in tenants {
        let w = &who[by(writer)];
        let (s, b) = call(addr, "POST", "/ngsi-ld/v1/entities", &hdrs(w, tenant), &probe(&id(owner(tenant)), marker));
        assert_eq!(s, 201, "{writer} plants {marker}: {b}");
        let (uri, secret) = match tenant {
            Some(TP) => (tp_uri.clone(), M_SUB_TP),
            Some(_) => ("http://127.0.0.1:9/notify".to_string(), M_SUB_TB),
            None => ("http://127.0.0.1:9/notify".to_string(), M_SUB_CDO),
        };
        let sid = format!("urn:ngsi-ld:Subscription:leak-{}", owner(tenant));
        let (s, b) = call(addr, "POST", "/ngsi-ld/v1/subscriptions", &hdrs(w, tenant), &subscription(&sid, &uri, secret));
        assert_eq!(s, 201, "{writer} subscribes: {b}");
        sub_ids.insert(tenant, sid);
    }
    // A context source registration of the police's tenant (its data, readable under a grant).
    let reg = json!({"id": "urn:ngsi-ld:ContextSourceRegistration:leak-tp", "type": "ContextSourceRegistration",
                     "information": [{"entities": [{"type": "LeakProbe"}]}], "endpoint": format!("http://127.0.0.1:9/{M_REG_TP}"),
                     "contextSourceInfo": [{"key": "Authorization", "value": M_REG_SECRET}]});
    let (s, b) =
        call(addr, "POST", "/ngsi-ld/v1/csourceRegistrations", &hdrs(&who[by("tp.cameras")], Some(TP)), &reg.to_string());
    assert_eq!(s, 201, "{b}");
    let ctx = json!({"@context": {M_CTX: "https://example.org/leakcheck#term"}}).to_string();
    let (s, b) = call(addr, "POST", "/ngsi-ld/v1/jsonldContexts", &hdrs(&who[by("tp.operator")], Some(TP)), &ctx);
    assert_eq!(s, 201, "{b}");
    // (The test's reader lower-cases headers; the context's local id is lower-case hex.)
    let ctx_url = format!("/ngsi-ld/v1/jsonldContexts/{}", location_of(&b).rsplit('/').next().unwrap());
    // A second instance of the police's attribute, for the temporal history.
    let patch = json!({"note": {"type": "Property", "value": M_TP}}).to_string();
    let (s, b) =
        call(addr, "PATCH", &format!("/ngsi-ld/v1/entities/{}/attrs", id(TP)), &hdrs(&who[by("tp.cameras")], Some(TP)), &patch);
    assert_eq!(s, 204, "{b}");
    let _ = tp_notes.recv_timeout(Duration::from_secs(10)).expect("the police's own subscription notifies");

    // Which marker each role may see: (marker, rule).
    let may_see = |w: &Who, m: &str, phase: Phase| -> bool {
        match m {
            M_TP | M_REG_TP => reads(w, Some(TP), phase),
            M_TB => reads(w, Some(TB), phase),
            M_DEF | M_CTX => w.role != Role::Public,
            // A subscription is its subscriber's department's: its filters, endpoint and
            // receiver secrets are nobody else's business, grantees' included.
            M_SUB_TP | M_REG_SECRET => w.dept == Some(TP),
            M_SUB_TB => w.dept == Some(TB),
            M_SUB_CDO => w.dept == Some(CDO),
            _ => unreachable!(),
        }
    };
    let markers = [M_TP, M_TB, M_DEF, M_SUB_TP, M_SUB_TB, M_SUB_CDO, M_CTX, M_REG_TP, M_REG_SECRET];
    let query = r#"{"type":"Query","entities":[{"type":"LeakProbe"}]}"#;
    let near = "georel=near;maxDistance==100000&geometry=Point&coordinates=%5B120.15,30.25%5D";
    let mut checks = 0usize;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut leaks = Vec::new();
    let mut grant = None;
    let (analyst_uri, analyst_notes) = receiver();
    let mut analyst_sub = None;
    for phase in [Phase::NoGrants, Phase::Granted, Phase::Revoked] {
        let tp_admin = gov.login("tp.admin", "leakcheck password").unwrap().caller;
        match phase {
            Phase::Granted => {
                let until = brain::wall_clock() + 600.0;
                grant = Some(gov.grant(&tp_admin, "ngsi-ld:traffic-police", TB, "ngsi leak test", until).unwrap().id);
            }
            Phase::Revoked => gov.revoke_grant(&tp_admin, grant.unwrap()).unwrap(),
            Phase::NoGrants => {}
        }
        for w in &who {
            for tenant in [None, Some(TP), Some(TB)] {
                let sub = &sub_ids[&tenant];
                let own = id(owner(tenant));
                let other = id(if tenant == Some(TP) { TB } else { TP });
                // (method, path, body, allowed)
                let r = reads(w, tenant, phase);
                let routes: Vec<(&str, String, &str, bool)> = vec![
                    ("GET", "/ngsi-ld/v1/entities?type=LeakProbe".into(), "", r),
                    ("GET", format!("/ngsi-ld/v1/entities/{own}"), "", r),
                    ("GET", format!("/ngsi-ld/v1/entities/{own}?options=keyValues,sysAttrs"), "", r),
                    // Another tenant's entity is not found here, whoever asks.
                    ("GET", format!("/ngsi-ld/v1/entities/{other}"), "", false),
                    ("GET", "/ngsi-ld/v1/entities?type=LeakProbe&q=note%3D%3D%22leakcheck%22".into(), "", r),
                    ("GET", format!("/ngsi-ld/v1/entities?type=LeakProbe&{near}"), "", r),
                    ("GET", "/ngsi-ld/v1/entities?type=LeakProbe,LeakWrite&idPattern=.*&count=true".into(), "", r),
                    ("POST", "/ngsi-ld/v1/entityOperations/query".into(), query, r),
                    ("GET", "/ngsi-ld/v1/temporal/entities?type=LeakProbe".into(), "", r),
                    ("GET", format!("/ngsi-ld/v1/temporal/entities/{own}"), "", r),
                    ("POST", "/ngsi-ld/v1/temporal/entityOperations/query".into(), query, r),
                    ("GET", "/ngsi-ld/v1/types?details=true".into(), "", r),
                    ("GET", "/ngsi-ld/v1/types/LeakProbe".into(), "", r),
                    ("GET", "/ngsi-ld/v1/attributes?details=true".into(), "", r),
                    ("GET", "/ngsi-ld/v1/attributes/note".into(), "", r),
                    ("GET", "/ngsi-ld/v1/subscriptions".into(), "", r),
                    ("GET", format!("/ngsi-ld/v1/subscriptions/{sub}"), "", r && w.dept == Some(owner(tenant))),
                    ("GET", "/ngsi-ld/v1/csourceRegistrations?type=LeakProbe".into(), "", r),
                    (
                        "GET",
                        "/ngsi-ld/v1/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:leak-tp".into(),
                        "",
                        r && tenant == Some(TP),
                    ),
                    ("GET", "/ngsi-ld/v1/jsonldContexts?details=true".into(), "", r),
                    ("GET", ctx_url.clone(), "", r),
                ];
                for (method, path, body, allowed) in routes {
                    let (status, text) = call(addr, method, &path, &hdrs(w, tenant), body);
                    checks += 1;
                    let t = tenant.unwrap_or("default");
                    if (200..300).contains(&status) != allowed {
                        leaks.push(format!("{phase:?} {} [{t}] {method} {path}: status {status}, allowed={allowed}", w.name));
                    }
                    if status >= 500 {
                        leaks.push(format!("{phase:?} {} [{t}] {method} {path}: server error {status} {text}", w.name));
                    }
                    for m in markers {
                        if text.contains(m) {
                            *seen.entry(m).or_default() += 1;
                            if !may_see(w, m, phase) {
                                leaks.push(format!("{phase:?} {} [{t}] {method} {path}: holds {m}", w.name));
                            }
                        }
                    }
                    if secrets.iter().any(|s| text.contains(s.as_str())) {
                        leaks.push(format!("{phase:?} {} [{t}] {method} {path}: holds a credential", w.name));
                    }
                }
                // Writes: only the tenant owner's writers, a grant never gives one.
                let tag = format!("{}-{phase:?}-{}", w.name, tenant.unwrap_or("default")).replace('.', "-");
                let fresh = format!("urn:ngsi-ld:LeakWrite:{tag}");
                let attr = json!({"w": {"type": "Property", "value": 1}}).to_string();
                let batch = json!([{"id": format!("{fresh}-b"), "type": "LeakWrite"}]).to_string();
                let writes_of: Vec<(&str, String, String)> = vec![
                    ("POST", "/ngsi-ld/v1/entities".into(), json!({"id": fresh, "type": "LeakWrite"}).to_string()),
                    ("POST", format!("/ngsi-ld/v1/entities/{own}/attrs"), attr.clone()),
                    ("PATCH", format!("/ngsi-ld/v1/entities/{own}/attrs"), attr.clone()),
                    ("POST", "/ngsi-ld/v1/entityOperations/upsert".into(), batch),
                    ("POST", format!("/ngsi-ld/v1/temporal/entities/{own}/attrs"), attr),
                    ("DELETE", format!("/ngsi-ld/v1/entities/{fresh}"), String::new()),
                ];
                for (method, path, body) in writes_of {
                    let (status, text) = call(addr, method, &path, &hdrs(w, tenant), &body);
                    checks += 1;
                    let allowed = writes(w, tenant);
                    if (200..300).contains(&status) != allowed {
                        leaks.push(format!("{phase:?} {} [{tag}] {method} {path}: status {status} {text}", w.name));
                    }
                }
            }
        }
        // A subscription is a standing read: the transport bureau's analyst may subscribe
        // to the police's tenant only under the grant; it delivers while the grant holds.
        let analyst = &who[by("tb.analyst")];
        let sid = format!("urn:ngsi-ld:Subscription:leak-analyst-{phase:?}");
        let body = subscription(&sid, &analyst_uri, "analyst-receiver");
        let (s, b) = call(addr, "POST", "/ngsi-ld/v1/subscriptions", &hdrs(analyst, Some(TP)), &body);
        checks += 1;
        match phase {
            Phase::Granted => {
                assert_eq!(s, 201, "the grantee subscribes: {b}");
                analyst_sub = Some(sid);
            }
            _ => assert_eq!(s, 403, "{phase:?}: subscribing without a grant: {b}"),
        }
        let note = format!("notify-{phase:?}");
        let withheld = ngsi.notifications_withheld();
        let patch = json!({"note": {"type": "Property", "value": note}}).to_string();
        let (s, b) = call(
            addr,
            "PATCH",
            &format!("/ngsi-ld/v1/entities/{}/attrs", id(TP)),
            &hdrs(&who[by("tp.cameras")], Some(TP)),
            &patch,
        );
        assert_eq!(s, 204, "{b}");
        // The owner's own subscription always hears of it (so the change was notified).
        let n = heard(&tp_notes, &note).expect("the owner's notification");
        assert!(n.contains(M_SUB_TP), "the owner's receiver gets its own secret header: {n}");
        match phase {
            Phase::NoGrants => {}
            Phase::Granted => {
                let n = heard(&analyst_notes, &note).expect("the grantee's notification");
                assert!(!n.contains(M_SUB_TP), "the owner's receiver secret went to the grantee: {n}");
            }
            Phase::Revoked => {
                assert!(ngsi.notifications_withheld() > withheld, "the revoked grantee's notification was not withheld");
                if let Ok(n) = analyst_notes.recv_timeout(Duration::from_secs(1)) {
                    leaks.push(format!("Revoked: tb.analyst's subscription delivered {n}"));
                }
            }
        }
    }
    // Managing subscriptions and contexts: only their own department's. The analyst's
    // subscription (made under the revoked grant) is not the police's to read either.
    let analyst_sub = analyst_sub.unwrap();
    for w in &who {
        for (tenant, sid) in sub_ids.iter().map(|(t, s)| (*t, s.clone())).chain([(Some(TP), analyst_sub.clone())]) {
            let mine = if sid == analyst_sub {
                w.dept == Some(TB) && reads(w, tenant, Phase::Revoked)
            } else {
                w.dept == Some(owner(tenant))
            };
            let body = json!({"type": "Subscription", "isActive": true}).to_string();
            let (status, text) = call(addr, "PATCH", &format!("/ngsi-ld/v1/subscriptions/{sid}"), &hdrs(w, tenant), &body);
            checks += 1;
            if (200..300).contains(&status) != (mine && w.role != Role::Public) {
                leaks.push(format!("{} PATCH subscription {sid} [{tenant:?}]: status {status} {text}", w.name));
            }
        }
        if w.dept != Some(TP) {
            let (status, text) = call(addr, "DELETE", &ctx_url, &hdrs(w, w.dept), "");
            checks += 1;
            if (200..300).contains(&status) {
                leaks.push(format!("{} DELETE the police's context: status {status} {text}", w.name));
            }
        }
    }
    for m in markers {
        assert!(seen.get(m).copied().unwrap_or(0) > 0, "marker {m} never appeared in any answer");
    }
    eprintln!("markers seen in allowed answers: {seen:?}");
    println!("{checks} NGSI-LD checks over {} roles, 3 tenants and 3 grant phases: {} leaks", who.len(), leaks.len());
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
    assert!(governance::audit::verify(gov.audit.path()).unwrap().is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}
