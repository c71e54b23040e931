//! The microsimulation engine: a fixed-step simulation that follows CityFlow's vehicle
//! model step for step (see `../shared/data/README.md` and [`model`]).
//!
//! ## Layout
//! Vehicles live in a slot arena addressed by `u32` (with a free list): `Veh` holds what
//! the per-step passes read (one cache line), `VehAux` the bookkeeping, `Act` the buffered
//! outcome of the action phase. Lanes and lane links form one dense index space, the
//! *drivables* (lanes first). Each drivable's queue is a list threaded through the arena
//! (`head`, `tail`, `qlen` per drivable and `Veh::behind` per vehicle; `Sim::queue`
//! walks it), front (furthest along) first; each lane's entry buffer is a `VecDeque`.
//! Once the arena and buffers have grown to the run's peak, a step allocates only in the
//! slot renumbering every `COMPACT_EVERY` (32) steps (`compact`), which puts the vehicles
//! of a queue next to each other in the arena.
//!
//! A queue is in CityFlow's list order: order of entry, which is not always position
//! order (a vehicle can overtake another at a lane entry). A vehicle that leaves is
//! removed from its queue wherever it is in it, as CityFlow erases it.
//!
//! ## Step order (CityFlow's `Engine::nextStep`)
//! 0. every 32 steps, the slot renumbering (`compact`; outputs do not depend on it);
//! 1. flows release vehicles into per-lane entry buffers;
//! 2. each lane admits the front of its buffer if there is room;
//! 3. vehicles near a junction notify the crossing points they approach;
//! 4. every running vehicle computes its next speed and position into a buffer
//!    (reads only the current state, so this phase may run in parallel; an action whose
//!    inputs are unchanged is reused, see `Deps`);
//! 5. vehicles that left their drivable are moved (sorted by new position);
//! 6. buffers are applied (only to the vehicles whose action changes something);
//! 7. each queue's front looks ahead for its leader and gap; every other vehicle keeps
//!    the one in front of it as leader and derives its gap when it is read;
//! 8. signals on their fixed plan advance; an intersection under external control holds
//!    what [`Sim::set_green`] or [`Sim::set_phase`] set between steps.
//!
//! Results are bit-identical for a given input, seed and thread count, and across thread
//! counts.

mod apply;
mod bits;
mod cfrand;
mod compact;
mod core;
mod depart;
mod disjoint;
mod flows;
mod forecast;
pub(crate) mod incidents;
mod junction;
mod lanechange;
mod lanechange_run;
pub(crate) mod model;
mod observe;
mod replay;
mod signals;
mod standing;
mod strategic;
mod teleport;
pub(crate) mod units;

use std::collections::VecDeque;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use self::core::DETECTOR_FRACTION;
use city::demand::Flow;
use city::ids::*;
use city::network::Network;
use city::Scenario;
pub use incidents::{Block, BlockId};
pub use lanechange::{ASIDE_REST_M, YIELD_M};
use model::Kin;
pub use observe::{LaneStats, Metrics, SeriesPoint, SimEvent, Unfinished, VehicleView};
pub use replay::roadnet_log;
use signals::Light;
pub use signals::{Clearance, PreemptEvent, Termination};
pub use standing::Standing;
pub use teleport::SUMO_TIME_TO_TELEPORT;
pub use units::{SpawnError, SpawnMode, Tracked, TripState, VehicleClass};

/// "No vehicle / no drivable".
pub(crate) const NONE: u32 = u32::MAX;

/// A vehicle's identity: its creation order (0, 1, 2, ...), stable for the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VehicleId(pub u64);

/// Engine settings.
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// Step length in seconds.
    pub dt: f64,
    /// Seed for lane choice at entry and vehicle priorities.
    pub seed: u64,
    /// Worker threads for the action phase (1 = single-threaded; results are identical).
    pub threads: usize,
    /// Record [`SimEvent`]s each step for virtual sensors.
    pub record_events: bool,
    /// Seconds between entries of the per-road speed time series.
    pub series_interval: f64,
    /// CityFlow's lane changing (its `laneChange: true`, see `lanechange.rs`). Off, the
    /// engine takes none of its code paths.
    pub lane_change: bool,
    /// Jam resolution: a lane's front vehicle standing this long jumps to the next lane
    /// of its route (SUMO's `time-to-teleport`; see `teleport`). `None`: never (CityFlow).
    pub teleport_after: Option<f64>,
    /// Route-aware (strategic) lane changing for SUMO input, the twin's addition to
    /// CityFlow's model (see `strategic.rs`): a vehicle whose lane does not lead on along
    /// its route changes lanes for one that does, anywhere on its lane, and may take a
    /// junction into a lane from which it must change again (merging at lane drops and
    /// ramps). Implies `lane_change`. Off for CityFlow files (exact fidelity).
    pub strategic_lanes: bool,
    /// Signals beyond the next junction (SUMO input): a vehicle also brakes for a red
    /// lane link further along its route within its approach distance, as SUMO's drivers
    /// look ahead over short edges. CityFlow's vehicles see only the lane link directly
    /// ahead, so a red behind an edge shorter than the braking distance is run. Off for
    /// CityFlow files (exact fidelity).
    pub signal_lookahead: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            dt: 1.0,
            seed: 0,
            threads: 1,
            record_events: false,
            series_interval: 60.0,
            lane_change: false,
            teleport_after: None,
            strategic_lanes: false,
            signal_lookahead: false,
        }
    }
}

/// Mutable per-vehicle state read by the per-step passes: one cache line, so a pass that
/// visits a vehicle touches a single line. `drv` indexes the unified drivable space.
/// Bookkeeping the passes do not need lives in [`VehAux`].
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
pub(crate) struct Veh {
    pub speed: f64,
    pub dis: f64,
    /// Gap to the leader, kept for a queue front only (a follower's is derived: `gap_of`).
    pub gap: f64,
    pub drv: u32,
    /// Cached `router.getNextDrivable(0)`.
    pub next_drv: u32,
    pub leader: u32,
    /// The drivable it was on before its current one (`NONE` before its first move).
    pub prev_drv: u32,
    pub flow: u32,
    pub kin: u32,
    /// Index in the route of the road being driven (or, on a lane link, being left).
    pub route_pos: u32,
    /// The foe it yielded to in its last action (deadlock breaking follows these).
    pub blocker: u32,
    /// The vehicle behind it on its drivable (`NONE` for the last): the queues are lists
    /// threaded through the arena (see `Sim::queue`).
    pub behind: u32,
    pub running: bool,
    pub stopped: bool,
    /// Speed, position and drivable unchanged by the last step.
    pub still: bool,
    /// Front of its drivable's queue: `leader` and `gap` come from the look-ahead. Any
    /// other vehicle follows the one in front of it on the same drivable (`leader`, kept
    /// by the queue operations) and its gap is derived when needed (see `Sim::gap_of`).
    pub front: bool,
}

const _: () = assert!(std::mem::size_of::<Veh>() == 64);

/// Iterator of [`Sim::queue`].
pub(crate) struct Queue<'a> {
    vs: &'a [Veh],
    cur: u32,
}

impl Iterator for Queue<'_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        let v = self.cur;
        if v == NONE {
            return None;
        }
        self.cur = self.vs[v as usize].behind;
        Some(v)
    }
}

/// A drivable's length and speed limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DrvStatic {
    pub len: f64,
    pub max_speed: f64,
}

/// Per-vehicle bookkeeping, indexed like `vs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VehAux {
    pub enter_time: f64,
    pub id: u64,
    /// The step it entered its current lane link (`u32::MAX` on a lane) and its random
    /// priority: read only to break ties at crossings, so kept out of [`Veh`].
    pub enter_link_step: u32,
    pub priority: u32,
    pub stops: u32,
    pub alive: bool,
    /// Its number within its flow (CityFlow's per-flow counter: `flow_<flow>_<seq>`).
    pub seq: u32,
}

/// The buffered outcome of the action phase for one vehicle.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Act {
    pub speed: f64,
    pub dis: f64,
    /// The leader and gap it was computed with.
    pub gap: f64,
    pub leader: u32,
    /// New drivable, or `NONE` if unchanged.
    pub drv: u32,
    pub route_pos: u32,
    pub blocker: u32,
    pub end: bool,
    /// What this outcome was computed from (see [`Deps`]).
    pub deps: Deps,
}

/// What a vehicle's action depended on. The action phase is a pure function of the
/// current state, so an action whose inputs are all unchanged is reused as is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Deps {
    /// Anything (junction state, foes, the lane ahead): always recompute.
    #[default]
    Any,
    /// Only the vehicle's own state and its leader (speed, kind, gap).
    Own,
    /// `Own`, plus having to stop before the lane link ahead (red, or no room after it).
    OwnStop,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct FlowRt {
    now_time: f64,
    done: bool,
    count: u32,
    /// Vehicles of the flow created so far (the next one's `VehAux::seq`).
    issued: u32,
}

/// A running simulation. Build with [`Sim::new`], advance with [`Sim::step`].
#[derive(Clone)]
pub struct Sim {
    pub(crate) net: Network,
    pub(crate) cfg: SimConfig,
    pub(crate) step: u64,
    rng: ChaCha8Rng,
    // --- static, derived from the network ---
    pub(crate) n_lanes: u32,
    /// Per drivable, its length and speed limit side by side (the action phase reads both).
    pub(crate) drvs: Vec<DrvStatic>,
    pub(crate) lane_road: Vec<u32>,
    pub(crate) lane_index: Vec<u32>,
    pub(crate) link_to: Vec<u32>,
    pub(crate) link_from: Vec<u32>,
    pub(crate) link_turn: Vec<bool>,
    pub(crate) link_movement: Vec<u32>,
    /// Per lane, its outgoing lane links (link indices), contiguous: lane `l` owns
    /// `lane_out[lane_out_off[l]..lane_out_off[l + 1]]`.
    lane_out_off: Vec<u32>,
    lane_out: Vec<u32>,
    /// Per lane, the distinct roads its lane links lead to, contiguous like `lane_out`.
    lane_roads_off: Vec<u32>,
    lane_roads: Vec<u32>,
    // --- demand ---
    pub(crate) flows: Vec<Flow>,
    /// Every flow's route, end to end (flow `f` owns `routes[route_off[f]..route_off[f +
    /// 1]]`; `Flow::route` is empty here): the router reads routes every step, and one
    /// dense array keeps them in cache.
    routes: Vec<RoadId>,
    route_off: Vec<u32>,
    pub(crate) flow_kin: Vec<u32>,
    pub(crate) flow_free_time: Vec<f64>,
    /// Per flow: free-flow time elapsed at the start of each route road (plus the total).
    pub(crate) flow_free_prefix: Vec<Vec<f64>>,
    flow_rt: Vec<FlowRt>,
    /// Flow indices by start time (stable), the next one not yet started, and the
    /// started, unfinished flows in file order.
    flow_order: Vec<u32>,
    next_flow: usize,
    active_flows: Vec<u32>,
    pub(crate) kins: Vec<Kin>,
    // --- dynamic ---
    pub(crate) vs: Vec<Veh>,
    pub(crate) aux: Vec<VehAux>,
    pub(crate) acts: Vec<Act>,
    free_slots: Vec<u32>,
    pub(crate) waiting: Vec<VecDeque<u32>>,
    /// Per drivable, the front and back of its queue (`NONE` when empty) and its length.
    /// The queue runs from `head` through each vehicle's `Veh::behind` to `tail`.
    pub(crate) head: Vec<u32>,
    pub(crate) tail: Vec<u32>,
    pub(crate) qlen: Vec<u32>,
    /// Per lane, its front vehicle's next drivable as of the last look-ahead (or entry
    /// into the empty lane): what the crossing notification's lane scan needs of the
    /// front, without reading its state.
    pub(crate) head_next: Vec<u32>,
    /// Per lane, the lane link its last vehicle came off into it while that vehicle may
    /// still cover the link's far-end cross (`NONE` otherwise): the lane scan of the
    /// crossing notification reads the last vehicle only then.
    pub(crate) tail_from: Vec<u32>,
    /// The drivables whose queue is not empty (exactly those whose `head` is set), and
    /// the lanes whose entry buffer is not empty: the per-step passes visit only these.
    occupied: bits::Bits,
    buffered: bits::Bits,
    /// Per lane link, its crossing points (far end last), contiguous: link `i` owns
    /// `link_cross[link_cross_off[i]..link_cross_off[i + 1]]`.
    pub(crate) link_cross_off: Vec<u32>,
    pub(crate) link_cross: Vec<junction::LinkCross>,
    /// Per lane link, the distance from its far-end cross to its end (infinite without
    /// crosses), computed as the crossing notification computes it.
    pub(crate) link_far: Vec<f64>,
    /// Per crossing slot (indexed like `link_cross`), the vehicle notified this step.
    pub(crate) xs: Vec<junction::CrossSt>,
    /// Per lane link, the epoch of the last step in which a foe was notified at any of
    /// its crosses: a vehicle on a link without one skips the crossing checks.
    pub(crate) link_hit: junction::Hits,
    pub(crate) lights: Vec<Light>,
    /// Per movement: may go now.
    pub(crate) green: Vec<bool>,
    /// ATSPM preemption events the control layer reported (`signals::PreemptEvent`).
    pub(crate) preempt_log: Vec<signals::PreemptEvent>,
    // --- scratch, reused every step ---
    /// Per chunk of vehicle slots, the vehicles leaving their drivable this step.
    movers: Vec<Vec<u32>>,
    /// Per chunk of vehicle slots, the running vehicles whose action changes their state
    /// or adds to the statistics (every one but those at rest reusing their last action).
    live: Vec<Vec<u32>>,
    moved: Vec<(u32, f64)>,
    /// Non-empty drivables with their front vehicle's new leader and gap (the
    /// look-ahead), and their number of vehicles.
    fronts: Vec<(u32, u32, f64, u32)>,
    /// Per chunk of vehicle slots, what its live vehicles' actions add to the statistics
    /// (parallel apply).
    applied: Vec<Vec<apply::Applied>>,
    src_drvs: Vec<u32>,
    /// Vehicles leaving each drivable this step (non-zero only inside `update_location`).
    drv_leaving: Vec<u32>,
    /// Per drivable, the last step in which `update_location` listed it in `src_drvs`.
    drv_stamp: Vec<u64>,
    /// Per lane link, whether it is notified this step (empty between steps) and why.
    marked: bits::Bits,
    link_why: Vec<u8>,
    // --- observation ---
    pub(crate) stats: observe::Accum,
    pub(crate) events: Vec<SimEvent>,
    /// Vehicle id -> slot, kept only when events are recorded.
    pub(crate) id_slot: std::collections::HashMap<u64, u32>,
    // --- incidents and dispatched units (`incidents`, `units`) ---
    pub(crate) inc: incidents::IncState,
    pub(crate) units: units::Units,
    /// Lane changing, when on.
    pub(crate) lc: Option<Box<lanechange::LcSim>>,
    pub(crate) tele: teleport::Teleports,
}

impl Sim {
    /// Build a simulation of `scenario`. All signalised intersections start in phase 0 of
    /// their fixed-time plan.
    pub fn new(scenario: &Scenario, cfg: SimConfig) -> Sim {
        Sim::from_parts(scenario.network.clone(), scenario.demand.flows.clone(), cfg)
    }

    /// Build from owned parts (avoids copying a large network).
    pub fn from_parts(net: Network, mut flows: Vec<Flow>, mut cfg: SimConfig) -> Sim {
        if !(cfg.dt.is_finite() && cfg.dt > 0.0) {
            cfg.dt = 1.0;
        }
        cfg.threads = cfg.threads.max(1);
        cfg.lane_change |= cfg.strategic_lanes;
        let n_lanes = net.lanes.len() as u32;
        let n_drv = net.lanes.len() + net.lane_links.len();
        let mut drvs = Vec::with_capacity(n_drv);
        for l in &net.lanes {
            drvs.push(DrvStatic { len: l.length, max_speed: l.max_speed });
        }
        for ll in &net.lane_links {
            // CityFlow gives lane links no speed limit of their own.
            drvs.push(DrvStatic { len: ll.length, max_speed: 10000.0 });
        }
        let lane_road = net.lanes.iter().map(|l| l.road.0).collect();
        let lane_index = net.lanes.iter().map(|l| l.index).collect();
        let link_to = net.lane_links.iter().map(|l| l.to_lane.0).collect();
        let link_from = net.lane_links.iter().map(|l| l.from_lane.0).collect();
        let link_turn = net.lane_links.iter().map(|l| net.movement(l.movement).turn != city::Turn::Straight).collect();
        let link_movement = net.lane_links.iter().map(|l| l.movement.0).collect();
        let mut lane_out_off = Vec::with_capacity(net.lanes.len() + 1);
        let mut lane_out = Vec::with_capacity(net.lane_links.len());
        lane_out_off.push(0);
        let mut lane_roads_off = Vec::with_capacity(net.lanes.len() + 1);
        let mut lane_roads: Vec<u32> = Vec::new();
        lane_roads_off.push(0);
        for l in &net.lanes {
            lane_out.extend(l.lane_links.iter().map(|ll| ll.0));
            lane_out_off.push(lane_out.len() as u32);
            let start = lane_roads.len();
            for ll in &l.lane_links {
                let r = net.lanes[net.lane_links[ll.idx()].to_lane.idx()].road.0;
                if !lane_roads[start..].contains(&r) {
                    lane_roads.push(r);
                }
            }
            lane_roads_off.push(lane_roads.len() as u32);
        }

        // Deduplicate vehicle types: real datasets use one or a few.
        let mut kins: Vec<Kin> = Vec::new();
        let mut flow_kin = Vec::with_capacity(flows.len());
        for f in &flows {
            let k = match kins.iter().position(|k| k.p == f.params && k.limit == 1.0) {
                Some(k) => k,
                None => {
                    kins.push(Kin::new(f.params, cfg.dt));
                    kins.len() - 1
                }
            };
            flow_kin.push(k as u32);
        }
        let flow_free_prefix: Vec<Vec<f64>> = flows.iter().map(|f| flows::free_flow_prefix(&net, &f.params, &f.route)).collect();
        let flow_free_time = flow_free_prefix.iter().map(|p| p.last().copied().unwrap_or(0.0)).collect();
        let flow_rt = flows.iter().map(|f| FlowRt { now_time: f.interval, done: false, count: 0, issued: 0 }).collect();
        let mut flow_order: Vec<u32> = (0..flows.len() as u32).collect();
        flow_order.sort_by(|&a, &b| flows[a as usize].start.total_cmp(&flows[b as usize].start));
        // The routes move into the flat store (`Flow::route` is left empty inside a `Sim`).
        let (mut routes, mut route_off) = (Vec::new(), vec![0]);
        for f in &mut flows {
            push_route(&mut routes, &mut route_off, &std::mem::take(&mut f.route));
        }
        let (lights, green) = signals::init(&net);
        let n_roads = net.roads.len();
        let (link_cross_off, link_cross) = junction::flatten_crosses(&net);
        let n_slots = link_cross.len();
        let link_far = junction::far_cross_dists(&link_cross_off, &link_cross, &drvs[n_lanes as usize..]);
        let mut sim = Sim {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            step: 0,
            n_lanes,
            drvs,
            lane_road,
            lane_index,
            link_to,
            link_from,
            link_turn,
            link_movement,
            lane_out_off,
            lane_out,
            lane_roads_off,
            lane_roads,
            flow_kin,
            flow_free_time,
            flow_free_prefix,
            flow_rt,
            flow_order,
            next_flow: 0,
            active_flows: Vec::new(),
            flows,
            routes,
            route_off,
            kins,
            vs: Vec::new(),
            aux: Vec::new(),
            acts: Vec::new(),
            free_slots: Vec::new(),
            waiting: vec![VecDeque::new(); n_lanes as usize],
            head: vec![NONE; n_drv],
            tail: vec![NONE; n_drv],
            qlen: vec![0; n_drv],
            head_next: vec![NONE; n_lanes as usize],
            tail_from: vec![NONE; n_lanes as usize],
            occupied: bits::Bits::new(n_drv),
            buffered: bits::Bits::new(n_lanes as usize),
            marked: bits::Bits::new(net.lane_links.len()),
            link_cross_off,
            link_cross,
            link_far,
            xs: vec![junction::CrossSt::default(); n_slots],
            link_hit: junction::Hits::new(net.lane_links.len()),
            lights,
            green,
            preempt_log: Vec::new(),
            movers: Vec::new(),
            live: Vec::new(),
            moved: Vec::new(),
            fronts: Vec::new(),
            applied: Vec::new(),
            src_drvs: Vec::new(),
            drv_leaving: vec![0; n_drv],
            drv_stamp: vec![u64::MAX; n_drv],
            link_why: vec![0; net.lane_links.len()],
            stats: observe::Accum::new(n_roads),
            events: Vec::new(),
            id_slot: Default::default(),
            inc: Default::default(),
            units: units::Units::new(cfg.seed),
            lc: None,
            tele: Default::default(),
            net,
            cfg,
        };
        if cfg.lane_change {
            sim.lc = Some(Box::new(lanechange::LcSim::new(&sim)));
        }
        sim
    }

    /// Advance one step of `dt` seconds.
    pub fn step(&mut self) {
        self.events.clear();
        if self.time() >= self.next_incident_time() {
            self.process_incidents();
        }
        if self.step > 0 && self.step.is_multiple_of(compact::COMPACT_EVERY) {
            self.compact();
        }
        if self.cfg.teleport_after.is_some() {
            self.resolve_jams();
        }
        self.release_flows();
        if self.lc.is_some() {
            self.lc_place_pending();
        }
        self.handle_waiting();
        if self.lc.is_some() {
            self.lc_plan();
        }
        self.notify_crosses();
        self.get_action();
        self.update_location();
        self.update_action();
        if self.lc.is_some() {
            self.lc_clear_signals();
        }
        self.update_leaders();
        self.pass_time();
        self.step += 1;
        self.record_series();
    }

    /// Simulated seconds since the start.
    pub fn time(&self) -> f64 {
        self.step as f64 * self.cfg.dt
    }
    pub fn steps(&self) -> u64 {
        self.step
    }
    pub fn dt(&self) -> f64 {
        self.cfg.dt
    }
    pub fn network(&self) -> &Network {
        &self.net
    }
    /// The roads of flow `flow`'s route (empty for an unknown flow).
    pub fn flow_route(&self, flow: u32) -> &[RoadId] {
        if flow as usize + 1 >= self.route_off.len() {
            return &[];
        }
        self.route(flow)
    }
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    #[inline]
    pub(crate) fn is_link(&self, d: u32) -> bool {
        d >= self.n_lanes
    }
    #[inline]
    pub(crate) fn route(&self, flow: u32) -> &[RoadId] {
        &self.routes[self.route_off[flow as usize] as usize..self.route_off[flow as usize + 1] as usize]
    }
    #[inline]
    pub(crate) fn kin(&self, v: u32) -> &Kin {
        &self.kins[self.vs[v as usize].kin as usize]
    }
    /// Whether vehicles may enter lane link `d` (a drivable index) now.
    #[inline]
    pub(crate) fn link_available(&self, d: u32) -> bool {
        self.green[self.link_movement[(d - self.n_lanes) as usize] as usize] || (self.inc.active && self.link_fault(d).is_some())
    }

    /// CityFlow's router: the drivable after `drv` for a vehicle of `flow` on route
    /// position `pos`. From a lane, pick the lane link to the next road whose end lane
    /// continues to the road after, closest in lane index; from a lane link, its end lane.
    pub(crate) fn next_of(&self, flow: u32, pos: u32, drv: u32) -> u32 {
        if self.is_link(drv) {
            return self.link_to[(drv - self.n_lanes) as usize];
        }
        let route = self.route(flow);
        let pos = pos as usize;
        if pos + 1 >= route.len() {
            return NONE;
        }
        let r1 = route[pos + 1].0;
        let r2 = route.get(pos + 2).map(|r| r.0);
        let cur = self.lane_index[drv as usize] as i64;
        let (mut best, mut best_diff) = (NONE, i64::MAX);
        for &ll in self.out_links(drv) {
            let to = self.link_to[ll as usize];
            if self.lane_road[to as usize] != r1 {
                continue;
            }
            if let Some(r2) = r2 {
                if !self.lane_leads_to(to, r2) {
                    continue;
                }
            }
            let mut diff = (self.lane_index[to as usize] as i64 - cur).abs();
            if self.inc.active && self.lane_blocked(to) {
                // Avoid a blocked end lane when another one continues the route.
                diff += 1 << 20;
            }
            if diff < best_diff {
                best_diff = diff;
                best = self.n_lanes + ll;
            }
        }
        if best == NONE && self.cfg.strategic_lanes {
            return self.next_of_loose(drv, r1, r2);
        }
        best
    }

    pub(crate) fn lane_leads_to(&self, lane: u32, road: u32) -> bool {
        let (lo, hi) = (self.lane_roads_off[lane as usize] as usize, self.lane_roads_off[lane as usize + 1] as usize);
        self.lane_roads[lo..hi].contains(&road)
    }

    /// The lane links (link indices) leaving `lane`.
    #[inline]
    pub(crate) fn out_links(&self, lane: u32) -> &[u32] {
        &self.lane_out[self.lane_out_off[lane as usize] as usize..self.lane_out_off[lane as usize + 1] as usize]
    }

    /// Append `v`, coming from its current drivable (its action not applied yet), to the
    /// back of drivable `d`'s queue.
    #[inline]
    pub(crate) fn q_push(&mut self, d: u32, v: u32) {
        if d < self.n_lanes {
            // Once its action is applied, its current drivable is its `prev_drv`.
            self.tail_from[d as usize] = self.link_into(self.vs[v as usize].drv, d);
        }
        let d = d as usize;
        let t = self.tail[d];
        if t != NONE {
            self.vs[t as usize].behind = v;
        }
        self.qlen[d] += 1;
        // It follows the old last vehicle; a front gets its leader in `update_leaders`.
        let s = &mut self.vs[v as usize];
        s.leader = t;
        s.front = t == NONE;
        s.behind = NONE;
        if t == NONE {
            self.head[d] = v;
            self.occupied.insert(d);
        }
        self.tail[d] = v;
    }

    /// The vehicles on drivable `d`, front first.
    #[inline]
    pub(crate) fn queue(&self, d: usize) -> Queue<'_> {
        Queue { vs: &self.vs, cur: self.head[d] }
    }

    /// Remove the front of drivable `d`'s queue.
    #[inline]
    pub(crate) fn q_pop(&mut self, d: u32) {
        let d = d as usize;
        self.head[d] = self.vs[self.head[d] as usize].behind;
        self.qlen[d] -= 1;
        if self.lc.is_some() && self.head[d] != NONE {
            // The new front loses its leader: CityFlow keeps the gap it had to it.
            let h = self.head[d];
            self.vs[h as usize].gap = self.gap_of(h);
        }
        if self.head[d] == NONE {
            self.tail[d] = NONE;
            self.occupied.remove(d);
        }
    }

    /// Sum over drivables of vehicles plus entry buffers; for tests of conservation.
    pub fn vehicles_present(&self) -> usize {
        self.qlen.iter().map(|&n| n as usize).sum::<usize>() + self.waiting.iter().map(|q| q.len()).sum::<usize>()
    }

    /// Bytes of heap held by dynamic vehicle state (arena, buffers, queues).
    pub fn dynamic_bytes(&self) -> usize {
        let qs: usize = self.waiting.iter().map(|q| q.capacity() * 4).sum();
        self.vs.capacity() * std::mem::size_of::<Veh>()
            + self.aux.capacity() * std::mem::size_of::<VehAux>()
            + self.acts.capacity() * std::mem::size_of::<Act>()
            + qs
    }
}

#[cfg(test)]
mod incident_tests;
#[cfg(test)]
mod lanechange_tests;
#[cfg(test)]
mod tests;

/// Append `route` to the flat route store.
pub(crate) fn push_route(routes: &mut Vec<RoadId>, route_off: &mut Vec<u32>, route: &[RoadId]) {
    routes.extend_from_slice(route);
    route_off.push(routes.len() as u32);
}
