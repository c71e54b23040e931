//! Hostile topics and payloads through the whole ingest path without a broker
//! (`mqtt::ingest::process` on a real brain with governance): arbitrary topics, bytes,
//! envelopes with absurd times, huge or deeply nested bodies, other departments'
//! sensors. Never a panic; every message is either one of the brain's own topics or gets
//! a report; a refused message stores nothing; only valid records of the topic's
//! department are stored.

mod common;

use std::sync::{Arc, OnceLock};

use common::*;
use mqtt::ingest::process;
use mqtt::topic;
use proptest::prelude::*;
use serde_json::json;

fn shared() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(fixture)
}

fn cfg() -> mqtt::MqttConfig {
    let mut c = config("cb");
    c.max_payload_bytes = 64 << 10;
    c
}

fn run(messages: &[(&str, &[u8])]) -> mqtt::ingest::Processed {
    let f = shared();
    let gov: Arc<dyn mqtt::Credentials> = f.gov.clone();
    let out = process(&f.brain, &cfg(), &*gov, messages);
    assert!(out.stored);
    assert_eq!(out.reports.len(), messages.len());
    for ((t, _), r) in messages.iter().zip(&out.reports) {
        assert_eq!(r.is_none(), topic::is_own("cb", t), "{t}");
    }
    out
}

fn record() -> impl Strategy<Value = serde_json::Value> {
    let sensor =
        prop_oneof![Just("loop:AB:0".to_string()), Just("camera:B".to_string()), Just("probe:taxi".to_string()), "[a-z:]{0,12}",];
    let time = prop_oneof![
        Just(NOW - 5.0),
        Just(1e300),
        Just(-1e300),
        Just(0.0),
        any::<f64>().prop_filter("JSON has no NaN/inf", |t| t.is_finite()),
    ];
    (sensor, time, proptest::option::of("\\PC{0,20}"), any::<u32>(), -10.0f64..500.0).prop_map(|(s, t, id, count, speed)| {
        let mut v = json!({"sensor": s, "kind": "loop", "time": t, "start": t - 30.0, "end": t, "count": count,
            "occupancy": 0.2, "speed": speed});
        if let Some(id) = id {
            v["id"] = id.into();
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_topic_and_bytes_never_panic(t in "\\PC{0,40}", level in "[a-z/+#-]{0,20}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let topics = [t.clone(), format!("cb/{t}"), format!("cb/{level}/observations"), format!("cb/transport-bureau/{level}")];
        let msgs: Vec<(&str, &[u8])> = topics.iter().map(|t| (t.as_str(), &bytes[..])).collect();
        let out = run(&msgs);
        for r in out.reports.iter().flatten() {
            prop_assert!(r.error.is_some(), "random bytes are never a valid envelope: {:?}", r);
        }
        let _ = topic::error_topic("cb", &t);
        let _ = topic::parse_topic("cb", &t);
    }

    #[test]
    fn envelopes_of_hostile_records_store_only_the_departments_valid_ones(mut records in proptest::collection::vec(record(), 0..20)) {
        let f = shared();
        // Ids unique to this case: a stored (sensor, id) is a duplicate, answered accepted
        // without being judged again, whatever else the resent record says.
        static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for r in records.iter_mut() {
            if let Some(id) = r["id"].as_str() {
                r["id"] = format!("{case}.{id}").into();
            }
        }
        let body = serde_json::to_vec(&json!({"token": f.transport, "observations": records})).unwrap();
        let out = run(&[("cb/transport-bureau/observations", &body)]);
        let r = out.reports[0].as_ref().unwrap();
        prop_assert!(r.error.is_none(), "{:?}", r.error);
        prop_assert_eq!(r.accepted + r.rejected.len(), records.len());
        for rej in &r.rejected {
            prop_assert!(rej.index < records.len());
            prop_assert!(!rej.error.is_empty());
        }
        for (i, rec) in records.iter().enumerate() {
            let rejected = r.rejected.iter().any(|x| x.index == i);
            if rec["sensor"] != "loop:AB:0" || rec["time"].as_f64() != Some(NOW - 5.0) {
                prop_assert!(rejected, "record {} must be rejected: {}", i, rec);
            }
        }
    }
}

#[test]
fn huge_and_deep_payloads_are_refused_without_parsing_too_much() {
    let f = shared();
    let huge = vec![b' '; (64 << 10) + 1];
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let mut deep_env = b"{\"observations\":[".to_vec();
    deep_env.extend(vec![b'['; 50_000]);
    let out = run(&[
        ("cb/transport-bureau/observations", &huge),
        ("cb/transport-bureau/observations", deep.as_bytes()),
        ("cb/transport-bureau/observations", &deep_env),
    ]);
    let errors: Vec<String> = out.reports.iter().map(|r| r.as_ref().unwrap().error.clone().unwrap()).collect();
    assert!(errors[0].contains("larger than the limit"), "{}", errors[0]);
    assert!(errors[1].contains("payload is not JSON"), "{}", errors[1]);
    assert!(errors[2].contains("payload is not JSON"), "{}", errors[2]);
    // A police token cannot write the transport bureau's loops, even on its own topic.
    let body = serde_json::to_vec(&json!({"token": f.police, "observations": [loop_record("loop:AB:0", None, NOW - 5.0, 8.0)]}))
        .unwrap();
    let out = run(&[("cb/traffic-police/observations", &body)]);
    let r = out.reports[0].as_ref().unwrap();
    assert_eq!((r.accepted, r.rejected.len(), r.rejected[0].field.as_str()), (0, 1, "sensor"));
}
