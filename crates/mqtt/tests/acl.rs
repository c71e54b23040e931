//! The broker's ACL as `mqtt::acl` writes it, enforced by a real Mosquitto of the test's
//! own (password file and `acl_file`, on a free loopback port): a department's error
//! topic reaches that department and nobody else, anonymous clients see only the open
//! topics, and a department cannot publish on another's topic even with a stolen token.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

/// A Mosquitto with a password file and the ACL; killed on drop.
struct Broker {
    port: u16,
    child: Child,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mosquitto(bin: &str) -> String {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = format!("{dir}/{bin}");
        if Path::new(&p).exists() {
            return p;
        }
    }
    panic!("{bin} is not installed (scripts/test.sh installs mosquitto)");
}

fn start_broker(dir: &Path, acl: &str, users: &[(&str, &str)]) -> Broker {
    let passwd = dir.join("passwd");
    for (i, (u, pw)) in users.iter().enumerate() {
        let mut c = Command::new(mosquitto("mosquitto_passwd"));
        if i == 0 {
            c.arg("-c");
        }
        let st = c.arg("-b").arg(&passwd).arg(u).arg(pw).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert!(st.success(), "mosquitto_passwd for {u}");
    }
    std::fs::write(dir.join("acl"), acl).unwrap();
    // Started as root, Mosquitto drops to its own user: it must read both files.
    #[cfg(unix)]
    for f in ["passwd", "acl"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npassword_file {}\nacl_file {}\n",
            passwd.display(),
            dir.join("acl").display()
        ),
    )
    .unwrap();
    let child =
        Command::new(mosquitto("mosquitto")).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let broker = Broker { port, child };
    eventually("the test's Mosquitto to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    broker
}

#[test]
fn each_department_reads_only_its_own_error_topic_and_writes_only_its_own_topics() {
    let f = fixture();
    let p = f.prefix.clone();
    // The fixture's accounts: tb.gateway (transport bureau) and tp.gateway (traffic police).
    let accounts: Vec<mqtt::acl::AclAccount> = f
        .gov
        .accounts()
        .into_iter()
        .map(|(name, department, role)| mqtt::acl::AclAccount { name, department, service: role == brain::Role::Service })
        .collect();
    assert_eq!(accounts.len(), 2);
    let acl = mqtt::acl::mosquitto_acl(&p, "brain", &accounts).unwrap();
    let broker = start_broker(&f.dir, &acl, &[("brain", "brain-pw-1"), ("tb.gateway", "tb-pw-1"), ("tp.gateway", "tp-pw-1")]);

    let mut cfg = config(&p);
    cfg.port = broker.port;
    cfg.login = Some(mqtt::BrokerLogin { user: "brain".into(), password: "brain-pw-1".into() });
    let bridge = mqtt::Bridge::start(&f.brain, cfg, f.gov.clone()).unwrap();
    assert!(bridge.wait_subscribed(Duration::from_secs(20)), "the bridge subscribed with its broker login");

    let all = vec![format!("{p}/#")];
    let mut tb = Device::connect_to(broker.port, Some(("tb.gateway", "tb-pw-1")), &all);
    let mut tp = Device::connect_to(broker.port, Some(("tp.gateway", "tp-pw-1")), &all);
    let mut anon = Device::connect_to(broker.port, None, &all);

    // A transport-bureau message with a bad record: its report goes to its error topic.
    let t = NOW - 10.0;
    let msg = json!({"token": f.transport, "observations": [
        loop_record("loop:AB:0", Some("ok1"), t, 8.0),
        loop_record("loop:AB:1", Some("bad1"), t, 400.0),
    ]});
    tb.publish_acked(&format!("{p}/transport-bureau/observations"), msg.to_string().as_bytes());
    let report = tb.message_on(&format!("{p}/transport-bureau/errors"))["report"].clone();
    assert_eq!((report["accepted"].as_u64(), report["rejected"][0]["id"].as_str()), (Some(1), Some("bad1")), "{report}");
    assert_eq!(f.brain.counters().accepted, 1);

    // The traffic police's gateway, subscribed to everything, holding the transport
    // bureau's token: its publish on the bureau's topic is dropped by the broker.
    let stolen = json!({"token": f.transport, "observations": [loop_record("loop:AB:0", Some("stolen"), t, 8.0)]});
    tp.publish_acked(&format!("{p}/transport-bureau/observations"), stolen.to_string().as_bytes());
    // Its own topic works (the record is refused by the brain: the loop is the bureau's).
    let own = json!({"token": f.police, "observations": [loop_record("loop:AB:0", Some("tp1"), t, 8.0)]});
    tp.publish_acked(&format!("{p}/traffic-police/observations"), own.to_string().as_bytes());
    let report = tp.message_on(&format!("{p}/traffic-police/errors"))["report"].clone();
    assert_eq!(report["rejected"][0]["field"].as_str(), Some("sensor"), "{report}");

    // The live state is open to all: every client gets it (so their subscriptions work).
    let mut tick = 0.0;
    let city = format!("{p}/state/city");
    let is_city = |e: &rumqttc::Event| matches!(e, rumqttc::Event::Incoming(rumqttc::Packet::Publish(m)) if m.topic.ends_with("/state/city"));
    let mut got = false;
    for _ in 0..100 {
        tick += 5.0;
        f.brain.drive_clock(NOW + tick);
        f.brain.tick(NOW + tick, 0, 0);
        if anon.arrives_within(Duration::from_millis(200), is_city) {
            got = true;
            break;
        }
    }
    assert!(got, "no live state reached the anonymous client");
    assert!(tp.arrives_within(Duration::from_secs(10), is_city) || tp.inbox.iter().any(|(t, _)| *t == city));
    // Give any stray delivery time to arrive, then check who saw what.
    std::thread::sleep(Duration::from_millis(500));
    let _ = tb.arrives_within(Duration::from_millis(300), |_| false);
    let _ = tp.arrives_within(Duration::from_millis(300), |_| false);
    let _ = anon.arrives_within(Duration::from_millis(300), |_| false);
    let bureau = format!("{p}/transport-bureau/");
    assert!(!tp.inbox.iter().any(|(t, _)| t.starts_with(&bureau)), "the police read the bureau's topics: {:?}", tp.inbox);
    assert!(!anon.inbox.iter().any(|(t, _)| t.ends_with("/errors") || t.ends_with("/observations")), "{:?}", anon.inbox);
    assert!(!tb.inbox.iter().any(|(t, _)| t.starts_with(&format!("{p}/traffic-police/"))), "{:?}", tb.inbox);
    assert!(!tp.inbox.iter().any(|(_, b)| b.contains("stolen")), "the stolen-token message went through");
    assert_eq!(f.brain.counters().accepted, 1, "nothing of the stolen-token message was stored");
    bridge.stop();
}

#[test]
fn a_wrong_broker_password_is_refused_by_the_broker() {
    let f = fixture();
    let acl = mqtt::acl::mosquitto_acl(&f.prefix, "brain", &[]).unwrap();
    let broker = start_broker(&f.dir, &acl, &[("brain", "brain-pw-1")]);
    let mut cfg = config(&f.prefix);
    cfg.port = broker.port;
    cfg.login = Some(mqtt::BrokerLogin { user: "brain".into(), password: "wrong".into() });
    assert!(!format!("{cfg:?}").contains("wrong"), "the password is never in Debug output");
    let bridge = mqtt::Bridge::start(&f.brain, cfg, f.gov.clone()).unwrap();
    assert!(!bridge.wait_subscribed(Duration::from_secs(2)), "a bridge with a wrong password must not get a session");
    assert!(bridge.stats.get(|s| &s.reconnects) >= 1);
    bridge.stop();
}
