//! Wire types of the public API (`/api/v1`). Only this crate knows them; library crates
//! hand over plain Rust values and the conversions live here.

use serde::{Deserialize, Serialize};
use twin::Network;

/// City-wide key figures shown on the dashboard's KPI tiles.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CityKpis {
    pub time_s: f64,
    /// Length-weighted actual / free-flow travel time (AMap style); 1.0 is free flow.
    pub delay_index: f64,
    /// Traffic performance index 0–10 (Beijing DB11/T 785).
    pub tpi: f64,
    pub tpi_grade: String,
    pub average_speed_kmh: f64,
    pub vehicles: u64,
    pub trips_finished: u64,
    /// Share of road length graded congested.
    pub congested_share: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RoadState {
    pub id: String,
    /// Fused speed; `None` without recent evidence.
    pub speed_kmh: Option<f64>,
    /// Travel time index: actual over free-flow travel time.
    pub tti: Option<f64>,
    /// `free`, `slow`, `congested` or `unknown`.
    pub grade: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IntersectionState {
    pub id: String,
    pub delay_s: Option<f64>,
    /// Vehicles waiting on the approaches.
    pub queue: u32,
    /// Current phase index of the fixed plan, when the signal runs its plan.
    pub phase: Option<usize>,
    /// `green` (serving a through or left movement), `clearance` or `none`.
    pub signal: String,
}

/// Everything live, as `GET /api/v1/state` returns it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveState {
    pub city: CityKpis,
    pub roads: Vec<RoadState>,
    pub intersections: Vec<IntersectionState>,
}

/// A message on `/api/v1/stream`: a full snapshot on connect, then deltas that carry only
/// what changed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StreamMessage {
    Snapshot(LiveState),
    Delta(LiveState),
}

impl LiveState {
    /// The roads and intersections of `self` that differ from `old`, with the city figures.
    pub fn delta_from(&self, old: &LiveState) -> LiveState {
        let roads = if old.roads.len() == self.roads.len() {
            self.roads.iter().zip(&old.roads).filter(|(a, b)| a != b).map(|(a, _)| a.clone()).collect()
        } else {
            self.roads.clone()
        };
        let intersections = if old.intersections.len() == self.intersections.len() {
            self.intersections.iter().zip(&old.intersections).filter(|(a, b)| a != b).map(|(a, _)| a.clone()).collect()
        } else {
            self.intersections.clone()
        };
        LiveState { city: self.city.clone(), roads, intersections }
    }
}

/// One point of a history series.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HistoryPoint {
    pub t: f64,
    pub speed_kmh: Option<f64>,
    pub count: Option<f64>,
    pub delay_index: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryResponse {
    pub scope: String,
    pub from: f64,
    pub to: f64,
    pub resolution_s: f64,
    pub points: Vec<HistoryPoint>,
}

/// Response of `POST /api/v1/observations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IngestResponse {
    pub accepted: usize,
    pub rejected: usize,
    pub results: Vec<IngestResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IngestResult {
    pub index: usize,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Road class used for congestion thresholds and map styling.
pub fn road_class(net: &Network, r: twin::RoadId) -> &'static str {
    let road = net.road(r);
    let speed = road.lanes().map(|l| net.lane(l).max_speed).fold(0.0, f64::max);
    if road.lane_count >= 3 || speed >= 16.0 {
        "arterial"
    } else {
        "local"
    }
}

/// The network as GeoJSON. Coordinates are the twin's local metres (x east, y north);
/// the collection says so in its `crs` member.
pub fn network_geojson(net: &Network) -> serde_json::Value {
    use serde_json::json;
    let mut features = Vec::with_capacity(net.roads.len() + net.intersections.len());
    for (k, road) in net.roads.iter().enumerate() {
        let r = twin::RoadId(k as u32);
        let speed = road.lanes().map(|l| net.lane(l).max_speed).fold(0.0, f64::max);
        features.push(json!({
            "type": "Feature",
            "id": road.name,
            "geometry": {"type": "LineString", "coordinates": road.points.iter().map(|p| [round(p.x), round(p.y)]).collect::<Vec<_>>()},
            "properties": {
                "kind": "road",
                "id": road.name,
                "from": net.intersection(road.from).name,
                "to": net.intersection(road.to).name,
                "lanes": road.lane_count,
                "speed_limit_kmh": round(speed * 3.6),
                "length_m": round(net.road_length(r)),
                "class": road_class(net, r),
            }
        }));
    }
    for i in &net.intersections {
        features.push(json!({
            "type": "Feature",
            "id": i.name,
            "geometry": {"type": "Point", "coordinates": [round(i.point.x), round(i.point.y)]},
            "properties": {"kind": "intersection", "id": i.name, "signalised": i.is_signalised(), "virtual": i.is_virtual}
        }));
    }
    json!({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "citybrain:local-metres"}},
        "features": features
    })
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
