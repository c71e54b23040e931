//! Scoring detections against ground truth: the incidents that really happened (from
//! the twin's plan, or a CSV written by another simulator) against the events the brain
//! raised. Figures by incident type: detection rate, false alarms per hour and per 100
//! signalised junctions per hour, mean time to detect, detection → dispatch, dispatch →
//! arrival and clearance (detection → cleared).

use std::collections::BTreeMap;

use twin::{Network, Point, RoadId};

use crate::fusion::{dist, Incident};

/// One incident that really happened. Times are seconds of the run (the twin's clock).
#[derive(Clone, Debug, PartialEq)]
pub struct GroundTruth {
    pub id: String,
    /// `crash`, `stalled`, `illegal_parking`, `road_works`, `signal_failure`, `flood`, ...
    pub kind: String,
    pub road: Option<RoadId>,
    pub lanes: Vec<u32>,
    pub pos: Point,
    pub start_s: f64,
    pub end_s: f64,
}

/// Why a ground-truth file was refused: the line and the column.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {column}: {message}")]
pub struct CsvError {
    pub file: String,
    pub line: usize,
    pub column: String,
    pub message: String,
}

/// The header of a ground-truth CSV.
pub const CSV_HEADER: &str = "id,type,road,lanes,pos_m,lon,lat,start_s,end_s";

/// Parse a ground-truth CSV (`id,type,road,lanes,pos_m,lon,lat,start_s,end_s`; `road`
/// a road name of `net` or empty, `lanes` `;`-separated indices, the position from
/// `road` and `pos_m` when given, else from `lon`,`lat`).
pub fn parse_csv(text: &str, net: &Network, file: &str) -> Result<Vec<GroundTruth>, CsvError> {
    let err = |line: usize, column: &str, message: String| CsvError { file: file.into(), line, column: column.into(), message };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else { return Err(err(1, "header", "empty file".into())) };
    let cols: Vec<&str> = header.trim().split(',').map(str::trim).collect();
    let want: Vec<&str> = CSV_HEADER.split(',').collect();
    if cols != want {
        return Err(err(1, "header", format!("expected {CSV_HEADER:?}, got {:?}", header.trim())));
    }
    let mut out = Vec::new();
    for (k, l) in lines {
        let n = k + 1;
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != want.len() {
            return Err(err(n, "row", format!("expected {} fields, got {}", want.len(), f.len())));
        }
        let num = |i: usize| -> Result<Option<f64>, CsvError> {
            if f[i].is_empty() {
                return Ok(None);
            }
            match f[i].parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(err(n, want[i], format!("not a finite number: {:?}", f[i]))),
            }
        };
        if f[0].is_empty() {
            return Err(err(n, "id", "empty".into()));
        }
        if f[1].is_empty() {
            return Err(err(n, "type", "empty".into()));
        }
        let road = if f[2].is_empty() {
            None
        } else {
            Some(net.road_by_name(f[2]).ok_or_else(|| err(n, "road", format!("unknown road {:?}", f[2])))?)
        };
        let lanes = if f[3].is_empty() {
            Vec::new()
        } else {
            f[3].split(';')
                .map(|x| x.trim().parse::<u32>().map_err(|_| err(n, "lanes", format!("not a lane index: {x:?}"))))
                .collect::<Result<_, _>>()?
        };
        let pos_m = num(4)?;
        let (lon, lat) = (num(5)?, num(6)?);
        let start_s = num(7)?.ok_or_else(|| err(n, "start_s", "required".into()))?;
        let end_s = num(8)?.ok_or_else(|| err(n, "end_s", "required".into()))?;
        if end_s < start_s {
            return Err(err(n, "end_s", format!("{end_s} is before start_s {start_s}")));
        }
        let pos = match (road, pos_m, lon, lat) {
            (Some(r), Some(p), _, _) => {
                if p < 0.0 || p > net.road_length(r) + 1.0 {
                    return Err(err(n, "pos_m", format!("{p} is outside the road (length {:.1} m)", net.road_length(r))));
                }
                crate::detect::point_on_road(net, r, p)
            }
            (_, _, Some(lon), Some(lat)) => {
                if !((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)) {
                    return Err(err(n, "lon", format!("({lon}, {lat}) is not a WGS84 position")));
                }
                net.georef.to_local(lon, lat)
            }
            _ => return Err(err(n, "pos_m", "need road and pos_m, or lon and lat".into())),
        };
        out.push(GroundTruth { id: f[0].into(), kind: f[1].into(), road, lanes, pos, start_s, end_s });
    }
    Ok(out)
}

/// How events are matched to ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchRule {
    /// Metres between an event and the incident (or the event is on the incident's road
    /// or a road leading into it).
    pub radius_m: f64,
    /// An event may come this long after the incident ended and still count.
    pub grace_s: f64,
}

impl Default for MatchRule {
    fn default() -> Self {
        MatchRule { radius_m: 200.0, grace_s: 60.0 }
    }
}

/// Figures for one incident type (or all).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub incidents: usize,
    pub detected: usize,
    pub detection_rate: f64,
    pub mean_time_to_detect_s: Option<f64>,
    pub mean_detection_to_dispatch_s: Option<f64>,
    /// After verification (operator-verified types) or detection (the others).
    pub mean_verification_to_dispatch_s: Option<f64>,
    /// The same split: events dispatched on their first attempt (a suitable unit was
    /// free), and their mean latency (the brain's own delay) ...
    pub dispatched_free: usize,
    pub mean_dispatch_latency_free_s: Option<f64>,
    /// ... and events that waited in the queue for a free unit, and their mean wait.
    pub queued: usize,
    pub mean_queued_s: Option<f64>,
    /// Verified (so due a unit) but never dispatched before the run ended.
    pub never_dispatched: usize,
    /// Events whose unit was diverted to a life-threatening event, and their mean wait
    /// for the next unit (those that got one).
    pub diverted: usize,
    pub mean_diverted_wait_s: Option<f64>,
    pub mean_dispatch_to_arrival_s: Option<f64>,
    pub mean_clearance_s: Option<f64>,
}

/// The whole score.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    pub by_type: BTreeMap<String, Figures>,
    pub all: Figures,
    pub false_alarms: usize,
    pub false_alarms_by_type: BTreeMap<String, usize>,
    pub hours: f64,
    pub signalised: usize,
    pub false_alarms_per_hour: f64,
    pub false_alarms_per_100_junction_hours: f64,
}

/// One ground-truth incident: detected, by which event, when it started.
type Row<'a> = (bool, Option<&'a Incident>, f64);

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn near(net: &Network, e: &Incident, g: &GroundTruth, rule: &MatchRule) -> bool {
    if dist(e.pos, g.pos) <= rule.radius_m {
        return true;
    }
    match (e.road, g.road) {
        (Some(a), Some(b)) => a == b || net.road(a).to == net.road(b).from && net.road(a).from != net.road(b).to,
        _ => false,
    }
}

/// Score `events` (times on the brain's clock, `t0` at run time 0) against `truth`
/// (run seconds) over a run of `hours` on a network with `signalised` signalised
/// junctions. Only alarms count: incident-type events (not congestion) whose confidence
/// reached the alarm level (`alarm_at`), at that time; rejected and merged events do
/// not count.
pub fn score(net: &Network, truth: &[GroundTruth], events: &[Incident], t0: f64, hours: f64, rule: &MatchRule) -> Score {
    let signalised = net.intersections.iter().filter(|i| i.is_signalised()).count();
    let alarms: Vec<&Incident> = events
        .iter()
        .filter(|e| {
            e.kind.is_incident() && e.status != crate::Status::Rejected && e.merged_into.is_none() && e.alarm_at.is_some()
        })
        .collect();
    let at = |e: &Incident| e.alarm_at.unwrap_or(e.detected_at);
    let mut used = vec![false; alarms.len()];
    let mut per: BTreeMap<String, Vec<Row<'_>>> = BTreeMap::new();
    for g in truth {
        let hit = alarms
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                let t = at(e) - t0;
                t >= g.start_s - 1.0 && t <= g.end_s + rule.grace_s && near(net, e, g, rule)
            })
            .min_by(|a, b| at(a.1).total_cmp(&at(b.1)));
        if let Some((k, e)) = hit {
            used[k] = true;
            per.entry(g.kind.clone()).or_default().push((true, Some(e), g.start_s));
        } else {
            per.entry(g.kind.clone()).or_default().push((false, None, g.start_s));
        }
    }
    // Events that matched no incident in time and place are false alarms (an event that
    // matches an incident already credited to an earlier event is a duplicate, not false).
    let mut false_alarms_by_type: BTreeMap<String, usize> = BTreeMap::new();
    for (k, e) in alarms.iter().enumerate() {
        if used[k] {
            continue;
        }
        let t = at(e) - t0;
        let any = truth.iter().any(|g| t >= g.start_s - 1.0 && t <= g.end_s + rule.grace_s && near(net, e, g, rule));
        if !any {
            *false_alarms_by_type.entry(e.kind.as_str().to_string()).or_default() += 1;
        }
    }
    let figures = |rows: &[Row<'_>]| {
        let det: Vec<(&Incident, f64)> = rows.iter().filter_map(|(_, e, s)| e.map(|e| (e, *s))).collect();
        let ttd: Vec<f64> = det.iter().map(|(e, s)| (at(e) - t0 - s).max(0.0)).collect();
        let d2d: Vec<f64> = det.iter().filter_map(|(e, _)| Some(e.dispatched_at? - at(e))).collect();
        let v2d: Vec<f64> =
            det.iter().filter_map(|(e, _)| Some(e.dispatched_at? - e.verified_at.unwrap_or(e.detected_at))).collect();
        let v2d_of = |e: &Incident| Some(e.dispatched_at? - e.verified_at.unwrap_or(e.detected_at));
        let free: Vec<f64> = det.iter().filter(|(e, _)| e.queued_at.is_none()).filter_map(|(e, _)| v2d_of(e)).collect();
        let queued: Vec<f64> = det.iter().filter(|(e, _)| e.queued_at.is_some()).filter_map(|(e, _)| v2d_of(e)).collect();
        let never = det
            .iter()
            .filter(|(e, _)| e.verified_at.is_some() && e.dispatched_at.is_none() && e.kind.responder().is_some())
            .count();
        let diverted: Vec<&Incident> = det.iter().filter(|(e, _)| e.diverted_at.is_some()).map(|(e, _)| *e).collect();
        let div_wait: Vec<f64> = diverted
            .iter()
            .filter_map(|e| {
                let at = e.diverted_at?;
                e.timeline.iter().find(|x| x.time >= at && x.note.starts_with("alert to ")).map(|x| x.time - at)
            })
            .collect();
        let d2a: Vec<f64> = det.iter().filter_map(|(e, _)| Some(e.arrived_at? - e.dispatched_at?)).collect();
        let clr: Vec<f64> = det.iter().filter_map(|(e, _)| Some(e.cleared_at? - at(e))).collect();
        Figures {
            incidents: rows.len(),
            detected: det.len(),
            detection_rate: if rows.is_empty() { 0.0 } else { det.len() as f64 / rows.len() as f64 },
            mean_time_to_detect_s: mean(&ttd),
            mean_detection_to_dispatch_s: mean(&d2d),
            mean_verification_to_dispatch_s: mean(&v2d),
            dispatched_free: free.len(),
            mean_dispatch_latency_free_s: mean(&free),
            queued: queued.len(),
            mean_queued_s: mean(&queued),
            never_dispatched: never,
            diverted: diverted.len(),
            mean_diverted_wait_s: mean(&div_wait),
            mean_dispatch_to_arrival_s: mean(&d2a),
            mean_clearance_s: mean(&clr),
        }
    };
    let all_rows: Vec<_> = per.values().flatten().cloned().collect();
    let false_alarms: usize = false_alarms_by_type.values().sum();
    Score {
        by_type: per.iter().map(|(k, v)| (k.clone(), figures(v))).collect(),
        all: figures(&all_rows),
        false_alarms,
        false_alarms_by_type,
        hours,
        signalised,
        false_alarms_per_hour: if hours > 0.0 { false_alarms as f64 / hours } else { 0.0 },
        false_alarms_per_100_junction_hours: if hours > 0.0 && signalised > 0 {
            false_alarms as f64 / hours / (signalised as f64 / 100.0)
        } else {
            0.0
        },
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| format!("{x:.1}"))
}

/// The score as a Markdown table.
pub fn markdown(s: &Score) -> String {
    let mut out = String::from(
        "| type | incidents | detected | detection rate | MTTD s | detection→dispatch s | verification→dispatch s | of which: unit free (n) s | queued for a unit (n) s | dispatch→arrival s | clearance s |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let row = |name: &str, f: &Figures| {
        format!(
            "| {name} | {} | {} | {:.1} % | {} | {} | {} | ({}) {} | ({}) {} | {} | {} |\n",
            f.incidents,
            f.detected,
            100.0 * f.detection_rate,
            opt(f.mean_time_to_detect_s),
            opt(f.mean_detection_to_dispatch_s),
            opt(f.mean_verification_to_dispatch_s),
            f.dispatched_free,
            opt(f.mean_dispatch_latency_free_s),
            f.queued,
            opt(f.mean_queued_s),
            opt(f.mean_dispatch_to_arrival_s),
            opt(f.mean_clearance_s)
        )
    };
    for (k, f) in &s.by_type {
        out.push_str(&row(k, f));
    }
    out.push_str(&row("**all**", &s.all));
    out.push_str(&format!(
        "\nDispatch: {} verified and never dispatched; {} diverted to a life-threatening event (mean wait for the next unit {} s)\n",
        s.all.never_dispatched,
        s.all.diverted,
        opt(s.all.mean_diverted_wait_s)
    ));
    out.push_str(&format!(
        "\nFalse alarms: {} in {:.2} h on {} signalised junctions = {:.2} per hour, {:.2} per 100 junctions per hour",
        s.false_alarms, s.hours, s.signalised, s.false_alarms_per_hour, s.false_alarms_per_100_junction_hours
    ));
    if !s.false_alarms_by_type.is_empty() {
        let by: Vec<String> = s.false_alarms_by_type.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!(" ({})", by.join(", ")));
    }
    out.push('\n');
    out
}

/// The score as JSON.
pub fn json(s: &Score) -> serde_json::Value {
    let fig = |f: &Figures| {
        serde_json::json!({
            "incidents": f.incidents,
            "detected": f.detected,
            "detection_rate": f.detection_rate,
            "mean_time_to_detect_s": f.mean_time_to_detect_s,
            "mean_detection_to_dispatch_s": f.mean_detection_to_dispatch_s,
            "mean_verification_to_dispatch_s": f.mean_verification_to_dispatch_s,
            "dispatched_free": f.dispatched_free,
            "mean_dispatch_latency_free_s": f.mean_dispatch_latency_free_s,
            "queued": f.queued,
            "mean_queued_s": f.mean_queued_s,
            "never_dispatched": f.never_dispatched,
            "diverted": f.diverted,
            "mean_diverted_wait_s": f.mean_diverted_wait_s,
            "mean_dispatch_to_arrival_s": f.mean_dispatch_to_arrival_s,
            "mean_clearance_s": f.mean_clearance_s,
        })
    };
    serde_json::json!({
        "by_type": s.by_type.iter().map(|(k, f)| (k.clone(), fig(f))).collect::<serde_json::Map<_, _>>(),
        "all": fig(&s.all),
        "false_alarms": s.false_alarms,
        "false_alarms_by_type": s.false_alarms_by_type,
        "hours": s.hours,
        "signalised_junctions": s.signalised,
        "false_alarms_per_hour": s.false_alarms_per_hour,
        "false_alarms_per_100_junctions_per_hour": s.false_alarms_per_100_junction_hours,
    })
}

/// The calibration label of a report: its source kind, occupancy split into its two
/// signatures (`occupancy:stuck`, `occupancy:silent`).
pub fn report_label(r: &crate::model::Report) -> String {
    match r.source {
        crate::model::SourceKind::Occupancy if r.text.contains("exit road") => "occupancy:stuck:exit".into(),
        crate::model::SourceKind::SpeedDrop if r.text.contains("exit road") => "speed_drop:exit".into(),
        crate::model::SourceKind::Occupancy if r.text.contains("covered") => "occupancy:stuck".into(),
        crate::model::SourceKind::Occupancy => "occupancy:silent".into(),
        // The twin's analytics by tenth of the confidence they stated.
        crate::model::SourceKind::Camera if r.text.contains("analytics confidence ") => {
            let c: f64 = r.text.rsplit(' ').next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
            format!("camera:{:.1}", (c * 10.0).floor().clamp(0.0, 9.0) / 10.0)
        }
        s => s.as_str().into(),
    }
}

/// Per report label: how many reports (of every event, alarm or not) there were and how
/// many of them matched a real incident in time and place. Their share is the label's
/// reliability, the confidence [`crate::detect::Reliability`] gives its reports.
pub fn reliability(
    net: &Network,
    truth: &[GroundTruth],
    events: &[Incident],
    t0: f64,
    rule: &MatchRule,
) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for e in events {
        for r in &e.reports {
            let t = r.time - t0;
            let hit = truth.iter().any(|g| {
                t >= g.start_s - 1.0
                    && t <= g.end_s + rule.grace_s
                    && (dist(r.pos, g.pos) <= rule.radius_m
                        || match (r.road, g.road) {
                            (Some(a), Some(b)) => {
                                a == b || net.road(a).to == net.road(b).from && net.road(a).from != net.road(b).to
                            }
                            _ => false,
                        })
            });
            let x = out.entry(report_label(r)).or_default();
            x.0 += 1;
            x.1 += usize::from(hit);
        }
    }
    out
}

/// [`reliability`] as a Markdown table with the 95 % Wilson interval of each share.
pub fn reliability_markdown(rel: &BTreeMap<String, (usize, usize)>) -> String {
    let mut out =
        String::from("| report | reports | matched an incident | reliability | 95 % interval |\n|---|---|---|---|---|\n");
    for (k, &(n, m)) in rel {
        let (lo, hi) = wilson(m, n);
        out.push_str(&format!("| {k} | {n} | {m} | {:.3} | {lo:.3}–{hi:.3} |\n", if n > 0 { m as f64 / n as f64 } else { 0.0 }));
    }
    out
}

/// The 95 % Wilson score interval of `m` successes in `n`.
pub fn wilson(m: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, m as f64 / n as f64, 1.96_f64);
    let c = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let h = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    ((c - h).max(0.0), (c + h).min(1.0))
}
