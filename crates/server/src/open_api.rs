//! Open data: the public datasets as bulk downloads (CSV and GeoJSON), each through the
//! runtime's one authorisation check (`Action::Read { dataset }`), so a dataset that an
//! owner reclassifies stops being served here on the next request.
//! Parquet is not offered: no light pure-Rust writer fits the build's rules yet.

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
use crate::error::ApiError;
use crate::http::App;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/open", get(index))
        .route("/open/road-state.csv", get(road_state_csv))
        .route("/open/road-state.geojson", get(road_state_geojson))
        .route("/open/signal-plans.csv", get(signal_plans_csv))
        .route("/open/aggregates.csv", get(aggregates_csv))
        .route("/open/transparency.csv", get(transparency_csv))
}

#[derive(Serialize)]
struct OpenDataset {
    name: &'static str,
    description: &'static str,
    downloads: Vec<&'static str>,
}

async fn index() -> Response {
    Json(vec![
        OpenDataset {
            name: datasets::ROAD_STATE,
            description: "live speed (km/h), travel time index and congestion grade of every road",
            downloads: vec!["/api/v1/open/road-state.csv", "/api/v1/open/road-state.geojson"],
        },
        OpenDataset {
            name: datasets::AGGREGATES,
            description: "history of a scope (city, road:ID, area:NAME, intersection:ID): speed, count, delay index",
            downloads: vec!["/api/v1/open/aggregates.csv?scope=city"],
        },
        OpenDataset {
            name: datasets::SIGNAL_PLANS,
            description: "signal plans: phases, durations and green movements",
            downloads: vec!["/api/v1/open/signal-plans.csv"],
        },
        OpenDataset {
            name: datasets::TRANSPARENCY,
            description: "automated decisions the brain took on the city: what, when, why",
            downloads: vec!["/api/v1/open/transparency.csv", "/api/v1/transparency"],
        },
    ])
    .into_response()
}

fn csv(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
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

async fn road_state_csv(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    app.backend.authorize(&caller, Action::Read { dataset: datasets::ROAD_STATE })?;
    let live = app.hub.live();
    let mut out = String::from("time_s,road,speed_kmh,tti,grade\n");
    for r in &live.roads {
        let grade = serde_json::to_value(r.grade).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        out.push_str(&format!("{},{},{},{},{}\n", live.city.time_s, field(&r.id), num(r.speed_kmh), num(r.tti), grade));
    }
    Ok(csv(out))
}

async fn road_state_geojson(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
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

async fn signal_plans_csv(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    app.backend.authorize(&caller, Action::Read { dataset: datasets::SIGNAL_PLANS })?;
    let backend = app.backend.clone();
    let s = tokio::task::spawn_blocking(move || backend.signals(&caller)).await??;
    let mut out = String::from("intersection,phase,duration_s,green_movements\n");
    for sig in &s.signals {
        for (k, p) in sig.plan.iter().enumerate() {
            let greens: Vec<String> = p.green_movements.iter().map(|m| m.to_string()).collect();
            out.push_str(&format!("{},{k},{},{}\n", field(&sig.id), p.duration_s, field(&greens.join(" "))));
        }
    }
    Ok(csv(out))
}

#[derive(Deserialize)]
struct AggParams {
    scope: Option<String>,
    from: Option<f64>,
    to: Option<f64>,
    resolution: Option<f64>,
}

async fn aggregates_csv(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<AggParams>, QueryRejection>,
) -> Result<Response, ApiError> {
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
    let mut out = String::from("t,scope,speed_kmh,count,delay_index\n");
    for p in &h.points {
        out.push_str(&format!("{},{},{},{},{}\n", p.t, field(&h.scope), num(p.speed_kmh), num(p.count), num(p.delay_index)));
    }
    Ok(csv(out))
}

async fn transparency_csv(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    app.backend.authorize(&caller, Action::Read { dataset: datasets::TRANSPARENCY })?;
    let Some(g) = app.gov.clone() else { return Ok(csv("seq,time,source,decision\n".into())) };
    let rows = tokio::task::spawn_blocking(move || g.transparency(10_000)).await?.map_err(crate::gov_api::gov_error)?;
    let mut out = String::from("seq,time,source,decision\n");
    for r in rows {
        out.push_str(&format!("{},{},{},{}\n", r.seq, r.time, field(&r.actor), field(&r.detail)));
    }
    Ok(csv(out))
}
