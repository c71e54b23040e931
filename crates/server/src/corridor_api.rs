//! The corridor routes: start a corridor, list them, one corridor with its live ETA per
//! signal, and the report after the run. Every handler is one runtime call of
//! [`corridor::Corridors`] (which passes `Brain::authorize`) plus wire types.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use corridor::{Corridor, Corridors, CorridorsError, Report};
use serde::{Deserialize, Serialize};
use twin::Network;
use utoipa::{OpenApi, ToSchema};

use crate::auth::Authed;
use crate::error::{ApiError, ErrorBody};
use crate::http::App;

/// The routes, nested under `/api/v1` by the router.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/corridors", get(list).post(start))
        .route("/corridors/{id}", get(detail_route))
        .route("/corridors/{id}/report", get(report))
        .route("/kpis/corridors", get(kpis))
}

/// One month of green corridors on the public KPI page.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CorridorMonth {
    /// `YYYY-MM` (UTC).
    pub month: String,
    pub requested: usize,
    pub run: usize,
    pub ev_actual_s: f64,
    pub ev_predicted_without_s: f64,
    pub ev_saved_s: f64,
    pub ev_saved_median_s: Option<f64>,
    pub signals_preempted: usize,
    pub preempted_s: f64,
    pub others_delay_veh_s: f64,
}

/// Corridor costs month by month (newest first), with how each figure is measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CorridorKpis {
    pub months: Vec<CorridorMonth>,
    /// Field name → how it is measured.
    pub method: std::collections::BTreeMap<String, String>,
}

/// How each figure of [`CorridorMonth`] is measured (shown on the public KPI page).
const METHOD: [(&str, &str); 8] = [
    ("requested", "corridors accepted in the month: operators' requests and dispatches with a priority flag"),
    ("run", "corridors that ended in the month: the vehicle arrived and every signal on its route was back to normal control"),
    ("ev_actual_s", "sum of the emergency vehicles' travel times from entering the network to arrival, seconds"),
    ("ev_predicted_without_s", "sum of the routes' live travel times when each corridor was planned: the prediction without a corridor, seconds"),
    ("ev_saved_s", "predicted without a corridor minus actual, summed (median per corridor beside it); negative when corridors were slower than predicted"),
    ("signals_preempted", "signals whose phase was called for the vehicle; preempted_s: seconds from each call to the vehicle passing, summed"),
    ("others_delay_veh_s", "vehicle-seconds other traffic waited at the corridors' signals while they were preempted, counted every step by the twin"),
    ("source", "the corridor plug-in's reports, journaled in the brain's store when each corridor ends; no requester, reason or route is published here"),
];

/// Corridor costs month by month: public, from the corridor plug-in's journaled reports.
#[utoipa::path(get, path = "/api/v1/kpis/corridors", tag = "corridors",
    responses(
        (status = 200, body = CorridorKpis),
        (status = 401, description = "A credential was given and is not valid", body = ErrorBody),
        (status = 404, description = "The corridor capability is not running", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn kpis(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let months = tokio::task::spawn_blocking(move || svc.monthly_costs(&caller)).await?.map_err(api_error)?;
    let months = months
        .into_iter()
        .map(|m| CorridorMonth {
            month: m.month,
            requested: m.requested,
            run: m.run,
            ev_actual_s: round(m.ev_actual_s),
            ev_predicted_without_s: round(m.ev_predicted_without_s),
            ev_saved_s: round(m.ev_saved_s),
            ev_saved_median_s: m.ev_saved_median_s.map(round),
            signals_preempted: m.signals_preempted,
            preempted_s: round(m.preempted_s),
            others_delay_veh_s: round(m.others_delay_veh_s),
        })
        .collect();
    let method = METHOD.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Ok(Json(CorridorKpis { months, method }).into_response())
}

/// A request for an emergency green corridor.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCorridor {
    /// Road the vehicle starts on (its name in the network).
    pub origin: String,
    /// Road it drives to.
    pub destination: String,
    /// `ambulance`, `fire_engine` or `police`.
    pub vehicle: String,
    /// 1 (lowest) ..= 9; the higher wins a signal two corridors want.
    pub priority: u32,
    /// Why (recorded in the audit and the transparency log; no personal data).
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CorridorStarted {
    pub id: u64,
}

/// One signal of a corridor's route.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CorridorSignal {
    pub intersection: String,
    pub lon: f64,
    pub lat: f64,
    /// Network metres (x east, y north), for maps in the network's plane.
    pub x: f64,
    pub y: f64,
    /// `ahead`, `called` (preempted), `recovering` or `done`.
    pub stage: String,
    /// Predicted arrival at the stop line, seconds from now (none once passed).
    pub eta_s: Option<f64>,
    /// Seconds before arrival at which the preemption call is placed.
    pub lead_s: f64,
    /// When the call was placed, the movement turned green, the vehicle passed (Unix
    /// seconds, the brain's clock).
    pub called_at: Option<f64>,
    pub green_at: Option<f64>,
    pub passed_at: Option<f64>,
    /// The prediction made 60 s before the actual arrival, minus the arrival (s).
    pub prediction_error_s: Option<f64>,
    /// Vehicle-seconds others waited here while preempted.
    pub cost_veh_s: f64,
}

/// A corridor as listed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CorridorSummary {
    pub id: u64,
    /// `planned`, `active`, `arrived` or `failed`.
    pub status: String,
    pub vehicle: String,
    pub priority: u32,
    /// Who asked: `operator NAME (DEPARTMENT)` or `dispatch of unit U to incident N`.
    pub requester: String,
    pub reason: String,
    pub origin: String,
    pub destination: String,
    /// The vehicle now (while it drives).
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// The vehicle in network metres.
    pub x: Option<f64>,
    pub y: Option<f64>,
    /// Share of the route driven, 0..1.
    pub progress: f64,
    /// Predicted seconds to the destination (while it drives).
    pub eta_s: Option<f64>,
    pub travel_time_s: Option<f64>,
    pub predicted_without_s: Option<f64>,
    /// Every signal back to normal control.
    pub recovered: bool,
    pub failure: Option<String>,
}

/// A corridor with its route and signals.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CorridorDetail {
    #[serde(flatten)]
    pub summary: CorridorSummary,
    /// The route as [lon, lat] points.
    pub path: Vec<[f64; 2]>,
    /// The route in network metres.
    pub path_xy: Vec<[f64; 2]>,
    pub roads: Vec<String>,
    pub signals: Vec<CorridorSignal>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CorridorsResponse {
    pub corridors: Vec<CorridorSummary>,
}

/// After the run: the vehicle's actual time against the prediction without a corridor,
/// and what it cost everyone else.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CorridorReport {
    pub id: u64,
    pub requester: String,
    pub reason: String,
    pub priority: u32,
    /// False while the vehicle drives or signals still recover (figures so far).
    pub complete: bool,
    pub actual_s: f64,
    pub predicted_without_s: f64,
    pub free_flow_s: f64,
    pub saved_s: f64,
    pub signals: usize,
    pub preempted: usize,
    pub preempted_s: f64,
    /// Vehicle-seconds others waited at the corridor's signals while preempted.
    pub cost_veh_s: f64,
    pub prediction_errors_s: Vec<f64>,
}

fn service(app: &App) -> Result<Arc<Corridors>, ApiError> {
    app.backend.corridors().ok_or_else(|| ApiError::NotFound { what: "capability", id: "corridor".into() })
}

fn api_error(e: CorridorsError) -> ApiError {
    match e {
        CorridorsError::Brain(b) => crate::backend::api_error(b),
        CorridorsError::NotFound(id) => ApiError::NotFound { what: "corridor", id: id.to_string() },
        CorridorsError::Invalid(m) => ApiError::Invalid(m.to_string()),
        CorridorsError::Field { .. } => ApiError::Invalid(e.to_string()),
        CorridorsError::Detached => ApiError::Unavailable(e.to_string()),
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then(|| round(x))
}

fn lonlat(net: &Network, p: twin::Point) -> (f64, f64) {
    let (lon, lat) = net.georef.to_lonlat(p);
    ((lon * 1e7).round() / 1e7, (lat * 1e7).round() / 1e7)
}

fn summary(net: &Network, c: &Corridor, now: f64) -> CorridorSummary {
    // `now` and the corridor's times are twin seconds; the wire carries durations only.
    let running = c.status == corridor::Status::Active;
    let eta = c.signals.iter().rev().find(|s| s.passed_at.is_none()).map(|s| s.eta - now);
    CorridorSummary {
        id: c.id,
        status: c.status.as_str().into(),
        vehicle: c.request.vehicle.as_str().into(),
        priority: c.request.priority,
        requester: c.request.requester.describe(),
        reason: c.request.reason.clone(),
        origin: net.road(c.request.origin).name.clone(),
        destination: net.road(c.request.destination).name.clone(),
        lon: c.lonlat.filter(|_| running).map(|p| (p.0 * 1e7).round() / 1e7),
        lat: c.lonlat.filter(|_| running).map(|p| (p.1 * 1e7).round() / 1e7),
        x: c.point.filter(|_| running).map(|p| round(p.x)),
        y: c.point.filter(|_| running).map(|p| round(p.y)),
        progress: round(c.progress * 100.0) / 100.0,
        eta_s: if running { eta.and_then(finite) } else { None },
        travel_time_s: c.started.is_finite().then(|| round(c.travel_time(now))),
        predicted_without_s: finite(c.predicted_without_s),
        recovered: c.finished(),
        failure: c.failure.clone(),
    }
}

fn detail(net: &Network, c: &Corridor, now: f64, offset: f64) -> CorridorDetail {
    let mut path = Vec::new();
    let mut path_xy = Vec::new();
    for &r in &c.route {
        for p in &net.road(r).points {
            let (lon, lat) = lonlat(net, *p);
            path.push([lon, lat]);
            path_xy.push([round(p.x), round(p.y)]);
        }
    }
    let signals = c
        .signals
        .iter()
        .map(|s| {
            let pt = net.intersection(s.intersection).point;
            let (lon, lat) = lonlat(net, pt);
            CorridorSignal {
                intersection: net.intersection(s.intersection).name.clone(),
                lon,
                lat,
                x: round(pt.x),
                y: round(pt.y),
                stage: s.stage.as_str().into(),
                eta_s: if s.passed_at.is_none() { finite(s.eta - now) } else { None },
                lead_s: round(s.lead_s),
                called_at: s.called_at.map(|t| round(t + offset)),
                green_at: s.green_at.map(|t| round(t + offset)),
                passed_at: s.passed_at.map(|t| round(t + offset)),
                prediction_error_s: s.predicted_at_60s.zip(s.passed_at).map(|(p, a)| round(p - a)),
                cost_veh_s: round(s.cost_veh_s),
            }
        })
        .collect();
    CorridorDetail { summary: summary(net, c, now), path, path_xy, roads: corridor::route_names(net, &c.route), signals }
}

fn corridor_id(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>().map_err(|_| ApiError::NotFound { what: "corridor", id: s.chars().take(40).collect() })
}

/// Start an emergency green corridor (emergency services' operators and services only).
#[utoipa::path(post, path = "/api/v1/corridors", tag = "corridors",
    request_body(content = StartCorridor, content_type = "application/json"),
    responses(
        (status = 201, description = "Accepted and recorded; it starts at the twin's next step", body = CorridorStarted),
        (status = 400, description = "Not JSON of the request shape", body = ErrorBody),
        (status = 401, description = "A credential was given and is not valid", body = ErrorBody),
        (status = 403, description = "The caller has no right to start corridors", body = ErrorBody),
        (status = 404, description = "The corridor capability is not running", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (the message names it)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn start(
    State(app): State<App>,
    Authed(caller): Authed,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("none").to_string();
    if !ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) {
        return Err(ApiError::UnsupportedMediaType(format!("Content-Type: expected application/json, got {ct}")));
    }
    let req: StartCorridor = serde_json::from_slice(&bytes).map_err(|e| ApiError::Malformed(format!("body: {e}")))?;
    let input = corridor::StartInput {
        origin: req.origin,
        destination: req.destination,
        vehicle: req.vehicle,
        priority: req.priority,
        reason: req.reason,
    };
    let id = tokio::task::spawn_blocking(move || svc.start(&caller, &input)).await?.map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(CorridorStarted { id })).into_response())
}

/// Every corridor, oldest first.
#[utoipa::path(get, path = "/api/v1/corridors", tag = "corridors",
    responses(
        (status = 200, body = CorridorsResponse),
        (status = 401, description = "A credential was given and is not valid", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "The corridor capability is not running", body = ErrorBody),
    ))]
pub(crate) async fn list(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let now = svc.twin_time();
    let net = svc.network();
    let list = svc.list(&caller).map_err(api_error)?;
    Ok(Json(CorridorsResponse { corridors: list.iter().map(|c| summary(&net, c, now)).collect() }).into_response())
}

/// One corridor: its route, the vehicle, and the live ETA and stage at every signal.
#[utoipa::path(get, path = "/api/v1/corridors/{id}", tag = "corridors",
    params(("id" = String, Path, description = "Corridor id")),
    responses(
        (status = 200, body = CorridorDetail),
        (status = 401, description = "A credential was given and is not valid", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such corridor", body = ErrorBody),
    ))]
pub(crate) async fn detail_route(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let id = corridor_id(&id)?;
    let now = svc.twin_time();
    let net = svc.network();
    let c = svc.get(&caller, id).map_err(api_error)?;
    Ok(Json(detail(&net, &c, now, svc.clock_offset())).into_response())
}

/// After the run: actual time against the prediction without a corridor, and the cost.
#[utoipa::path(get, path = "/api/v1/corridors/{id}/report", tag = "corridors",
    params(("id" = String, Path, description = "Corridor id")),
    responses(
        (status = 200, body = CorridorReport),
        (status = 401, description = "A credential was given and is not valid", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such corridor", body = ErrorBody),
        (status = 409, description = "The corridor has not started (planned or failed)", body = ErrorBody),
    ))]
pub(crate) async fn report(State(app): State<App>, Authed(caller): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let id = corridor_id(&id)?;
    let now = svc.twin_time();
    let c = svc.get(&caller, id).map_err(api_error)?;
    if !c.started.is_finite() {
        return Err(ApiError::Conflict(format!("corridor {id} is {}: no report", c.status.as_str())));
    }
    let mut r = Report::of(&c);
    if c.arrived.is_none() {
        r.actual_s = c.travel_time(now);
        r.saved_s = r.predicted_without_s - r.actual_s;
    }
    Ok(Json(CorridorReport {
        id: r.id,
        requester: r.requester,
        reason: r.reason,
        priority: r.priority,
        complete: c.finished(),
        actual_s: round(r.actual_s),
        predicted_without_s: round(r.predicted_without_s),
        free_flow_s: round(r.free_flow_s),
        saved_s: round(r.saved_s),
        signals: r.signals,
        preempted: r.preempted,
        preempted_s: round(r.preempted_s),
        cost_veh_s: round(r.cost_veh_s),
        prediction_errors_s: r.prediction_errors_s.iter().map(|&e| round(e)).collect(),
    })
    .into_response())
}

#[derive(OpenApi)]
#[openapi(
    paths(start, list, detail_route, report, kpis),
    components(schemas(
        CorridorMonth,
        CorridorKpis,
        StartCorridor,
        CorridorStarted,
        CorridorSignal,
        CorridorSummary,
        CorridorDetail,
        CorridorsResponse,
        CorridorReport
    ))
)]
pub struct CorridorsDoc;
