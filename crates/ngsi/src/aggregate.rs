//! The aggregated temporal representation (ETSI GS CIM 009 v1.8, 4.5.19 and 6.3.14):
//! an attribute's instances grouped in periods of `aggrPeriodDuration` (an ISO 8601
//! duration; `PT0S` or none: the whole time range) from the start of the time range,
//! each period summarised by the `aggrMethods` (`totalCount`, `distinctCount`, `sum`,
//! `avg`, `min`, `max`, `stddev`, `sumsq`) as `[value, periodStart, periodEnd]`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::NgsiError;

pub const METHODS: [&str; 8] = ["totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq"];

/// Parse `aggrMethods` (a comma list of [`METHODS`]).
pub fn methods(s: Option<Vec<String>>) -> Result<Vec<String>, NgsiError> {
    let list = s.filter(|l| !l.is_empty()).ok_or_else(|| NgsiError::bad("aggrMethods: needed with aggregatedValues"))?;
    for m in &list {
        if !METHODS.contains(&m.as_str()) {
            return Err(NgsiError::bad(format!("aggrMethods: unknown method {m:?} (one of {})", METHODS.join(", "))));
        }
    }
    Ok(list)
}

/// Seconds of an ISO 8601 duration (`P1D`, `PT1H`, `P1Y2M`, ...), calendar units taken
/// from `at` (Unix seconds); 0: the whole time range. Negative or unparsable: 400.
pub fn period(s: Option<&str>, at: f64) -> Result<f64, NgsiError> {
    let Some(s) = s else { return Ok(0.0) };
    let bad = || NgsiError::bad(format!("aggrPeriodDuration: {s:?} is not a positive ISO 8601 duration"));
    if !s.starts_with('P') {
        return Err(bad());
    }
    let span: jiff::Span = s.parse().map_err(|_| bad())?;
    if span.is_negative() {
        return Err(bad());
    }
    let start = jiff::Timestamp::from_millisecond((at * 1000.0) as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let zoned = start.to_zoned(jiff::tz::TimeZone::UTC);
    let secs = span.total((jiff::Unit::Second, &zoned)).map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    Ok(secs)
}

/// The value of an instance that is aggregated (its value member).
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Aggregate `(time, value)` pairs (any order) from `start`, in periods of `period`
/// seconds (0: one period up to `end`), with `methods`; the method → its periods.
/// Periods without a value a method applies to are left out.
pub fn aggregate(points: &[(f64, Value)], start: f64, end: f64, period: f64, methods: &[String]) -> Map<String, Value> {
    let mut buckets: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for (t, v) in points {
        if *t < start {
            continue;
        }
        let k = if period > 0.0 { ((t - start) / period).floor().min(i64::MAX as f64) as i64 } else { 0 };
        buckets.entry(k).or_default().push(v);
    }
    let bounds = |k: i64| -> (String, String) {
        if period > 0.0 {
            let a = start + k as f64 * period;
            (iso(a), iso(a + period))
        } else {
            (iso(start), iso(end.max(start)))
        }
    };
    let mut out = Map::new();
    for m in methods {
        let mut list = Vec::new();
        for (k, vals) in &buckets {
            let Some(x) = summarise(m, vals) else { continue };
            let (a, b) = bounds(*k);
            list.push(Value::Array(vec![x, a.into(), b.into()]));
        }
        out.insert(m.clone(), Value::Array(list));
    }
    out
}

/// A DateTime of Unix seconds, without a fraction when it has none (`...T12:03:00Z`).
pub fn iso(secs: f64) -> String {
    let ms = (secs * 1000.0).round();
    match jiff::Timestamp::from_millisecond(ms as i64) {
        Ok(t) if ms % 1000.0 == 0.0 => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Ok(t) => crate::time::fmt(t),
        Err(_) => String::new(),
    }
}

fn summarise(method: &str, vals: &[&Value]) -> Option<Value> {
    let nums: Vec<f64> = vals.iter().filter_map(|v| number(v)).collect();
    let n = nums.len() as f64;
    let f = |x: f64| serde_json::Number::from_f64(x).map(Value::Number);
    match method {
        "totalCount" => Some(vals.len().into()),
        "distinctCount" => {
            let mut seen: Vec<String> = vals.iter().map(|v| v.to_string()).collect();
            seen.sort();
            seen.dedup();
            Some(seen.len().into())
        }
        "sum" if !nums.is_empty() => f(nums.iter().sum()),
        "avg" if !nums.is_empty() => f(nums.iter().sum::<f64>() / n),
        "sumsq" if !nums.is_empty() => f(nums.iter().map(|x| x * x).sum()),
        "stddev" if !nums.is_empty() => {
            let mean = nums.iter().sum::<f64>() / n;
            let var = if nums.len() > 1 { nums.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
            f(var.sqrt())
        }
        "min" | "max" if !nums.is_empty() => {
            let it = nums.iter().copied();
            f(if method == "min" { it.fold(f64::INFINITY, f64::min) } else { it.fold(f64::NEG_INFINITY, f64::max) })
        }
        "min" | "max" => {
            // Strings (DateTimes, text) compare as strings.
            let mut s: Vec<&str> = vals.iter().filter_map(|v| v.as_str()).collect();
            s.sort_unstable();
            let pick = if method == "min" { s.first() } else { s.last() };
            pick.map(|x| Value::String(x.to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> f64 {
        crate::time::secs(s).expect("time")
    }

    #[test]
    fn hourly_average_and_maximum_from_the_first_instance() {
        let pts = vec![
            (t("2020-08-01T12:03:00Z"), json!(67)),
            (t("2020-08-01T13:05:00Z"), json!(53)),
            (t("2020-08-01T14:07:00Z"), json!(40)),
            (t("2020-08-01T14:08:00Z"), json!(50)),
        ];
        let start = t("2020-08-01T12:03:00Z");
        let p = period(Some("PT1H"), start).expect("duration");
        assert_eq!(p, 3600.0);
        let m = aggregate(&pts, start, start, p, &["avg".into(), "max".into(), "totalCount".into()]);
        assert_eq!(
            m["avg"],
            json!([
                [67.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"],
                [53.0, "2020-08-01T13:03:00Z", "2020-08-01T14:03:00Z"],
                [45.0, "2020-08-01T14:03:00Z", "2020-08-01T15:03:00Z"]
            ])
        );
        assert_eq!(m["max"][2][0], json!(50.0));
        assert_eq!(m["totalCount"][2][0], json!(2));
    }

    #[test]
    fn whole_range_without_a_period_and_the_spread_methods() {
        let pts: Vec<(f64, Value)> =
            [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].iter().enumerate().map(|(i, v)| (i as f64, json!(v))).collect();
        let m = aggregate(
            &pts,
            0.0,
            7.0,
            period(None, 0.0).expect("none"),
            &["sum".into(), "sumsq".into(), "stddev".into(), "distinctCount".into(), "min".into()],
        );
        assert_eq!(m["sum"][0][0], json!(40.0));
        assert_eq!(m["sumsq"][0][0], json!(232.0));
        let sd = m["stddev"][0][0].as_f64().expect("number");
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-9, "{sd}");
        assert_eq!(m["distinctCount"][0][0], json!(5));
        assert_eq!(m["min"][0][0], json!(2.0));
        assert_eq!(m["min"][0][2], json!("1970-01-01T00:00:07Z"));
    }

    #[test]
    fn a_day_is_a_calendar_day_and_text_has_no_average() {
        let start = t("2020-08-01T12:03:00Z");
        assert_eq!(period(Some("P1D"), start).expect("day"), 86400.0);
        let pts = vec![(start, json!("b")), (start + 10.0, json!("a"))];
        let m = aggregate(&pts, start, start, 86400.0, &["avg".into(), "max".into()]);
        assert_eq!(m["avg"], json!([]));
        assert_eq!(m["max"][0][0], json!("b"));
    }

    #[test]
    fn hostile_parameters_are_refused() {
        for bad in ["1H", "PT", "P-1D", "-P1D", "PTxH", "P99999999999Y", ""] {
            assert!(period(Some(bad), 0.0).is_err(), "{bad}");
        }
        assert!(methods(Some(vec!["median".into()])).is_err());
        assert!(methods(None).is_err());
        assert_eq!(methods(Some(vec!["avg".into()])).expect("ok"), vec!["avg".to_string()]);
    }
}
