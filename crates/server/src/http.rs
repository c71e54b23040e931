//! The HTTP surface: REST under `/api/v1`, the WebSocket stream, health, Prometheus
//! metrics, OpenAPI and the dashboard's static files.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::broadcast;
use tower_http::services::ServeDir;

use crate::api::*;

/// What the HTTP layer needs from the brain behind it. Implemented for the runtime
/// ([`brain::Brain`]) in [`crate::backend`]; every method is synchronous and may block briefly.
pub trait Backend: Send + Sync + 'static {
    /// Validate and ingest a `{"observations":[…]}` body. `Err` means the body itself is
    /// malformed (HTTP 400); per-record problems are reported inside the response.
    fn ingest(&self, body: &[u8]) -> Result<Ingested, String>;
    /// History for `scope` (`city`, `road:ID`, `area:ID`) over `[from, to]` at `resolution_s`.
    fn history(&self, scope: &str, from: f64, to: f64, resolution_s: f64) -> Result<HistoryResponse, String>;
    fn signals(&self) -> serde_json::Value;
    fn sensors(&self) -> serde_json::Value;
    fn rejected(&self) -> serde_json::Value;
    /// The stored state snapshot nearest to simulated time `t`, for replay.
    fn snapshot_at(&self, t: f64) -> Option<LiveState>;
    /// ATSPM hi-res events of one controller as CSV (`TimeStamp,DeviceId,EventId,Parameter`).
    fn atspm_csv(&self, intersection: &str, from: f64, to: f64) -> Result<String, String>;
    /// Append backend-specific Prometheus lines.
    fn prometheus(&self, out: &mut String);
}

/// The outcome of an ingest call: the per-record response, and whether the accepted
/// records reached durable storage (if not, the server answers 503 so the client retries).
pub struct Ingested {
    pub response: IngestResponse,
    pub stored: bool,
}

/// Shared live state: the latest snapshot, the stream fan-out and request counters.
pub struct Hub {
    network: Arc<str>,
    live: RwLock<Arc<LiveState>>,
    tx: broadcast::Sender<Arc<str>>,
    pub requests: AtomicU64,
    pub ws_clients: AtomicU64,
    pub published: AtomicU64,
}

impl Hub {
    pub fn new(net: &twin::Network) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(64);
        Arc::new(Hub {
            network: network_geojson(net).to_string().into(),
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

    pub fn live(&self) -> Arc<LiveState> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Clone)]
struct App {
    hub: Arc<Hub>,
    backend: Arc<dyn Backend>,
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Directory of the dashboard (`web/`).
    pub web_dir: PathBuf,
    /// Largest accepted request body in bytes; larger gets 413.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { web_dir: PathBuf::from("web"), max_body_bytes: 16 << 20 }
    }
}

/// The whole router.
pub fn router(hub: Arc<Hub>, backend: Arc<dyn Backend>, cfg: &HttpConfig) -> Router {
    let app = App { hub, backend };
    let api = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/network", get(network))
        .route("/state", get(state))
        .route("/history", get(history))
        .route("/snapshot", get(snapshot))
        .route("/signals/events", get(atspm))
        .route("/signals", get(signals))
        .route("/sensors", get(sensors))
        .route("/rejected", get(rejected))
        .route("/observations", post(ingest).layer(DefaultBodyLimit::max(cfg.max_body_bytes)))
        .route("/stream", get(stream));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .fallback_service(ServeDir::new(&cfg.web_dir))
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

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": msg }))).into_response()
}

async fn openapi() -> Response {
    json_text(crate::openapi::document().to_string())
}

async fn network(State(app): State<App>) -> Response {
    json_text(app.hub.network.to_string())
}

async fn state(State(app): State<App>) -> Response {
    Json(app.hub.live().as_ref().clone()).into_response()
}

#[derive(Deserialize)]
struct HistoryParams {
    scope: Option<String>,
    from: Option<f64>,
    to: Option<f64>,
    resolution: Option<f64>,
}

async fn history(State(app): State<App>, Query(q): Query<HistoryParams>) -> Response {
    let now = app.hub.live().city.time_s;
    let scope = q.scope.unwrap_or_else(|| "city".into());
    let to = q.to.unwrap_or(now);
    let from = q.from.unwrap_or(to - 3600.0).max(0.0);
    let res = q.resolution.unwrap_or(60.0);
    if !(from.is_finite() && to.is_finite() && from <= to) {
        return bad_request(format!("from/to: need from <= to, got from={from} to={to}"));
    }
    if !(res.is_finite() && res >= 1.0) {
        return bad_request(format!("resolution: must be at least 1 second, got {res}"));
    }
    let backend = app.backend.clone();
    match tokio::task::spawn_blocking(move || backend.history(&scope, from, to, res)).await {
        Ok(Ok(h)) => Json(h).into_response(),
        Ok(Err(e)) => bad_request(e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct SnapshotParams {
    t: f64,
}

async fn snapshot(State(app): State<App>, Query(q): Query<SnapshotParams>) -> Response {
    if !q.t.is_finite() {
        return bad_request(format!("t: must be a number, got {}", q.t));
    }
    let backend = app.backend.clone();
    match tokio::task::spawn_blocking(move || backend.snapshot_at(q.t)).await {
        Ok(Some(s)) => Json(s).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": "no snapshot stored yet"}))).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct AtspmParams {
    intersection: String,
    from: Option<f64>,
    to: Option<f64>,
}

async fn atspm(State(app): State<App>, Query(q): Query<AtspmParams>) -> Response {
    let to = q.to.unwrap_or(f64::MAX);
    let from = q.from.unwrap_or(0.0);
    let backend = app.backend.clone();
    match tokio::task::spawn_blocking(move || backend.atspm_csv(&q.intersection, from, to)).await {
        Ok(Ok(csv)) => ([(header::CONTENT_TYPE, "text/csv")], csv).into_response(),
        Ok(Err(e)) => bad_request(e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn signals(State(app): State<App>) -> Response {
    Json(app.backend.signals()).into_response()
}
async fn sensors(State(app): State<App>) -> Response {
    Json(app.backend.sensors()).into_response()
}
async fn rejected(State(app): State<App>) -> Response {
    Json(app.backend.rejected()).into_response()
}

async fn ingest(State(app): State<App>, body: Bytes) -> Response {
    let backend = app.backend.clone();
    match tokio::task::spawn_blocking(move || backend.ingest(&body)).await {
        Ok(Ok(r)) if r.stored => Json(r.response).into_response(),
        // Validated but not durable: the client must retry the batch.
        Ok(Ok(r)) => (StatusCode::SERVICE_UNAVAILABLE, Json(r.response)).into_response(),
        Ok(Err(e)) => bad_request(e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let live = app.hub.live();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: f64| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"));
    };
    gauge("citybrain_http_requests_total", "HTTP requests served.", app.hub.requests.load(Ordering::Relaxed) as f64);
    gauge("citybrain_stream_clients", "Open WebSocket stream clients.", app.hub.ws_clients.load(Ordering::Relaxed) as f64);
    gauge("citybrain_state_updates_total", "Live state updates published.", app.hub.published.load(Ordering::Relaxed) as f64);
    gauge("citybrain_sim_time_seconds", "Simulated time of the live state.", live.city.time_s);
    gauge("citybrain_city_delay_index", "City delay index.", live.city.delay_index);
    gauge("citybrain_city_tpi", "Traffic performance index 0-10.", live.city.tpi);
    gauge("citybrain_vehicles", "Vehicles in the network.", live.city.vehicles as f64);
    app.backend.prometheus(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn stream(State(app): State<App>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve_stream(app, socket))
}

async fn serve_stream(app: App, mut socket: WebSocket) {
    app.hub.ws_clients.fetch_add(1, Ordering::Relaxed);
    let mut rx = app.hub.tx.subscribe();
    let snapshot = |app: &App| serde_json::to_string(&StreamMessage::Snapshot(app.hub.live().as_ref().clone())).ok();
    if let Some(s) = snapshot(&app) {
        if socket.send(Message::Text(s.into())).await.is_err() {
            app.hub.ws_clients.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    }
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let text: String = match msg {
                    Ok(t) => t.to_string(),
                    // A slow client missed deltas: resynchronise with a snapshot.
                    Err(broadcast::error::RecvError::Lagged(_)) => match snapshot(&app) { Some(s) => s, None => break },
                    Err(broadcast::error::RecvError::Closed) => break,
                };
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
    app.hub.ws_clients.fetch_sub(1, Ordering::Relaxed);
}
