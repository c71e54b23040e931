//! Vehicles created on demand (dispatched units: police, ambulance, tow truck, fire
//! engine, or any vehicle a caller drives through the simulated traffic), their live
//! position and arrival, and routes on live travel times.
//!
//! A spawned vehicle enters at the front of its first lane's entry buffer at the next
//! step (ahead of the flow vehicles waiting there) and then follows exactly the vehicle
//! model of every other vehicle. Its lane choice and crossing tie-break come from a
//! random stream of its own (seeded from the run's seed), so spawning never shifts the
//! draws of the scenario's flows. Its trip counts in the run's metrics like any other.
//!
//! **Emergency class** (issue 17): a higher desired speed (1.5× the base type's) and a
//! speed-limit factor of 1.5 (it may drive at 1.5× a lane's limit). It obeys signals and
//! yields at crossing points like everyone else: the corridor's value is the green it
//! gets, not running reds. With lane changing on, a vehicle that has one close behind
//! it on its lane moves aside where an adjacent lane is free (`lanechange.rs`,
//! `yield_signal`).
//!
//! **As a flow entry** ([`SpawnMode::Flow`], issue 17's external check): the vehicle
//! enters exactly as a CityFlow flow entry with its own vehicle parameters that is
//! listed before every flow of the file and releases one vehicle now (`startTime` =
//! `endTime` = now): behind the vehicles already waiting at its entry, with the
//! scenario's own lane and tie-break draws, capped by each lane's limit like every
//! vehicle, and nobody yields to it (lane changing must be off). A run with it is the
//! run of the scenario with that flow prepended, which CityFlow can replay.

use std::collections::{BTreeMap, BinaryHeap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Sim, VehicleId, NONE};
use city::demand::{Flow, VehicleParams};
use city::geom::{point_at, Point};
use city::heap::MinCost;
use city::ids::{LaneId, RoadId};

/// Desired-speed and speed-limit factor of the emergency class.
pub const EMERGENCY_SPEED_FACTOR: f64 = 1.5;

/// The kind of a spawned vehicle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VehicleClass {
    /// The scenario's usual vehicle type (its first flow's, or the default).
    Normal,
    /// Higher desired speed, may exceed the lane's limit by [`EMERGENCY_SPEED_FACTOR`];
    /// obeys signals.
    Emergency,
}

/// How a spawned vehicle enters (see the module header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SpawnMode {
    /// A dispatched unit: ahead of the vehicles waiting at its entry, its own random
    /// stream; the emergency class may drive at [`EMERGENCY_SPEED_FACTOR`] times a lane's
    /// limit and others yield to it with lane changing on.
    #[default]
    Unit,
    /// A CityFlow flow entry released now, first in file order: behind the vehicles
    /// waiting, the scenario's draws, lanes' limits; the emergency class keeps only its
    /// higher desired speed. Needs lane changing off.
    Flow,
}

/// Why a vehicle could not be spawned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpawnError {
    #[error("route: empty")]
    EmptyRoute,
    #[error("route[{0}]: no such road")]
    UnknownRoad(usize),
    #[error("route[{0}]: no movement from the road before it onto this one")]
    NotConnected(usize),
    #[error("a vehicle spawned as a flow entry needs lane changing off")]
    FlowModeWithLaneChange,
}

/// Where a spawned vehicle's trip stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TripState {
    /// In its first lane's entry buffer.
    Waiting,
    Running,
    /// Reached the end of its route at `time_s`.
    Arrived {
        time_s: f64,
    },
}

/// A spawned vehicle seen now.
#[derive(Clone, Debug, PartialEq)]
pub struct Tracked {
    pub id: VehicleId,
    pub class: VehicleClass,
    pub state: TripState,
    pub spawned_s: f64,
    pub route: Vec<RoadId>,
    /// Index in `route` of the road it is on (or, in a junction, leaving).
    pub route_index: usize,
    /// The road it is on (`None` inside a junction, waiting or arrived).
    pub road: Option<RoadId>,
    pub lane: Option<LaneId>,
    /// Distance along its current lane or lane link.
    pub pos_m: f64,
    pub speed: f64,
    /// Share of the route's length driven, 0..=1.
    pub progress: f64,
    /// Position in network metres and in WGS84 (lon, lat), while running.
    pub point: Option<Point>,
    pub lonlat: Option<(f64, f64)>,
}

impl Tracked {
    /// A vehicle spawned at `spawned_s` on `route` that has not entered it yet.
    pub fn waiting(id: VehicleId, class: VehicleClass, spawned_s: f64, route: Vec<RoadId>) -> Tracked {
        Tracked {
            id,
            class,
            state: TripState::Waiting,
            spawned_s,
            route,
            route_index: 0,
            road: None,
            lane: None,
            pos_m: 0.0,
            speed: 0.0,
            progress: 0.0,
            point: None,
            lonlat: None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Unit {
    slot: u32,
    class: VehicleClass,
    spawned: f64,
    arrived: Option<f64>,
    flow: u32,
    /// Whether others move aside for it (an emergency unit spawned as a unit).
    yields: bool,
}

/// The spawned vehicles, by id.
#[derive(Clone, Debug)]
pub(crate) struct Units {
    rng: ChaCha8Rng,
    map: BTreeMap<u64, Unit>,
}

impl Units {
    pub fn new(seed: u64) -> Units {
        Units { rng: ChaCha8Rng::seed_from_u64(seed ^ 0x756e_6974_735f_7631), map: BTreeMap::new() }
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Whether an emergency vehicle is in the network (not waiting, not arrived).
    pub fn has_emergency(&self) -> bool {
        self.emergency_slots().next().is_some()
    }
    /// Slots of the emergency vehicles in the network, in spawn order.
    pub fn emergency_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.map
            .values()
            .filter(|u| u.class == VehicleClass::Emergency && u.yields && u.arrived.is_none() && u.slot != NONE)
            .map(|u| u.slot)
    }
    /// A tracked vehicle finished its trip at `now`.
    pub fn finished(&mut self, id: u64, now: f64) {
        if let Some(u) = self.map.get_mut(&id) {
            u.arrived = Some(now);
            u.slot = NONE;
        }
    }
    /// A tracked vehicle now lives in slot `slot` (its lane change completed).
    pub fn reslot(&mut self, id: u64, slot: u32) {
        if let Some(u) = self.map.get_mut(&id) {
            u.slot = slot;
        }
    }
    /// Slots were renumbered.
    pub fn remap(&mut self, new_of: &[u32]) {
        for u in self.map.values_mut() {
            if u.slot != NONE {
                u.slot = new_of[u.slot as usize];
            }
        }
    }
}

impl Sim {
    /// Spawn a vehicle of class `class` on `route` (roads in driving order, each reachable
    /// from the one before). It enters at the next step, ahead of the vehicles waiting at
    /// its first lane's entry. Its position and arrival: [`Sim::tracked`].
    pub fn spawn_vehicle(&mut self, route: &[RoadId], class: VehicleClass) -> Result<VehicleId, SpawnError> {
        self.spawn_vehicle_as(route, class, SpawnMode::Unit)
    }

    /// [`Sim::spawn_vehicle`] with the way it enters: as a dispatched unit or as a
    /// CityFlow flow entry ([`SpawnMode`]).
    pub fn spawn_vehicle_as(&mut self, route: &[RoadId], class: VehicleClass, mode: SpawnMode) -> Result<VehicleId, SpawnError> {
        if mode == SpawnMode::Flow && self.lc.is_some() {
            return Err(SpawnError::FlowModeWithLaneChange);
        }
        if route.is_empty() {
            return Err(SpawnError::EmptyRoute);
        }
        for (k, r) in route.iter().enumerate() {
            if r.idx() >= self.net.roads.len() || self.net.road(*r).lane_count == 0 {
                return Err(SpawnError::UnknownRoad(k));
            }
            if k > 0 && !self.net.connected(route[k - 1], *r) {
                return Err(SpawnError::NotConnected(k));
            }
        }
        let params = self.spawn_params(class);
        let limit = if class == VehicleClass::Emergency && mode == SpawnMode::Unit { EMERGENCY_SPEED_FACTOR } else { 1.0 };
        let flow = self.add_flow(Flow {
            params,
            route: route.to_vec(),
            interval: 1.0,
            start: f64::INFINITY,
            end: None,
            depart: Default::default(),
        });
        self.flow_kin[flow as usize] = self.kin_index(params, limit);
        self.flow_rt[flow as usize].done = true;
        let now = self.time();
        if mode == SpawnMode::Flow {
            // What the flow pass does for the first flow of the file (`spawn`); this runs
            // before the step's flow pass, so it is the first flow of this step.
            let id = self.stats.created;
            let slot = self.spawn(flow, now);
            self.units.map.insert(id, Unit { slot, class, spawned: now, arrived: None, flow, yields: false });
            return Ok(VehicleId(id));
        }
        // The first lane: as a flow vehicle chooses it, from the units' own draws.
        let first = self.net.road(route[0]);
        let ok: Vec<u32> =
            first.lanes().map(|l| l.0).filter(|&l| route.len() == 1 || self.lane_leads_to(l, route[1].0)).collect();
        let ok = if ok.is_empty() { first.lanes().map(|l| l.0).collect() } else { ok };
        let lane = ok[self.units.rng.gen_range(0..ok.len())];
        let priority = self.units.rng.gen::<u32>();
        let id = self.stats.created;
        let slot = self.insert_vehicle(flow, now, lane, priority, true);
        self.units.map.insert(id, Unit { slot, class, spawned: now, arrived: None, flow, yields: true });
        Ok(VehicleId(id))
    }

    /// The vehicle type a spawned vehicle of `class` drives with: the scenario's first
    /// flow's (or the default), the emergency class with [`EMERGENCY_SPEED_FACTOR`] times
    /// its desired speed.
    pub fn spawn_params(&self, class: VehicleClass) -> VehicleParams {
        let params = self.flows.first().map(|f| f.params).unwrap_or_default();
        match class {
            VehicleClass::Emergency => VehicleParams { max_speed: params.max_speed * EMERGENCY_SPEED_FACTOR, ..params },
            VehicleClass::Normal => params,
        }
    }

    /// A spawned vehicle's state now (`None` for an id [`Sim::spawn_vehicle`] did not return).
    pub fn tracked(&self, id: VehicleId) -> Option<Tracked> {
        let u = self.units.map.get(&id.0)?;
        let route = self.route(u.flow).to_vec();
        let mut t = Tracked::waiting(id, u.class, u.spawned, route);
        if let Some(time_s) = u.arrived {
            t.state = TripState::Arrived { time_s };
            t.route_index = t.route.len() - 1;
            t.progress = 1.0;
            return Some(t);
        }
        let s = &self.vs[u.slot as usize];
        if !s.running {
            return Some(t);
        }
        let view = self.vehicle_view(u.slot);
        t.state = TripState::Running;
        t.route_index = s.route_pos as usize;
        t.road = view.road;
        t.lane = view.lane;
        t.pos_m = s.dis;
        t.speed = s.speed;
        t.point = Some(view.pos);
        t.lonlat = Some(self.net.georef.to_lonlat(view.pos));
        let lens: Vec<f64> = t.route.iter().map(|&r| self.net.road_length(r)).collect();
        let total: f64 = lens.iter().sum();
        let done: f64 = lens[..t.route_index].iter().sum::<f64>() + if self.is_link(s.drv) { lens[t.route_index] } else { s.dis };
        t.progress = if total > 0.0 { (done / total).clamp(0.0, 1.0) } else { 0.0 };
        Some(t)
    }

    /// A spawned vehicle's type and its factor on lane speed limits (the emergency
    /// class's [`EMERGENCY_SPEED_FACTOR`], else 1).
    pub fn unit_params(&self, id: VehicleId) -> Option<(VehicleParams, f64)> {
        let u = self.units.map.get(&id.0)?;
        let k = &self.kins[self.flow_kin[u.flow as usize] as usize];
        Some((k.p, k.limit))
    }

    /// Trips finished so far and the sum of their travel times, seconds.
    pub fn finished_trips(&self) -> (u64, f64) {
        (self.stats.finished, self.stats.finished_tt_sum)
    }

    /// Every spawned vehicle's id, in spawn order.
    pub fn tracked_ids(&self) -> impl Iterator<Item = VehicleId> + '_ {
        self.units.map.keys().map(|&k| VehicleId(k))
    }

    /// Live travel time of every road (indexed by [`RoadId`]), seconds: its length at the
    /// mean speed of the vehicles moving on it (at least 0.1 m/s), never faster than at
    /// its speed limit, plus 2 s per stopped vehicle per open lane (the time a queue takes
    /// to discharge). Lanes with an obstacle count as closed; a road with every lane
    /// closed, or closed itself, takes forever (`f64::INFINITY`).
    pub fn road_travel_times(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.net.roads.len());
        for (r, road) in self.net.roads.iter().enumerate() {
            let len = self.net.road_length(RoadId(r as u32));
            let limit = road.lanes().map(|l| self.drvs[l.idx()].max_speed).fold(0.1_f64, f64::max);
            let (mut moving, mut speed_sum, mut stopped, mut open) = (0u32, 0.0, 0u32, 0u32);
            for l in road.lanes() {
                if !(self.inc.active && self.lane_blocked(l.0)) {
                    open += 1;
                }
                for v in self.queue(l.idx()) {
                    let s = self.vs[v as usize].speed;
                    if s < super::observe::WAITING_SPEED {
                        stopped += 1;
                    } else {
                        moving += 1;
                        speed_sum += s;
                    }
                }
            }
            let closed = self.inc.active && self.road_closed(RoadId(r as u32));
            out.push(if open == 0 || closed {
                f64::INFINITY
            } else {
                let v = if moving > 0 { (speed_sum / moving as f64).clamp(0.1, limit) } else { limit };
                len / v + 2.0 * stopped as f64 / open as f64
            });
        }
        out
    }

    /// The fastest route from road `from` to road `to` on live travel times
    /// ([`Sim::road_travel_times`]): the roads in driving order (both ends included) and
    /// the expected time to drive them. `None` when `to` cannot be reached. Ties are
    /// broken by road index, so the answer is deterministic.
    pub fn fastest_route(&self, from: RoadId, to: RoadId) -> Option<(Vec<RoadId>, f64)> {
        let n = self.net.roads.len();
        if from.idx() >= n || to.idx() >= n {
            return None;
        }
        let tt = self.road_travel_times();
        let mut next: Vec<Vec<u32>> = vec![Vec::new(); n];
        for m in &self.net.movements {
            let out = &mut next[m.from_road.idx()];
            if !out.contains(&m.to_road.0) {
                out.push(m.to_road.0);
            }
        }
        let mut best = vec![f64::INFINITY; n];
        let mut prev = vec![NONE; n];
        let mut heap = BinaryHeap::new();
        // The origin counts even when closed: the vehicle is on it already.
        let c0 = if tt[from.idx()].is_finite() { tt[from.idx()] } else { 0.0 };
        best[from.idx()] = c0;
        heap.push(MinCost(c0, from.0));
        while let Some(MinCost(c, r)) = heap.pop() {
            if c > best[r as usize] {
                continue;
            }
            if r == to.0 {
                break;
            }
            for &nr in &next[r as usize] {
                let nc = c + tt[nr as usize];
                if nc < best[nr as usize] {
                    best[nr as usize] = nc;
                    prev[nr as usize] = r;
                    heap.push(MinCost(nc, nr));
                }
            }
        }
        if !best[to.idx()].is_finite() {
            return None;
        }
        let mut route = vec![to];
        while route.last() != Some(&from) {
            let p = prev[route.last()?.idx()];
            if p == NONE {
                return None;
            }
            route.push(RoadId(p));
        }
        route.reverse();
        Some((route, best[to.idx()]))
    }

    /// A point `pos_m` along lane `lane`, in network metres.
    pub fn lane_point(&self, lane: LaneId, pos_m: f64) -> Point {
        point_at(&self.net.lane(lane).points, pos_m)
    }
}
