//! Open data: the public datasets as bulk downloads (CSV, Parquet and GeoJSON), each
//! through the runtime's one authorisation check (`Action::Read { dataset }`), so a
//! dataset that an owner reclassifies stops being served here on the next request. A
//! dataset is built once as a [`Table`] and rendered as CSV or Parquet
//! ([`crate::parquet`]), so both downloads hold the same rows.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use brain::Action;
use governance::datasets;
use serde::{Deserialize, Serialize};

use crate::auth::Authed;
use crate::error::{ApiError, ErrorBody};
use crate::http::App;
use crate::parquet::{Table, Values};

/// The open-data routes of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    index,
    road_state_csv,
    road_state_parquet,
    road_state_geojson,
    signal_plans_csv,
    signal_plans_parquet,
    aggregates_csv,
    aggregates_parquet,
    transparency_csv,
    transparency_parquet,
    incidents_csv,
    incidents_parquet,
))]
pub struct OpenDataDoc;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/open", get(index))
        .route("/open/road-state.csv", get(road_state_csv))
        .route("/open/road-state.geojson", get(road_state_geojson))
        .route("/open/signal-plans.csv", get(signal_plans_csv))
        .route("/open/aggregates.csv", get(aggregates_csv))
        .route("/open/transparency.csv", get(transparency_csv))
        .route("/open/incidents.csv", get(incidents_csv))
        .route("/open/road-state.parquet", get(road_state_parquet))
        .route("/open/signal-plans.parquet", get(signal_plans_parquet))
        .route("/open/aggregates.parquet", get(aggregates_parquet))
        .route("/open/transparency.parquet", get(transparency_parquet))
        .route("/open/incidents.parquet", get(incidents_parquet))
}

#[derive(Serialize)]
struct OpenDataset {
    name: &'static str,
    description: &'static str,
    downloads: Vec<&'static str>,
}

/// The open datasets and their downloads.
#[utoipa::path(get, path = "/api/v1/open", tag = "open data", responses((status = 200, description = "Datasets", body = [Object])))]
pub(crate) async fn index() -> Response {
    Json(vec![
        OpenDataset {
            name: datasets::ROAD_STATE,
            description: "live speed (km/h), travel time index and congestion grade of every road",
            downloads: vec!["/api/v1/open/road-state.csv", "/api/v1/open/road-state.parquet", "/api/v1/open/road-state.geojson"],
        },
        OpenDataset {
            name: datasets::AGGREGATES,
            description: "history of a scope (city, road:ID, area:NAME, intersection:ID): speed, count, delay index",
            downloads: vec!["/api/v1/open/aggregates.csv?scope=city", "/api/v1/open/aggregates.parquet?scope=city"],
        },
        OpenDataset {
            name: datasets::SIGNAL_PLANS,
            description: "signal plans: phases, durations and green movements",
            downloads: vec!["/api/v1/open/signal-plans.csv", "/api/v1/open/signal-plans.parquet"],
        },
        OpenDataset {
            name: datasets::INCIDENTS_PUBLIC,
            description: "incidents without personal data: type, status, place, detection, dispatch, arrival, clearance",
            downloads: vec!["/api/v1/open/incidents.csv", "/api/v1/open/incidents.parquet"],
        },
        OpenDataset {
            name: datasets::TRANSPARENCY,
            description: "automated decisions the brain took on the city: what, when, why",
            downloads: vec!["/api/v1/open/transparency.csv", "/api/v1/open/transparency.parquet", "/api/v1/transparency"],
        },
    ])
    .into_response()
}

fn csv(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv")], body).into_response()
}

/// The table as CSV: a header of the column names, numbers as Rust prints them, nulls
/// empty, text through [`field`].
pub fn table_csv(t: &Table) -> String {
    let mut out = t.columns.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(",");
    out.push('\n');
    for i in 0..t.rows() {
        for (k, (_, v)) in t.columns.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            match v {
                Values::I64(v) => out.push_str(&v[i].map(|x| x.to_string()).unwrap_or_default()),
                Values::F64(v) => out.push_str(&num(v[i])),
                Values::Str(v) => out.push_str(&v[i].as_deref().map(field).unwrap_or_default()),
            }
        }
        out.push('\n');
    }
    out
}

fn render(t: &Table, parquet: bool) -> Response {
    if parquet {
        ([(header::CONTENT_TYPE, "application/vnd.apache.parquet")], crate::parquet::write(t)).into_response()
    } else {
        csv(table_csv(t))
    }
}

fn strs(v: impl IntoIterator<Item = String>) -> Values {
    Values::Str(v.into_iter().map(Some).collect())
}

/// A CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`,
/// `-` or `@` is prefixed with `'` so spreadsheets do not run it as a formula.
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Live road state as CSV.
#[utoipa::path(get, path = "/api/v1/open/road-state.csv", tag = "open data",
    responses((status = 200, description = "`time_s,road,speed_kmh,tti,grade`", content_type = "text/csv", body = String),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody)))]
pub(crate) async fn road_state_csv(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(render(&road_state(&app, &caller)?, false))
}

/// Live road state as Parquet (the CSV's columns).
#[utoipa::path(get, path = "/api/v1/open/road-state.parquet", tag = "open data",
    responses((status = 200, description = "`time_s,road,speed_kmh,tti,grade`", content_type = "application/vnd.apache.parquet", body = Vec<u8>),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody)))]
pub(crate) async fn road_state_parquet(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(render(&road_state(&app, &caller)?, true))
}

fn road_state(app: &App, caller: &brain::Caller) -> Result<Table, ApiError> {
    app.backend.authorize(caller, Action::Read { dataset: datasets::ROAD_STATE })?;
    let live = app.hub.live();
    let grade = |r: &crate::api::RoadState| serde_json::to_value(r.grade).ok().and_then(|v| v.as_str().map(String::from));
    Ok(Table {
        columns: vec![
            ("time_s".into(), Values::F64(live.roads.iter().map(|_| Some(live.city.time_s)).collect())),
            ("road".into(), strs(live.roads.iter().map(|r| r.id.clone()))),
            ("speed_kmh".into(), Values::F64(live.roads.iter().map(|r| r.speed_kmh).collect())),
            ("tti".into(), Values::F64(live.roads.iter().map(|r| r.tti).collect())),
            ("grade".into(), Values::Str(live.roads.iter().map(grade).collect())),
        ],
    })
}

/// Live road state as GeoJSON (RFC 7946, WGS84): the roads with speed, TTI and grade.
#[utoipa::path(get, path = "/api/v1/open/road-state.geojson", tag = "open data",
    responses((status = 200, description = "FeatureCollection of roads", content_type = "application/geo+json", body = Object),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody)))]
pub(crate) async fn road_state_geojson(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    app.backend.authorize(&caller, Action::Read { dataset: datasets::ROAD_STATE })?;
    let live = app.hub.live();
    let mut net: serde_json::Value =
        serde_json::from_str(&app.hub.network_geojson()).map_err(|e| ApiError::Internal(format!("network GeoJSON: {e}")))?;
    let by_id: std::collections::HashMap<&str, &crate::api::RoadState> = live.roads.iter().map(|r| (r.id.as_str(), r)).collect();
    if let Some(features) = net.get_mut("features").and_then(|f| f.as_array_mut()) {
        features.retain(|f| f["properties"]["kind"] == "road");
        for f in features.iter_mut() {
            let id = f["id"].as_str().unwrap_or_default().to_string();
            if let (Some(r), Some(p)) = (by_id.get(id.as_str()), f.get_mut("properties").and_then(|p| p.as_object_mut())) {
                p.insert("speed_kmh".into(), serde_json::json!(r.speed_kmh));
                p.insert("tti".into(), serde_json::json!(r.tti));
                p.insert("grade".into(), serde_json::to_value(r.grade).unwrap_or_default());
                p.insert("time_s".into(), serde_json::json!(live.city.time_s));
            }
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], net.to_string()).into_response())
}

/// Signal plans as CSV.
#[utoipa::path(get, path = "/api/v1/open/signal-plans.csv", tag = "open data",
    responses((status = 200, description = "`intersection,phase,duration_s,green_movements`", content_type = "text/csv", body = String),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody)))]
pub(crate) async fn signal_plans_csv(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(render(&signal_plans(&app, caller).await?, false))
}

/// Signal plans as Parquet (the CSV's columns).
#[utoipa::path(get, path = "/api/v1/open/signal-plans.parquet", tag = "open data",
    responses((status = 200, description = "`intersection,phase,duration_s,green_movements`", content_type = "application/vnd.apache.parquet", body = Vec<u8>),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody)))]
pub(crate) async fn signal_plans_parquet(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(render(&signal_plans(&app, caller).await?, true))
}

async fn signal_plans(app: &App, caller: brain::Caller) -> Result<Table, ApiError> {
    app.backend.authorize(&caller, Action::Read { dataset: datasets::SIGNAL_PLANS })?;
    let backend = app.backend.clone();
    let s = tokio::task::spawn_blocking(move || backend.signals(&caller)).await??;
    let (mut ids, mut phases, mut durations, mut greens) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for sig in &s.signals {
        for (k, p) in sig.plan.iter().enumerate() {
            ids.push(sig.id.clone());
            phases.push(Some(k as i64));
            durations.push(Some(p.duration_s));
            greens.push(p.green_movements.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(" "));
        }
    }
    Ok(Table {
        columns: vec![
            ("intersection".into(), strs(ids)),
            ("phase".into(), Values::I64(phases)),
            ("duration_s".into(), Values::F64(durations)),
            ("green_movements".into(), strs(greens)),
        ],
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AggParams {
    /// `city`, `road:ID`, `area:NAME` or `intersection:ID`.
    scope: Option<String>,
    /// Window start, seconds (default: `to` minus a day).
    from: Option<f64>,
    /// Window end, seconds (default: now).
    to: Option<f64>,
    /// Seconds per point, at least 60 (default 900).
    resolution: Option<f64>,
}

/// History of a scope as CSV (default: the city, the last day, 15-minute points).
#[utoipa::path(get, path = "/api/v1/open/aggregates.csv", tag = "open data", params(AggParams),
    responses((status = 200, description = "`t,scope,speed_kmh,count,delay_index`", content_type = "text/csv", body = String),
        (status = 400, description = "A parameter is not a number", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "Unknown road or intersection", body = ErrorBody),
        (status = 422, description = "A window or resolution out of bounds, or an unknown scope kind", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody)))]
pub(crate) async fn aggregates_csv(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<AggParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    Ok(render(&aggregates(&app, caller, q).await?, false))
}

/// History of a scope as Parquet (the CSV's columns and parameters).
#[utoipa::path(get, path = "/api/v1/open/aggregates.parquet", tag = "open data", params(AggParams),
    responses((status = 200, description = "`t,scope,speed_kmh,count,delay_index`", content_type = "application/vnd.apache.parquet", body = Vec<u8>),
        (status = 400, description = "A parameter is not a number", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 404, description = "Unknown road or intersection", body = ErrorBody),
        (status = 422, description = "A window or resolution out of bounds, or an unknown scope kind", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody)))]
pub(crate) async fn aggregates_parquet(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<AggParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    Ok(render(&aggregates(&app, caller, q).await?, true))
}

async fn aggregates(app: &App, caller: brain::Caller, q: Result<Query<AggParams>, QueryRejection>) -> Result<Table, ApiError> {
    let Query(q) = q?;
    app.backend.authorize(&caller, Action::Read { dataset: datasets::AGGREGATES })?;
    let to = q.to.unwrap_or_else(|| app.backend.now());
    let from = q.from.unwrap_or(to - 86_400.0).max(0.0);
    let res = q.resolution.unwrap_or(900.0);
    if !(from.is_finite() && to.is_finite() && from <= to && to - from <= app.cfg.history_max_window_s) {
        return Err(ApiError::Invalid(format!("from/to: finite, from <= to, at most {} s apart", app.cfg.history_max_window_s)));
    }
    if !(res.is_finite() && res >= 60.0) || (to - from) / res > app.cfg.history_max_points {
        return Err(ApiError::Invalid("resolution: at least 60 s and within the point limit".into()));
    }
    let scope = q.scope.unwrap_or_else(|| "city".into());
    let backend = app.backend.clone();
    let h = tokio::task::spawn_blocking(move || backend.history(&caller, &scope, from, to, res)).await??;
    Ok(Table {
        columns: vec![
            ("t".into(), Values::F64(h.points.iter().map(|p| Some(p.t)).collect())),
            ("scope".into(), strs(h.points.iter().map(|_| h.scope.clone()))),
            ("speed_kmh".into(), Values::F64(h.points.iter().map(|p| p.speed_kmh).collect())),
            ("count".into(), Values::F64(h.points.iter().map(|p| p.count).collect())),
            ("delay_index".into(), Values::F64(h.points.iter().map(|p| p.delay_index).collect())),
        ],
    })
}

/// The transparency log as CSV.
#[utoipa::path(get, path = "/api/v1/open/transparency.csv", tag = "open data",
    responses((status = 200, description = "`seq,time,source,decision`", content_type = "text/csv", body = String),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 503, description = "The audit log cannot be read", body = ErrorBody)))]
pub(crate) async fn transparency_csv(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(render(&transparency(&app, &caller).await?, false))
}

/// The transparency log as Parquet (the CSV's columns).
#[utoipa::path(get, path = "/api/v1/open/transparency.parquet", tag = "open data",
    responses((status = 200, description = "`seq,time,source,decision`", content_type = "application/vnd.apache.parquet", body = Vec<u8>),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody),
        (status = 503, description = "The audit log cannot be read", body = ErrorBody)))]
pub(crate) async fn transparency_parquet(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(render(&transparency(&app, &caller).await?, true))
}

async fn transparency(app: &App, caller: &brain::Caller) -> Result<Table, ApiError> {
    app.backend.authorize(caller, Action::Read { dataset: datasets::TRANSPARENCY })?;
    let rows = match app.gov.clone() {
        Some(g) => tokio::task::spawn_blocking(move || g.transparency(10_000)).await?.map_err(crate::gov_api::gov_error)?,
        None => Vec::new(),
    };
    Ok(Table {
        columns: vec![
            ("seq".into(), Values::I64(rows.iter().map(|r| Some(r.seq as i64)).collect())),
            ("time".into(), Values::F64(rows.iter().map(|r| Some(r.time)).collect())),
            ("source".into(), strs(rows.iter().map(|r| r.actor.clone()))),
            ("decision".into(), strs(rows.iter().map(|r| r.detail.clone()))),
        ],
    })
}

/// Incidents without personal data as CSV (newest first).
#[utoipa::path(get, path = "/api/v1/open/incidents.csv", tag = "open data",
    responses((status = 200, description = "`id,type,status,road,lon,lat,detected_at,verified_at,dispatched_at,arrived_at,cleared_at`", content_type = "text/csv", body = String),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody)))]
pub(crate) async fn incidents_csv(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(render(&incidents(&app, &caller).await?, false))
}

/// Incidents without personal data as Parquet (the CSV's columns).
#[utoipa::path(get, path = "/api/v1/open/incidents.parquet", tag = "open data",
    responses((status = 200, description = "`id,type,status,road,lon,lat,detected_at,verified_at,dispatched_at,arrived_at,cleared_at`", content_type = "application/vnd.apache.parquet", body = Vec<u8>),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller", body = ErrorBody)))]
pub(crate) async fn incidents_parquet(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    Ok(render(&incidents(&app, &caller).await?, true))
}

async fn incidents(app: &App, caller: &brain::Caller) -> Result<Table, ApiError> {
    app.backend.authorize(caller, Action::Read { dataset: datasets::INCIDENTS_PUBLIC })?;
    let backend = app.backend.clone();
    let rows = tokio::task::spawn_blocking(move || backend.open_incidents()).await?;
    let f = |get: fn(&crate::http::OpenIncident) -> Option<f64>| Values::F64(rows.iter().map(get).collect());
    Ok(Table {
        columns: vec![
            ("id".into(), Values::I64(rows.iter().map(|e| Some(e.id as i64)).collect())),
            ("type".into(), strs(rows.iter().map(|e| e.kind.clone()))),
            ("status".into(), strs(rows.iter().map(|e| e.status.clone()))),
            ("road".into(), Values::Str(rows.iter().map(|e| e.road.clone()).collect())),
            ("lon".into(), f(|e| Some(e.lon))),
            ("lat".into(), f(|e| Some(e.lat))),
            ("detected_at".into(), f(|e| Some(e.detected_at))),
            ("verified_at".into(), f(|e| e.verified_at)),
            ("dispatched_at".into(), f(|e| e.dispatched_at)),
            ("arrived_at".into(), f(|e| e.arrived_at)),
            ("cleared_at".into(), f(|e| e.cleared_at)),
        ],
    })
}
