//! Wire types of the public API (`/api/v1`). Only this crate knows them; library crates
//! hand over plain Rust values and the conversions live here.

use serde::{Deserialize, Serialize};
use twin::Network;
use utoipa::ToSchema;

/// Congestion grade of a road; `unknown` without recent evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    Free,
    Slow,
    Congested,
    Unknown,
}

impl From<Option<state::Grade>> for Grade {
    fn from(g: Option<state::Grade>) -> Self {
        match g {
            Some(state::Grade::Free) => Grade::Free,
            Some(state::Grade::Slow) => Grade::Slow,
            Some(state::Grade::Congested) => Grade::Congested,
            None => Grade::Unknown,
        }
    }
}

/// City traffic performance grade (Beijing DB11/T 785), from the TPI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TpiGrade {
    #[default]
    Smooth,
    BasicallySmooth,
    LightlyCongested,
    ModeratelyCongested,
    SeverelyCongested,
}

impl From<state::TpiGrade> for TpiGrade {
    fn from(g: state::TpiGrade) -> Self {
        match g {
            state::TpiGrade::Smooth => TpiGrade::Smooth,
            state::TpiGrade::BasicallySmooth => TpiGrade::BasicallySmooth,
            state::TpiGrade::LightlyCongested => TpiGrade::LightlyCongested,
            state::TpiGrade::ModeratelyCongested => TpiGrade::ModeratelyCongested,
            state::TpiGrade::SeverelyCongested => TpiGrade::SeverelyCongested,
        }
    }
}

/// What a signalised intersection shows: `green` while a through or left movement is
/// served, `clearance` between greens, `none` for an intersection without a signal (or
/// before the twin reported one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignalState {
    Green,
    Clearance,
    None,
}

/// Road class: congestion thresholds and map styling. Decided by
/// [`state::StateConfig::classify`], the one classification of the code base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoadClass {
    Arterial,
    Local,
}

impl From<state::RoadClass> for RoadClass {
    fn from(c: state::RoadClass) -> Self {
        match c {
            state::RoadClass::Arterial => RoadClass::Arterial,
            state::RoadClass::Local => RoadClass::Local,
        }
    }
}

impl From<RoadClass> for state::RoadClass {
    fn from(c: RoadClass) -> Self {
        match c {
            RoadClass::Arterial => state::RoadClass::Arterial,
            RoadClass::Local => state::RoadClass::Local,
        }
    }
}

/// City-wide key figures shown on the dashboard's KPI tiles.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct CityKpis {
    pub time_s: f64,
    /// Length-weighted actual / free-flow travel time (AMap style); 1.0 is free flow.
    pub delay_index: f64,
    /// Traffic performance index 0–10 (Beijing DB11/T 785).
    pub tpi: f64,
    pub tpi_grade: TpiGrade,
    pub average_speed_kmh: f64,
    pub vehicles: u64,
    pub trips_finished: u64,
    /// Share of road length graded congested.
    pub congested_share: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RoadState {
    pub id: String,
    /// Fused speed; `None` without recent evidence.
    pub speed_kmh: Option<f64>,
    /// Travel time index: actual over free-flow travel time.
    pub tti: Option<f64>,
    /// `free`, `slow`, `congested` or `unknown`.
    pub grade: Grade,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct IntersectionState {
    pub id: String,
    pub delay_s: Option<f64>,
    /// Vehicles waiting on the approaches.
    pub queue: u32,
    /// Current phase index of the fixed plan, when the signal runs its plan.
    pub phase: Option<usize>,
    /// `green` (serving a through or left movement), `clearance` or `none`.
    pub signal: SignalState,
}

/// Everything live, as `GET /api/v1/state` returns it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct LiveState {
    pub city: CityKpis,
    pub roads: Vec<RoadState>,
    pub intersections: Vec<IntersectionState>,
}

/// A message on `/api/v1/stream`: a full snapshot on connect, then deltas that carry only
/// what changed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
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
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct HistoryPoint {
    pub t: f64,
    pub speed_kmh: Option<f64>,
    pub count: Option<f64>,
    pub delay_index: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryResponse {
    pub scope: String,
    pub from: f64,
    pub to: f64,
    pub resolution_s: f64,
    pub points: Vec<HistoryPoint>,
}

/// Response of `POST /api/v1/observations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct IngestResponse {
    pub accepted: usize,
    pub rejected: usize,
    pub results: Vec<IngestResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct IngestResult {
    pub index: usize,
    pub status: RecordStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Fate of one record of an ingest batch. `not_stored`: the record was valid but the
/// store could not write it (the response is a 503; resend the batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Accepted,
    Rejected,
    NotStored,
}

/// Kind of a registered sensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SensorKind {
    Loop,
    Camera,
    Controller,
    Probe,
    Citizen,
}

impl From<sense::SensorKind> for SensorKind {
    fn from(k: sense::SensorKind) -> Self {
        match k {
            sense::SensorKind::Loop => SensorKind::Loop,
            sense::SensorKind::Camera => SensorKind::Camera,
            sense::SensorKind::Controller => SensorKind::Controller,
            sense::SensorKind::Probe => SensorKind::Probe,
            sense::SensorKind::Citizen => SensorKind::Citizen,
        }
    }
}

/// `GET /api/v1/sensors`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct SensorsResponse {
    pub count: usize,
    pub sensors: Vec<SensorInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct SensorInfo {
    /// Stable external id, e.g. `loop:road_1_0_1:0`.
    pub id: String,
    pub kind: SensorKind,
    /// Owning department.
    pub owner: String,
    /// Human-readable place: road, `road:lane`, intersection or `city`.
    pub location: String,
    /// Position in network coordinates, when the sensor has one.
    pub point: Option<[f64; 2]>,
}

/// `GET /api/v1/signals`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct SignalsResponse {
    pub time_s: f64,
    pub signals: Vec<SignalInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct SignalInfo {
    /// Intersection id.
    pub id: String,
    /// Plan stage shown: the plan's own, or under a policy the plan stage whose greens are
    /// those shown; `null` when the policy shows a set no plan stage has.
    pub phase: Option<usize>,
    /// Number of phases of the plan.
    pub phases: usize,
    pub plan: Vec<PlanPhase>,
    /// NEMA phases green now, under every controller (numbers as in `nema`).
    pub green_phases: Vec<u8>,
    /// The NEMA numbering of the intersection's movements: the phase numbers of its
    /// ATSPM event log.
    pub nema: Vec<NemaPhaseInfo>,
}

/// One NEMA phase: through movements on 2/4/6/8, protected lefts on 1/3/5/7; extra
/// approaches of junctions NEMA does not describe from 9 up.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NemaPhaseInfo {
    pub phase: u8,
    /// Incoming road the phase serves.
    pub road: String,
    /// `N`, `E`, `S` or `W`: the arm the road arrives from.
    pub approach: String,
    /// `through` or `left`.
    pub turn: String,
    /// Indices of the intersection's movements in the phase (right turns go with their
    /// approach's through phase and are green in every stage, so they are not listed).
    pub movements: Vec<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct PlanPhase {
    pub duration_s: f64,
    /// Indices of the intersection's movements that have green.
    pub green_movements: Vec<usize>,
}

/// `GET /api/v1/rejected`: one page of the stored rejected records, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RejectedResponse {
    /// Records accepted and rejected since the brain started.
    pub total_accepted: u64,
    pub total_rejected: u64,
    pub limit: usize,
    /// Cursor of the next (older) page, for `?before=`; `null` on the last page.
    pub next_before: Option<u64>,
    pub recent: Vec<RejectedRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RejectedRecord {
    /// Store-assigned id, increasing with arrival (the paging cursor).
    pub id: u64,
    /// Brain clock when the batch arrived.
    pub time_s: f64,
    pub batch: u64,
    /// Index of the record in its batch.
    pub index: u64,
    pub error: String,
    /// The record as received (truncated and redacted by the store).
    pub raw: String,
}

/// Health of one component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Unavailable,
}

/// `GET /healthz`: 200 when everything is ok, 503 when storage cannot write.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct HealthResponse {
    pub status: HealthStatus,
    pub storage: StorageHealth,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct StorageHealth {
    pub status: HealthStatus,
    /// The last storage error, while unavailable.
    pub error: Option<String>,
}

impl StorageHealth {
    pub fn ok() -> Self {
        StorageHealth { status: HealthStatus::Ok, error: None }
    }
}

/// The class of road `r` under `cfg`: the one classification ([`state::StateConfig::classify`])
/// shared by the live estimate, replay grading and the map.
pub fn road_class(net: &Network, r: twin::RoadId, cfg: &state::StateConfig) -> RoadClass {
    let road = net.road(r);
    let speed = road.lanes().map(|l| net.lane(l).max_speed).fold(0.0, f64::max).max(0.1);
    cfg.classify(speed, road.lane_count).into()
}

/// Coordinates of [`network_geojson`]: WGS84 longitude/latitude (RFC 7946, the
/// default) or the network's local metres (x east, y north) on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeoJsonCrs {
    Wgs84,
    Local,
}

/// The network as GeoJSON. With [`GeoJsonCrs::Wgs84`] this is RFC 7946: positions are
/// `[lon, lat]` in WGS84 (through the network's georeference, rounded to 1e-7 degrees,
/// about 1 cm) and there is no `crs` member, so GDAL, QGIS and Leaflet place it where the
/// city is. With [`GeoJsonCrs::Local`] positions are network metres (0.1 m) and the
/// collection has no `crs` member either: it is not RFC 7946 and is meant for the
/// dashboard's own drawing. Either way the collection carries a foreign member
/// `georef` describing the reference (`frame`: `wgs84` or `local`, `proj`: the PROJ string of the projection,
/// `offset`: metres added after projecting, `assumed`: true when the file gave none).
pub fn network_geojson(net: &Network, crs: GeoJsonCrs) -> serde_json::Value {
    use serde_json::json;
    let g = net.georef;
    let pos = |p: twin::Point| -> [f64; 2] {
        match crs {
            GeoJsonCrs::Local => [round(p.x), round(p.y)],
            GeoJsonCrs::Wgs84 => {
                let (lon, lat) = g.to_lonlat(p);
                [round7(lon), round7(lat)]
            }
        }
    };
    let mut features = Vec::with_capacity(net.roads.len() + net.intersections.len());
    for (k, road) in net.roads.iter().enumerate() {
        let r = twin::RoadId(k as u32);
        let speed = road.lanes().map(|l| net.lane(l).max_speed).fold(0.0, f64::max);
        features.push(json!({
            "type": "Feature",
            "id": road.name,
            "geometry": {"type": "LineString", "coordinates": road.points.iter().map(|&p| pos(p)).collect::<Vec<_>>()},
            "properties": {
                "kind": "road",
                "id": road.name,
                "from": net.intersection(road.from).name,
                "to": net.intersection(road.to).name,
                "lanes": road.lane_count,
                "speed_limit_kmh": round(speed * 3.6),
                "length_m": round(net.road_length(r)),
                "class": road_class(net, r, &state::StateConfig::default()),
            }
        }));
    }
    for i in &net.intersections {
        features.push(json!({
            "type": "Feature",
            "id": i.name,
            "geometry": {"type": "Point", "coordinates": pos(i.point)},
            "properties": {"kind": "intersection", "id": i.name, "signalised": i.is_signalised(), "virtual": i.is_virtual}
        }));
    }
    json!({
        "type": "FeatureCollection",
        "georef": {
            "frame": match crs { GeoJsonCrs::Wgs84 => "wgs84", GeoJsonCrs::Local => "local" },
            "proj": g.crs.proj_string(),
            "offset": [g.offset.x, g.offset.y],
            "assumed": g.assumed,
        },
        "features": features
    })
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
