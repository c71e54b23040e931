//! `citybrain eval incidents --bound`: the perfect-information bound on detection for the
//! same seeded runs `eval incidents` scores. Each incident's run is compared with the
//! same run without it, every sensor feed the brain receives
//! (`twin::incident::bound`); an incident is observable at the first local difference
//! a sensor resolves. Prints the share observable, the earliest possible detection times
//! (the bounds on detection rate and MTTD), the causes of the unobservable ones and which
//! feed shows an incident first.

use anyhow::{Context, Result};
use incidents::cameras::CameraConfig;
use twin::incident::bound::{incident_bounds, BoundConfig, Cause, Feed, IncidentBound};
use twin::sensors::SensorConfig;
use twin::IncidentKind;

use crate::incidents_eval::{plan_for, sim_config, IncidentsEvalArgs};

/// One incident's bound, with what the evaluation adds: its run and whether a junction
/// camera's analytics could see it.
struct Row {
    run: usize,
    b: IncidentBound,
    /// Within a signalised junction camera's range (the virtual analytics' rule).
    in_view: bool,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn pct(k: usize, n: usize) -> String {
    if n == 0 {
        return "–".into();
    }
    format!("{:.1} % ({k}/{n})", 100.0 * k as f64 / n as f64)
}

fn secs(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.1}"))
}

pub fn run(a: &IncidentsEvalArgs, scenario: &twin::Scenario) -> Result<()> {
    anyhow::ensure!(a.per_run > 0 && a.duration >= 1800.0, "--per-run must be positive and --duration at least 1800");
    let net = &scenario.network;
    let runs = a.incidents.div_ceil(a.per_run).max(1);
    let cams = CameraConfig::default();
    let junctions: Vec<twin::Point> = net.intersections.iter().filter(|i| i.is_signalised()).map(|i| i.point).collect();
    let mut rows = Vec::new();
    for run in 0..runs {
        let plan = plan_for(a, scenario, run);
        let seed = a.seed + run as u64;
        let cfg = BoundConfig {
            sensors: SensorConfig { seed, ..Default::default() },
            probe_seed: seed,
            until_s: a.duration,
            ..Default::default()
        };
        let bounds = incident_bounds(net, &scenario.demand.flows, sim_config(a, run), &plan, &cfg).map_err(anyhow::Error::msg)?;
        for (b, inc) in bounds.into_iter().zip(&plan.incidents) {
            anyhow::ensure!(
                b.pre_start_differences == 0,
                "run {run}, incident {}: {} feed differences before it started (the twin is not deterministic?)",
                b.id,
                b.pre_start_differences
            );
            let (road, pos) = inc.road_and_pos(net);
            let p = road.map_or(twin::Point::new(f64::NAN, f64::NAN), |r| incidents::detect::point_on_road(net, r, pos));
            let in_view = junctions.iter().any(|j| incidents::fusion::dist(*j, p) <= cams.range_m);
            rows.push(Row { run, b, in_view });
        }
        let seen = rows.iter().filter(|r| r.b.observable()).count();
        eprintln!("run {}/{runs}: {seen}/{} observable so far", run + 1, rows.len());
    }
    println!("{}", markdown(&rows, cams.delay_s));
    if let Some(p) = &a.json {
        let j = serde_json::to_string_pretty(&json(net, &rows))?;
        std::fs::write(p, j).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

fn markdown(rows: &[Row], cam_delay: f64) -> String {
    let n = rows.len();
    let obs: Vec<&Row> = rows.iter().filter(|r| r.b.observable()).collect();
    let mut t: Vec<f64> = obs.iter().filter_map(|r| r.b.first_local_s).collect();
    let any = rows.iter().filter(|r| r.b.first_any_s.is_some()).count();
    // With the junction cameras' analytics as a perfect oracle: seen `cam_delay` after the
    // start when in view.
    let mut tc: Vec<f64> = rows
        .iter()
        .filter_map(|r| match (r.b.first_local_s, r.in_view) {
            (Some(x), true) => Some(x.min(cam_delay)),
            (Some(x), false) => Some(x),
            (None, true) => Some(cam_delay),
            (None, false) => None,
        })
        .collect();
    let mut s = String::new();
    s.push_str("| sources | incidents | observable (detection bound) | earliest detection: median / mean / p90 s | observable anywhere |\n");
    s.push_str("|---|---|---|---|---|\n");
    let p90 = |v: &mut Vec<f64>| -> Option<f64> {
        v.sort_by(f64::total_cmp);
        (!v.is_empty()).then(|| v[((v.len() as f64 * 0.9).ceil() as usize).clamp(1, v.len()) - 1])
    };
    let (m, mn, p) = (median(&mut t), mean(&t), p90(&mut t));
    s.push_str(&format!(
        "| loops, probes, camera counts/queues/plates, controller logs | {n} | {} | {} / {} / {} | {} |\n",
        pct(obs.len(), n),
        secs(m),
        secs(mn),
        secs(p),
        pct(any, n)
    ));
    let (m, mn, p) = (median(&mut tc), mean(&tc), p90(&mut tc));
    s.push_str(&format!(
        "| + junction camera analytics (perfect within {:.0} m, {cam_delay:.0} s delay) | {n} | {} | {} / {} / {} | |\n",
        CameraConfig::default().range_m,
        pct(tc.len(), n),
        secs(m),
        secs(mn),
        secs(p)
    ));
    // Causes of the unobservable ones.
    s.push_str("\n| not observable: cause | incidents | blocked-lane traffic without it, veh/min (median) |\n|---|---|---|\n");
    for c in Cause::ALL {
        let of: Vec<&Row> = rows.iter().filter(|r| r.b.cause == Some(c)).collect();
        if of.is_empty() {
            continue;
        }
        let mut rate: Vec<f64> = of.iter().map(|r| r.b.lane_vehicles as f64 / (r.b.duration_s / 60.0).max(1e-9)).collect();
        s.push_str(&format!("| {} | {} | {} |\n", c.name(), of.len(), secs(median(&mut rate))));
    }
    // Which feed shows it first.
    s.push_str("\n| feed | shows it (share of all) | shows it first (ties count for each) | first difference: median s |\n|---|---|---|---|\n");
    for f in Feed::ALL {
        let k = f as usize;
        let mut ts: Vec<f64> = rows.iter().filter_map(|r| r.b.by_feed[k]).collect();
        let first = obs.iter().filter(|r| r.b.by_feed[k].is_some() && r.b.by_feed[k] == r.b.first_local_s).count();
        s.push_str(&format!("| {} | {} | {} | {} |\n", f.name(), pct(ts.len(), n), pct(first, obs.len()), secs(median(&mut ts))));
    }
    // By kind, and by where the road is.
    s.push_str("\n| incidents | count | observable | earliest detection mean s | blocked lane unused or avoided |\n|---|---|---|---|---|\n");
    let mut groups: Vec<(String, Vec<&Row>)> = Vec::new();
    for k in [IncidentKind::Crash, IncidentKind::Stalled, IncidentKind::IllegalParking, IncidentKind::RoadWorks] {
        groups.push((k.name().to_string(), rows.iter().filter(|r| r.b.kind == k).collect()));
    }
    groups.push(("on exit roads (no junction camera)".into(), rows.iter().filter(|r| r.b.exit_road).collect()));
    groups.push(("blocked lane < 1 veh/min without it".into(), rows.iter().filter(|r| lane_rate(&r.b) < 1.0).collect()));
    for (name, g) in groups {
        let o: Vec<f64> = g.iter().filter_map(|r| r.b.first_local_s).collect();
        let avoided = g.iter().filter(|r| matches!(r.b.cause, Some(Cause::LaneUnused) | Some(Cause::LaneAvoided))).count();
        s.push_str(&format!("| {name} | {} | {} | {} | {} |\n", g.len(), pct(o.len(), g.len()), secs(mean(&o)), avoided));
    }
    s
}

/// Vehicles per minute that used the blocked lanes in the run without the incident.
fn lane_rate(b: &IncidentBound) -> f64 {
    b.lane_vehicles as f64 / (b.duration_s / 60.0).max(1e-9)
}

fn json(net: &twin::Network, rows: &[Row]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let feeds: serde_json::Map<String, serde_json::Value> =
                Feed::ALL.iter().map(|f| (f.name().to_string(), serde_json::json!(r.b.by_feed[*f as usize]))).collect();
            serde_json::json!({
                "run": r.run,
                "id": r.b.id,
                "type": r.b.kind.name(),
                "road": r.b.road.map(|x| net.road(x).name.clone()),
                "duration_s": r.b.duration_s,
                "observable": r.b.observable(),
                "first_local_s": r.b.first_local_s,
                "first_any_s": r.b.first_any_s,
                "by_feed_s": feeds,
                "lane_vehicles": r.b.lane_vehicles,
                "road_vehicles": r.b.road_vehicles,
                "stopped_behind": r.b.stopped_behind,
                "exit_road": r.b.exit_road,
                "in_camera_view": r.in_view,
                "cause": r.b.cause.map(|c| c.name()),
            })
        })
        .collect();
    serde_json::json!({ "incidents": list })
}
