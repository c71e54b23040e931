//! The MQTT edge in the access matrix, against the real Mosquitto: every credential
//! (each role of several departments, a read-only token, none, a bad one) publishes a
//! record for every department's sensor on every department's topic; a record is stored
//! exactly when the token's department is the topic's and the sensor's and the
//! credential may write. Then everything the brain publishes while it runs (live state,
//! signals, incidents, with an internal event and a citizen's report planted) is read
//! back from `{prefix}/#`: only the open topics, only public fields, no marker of
//! internal data and no credential.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use brain::{BusMessage, Caller, Event, EventKind, Role, Scopes, Severity};
use common::*;
use serde_json::json;
use twin::RoadId;

const M_EVENT: &str = "leakcheck-mqtt-event-5d";
const M_REPORT: &str = "leakcheck-mqtt-report-e2";
const M_PHOTO: &str = "leakcheck-mqtt-photo-71";

/// (principal, department, role, scopes)
const HOLDERS: [(&str, &str, Role, Scopes); 8] = [
    ("tb.gateway", "transport-bureau", Role::Service, Scopes(3)),
    ("tb.reader", "transport-bureau", Role::Service, Scopes::READ),
    ("tb.operator", "transport-bureau", Role::Operator, Scopes(3)),
    ("tb.admin", "transport-bureau", Role::Admin, Scopes(3)),
    ("tb.analyst", "transport-bureau", Role::Viewer, Scopes::READ),
    ("tp.gateway", "traffic-police", Role::Service, Scopes(3)),
    ("hotline.gateway", "city-hotline", Role::Service, Scopes(3)),
    ("cdo.admin", "city-data-office", Role::Admin, Scopes(3)),
];

/// The open-data fields of an incident (what `/api/v1/open/incidents.csv` serves).
const INCIDENT_FIELDS: [&str; 11] =
    ["id", "type", "status", "road", "lon", "lat", "detected_at", "verified_at", "dispatched_at", "arrived_at", "cleared_at"];

#[test]
fn publishing_is_refused_across_departments_and_open_topics_hold_only_public_data() {
    let f = fixture();
    let p = f.prefix.clone();
    let sys = Caller::system();
    let mut tokens: Vec<(String, Option<&str>, Role, Scopes)> =
        vec![(String::new(), None, Role::Public, Scopes(0)), ("cbt_notatoken_x".into(), None, Role::Public, Scopes(0))];
    for (name, dept, role, scopes) in HOLDERS {
        f.gov.put_principal(&sys, name, dept, role, None).unwrap();
        tokens.push((f.gov.issue_token(&sys, name, scopes, 3600.0, "mqtt leak test").unwrap(), Some(dept), role, scopes));
    }
    let incidents = incidents::Incidents::install(
        &f.brain,
        incidents::IncidentsConfig::default(),
        incidents::dispatch::default_fleet(&f.brain.net, 2),
    );
    let cfg = config(&p);
    let bridge = mqtt::Bridge::start(&f.brain, cfg.clone(), f.gov.clone()).unwrap();
    assert!(bridge.wait_subscribed(Duration::from_secs(20)), "the bridge subscribed");
    let mut dev = Device::connect(&[format!("{p}/#")]);

    let t = NOW - 10.0;
    let records = |sensor: &str, id: &str| match sensor {
        "camera:B" => json!({"id": id, "sensor": sensor, "kind": "queue", "time": t, "road": "AB", "queue_m": 10, "waiting": 2}),
        "citizen:12345" => {
            json!({"id": id, "sensor": sensor, "kind": "report", "time": t, "category": "other", "text": "pothole", "road": "AB"})
        }
        _ => loop_record(sensor, Some(id), t, 8.0),
    };
    let sensors = [("loop:AB:0", "transport-bureau"), ("camera:B", "traffic-police"), ("citizen:12345", "city-hotline")];
    let topics = ["transport-bureau", "traffic-police", "city-hotline", "city-data-office"];
    let mut leaks = Vec::new();
    let mut accepted_total = 0u64;
    let mut n = 0usize;
    for (token, dept, role, scopes) in &tokens {
        for topic_dept in topics {
            for (sensor, owner) in sensors {
                n += 1;
                let id = format!("m{n}");
                // A second record nobody can store, so every message gets its report.
                let never = loop_record("loop:NOSUCH:0", Some(&format!("x{n}")), t, 8.0);
                let mut body = json!({"observations": [records(sensor, &id), never]});
                if !token.is_empty() {
                    body["token"] = token.as_str().into();
                }
                let topic = format!("{p}/{topic_dept}/observations");
                dev.publish_acked(&topic, &serde_json::to_vec(&body).unwrap());
                let report = dev.message_on(&format!("{p}/{topic_dept}/errors"))["report"].clone();
                let accepted = report["accepted"].as_u64().unwrap_or(0);
                let allowed = *dept == Some(topic_dept)
                    && topic_dept == owner
                    && matches!(role, Role::Service | Role::Operator | Role::Admin)
                    && scopes.contains(Scopes::WRITE);
                if (accepted == 1) != allowed {
                    leaks
                        .push(format!("{:?} {role:?} on {topic_dept}'s topic for {sensor}: accepted {accepted}, {report}", dept));
                }
                accepted_total += accepted;
            }
        }
    }
    eventually("every accepted record stored", || f.brain.counters().accepted == accepted_total);
    assert!(accepted_total >= 3, "the owners' own records are stored ({accepted_total})");

    // Now the brain runs: ticks (live state, signals), an internal event, a citizen's
    // report of an incident with its text and photo.
    let (lon, lat) = f.brain.net.georef.to_lonlat(f.brain.net.road(RoadId(0)).points[0]);
    let report = incidents::ReportInput {
        source: "citizen".into(),
        kind: None,
        lon,
        lat,
        confidence: None,
        reference: Some(M_PHOTO.into()),
        text: Some(M_REPORT.into()),
        device: None,
        time: None,
    };
    incidents.submit(&Caller::anonymous(), &report).unwrap();
    let event = Event {
        id: 1,
        time: NOW,
        source: "leakcheck",
        kind: EventKind::Congestion { road: RoadId(0) },
        severity: Severity::Critical,
        message: M_EVENT.into(),
    };
    let mut tick = 0.0;
    let mut got = BTreeSet::new();
    for _ in 0..100 {
        tick += 5.0;
        f.brain.drive_clock(NOW + tick);
        f.brain.tick(NOW + tick, 0, 0);
        f.brain.bus().publish(&BusMessage::Event(std::sync::Arc::new(event.clone())));
        dev.arrives_within(Duration::from_millis(100), |_| false);
        for (topic, _) in &dev.inbox {
            got.insert(topic.trim_start_matches(&format!("{p}/")).to_string());
        }
        if got.contains("state/city") && got.contains("incidents") {
            break;
        }
    }
    assert!(got.contains("state/city") && got.contains("state/roads"), "live state published: {got:?}");
    assert!(got.contains("incidents"), "the incident's public view published: {got:?}");
    dev.arrives_within(Duration::from_millis(500), |_| false);

    let mut by_topic: BTreeMap<String, usize> = BTreeMap::new();
    for (topic, body) in &dev.inbox {
        let level = topic.trim_start_matches(&format!("{p}/"));
        // The devices' own publishes carry their tokens; they are not the brain's.
        if level.ends_with("/observations") {
            continue;
        }
        *by_topic.entry(level.split('/').next().unwrap_or("").to_string()).or_default() += 1;
        let open = matches!(level, "state/city" | "state/roads" | "incidents") || level.starts_with("signals/");
        let own_errors = level.ends_with("/errors") || level == "errors";
        if !open && !own_errors {
            leaks.push(format!("published on {level}: {body}"));
        }
        for m in [M_EVENT, M_REPORT, M_PHOTO] {
            if body.contains(m) {
                leaks.push(format!("{level} holds {m}: {body}"));
            }
        }
        if tokens.iter().any(|(t, ..)| !t.is_empty() && t.len() > 20 && body.contains(t.as_str())) {
            leaks.push(format!("{level} holds a token"));
        }
        if level == "incidents" {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            for k in v.as_object().unwrap().keys() {
                if !INCIDENT_FIELDS.contains(&k.as_str()) {
                    leaks.push(format!("incidents: field {k} is not open data: {body}"));
                }
            }
        }
    }
    println!(
        "{} publishes checked over {} credentials, {} topics, {} sensors; brain published {by_topic:?}; {} leaks",
        n,
        tokens.len(),
        topics.len(),
        sensors.len(),
        leaks.len()
    );
    // Leave no retained message on the shared broker.
    for (topic, _) in dev.inbox.iter().filter(|(t, _)| t.contains("/state/") || t.contains("/signals/")) {
        dev.client.publish(topic.clone(), rumqttc::QoS::AtLeastOnce, true, Vec::new()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    finish(bridge, &cfg);
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
}
