//! NGSI-LD subscriptions over real HTTP with a loopback receiver: what notifications say
//! (formats, `showChanges` with previous values, deleted attributes and entities with the
//! null marker, `datasetId`, `join`, `jsonldContext`, the `@context` of JSON-LD
//! notifications) and what a subscription may be (validation, terms expanded to store).

mod common;
mod ngsi_kit;

use ngsi_kit::{call, json, next, none, problem, receiver, world, JSON, LD};
use serde_json::{json, Value};

const NULL: &str = "urn:ngsi-ld:null";
const ALL_TRIGGERS: [&str; 6] =
    ["entityCreated", "entityUpdated", "entityDeleted", "attributeCreated", "attributeUpdated", "attributeDeleted"];

fn subscribe(a: std::net::SocketAddr, sub: Value) {
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/subscriptions", &[JSON], &sub.to_string());
    assert_eq!(s, 201, "{b}");
}

fn building(id: &str) -> Value {
    json!({"id": id, "type": "Building",
        "name": {"type": "Property", "value": "Eiffel Tower"},
        "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
        "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place", "nl": "Grote Markt"}},
        "doc": {"type": "JsonProperty", "json": {"a": 1}},
        "kind": {"type": "VocabProperty", "vocab": "monument"}})
}

#[test]
fn show_changes_previous_values_and_null_marked_deletions() {
    let w = world("subs-changes", 1000);
    let a = w.addr;
    let (url, rx) = receiver();
    subscribe(
        a,
        json!({"type": "Subscription", "entities": [{"type": "Building"}], "notificationTrigger": ALL_TRIGGERS,
               "notification": {"endpoint": {"uri": url}, "showChanges": true}}),
    );
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/entities", &[JSON], &building("urn:ngsi-ld:Building:B1").to_string());
    assert_eq!(s, 201, "{b}");
    let n = next(&rx, "creation");
    let e = &n.body["data"][0];
    assert_eq!(e["name"], json!({"type": "Property", "value": "Eiffel Tower"}), "{e}");
    assert!(n.headers.contains("content-type: application/json"), "{}", n.headers);

    // An update: the changed attributes carry their previous value, the others not.
    let patch = json!({"name": {"type": "Property", "value": "Tour Eiffel"},
                       "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:Nantes"},
                       "street": {"type": "LanguageProperty", "languageMap": {"fr": "Grand Place", "es": "Gran Lugar"}},
                       "doc": {"type": "JsonProperty", "json": {"b": 2}},
                       "kind": {"type": "VocabProperty", "vocab": "museum"}});
    let (s, _, b) = call(a, "PATCH", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:B1/attrs", &[JSON], &patch.to_string());
    assert_eq!(s, 204, "{b}");
    let e = next(&rx, "update").body["data"][0].clone();
    assert_eq!(e["name"], json!({"type": "Property", "value": "Tour Eiffel", "previousValue": "Eiffel Tower"}));
    assert_eq!(e["locatedAt"]["previousObject"], "urn:ngsi-ld:City:Paris");
    assert_eq!(e["street"]["previousLanguageMap"], json!({"fr": "Grand Place", "nl": "Grote Markt"}));
    assert_eq!(e["doc"]["previousJson"], json!({"a": 1}));
    assert_eq!(e["kind"]["previousVocab"], "monument");

    // Only the name changes now: nothing else gets a previous value.
    let patch = json!({"name": {"type": "Property", "value": "La Tour"}});
    let (s, _, _) = call(a, "PATCH", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:B1/attrs", &[JSON], &patch.to_string());
    assert_eq!(s, 204);
    let e = next(&rx, "second update").body["data"][0].clone();
    assert_eq!(e["name"]["previousValue"], "Tour Eiffel");
    assert_eq!(e["locatedAt"], json!({"type": "Relationship", "object": "urn:ngsi-ld:City:Nantes"}), "{e}");

    // A deleted attribute: the null marker and the previous value.
    let (s, _, b) = call(a, "DELETE", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:B1/attrs/locatedAt", &[], "");
    assert_eq!(s, 204, "{b}");
    let e = next(&rx, "attribute deletion").body["data"][0].clone();
    assert_eq!(e["locatedAt"], json!({"type": "Relationship", "object": NULL, "previousObject": "urn:ngsi-ld:City:Nantes"}));
    assert_eq!(e["name"]["value"], "La Tour");
    let (s, _, _) = call(a, "DELETE", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:B1/attrs/street", &[], "");
    assert_eq!(s, 204);
    let e = next(&rx, "language property deletion").body["data"][0].clone();
    assert_eq!(e["street"]["languageMap"], json!({"@none": NULL}));

    // A deleted entity: id, type, deletedAt and every attribute null with its previous value.
    let (s, _, _) = call(a, "DELETE", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:B1", &[], "");
    assert_eq!(s, 204);
    let e = next(&rx, "entity deletion").body["data"][0].clone();
    assert_eq!(e["id"], "urn:ngsi-ld:Building:B1");
    assert!(e["deletedAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    assert_eq!(e["name"], json!({"type": "Property", "value": NULL, "previousValue": "La Tour"}));
    assert_eq!(e["doc"]["previousJson"], json!({"b": 2}));
    assert!(e.get("locatedAt").is_none(), "already deleted: {e}");
    drop(w);
}

#[test]
fn deletions_by_trigger_watched_attributes_sys_attrs_and_key_values() {
    let w = world("subs-deleted", 1000);
    let a = w.addr;
    let (url_kv, rx_kv) = receiver();
    let (url_sys, rx_sys) = receiver();
    let (url_ent, rx_ent) = receiver();
    subscribe(
        a,
        json!({"type": "Subscription", "entities": [{"type": "Building"}], "notificationTrigger": ["attributeDeleted"],
               "notification": {"endpoint": {"uri": url_kv}, "format": "keyValues"}}),
    );
    subscribe(
        a,
        json!({"type": "Subscription", "entities": [{"type": "Building"}], "watchedAttributes": ["name"],
               "notificationTrigger": ["attributeDeleted"],
               "notification": {"endpoint": {"uri": url_sys}, "sysAttrs": true}}),
    );
    subscribe(
        a,
        json!({"type": "Subscription", "entities": [{"type": "Building"}], "notificationTrigger": ["entityDeleted"],
               "notification": {"endpoint": {"uri": url_ent}, "format": "keyValues", "sysAttrs": true}}),
    );
    let (s, _, _) = call(a, "POST", "/ngsi-ld/v1/entities", &[JSON], &building("urn:ngsi-ld:Building:B2").to_string());
    assert_eq!(s, 201);
    none(&rx_kv, "creation is not a deletion");

    // An unwatched attribute: the keyValues subscription hears it, the watching one not.
    let (s, _, _) = call(a, "DELETE", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:B2/attrs/kind", &[], "");
    assert_eq!(s, 204);
    let e = next(&rx_kv, "kind deleted").body["data"][0].clone();
    assert_eq!(e["kind"], NULL, "{e}");
    assert_eq!(e["name"], "Eiffel Tower");
    none(&rx_sys, "kind is not watched");

    // The watched one: deletedAt and the system times with sysAttrs.
    let (s, _, b) = call(a, "DELETE", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:B2/attrs/name", &[], "");
    assert_eq!(s, 204, "{b}");
    let e = next(&rx_sys, "name deleted").body["data"][0].clone();
    assert_eq!(e["name"]["value"], NULL, "{e}");
    assert!(e["name"]["deletedAt"].is_string(), "{e}");
    assert!(e["name"]["createdAt"].is_string(), "{e}");
    let _ = next(&rx_kv, "name deleted");

    // The entity deleted: attributeDeleted fires for its (watched) attributes; the
    // entityDeleted subscription gets id, type and the system times only.
    let (s, _, _) = call(a, "DELETE", "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:B2", &[], "");
    assert_eq!(s, 204);
    let e = next(&rx_ent, "entity deleted").body["data"][0].clone();
    let keys: Vec<&str> = e.as_object().expect("entity").keys().map(String::as_str).collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["createdAt", "deletedAt", "id", "modifiedAt", "type"], "{e}");
    let e = next(&rx_kv, "entity deleted, attributes deleted").body["data"][0].clone();
    assert_eq!((e["street"].as_str(), e["doc"].as_str()), (Some(NULL), Some(NULL)), "{e}");
    none(&rx_sys, "name was already gone");
    drop(w);
}

#[test]
fn json_ld_notifications_jsonld_context_dataset_ids_and_linked_entities() {
    let w = world("subs-ld", 1000);
    let a = w.addr;
    let (url_ld, rx_ld) = receiver();
    let (url_ds, rx_ds) = receiver();
    let (url_join, rx_join) = receiver();
    // A subscription with its own context, notified expanded through the core context.
    let sub = json!({"type": "Subscription", "entities": [{"type": "Building"}],
        "jsonldContext": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        "notification": {"endpoint": {"uri": url_ld, "accept": "application/ld+json"}, "attributes": ["label"]},
        "@context": {"Building": "https://example.org/Building", "label": "https://example.org/label"}});
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/subscriptions", &[LD], &sub.to_string());
    assert_eq!(s, 201, "{b}");
    subscribe(
        a,
        json!({"type": "Subscription", "entities": [{"type": "Room"}], "datasetId": ["urn:ngsi-ld:Dataset:fr"],
               "notification": {"endpoint": {"uri": url_ds}}}),
    );
    subscribe(
        a,
        json!({"type": "Subscription", "entities": [{"type": "Room"}], "watchedAttributes": ["temperature"],
               "notification": {"endpoint": {"uri": url_join}, "join": "flat", "joinLevel": 1}}),
    );
    let e = json!({"id": "urn:ngsi-ld:Building:B3", "type": "Building", "label": {"type": "Property", "value": "x"},
                   "@context": {"Building": "https://example.org/Building", "label": "https://example.org/label"}});
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/entities", &[LD], &e.to_string());
    assert_eq!(s, 201, "{b}");
    let n = next(&rx_ld, "JSON-LD");
    assert!(n.headers.contains("content-type: application/ld+json"), "{}", n.headers);
    assert!(!n.headers.contains("\nlink:"), "{}", n.headers);
    let d = &n.body["data"][0];
    assert_eq!(d["@context"], "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld", "{d}");
    assert_eq!(d["type"], "https://example.org/Building", "{d}");
    assert_eq!(d["https://example.org/label"]["value"], "x", "{d}");

    // Instances of other datasets are left out.
    let room = json!({"id": "urn:ngsi-ld:Room:R1", "type": "Room",
        "name": [{"type": "Property", "value": "Salle"}, {"type": "Property", "value": "Salle FR", "datasetId": "urn:ngsi-ld:Dataset:fr"},
                 {"type": "Property", "value": "Saal", "datasetId": "urn:ngsi-ld:Dataset:de"}],
        "temperature": {"type": "Property", "value": 20},
        "in": {"type": "Relationship", "object": "urn:ngsi-ld:Building:B3"}});
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/entities", &[JSON], &room.to_string());
    assert_eq!(s, 201, "{b}");
    let d = next(&rx_ds, "datasetId").body["data"][0].clone();
    assert_eq!(d["name"], json!({"type": "Property", "value": "Salle FR", "datasetId": "urn:ngsi-ld:Dataset:fr"}), "{d}");
    assert!(d.get("temperature").is_none(), "{d}");

    // join=flat: the linked building follows the room.
    let data = next(&rx_join, "join").body["data"].clone();
    let ids: Vec<&str> = data.as_array().expect("data").iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, ["urn:ngsi-ld:Room:R1", "urn:ngsi-ld:Building:B3"], "{data}");
    drop(w);
}

#[test]
fn subscriptions_are_validated_and_answered_with_the_callers_terms() {
    let w = world("subs-valid", 1000);
    let a = w.addr;
    let base = || json!({"type": "Subscription", "entities": [{"type": "Building"}], "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}}});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = base();
        f(&mut v);
        v
    };
    let bad: Vec<(Value, u16, &str)> = vec![
        (with(&|v| v["notification"]["pick"] = json!(["id"])), 201, ""),
        (
            with(&|v| {
                v["notification"]["pick"] = json!(["id"]);
                v["notification"]["omit"] = json!(["id"]);
            }),
            400,
            "BadRequestData",
        ),
        (
            with(&|v| {
                v["notification"]["pick"] = json!(["name"]);
                v["notification"]["attributes"] = json!(["name"]);
            }),
            400,
            "BadRequestData",
        ),
        (
            with(&|v| {
                v["notification"]["omit"] = json!(["name"]);
                v["notification"]["attributes"] = json!(["x"]);
            }),
            400,
            "BadRequestData",
        ),
        (with(&|v| v["jsonldContext"] = json!("unknownContext")), 400, "BadRequestData"),
        (
            with(&|v| v["jsonldContext"] = json!("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-non-existing.jsonld")),
            503,
            "LdContextNotAvailable",
        ),
        (with(&|v| v["notification"]["showChanges"] = json!("yes")), 400, "BadRequestData"),
        (with(&|v| v["notification"]["joinLevel"] = json!(0)), 400, "BadRequestData"),
        (with(&|v| v["notification"]["join"] = json!("sideways")), 400, "BadRequestData"),
        (with(&|v| v["notificationTrigger"] = json!(["entityExploded"])), 400, "BadRequestData"),
        (with(&|v| v["datasetId"] = json!(["not a uri"])), 400, "BadRequestData"),
    ];
    for (body, status, kind) in bad {
        let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/subscriptions", &[JSON], &body.to_string());
        assert_eq!((s, problem(&b).as_str()), (status, kind), "{body}: {b}");
    }

    // Types stored expanded: answered with the retrieving caller's context.
    let sub = json!({"id": "urn:ngsi-ld:Subscription:S1", "type": "Subscription", "entities": [{"type": "Vehicle"}],
        "watchedAttributes": ["speed"], "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}, "attributes": ["speed"]},
        "@context": {"Vehicle": "https://example.org/Vehicle", "speed": "https://example.org/speed"}});
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/subscriptions", &[LD], &sub.to_string());
    assert_eq!(s, 201, "{b}");
    let (s, _, b) = call(a, "GET", "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:S1", &[], "");
    assert_eq!(s, 200, "{b}");
    let v = json(&b);
    assert_eq!(v["entities"][0]["type"], "https://example.org/Vehicle", "{v}");
    assert_eq!(v["watchedAttributes"][0], "https://example.org/speed", "{v}");
    assert_eq!(v["notificationTrigger"], json!(["attributeCreated", "attributeUpdated"]), "{v}");
    assert_eq!(v["status"], "active");

    // expiresAt in the past: refused on update as on creation.
    let (s, _, b) = call(
        a,
        "PATCH",
        "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:S1",
        &[JSON],
        r#"{"expiresAt": "2000-01-01T00:00:00Z"}"#,
    );
    assert_eq!((s, problem(&b).as_str()), (400, "BadRequestData"), "{b}");
    let (s, _, b) =
        call(a, "PATCH", "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:S1", &[JSON], r#"{"expiresAt": "9999-99-99"}"#);
    assert_eq!((s, problem(&b).as_str()), (400, "BadRequestData"), "{b}");

    // Listed in creation order whatever the ids (the suite's 031_01_01 compares the list),
    // and a subscription that never notified shows no counters.
    let mut made = Vec::new();
    for id in ["urn:ngsi-ld:Subscription:9", "urn:ngsi-ld:Subscription:1", "urn:ngsi-ld:Subscription:5"] {
        subscribe(a, with(&|v| v["id"] = json!(id)));
        made.push(id);
    }
    let (s, _, b) = call(a, "GET", "/ngsi-ld/v1/subscriptions?limit=100", &[], "");
    assert_eq!(s, 200, "{b}");
    let list = json(&b);
    let ids: Vec<&str> = list.as_array().unwrap().iter().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(&ids[ids.len() - 3..], &made[..], "{b}");
    let first = &list[ids.len() - 3];
    assert!(first["notification"].get("timesSent").is_none() && first["notification"].get("timesFailed").is_none(), "{first}");
    drop(w);
}

/// A subscriber on the real Mosquitto (127.0.0.1:1883, as the mqtt crate's tests use):
/// CONNECT, SUBSCRIBE to `topic` at QoS 1, SUBACK awaited.
fn mqtt_subscriber(topic: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect("127.0.0.1:1883").expect("Mosquitto on 127.0.0.1:1883");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let id = format!("ngsi-test-{}", std::process::id());
    let mut c = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 30, 0, id.len() as u8];
    c.extend_from_slice(id.as_bytes());
    let mut p = vec![0x10, c.len() as u8];
    p.extend(c);
    s.write_all(&p).unwrap();
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).unwrap();
    assert_eq!(ack, [0x20, 2, 0, 0], "CONNACK");
    let mut b = vec![0, 7, 0, topic.len() as u8];
    b.extend_from_slice(topic.as_bytes());
    b.push(1);
    let mut p = vec![0x82, b.len() as u8];
    p.extend(b);
    s.write_all(&p).unwrap();
    let mut ack = [0u8; 5];
    s.read_exact(&mut ack).unwrap();
    assert_eq!(ack, [0x90, 3, 0, 7, 1], "SUBACK at QoS 1");
    s
}

/// The payload of the next PUBLISH (acknowledged when QoS 1), as JSON.
fn mqtt_next(s: &mut std::net::TcpStream) -> Value {
    use std::io::{Read, Write};
    let mut h = [0u8; 1];
    s.read_exact(&mut h).expect("a message from the broker");
    let (mut len, mut mul) = (0usize, 1usize);
    loop {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        len += (b[0] & 0x7f) as usize * mul;
        mul *= 128;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    assert_eq!(h[0] >> 4, 3, "a PUBLISH");
    let tl = u16::from_be_bytes([body[0], body[1]]) as usize;
    let mut at = 2 + tl;
    if (h[0] >> 1) & 3 == 1 {
        s.write_all(&[0x40, 2, body[at], body[at + 1]]).unwrap();
        at += 2;
    }
    serde_json::from_slice(&body[at..]).expect("a JSON message")
}

#[test]
fn mqtt_endpoints_publish_to_the_real_broker_with_metadata() {
    let w = world("subs-mqtt", 1000);
    let a = w.addr;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let topic = format!("citybrain-test/ngsi/{}-{nanos}", std::process::id());
    let mut sub = mqtt_subscriber(&topic);
    let url = format!("mqtt://127.0.0.1:1883/{topic}");
    subscribe(
        a,
        json!({"id": "urn:ngsi-ld:Subscription:M1", "type": "Subscription", "entities": [{"type": "Building"}],
               "notification": {"endpoint": {"uri": url, "accept": "application/json",
                   "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
                   "receiverInfo": [{"key": "test-receiver-key", "value": "test-receiver-info"}]}}}),
    );
    subscribe(
        a,
        json!({"id": "urn:ngsi-ld:Subscription:M2", "type": "Subscription", "entities": [{"type": "Building"}],
               "notification": {"endpoint": {"uri": "mqtt://127.0.0.1:18209/nobody-listens"}}}),
    );
    let (s, _, b) = call(a, "POST", "/ngsi-ld/v1/entities", &[JSON], &building("urn:ngsi-ld:Building:M").to_string());
    assert_eq!(s, 201, "{b}");
    let m = mqtt_next(&mut sub);
    assert_eq!(m["metadata"]["Content-Type"], "application/json", "{m}");
    assert!(m["metadata"]["Link"].as_str().is_some_and(|l| l.contains("json-ld#context")), "{m}");
    assert_eq!(m["metadata"]["test-receiver-key"], "test-receiver-info", "{m}");
    assert_eq!(m["body"]["type"], "Notification");
    assert_eq!(m["body"]["subscriptionId"], "urn:ngsi-ld:Subscription:M1");
    assert_eq!(m["body"]["data"][0]["id"], "urn:ngsi-ld:Building:M");
    // The bookkeeping: a success on the broker, a failure where none listens.
    let sent = |id: &str| -> Value {
        for _ in 0..50 {
            let (_, _, b) = call(a, "GET", &format!("/ngsi-ld/v1/subscriptions/{id}"), &[], "");
            let v = json(&b);
            if v["notification"]["timesSent"] == 1 {
                return v["notification"].clone();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{id}: no notification counted");
    };
    let ok = sent("urn:ngsi-ld:Subscription:M1");
    assert!(ok["lastSuccess"].is_string() && ok.get("lastFailure").is_none(), "{ok}");
    let failed = sent("urn:ngsi-ld:Subscription:M2");
    assert_eq!((failed["timesFailed"].as_u64(), failed["status"].as_str()), (Some(1), Some("failed")), "{failed}");
    drop(w);
}
