//! Absolute time, the clock rules, sensor lockout and the rejected-record ring: each a
//! regression test of issue 15's hostile cases.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;

use super::tests::{loop_rec, reg};
use super::*;
use crate::rejected::{is_sensitive_field, truncate, REDACTED};
use crate::time::{format_utc, parse_rfc3339, timestamp, MAX_UNIX_S};

/// 2026-12-06T07:00:00Z.
const T0: f64 = 1_796_540_400.0;

fn pipeline(cfg: PipelineConfig) -> (Pipeline, Arc<Mutex<CollectSink>>) {
    let mut p = Pipeline::new(Arc::new(reg()), cfg);
    let sink = Arc::new(Mutex::new(CollectSink::default()));
    p.add_sink(Box::new(sink.clone()));
    (p, sink)
}

fn body(records: &[String]) -> Vec<RawRecord> {
    parse_batch(format!("{{\"observations\":[{}]}}", records.join(",")).as_bytes()).unwrap()
}

fn errors(rep: &IngestReport) -> Vec<String> {
    rep.results.iter().filter_map(|r| r.1.clone().err()).collect()
}

#[test]
fn times_are_rfc3339_strings_or_unix_seconds() {
    assert_eq!(format_utc(T0), "2026-12-06T07:00:00.000Z");
    let rec = |t: &str, s: &str, e: &str| {
        format!(
            r#"{{"sensor":"loop:AB:0","kind":"loop","time":{t},"start":{s},"end":{e},"count":3,"occupancy":0.1,"speed":null}}"#
        )
    };
    let recs = body(&[
        rec("1796540400", "1796540370", "1796540400"),
        rec("\"2026-12-06T07:00:00Z\"", "\"2026-12-06T06:59:30Z\"", "\"2026-12-06T07:00:00Z\""),
        rec("\"2026-12-06T15:00:00+08:00\"", "1796540370.0", "\"2026-12-06T02:00:00-05:00\""),
        rec("\"2026-12-06T07:00:00.250Z\"", "1796540370", "1796540400"),
    ]);
    let obs: Vec<Observation> = recs.iter().map(|r| validate(&reg(), r).unwrap()).collect();
    for o in &obs[..3] {
        assert_eq!(o.time, T0);
        let ObsData::Loop(l) = &o.data else { panic!() };
        assert_eq!((l.start, l.end), (T0 - 30.0, T0));
    }
    assert_eq!(obs[3].time, T0 + 0.25);
}

#[test]
fn bad_timestamps_are_record_errors_naming_the_field() {
    let (mut p, sink) = pipeline(PipelineConfig::default());
    let rec = |field: &str, v: &str| {
        let mut m: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&serde_json::to_string(&loop_rec(T0, 1.0, 0.1)).unwrap()).unwrap();
        m.insert(field.into(), serde_json::from_str(v).unwrap());
        serde_json::Value::Object(m).to_string()
    };
    let recs = body(&[
        rec("time", "\"yesterday\""),
        rec("start", "\"2026-13-01T00:00:00Z\""),
        rec("end", "\"2026-12-06T07:00:00\""),
        rec("time", "true"),
        rec("time", "-5"),
        rec("time", "1e300"),
        rec("start", "\"10000-01-01T00:00:00Z\""),
        rec("time", &format!("\"{}\"", "9".repeat(5000))),
    ]);
    let rep = p.ingest(&recs, T0);
    let e = errors(&rep);
    assert_eq!(rep.accepted, 0);
    let fields = ["time", "start", "end", "time", "time", "time", "start", "time"];
    for (k, (err, f)) in e.iter().zip(fields).enumerate() {
        assert!(err.starts_with(&format!("observations[{k}].{f}: ")), "{err}");
        assert!(err.len() < 600, "{err}");
    }
    assert!(e[0].contains("invalid RFC 3339 timestamp \"yesterday\""), "{}", e[0]);
    assert!(e[4].contains("got -5"), "{}", e[4]);
    assert!(e[5].contains("9999-12-31T23:59:59Z"), "{}", e[5]);
    assert!(e[7].contains("longer than 64 bytes"), "{}", e[7]);
    assert!(sink.lock().unwrap().0.is_empty());
}

/// Issue 15: one POST with `"time": 1e15` froze the live state and locked its sensor out.
#[test]
fn a_hostile_time_is_rejected_and_changes_nothing() {
    let (mut p, sink) = pipeline(PipelineConfig::default());
    let lp = p.registry().lookup("loop:AB:0").unwrap();
    let rep = p.ingest(&[loop_rec(T0 - 60.0, 1.0, 0.1).into()], T0);
    assert_eq!(rep.accepted, 1);
    assert_eq!(p.last_time(lp), Some(T0 - 60.0));
    for hostile in [1e15, T0 + 301.0, T0 + 86_400.0 * 365.0, T0 - 86_401.0, 1000.0] {
        let rep = p.ingest(&[loop_rec(hostile, 1.0, 0.1).into()], T0);
        assert_eq!((rep.accepted, rep.rejected), (0, 1), "{hostile}");
        let e = &errors(&rep)[0];
        assert!(e.starts_with("observations[0].time: "), "{e}");
        if (0.0..=MAX_UNIX_S).contains(&hostile) {
            let bound = if hostile > T0 { "skew of 300 s ahead" } else { "retention window of 86400 s" };
            assert!(e.contains(bound) && e.contains("2026-12-06T07:00:00.000Z"), "{e}");
        }
        // Nothing else changed: the order mark, the sinks, the counters.
        assert_eq!(p.last_time(lp), Some(T0 - 60.0));
        assert_eq!(sink.lock().unwrap().0.len(), 1);
    }
    assert_eq!((p.total_accepted(), p.total_rejected()), (1, 5));
    // Within the bounds, the edges are accepted.
    let rep = p.ingest(&[loop_rec(T0 + 300.0, 1.0, 0.1).into(), loop_rec(T0 - 20.0, 1.0, 0.1).into()], T0);
    assert_eq!(rep.accepted, 2, "{:?}", errors(&rep));
}

/// Issue 15: a far-future record locked its sensor out (the order rule compared against it).
#[test]
fn one_bad_record_cannot_lock_its_sensor_out() {
    let cfg = PipelineConfig { max_skew_s: 300.0, order_tolerance_s: 30.0, ..Default::default() };
    let (mut p, sink) = pipeline(cfg);
    let lp = p.registry().lookup("loop:AB:0").unwrap();
    // A far-future record (rejected), then one just inside the skew (accepted: the
    // device's clock may be fast), then the sensor's ordinary records.
    let rep = p.ingest(&[loop_rec(1e15, 1.0, 0.1).into(), loop_rec(T0 + 290.0, 1.0, 0.1).into()], T0);
    assert_eq!((rep.accepted, rep.rejected), (1, 1));
    assert_eq!(p.last_time(lp), Some(T0), "the order mark never passes the clock");
    for k in 1..=10 {
        let now = T0 + 5.0 * k as f64;
        let rep = p.ingest(&[loop_rec(now - 2.0, 1.0, 0.1).into()], now);
        assert_eq!(rep.accepted, 1, "{:?}", errors(&rep));
    }
    assert_eq!(sink.lock().unwrap().0.len(), 11);
    assert_eq!(p.last_time(lp), Some(T0 + 48.0));
}

#[test]
fn a_clock_that_is_not_set_rejects_instead_of_accepting_everything() {
    let (mut p, _) = pipeline(PipelineConfig::default());
    let rep = p.ingest(&[loop_rec(T0, 1.0, 0.1).into()], f64::NAN);
    assert_eq!(rep.rejected, 1);
    assert!(errors(&rep)[0].contains("clock is not set"));
}

/// Issue 15: the ring kept raw bodies up to 16 MiB each and `/rejected` returned 600 MB.
#[test]
fn the_rejected_ring_is_bounded_in_bytes_and_truncates_raw_bodies() {
    let cfg = PipelineConfig { rejected_capacity: 1000, rejected_max_bytes: 64 << 10, raw_max_bytes: 1024, ..Default::default() };
    let (mut p, _) = pipeline(cfg);
    let big = "x".repeat(200_000);
    let recs = body(&(0..50).map(|k| format!(r#"{{"sensor":"loop:AB:0","field_{big}":{k}}}"#)).collect::<Vec<_>>());
    let rep = p.ingest(&recs, T0);
    assert_eq!(rep.rejected, 50);
    for r in &rep.rejections {
        assert!(r.raw.len() <= 1024 + 40, "{}", r.raw.len());
        assert!(r.raw.contains("…[truncated, ") && r.raw.ends_with(" bytes]"), "{}", &r.raw[1000..]);
        assert!(r.error.len() <= 1024 + 40, "{}", r.error.len());
        assert!(r.error.contains("…[truncated"), "{}", &r.error[..100]);
    }
    let (n, bytes) = p.rejected_kept();
    assert!(bytes <= 64 << 10 && bytes == p.rejected().map(Rejected::cost).sum::<usize>(), "{bytes}");
    assert!((20..50).contains(&n), "{n}");
    // The newest are kept, and the batch's own rejections come back without the ring.
    assert_eq!(p.rejected().last().unwrap(), rep.rejections.last().unwrap());
    // Count bound too.
    let (mut p, _) = pipeline(PipelineConfig { rejected_capacity: 3, ..Default::default() });
    p.ingest(&(0..10).map(|_| loop_rec(1e15, 1.0, 0.1).into()).collect::<Vec<_>>(), T0);
    assert_eq!(p.rejected().map(|r| r.index).collect::<Vec<_>>(), vec![7, 8, 9]);
}

#[test]
fn the_rejected_ring_pages_newest_first() {
    let (mut p, _) = pipeline(PipelineConfig::default());
    for b in 0..5 {
        p.ingest(&[loop_rec(1e15, 1.0, 0.1).into(), loop_rec(1e15, 1.0, 0.1).into()], T0 + b as f64);
    }
    let seqs = |o, l| p.rejected_page(o, l).iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(0, 3), vec![10, 9, 8]);
    assert_eq!(seqs(3, 3), vec![7, 6, 5]);
    assert_eq!(seqs(9, 3), vec![1]);
    assert_eq!(seqs(10, 3), Vec::<u64>::new());
    assert_eq!(p.rejected_page(0, 1)[0].batch, 5);
}

/// Personal data never reaches the ring: plates (raw or tokens) and report text.
#[test]
fn rejected_records_are_redacted() {
    let (mut p, _) = pipeline(PipelineConfig::default());
    let plate = "ZJ-A12345";
    let recs = body(&[
        // A camera sending a raw plate: a typed record, rejected by validation.
        format!(r#"{{"sensor":"camera:B","kind":"plate","time":{T0},"road":"AB","token":"{plate}"}}"#),
        // Malformed: an unknown `plate` field, a nested token, a token of the wrong type.
        format!(r#"{{"sensor":"camera:B","kind":"plate","time":{T0},"plate":"{plate}"}}"#),
        format!(r#"{{"sensor":"camera:B","extra":{{"deep":[{{"vehicleToken":"{plate}"}}]}}}}"#),
        format!(r#"{{"sensor":"camera:B","kind":"plate","time":{T0},"token":["{plate}"]}}"#),
        format!(r#"{{"sensor":"camera:B","kind":"plate","time":{T0},"token":{{"raw":"{plate}"}}}}"#),
        // A citizen report whose text names someone (rejected for its category).
        format!(
            r#"{{"sensor":"{CITIZEN_FEED_ID}","kind":"report","time":{T0},"category":"bad","road":"AB","text":"Zhang San {plate} 13800000000"}}"#
        ),
        // Not valid JSON for a value? Top-level non-objects stay (no field names).
        "\"just a string\"".into(),
    ]);
    let rep = p.ingest(&recs, T0);
    assert_eq!(rep.rejected, 7);
    for r in p.rejected() {
        assert!(!r.raw.contains(plate) && !r.error.contains(plate), "{r:?}");
        assert!(!r.raw.contains("Zhang") && !r.raw.contains("13800000000"), "{r:?}");
    }
    let kept: Vec<&Rejected> = p.rejected().collect();
    assert!(kept[0].raw.contains(&format!("\"token\":\"{REDACTED}\"")), "{}", kept[0].raw);
    assert!(kept[0].error.starts_with("observations[0].token: must be a pseudonymised token"), "{}", kept[0].error);
    assert!(kept[3].error.starts_with("observations[3].token: invalid value ([redacted]"), "{}", kept[3].error);
    assert!(kept[5].raw.contains("\"category\":\"bad\""), "{}", kept[5].raw);
    assert_eq!(kept[6].raw, "\"just a string\"");
    // The same redaction in what the batch returns (stored by the brain).
    assert_eq!(rep.rejections.iter().collect::<Vec<_>>(), kept);
    assert!(is_sensitive_field("licensePlate") && is_sensitive_field("TOKEN") && !is_sensitive_field("road"));
}

#[test]
fn truncation_respects_char_boundaries() {
    let s = "浙".repeat(10);
    let t = truncate(s.clone(), 7);
    assert!(t.starts_with("浙浙") && t.ends_with("…[truncated, 30 bytes]"), "{t}");
    assert_eq!(truncate(s.clone(), 30), s);
}

#[test]
fn city_zone_formats_with_offset_and_places_the_demo_day() {
    let z = CityZone::default();
    assert_eq!(z.name(), "Asia/Shanghai");
    assert_eq!(z.format(T0), "2026-12-06T15:00:00.000+08:00");
    assert_eq!(z.format_log(T0 + 0.5), "2026-12-06 15:00:00.500+08:00");
    assert_eq!(z.utc_offset_s(T0), 8 * 3600);
    // 07:00 in Shanghai on the date of T0 (15:00 there) is 23:00 UTC the day before.
    assert_eq!(format_utc(z.day_at(T0, 7.0).unwrap()), "2026-12-05T23:00:00.000Z");
    let ny = CityZone::new("America/New_York").unwrap();
    assert_eq!(ny.format(T0), "2026-12-06T02:00:00.000-05:00");
    assert!(CityZone::new("Mars/Olympus").unwrap_err().contains("unknown time zone"));
    assert!(z.day_at(T0, 24.0).is_err() && z.day_at(f64::NAN, 7.0).is_err());
}

/// The log's civil time written field by field is strftime's, in zones east and west,
/// with half-hour and DST offsets, across the epoch, a DST change and the ms rounding.
#[test]
fn the_log_time_is_strftimes() {
    // (Beyond jiff's range, late on 9999-12-30, both print the number: `format_utc`.)
    let strftime = |z: &str, t: f64| match timestamp(t) {
        Some(ts) => ts.to_zoned(jiff::tz::TimeZone::get(z).unwrap()).strftime("%Y-%m-%d %H:%M:%S%.3f%:z").to_string(),
        None => format_utc(t),
    };
    let zones =
        ["Asia/Shanghai", "UTC", "America/New_York", "America/St_Johns", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/Berlin"];
    // 2026-03-29 01:00Z is Berlin's change to summer time; 0 and 9999 are the range's ends.
    let times = [
        0.0,
        0.0004,
        0.9995,
        1.2345,
        T0,
        T0 + 0.5,
        T0 + 59.9996,
        1_774_746_000.0 - 0.001,
        1_774_746_000.0,
        253_402_000_000.0,
        MAX_UNIX_S,
    ];
    for z in zones {
        let cz = CityZone::new(z).unwrap();
        for t in times.iter().copied().chain((0..200).map(|k| T0 + k as f64 * 3_600.123_7)) {
            assert_eq!(cz.format_log(t), strftime(z, t), "{z} {t}");
        }
    }
    let mut out = String::from("x,");
    CityZone::default().write_log(T0, &mut out);
    assert_eq!(out, "x,2026-12-06 15:00:00.000+08:00");
}

proptest! {
    #[test]
    fn any_string_is_a_timestamp_or_an_error(s in "\\PC{0,80}") {
        if let Ok(t) = parse_rfc3339(&s) {
            prop_assert!((0.0..=MAX_UNIX_S).contains(&t));
        }
    }

    /// Strings shaped like RFC 3339 with hostile parts: big years, month 13, second 60
    /// (leap), odd offsets, many fraction digits.
    #[test]
    fn rfc3339_shaped_strings_never_panic(
        y in prop_oneof![0i64..10_000, -100_000i64..1_000_000],
        mo in 0u32..20, d in 0u32..40, h in 0u32..30, mi in 0u32..70, s in 0u32..70,
        frac in "[0-9]{0,12}",
        off in prop_oneof![Just("Z".to_string()), "[+-][0-9]{2}:[0-9]{2}", "[+-][0-9]{1,6}", Just(String::new())],
    ) {
        let f = if frac.is_empty() { String::new() } else { format!(".{frac}") };
        let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{f}{off}");
        match parse_rfc3339(&text) {
            Ok(t) => {
                prop_assert!((0.0..=MAX_UNIX_S).contains(&t), "{} -> {}", text, t);
                // A valid leap second reads as :59 of the same minute.
                if s == 60 && off == "Z" {
                    let t59 = parse_rfc3339(&text.replacen(":60", ":59", 1)).unwrap();
                    prop_assert!((t - t59).abs() < 1.0);
                }
            }
            Err(e) => prop_assert!(!e.is_empty() && e.len() < 400),
        }
    }

    /// Any JSON number in a time field: accepted only when it is in range.
    #[test]
    fn any_number_in_a_time_field_is_judged_without_panic(
        lit in prop_oneof![
            any::<f64>().prop_map(|f| serde_json::json!(f).to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|i| i.to_string()),
            Just("1e400".to_string()), Just("-1e400".to_string()), Just("1e15".to_string()),
            "[0-9]{1,400}", "-?[0-9]{1,30}\\.[0-9]{1,30}[eE][+-]?[0-9]{1,5}",
        ],
        field in prop::sample::select(vec!["time", "start", "end"]),
    ) {
        let mut m: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&serde_json::to_string(&loop_rec(T0, 1.0, 0.1)).unwrap()).unwrap();
        m.remove(field);
        let rec = serde_json::Value::Object(m).to_string();
        let text = format!(r#"{{"observations":[{{"{field}":{lit},{}]}}"#, &rec[1..]);
        let Ok(recs) = parse_batch(text.as_bytes()) else { return Ok(()) };
        let (mut p, sink) = pipeline(PipelineConfig::default());
        let rep = p.ingest(&recs, T0);
        prop_assert_eq!(rep.accepted + rep.rejected, 1);
        for o in &sink.lock().unwrap().0 {
            prop_assert!(o.time >= T0 - 86_400.0 && o.time <= T0 + 300.0);
        }
        if rep.rejected == 1 {
            prop_assert!(rep.results[0].1.as_ref().unwrap_err().starts_with("observations[0]."));
        }
    }

    /// Formatting and parsing agree to the millisecond across the whole range.
    #[test]
    fn format_then_parse_round_trips(ms in 0i64..=(MAX_UNIX_S as i64) * 1000) {
        let t = ms as f64 / 1000.0;
        let back = parse_rfc3339(&format_utc(t)).unwrap();
        prop_assert!((back - t).abs() < 1e-3, "{} {}", t, back);
        let z = CityZone::default();
        let back = parse_rfc3339(&z.format(t)).unwrap();
        prop_assert!((back - t).abs() < 2e-3, "{} {}", t, back);
    }
}
