//! The bridge against the real Mosquitto: records published by a device are stored and
//! acknowledged, rejected ones are reported on the department's error topic naming the
//! record and the field, another department's sensors are refused, a resent message is
//! stored once, unknown topics and unreadable bodies are reported, a restarted bridge
//! receives what was published while it was away, and live state and signal changes are
//! published.

mod common;

use std::time::Duration;

use brain::SignalStatus;
use common::*;
use serde_json::json;
use twin::IntersectionId;

fn body(token: Option<&str>, records: Vec<serde_json::Value>) -> Vec<u8> {
    let mut v = json!({ "observations": records });
    if let Some(t) = token {
        v["token"] = t.into();
    }
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn ingest_validates_authorises_reports_and_stores_duplicates_once() {
    let f = fixture();
    let p = f.prefix.clone();
    let cfg = config(&p);
    let bridge = mqtt::Bridge::start(&f.brain, cfg.clone(), f.gov.clone()).unwrap();
    assert!(bridge.wait_subscribed(std::time::Duration::from_secs(20)), "the bridge subscribed");
    let mut dev = Device::connect(&[format!("{p}/+/errors"), format!("{p}/errors")]);
    let t = NOW - 10.0;
    let records = vec![
        loop_record("loop:AB:0", Some("r1"), t, 8.0),
        loop_record("loop:AB:1", Some("r2"), t, 9.0),
        loop_record("loop:BC:0", Some("r3"), t, 7.0),
        loop_record("loop:CB:0", Some("r4"), t, 400.0),
        // A camera belongs to the traffic police: the transport bureau may not post for it.
        json!({"id": "r5", "sensor": "camera:B", "kind": "queue", "time": t, "road": "AB", "queue_m": 10, "waiting": 2}),
    ];
    let msg = body(Some(&f.transport), records);
    // The device's PUBACK is the broker's; the brain's error report follows its commit.
    dev.publish_acked(&format!("{p}/transport-bureau/observations"), &msg);
    let report = dev.message_on(&format!("{p}/transport-bureau/errors"))["report"].clone();
    assert_eq!(report["accepted"], 3);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{report}");
    assert_eq!(
        (rejected[0]["index"].as_u64(), rejected[0]["id"].as_str(), rejected[0]["field"].as_str()),
        (Some(3), Some("r4"), Some("speed"))
    );
    assert!(rejected[0]["error"].as_str().unwrap().contains("400"), "{report}");
    assert_eq!(
        (rejected[1]["index"].as_u64(), rejected[1]["sensor"].as_str(), rejected[1]["field"].as_str()),
        (Some(4), Some("camera:B"), Some("sensor"))
    );
    assert!(rejected[1]["error"].as_str().unwrap().contains("traffic-police"), "{report}");
    assert_eq!(f.brain.counters().accepted, 3, "the three valid records are durable");

    // The device resends (no PUBACK seen, say): stored once.
    dev.publish_acked(&format!("{p}/transport-bureau/observations"), &msg);
    let again = dev.message_on(&format!("{p}/transport-bureau/errors"))["report"].clone();
    assert_eq!(again["accepted"], 3, "duplicates are answered as accepted");
    assert_eq!(f.brain.counters().accepted, 3, "but not stored again");
    eventually("the duplicates counted", || bridge.stats.get(|s| &s.duplicates) == 3);

    // The police's token on the transport bureau's topic: the whole message is refused.
    let police_msg = body(Some(&f.police), vec![loop_record("loop:AB:0", Some("r9"), t, 8.0)]);
    dev.publish_acked(&format!("{p}/transport-bureau/observations"), &police_msg);
    let refused = dev.message_on(&format!("{p}/transport-bureau/errors"))["report"].clone();
    assert!(refused["error"].as_str().unwrap().contains("not to transport-bureau"), "{refused}");
    // ... and on its own topic it may not write the transport bureau's loops.
    dev.publish_acked(&format!("{p}/traffic-police/observations"), &police_msg);
    let r = dev.message_on(&format!("{p}/traffic-police/errors"))["report"].clone();
    assert_eq!(r["rejected"][0]["field"], "sensor", "{r}");
    // No token at all, a bad token, a body that is not the envelope.
    for (payload, needle) in [
        (body(None, vec![loop_record("loop:AB:0", None, t, 8.0)]), "token: required"),
        (body(Some("cbt_nope"), vec![]), "token:"),
        (b"{\"observations\": 5}".to_vec(), "payload is not JSON"),
        (vec![0xff, 0x00, 0x13], "payload is not JSON"),
    ] {
        dev.publish_acked(&format!("{p}/transport-bureau/observations"), &payload);
        let r = dev.message_on(&format!("{p}/transport-bureau/errors"))["report"].clone();
        assert!(r["error"].as_str().unwrap().contains(needle), "{needle}: {r}");
    }
    // Unknown topics.
    dev.publish_acked(&format!("{p}/transport-bureau/readings"), &msg);
    let r = dev.message_on(&format!("{p}/transport-bureau/errors"))["report"].clone();
    assert!(r["error"].as_str().unwrap().contains("unknown topic"), "{r}");
    dev.publish_acked(&format!("{p}/Not A Department/observations"), &msg);
    let r = dev.message_on(&format!("{p}/errors"))["report"].clone();
    assert!(r["error"].as_str().unwrap().contains("department"), "{r}");
    assert_eq!(f.brain.counters().accepted, 3, "nothing else was stored");
    finish(bridge, &cfg);
}

#[test]
fn a_restarted_bridge_receives_what_was_published_while_it_was_away() {
    let f = fixture();
    let p = f.prefix.clone();
    let cfg = config(&p);
    let bridge = mqtt::Bridge::start(&f.brain, cfg.clone(), f.gov.clone()).unwrap();
    assert!(bridge.wait_subscribed(std::time::Duration::from_secs(20)), "the bridge subscribed");
    let mut dev = Device::connect(&[]);
    let topic = format!("{p}/transport-bureau/observations");
    let send = |dev: &mut Device, from: usize, n: usize| {
        for i in from..from + n {
            let r = loop_record("loop:AB:0", Some(&format!("m{i}")), NOW - 100.0 + i as f64, 8.0);
            dev.publish_acked(&topic, &body(Some(&f.transport), vec![r]));
        }
    };
    send(&mut dev, 0, 3);
    eventually("the first three stored", || f.brain.counters().accepted == 3);
    bridge.stop();
    // The broker keeps them for the persistent session while the brain is away.
    send(&mut dev, 3, 5);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(f.brain.counters().accepted, 3);
    let bridge = mqtt::Bridge::start(&f.brain, cfg.clone(), f.gov.clone()).unwrap();
    assert!(bridge.wait_subscribed(std::time::Duration::from_secs(20)), "the bridge subscribed");
    eventually("the five published while away", || f.brain.counters().accepted == 8);
    send(&mut dev, 8, 1);
    eventually("the next one", || f.brain.counters().accepted == 9);
    finish(bridge, &cfg);
}

#[test]
fn live_state_and_signal_changes_are_published() {
    let f = fixture();
    let p = f.prefix.clone();
    let cfg = config(&p);
    let bridge = mqtt::Bridge::start(&f.brain, cfg.clone(), f.gov.clone()).unwrap();
    assert!(bridge.wait_subscribed(std::time::Duration::from_secs(20)), "the bridge subscribed");
    let mut dev = Device::connect(&[format!("{p}/state/city"), format!("{p}/signals/+"), format!("{p}/events")]);
    let b = IntersectionId(1);
    // The publisher connects on its own thread: tick until the first state arrives.
    let mut tick = 0.0;
    let mut got = false;
    for _ in 0..100 {
        f.brain.set_signals(vec![SignalStatus {
            intersection: b,
            phase: Some(1),
            green_phases: vec![2],
            phases: 3,
            serving: true,
        }]);
        tick += 5.0;
        f.brain.drive_clock(NOW + tick);
        f.brain.tick(NOW + tick, 0, 0);
        if dev.arrives_within(
            Duration::from_millis(200),
            |e| matches!(e, rumqttc::Event::Incoming(rumqttc::Packet::Publish(m)) if m.topic.ends_with("/state/city")),
        ) {
            got = true;
            break;
        }
    }
    assert!(got, "no live state published");
    let city = dev.message_on(&format!("{p}/state/city"));
    assert!(city["time"].as_f64().unwrap() > NOW && city["tpi"].is_number(), "{city}");
    let sig = dev.message_on(&format!("{p}/signals/B"));
    assert_eq!((sig["junction"].as_str(), sig["phase"].as_u64(), sig["serving"].as_bool()), (Some("B"), Some(1), Some(true)));
    // A change is published once; an unchanged signal is not published again.
    dev.inbox.retain(|(t, _)| !t.ends_with("/signals/B"));
    f.brain.set_signals(vec![SignalStatus { intersection: b, phase: Some(2), green_phases: vec![6], phases: 3, serving: false }]);
    f.brain.tick(NOW + tick + 5.0, 0, 0);
    let sig = dev.message_on(&format!("{p}/signals/B"));
    assert_eq!((sig["phase"].as_u64(), sig["serving"].as_bool()), (Some(2), Some(false)));
    f.brain.tick(NOW + tick + 10.0, 0, 0);
    assert!(!dev.arrives_within(Duration::from_millis(500), |e| {
        matches!(e, rumqttc::Event::Incoming(rumqttc::Packet::Publish(m)) if m.topic.ends_with("/signals/B"))
    }));
    assert!(dev.inbox.iter().all(|(t, _)| !t.ends_with("/events")), "events are internal: never on an open topic");
    // Leave no retained message on the shared broker.
    for t in ["state/city", "state/roads", "signals/B"] {
        dev.client.publish(format!("{p}/{t}"), rumqttc::QoS::AtLeastOnce, true, Vec::new()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    finish(bridge, &cfg);
}
