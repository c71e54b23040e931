//! The incident routes: reports in (`POST /api/v1/events/reports`), events with their
//! timelines and sources, the operator's actions, response units and each unit's alert
//! stream (`/api/v1/units/{id}/stream`). Every handler is one runtime call of
//! [`incidents::Incidents`] (which passes `Brain::authorize`) plus wire types.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use brain::Caller;

use crate::auth::Authed;
use incidents::{Incident, Incidents, IncidentsError, LifecycleError, Unit};
use serde::{Deserialize, Serialize};
use twin::Network;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::http::App;

/// The routes, nested under `/api/v1` by the router.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/events/reports", post(submit))
        .route("/events", get(list))
        .route("/events/{id}", get(detail))
        .route("/events/{id}/verify", post(verify))
        .route("/events/{id}/reject", post(reject))
        .route("/events/{id}/merge", post(merge))
        .route("/events/{id}/close", post(close))
        .route("/units", get(units))
        .route("/units/{id}", get(unit))
        .route("/units/{id}/accept", post(accept))
        .route("/units/{id}/on_scene", post(on_scene))
        .route("/units/{id}/cleared", post(cleared))
        .route("/units/{id}/stream", get(unit_stream))
}

/// A location on the Earth (WGS84).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
}

/// A camera analytics event or a citizen report.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// `camera` or `citizen`.
    pub source: String,
    /// Incident type: `collision`, `stalled_vehicle`, `illegal_parking`, `wrong_way`,
    /// `pedestrian`, `debris`, `congestion`, `fire_smoke`, `flooding`, `road_works`,
    /// `signal_fault`, `crowd`, `red_light`, `blockage`. Required for a camera.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub location: Location,
    /// 0..1; required for a camera (a citizen's report counts 0.3).
    pub confidence: Option<f64>,
    /// Camera snapshot reference.
    pub snapshot: Option<String>,
    /// Citizen photo reference.
    pub photo: Option<String>,
    /// What the citizen saw (required for a citizen).
    pub text: Option<String>,
    /// Camera id.
    pub device: Option<String>,
    /// Unix seconds (default now); within the last day.
    pub time: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ReportAccepted {
    /// The event the report was fused into (new or existing).
    pub event: u64,
}

/// An event as listed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct EventSummary {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    /// `detected`, `verified`, `dispatched`, `on_scene`, `cleared`, `closed`,
    /// `rejected` or `merged`.
    pub status: String,
    pub lon: f64,
    pub lat: f64,
    /// Network metres (x east, y north), for maps in the network's plane.
    pub x: f64,
    pub y: f64,
    pub road: Option<String>,
    pub confidence: f64,
    /// Could penalise a person (an operator must verify it).
    pub penalises: bool,
    pub first_seen: f64,
    pub last_seen: f64,
    /// Distinct source kinds.
    pub sources: Vec<String>,
    pub unit: Option<String>,
    /// `system`, or `operator:NAME`.
    pub verified_by: Option<String>,
    pub merged_into: Option<u64>,
    pub escalations: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TimelineEntry {
    pub time: f64,
    pub from: Option<String>,
    pub to: String,
    /// `system`, `operator` or `unit`.
    pub actor_kind: String,
    pub actor: String,
    pub note: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct SourceReport {
    pub time: f64,
    /// `occupancy`, `speed_drop`, `spillback`, `queue_gap`, `signal_log`, `detector_log`, `flow_balance`, `camera` or `citizen`.
    pub source: String,
    pub origin: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub confidence: f64,
    pub lon: f64,
    pub lat: f64,
    /// Snapshot or photo reference.
    pub reference: Option<String>,
    pub text: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct EventDetail {
    pub event: EventSummary,
    pub timeline: Vec<TimelineEntry>,
    pub sources: Vec<SourceReport>,
    pub merged: Vec<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct EventsResponse {
    pub events: Vec<EventSummary>,
}

/// An operator's action.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorAction {
    /// Who acts (used when the request is not authenticated; an authenticated
    /// principal always wins).
    pub operator: Option<String>,
    /// Why (reject).
    pub note: Option<String>,
    /// Merge: the event this one is the same as.
    pub into: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct UnitInfo {
    pub id: String,
    /// `police`, `ambulance`, `tow_truck` or `fire_engine`.
    pub kind: String,
    /// `available`, `alerted`, `en_route`, `on_scene` or `returning`.
    pub status: String,
    pub lon: f64,
    pub lat: f64,
    /// Network metres (x east, y north).
    pub x: f64,
    pub y: f64,
    pub event: Option<u64>,
    /// Seconds to its target at live speeds.
    pub eta_s: Option<f64>,
}

/// A unit with its alert, for the unit's page.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct UnitView {
    pub unit: UnitInfo,
    pub alert: Option<EventSummary>,
    /// The route still to drive, `[lon, lat]` points.
    pub route: Vec<[f64; 2]>,
    /// Changes whenever the view may have changed.
    pub version: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct UnitsResponse {
    pub units: Vec<UnitInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct UnitActionResponse {
    pub unit: String,
    pub event: u64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// `open` (default) or `all`.
    status: Option<String>,
    /// At most this many, newest first (default 200, 1..=1000).
    #[param(minimum = 1)]
    limit: Option<usize>,
}

fn service(app: &App) -> Result<Arc<Incidents>, ApiError> {
    app.backend.incidents().ok_or_else(|| ApiError::NotFound { what: "capability", id: "incidents".into() })
}

fn api_error(e: IncidentsError) -> ApiError {
    match e {
        IncidentsError::Brain(b) => crate::backend::api_error(b),
        IncidentsError::Lifecycle(LifecycleError::NotFound(id)) => ApiError::NotFound { what: "event", id: id.to_string() },
        IncidentsError::Lifecycle(LifecycleError::UnknownUnit(u)) => ApiError::NotFound { what: "unit", id: u },
        IncidentsError::Lifecycle(LifecycleError::Illegal { .. } | LifecycleError::NotAssigned { .. }) => {
            ApiError::Conflict(e.to_string())
        }
        IncidentsError::Lifecycle(l) => ApiError::Invalid(l.to_string()),
        IncidentsError::Invalid(m) => ApiError::Invalid(m),
        IncidentsError::Detached => ApiError::Unavailable(e.to_string()),
    }
}

fn lonlat(net: &Network, p: twin::Point) -> (f64, f64) {
    let (lon, lat) = net.georef.to_lonlat(p);
    ((lon * 1e7).round() / 1e7, (lat * 1e7).round() / 1e7)
}

fn summary(net: &Network, e: &Incident) -> EventSummary {
    let (lon, lat) = lonlat(net, e.pos);
    EventSummary {
        id: e.id,
        kind: e.kind.as_str().into(),
        status: e.status.as_str().into(),
        lon,
        lat,
        x: (e.pos.x * 10.0).round() / 10.0,
        y: (e.pos.y * 10.0).round() / 10.0,
        road: e.road.map(|r| net.road(r).name.clone()),
        confidence: (e.confidence * 1000.0).round() / 1000.0,
        penalises: e.kind.penalises(),
        first_seen: e.first_seen,
        last_seen: e.last_seen,
        sources: e.sources().into_iter().map(|s| s.as_str().to_string()).collect(),
        unit: e.unit.clone(),
        verified_by: e.verified_by.as_ref().map(|a| match a {
            incidents::Actor::System => "system".to_string(),
            other => format!("{}:{}", other.kind(), other.name()),
        }),
        merged_into: e.merged_into,
        escalations: e.escalations,
    }
}

fn detail_of(net: &Network, e: &Incident) -> EventDetail {
    EventDetail {
        event: summary(net, e),
        timeline: e
            .timeline
            .iter()
            .map(|x| TimelineEntry {
                time: x.time,
                from: x.from.map(|s| s.as_str().to_string()),
                to: x.to.as_str().into(),
                actor_kind: x.actor.kind().into(),
                actor: x.actor.name().into(),
                note: x.note.clone(),
            })
            .collect(),
        sources: e
            .reports
            .iter()
            .map(|r| {
                let (lon, lat) = lonlat(net, r.pos);
                SourceReport {
                    time: r.time,
                    source: r.source.as_str().into(),
                    origin: r.origin.clone(),
                    kind: r.kind.as_str().into(),
                    confidence: r.confidence,
                    lon,
                    lat,
                    reference: r.reference.clone(),
                    text: r.text.clone(),
                }
            })
            .collect(),
        merged: e.merged.clone(),
    }
}

fn unit_info(net: &Network, u: &Unit) -> UnitInfo {
    let p = u.point(net);
    let (lon, lat) = lonlat(net, p);
    UnitInfo {
        id: u.id.clone(),
        kind: u.kind.as_str().into(),
        status: u.status.as_str().into(),
        lon,
        lat,
        x: (p.x * 10.0).round() / 10.0,
        y: (p.y * 10.0).round() / 10.0,
        event: u.event,
        eta_s: u.eta_s.map(|t| t.round()),
    }
}

fn route_of(net: &Network, u: &Unit) -> Vec<[f64; 2]> {
    let mut pts = Vec::new();
    let Some(target) = u.target else { return pts };
    let mut push = |p: twin::Point| {
        let (lon, lat) = lonlat(net, p);
        pts.push([lon, lat]);
    };
    push(u.point(net));
    for (k, &r) in u.route.iter().enumerate() {
        let last = k + 1 == u.route.len();
        let (from, to) = (if k == 0 { u.at.offset } else { 0.0 }, if last { target.offset } else { net.road_length(r) });
        let steps = 4;
        for s in 1..=steps {
            push(incidents::detect::point_on_road(net, r, from + (to - from) * s as f64 / steps as f64));
        }
    }
    pts
}

/// Whether a `Content-Type` is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Parse a JSON body; an empty body is the default value when `empty_ok`.
fn body<T: serde::de::DeserializeOwned + Default>(headers: &HeaderMap, bytes: &Bytes, empty_ok: bool) -> Result<T, ApiError> {
    if empty_ok && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if !is_json(headers) {
        let got = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("none").to_string();
        return Err(ApiError::UnsupportedMediaType(format!("Content-Type: expected application/json, got {got}")));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::Malformed(format!("body: {e}")))
}

fn event_id(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>().map_err(|_| ApiError::NotFound { what: "event", id: s.chars().take(40).collect() })
}

impl Default for ReportRequest {
    fn default() -> Self {
        ReportRequest {
            source: String::new(),
            kind: None,
            location: Location { lon: f64::NAN, lat: f64::NAN },
            confidence: None,
            snapshot: None,
            photo: None,
            text: None,
            device: None,
            time: None,
        }
    }
}

/// Convert and validate a report request (every error names its field).
pub fn report_input(r: ReportRequest) -> Result<incidents::ReportInput, ApiError> {
    if r.snapshot.is_some() && r.photo.is_some() {
        return Err(ApiError::Invalid("photo: give a snapshot (camera) or a photo (citizen), not both".into()));
    }
    Ok(incidents::ReportInput {
        source: r.source,
        kind: r.kind,
        lon: r.location.lon,
        lat: r.location.lat,
        confidence: r.confidence,
        reference: r.snapshot.or(r.photo),
        text: r.text,
        device: r.device,
        time: r.time,
    })
}

/// Send a camera analytics event or a citizen report into the incident fusion.
#[utoipa::path(post, path = "/api/v1/events/reports", tag = "incidents",
    request_body(content = ReportRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Fused into an event", body = ReportAccepted),
        (status = 400, description = "Not JSON of the report shape", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "The incident capability is not running", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (the message names it)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn submit(
    State(app): State<App>,
    Authed(caller): Authed,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let req: ReportRequest = body(&headers, &bytes, false)?;
    let input = report_input(req)?;
    let id = tokio::task::spawn_blocking(move || svc.submit(&caller, &input)).await?.map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(ReportAccepted { event: id })).into_response())
}

/// Incident events, newest first.
#[utoipa::path(get, path = "/api/v1/events", tag = "incidents", params(ListParams),
    responses(
        (status = 200, body = EventsResponse),
        (status = 400, description = "`limit` not a number", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "The incident capability is not running", body = ErrorBody),
        (status = 422, description = "Unknown `status` or `limit` out of range", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let svc = service(&app)?;
    let all = match q.status.as_deref() {
        None | Some("open") => false,
        Some("all") => true,
        Some(o) => return Err(ApiError::Invalid(format!("status: expected open or all, got {o:?}"))),
    };
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid(format!("limit: must be 1..=1000, got {limit}")));
    }
    let net = svc.network();
    let events = svc.list(&caller, all, limit).map_err(api_error)?;
    Ok(Json(EventsResponse { events: events.iter().map(|e| summary(&net, e)).collect() }).into_response())
}

/// One event with its timeline and its sources.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "incidents",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, body = EventDetail),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn detail(State(app): State<App>, Authed(caller): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let id = event_id(&id)?;
    let net = svc.network();
    let e = svc.get(&caller, id).map_err(api_error)?;
    Ok(Json(detail_of(&net, &e)).into_response())
}

async fn operate(
    app: App,
    caller: Caller,
    id: String,
    headers: HeaderMap,
    bytes: Bytes,
    f: impl FnOnce(&Incidents, &Caller, u64, OperatorAction) -> Result<Incident, IncidentsError> + Send + 'static,
) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let id = event_id(&id)?;
    let action: OperatorAction = body(&headers, &bytes, true)?;
    let net = svc.network();
    let e = tokio::task::spawn_blocking(move || f(&svc, &caller, id, action)).await?.map_err(api_error)?;
    Ok(Json(detail_of(&net, &e)).into_response())
}

/// Operator: verify an event (the only way for types that could penalise a person);
/// a verified event is dispatched at once.
#[utoipa::path(post, path = "/api/v1/events/{id}/verify", tag = "incidents",
    params(("id" = String, Path, description = "Event id")),
    request_body(content = OperatorAction, content_type = "application/json"),
    responses(
        (status = 200, body = EventDetail),
        (status = 400, description = "Not JSON of the action shape", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 409, description = "Not a step of the lifecycle from the event's status", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "No operator named", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn verify(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    operate(app, caller, id, headers, bytes, |s, c, id, a| s.verify(c, id, a.operator.as_deref())).await
}

/// Operator: not an incident.
#[utoipa::path(post, path = "/api/v1/events/{id}/reject", tag = "incidents",
    params(("id" = String, Path, description = "Event id")),
    request_body(content = OperatorAction, content_type = "application/json"),
    responses(
        (status = 200, body = EventDetail),
        (status = 400, description = "Not JSON of the action shape", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 409, description = "Not a step of the lifecycle from the event's status", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "No operator named, or a note too long", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn reject(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    operate(app, caller, id, headers, bytes, |s, c, id, a| s.reject(c, id, a.operator.as_deref(), a.note.as_deref())).await
}

/// Operator: this event is the same as event `into`.
#[utoipa::path(post, path = "/api/v1/events/{id}/merge", tag = "incidents",
    params(("id" = String, Path, description = "Event id (merged away)")),
    request_body(content = OperatorAction, content_type = "application/json"),
    responses(
        (status = 200, description = "The event merged into", body = EventDetail),
        (status = 400, description = "Not JSON of the action shape", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 409, description = "Not a step of the lifecycle from the event's status", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "`into` missing or the same event, or no operator named", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn merge(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    operate(app, caller, id, headers, bytes, |s, c, id, a| {
        let into = a.into.ok_or_else(|| IncidentsError::Invalid("into: required (the event this one is the same as)".into()))?;
        s.merge(c, into, id, a.operator.as_deref())
    })
    .await
}

/// Operator: close an event (clearing it first if nobody did).
#[utoipa::path(post, path = "/api/v1/events/{id}/close", tag = "incidents",
    params(("id" = String, Path, description = "Event id")),
    request_body(content = OperatorAction, content_type = "application/json"),
    responses(
        (status = 200, body = EventDetail),
        (status = 400, description = "Not JSON of the action shape", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 409, description = "Not a step of the lifecycle from the event's status", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "No operator named", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn close(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    operate(app, caller, id, headers, bytes, |s, c, id, a| s.close(c, id, a.operator.as_deref())).await
}

/// Response units with their live positions.
#[utoipa::path(get, path = "/api/v1/units", tag = "incidents",
    responses(
        (status = 200, body = UnitsResponse),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "The incident capability is not running", body = ErrorBody),
    ))]
pub(crate) async fn units(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let net = svc.network();
    let units = svc.units(&caller).map_err(api_error)?;
    Ok(Json(UnitsResponse { units: units.iter().map(|u| unit_info(&net, u)).collect() }).into_response())
}

fn view(svc: &Incidents, caller: &Caller, id: &str) -> Result<UnitView, ApiError> {
    let net = svc.network();
    let (u, e, version) = svc.unit(caller, id).map_err(api_error)?;
    Ok(UnitView { unit: unit_info(&net, &u), alert: e.as_ref().map(|e| summary(&net, e)), route: route_of(&net, &u), version })
}

/// One unit, its alert and its route.
#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "incidents",
    params(("id" = String, Path, description = "Unit id")),
    responses(
        (status = 200, body = UnitView),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such unit", body = ErrorBody),
    ))]
pub(crate) async fn unit(State(app): State<App>, Authed(caller): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    Ok(Json(view(&svc, &caller, &id)?).into_response())
}

async fn unit_act(app: App, caller: Caller, id: String, action: &'static str) -> Result<Response, ApiError> {
    let svc = service(&app)?;
    let unit = id.clone();
    let event = tokio::task::spawn_blocking(move || svc.unit_action(&caller, &unit, action)).await?.map_err(api_error)?;
    Ok(Json(UnitActionResponse { unit: id, event }).into_response())
}

/// The unit accepts its alert.
#[utoipa::path(post, path = "/api/v1/units/{id}/accept", tag = "incidents",
    params(("id" = String, Path, description = "Unit id")),
    responses(
        (status = 200, body = UnitActionResponse),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 409, description = "The unit has no alert to accept", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn accept(State(app): State<App>, Authed(caller): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    unit_act(app, caller, id, "accept").await
}

/// The unit is on scene.
#[utoipa::path(post, path = "/api/v1/units/{id}/on_scene", tag = "incidents",
    params(("id" = String, Path, description = "Unit id")),
    responses(
        (status = 200, body = UnitActionResponse),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 409, description = "The unit is not on its way to an event", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn on_scene(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    unit_act(app, caller, id, "on_scene").await
}

/// The unit cleared the scene (and returns to base).
#[utoipa::path(post, path = "/api/v1/units/{id}/cleared", tag = "incidents",
    params(("id" = String, Path, description = "Unit id")),
    responses(
        (status = 200, body = UnitActionResponse),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 409, description = "The unit is not on scene", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn cleared(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    unit_act(app, caller, id, "cleared").await
}

/// WebSocket: the unit's view (`UnitView`) now and whenever it changes (alerts,
/// position, route).
#[utoipa::path(get, path = "/api/v1/units/{id}/stream", tag = "incidents",
    params(("id" = String, Path, description = "Unit id")),
    responses(
        (status = 101, description = "Switching protocols; then `UnitView` text frames", body = UnitView),
        (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody),
        (status = 403, description = "Foreign `Origin`", body = ErrorBody),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 503, description = "Too many stream clients", body = ErrorBody),
    ))]
pub(crate) async fn unit_stream(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    crate::ws::origin_allowed(&headers, &app.cfg.ws_allowed_origins)?;
    let svc = service(&app)?;
    view(&svc, &caller, &id)?;
    let ws = ws.map_err(|e| ApiError::Malformed(format!("not a WebSocket upgrade: {}", e.body_text())))?;
    let slot = crate::ws::Slot::take(&app.hub, app.cfg.ws_max_clients).ok_or_else(|| {
        ApiError::Overloaded(format!("{} stream clients are connected, the maximum; retry later", app.cfg.ws_max_clients))
    })?;
    let max = app.cfg.ws_max_message_bytes;
    Ok(ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| serve_unit(svc, caller, id, socket, slot)))
}

async fn serve_unit(svc: Arc<Incidents>, caller: Caller, id: String, mut socket: WebSocket, _slot: crate::ws::Slot) {
    let _watch = svc.watch(&id);
    let mut last: Option<u64> = None;
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = poll.tick() => {
                let Ok(v) = view(&svc, &caller, &id) else { break };
                if last == Some(v.version) {
                    continue;
                }
                last = Some(v.version);
                let Ok(text) = serde_json::to_string(&v) else { break };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    _ => {}
                }
            }
        }
    }
}

/// `/app/unit/{id}`: the unit's mobile page (`web/unit.html`; the page reads its unit
/// id from the address).
pub(crate) async fn unit_page(State(app): State<App>) -> Result<Response, ApiError> {
    let path = app.cfg.web_dir.join("unit.html");
    let html =
        tokio::fs::read_to_string(&path).await.map_err(|e| ApiError::NotFound { what: "page", id: format!("unit.html: {e}") })?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

#[derive(OpenApi)]
#[openapi(
    paths(submit, list, detail, verify, reject, merge, close, units, unit, accept, on_scene, cleared, unit_stream),
    components(schemas(
        Location,
        ReportRequest,
        ReportAccepted,
        EventSummary,
        TimelineEntry,
        SourceReport,
        EventDetail,
        EventsResponse,
        OperatorAction,
        UnitInfo,
        UnitView,
        UnitsResponse,
        UnitActionResponse,
    ))
)]
pub struct IncidentsDoc;
