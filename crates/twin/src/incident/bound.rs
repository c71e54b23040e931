//! The perfect-information bound on incident detection: when could *any* detector, fed
//! only what the sensors report, first know that an incident happened?
//!
//! For a plan, the twin runs once with every incident (the run a detector sees) and once
//! per incident without that incident, with the same seed, demand and decoys (the twin is
//! deterministic, so the two runs are identical until the incident starts). Every feed
//! the brain receives is compared step by step between the two: loops (count, occupancy,
//! mean speed per interval), junction cameras (queue and waiting vehicles per approach,
//! movement counts, plate reads), the controllers' ATSPM log (phase and detector events)
//! and probe vehicles (position and speed at each report). The incident is **observable**
//! at the first report time at which a feed differs by at least what the sensor resolves
//! ([`Resolution`]); before that no detector, however clever, can tell the two worlds
//! apart. Only differences a detection could be credited for count as *local*: on the
//! incident's road or a road leading into it (what `eval incidents` matches), or, for a
//! loop or a probe fix, within `radius_m` of the incident.
//!
//! Probes are emulated here rather than taken from [`VirtualSensors`]: which vehicle is a
//! probe and when it reports follow from a hash of its id, so both runs draw the same
//! probes, and GPS noise is replaced by a resolution threshold (three standard
//! deviations). Everything else is exactly what the virtual sensors emit.

use std::collections::BTreeSet;

use super::{IncidentError, IncidentKind, IncidentPlan, Location};
use crate::engine::{SimConfig, DETECTOR_FRACTION};
use crate::sensors::{PlateKey, Reading, SensorConfig, VirtualSensors};
use crate::Sim;
use city::demand::Flow;
use city::geom::{point_at, Point};
use city::ids::{IntersectionId, LaneId, RoadId};
use city::network::Network;
use city::signal::{detectors, Nema};

/// The smallest difference each sensor resolves: anything below is not a difference.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// Vehicles in a loop's or a movement's interval count.
    pub count: f64,
    /// Seconds of cover in a loop's interval (occupancy × interval).
    pub occupancy_s: f64,
    /// A loop's mean speed or a probe's speed, m/s (three times the probes' 0.3 m/s noise).
    pub speed_mps: f64,
    /// A camera's queue length, metres (one vehicle and its gap).
    pub queue_m: f64,
    /// A camera's waiting vehicles.
    pub waiting: f64,
    /// A probe's position, metres (three times the 5 m GPS noise per axis).
    pub gps_m: f64,
}

impl Default for Resolution {
    fn default() -> Self {
        Resolution { count: 1.0, occupancy_s: 1.0, speed_mps: 1.0, queue_m: 7.5, waiting: 1.0, gps_m: 15.0 }
    }
}

/// Settings of [`incident_bounds`].
#[derive(Clone, Debug)]
pub struct BoundConfig {
    /// The sensors compared (loop interval, detector layout, yellow); its probe share is
    /// ignored (probes are emulated, see the module header) and its plate key fixed.
    pub sensors: SensorConfig,
    /// Share of vehicles that are probes, and their reporting period range (seconds).
    pub probe_share: f64,
    pub probe_period: (u32, u32),
    pub probe_seed: u64,
    /// A loop or probe difference this close to the incident (metres) is local.
    pub radius_m: f64,
    pub resolution: Resolution,
    /// The run ends here (simulated seconds); an incident is watched until its end or this.
    pub until_s: f64,
}

impl Default for BoundConfig {
    fn default() -> Self {
        BoundConfig {
            sensors: SensorConfig::default(),
            probe_share: 0.1,
            probe_period: (5, 10),
            probe_seed: 0,
            radius_m: 200.0,
            resolution: Resolution::default(),
            until_s: 3600.0,
        }
    }
}

/// The sensor feeds, as compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feed {
    Loop,
    Probe,
    Queue,
    Movement,
    Plate,
    Controller,
}

impl Feed {
    pub const ALL: [Feed; 6] = [Feed::Loop, Feed::Probe, Feed::Queue, Feed::Movement, Feed::Plate, Feed::Controller];

    pub fn name(self) -> &'static str {
        match self {
            Feed::Loop => "loop",
            Feed::Probe => "probe",
            Feed::Queue => "camera queue",
            Feed::Movement => "camera count",
            Feed::Plate => "camera plate",
            Feed::Controller => "controller log",
        }
    }

    fn idx(self) -> usize {
        self as usize
    }
}

/// Why an incident left no local trace in any feed during its duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// Without the incident, no vehicle used its road while it lasted.
    NoTrafficOnRoad,
    /// The road carried traffic, but none on the blocked lanes.
    LaneUnused,
    /// Vehicles would have used the blocked lanes, but none stopped behind the obstacle:
    /// they took another lane.
    LaneAvoided,
    /// Vehicles stopped behind the obstacle, and no sensor saw a difference.
    StoppedUnseen,
    /// Not a lane-blocking incident (closure or signal fault) and no trace.
    Other,
}

impl Cause {
    pub const ALL: [Cause; 5] =
        [Cause::NoTrafficOnRoad, Cause::LaneUnused, Cause::LaneAvoided, Cause::StoppedUnseen, Cause::Other];

    pub fn name(self) -> &'static str {
        match self {
            Cause::NoTrafficOnRoad => "no traffic on the road",
            Cause::LaneUnused => "blocked lane unused",
            Cause::LaneAvoided => "lane avoided (other lane taken)",
            Cause::StoppedUnseen => "vehicles stopped, no sensor saw it",
            Cause::Other => "other",
        }
    }
}

/// The bound for one incident. Times are seconds from the incident's start.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentBound {
    pub id: u32,
    pub kind: IncidentKind,
    pub road: Option<RoadId>,
    pub duration_s: f64,
    /// First local difference in any feed (the earliest possible detection), if any
    /// while the incident lasted.
    pub first_local_s: Option<f64>,
    /// First difference anywhere in the network.
    pub first_any_s: Option<f64>,
    /// First local difference per feed ([`Feed::ALL`] order).
    pub by_feed: [Option<f64>; 6],
    /// Vehicles that, without the incident, were on its blocked lanes (or its road)
    /// while it lasted.
    pub lane_vehicles: u32,
    pub road_vehicles: u32,
    /// Vehicles that stood (under 0.1 m/s) behind the obstacle in the run with it.
    pub stopped_behind: u32,
    /// The road ends at the network's edge (no junction camera or controller there).
    pub exit_road: bool,
    /// Differences found before the incident started (must be 0: the runs are twins).
    pub pre_start_differences: u32,
    /// Set when `first_local_s` is `None`.
    pub cause: Option<Cause>,
}

impl IncidentBound {
    /// Observable within the incident's duration (a local difference).
    pub fn observable(&self) -> bool {
        self.first_local_s.is_some()
    }
}

/// What identifies one reading within a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Loop(u32),
    Probe(u64),
    Queue(u32),
    Movement(u32),
    Plate(u32, u64),
    Detector(u32, u32, u16),
    Phase(u32, u32, u16),
}

impl Key {
    fn feed(self) -> Feed {
        match self {
            Key::Loop(_) => Feed::Loop,
            Key::Probe(_) => Feed::Probe,
            Key::Queue(_) => Feed::Queue,
            Key::Movement(_) => Feed::Movement,
            Key::Plate(..) => Feed::Plate,
            Key::Detector(..) | Key::Phase(..) => Feed::Controller,
        }
    }
}

/// A reading's values: loop (count, cover seconds, mean speed or NaN), queue (metres,
/// waiting), movement (count), probe (x, y, speed, road), events (how many).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Val {
    a: f64,
    b: f64,
    c: f64,
    road: u32,
}

const NO_ROAD: u32 = u32::MAX;

impl Val {
    fn n(a: f64) -> Val {
        Val { a, b: 0.0, c: 0.0, road: NO_ROAD }
    }
}

type Frame = Vec<(Key, Val)>;

/// Static lookups: where each keyed reading is.
struct Places {
    lane_road: Vec<u32>,
    loop_at: Vec<Point>,
    /// (intersection, channel) -> the detector's lane's road.
    det_road: std::collections::HashMap<(u32, u32), u32>,
    movement_from: Vec<u32>,
}

impl Places {
    fn new(net: &Network, cfg: &SensorConfig) -> Places {
        let mut det_road = std::collections::HashMap::new();
        for (i, inter) in net.intersections.iter().enumerate() {
            if inter.is_virtual || !inter.is_signalised() {
                continue;
            }
            let id = IntersectionId(i as u32);
            for d in detectors(net, id, &Nema::of(net, id), &cfg.detectors) {
                det_road.insert((i as u32, d.channel), net.lane(d.lane).road.0);
            }
        }
        Places {
            lane_road: net.lanes.iter().map(|l| l.road.0).collect(),
            loop_at: net.lanes.iter().map(|l| point_at(&l.points, l.length * DETECTOR_FRACTION)).collect(),
            det_road,
            movement_from: net.movements.iter().map(|m| m.from_road.0).collect(),
        }
    }
}

/// Where an incident is, for locality.
struct Spot {
    roads: BTreeSet<u32>,
    /// The junction whose phase events belong to the incident's road.
    junction: Option<u32>,
    at: Point,
}

impl Spot {
    fn new(net: &Network, inc: &super::Incident) -> Spot {
        let (road, pos) = inc.road_and_pos(net);
        let mut roads = BTreeSet::new();
        let mut junction = None;
        let at = match road {
            Some(r) => {
                roads.insert(r.0);
                let from = net.road(r).from;
                roads.extend((0..net.roads.len() as u32).filter(|&q| net.road(RoadId(q)).to == from));
                junction = Some(net.road(r).to.0);
                point_at(&net.road(r).points, pos)
            }
            None => Point::new(f64::NAN, f64::NAN),
        };
        if let Location::Junction { intersection, .. } = inc.location {
            junction = Some(intersection.0);
            roads.extend((0..net.roads.len() as u32).filter(|&q| net.road(RoadId(q)).to == intersection));
        }
        Spot { roads, junction, at }
    }

    fn near(&self, p: Point, radius: f64) -> bool {
        let (dx, dy) = (p.x - self.at.x, p.y - self.at.y);
        (dx * dx + dy * dy).sqrt() <= radius
    }

    fn local(&self, key: Key, a: Option<&Val>, b: Option<&Val>, places: &Places, radius: f64) -> bool {
        match key {
            Key::Loop(l) => self.roads.contains(&places.lane_road[l as usize]) || self.near(places.loop_at[l as usize], radius),
            Key::Queue(r) | Key::Plate(r, _) => self.roads.contains(&r),
            Key::Movement(m) => self.roads.contains(&places.movement_from[m as usize]),
            Key::Detector(i, ch, _) => places.det_road.get(&(i, ch)).is_some_and(|r| self.roads.contains(r)),
            Key::Phase(i, ..) => self.junction == Some(i),
            Key::Probe(_) => [a, b]
                .into_iter()
                .flatten()
                .any(|v| (v.road != NO_ROAD && self.roads.contains(&v.road)) || self.near(Point::new(v.a, v.b), radius)),
        }
    }
}

/// Whether two readings of the same key differ by what the sensor resolves.
fn differs(key: Key, a: Option<&Val>, b: Option<&Val>, res: &Resolution, interval: f64) -> bool {
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        // A movement count of 0 is not reported: absent is 0.
        (Some(v), None) | (None, Some(v)) if matches!(key, Key::Movement(_)) => return v.a >= res.count,
        _ => return true,
    };
    match key {
        Key::Loop(_) => {
            (a.a - b.a).abs() >= res.count
                || (a.b - b.b).abs() * interval >= res.occupancy_s
                || (a.c.is_finite() && b.c.is_finite() && (a.c - b.c).abs() >= res.speed_mps)
        }
        Key::Queue(_) => (a.a - b.a).abs() >= res.queue_m || (a.b - b.b).abs() >= res.waiting,
        Key::Movement(_) => (a.a - b.a).abs() >= res.count,
        Key::Probe(_) => (a.a - b.a).hypot(a.b - b.b) >= res.gps_m || (a.c - b.c).abs() >= res.speed_mps,
        Key::Plate(..) | Key::Detector(..) | Key::Phase(..) => a.a != b.a,
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One run of the twin with its sensors, producing a frame per step.
struct Runner {
    sim: Sim,
    sensors: VirtualSensors,
    readings: Vec<Reading>,
    cfg: BoundConfig,
}

impl Runner {
    fn new(
        net: &Network,
        flows: &[Flow],
        sim_cfg: SimConfig,
        plan: &IncidentPlan,
        cfg: &BoundConfig,
    ) -> Result<Runner, IncidentError> {
        let mut sim = Sim::from_parts(net.clone(), flows.to_vec(), SimConfig { record_events: true, ..sim_cfg });
        sim.schedule_incidents(plan)?;
        let scfg = SensorConfig { probe_share: 0.0, plate_key: PlateKey::from_bytes([0x5a; 32]), ..cfg.sensors.clone() };
        let sensors = VirtualSensors::new(&sim, scfg);
        Ok(Runner { sim, sensors, readings: Vec::new(), cfg: cfg.clone() })
    }

    /// Step once; the step's readings as a frame sorted by key.
    fn step(&mut self, frame: &mut Frame) {
        self.sim.step();
        self.readings.clear();
        self.sensors.observe(&self.sim, &mut self.readings);
        frame.clear();
        let interval = self.cfg.sensors.loop_interval.max(1e-9);
        for r in &self.readings {
            let kv = match r {
                Reading::Loop { lane, start, end, count, occupancy, mean_speed } => {
                    let secs = (end - start).max(1e-9);
                    let v = Val {
                        a: *count as f64,
                        b: occupancy * secs / interval,
                        c: mean_speed.unwrap_or(f64::NAN),
                        road: NO_ROAD,
                    };
                    (Key::Loop(lane.0), v)
                }
                Reading::Queue { road, queue_m, waiting, .. } => {
                    (Key::Queue(road.0), Val { a: *queue_m, b: *waiting as f64, c: 0.0, road: NO_ROAD })
                }
                Reading::MovementCount { movement, count, .. } => (Key::Movement(movement.0), Val::n(*count as f64)),
                Reading::Plate { road, token, .. } => {
                    let h = u64::from_str_radix(&token[..16.min(token.len())], 16).unwrap_or(0);
                    (Key::Plate(road.0, h), Val::n(1.0))
                }
                Reading::DetectorEvent { intersection, channel, code, .. } => {
                    (Key::Detector(intersection.0, *channel, *code), Val::n(1.0))
                }
                Reading::SignalEvent { intersection, code, param, .. } => {
                    (Key::Phase(intersection.0, *param, *code), Val::n(1.0))
                }
                Reading::Probe { .. } => continue,
            };
            frame.push(kv);
        }
        self.probes(frame);
        frame.sort_by_key(|x| x.0);
        // Events of one key in one step: count them.
        frame.dedup_by(|later, first| {
            if later.0 == first.0 {
                first.1.a += later.1.a;
                true
            } else {
                false
            }
        });
    }

    fn probes(&self, frame: &mut Frame) {
        let (lo, hi) = (self.cfg.probe_period.0.max(1), self.cfg.probe_period.1.max(self.cfg.probe_period.0.max(1)));
        let step = (self.sim.time() / self.sim.dt()).round() as u64;
        let threshold = (self.cfg.probe_share.clamp(0.0, 1.0) * u64::MAX as f64) as u64;
        let seed = self.cfg.probe_seed;
        self.sim.for_each_vehicle(|v| {
            let h = splitmix(seed ^ v.id.0.wrapping_mul(0x2545_f491_4f6c_dd1d));
            if h >= threshold || threshold == 0 {
                return;
            }
            let h2 = splitmix(h);
            let period = u64::from(lo) + h2 % u64::from(hi - lo + 1);
            if !(step + (h2 >> 32)).is_multiple_of(period) {
                return;
            }
            let road = v.road.map_or(NO_ROAD, |r| r.0);
            frame.push((Key::Probe(v.id.0), Val { a: v.pos.x, b: v.pos.y, c: v.speed, road }));
        });
    }
}

/// Facts on the incident's lanes gathered while running.
#[derive(Default)]
struct LaneWatch {
    lanes: Vec<(LaneId, f64)>,
    road_lanes: Vec<LaneId>,
    on_lanes: BTreeSet<u64>,
    on_road: BTreeSet<u64>,
    stopped: BTreeSet<u64>,
}

impl LaneWatch {
    fn new(net: &Network, inc: &super::Incident) -> LaneWatch {
        let (road, pos) = inc.road_and_pos(net);
        let Some(road) = road else { return LaneWatch::default() };
        let first = net.road(road).first_lane.0;
        let lanes = inc.lane_indices(net).iter().map(|&l| (LaneId(first + l), pos)).collect();
        LaneWatch { lanes, road_lanes: net.road(road).lanes().collect(), ..Default::default() }
    }

    /// In the run without the incident: who uses its lanes and road.
    fn traffic(&mut self, sim: &Sim) {
        for &(l, _) in &self.lanes {
            self.on_lanes.extend(sim.lane_vehicles(l).map(|v| v.0 .0));
        }
        for &l in &self.road_lanes {
            self.on_road.extend(sim.lane_vehicles(l).map(|v| v.0 .0));
        }
    }

    /// In the run with it: who stands behind the obstacle.
    fn stopped(&mut self, sim: &Sim) {
        for &(l, pos) in &self.lanes {
            // Standing right behind the obstacle (within 10 m): held by it, not by a queue.
            self.stopped
                .extend(sim.lane_vehicles(l).filter(|v| v.2 < 0.1 && v.1 <= pos + 1e-9 && v.1 >= pos - 10.0).map(|v| v.0 .0));
        }
    }
}

/// The bound for every incident of `plan`: the run with all of them against one run
/// without each (same seed, demand and decoys), until `cfg.until_s`.
pub fn incident_bounds(
    net: &Network,
    flows: &[Flow],
    sim_cfg: SimConfig,
    plan: &IncidentPlan,
    cfg: &BoundConfig,
) -> Result<Vec<IncidentBound>, IncidentError> {
    let places = Places::new(net, &cfg.sensors);
    let interval = cfg.sensors.loop_interval.max(1e-9);
    // The run with every incident: its frames, and who stops behind each obstacle.
    let mut full = Runner::new(net, flows, sim_cfg, plan, cfg)?;
    let mut frames: Vec<Frame> = Vec::new();
    let mut watch_full: Vec<LaneWatch> = plan.incidents.iter().map(|i| LaneWatch::new(net, i)).collect();
    while full.sim.time() < cfg.until_s {
        let mut f = Frame::new();
        full.step(&mut f);
        let t = full.sim.time();
        for (inc, w) in plan.incidents.iter().zip(&mut watch_full) {
            if t >= inc.start_s && t <= inc.end_s {
                w.stopped(&full.sim);
            }
        }
        frames.push(f);
    }
    drop(full);
    let mut out = Vec::with_capacity(plan.incidents.len());
    let mut frame = Frame::new();
    for (k, inc) in plan.incidents.iter().enumerate() {
        let without = IncidentPlan {
            incidents: plan.incidents.iter().filter(|o| o.id != inc.id).cloned().collect(),
            decoys: plan.decoys.clone(),
        };
        let spot = Spot::new(net, inc);
        let mut twin = Runner::new(net, flows, sim_cfg, &without, cfg)?;
        let mut w = LaneWatch::new(net, inc);
        let mut b = IncidentBound {
            id: inc.id,
            kind: inc.kind,
            road: inc.road_and_pos(net).0,
            duration_s: inc.end_s - inc.start_s,
            first_local_s: None,
            first_any_s: None,
            by_feed: [None; 6],
            lane_vehicles: 0,
            road_vehicles: 0,
            stopped_behind: watch_full[k].stopped.len() as u32,
            exit_road: inc.road_and_pos(net).0.is_some_and(|r| net.intersection(net.road(r).to).is_virtual),
            pre_start_differences: 0,
            cause: None,
        };
        let end = inc.end_s.min(cfg.until_s);
        let mut s = 0;
        while twin.sim.time() < end && s < frames.len() {
            twin.step(&mut frame);
            let t = twin.sim.time();
            if t >= inc.start_s {
                w.traffic(&twin.sim);
            }
            compare(&frames[s], &frame, |key, a, x| {
                if !differs(key, a, x, &cfg.resolution, interval) {
                    return;
                }
                if t < inc.start_s {
                    b.pre_start_differences += 1;
                    return;
                }
                let dt = t - inc.start_s;
                b.first_any_s.get_or_insert(dt);
                if spot.local(key, a, x, &places, cfg.radius_m) {
                    b.first_local_s.get_or_insert(dt);
                    b.by_feed[key.feed().idx()].get_or_insert(dt);
                }
            });
            s += 1;
        }
        b.lane_vehicles = w.on_lanes.len() as u32;
        b.road_vehicles = w.on_road.len() as u32;
        if b.first_local_s.is_none() {
            b.cause = Some(if !matches!(inc.location, Location::Lanes { .. }) {
                Cause::Other
            } else if b.road_vehicles == 0 {
                Cause::NoTrafficOnRoad
            } else if b.lane_vehicles == 0 {
                Cause::LaneUnused
            } else if b.stopped_behind == 0 {
                Cause::LaneAvoided
            } else {
                Cause::StoppedUnseen
            });
        }
        out.push(b);
    }
    Ok(out)
}

/// Walk two sorted frames, calling `f(key, a, b)` for every key of either.
fn compare(a: &Frame, b: &Frame, mut f: impl FnMut(Key, Option<&Val>, Option<&Val>)) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                f(x.0, Some(&x.1), Some(&y.1));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                f(x.0, Some(&x.1), None);
                i += 1;
            }
            (Some(x), None) => {
                f(x.0, Some(&x.1), None);
                i += 1;
            }
            (_, Some(y)) => {
                f(y.0, None, Some(&y.1));
                j += 1;
            }
            (None, None) => break,
        }
    }
}
