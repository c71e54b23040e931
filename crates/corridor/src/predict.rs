//! Car-following-aware arrival prediction (issue 17's ETA target).
//!
//! The corridor's vehicle cannot overtake: every movement of the CityFlow networks has
//! lanes of its own, so on each road of its route it drives the one lane that leads to
//! its next road, behind whoever is on it. The predictor runs a small simulation of that
//! lane, the route's lanes laid end to end as one path (`x`, metres from the start of the
//! route): the vehicles observed on it ahead of the corridor's vehicle, front first,
//! each at most at the traffic's speed (the lane's limit, its turn speed on links),
//! following the one ahead of it (speed at most `(gap − min gap) / (headway + dt)`, the
//! CityFlow steady state `gap = min gap + headway × speed`), accelerating at most at its
//! vehicle type's rate and stopping at a signal of the route that is not yet green for
//! the movement (braking at its usual deceleration). The corridor's vehicle drives the
//! same way at its own speed behind the last of them. Each vehicle leaves the path where
//! it leaves the corridor's lane (turns away at a signal, or takes another lane on the
//! next road). A signal turns green for the movement at the time [`crate::engine`]
//! expects (now when it is green; the worst case after a call; after the call it will
//! place otherwise), so the queues ahead discharge then: the corridor's flush.
//!
//! What it sees of the traffic ([`EtaModel`]):
//! - **Detectors** (what a brain has): the vehicle's own GPS position and
//!   speed; per lane of the route ahead, the camera's standing queue (its length at
//!   7.5 m resolution, as `LaneStats::queue_length_m` gives it), and the number of
//!   moving vehicles ahead of the vehicle with their mean speed (input–output counting
//!   at the lane's loops, which also tells which vehicles entered the lane before the
//!   corridor's vehicle; speeds from loops and probes). Moving vehicles are spread
//!   evenly between the vehicle (or the lane's start) and the queue's tail. Of those that
//!   cross the signal ahead, the share that continues on the corridor's next lane is
//!   that lane's share of the next road's vehicles now (the turning mix), taken
//!   deterministically (every k-th).
//! - **Perfect**: every vehicle's exact position, speed and route (a brain does not have
//!   this; it bounds what a predictor of this kind can do).
//! - **Speeds**: the first predictor (speeds per road, no following; `engine`).
//! - **Blend**, the engine's default: the mean of the two at detector level. Without lane
//!   changing neither alone is better overall on the real networks, and their misses
//!   lean opposite ways; the mean is within ±10 s more often than either on two seeds
//!   (docs/benchmarks/corridors.md).

use twin::engine::{Tracked, TripState, ASIDE_REST_M, YIELD_M};
use twin::{LaneId, Network, RoadId, Sim};

/// What the arrival predictor sees of the traffic ahead (see the module header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EtaModel {
    /// Speeds per road, no car following (the first predictor).
    Speeds,
    /// The vehicle's GPS; per lane ahead: camera queue, loop counts and speeds.
    Detectors,
    /// Every vehicle's exact position, speed and route: a bound, not a brain's view.
    Perfect,
    /// The mean of `Speeds` and `Detectors` (their misses lean opposite ways: the first
    /// expects the vehicle early behind traffic it cannot pass, the second late where the
    /// traffic it expected has gone). The engine's default.
    #[default]
    Blend,
}

impl EtaModel {
    pub const ALL: [EtaModel; 4] = [EtaModel::Speeds, EtaModel::Detectors, EtaModel::Perfect, EtaModel::Blend];
    pub fn as_str(self) -> &'static str {
        match self {
            EtaModel::Speeds => "speeds",
            EtaModel::Detectors => "detectors",
            EtaModel::Perfect => "perfect",
            EtaModel::Blend => "blend",
        }
    }
    /// What the car-following simulation sees for this model (`Blend` runs it at detector
    /// level).
    pub fn seen(self) -> EtaModel {
        if self == EtaModel::Blend {
            EtaModel::Detectors
        } else {
            self
        }
    }
    pub fn parse(s: &str) -> Option<EtaModel> {
        EtaModel::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Longest horizon of the prediction, seconds.
const HORIZON_S: f64 = 900.0;

/// The route as one path: where each road and each link after it start, and the speeds.
pub(crate) struct Path {
    /// `x` at the start of road `k` and of the link after it (its stop line).
    pub road_x: Vec<f64>,
    pub link_x: Vec<f64>,
    pub end_x: f64,
    /// Per segment (road 0, link 0, road 1, …): start, the vehicle's and the traffic's speed.
    segs: Vec<(f64, f64, f64)>,
}

impl Path {
    pub fn new(net: &Network, route: &[RoadId], ev: (&[f64], &[f64]), turn_speed: f64) -> Path {
        let (mut road_x, mut link_x, mut segs) = (Vec::new(), Vec::new(), Vec::new());
        let mut x = 0.0;
        for k in 0..route.len() {
            let traffic = crate::engine::lane_speed(net, route[k]);
            road_x.push(x);
            segs.push((x, ev.0[k], traffic));
            x += net.road_length(route[k]);
            link_x.push(x);
            if k + 1 < route.len() {
                segs.push((x, ev.1[k], traffic.min(turn_speed.max(0.1))));
                x += crate::engine::link_len(net, route[k], route[k + 1]);
            }
        }
        Path { road_x, link_x, end_x: x, segs }
    }
    /// Metres from `x` to the stop line of the road it is on (0 on a link).
    fn rest(&self, x: f64) -> f64 {
        let k = self.road_x.partition_point(|&r| r <= x).saturating_sub(1);
        self.link_x.get(k).map_or(0.0, |&end| (end - x).max(0.0))
    }
    fn seg(&self, x: f64) -> &(f64, f64, f64) {
        let i = self.segs.partition_point(|s| s.0 <= x);
        &self.segs[i.saturating_sub(1)]
    }
    /// The corridor's vehicle's position on the path.
    pub fn x_of(&self, t: &Tracked) -> f64 {
        match t.state {
            TripState::Running if t.road.is_none() => self.link_x[t.route_index] + t.pos_m,
            TripState::Running => self.road_x[t.route_index] + t.pos_m,
            TripState::Waiting => 0.0,
            TripState::Arrived { .. } => self.end_x,
        }
    }
}

/// A vehicle ahead on the path.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Obstacle {
    x: f64,
    v: f64,
    len: f64,
    /// Where it leaves the corridor's lane.
    exit_x: f64,
}

/// The lanes the vehicle will drive on each road of `route`: its own lane where it is,
/// else the lanes leading to the next road (every lane on the last road).
fn path_lanes(net: &Network, route: &[RoadId], t: &Tracked) -> Vec<Vec<LaneId>> {
    (0..route.len())
        .map(|k| {
            if k == t.route_index && t.road == Some(route[k]) {
                if let Some(l) = t.lane {
                    return vec![l];
                }
            }
            net.road(route[k])
                .lanes()
                .filter(|&l| {
                    route.get(k + 1).is_none_or(|&b| {
                        net.lane(l).lane_links.iter().any(|&ll| net.movement(net.lane_link(ll).movement).to_road == b)
                    })
                })
                .collect()
        })
        .collect()
}

/// Every vehicle ahead on the path, exactly, with where its own route leaves the path.
fn observe_perfect(sim: &Sim, route: &[RoadId], t: &Tracked, path: &Path, until: usize) -> Vec<Obstacle> {
    let net = sim.network();
    let lanes = path_lanes(net, route, t);
    let x_ev = path.x_of(t);
    let from = t.route_index;
    let index = |r: RoadId| (from..=until.min(route.len() - 1)).find(|&k| route[k] == r);
    let mut out = Vec::new();
    sim.for_each_vehicle(|v| {
        if v.id == t.id {
            return;
        }
        let (k, x) = if let Some(l) = v.lane {
            let Some(k) = index(net.lane(l).road) else { return };
            if !lanes[k].contains(&l) {
                return;
            }
            (k, path.road_x[k] + v.dis)
        } else if let Some(ll) = v.lane_link {
            let link = net.lane_link(ll);
            let Some(k) = index(net.lane(link.from_lane).road) else { return };
            if route.get(k + 1) != Some(&net.lane(link.to_lane).road) {
                return;
            }
            (k, path.link_x[k] + v.dis)
        } else {
            return;
        };
        if x <= x_ev {
            return;
        }
        let own = sim.flow_route(v.flow);
        let Some(mut o) = own.iter().position(|&r| r == route[k]) else { return };
        let mut j = k;
        let exit_x = if v.lane.is_some() && own.get(o + 1) != route.get(j + 1) {
            path.link_x[j]
        } else {
            // It crosses onto road j + 1 and keeps the corridor's lane while its next road
            // is the corridor's.
            loop {
                j += 1;
                o += 1;
                if j + 1 >= route.len() || own.get(o + 1) != route.get(j + 1) {
                    break path.road_x[j.min(route.len() - 1)];
                }
            }
        };
        out.push(Obstacle { x, v: v.speed, len: v.length, exit_x });
    });
    out
}

/// What detectors show of the path ahead (see the module header).
fn observe_detectors(sim: &Sim, route: &[RoadId], t: &Tracked, path: &Path, until: usize, spacing: f64) -> Vec<Obstacle> {
    let net = sim.network();
    let lanes = path_lanes(net, route, t);
    let x_ev = path.x_of(t);
    let mut out = Vec::new();
    for k in t.route_index..=until.min(route.len() - 1) {
        // The share of those crossing that continue on the corridor's lane of road k + 1.
        let share = route.get(k + 1).map_or(0.0, |&b| {
            let all: u32 = net.road(b).lanes().map(|l| sim.lane_stats(l).count).sum();
            let ours: u32 = lanes[k + 1].iter().map(|&l| sim.lane_stats(l).count).sum();
            if all == 0 {
                lanes[k + 1].len() as f64 / f64::from(net.road(b).lane_count.max(1))
            } else {
                f64::from(ours) / f64::from(all)
            }
        });
        let mut kept = 0.0;
        for &l in &lanes[k] {
            let st = sim.lane_stats(l);
            let len = net.lane(l).length;
            let lo = if t.road == Some(route[k]) { t.pos_m } else { 0.0 };
            let queue_m = st.queue_length_m.min(len - lo).max(0.0);
            let queued = (queue_m / spacing).round() as usize;
            // Input–output counting: vehicles on the lane that entered before the vehicle.
            let ahead = if t.road == Some(route[k]) {
                sim.lane_vehicles(l).filter(|&(id, dis, _, _)| id != t.id && dis > t.pos_m).count()
            } else {
                st.count as usize
            };
            let moving = ahead.saturating_sub(queued);
            let (mut n, mut sum) = (0u32, 0.0);
            // Loop and probe speeds of the lane's moving vehicles.
            for (_, _, v, _) in sim.lane_vehicles(l) {
                if v >= 0.1 {
                    n += 1;
                    sum += v;
                }
            }
            let v_mov = if n > 0 { sum / f64::from(n) } else { 0.0 };
            let mut xs: Vec<(f64, f64)> = (0..queued).map(|i| (len - spacing * i as f64, 0.0)).collect();
            let tail = len - queue_m;
            let gap = (tail - lo) / (moving + 1) as f64;
            xs.extend((1..=moving).rev().map(|i| (lo + gap * i as f64, v_mov)));
            for (pos, v) in xs {
                // Every k-th crossing vehicle goes on in the corridor's lane.
                let before = kept;
                kept += share;
                let exit_x = if before.floor() < kept.floor() && k + 2 < route.len() {
                    path.road_x[k + 2]
                } else {
                    path.road_x[(k + 1).min(route.len() - 1)]
                };
                let x = path.road_x[k] + pos;
                if x > x_ev {
                    out.push(Obstacle { x, v, len: spacing - 2.5, exit_x });
                }
            }
        }
    }
    out
}

/// Vehicle-type constants of the small simulation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kin {
    pub acc: f64,
    pub dec: f64,
    pub min_gap: f64,
    pub headway: f64,
}

/// Predicted step at which the corridor's vehicle crosses each stop line `stops[i].0`
/// (route index of the road it ends), the movement green from `stops[i].1` (city
/// seconds); `None` beyond the horizon.
pub(crate) fn predict(
    sim: &Sim,
    route: &[RoadId],
    t: &Tracked,
    path: &Path,
    model: EtaModel,
    kin: Kin,
    stops: &[(usize, f64)],
) -> Vec<Option<f64>> {
    let now = sim.time();
    let dt = sim.dt();
    let until = stops.iter().map(|s| s.0).max().unwrap_or(0);
    let spacing = 7.5;
    let mut obs = match model {
        EtaModel::Perfect => observe_perfect(sim, route, t, path, until),
        _ => observe_detectors(sim, route, t, path, until, spacing),
    };
    obs.sort_by(|a, b| b.x.total_cmp(&a.x));
    let lines: Vec<(f64, f64)> = stops.iter().map(|&(k, g)| (path.link_x[k], g)).collect();
    let mut out: Vec<Option<f64>> = vec![None; stops.len()];
    let (mut x, mut v) = (path.x_of(t), if t.state == TripState::Running { t.speed } else { 0.0 });
    let mut active = vec![true; obs.len()];
    // A stop line ahead of `x` (before `exit`) that is red at `time`: the speed that stops there.
    let red_cap = |x: f64, exit: f64, time: f64, v: f64| -> f64 {
        let mut cap = f64::INFINITY;
        for &(sx, g) in &lines {
            if sx > x && sx <= exit && time < g {
                let d = sx - x;
                cap = cap.min((2.0 * kin.dec * d).sqrt().min(d / dt));
                break;
            }
            if sx > x + v * dt + 200.0 {
                break;
            }
        }
        cap
    };
    // With lane changing on, a vehicle the corridor's vehicle gets within `YIELD_M` of
    // moves aside where at least `ASIDE_REST_M` of its road are left (the twin's
    // `yield_signal`); it leaves the lane when its sideways move ends.
    let yields = sim.config().lane_change;
    let mut aside_at: Vec<Option<f64>> = vec![None; obs.len()];
    let steps = (HORIZON_S / dt) as usize;
    for n in 1..=steps {
        let time = now + n as f64 * dt;
        let mut lead: Option<(f64, f64)> = None; // (x, len) of the vehicle ahead, moved
        for (i, o) in obs.iter_mut().enumerate() {
            if !active[i] {
                continue;
            }
            if yields && aside_at[i].is_none() && o.x > x && o.x - x < YIELD_M && path.rest(o.x) >= ASIDE_REST_M {
                aside_at[i] = Some(time + aside_s(o.v, dt));
            }
            if aside_at[i].is_some_and(|a| time >= a) {
                active[i] = false;
                continue;
            }
            let mut vn = (o.v + kin.acc * dt).min(path.seg(o.x).2);
            if let Some((lx, llen)) = lead {
                vn = vn.min(((lx - llen - o.x - kin.min_gap) / (kin.headway + dt)).max(0.0));
            }
            vn = vn.min(red_cap(o.x, o.exit_x, time - dt, o.v));
            o.v = vn.max(0.0);
            o.x += o.v * dt;
            if o.x >= o.exit_x {
                active[i] = false;
            } else {
                lead = Some((o.x, o.len));
            }
        }
        let mut vn = (v + kin.acc * dt).min(path.seg(x).1);
        if let Some((lx, llen)) = lead {
            vn = vn.min(((lx - llen - x - kin.min_gap) / (kin.headway + dt)).max(0.0));
        }
        vn = vn.min(red_cap(x, path.end_x, time - dt, v));
        v = vn.max(0.0);
        x += v * dt;
        let mut all = true;
        for (i, &(sx, _)) in lines.iter().enumerate() {
            if out[i].is_none() {
                if x >= sx {
                    out[i] = Some(time);
                } else {
                    all = false;
                }
            }
        }
        if all {
            break;
        }
    }
    out
}

/// Seconds from a vehicle's signal to move aside until it has left its lane: the shadow
/// enters the next step, then the sideways move of a lane's width (3.2 m on the CityFlow
/// networks) at CityFlow's `max(0.2 × speed, 1)` m/s.
fn aside_s(v: f64, dt: f64) -> f64 {
    dt * (1.0 + (3.2 / ((0.2 * v).max(1.0) * dt)).ceil())
}

/// Predicted seconds for a vehicle entering `route` now (every signal green for it, the
/// traffic as `model` sees it): how [`crate::route`] compares candidate routes.
pub(crate) fn predicted_trip(sim: &Sim, route: &[RoadId], model: EtaModel, p: &twin::VehicleParams, limit: f64) -> f64 {
    let net = sim.network();
    let (rv, lv) = crate::engine::free_speeds(net, route, p.max_speed, limit, p.turn_speed);
    let path = Path::new(net, route, (&rv, &lv), p.turn_speed);
    let t = Tracked::waiting(twin::VehicleId(u64::MAX), twin::engine::VehicleClass::Emergency, sim.time(), route.to_vec());
    let kin = Kin { acc: p.max_pos_acc, dec: p.usual_neg_acc, min_gap: p.min_gap, headway: p.headway_time };
    let last = route.len() - 1;
    let got = predict(sim, route, &t, &path, model, kin, &[(last, sim.time())]);
    got[0].map_or(f64::INFINITY, |a| a - sim.time())
}
