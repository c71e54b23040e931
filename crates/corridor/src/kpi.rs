//! Corridor costs month by month for the public KPI page, from the corridor plug-in's own
//! records: the reports journaled (topic `corridor`) when a corridor has ended (vehicle
//! arrived, every signal back to normal control). Only totals leave: no requester, no
//! reason, no route.

use brain::{Action, Caller};
use serde_json::Value;

use crate::service::{Corridors, CorridorsError};

/// One month's corridors (months in UTC, by when the report was recorded).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonthCosts {
    /// `YYYY-MM`.
    pub month: String,
    /// Corridors accepted (operator requests and priority dispatches).
    pub requested: usize,
    /// Corridors run to the end: the vehicle arrived and the signals recovered.
    pub run: usize,
    /// Sum over the corridors run of the vehicle's actual travel time, seconds.
    pub ev_actual_s: f64,
    /// Sum of the route's live travel time when planned: the prediction without a corridor.
    pub ev_predicted_without_s: f64,
    /// `ev_predicted_without_s - ev_actual_s`.
    pub ev_saved_s: f64,
    /// Median over the corridors run of the time saved, seconds.
    pub ev_saved_median_s: Option<f64>,
    /// Signals preempted, and the seconds they were held (call placed to vehicle passed).
    pub signals_preempted: usize,
    pub preempted_s: f64,
    /// Vehicle-seconds other traffic waited at the corridors' signals while preempted.
    pub others_delay_veh_s: f64,
}

/// Civil `YYYY-MM` of Unix seconds (UTC).
pub fn month_of(t: f64) -> String {
    let days = (t / 86_400.0).floor() as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}")
}

/// Aggregate journal entries `(time, body)` of topic `corridor` by month, newest first.
/// Entries that are not a corridor's acceptance or report, or whose figures are not
/// finite, are skipped.
pub fn monthly<'a>(entries: impl IntoIterator<Item = (f64, &'a str)>) -> Vec<MonthCosts> {
    let mut by: std::collections::BTreeMap<String, (MonthCosts, Vec<f64>)> = Default::default();
    for (t, body) in entries {
        let Ok(v) = serde_json::from_str::<Value>(body) else { continue };
        if !t.is_finite() {
            continue;
        }
        let month = month_of(t);
        let f = |k: &str| v.get(k).and_then(Value::as_f64).filter(|x| x.is_finite());
        let report = match v.get("event").and_then(Value::as_str) {
            Some("accepted") => None,
            Some("report") => match (f("actual_s"), f("predicted_without_s"), f("cost_veh_s")) {
                (Some(actual), Some(without), Some(cost)) => Some((actual, without, cost)),
                _ => continue,
            },
            _ => continue,
        };
        let (m, saved) =
            by.entry(month.clone()).or_insert_with(|| (MonthCosts { month: month.clone(), ..Default::default() }, Vec::new()));
        let Some((actual, without, cost)) = report else {
            m.requested += 1;
            continue;
        };
        m.run += 1;
        m.ev_actual_s += actual;
        m.ev_predicted_without_s += without;
        m.ev_saved_s += without - actual;
        m.others_delay_veh_s += cost;
        m.signals_preempted += v.get("preempted").and_then(Value::as_u64).unwrap_or(0) as usize;
        m.preempted_s += f("preempted_s").unwrap_or(0.0);
        saved.push(without - actual);
    }
    let mut out: Vec<MonthCosts> = by
        .into_values()
        .map(|(mut m, mut saved)| {
            saved.sort_by(f64::total_cmp);
            m.ev_saved_median_s = (!saved.is_empty()).then(|| saved[saved.len() / 2]);
            m
        })
        .collect();
    out.reverse();
    out
}

impl Corridors {
    /// Corridor costs per month (newest first): public figures (`Action::Read` of the
    /// `transparency` dataset), aggregated from the journaled reports.
    pub fn monthly_costs(&self, caller: &Caller) -> Result<Vec<MonthCosts>, CorridorsError> {
        let b = self.brain()?;
        b.authorize(caller, Action::Read { dataset: "transparency" })?;
        let entries = b.journal("corridor", None, 1_000_000)?;
        Ok(monthly(entries.iter().map(|e| (e.time, e.body.as_str()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_civil_utc() {
        assert_eq!(month_of(0.0), "1970-01");
        assert_eq!(month_of(1_796_515_200.0), "2026-12"); // 2026-12-06
        assert_eq!(month_of(1_772_323_199.0), "2026-02"); // 2026-02-28T23:59:59Z
        assert_eq!(month_of(1_772_323_200.0), "2026-03");
        assert_eq!(month_of(951_782_400.0), "2000-02"); // 2000-02-29, a leap day
    }

    #[test]
    fn reports_are_summed_per_month_and_other_entries_skipped() {
        let dec = 1_796_515_200.0;
        let nov = dec - 20.0 * 86_400.0;
        let r = |a: f64, w: f64, c: f64| {
            format!(
                r#"{{"event":"report","actual_s":{a},"predicted_without_s":{w},"cost_veh_s":{c},"preempted":2,"preempted_s":30}}"#
            )
        };
        let (r1, r2, r3) = (r(100.0, 160.0, 40.0), r(200.0, 210.0, 5.0), r(50.0, 45.0, 1.0));
        let accepted = r#"{"event":"accepted","requester":"x"}"#;
        let entries = vec![
            (nov, r1.as_str()),
            (nov, accepted),
            (dec, accepted),
            (dec, r2.as_str()),
            (dec, r3.as_str()),
            (dec, "not json"),
            (dec, r#"{"event":"report","actual_s":null}"#),
        ];
        let m = monthly(entries);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].month.as_str(), m[0].run, m[0].requested), ("2026-12", 2, 1));
        assert_eq!((m[0].ev_actual_s, m[0].ev_predicted_without_s, m[0].ev_saved_s), (250.0, 255.0, 5.0));
        assert_eq!((m[0].others_delay_veh_s, m[0].signals_preempted, m[0].preempted_s), (6.0, 4, 60.0));
        assert_eq!(m[0].ev_saved_median_s, Some(10.0));
        assert_eq!((m[1].month.as_str(), m[1].run, m[1].ev_saved_s, m[1].others_delay_veh_s), ("2026-11", 1, 60.0, 40.0));
    }
}
