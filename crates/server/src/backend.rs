//! The HTTP [`Backend`](crate::Backend) on the brain runtime: each call is one runtime
//! call plus the conversion to wire types; and [`attach`], which feeds the runtime's
//! ticks into the live [`Hub`](crate::Hub).

use std::sync::Arc;

use brain::{Action, Brain, BrainError, BusMessage, Caller, Subscriber, Tick};
use twin::Network;

use crate::api::{self, *};
use crate::ApiError;
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
            tpi_grade: s.city.tpi_grade.into(),
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
                grade: r.grade.into(),
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
                        Some(s) if s.serving => SignalState::Green,
                        Some(_) => SignalState::Clearance,
                        None => SignalState::None,
                    },
                }
            })
            .collect(),
    }
}

/// The status of each runtime error: a storage failure is 503, never a client error.
pub fn api_error(e: BrainError) -> ApiError {
    match e {
        BrainError::Malformed(m) => ApiError::Malformed(m),
        BrainError::UnknownEntity(m) => ApiError::NotFound { what: "entity", id: m },
        BrainError::Invalid(m) => ApiError::Invalid(m),
        BrainError::Denied(d) => ApiError::Forbidden(d.to_string()),
        // The caller's fault even when the store noticed it; every other kind is the
        // storage's, so a 503 (retry later), never a 4xx.
        BrainError::Storage(e) if e.kind() == store::StoreErrorKind::InvalidArgument => ApiError::Invalid(e.to_string()),
        BrainError::Storage(e) => ApiError::Unavailable(e.to_string()),
    }
}

/// What a 503 ingest answer says: nothing of the batch was stored, so no record is
/// called accepted (valid records become `not_stored`; resend the batch).
fn not_stored(mut r: IngestResponse) -> IngestResponse {
    r.accepted = 0;
    for x in &mut r.results {
        if x.status == RecordStatus::Accepted {
            x.status = RecordStatus::NotStored;
        }
    }
    r
}

impl crate::Backend for Brain {
    fn ingest(&self, caller: &Caller, body: &[u8]) -> Result<crate::Ingested, ApiError> {
        let out = self.ingest_body(caller, body).map_err(api_error)?;
        let response = IngestResponse {
            accepted: out.report.accepted,
            rejected: out.report.rejected,
            results: out
                .report
                .results
                .into_iter()
                .map(|(index, r)| match r {
                    Ok(()) => IngestResult { index, status: RecordStatus::Accepted, error: None },
                    Err(e) => IngestResult { index, status: RecordStatus::Rejected, error: Some(e) },
                })
                .collect(),
        };
        let response = if out.stored { response } else { not_stored(response) };
        Ok(crate::Ingested { response, stored: out.stored })
    }

    fn authorize(&self, caller: &Caller, action: Action<'_>) -> Result<(), ApiError> {
        Brain::authorize(self, caller, action).map_err(api_error)
    }

    fn atspm_csv(&self, caller: &Caller, intersection: &str, from: f64, to: f64) -> Result<String, ApiError> {
        let mut events = self.signal_events(caller, intersection, from, to).map_err(api_error)?;
        // ATSPM tools read the log in time order (stable: same-time events keep their order).
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Civil time of the city with its UTC offset: `2026-12-06 07:00:00.000+08:00`.
        let zone = &self.config.timezone;
        let mut out = String::from("TimeStamp,DeviceId,EventId,Parameter\n");
        out.reserve(events.len() * (40 + intersection.len()));
        for (t, code, param) in events {
            use std::fmt::Write;
            zone.write_log(t, &mut out);
            let _ = writeln!(out, ",{intersection},{},{param}", code.code());
        }
        Ok(out)
    }

    fn detectors_csv(&self, caller: &Caller, intersection: Option<&str>) -> Result<String, ApiError> {
        let list = Brain::detector_config(self, caller, intersection).map_err(api_error)?;
        let mut out = String::from(crate::http::DETECTOR_CSV_HEADER);
        for (device, d) in list {
            let lane = self.net.lane(d.lane);
            out.push_str(&format!(
                "{device},{},{},{},{},{},{}:{}\n",
                d.channel,
                d.phase,
                d.function.as_str(),
                d.distance_m,
                d.length_m,
                self.net.road(lane.road).name,
                lane.index
            ));
        }
        Ok(out)
    }

    fn history(&self, caller: &Caller, scope: &str, from: f64, to: f64, resolution_s: f64) -> Result<HistoryResponse, ApiError> {
        let h = Brain::history(self, caller, scope, from, to, resolution_s).map_err(api_error)?;
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

    fn signals(&self, caller: &Caller) -> Result<SignalsResponse, ApiError> {
        let signals = Brain::signals(self, caller).map_err(api_error)?;
        let list = signals
            .iter()
            .map(|s| {
                let i = self.net.intersection(s.intersection);
                let plan = i
                    .phases
                    .iter()
                    .map(|p| PlanPhase {
                        duration_s: p.duration,
                        green_movements: p.green.iter().enumerate().filter(|(_, g)| **g).map(|(k, _)| k).collect(),
                    })
                    .collect();
                let nema = twin::signal::Nema::of(&self.net, s.intersection)
                    .phases
                    .iter()
                    .map(|p| NemaPhaseInfo {
                        phase: p.phase,
                        road: self.net.road(p.road).name.clone(),
                        approach: p.approach.as_str().into(),
                        turn: if p.turn == twin::Turn::Left { "left" } else { "through" }.into(),
                        movements: p.movements.clone(),
                    })
                    .collect();
                SignalInfo {
                    id: i.name.clone(),
                    phase: s.phase,
                    phases: s.phases,
                    plan,
                    green_phases: s.green_phases.clone(),
                    nema,
                }
            })
            .collect();
        Ok(SignalsResponse { time_s: self.now(), signals: list })
    }

    fn sensors(&self, caller: &Caller) -> Result<SensorsResponse, ApiError> {
        let registry = Brain::sensors(self, caller).map_err(api_error)?;
        let sensors: Vec<_> = registry
            .sensors()
            .map(|(_, s)| SensorInfo {
                id: s.id.clone(),
                kind: s.kind.into(),
                owner: s.owner.clone(),
                location: s.location.label.clone(),
                point: s.location.point.map(|p| [p.x, p.y]),
            })
            .collect();
        Ok(SensorsResponse { count: sensors.len(), sensors })
    }

    fn rejected(&self, caller: &Caller, before: Option<u64>, limit: usize) -> Result<RejectedResponse, ApiError> {
        let c = self.counters();
        // One more than asked, to know whether an older page exists.
        let mut rows = Brain::rejected(self, caller, before, limit + 1).map_err(api_error)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_before = if more { rows.last().map(|r| r.id) } else { None };
        let recent = rows
            .into_iter()
            .map(|r| RejectedRecord { id: r.id, time_s: r.time, batch: r.batch, index: r.index, error: r.error, raw: r.raw })
            .collect();
        Ok(RejectedResponse { total_accepted: c.accepted, total_rejected: c.rejected, limit, next_before, recent })
    }

    fn snapshot_at(&self, caller: &Caller, t: f64) -> Result<Option<LiveState>, ApiError> {
        let Some(replay) = Brain::snapshot_at(self, caller, t).map_err(api_error)? else { return Ok(None) };
        let (snap, cfg) = (replay.snapshot, replay.state_config);
        let roads = snap
            .road_speeds
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let r = twin::RoadId(k as u32);
                // The same classification and thresholds as the live estimate.
                let th = cfg.thresholds(api::road_class(&self.net, r, &cfg).into());
                api::RoadState {
                    id: self.net.road(r).name.clone(),
                    speed_kmh: v.map(|v| (v as f64 * 36.0).round() / 10.0),
                    tti: None,
                    grade: v.map(|v| th.grade(v as f64)).into(),
                }
            })
            .collect();
        Ok(Some(LiveState {
            city: api::CityKpis {
                time_s: snap.time,
                delay_index: snap.delay_index.unwrap_or(1.0),
                tpi: snap.tpi,
                tpi_grade: state::TpiGrade::of(snap.tpi).into(),
                average_speed_kmh: snap.mean_speed.unwrap_or(0.0) * 3.6,
                vehicles: 0,
                trips_finished: 0,
                congested_share: snap.congested_share,
            },
            roads,
            intersections: Vec::new(),
        }))
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

    fn health(&self) -> StorageHealth {
        match Brain::storage_health(self) {
            Ok(()) => StorageHealth::ok(),
            Err(e) => StorageHealth { status: HealthStatus::Unavailable, error: Some(e.to_string()) },
        }
    }

    fn now(&self) -> f64 {
        Brain::now(self)
    }

    fn citizen_report(&self, category: &str, text: &str, lon: Option<f64>, lat: Option<f64>) {
        let rec = sense::WireRecord {
            sensor: Some(sense::registry::CITIZEN_FEED_ID.into()),
            kind: Some("report".into()),
            time: Some(self.now()),
            category: Some(category.into()),
            text: Some(text.chars().take(500).collect()),
            lon,
            lat,
            ..Default::default()
        };
        let out = self.ingest_records(&[rec.into()]);
        if out.report.accepted == 0 {
            tracing::info!("citizen report not taken by the pipeline: {:?}", out.report.results);
        }
    }

    fn open_incidents(&self) -> Vec<crate::http::OpenIncident> {
        let Some(svc) = self.service::<incidents::Incidents>() else { return Vec::new() };
        // The edge already authorised the public dataset; this derived view keeps only
        // the fields without personal data.
        let Ok(list) = svc.list(&Caller::system(), true, 100_000) else { return Vec::new() };
        list.into_iter()
            .map(|e| {
                let (lon, lat) = self.net.georef.to_lonlat(e.pos);
                crate::http::OpenIncident {
                    id: e.id,
                    kind: e.kind.as_str().into(),
                    status: e.status.as_str().into(),
                    road: e.road.map(|r| self.net.road(r).name.clone()),
                    lon: (lon * 1e5).round() / 1e5,
                    lat: (lat * 1e5).round() / 1e5,
                    detected_at: e.detected_at,
                    verified_at: e.verified_at,
                    dispatched_at: e.dispatched_at,
                    arrived_at: e.arrived_at,
                    cleared_at: e.cleared_at,
                }
            })
            .collect()
    }

    fn holdings(&self) -> Vec<governance::Holding> {
        let r = &self.config.retention;
        vec![
            governance::Holding {
                dataset: governance::datasets::OBSERVATIONS.into(),
                what: "pseudonymous plate tokens (keyed hash, key rotated daily) in raw observations".into(),
                where_: "store: raw observations table".into(),
                kept_s: r.raw_s,
            },
            governance::Holding {
                dataset: governance::datasets::REJECTED.into(),
                what: "rejected raw records (plate values redacted)".into(),
                where_: "store: rejected table".into(),
                kept_s: r.rejected_s,
            },
            governance::Holding {
                dataset: governance::datasets::OBSERVATIONS.into(),
                what: "plate pseudonymisation keys".into(),
                where_: "keystore (data directory, mode 0600)".into(),
                kept_s: Some(self.config.retention.raw_s.unwrap_or(86_400.0).max(86_400.0)),
            },
        ]
    }

    fn incidents(&self) -> Option<Arc<incidents::Incidents>> {
        self.service::<incidents::Incidents>()
    }

    fn corridors(&self) -> Option<Arc<corridor::Corridors>> {
        self.service::<corridor::Corridors>()
    }
    fn ngsi(&self) -> Option<Arc<ngsi::Ngsi>> {
        self.service::<ngsi::Ngsi>()
    }
}
