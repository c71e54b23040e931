//! CityFlow roadnet and flow JSON, read and written.
//!
//! Reading follows CityFlow's own loader: virtual intersections keep only their point
//! and roads; lane links without `points` get CityFlow's Bézier geometry; flow entries
//! release a vehicle every `interval` seconds from `startTime` to `endTime` inclusive
//! (`endTime` −1 means no end), and missing vehicle fields take CityFlow's defaults.
//! One deliberate difference: CityFlow ignores a `startTime`/`endTime` that is not a JSON
//! integer (`23.0` included) and uses 0 and −1 instead; here any number is read as
//! written. The writer always emits integers, so CityFlow reads exported files right.
//! Every error names the file and the JSON path of the offending value.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::ImportError;
use crate::demand::{validate_flow_timing, validate_route, Demand, Flow, VehicleParams};
use crate::geo::Georef;
use crate::geom::Point;
use crate::ids::RoadId;
use crate::network::Network;
use crate::spec::*;
use crate::Scenario;

#[derive(Serialize, Deserialize, Clone, Copy)]
struct PointJson {
    x: f64,
    y: f64,
}

impl From<PointJson> for Point {
    fn from(p: PointJson) -> Point {
        Point::new(p.x, p.y)
    }
}
impl From<Point> for PointJson {
    fn from(p: Point) -> PointJson {
        PointJson { x: p.x, y: p.y }
    }
}

#[derive(Serialize, Deserialize)]
struct RoadnetJson {
    intersections: Vec<IntersectionJson>,
    roads: Vec<RoadJson>,
}

#[derive(Serialize, Deserialize)]
struct IntersectionJson {
    id: String,
    point: PointJson,
    #[serde(default)]
    width: f64,
    #[serde(default)]
    roads: Vec<String>,
    #[serde(default, rename = "roadLinks")]
    road_links: Vec<RoadLinkJson>,
    #[serde(default, rename = "trafficLight", skip_serializing_if = "Option::is_none")]
    traffic_light: Option<TrafficLightJson>,
    #[serde(default, rename = "virtual")]
    is_virtual: bool,
}

#[derive(Serialize, Deserialize)]
struct RoadLinkJson {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "startRoad")]
    start_road: String,
    #[serde(rename = "endRoad")]
    end_road: String,
    #[serde(default, rename = "laneLinks")]
    lane_links: Vec<LaneLinkJson>,
}

#[derive(Serialize, Deserialize)]
struct LaneLinkJson {
    #[serde(rename = "startLaneIndex")]
    start_lane_index: i64,
    #[serde(rename = "endLaneIndex")]
    end_lane_index: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    points: Vec<PointJson>,
}

#[derive(Serialize, Deserialize)]
struct TrafficLightJson {
    #[serde(default, rename = "roadLinkIndices")]
    road_link_indices: Vec<i64>,
    #[serde(default)]
    lightphases: Vec<LightPhaseJson>,
}

#[derive(Serialize, Deserialize)]
struct LightPhaseJson {
    time: f64,
    #[serde(default, rename = "availableRoadLinks")]
    available_road_links: Vec<i64>,
}

#[derive(Serialize, Deserialize)]
struct RoadJson {
    id: String,
    points: Vec<PointJson>,
    lanes: Vec<LaneJson>,
    #[serde(rename = "startIntersection")]
    start_intersection: String,
    #[serde(rename = "endIntersection")]
    end_intersection: String,
}

#[derive(Serialize, Deserialize)]
struct LaneJson {
    width: f64,
    #[serde(rename = "maxSpeed")]
    max_speed: f64,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VehicleJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_pos_acc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_neg_acc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usual_pos_acc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usual_neg_acc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_gap: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_speed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headway_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    yield_distance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    turn_speed: Option<f64>,
}

impl VehicleJson {
    fn params(&self) -> VehicleParams {
        let d = VehicleParams::default();
        VehicleParams {
            length: self.length.unwrap_or(d.length),
            width: self.width.unwrap_or(d.width),
            max_pos_acc: self.max_pos_acc.unwrap_or(d.max_pos_acc),
            max_neg_acc: self.max_neg_acc.unwrap_or(d.max_neg_acc),
            usual_pos_acc: self.usual_pos_acc.unwrap_or(d.usual_pos_acc),
            usual_neg_acc: self.usual_neg_acc.unwrap_or(d.usual_neg_acc),
            min_gap: self.min_gap.unwrap_or(d.min_gap),
            max_speed: self.max_speed.unwrap_or(d.max_speed),
            headway_time: self.headway_time.unwrap_or(d.headway_time),
            yield_distance: self.yield_distance.unwrap_or(d.yield_distance),
            turn_speed: self.turn_speed.unwrap_or(d.turn_speed),
        }
    }
    fn from_params(p: &VehicleParams) -> VehicleJson {
        let d = VehicleParams::default();
        let keep = |v: f64, dv: f64| if v == dv { None } else { Some(v) };
        VehicleJson {
            length: Some(p.length),
            width: Some(p.width),
            max_pos_acc: Some(p.max_pos_acc),
            max_neg_acc: Some(p.max_neg_acc),
            usual_pos_acc: Some(p.usual_pos_acc),
            usual_neg_acc: Some(p.usual_neg_acc),
            min_gap: Some(p.min_gap),
            max_speed: Some(p.max_speed),
            headway_time: Some(p.headway_time),
            yield_distance: keep(p.yield_distance, d.yield_distance),
            turn_speed: keep(p.turn_speed, d.turn_speed),
        }
    }
}

fn default_interval() -> f64 {
    1.0
}
fn default_end() -> f64 {
    -1.0
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowJson<'a> {
    #[serde(default)]
    vehicle: VehicleJson,
    /// Road names borrowed from the file's text where they contain no escapes.
    #[serde(borrow)]
    route: Vec<std::borrow::Cow<'a, str>>,
    #[serde(default = "default_interval")]
    interval: f64,
    #[serde(default)]
    start_time: f64,
    #[serde(default = "default_end")]
    end_time: f64,
}

/// Deserialize with the JSON path of any type error, e.g. `roads[2].lanes[0].maxSpeed`.
/// Valid files take the plain deserializer (path tracking costs a third of the parse);
/// only a file that fails is parsed again, with tracking, for the message.
fn from_json<'a, T: serde::Deserialize<'a>>(text: &'a str, file: &str) -> Result<T, ImportError> {
    if let Ok(v) = T::deserialize(&mut serde_json::Deserializer::from_str(text)) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let at = format!("line {} column {}", inner.line(), inner.column());
        let location = if path == "." || path.is_empty() { at } else { format!("{path} ({at})") };
        let msg = inner.to_string();
        // serde_json appends " at line L column C"; the location already says it.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        ImportError::new(file, location, msg)
    })
}

/// Parse a CityFlow roadnet into a [`NetworkSpec`] (not yet validated geometrically).
pub fn parse_roadnet_spec(text: &str, file: &str) -> Result<NetworkSpec, ImportError> {
    let json: RoadnetJson = from_json(text, file)?;
    let mut inter_index = HashMap::with_capacity(json.intersections.len());
    for (i, is) in json.intersections.iter().enumerate() {
        if inter_index.insert(is.id.as_str(), i).is_some() {
            return Err(ImportError::new(
                file,
                format!("intersections[{i}].id"),
                format!("duplicate intersection id {:?}", is.id),
            ));
        }
    }
    let mut road_index = HashMap::with_capacity(json.roads.len());
    let mut roads = Vec::with_capacity(json.roads.len());
    for (r, rj) in json.roads.iter().enumerate() {
        let path = format!("roads[{r}]");
        if road_index.insert(rj.id.as_str(), r).is_some() {
            return Err(ImportError::new(file, format!("{path}.id"), format!("duplicate road id {:?}", rj.id)));
        }
        let from = *inter_index.get(rj.start_intersection.as_str()).ok_or_else(|| {
            ImportError::new(
                file,
                format!("{path}.startIntersection"),
                format!("unknown intersection {:?}", rj.start_intersection),
            )
        })?;
        let to = *inter_index.get(rj.end_intersection.as_str()).ok_or_else(|| {
            ImportError::new(file, format!("{path}.endIntersection"), format!("unknown intersection {:?}", rj.end_intersection))
        })?;
        roads.push(RoadSpec {
            name: rj.id.clone(),
            from,
            to,
            points: rj.points.iter().map(|&p| p.into()).collect(),
            lanes: rj.lanes.iter().map(|l| LaneSpec { width: l.width, max_speed: l.max_speed }).collect(),
        });
    }
    let road = |name: &str, path: String| {
        road_index.get(name).copied().ok_or_else(|| ImportError::new(file, path, format!("unknown road {name:?}")))
    };
    let mut intersections = Vec::with_capacity(json.intersections.len());
    for (i, ij) in json.intersections.iter().enumerate() {
        let ipath = format!("intersections[{i}]");
        for (k, name) in ij.roads.iter().enumerate() {
            road(name, format!("{ipath}.roads[{k}]"))?;
        }
        let mut spec = IntersectionSpec {
            name: ij.id.clone(),
            point: ij.point.into(),
            width: ij.width,
            is_virtual: ij.is_virtual,
            movements: Vec::new(),
            phases: Vec::new(),
        };
        if !ij.is_virtual {
            for (m, rl) in ij.road_links.iter().enumerate() {
                let mpath = format!("{ipath}.roadLinks[{m}]");
                let turn = Turn::from_cityflow(&rl.kind).ok_or_else(|| {
                    ImportError::new(
                        file,
                        format!("{mpath}.type"),
                        format!("unknown road link type {:?} (expected go_straight, turn_left or turn_right)", rl.kind),
                    )
                })?;
                let from_road = road(&rl.start_road, format!("{mpath}.startRoad"))?;
                let to_road = road(&rl.end_road, format!("{mpath}.endRoad"))?;
                let mut lane_links = Vec::with_capacity(rl.lane_links.len());
                for (k, ll) in rl.lane_links.iter().enumerate() {
                    let lpath = format!("{mpath}.laneLinks[{k}]");
                    let idx = |v: i64, field: &str| {
                        usize::try_from(v).map_err(|_| {
                            ImportError::new(
                                file,
                                format!("{lpath}.{field}"),
                                format!("lane index must be non-negative, got {v}"),
                            )
                        })
                    };
                    lane_links.push(LaneLinkSpec {
                        from_lane: idx(ll.start_lane_index, "startLaneIndex")?,
                        to_lane: idx(ll.end_lane_index, "endLaneIndex")?,
                        points: ll.points.iter().map(|&p| p.into()).collect(),
                    });
                }
                spec.movements.push(MovementSpec { turn, from_road, to_road, lane_links });
            }
            if let Some(tl) = &ij.traffic_light {
                for (p, ph) in tl.lightphases.iter().enumerate() {
                    let mut movements = Vec::with_capacity(ph.available_road_links.len());
                    for (k, &m) in ph.available_road_links.iter().enumerate() {
                        let m = usize::try_from(m).map_err(|_| {
                            ImportError::new(
                                file,
                                format!("{ipath}.trafficLight.lightphases[{p}].availableRoadLinks[{k}]"),
                                format!("road link index must be non-negative, got {m}"),
                            )
                        })?;
                        movements.push(m);
                    }
                    spec.phases.push(PhaseSpec { duration: ph.time, movements });
                }
            }
        }
        intersections.push(spec);
    }
    Ok(NetworkSpec { intersections, roads, georef: Georef::default() })
}

/// Parse and build a CityFlow roadnet.
pub fn parse_roadnet(text: &str, file: &str) -> Result<(NetworkSpec, Network), ImportError> {
    let spec = parse_roadnet_spec(text, file)?;
    let net = Network::build(&spec).map_err(|e| ImportError::from_build(file, e))?;
    Ok((spec, net))
}

/// Run `check` with an empty path, and again with the path `path` builds only if it fails:
/// valid input (nearly all of it) never formats a path.
fn located<E>(check: impl Fn(&str) -> Result<(), E>, path: impl FnOnce() -> String) -> Result<(), E> {
    check("").or_else(|_| check(&path()))
}

/// Parse a CityFlow flow file against a built network.
pub fn parse_flow(text: &str, net: &Network, file: &str) -> Result<Demand, ImportError> {
    let json: Vec<FlowJson> = from_json(text, file)?;
    let mut flows = Vec::with_capacity(json.len());
    for (f, fj) in json.iter().enumerate() {
        let params = fj.vehicle.params();
        located(|p| params.validate(p), || format!("[{f}].vehicle")).map_err(|e| ImportError::from_build(file, e))?;
        let mut route = Vec::with_capacity(fj.route.len());
        for (k, name) in fj.route.iter().enumerate() {
            let r = net
                .road_by_name(name)
                .ok_or_else(|| ImportError::new(file, format!("[{f}].route[{k}]"), format!("unknown road {name:?}")))?;
            route.push(r);
        }
        located(|p| validate_route(net, &route, p), || format!("[{f}].route")).map_err(|e| ImportError::from_build(file, e))?;
        let flow = Flow {
            params,
            route,
            interval: fj.interval,
            start: fj.start_time,
            end: if fj.end_time == -1.0 { None } else { Some(fj.end_time) },
            depart: Default::default(),
        };
        located(|p| validate_flow_timing(&flow, p), || format!("[{f}]")).map_err(|e| ImportError::from_build(file, e))?;
        flows.push(flow);
    }
    Ok(Demand { flows })
}

/// Load a roadnet + flow pair; `roadnet_file` and `flow_file` name them in errors.
pub fn load_scenario_named(roadnet: &str, flow: &str, roadnet_file: &str, flow_file: &str) -> Result<Scenario, ImportError> {
    let (_, network) = parse_roadnet(roadnet, roadnet_file)?;
    let demand = parse_flow(flow, &network, flow_file)?;
    Ok(Scenario { network, demand })
}

/// [`load_scenario_named`] with the conventional file names.
pub fn load_scenario(roadnet: &str, flow: &str) -> Result<Scenario, ImportError> {
    load_scenario_named(roadnet, flow, "roadnet.json", "flow.json")
}

/// Write a spec as CityFlow roadnet JSON. Unsignalised junctions get one always-green
/// phase so that CityFlow itself can load the file.
pub fn write_roadnet(spec: &NetworkSpec) -> String {
    let mut inter_roads: Vec<Vec<String>> = vec![Vec::new(); spec.intersections.len()];
    for r in &spec.roads {
        if let Some(v) = inter_roads.get_mut(r.from) {
            v.push(r.name.clone());
        }
        if r.to != r.from {
            if let Some(v) = inter_roads.get_mut(r.to) {
                v.push(r.name.clone());
            }
        }
    }
    let road_name = |r: usize| spec.roads.get(r).map(|r| r.name.clone()).unwrap_or_default();
    let inter_name = |i: usize| spec.intersections.get(i).map(|i| i.name.clone()).unwrap_or_default();
    let intersections = spec
        .intersections
        .iter()
        .zip(inter_roads)
        .map(|(is, roads)| {
            let road_links: Vec<RoadLinkJson> = is
                .movements
                .iter()
                .map(|m| RoadLinkJson {
                    kind: m.turn.as_cityflow().to_string(),
                    start_road: road_name(m.from_road),
                    end_road: road_name(m.to_road),
                    lane_links: m
                        .lane_links
                        .iter()
                        .map(|l| LaneLinkJson {
                            start_lane_index: l.from_lane as i64,
                            end_lane_index: l.to_lane as i64,
                            points: l.points.iter().map(|&p| p.into()).collect(),
                        })
                        .collect(),
                })
                .collect();
            let mut lightphases: Vec<LightPhaseJson> = is
                .phases
                .iter()
                .map(|p| LightPhaseJson {
                    time: p.duration,
                    available_road_links: p.movements.iter().map(|&m| m as i64).collect(),
                })
                .collect();
            if lightphases.is_empty() && !is.is_virtual && !is.movements.is_empty() {
                lightphases.push(LightPhaseJson { time: 3600.0, available_road_links: (0..is.movements.len() as i64).collect() });
            }
            IntersectionJson {
                id: is.name.clone(),
                point: is.point.into(),
                width: is.width,
                roads,
                traffic_light: Some(TrafficLightJson { road_link_indices: (0..road_links.len() as i64).collect(), lightphases }),
                road_links,
                is_virtual: is.is_virtual,
            }
        })
        .collect();
    let roads = spec
        .roads
        .iter()
        .map(|r| RoadJson {
            id: r.name.clone(),
            points: r.points.iter().map(|&p| p.into()).collect(),
            lanes: r.lanes.iter().map(|l| LaneJson { width: l.width, max_speed: l.max_speed }).collect(),
            start_intersection: inter_name(r.from),
            end_intersection: inter_name(r.to),
        })
        .collect();
    serde_json::to_string(&RoadnetJson { intersections, roads }).unwrap_or_default()
}

/// A flow entry as written: CityFlow reads `startTime` and `endTime` as JSON integers
/// and silently replaces any other number (even `23.0`) by its defaults 0 and −1, which
/// would release the flow from time 0 forever.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FlowOutJson {
    vehicle: VehicleJson,
    route: Vec<String>,
    interval: f64,
    start_time: i64,
    end_time: i64,
}

/// Write demand as CityFlow flow JSON; road ids come from `net`.
///
/// Times are written as integers. A fractional `start` becomes its ceiling and a
/// fractional `end` its floor: on CityFlow's default 1 s step (a release happens at the
/// first step time ≥ `startTime`, the last at a step time ≤ `endTime`) both release the
/// same vehicles at the same steps.
pub fn write_flow(demand: &Demand, net: &Network) -> String {
    let name = |r: RoadId| net.roads.get(r.idx()).map(|r| r.name.clone()).unwrap_or_default();
    let flows: Vec<FlowOutJson> = demand
        .flows
        .iter()
        .map(|f| FlowOutJson {
            vehicle: VehicleJson::from_params(&f.params),
            route: f.route.iter().map(|&r| name(r)).collect(),
            interval: f.interval,
            start_time: f.start.ceil() as i64,
            end_time: f.end.map_or(-1, |e| e.floor() as i64),
        })
        .collect();
    serde_json::to_string(&flows).unwrap_or_default()
}

#[cfg(test)]
#[path = "cityflow_tests.rs"]
mod tests;
