//! The HTTP [`Backend`](crate::Backend) on the brain runtime: each call is one runtime
//! call plus the conversion to wire types; and [`attach`], which feeds the runtime's
//! ticks into the live [`Hub`](crate::Hub).

use std::sync::Arc;

use brain::{Brain, BrainError, BusMessage, Caller, Subscriber, Tick};
use twin::Network;

use crate::api::{self, HistoryResponse, IngestResponse, IngestResult, LiveState};
use crate::Hub;

/// Feeds every tick of `brain` into `hub` (as a bus subscriber, so the hub holds the
/// latest state as soon as [`Brain::tick`] returns).
pub fn attach(brain: &Arc<Brain>, hub: Arc<Hub>) {
    brain.bus().subscribe(Arc::new(HubFeed { hub, net: brain.net.clone() }));
}

struct HubFeed {
    hub: Arc<Hub>,
    net: Arc<Network>,
}

impl Subscriber for HubFeed {
    fn name(&self) -> &str {
        "http-live-hub"
    }
    fn deliver(&self, msg: &BusMessage) {
        if let BusMessage::Tick(t) = msg {
            self.hub.publish(to_live(&self.net, t));
        }
    }
}

fn to_live(net: &Network, t: &Tick) -> LiveState {
    let r1 = |v: f64| (v * 10.0).round() / 10.0;
    let s = &t.state;
    let signal_of = |i: twin::IntersectionId| t.signals.iter().find(|x| x.intersection == i);
    LiveState {
        city: api::CityKpis {
            time_s: s.time,
            delay_index: s.city.delay_index.unwrap_or(1.0),
            tpi: s.city.tpi,
            tpi_grade: s.city.tpi_grade.as_str().to_string(),
            average_speed_kmh: s.city.mean_speed.map(|v| v * 3.6).unwrap_or(0.0),
            vehicles: t.vehicles,
            trips_finished: t.trips,
            congested_share: s.city.congested_share,
        },
        roads: s
            .roads
            .iter()
            .map(|r| api::RoadState {
                id: net.road(r.road).name.clone(),
                speed_kmh: r.speed.map(|v| r1(v * 3.6)),
                tti: r.tti.map(|t| (t * 100.0).round() / 100.0),
                grade: r.grade.map(|g| g.as_str()).unwrap_or("unknown").to_string(),
            })
            .collect(),
        intersections: s
            .intersections
            .iter()
            .map(|i| {
                let sig = signal_of(i.intersection);
                api::IntersectionState {
                    id: net.intersection(i.intersection).name.clone(),
                    delay_s: i.delay_s.map(r1),
                    queue: i.waiting,
                    phase: sig.and_then(|s| s.phase),
                    signal: match sig {
                        Some(s) if s.serving => "green",
                        Some(_) => "clearance",
                        None => "none",
                    }
                    .to_string(),
                }
            })
            .collect(),
    }
}

fn err(e: BrainError) -> String {
    e.to_string()
}

impl crate::Backend for Brain {
    fn ingest(&self, body: &[u8]) -> Result<crate::Ingested, String> {
        let out = self.ingest_body(&Caller::anonymous(), body).map_err(err)?;
        let response = IngestResponse {
            accepted: out.report.accepted,
            rejected: out.report.rejected,
            results: out
                .report
                .results
                .into_iter()
                .map(|(index, r)| match r {
                    Ok(()) => IngestResult { index, status: "accepted".into(), error: None },
                    Err(e) => IngestResult { index, status: "rejected".into(), error: Some(e) },
                })
                .collect(),
        };
        Ok(crate::Ingested { response, stored: out.stored })
    }

    fn atspm_csv(&self, intersection: &str, from: f64, to: f64) -> Result<String, String> {
        let events = self.signal_events(&Caller::anonymous(), intersection, from, to).map_err(err)?;
        // City clock seconds since midnight of 2026-01-01 (the twin's day 0).
        let mut out = String::from("TimeStamp,DeviceId,EventId,Parameter\n");
        for (t, code, param) in events {
            let day = (t / 86_400.0).floor();
            let s = t - day * 86_400.0;
            let (h, m, sec) = ((s / 3600.0).floor(), ((s % 3600.0) / 60.0).floor(), s % 60.0);
            let date = day_to_date(day as i64);
            out.push_str(&format!("{date} {h:02}:{m:02}:{sec:06.3},{intersection},{},{param}\n", code.code()));
        }
        Ok(out)
    }

    fn history(&self, scope: &str, from: f64, to: f64, resolution_s: f64) -> Result<HistoryResponse, String> {
        let h = Brain::history(self, &Caller::anonymous(), scope, from, to, resolution_s).map_err(err)?;
        let points = h
            .points
            .into_iter()
            .map(|p| api::HistoryPoint {
                t: p.time,
                speed_kmh: p.speed.map(|v| v * 3.6),
                count: Some(p.count as f64),
                delay_index: p.delay_index,
            })
            .collect();
        Ok(HistoryResponse {
            scope: scope.to_string(),
            from,
            to,
            resolution_s: h.resolution.seconds().unwrap_or(resolution_s),
            points,
        })
    }

    fn signals(&self) -> serde_json::Value {
        let signals = Brain::signals(self, &Caller::anonymous()).unwrap_or_default();
        let list: Vec<_> = signals
            .iter()
            .map(|s| {
                let i = self.net.intersection(s.intersection);
                let plan: Vec<_> = i
                    .phases
                    .iter()
                    .map(|p| {
                        let green: Vec<usize> = p.green.iter().enumerate().filter(|(_, g)| **g).map(|(k, _)| k).collect();
                        serde_json::json!({"duration_s": p.duration, "green_movements": green})
                    })
                    .collect();
                serde_json::json!({"id": i.name, "phase": s.phase, "phases": s.phases, "plan": plan})
            })
            .collect();
        serde_json::json!({ "time_s": self.now(), "signals": list })
    }

    fn sensors(&self) -> serde_json::Value {
        let Ok(registry) = Brain::sensors(self, &Caller::anonymous()) else { return serde_json::json!({}) };
        let list: Vec<_> = registry
            .sensors()
            .map(|(_, s)| {
                serde_json::json!({
                    "id": s.id, "kind": s.kind.as_str(), "owner": s.owner, "location": s.location.label,
                    "point": s.location.point.map(|p| [p.x, p.y]),
                })
            })
            .collect();
        serde_json::json!({ "count": list.len(), "sensors": list })
    }

    fn rejected(&self) -> serde_json::Value {
        let c = self.counters();
        let stored = Brain::rejected(self, &Caller::anonymous(), 100).unwrap_or_default();
        let list: Vec<_> = stored
            .iter()
            .map(|r| serde_json::json!({"time_s": r.time, "batch": r.batch, "index": r.index, "error": r.error, "raw": r.raw}))
            .collect();
        serde_json::json!({ "total_accepted": c.accepted, "total_rejected": c.rejected, "recent": list })
    }

    fn snapshot_at(&self, t: f64) -> Option<LiveState> {
        let replay = Brain::snapshot_at(self, &Caller::anonymous(), t).ok().flatten()?;
        let (snap, cfg) = (replay.snapshot, replay.state_config);
        let roads = snap
            .road_speeds
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let r = twin::RoadId(k as u32);
                let class = api::road_class(&self.net, r);
                let th = cfg.thresholds(if class == "arterial" { state::RoadClass::Arterial } else { state::RoadClass::Local });
                api::RoadState {
                    id: self.net.road(r).name.clone(),
                    speed_kmh: v.map(|v| (v as f64 * 36.0).round() / 10.0),
                    tti: None,
                    grade: v.map(|v| th.grade(v as f64).as_str()).unwrap_or("unknown").to_string(),
                }
            })
            .collect();
        Some(LiveState {
            city: api::CityKpis {
                time_s: snap.time,
                delay_index: snap.delay_index.unwrap_or(1.0),
                tpi: snap.tpi,
                tpi_grade: state::TpiGrade::of(snap.tpi).as_str().to_string(),
                average_speed_kmh: snap.mean_speed.unwrap_or(0.0) * 3.6,
                vehicles: 0,
                trips_finished: 0,
                congested_share: snap.congested_share,
            },
            roads,
            intersections: Vec::new(),
        })
    }

    fn prometheus(&self, out: &mut String) {
        let c = self.counters();
        out.push_str(&format!(
            "# HELP citybrain_observations_accepted_total Observations accepted by the pipeline.\n\
             # TYPE citybrain_observations_accepted_total counter\ncitybrain_observations_accepted_total {}\n\
             # HELP citybrain_observations_rejected_total Observations rejected by validation.\n\
             # TYPE citybrain_observations_rejected_total counter\ncitybrain_observations_rejected_total {}\n\
             # HELP citybrain_sink_errors_total Failed deliveries to the store or estimator.\n\
             # TYPE citybrain_sink_errors_total counter\ncitybrain_sink_errors_total {}\n\
             # HELP citybrain_events_total Events raised by plug-ins.\n\
             # TYPE citybrain_events_total counter\ncitybrain_events_total {}\n\
             # HELP citybrain_plugin_panics_total Plug-ins disabled after a panic.\n\
             # TYPE citybrain_plugin_panics_total counter\ncitybrain_plugin_panics_total {}\n",
            c.accepted, c.rejected, c.sink_errors, c.events, c.plugin_panics
        ));
    }
}

/// `YYYY-MM-DD` of day `d` counted from 2026-01-01 (proleptic Gregorian).
fn day_to_date(d: i64) -> String {
    // Days from 1970-01-01 to 2026-01-01 is 20,454; civil-from-days (H. Hinnant).
    let z = d + 20_454 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
