//! The corridor engine: plans a corridor on live travel times, drives the emergency
//! vehicle in the twin, predicts its arrival at every signal of the route each step,
//! places preemption calls on the safety layer early enough that the queue ahead is
//! flushed and the movement is green on arrival, releases them when the vehicle has
//! passed and then serves the queues the corridor built (recovery calls).
//!
//! It never sets a signal itself: every call goes to [`control::SafetyLayer::preempt`],
//! which keeps minimum green, yellow and all-red. Call [`Engine::step`] once per
//! simulation step, before the controller ticks the safety layer.

use std::collections::BTreeMap;

use control::{Call, CallKind, SafetyLayer, Timing};
use twin::engine::{SpawnMode, TripState, VehicleClass, ASIDE_REST_M};
use twin::{LaneId, Network, RoadId, Sim};

use crate::model::{Corridor, Request, SignalPlan, Stage, Status, MAX_PRIORITY};
use crate::predict::{predict, predicted_trip, EtaModel, Kin, Path};
use crate::route::{lanes_route, RouteMode};

/// Why a corridor could not be started.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CorridorError {
    #[error("{field}: no such road {name:?}")]
    UnknownRoad { field: &'static str, name: String },
    #[error("priority: must be 1..={MAX_PRIORITY}, got {0}")]
    Priority(u32),
    #[error("reason: must not be empty")]
    NoReason,
    #[error("destination: cannot be reached from the origin on the live network")]
    Unreachable,
    #[error("route: {0}")]
    Spawn(String),
    #[error("no corridor {0}")]
    NotFound(u64),
}

/// Tuning of the engine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineConfig {
    /// Seconds added to the call lead time as a safety margin.
    pub margin_s: f64,
    /// Seconds to discharge one queued vehicle per lane (the flush ahead of the vehicle).
    pub flush_per_vehicle_s: f64,
    /// Longest lead time: a call is never placed earlier than this before arrival.
    pub max_lead_s: f64,
    /// Longest green a recovery call holds one movement.
    pub recovery_max_s: f64,
    /// A starved movement with at least this many waiting vehicles gets a recovery call.
    pub recovery_min_waiting: u32,
    /// ATSPM preempt channel of emergency vehicles.
    pub channel: u32,
    /// How the vehicle enters the twin: as a dispatched unit, or as a CityFlow flow entry
    /// for the external check ([`SpawnMode::Flow`]).
    pub spawn: SpawnMode,
    /// What the arrival predictor sees of the traffic ahead ([`crate::predict`]).
    pub eta: EtaModel,
    /// How the corridor routes its vehicle ([`crate::route`]).
    pub route: RouteMode,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            margin_s: 4.0,
            flush_per_vehicle_s: 2.0,
            max_lead_s: 90.0,
            recovery_max_s: 30.0,
            recovery_min_waiting: 3,
            channel: 1,
            spawn: SpawnMode::Unit,
            eta: EtaModel::default(),
            route: RouteMode::default(),
        }
    }
}

/// Every corridor of one twin, and the state that drives them.
#[derive(Clone, Debug)]
pub struct Engine {
    pub cfg: EngineConfig,
    corridors: BTreeMap<u64, Corridor>,
    /// Per corridor and signal: lanes of the other approaches (the cost is counted there).
    others: BTreeMap<(u64, usize), Vec<LaneId>>,
    next_id: u64,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Engine {
        Engine { cfg, corridors: BTreeMap::new(), others: BTreeMap::new(), next_id: 1 }
    }

    pub fn corridors(&self) -> impl Iterator<Item = &Corridor> {
        self.corridors.values()
    }
    pub fn get(&self, id: u64) -> Option<&Corridor> {
        self.corridors.get(&id)
    }
    /// Whether a corridor is running or its signals still recover.
    pub fn busy(&self) -> bool {
        self.corridors.values().any(|c| !c.finished())
    }

    /// Check a request's fields.
    pub fn validate(req: &Request) -> Result<(), CorridorError> {
        if !(1..=MAX_PRIORITY).contains(&req.priority) {
            return Err(CorridorError::Priority(req.priority));
        }
        if req.reason.trim().is_empty() {
            return Err(CorridorError::NoReason);
        }
        Ok(())
    }

    /// Plan a corridor on the twin's live travel times and put its vehicle on the road
    /// (it enters at the next step). Returns its id; with `id` given, that id is used.
    pub fn start(&mut self, sim: &mut Sim, safety: &SafetyLayer, req: Request, id: Option<u64>) -> Result<u64, CorridorError> {
        Engine::validate(&req)?;
        let n = sim.network().roads.len();
        for (field, r) in [("origin", req.origin), ("destination", req.destination)] {
            if r.idx() >= n {
                return Err(CorridorError::UnknownRoad { field, name: format!("#{}", r.0) });
            }
        }
        let (mut route, predicted) = sim.fastest_route(req.origin, req.destination).ok_or(CorridorError::Unreachable)?;
        if self.cfg.route == RouteMode::Lanes {
            let p = sim.spawn_params(VehicleClass::Emergency);
            // The twin's emergency speed-limit factor for a unit (its `EMERGENCY_SPEED_FACTOR`:
            // the desired speed over the type's).
            let base = sim.spawn_params(VehicleClass::Normal).max_speed;
            let limit = if self.cfg.spawn == SpawnMode::Unit { p.max_speed / base.max(0.1) } else { 1.0 };
            // The lanes route where the car-following prediction expects it to be faster.
            if let Some((r, _)) = lanes_route(sim, req.origin, req.destination, p.max_speed, limit, p.turn_speed) {
                let model = if self.cfg.eta == EtaModel::Speeds { EtaModel::Detectors } else { self.cfg.eta.seen() };
                if predicted_trip(sim, &r, model, &p, limit) < predicted_trip(sim, &route, model, &p, limit) {
                    route = r;
                }
            }
        }
        let vehicle = sim
            .spawn_vehicle_as(&route, VehicleClass::Emergency, self.cfg.spawn)
            .map_err(|e| CorridorError::Spawn(e.to_string()))?;
        let id = id.unwrap_or(self.next_id);
        self.next_id = self.next_id.max(id + 1);
        let net = sim.network();
        let mut signals = Vec::new();
        for k in 0..route.len().saturating_sub(1) {
            let i = net.road(route[k]).to;
            let Some(jk) = safety.index_of(i) else { continue };
            let j = &safety.junctions()[jk];
            let Some(m) = (0..j.len()).find(|&m| {
                let mv = net.movement(j.movements[m]);
                mv.from_road == route[k] && mv.to_road == route[k + 1]
            }) else {
                continue;
            };
            let others: Vec<LaneId> =
                net.intersection(i).movements.iter().map(|&mm| net.movement(mm).from_road).filter(|&r| r != route[k]).fold(
                    Vec::new(),
                    |mut acc, r| {
                        for l in net.road(r).lanes() {
                            if !acc.contains(&l) {
                                acc.push(l);
                            }
                        }
                        acc
                    },
                );
            self.others.insert((id, signals.len()), others);
            signals.push(SignalPlan {
                intersection: i,
                junction: jk,
                movement: m,
                route_index: k,
                stage: Stage::Ahead,
                eta: f64::INFINITY,
                lead_s: 0.0,
                called_at: None,
                green_at: None,
                passed_at: None,
                predicted_at_60s: None,
                recovery_end: None,
                cost_veh_s: 0.0,
                history: Vec::new(),
                recovery: None,
                recovered: Vec::new(),
            });
        }
        let (p, limit) = sim.unit_params(vehicle).expect("spawned");
        let free_flow_s = free_flow(net, &route, p.max_speed, limit, p.turn_speed);
        let c = Corridor {
            id,
            request: req,
            status: Status::Planned,
            route,
            vehicle: Some(vehicle),
            started: sim.time(),
            arrived: None,
            predicted_without_s: predicted,
            free_flow_s,
            signals,
            lonlat: None,
            point: None,
            progress: 0.0,
            failure: None,
            stopped_since: None,
            stuck: false,
        };
        self.corridors.insert(id, c);
        Ok(id)
    }

    /// One step: update every corridor's vehicle, predictions, calls and recovery.
    pub fn step(&mut self, sim: &Sim, safety: &mut SafetyLayer) {
        let now = sim.time();
        let timing = *safety.timing();
        let cfg = self.cfg;
        for c in self.corridors.values_mut() {
            if c.finished() {
                continue;
            }
            let Some(t) = c.vehicle.and_then(|v| sim.tracked(v)) else {
                c.status = Status::Failed;
                continue;
            };
            let (p, limit) = sim.unit_params(t.id).expect("tracked");
            let arrived = match t.state {
                TripState::Arrived { time_s } => Some(time_s),
                _ => None,
            };
            c.progress = t.progress;
            c.lonlat = t.lonlat;
            c.point = t.point;
            if t.state == TripState::Running && c.status == Status::Planned {
                c.status = Status::Active;
            }
            if let Some(a) = arrived {
                if c.status != Status::Arrived {
                    c.status = Status::Arrived;
                    c.arrived = Some(a);
                }
            }
            // A vehicle standing still for `STUCK_S` is held by something other than its
            // signals: give the calls back until it moves again.
            let held = c
                .signals
                .iter()
                .find(|s| s.passed_at.is_none())
                .is_some_and(|s| s.stage == Stage::Called && safety.mask(s.junction).get(s.movement) == Some(&true));
            if t.state == TripState::Running && t.speed < 0.5 && (held || c.stuck) {
                let since = *c.stopped_since.get_or_insert(now);
                if now - since >= crate::model::STUCK_S && !c.stuck {
                    c.stuck = true;
                    for s in c.signals.iter_mut().filter(|s| s.stage == Stage::Called) {
                        safety.release(s.intersection, c.id);
                        s.stage = Stage::Ahead;
                    }
                }
            } else if t.speed >= 2.0 {
                c.stopped_since = None;
                c.stuck = false;
            }
            let net = sim.network();
            let speeds = if c.signals.iter().any(|s| matches!(s.stage, Stage::Ahead | Stage::Called)) {
                expected_speeds(sim, &c.route, &t, (p.max_speed, limit, p.turn_speed))
            } else {
                (Vec::new(), Vec::new())
            };
            // The car-following prediction of every signal still ahead, in one run.
            let mut follow: Vec<Option<f64>> = vec![None; c.signals.len()];
            if cfg.eta != EtaModel::Speeds && !speeds.0.is_empty() && arrived.is_none() {
                let ahead: Vec<usize> = (0..c.signals.len())
                    .filter(|&k| {
                        let s = &c.signals[k];
                        matches!(s.stage, Stage::Ahead | Stage::Called)
                            && (t.route_index < s.route_index || (t.route_index == s.route_index && t.road.is_some()))
                    })
                    .collect();
                if !ahead.is_empty() {
                    let (rv, lv) = free_speeds(net, &c.route, p.max_speed, limit, p.turn_speed);
                    let path = Path::new(net, &c.route, (&rv, &lv), p.turn_speed);
                    let stops: Vec<(usize, f64)> = ahead
                        .iter()
                        .map(|&k| (c.signals[k].route_index, green_from(&c.signals[k], safety, timing, now)))
                        .collect();
                    let kin = Kin { acc: p.max_pos_acc, dec: p.usual_neg_acc, min_gap: p.min_gap, headway: p.headway_time };
                    let got = predict(sim, &c.route, &t, &path, cfg.eta.seen(), kin, &stops);
                    for (&k, e) in ahead.iter().zip(got) {
                        follow[k] = e;
                    }
                }
            }
            for (s_idx, s) in c.signals.iter_mut().enumerate() {
                let i = s.intersection;
                let passed = arrived.is_some()
                    || t.route_index > s.route_index
                    || (t.route_index == s.route_index && t.state == TripState::Running && t.road.is_none());
                match s.stage {
                    Stage::Ahead | Stage::Called if passed => {
                        s.passed_at = Some(now);
                        s.predicted_at_60s = prediction_at(&s.history, now - 60.0);
                        let phase = safety.serving(s.junction).filter(|x| x.call.id == c.id).map(|x| x.phase);
                        safety.release(i, c.id);
                        s.stage = Stage::Recovering;
                        if let Some(ph) = phase {
                            let j = &safety.junctions()[s.junction];
                            s.recovered.extend((0..j.len()).filter(|&m| j.phases[ph][m]));
                        } else {
                            s.recovered.push(s.movement);
                        }
                        start_recovery(s, c.id, safety, sim, &cfg, now);
                    }
                    Stage::Ahead | Stage::Called => {
                        let at = match t.state {
                            TripState::Running => (t.route_index, t.pos_m, t.road.is_none()),
                            _ => (0, 0.0, false),
                        };
                        let rem = remaining_to(net, &c.route, at, s.route_index, &speeds.0, &speeds.1);
                        let v = speeds.0[at.0.min(c.route.len() - 1)];
                        let acc = (v - t.speed).max(0.0);
                        let by_speeds = now + 1.0 + rem + acc * acc / (2.0 * p.max_pos_acc * v.max(0.1));
                        let eta = combine_eta(cfg.eta, follow[s_idx], by_speeds);
                        s.eta = eta;
                        s.history.push((now, eta));
                        let queued = queue_ahead(sim, &c.route, s.route_index, &t, 0.0);
                        s.lead_s = (timing.min_green + timing.lost_time() + cfg.flush_per_vehicle_s * queued + cfg.margin_s)
                            .min(cfg.max_lead_s);
                        if s.stage == Stage::Ahead && eta - now <= s.lead_s && !c.stuck {
                            let call = Call {
                                id: c.id,
                                priority: c.request.priority,
                                movement: s.movement,
                                kind: CallKind::Preempt,
                                channel: cfg.channel,
                            };
                            if safety.preempt(i, call).is_ok() {
                                s.stage = Stage::Called;
                                s.called_at = Some(now);
                            }
                        }
                        if s.stage == Stage::Called {
                            if s.green_at.is_none() && safety.mask(s.junction).get(s.movement) == Some(&true) {
                                s.green_at = Some(now);
                            }
                            if let Some(lanes) = self.others.get(&(c.id, s_idx)) {
                                s.cost_veh_s +=
                                    lanes.iter().map(|&l| f64::from(sim.lane_stats(l).waiting)).sum::<f64>() * sim.dt();
                            }
                        }
                    }
                    Stage::Recovering => {
                        recover_step(s, c.id, safety, sim, &cfg, timing, now);
                    }
                    Stage::Done => {}
                }
            }
        }
    }
}

/// A signal's ETA from the car-following prediction (`follow`, if it made one) and the
/// speeds-per-road one: the mean of both under [`EtaModel::Blend`], else the first if any.
pub(crate) fn combine_eta(model: EtaModel, follow: Option<f64>, by_speeds: f64) -> f64 {
    match follow {
        Some(f) if model == EtaModel::Blend => 0.5 * (f + by_speeds),
        Some(f) => f,
        None => by_speeds,
    }
}

/// When the vehicle's movement at signal `s` is expected green: now when it is; after a
/// call, at worst its minimum green and clearance after the call; before a call, the same
/// after the call the engine will place (`lead_s` before the last ETA).
fn green_from(s: &SignalPlan, safety: &SafetyLayer, timing: Timing, now: f64) -> f64 {
    if safety.mask(s.junction).get(s.movement) == Some(&true) {
        return now;
    }
    let call = match (s.stage, s.called_at) {
        (Stage::Called, Some(at)) => at,
        _ if s.eta.is_finite() => (s.eta - s.lead_s).max(now),
        _ => return now,
    };
    (call + timing.min_green + timing.lost_time()).max(now)
}

/// The prediction in `history` made at the time closest to `at` (none before the
/// history starts).
fn prediction_at(history: &[(f64, f64)], at: f64) -> Option<f64> {
    if history.first().is_none_or(|h| h.0 > at + 0.5) {
        return None;
    }
    history.iter().min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs())).map(|h| h.1)
}

pub(crate) fn lane_speed(net: &Network, r: RoadId) -> f64 {
    net.road(r).lanes().map(|l| net.lane(l).max_speed).fold(0.1, f64::max)
}

/// Length of the lane link of the movement from road `a` to road `b`.
pub(crate) fn link_len(net: &Network, a: RoadId, b: RoadId) -> f64 {
    let i = net.intersection(net.road(a).to);
    i.movements
        .iter()
        .map(|&m| net.movement(m))
        .find(|m| m.from_road == a && m.to_road == b)
        .and_then(|m| m.lane_links.first())
        .map_or(0.0, |&l| net.lane_link(l).length)
}

/// Seconds from (`idx`, `pos`, on a link or not) to the stop line at the end of road
/// `until` of `route`, at `road_v[k]` on road `k` and `link_v[k]` on the link after it.
fn remaining_to(net: &Network, route: &[RoadId], at: (usize, f64, bool), until: usize, road_v: &[f64], link_v: &[f64]) -> f64 {
    let (idx, pos, on_link) = at;
    let mut t = 0.0;
    let mut k = idx;
    if on_link {
        if k + 1 < route.len() {
            t += (link_len(net, route[k], route[k + 1]) - pos).max(0.0) / link_v[k];
        }
        k += 1;
    } else if k <= until {
        t += (net.road_length(route[k]) - pos).max(0.0) / road_v[k];
        if k < until && k + 1 < route.len() {
            t += link_len(net, route[k], route[k + 1]) / link_v[k];
        }
        k += 1;
    }
    while k <= until && k < route.len() {
        t += net.road_length(route[k]) / road_v[k];
        if k < until && k + 1 < route.len() {
            t += link_len(net, route[k], route[k + 1]) / link_v[k];
        }
        k += 1;
    }
    t
}

/// The vehicle's own speeds on each road of `route` and each link after it: its desired
/// speed, at most `limit` times the lane's limit, at most its turn speed on links.
pub(crate) fn free_speeds(net: &Network, route: &[RoadId], max_speed: f64, limit: f64, turn_speed: f64) -> (Vec<f64>, Vec<f64>) {
    let road_v: Vec<f64> = route.iter().map(|&r| max_speed.min(limit * lane_speed(net, r)).max(0.1)).collect();
    let link_v = road_v.iter().map(|&v| v.min(turn_speed.max(0.1))).collect();
    (road_v, link_v)
}

/// Free-flow seconds of the whole route at the vehicle's own speeds.
pub(crate) fn free_flow(net: &Network, route: &[RoadId], max_speed: f64, limit: f64, turn_speed: f64) -> f64 {
    let (rv, lv) = free_speeds(net, route, max_speed, limit, turn_speed);
    remaining_to(net, route, (0, 0.0, false), route.len() - 1, &rv, &lv)
}

/// The speeds the vehicle can expect: its own where its lanes ahead are empty; on its
/// current road with another vehicle ahead of it on its lane, the traffic's (the lane's
/// limit: it cannot overtake without a free lane); on a later road with vehicles on the
/// lanes it will take, halfway between the two (they may have left when it gets there).
fn expected_speeds(sim: &Sim, route: &[RoadId], t: &twin::engine::Tracked, p: (f64, f64, f64)) -> (Vec<f64>, Vec<f64>) {
    let net = sim.network();
    let (mut rv, mut lv) = free_speeds(net, route, p.0, p.1, p.2);
    for k in t.route_index..route.len() {
        let traffic = lane_speed(net, route[k]).max(0.1);
        let v = if k == t.route_index && t.road == Some(route[k]) {
            // With lane changing on, those with room to move aside do (`predict`).
            let keep = |l: LaneId, dis: f64| !sim.config().lane_change || net.lane(l).length - dis < ASIDE_REST_M;
            let ahead =
                t.lane.is_some_and(|l| sim.lane_vehicles(l).any(|(id, dis, _, _)| id != t.id && dis > t.pos_m && keep(l, dis)));
            if ahead {
                traffic
            } else {
                rv[k]
            }
        } else if queue_ahead(sim, route, k, t, keep_back(sim, route[k])) > 0.0 {
            0.5 * (rv[k] + traffic.min(rv[k]))
        } else {
            rv[k]
        };
        rv[k] = rv[k].min(v);
        lv[k] = lv[k].min(v);
    }
    (rv, lv)
}

/// The lanes of road `a` that lead to road `b` (all of them when `b` is `None`).
pub(crate) fn lanes_toward(net: &Network, a: RoadId, b: Option<RoadId>) -> Vec<LaneId> {
    net.road(a)
        .lanes()
        .filter(|&l| {
            b.is_none_or(|b| net.lane(l).lane_links.iter().any(|&ll| net.movement(net.lane_link(ll).movement).to_road == b))
        })
        .collect()
}

/// Where on road `r`'s lanes vehicles stay in the corridor's vehicle's way: everywhere
/// (0 m), or with lane changing on only the last [`ASIDE_REST_M`] before the stop line
/// (vehicles further back move aside).
fn keep_back(sim: &Sim, r: RoadId) -> f64 {
    if sim.config().lane_change {
        (sim.network().road_length(r) - ASIDE_REST_M).max(0.0)
    } else {
        0.0
    }
}

/// Vehicles per lane queued on road `route[k]` ahead of the corridor's vehicle, on the
/// lanes that lead to the route's next road, from `from_m` on.
fn queue_ahead(sim: &Sim, route: &[RoadId], k: usize, t: &twin::engine::Tracked, from_m: f64) -> f64 {
    let net = sim.network();
    let a = route[k];
    let lanes = lanes_toward(net, a, route.get(k + 1).copied());
    if lanes.is_empty() {
        return 0.0;
    }
    let on_road = t.road == Some(a);
    let n: usize = lanes
        .iter()
        .map(|&l| {
            sim.lane_vehicles(l).filter(|&(id, dis, _, _)| id != t.id && (!on_road || dis > t.pos_m) && dis >= from_m).count()
        })
        .sum();
    n as f64 / lanes.len() as f64
}

/// Waiting vehicles on the lanes movement `m` of junction `jk` is taken from.
fn waiting(safety: &SafetyLayer, sim: &Sim, jk: usize, m: usize) -> u32 {
    safety.junctions()[jk].in_lanes[m].iter().map(|&l| sim.lane_stats(l).waiting).sum()
}

/// Place a recovery call for the most starved movement not yet served, or finish.
fn start_recovery(s: &mut SignalPlan, id: u64, safety: &mut SafetyLayer, sim: &Sim, cfg: &EngineConfig, now: f64) {
    let j = &safety.junctions()[s.junction];
    let phases = j.phases.len();
    let best = (0..j.len())
        .filter(|&m| !j.always[m] && !s.recovered.contains(&m))
        .map(|m| (waiting(safety, sim, s.junction, m), std::cmp::Reverse(m)))
        .max();
    match best {
        Some((w, std::cmp::Reverse(m))) if w >= cfg.recovery_min_waiting && s.recovered.len() < j.len() && phases > 1 => {
            let call = Call { id, priority: 0, movement: m, kind: CallKind::Recovery, channel: cfg.channel };
            if safety.preempt(s.intersection, call).is_ok() {
                s.recovery = Some((m, now));
                return;
            }
            s.recovered.push(m);
            s.stage = Stage::Done;
            s.recovery_end = Some(now);
        }
        _ => {
            s.stage = Stage::Done;
            s.recovery_end = Some(now);
        }
    }
}

/// One step of recovery: end the current call once its queue is served (or it held
/// `recovery_max_s`), then call the next starved movement.
fn recover_step(s: &mut SignalPlan, id: u64, safety: &mut SafetyLayer, sim: &Sim, cfg: &EngineConfig, timing: Timing, now: f64) {
    let Some((m, since)) = s.recovery else {
        s.stage = Stage::Done;
        s.recovery_end.get_or_insert(now);
        return;
    };
    let green = safety.mask(s.junction).get(m) == Some(&true);
    let served = green && waiting(safety, sim, s.junction, m) <= 1 && now - since >= timing.min_green;
    if served || now - since >= cfg.recovery_max_s + timing.lost_time() + timing.min_green {
        safety.release(s.intersection, id);
        let j = &safety.junctions()[s.junction];
        // Every movement the served phase ran counts as served.
        let phase = (0..j.phases.len()).find(|&p| j.phases[p][m]).unwrap_or(0);
        let served: Vec<usize> = (0..j.len()).filter(|&x| j.phases[phase][x]).collect();
        s.recovered.extend(served);
        s.recovered.push(m);
        s.recovery = None;
        start_recovery(s, id, safety, sim, cfg, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_is_the_mean_and_falls_back_to_speeds() {
        assert_eq!(combine_eta(EtaModel::Blend, Some(100.0), 120.0), 110.0);
        assert_eq!(combine_eta(EtaModel::Detectors, Some(100.0), 120.0), 100.0);
        assert_eq!(combine_eta(EtaModel::Perfect, Some(100.0), 120.0), 100.0);
        for m in EtaModel::ALL {
            assert_eq!(combine_eta(m, None, 120.0), 120.0, "{m:?}");
        }
        assert_eq!(EtaModel::default(), EtaModel::Blend);
        assert_eq!(EtaModel::Blend.seen(), EtaModel::Detectors);
        assert_eq!(EtaModel::parse("blend"), Some(EtaModel::Blend));
    }
}
