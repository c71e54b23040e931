//! The HTTP surface: REST under `/api/v1`, health, Prometheus metrics, OpenAPI and the
//! dashboard's static files. The WebSocket stream is in [`crate::ws`], the accept loop
//! with its timeouts and connection cap in [`crate::transport`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::broadcast;
use tower_http::services::ServeDir;
use utoipa::IntoParams;

use brain::{Action, Caller};
use governance::Governance;

use crate::api::*;
use crate::auth::Authed;
use crate::error::{ApiError, ErrorBody};
use crate::openapi::{FeatureCollection, ObservationBatch};

/// What the HTTP layer needs from the brain behind it. Implemented for the runtime
/// ([`brain::Brain`]) in [`crate::backend`]; every method is synchronous and may block
/// briefly; the server calls the slow ones off the async runtime.
pub trait Backend: Send + Sync + 'static {
    /// Validate and ingest a `{"observations":[…]}` body. `Err` is about the body as a
    /// whole (malformed: 400); per-record problems are reported inside the response.
    fn ingest(&self, caller: &Caller, body: &[u8]) -> Result<Ingested, ApiError>;
    /// History for `scope` (`city`, `road:ID`, `area:ID`, `intersection:ID`) over
    /// `[from, to]` at `resolution_s` (the window is already bounded by the server).
    fn history(&self, caller: &Caller, scope: &str, from: f64, to: f64, resolution_s: f64) -> Result<HistoryResponse, ApiError>;
    fn signals(&self, caller: &Caller) -> Result<SignalsResponse, ApiError>;
    fn sensors(&self, caller: &Caller) -> Result<SensorsResponse, ApiError>;
    /// One page of stored rejected records, newest first: ids below `before` (all when
    /// `None`), at most `limit`.
    fn rejected(&self, caller: &Caller, before: Option<u64>, limit: usize) -> Result<RejectedResponse, ApiError>;
    /// The stored state snapshot at or before time `t`, for replay (`None`: nothing stored).
    fn snapshot_at(&self, caller: &Caller, t: f64) -> Result<Option<LiveState>, ApiError>;
    /// ATSPM hi-res events of one controller as CSV (`TimeStamp,DeviceId,EventId,Parameter`).
    fn atspm_csv(&self, caller: &Caller, intersection: &str, from: f64, to: f64) -> Result<String, ApiError>;
    /// The detector configuration of the controllers (all, or one intersection's) as CSV
    /// with [`DETECTOR_CSV_HEADER`].
    fn detectors_csv(&self, caller: &Caller, intersection: Option<&str>) -> Result<String, ApiError>;
    /// The runtime's one authorisation check, for routes that serve what the edge already
    /// holds (live state from the hub, the network, the stream).
    fn authorize(&self, caller: &Caller, action: Action<'_>) -> Result<(), ApiError>;
    /// Append backend-specific Prometheus lines.
    fn prometheus(&self, out: &mut String);
    /// Whether storage can write (`/healthz` answers 503 when it cannot).
    fn health(&self) -> StorageHealth;
    /// The brain's clock: the end of the default query windows.
    fn now(&self) -> f64;
    /// Hand a citizen's traffic report to the incident pipeline (as a record of the
    /// citizen feed): category, a summary without personal data, and the place.
    /// Default: not handed on.
    fn citizen_report(&self, _category: &str, _text: &str, _lon: Option<f64>, _lat: Option<f64>) {}
    /// Incidents without personal data (no reports, notes, names or units), newest
    /// first: the public view of the incident capability (empty when it is not running).
    fn open_incidents(&self) -> Vec<OpenIncident> {
        Vec::new()
    }
    /// What the brain holds outside governance (for the data-protection report).
    fn holdings(&self) -> Vec<governance::Holding> {
        Vec::new()
    }
    /// The incident capability, when its plug-in runs ([`crate::incidents_api`]).
    fn incidents(&self) -> Option<Arc<incidents::Incidents>> {
        None
    }
    /// The corridor capability, when its plug-in runs ([`crate::corridor_api`]).
    fn corridors(&self) -> Option<Arc<corridor::Corridors>> {
        None
    }
    /// The NGSI-LD capability, when it runs ([`crate::ngsi_api`]).
    fn ngsi(&self) -> Option<Arc<ngsi::Ngsi>> {
        None
    }
}

/// An incident as open data: what, where, when, and how fast the city responded.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OpenIncident {
    pub id: u64,
    pub kind: String,
    pub status: String,
    pub road: Option<String>,
    pub lon: f64,
    pub lat: f64,
    pub detected_at: f64,
    pub verified_at: Option<f64>,
    pub dispatched_at: Option<f64>,
    pub arrived_at: Option<f64>,
    pub cleared_at: Option<f64>,
}

/// The outcome of an ingest call: the per-record response, and whether the accepted
/// records reached durable storage (if not, the server answers 503 so the client retries).
pub struct Ingested {
    pub response: IngestResponse,
    pub stored: bool,
}

/// Shared live state: the latest snapshot, the stream fan-out and request counters.
pub struct Hub {
    /// The network as RFC 7946 GeoJSON (WGS84) and in local metres.
    network: Arc<str>,
    network_local: Arc<str>,
    live: RwLock<Arc<LiveState>>,
    pub(crate) tx: broadcast::Sender<Arc<str>>,
    pub requests: AtomicU64,
    pub ws_clients: AtomicU64,
    pub published: AtomicU64,
}

impl Hub {
    pub fn new(net: &twin::Network) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(64);
        Arc::new(Hub {
            network: network_geojson(net, GeoJsonCrs::Wgs84).to_string().into(),
            network_local: network_geojson(net, GeoJsonCrs::Local).to_string().into(),
            live: RwLock::new(Arc::new(LiveState::default())),
            tx,
            requests: AtomicU64::new(0),
            ws_clients: AtomicU64::new(0),
            published: AtomicU64::new(0),
        })
    }

    /// Replace the live state and push the delta to every stream subscriber.
    pub fn publish(&self, state: LiveState) {
        let old = self.live();
        let delta = StreamMessage::Delta(state.delta_from(&old));
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(state);
        self.published.fetch_add(1, Ordering::Relaxed);
        if let Ok(text) = serde_json::to_string(&delta) {
            let _ = self.tx.send(text.into());
        }
    }

    /// The network as RFC 7946 GeoJSON text.
    pub fn network_geojson(&self) -> Arc<str> {
        self.network.clone()
    }

    pub fn live(&self) -> Arc<LiveState> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Clone)]
pub(crate) struct App {
    pub hub: Arc<Hub>,
    pub backend: Arc<dyn Backend>,
    pub cfg: Arc<HttpConfig>,
    /// Accounts, sessions and grants; `None`: every caller is the public (the backend's
    /// authoriser decides what the public may do).
    pub gov: Option<Arc<Governance>>,
}

/// Server settings: limits, timeouts and the query windows.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Directory of the dashboard (`web/`).
    pub web_dir: PathBuf,
    /// Largest accepted request body in bytes; larger gets 413.
    pub max_body_bytes: usize,
    /// Open connections at most (WebSockets included); more are answered 503 and closed.
    pub max_connections: usize,
    /// A request head (and, on a keep-alive connection, the next one) must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection with no byte read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Open `/api/v1/stream` clients at most; more get 503.
    pub ws_max_clients: usize,
    /// Largest inbound WebSocket message or frame (the stream is server to client).
    pub ws_max_message_bytes: usize,
    /// Origins besides the served one that may open the stream (e.g.
    /// `https://ops.example.org`). A request without `Origin` (not from a browser) is allowed.
    pub ws_allowed_origins: Vec<String>,
    /// `/history` window when `from` is not given, seconds.
    pub history_default_window_s: f64,
    /// Widest `/history` window, seconds; wider is 422.
    pub history_max_window_s: f64,
    /// Most points (`window / resolution`) one `/history` call may ask for.
    pub history_max_points: f64,
    /// `/signals/events` window when `from` is not given, seconds.
    pub events_default_window_s: f64,
    /// Widest `/signals/events` window, seconds; wider is 422.
    pub events_max_window_s: f64,
    /// Default and largest page of `/rejected`.
    pub rejected_default_limit: usize,
    pub rejected_max_limit: usize,
    /// NGSI-LD only: a caller without a credential acts as a service of this department
    /// (for running a conformance suite that sends no credentials). The binary allows it
    /// only on a loopback bind; `None` (the default): such a caller is the public.
    pub ngsi_anonymous_as: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            web_dir: PathBuf::from("web"),
            max_body_bytes: 16 << 20,
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            ws_max_clients: 256,
            ws_max_message_bytes: 64 << 10,
            ws_allowed_origins: Vec::new(),
            history_default_window_s: 3600.0,
            history_max_window_s: 7.0 * 86_400.0,
            history_max_points: 20_000.0,
            events_default_window_s: 3600.0,
            events_max_window_s: 86_400.0,
            rejected_default_limit: 100,
            rejected_max_limit: 1000,
            ngsi_anonymous_as: None,
        }
    }
}

/// The whole router, without governance (every caller is the public).
pub fn router(hub: Arc<Hub>, backend: Arc<dyn Backend>, cfg: &HttpConfig) -> Router {
    router_with(hub, backend, cfg, None)
}

/// The whole router; with `gov`, requests authenticate (tokens, sessions, OIDC) and the
/// governance routes (login, grants, audit, tickets, open data) are served.
pub fn router_with(hub: Arc<Hub>, backend: Arc<dyn Backend>, cfg: &HttpConfig, gov: Option<Arc<Governance>>) -> Router {
    let app = App { hub, backend, cfg: Arc::new(cfg.clone()), gov };
    let api = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/network", get(network))
        .route("/state", get(state))
        .route("/history", get(history))
        .route("/snapshot", get(snapshot))
        .route("/signals/events", get(atspm))
        .route("/signals/detectors", get(detectors))
        .route("/signals", get(signals))
        .route("/sensors", get(sensors))
        .route("/rejected", get(rejected))
        .route("/observations", post(ingest))
        .route("/stream", get(crate::ws::stream))
        .merge(crate::gov_api::routes())
        .merge(crate::open_api::routes())
        .merge(crate::incidents_api::routes())
        .merge(crate::corridor_api::routes());
    Router::new()
        .nest("/api/v1", api)
        .nest("/ngsi-ld/v1", crate::ngsi_api::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/app/unit/{id}", get(crate::incidents_api::unit_page))
        .fallback_service(ServeDir::new(&cfg.web_dir))
        .layer(axum::middleware::from_fn_with_state(app.clone(), crate::auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(app.clone(), count_requests))
        .with_state(app)
}

async fn count_requests(State(app): State<App>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    app.hub.requests.fetch_add(1, Ordering::Relaxed);
    next.run(req).await
}

fn json_text(body: impl Into<String>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)))]
pub(crate) async fn openapi() -> Response {
    json_text(crate::openapi::document_json())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NetworkParams {
    /// `wgs84` (the default; also `EPSG:4326`, `OGC:CRS84`): RFC 7946 longitude/latitude.
    /// `local`: the network's own metres (x east, y north), not RFC 7946.
    crs: Option<String>,
}

/// The road network as GeoJSON: RFC 7946 (WGS84 lon/lat) by default, network metres
/// with `?crs=local`.
#[utoipa::path(get, path = "/api/v1/network", tag = "city", params(NetworkParams),
    responses(
        (status = 200, description = "Roads (LineString) and intersections (Point)", body = FeatureCollection),
        (status = 422, description = "Unknown `crs`", body = ErrorBody),
    ))]
pub(crate) async fn network(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<NetworkParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    app.backend.authorize(&caller, Action::ReadLive)?;
    match q.crs.as_deref() {
        None | Some("wgs84" | "EPSG:4326" | "OGC:CRS84") => Ok(json_text(app.hub.network.to_string())),
        Some("local") => Ok(json_text(app.hub.network_local.to_string())),
        Some(other) => Err(ApiError::Invalid(format!("crs: unknown value {other:?} (expected wgs84 or local)"))),
    }
}

/// Live city, road and intersection state.
#[utoipa::path(get, path = "/api/v1/state", tag = "state", responses((status = 200, body = LiveState)))]
pub(crate) async fn state(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    app.backend.authorize(&caller, Action::ReadLive)?;
    Ok(Json(app.hub.live().as_ref().clone()).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// `city`, `road:ID`, `area:NAME` or `intersection:ID` (its approaches averaged).
    scope: Option<String>,
    /// Window start, seconds on the brain clock (default: `to` minus one hour).
    from: Option<f64>,
    /// Window end, seconds (default: now).
    to: Option<f64>,
    /// Seconds per point, at least 1 (default 60); under 60 gives stored snapshots, under
    /// 900 minute buckets, else 15-minute buckets.
    resolution: Option<f64>,
}

/// History of a scope over a bounded window.
#[utoipa::path(get, path = "/api/v1/history", tag = "state", params(HistoryParams),
    responses(
        (status = 200, body = HistoryResponse),
        (status = 400, description = "A parameter is not a number", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "Unknown road or intersection", body = ErrorBody),
        (status = 422, description = "Unknown scope kind, `from` after `to`, resolution under 1 s, or a window beyond the maximum", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn history(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let cfg = &app.cfg;
    let scope = q.scope.unwrap_or_else(|| "city".into());
    let to = q.to.unwrap_or_else(|| app.backend.now());
    let from = q.from.unwrap_or(to - cfg.history_default_window_s).max(0.0);
    let res = q.resolution.unwrap_or(60.0);
    check_window("from/to", from, to, cfg.history_max_window_s)?;
    if !(res.is_finite() && res >= 1.0) {
        return Err(ApiError::Invalid(format!("resolution: must be at least 1 second, got {res}")));
    }
    if (to - from) / res > cfg.history_max_points {
        return Err(ApiError::Invalid(format!(
            "resolution: {res} s over a {} s window gives more than {} points; use a coarser resolution or a shorter window",
            to - from,
            cfg.history_max_points
        )));
    }
    let backend = app.backend.clone();
    let h = tokio::task::spawn_blocking(move || backend.history(&caller, &scope, from, to, res)).await??;
    Ok(Json(h).into_response())
}

/// `from <= to`, both finite, and the window no wider than `max_s`.
fn check_window(name: &str, from: f64, to: f64, max_s: f64) -> Result<(), ApiError> {
    if !(from.is_finite() && to.is_finite()) {
        return Err(ApiError::Invalid(format!("{name}: must be finite numbers, got from={from} to={to}")));
    }
    if from > to {
        return Err(ApiError::Invalid(format!("{name}: need from <= to, got from={from} to={to}")));
    }
    if to - from > max_s {
        return Err(ApiError::Invalid(format!(
            "{name}: the window is {} s, the maximum is {max_s} s; ask for several windows",
            to - from
        )));
    }
    Ok(())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SnapshotParams {
    /// Time to replay, seconds on the brain clock.
    t: f64,
}

/// The stored state snapshot at or before `t` (replay).
#[utoipa::path(get, path = "/api/v1/snapshot", tag = "state", params(SnapshotParams),
    responses(
        (status = 200, body = LiveState),
        (status = 400, description = "`t` missing or not a number", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "No snapshot stored yet", body = ErrorBody),
        (status = 422, description = "`t` is not finite", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn snapshot(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<SnapshotParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    if !q.t.is_finite() {
        return Err(ApiError::Invalid(format!("t: must be a finite number, got {}", q.t)));
    }
    let backend = app.backend.clone();
    match tokio::task::spawn_blocking(move || backend.snapshot_at(&caller, q.t)).await?? {
        Some(s) => Ok(Json(s).into_response()),
        None => Err(ApiError::NotFound { what: "snapshot at t", id: q.t.to_string() }),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AtspmParams {
    /// Intersection id.
    intersection: String,
    /// Window start: Unix seconds or an RFC 3339 datetime with an offset, e.g.
    /// `2026-12-06T07:00:00+08:00` (default: `to` minus one hour).
    from: Option<String>,
    /// Window end: Unix seconds or an RFC 3339 datetime (default: now).
    to: Option<String>,
}

/// A time query value: Unix seconds or an RFC 3339 datetime with an offset.
fn time_param(name: &str, v: &str) -> Result<f64, ApiError> {
    match v.trim().parse::<f64>() {
        Ok(t) if t.is_finite() => Ok(t),
        _ => sense::time::parse_rfc3339(v.trim()).map_err(|e| ApiError::Malformed(format!("{name}: {e}"))),
    }
}

/// The ATSPM hi-res event log of one controller, as CSV.
#[utoipa::path(get, path = "/api/v1/signals/events", tag = "signals", params(AtspmParams),
    responses(
        (status = 200, description = "`TimeStamp,DeviceId,EventId,Parameter` lines", content_type = "text/csv", body = String),
        (status = 400, description = "`intersection` missing, or a time neither Unix seconds nor an RFC 3339 datetime", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "Unknown intersection", body = ErrorBody),
        (status = 422, description = "`from` after `to` or a window beyond the maximum (24 h by default)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn atspm(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<AtspmParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let cfg = &app.cfg;
    let to = match &q.to {
        Some(v) => time_param("to", v)?,
        None => app.backend.now(),
    };
    let from = match &q.from {
        Some(v) => time_param("from", v)?,
        None => to - cfg.events_default_window_s,
    }
    .max(0.0);
    check_window("from/to", from, to, cfg.events_max_window_s)?;
    let backend = app.backend.clone();
    let csv = tokio::task::spawn_blocking(move || backend.atspm_csv(&caller, &q.intersection, from, to)).await??;
    Ok(([(header::CONTENT_TYPE, "text/csv")], csv).into_response())
}

/// The header of the detector configuration CSV: the columns ATSPM tools read
/// (`DeviceId`, `Parameter` = detector channel, `Phase`, `Function` = detector type),
/// then the zone's distance from the stop bar and length in metres, and the lane.
pub const DETECTOR_CSV_HEADER: &str = "DeviceId,Parameter,Phase,Function,Distance_m,Length_m,Lane\n";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DetectorParams {
    /// Intersection id (default: every controller).
    intersection: Option<String>,
}

/// The detector configuration of the signal controllers, as CSV in the column layout
/// ATSPM tools read: stop-bar presence detectors on channels 1..n, advance detectors on
/// n+1..2n, with the NEMA phase each calls.
#[utoipa::path(get, path = "/api/v1/signals/detectors", tag = "signals", params(DetectorParams),
    responses(
        (status = 200, description = "`DeviceId,Parameter,Phase,Function,Distance_m,Length_m,Lane` lines", content_type = "text/csv", body = String),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "Unknown intersection, or one without a controller", body = ErrorBody),
    ))]
pub(crate) async fn detectors(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<DetectorParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let csv = app.backend.detectors_csv(&caller, q.intersection.as_deref())?;
    Ok(([(header::CONTENT_TYPE, "text/csv")], csv).into_response())
}

/// Current phase and plan of every signal.
#[utoipa::path(get, path = "/api/v1/signals", tag = "signals", responses((status = 200, body = SignalsResponse), (status = 403, body = ErrorBody)))]
pub(crate) async fn signals(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(Json(app.backend.signals(&caller)?).into_response())
}

/// The sensor registry.
#[utoipa::path(get, path = "/api/v1/sensors", tag = "ingest", responses((status = 200, body = SensorsResponse), (status = 403, body = ErrorBody)))]
pub(crate) async fn sensors(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(Json(app.backend.sensors(&caller)?).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RejectedParams {
    /// Cursor: only records with an id below this (the previous page's `next_before`);
    /// absent for the newest page.
    #[param(minimum = 0)]
    before: Option<u64>,
    /// Page size (default 100, at most 1000).
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// Stored rejected observation records with their errors, newest first, one page.
#[utoipa::path(get, path = "/api/v1/rejected", tag = "ingest", params(RejectedParams),
    responses(
        (status = 200, body = RejectedResponse),
        (status = 400, description = "`before` or `limit` not a non-negative integer", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 422, description = "`limit` 0 or above the maximum", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn rejected(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<RejectedParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(app.cfg.rejected_default_limit);
    if limit == 0 || limit > app.cfg.rejected_max_limit {
        return Err(ApiError::Invalid(format!("limit: must be 1..={}, got {limit}", app.cfg.rejected_max_limit)));
    }
    let backend = app.backend.clone();
    let page = tokio::task::spawn_blocking(move || backend.rejected(&caller, q.before, limit)).await??;
    Ok(Json(page).into_response())
}

/// Whether a `Content-Type` is JSON (`application/json`, any parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Ingest a batch of observations; bad records are rejected one by one.
#[utoipa::path(post, path = "/api/v1/observations", tag = "ingest",
    request_body(content = ObservationBatch, content_type = "application/json"),
    responses(
        (status = 200, description = "Per-record results; accepted records are committed", body = IngestResponse),
        (status = 400, description = "Not JSON of the batch shape", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 413, description = "Body over the limit (16 MiB by default)", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 503, description = "Records validated but storage failed: nothing of the batch is accepted; resend it", body = IngestResponse),
    ))]
pub(crate) async fn ingest(State(app): State<App>, Authed(caller): Authed, req: Request) -> Result<Response, ApiError> {
    if !is_json(req.headers()) {
        let got = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("none").to_string();
        return Err(ApiError::UnsupportedMediaType(format!("Content-Type: expected application/json, got {got}")));
    }
    let limit = app.cfg.max_body_bytes;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    let body = axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.downcast_ref::<http_body_util::LengthLimitError>().is_some())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::TooLarge { limit }
        } else {
            ApiError::Malformed(format!("reading the body: {e}"))
        }
    })?;
    let backend = app.backend.clone();
    let r = tokio::task::spawn_blocking(move || backend.ingest(&caller, &body)).await??;
    if r.stored {
        Ok(Json(r.response).into_response())
    } else {
        // Validated but not durable: the client must resend the batch.
        Ok((StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], Json(r.response)).into_response())
    }
}

/// Liveness and storage health.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses(
        (status = 200, description = "Serving, storage writable", body = HealthResponse),
        (status = 503, description = "Storage cannot write", body = HealthResponse),
    ))]
pub(crate) async fn healthz(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    app.backend.authorize(&caller, Action::ReadMetrics)?;
    let backend = app.backend.clone();
    let storage = tokio::task::spawn_blocking(move || backend.health()).await?;
    let status = storage.status;
    let code = if status == HealthStatus::Ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((code, Json(HealthResponse { status, storage })).into_response())
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    app.backend.authorize(&caller, Action::ReadMetrics)?;
    let live = app.hub.live();
    let mut out = String::new();
    // Prometheus naming: a `_total` metric is a counter, anything that can go down a gauge.
    let mut metric = |kind: &str, name: &str, help: &str, v: f64| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"));
    };
    let counter = "counter";
    metric(counter, "citybrain_http_requests_total", "HTTP requests served.", app.hub.requests.load(Ordering::Relaxed) as f64);
    metric(
        counter,
        "citybrain_state_updates_total",
        "Live state updates published.",
        app.hub.published.load(Ordering::Relaxed) as f64,
    );
    let mut gauge = |name: &str, help: &str, v: f64| metric("gauge", name, help, v);
    gauge("citybrain_stream_clients", "Open WebSocket stream clients.", app.hub.ws_clients.load(Ordering::Relaxed) as f64);
    gauge("citybrain_sim_time_seconds", "Simulated time of the live state.", live.city.time_s);
    gauge("citybrain_city_delay_index", "City delay index.", live.city.delay_index);
    gauge("citybrain_city_tpi", "Traffic performance index 0-10.", live.city.tpi);
    gauge("citybrain_vehicles", "Vehicles in the network.", live.city.vehicles as f64);
    app.backend.prometheus(&mut out);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
