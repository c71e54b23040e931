//! CityFlow's lane changing (`laneChange: true`, `SimpleLaneChange` in its
//! `vehicle/lanechange.cpp`), step for step, with the shadow vehicles it uses.
//!
//! ## The model (CityFlow's)
//! - **Signal** (`makeSignal`, every real running vehicle on a lane, each step): a vehicle
//!   at least 30 m before its lane's end, whose gap to its leader is between 1.5 vehicle
//!   lengths and `2 len + 4 dt maxSpeed`, targets the adjacent lane (outer first, then
//!   inner if better) whose estimated gap beats its own by a vehicle length, provided the
//!   route continues from that lane (or it is on its last road). Not within 3 s of the
//!   vehicle's last completed change (the cooling time).
//! - **Scheduling** (`scheduleLaneChange`): the signalling vehicles, in CityFlow's buffer
//!   order, find their target leader and follower in the target lane (through the lane's
//!   *segments*, 70 m buckets), send them the signal (a receiver keeps the signal of the
//!   highest priority sender, unless it signals itself with a higher priority), and a
//!   vehicle that received none and has room (`isGapValid`) starts changing: a **shadow**
//!   copy of it is inserted into the target lane before its target follower.
//! - **Driving**: the real vehicle and its shadow each compute their next speed in their
//!   own lane; both take the lower one and move the same distance. A vehicle holding a
//!   signal yields to its sender (no-collision speed behind it). The real vehicle's
//!   lateral offset grows by `max(0.2 v, 1) dt` per step; at half the two lanes' widths the
//!   change is complete: the real vehicle leaves and the shadow becomes the vehicle (with a
//!   fresh lane-change state). A shadow that would enter a lane link aborts the change.
//! - **Travel time** (CityFlow's `getAverageTravelTime`): a shadow counts as a vehicle in
//!   the network while it exists, and a shadow that leaves (an aborted change, or the end
//!   of its route) counts as a finished trip. The twin reproduces this in
//!   `Metrics::average_travel_time_s` only; throughput and the other metrics count real
//!   vehicles.
//!
//! ## Where the twin differs, deliberately (CityFlow's issue #171)
//! CityFlow has undefined behaviour in two corners of this model; the twin defines it:
//! - a changing vehicle whose route ends (or that enters a lane link) while its shadow
//!   stays: CityFlow keeps a pointer to the deleted vehicle (use after free; it may crash).
//!   The twin ends the change there: the shadow stays a shadow without a partner until it
//!   leaves (counted as CityFlow counts a leaving shadow).
//! - a changing vehicle on a lane link (its lane ended under it): CityFlow reads the
//!   current lane as a lane (`dynamic_cast` to null, then dereferenced). The twin aborts
//!   the change as it would for its shadow, so no change is ever in progress off a lane.
//!
//! ## What the twin cannot know of CityFlow
//! CityFlow visits its vehicles in a `std::set<Vehicle *>`, i.e. in order of heap address,
//! and sorts the lane-change buffer with an unstable sort. The twin visits them in order
//! of creation (`Lc::seq`), the order a growing heap hands out addresses, then applies
//! libstdc++'s sort permutation for equal keys ([`super::cfrand::sort_all_equal`]).
//! Where a freed vehicle's memory is reused, CityFlow's order differs; so does a new
//! vehicle's `gap` before it ever had a leader (CityFlow leaves it uninitialised; the
//! twin starts it at 0).

use std::collections::HashSet;

use super::cfrand::{priority_key, sort_all_equal, Mt19937};
use super::{Sim, NONE};

/// `LaneChange::coolingTime`.
const COOLING_S: f64 = 3.0;
/// A vehicle with an emergency vehicle this close behind it on its lane moves aside.
pub const YIELD_M: f64 = 80.0;
/// A vehicle moves aside into a lane its route does not continue from only with this
/// much of its lane left (room to return once the emergency vehicle has passed).
pub const ASIDE_REST_M: f64 = 60.0;
/// No signal within this distance of the lane's end.
const MIN_REST_M: f64 = 30.0;
/// Segment length: CityFlow's default vehicle (5 m + 2 m gap) times
/// `MAX_NUM_CARS_ON_SEGMENT` (10).
const SEGMENT_M: f64 = (5.0 + 2.0) * 10.0;

/// A lane-change signal (`LaneChange::Signal`): the target lane (`NONE`: none), urgency
/// and direction (1 outer, -1 inner, 0 none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Signal {
    pub target: u32,
    pub urgency: i32,
    pub direction: i8,
}

/// Per vehicle slot: CityFlow's `LaneChangeInfo` and `LaneChange` state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lc {
    /// The partner: the shadow of a real vehicle changing lanes, or a shadow's real vehicle.
    pub partner: u32,
    /// `partnerType`: 0 none, 1 a real vehicle with a shadow, 2 a shadow.
    pub kind: u8,
    pub offset: f64,
    /// `segmentIndex`.
    pub seg: u32,
    pub send: Option<Signal>,
    /// The sender whose signal this vehicle holds (`signalRecv->source`).
    pub recv: u32,
    pub target_leader: u32,
    pub target_follower: u32,
    pub leader_gap: f64,
    pub follower_gap: f64,
    pub changing: bool,
    pub finished: bool,
    pub last_change: f64,
    pub last_dir: i8,
    /// Creation order (stands for CityFlow's heap-address order).
    pub seq: u64,
    /// A shadow whose vehicle's change ended where CityFlow is undefined: it leaves.
    pub orphan: bool,
    /// The raw priority draw (CityFlow keeps priorities unique).
    pub prio: u32,
    /// It signalled to move aside for an emergency vehicle into a lane its route does
    /// not continue from: it returns once the vehicle has passed (`return_signal`).
    pub aside: bool,
}

impl Lc {
    fn new(seq: u64, prio: u32) -> Lc {
        Lc {
            partner: NONE,
            kind: 0,
            offset: 0.0,
            seg: 0,
            send: None,
            recv: NONE,
            target_leader: NONE,
            target_follower: NONE,
            leader_gap: f64::MAX,
            follower_gap: f64::MAX,
            changing: false,
            finished: false,
            last_change: 0.0,
            last_dir: 0,
            seq,
            orphan: false,
            prio,
            aside: false,
        }
    }
}

/// The lane-change state of a simulation (present only with lane changing on).
#[derive(Clone, Debug)]
pub(crate) struct LcSim {
    pub v: Vec<Lc>,
    pub rng: Mt19937,
    prios: HashSet<u32>,
    seq: u64,
    /// Vehicles released this step, waiting for their entry-lane draw: (flow, time,
    /// priority draw, creation order).
    pub pending: Vec<(u32, f64, u32, u64)>,
    /// Per road, its number of segments.
    road_segs: Vec<u32>,
    /// Per lane, its vehicles in segment-list order (segments from the last, each in
    /// its list order), rebuilt each step.
    pub seg_order: Vec<Vec<u32>>,
    /// Per lane, the step its segments were last built in (they are built on first use
    /// in a step, before any shadow enters the lane, so as `initSegments` at the step's
    /// start would have built them).
    seg_stamp: Vec<u64>,
    buffer: Vec<u32>,
    /// Scratch of the action phase: the vehicles lane changing touches, as `(seq, slot)`.
    pub involved: Vec<(u64, u32)>,
    /// Scratch of the action phase (`get_action_lc`).
    pub set: Vec<Option<f64>>,
    /// Lane changes completed.
    pub completed: u64,
    /// Changes ended where CityFlow's behaviour is undefined (see the module docs).
    pub undefined: u64,
    /// Changes completed aside for an emergency vehicle into a lane the route does not
    /// continue from, and changes back from such a lane.
    pub asides: u64,
    pub returns: u64,
    /// This step's running emergency vehicles: (drivable, distance, slot); empty
    /// without one.
    pub evs: Vec<(u32, f64, u32)>,
}

impl LcSim {
    pub fn new(sim: &Sim) -> LcSim {
        let road_segs = sim
            .net
            .roads
            .iter()
            .map(|r| {
                let len: f64 = r
                    .points
                    .windows(2)
                    .map(|w| {
                        let (x, y) = (w[1].x - w[0].x, w[1].y - w[0].y);
                        (x * x + y * y).sqrt()
                    })
                    .sum();
                ((len / SEGMENT_M).ceil() as u32).max(1)
            })
            .collect();
        LcSim {
            v: Vec::new(),
            rng: Mt19937::new(sim.cfg.seed as u32),
            prios: HashSet::new(),
            seq: 0,
            pending: Vec::new(),
            road_segs,
            seg_order: vec![Vec::new(); sim.n_lanes as usize],
            seg_stamp: vec![u64::MAX; sim.n_lanes as usize],
            buffer: Vec::new(),
            involved: Vec::new(),
            set: Vec::new(),
            completed: 0,
            undefined: 0,
            asides: 0,
            returns: 0,
            evs: Vec::new(),
        }
    }

    /// CityFlow's priority draw: repeated until no vehicle in the network has it.
    pub fn draw_priority(&mut self) -> u32 {
        loop {
            let p = self.rng.next_u32();
            if !self.prios.contains(&p) {
                return p;
            }
        }
    }

    /// Give slot `slot` a fresh state (a new vehicle with raw priority `prio`).
    pub fn init_slot(&mut self, slot: u32, prio: u32, seq: Option<u64>) {
        if self.v.len() <= slot as usize {
            self.v.resize(slot as usize + 1, Lc::new(0, 0));
        }
        let seq = seq.unwrap_or_else(|| self.next_seq());
        self.v[slot as usize] = Lc::new(seq, prio);
        self.prios.insert(prio);
    }

    /// A drawn priority is taken from now on (CityFlow adds the vehicle to its pool at once).
    pub fn reserve_priority(&mut self, prio: u32) {
        self.prios.insert(prio);
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn free_slot(&mut self, slot: u32) {
        if let Some(l) = self.v.get(slot as usize) {
            self.prios.remove(&l.prio);
        }
    }

    /// Slots were renumbered: `order[i]` is the old slot of new slot `i`, `new_of` the map.
    pub fn remap(&mut self, order: &[u32], new_of: &[u32], live: usize) {
        let old = std::mem::take(&mut self.v);
        let remap = |v: u32| if v == NONE || v as usize >= new_of.len() { NONE } else { new_of[v as usize] };
        self.v = order[..live]
            .iter()
            .map(|&o| {
                let mut l = old.get(o as usize).copied().unwrap_or(Lc::new(0, 0));
                l.partner = remap(l.partner);
                l.recv = remap(l.recv);
                l.target_leader = remap(l.target_leader);
                l.target_follower = remap(l.target_follower);
                l
            })
            .collect();
    }
}

impl Sim {
    /// A vehicle is a lane-change shadow (not a real vehicle).
    #[inline]
    pub(crate) fn is_shadow(&self, v: u32) -> bool {
        self.lc.as_ref().is_some_and(|lc| lc.v[v as usize].kind == 2)
    }

    /// CityFlow's `controllerInfo.gap` of vehicle `v`: to its leader when it has one, else
    /// the last gap it had (CityFlow leaves the gap unchanged when no leader is found).
    #[inline]
    pub(crate) fn cf_gap(&self, v: u32) -> f64 {
        if self.vs[v as usize].leader != NONE {
            self.gap_of(v)
        } else {
            self.vs[v as usize].gap
        }
    }

    /// Place this step's released vehicles into entry buffers, drawing their entry lanes
    /// as CityFlow's `planRoute` does: road by road, in order of creation within a road.
    pub(super) fn lc_place_pending(&mut self) {
        let Some(lc) = self.lc.as_mut() else { return };
        let mut pending = std::mem::take(&mut lc.pending);
        if pending.is_empty() {
            lc.pending = pending;
            return;
        }
        pending.sort_unstable_by_key(|&(f, _, _, seq)| (self.routes[self.route_off[f as usize] as usize].0, seq));
        for &(flow, t, prio, seq) in &pending {
            let route = self.route(flow);
            let road = self.net.road(route[0]);
            let mut lanes: Vec<u32> = if route.len() == 1 {
                road.lanes().map(|l| l.0).collect()
            } else {
                let r1 = route[1].0;
                road.lanes().map(|l| l.0).filter(|&l| self.lane_leads_to(l, r1)).collect()
            };
            self.strategic_entry(flow, &mut lanes);
            let lanes = if lanes.is_empty() { vec![road.first_lane.0] } else { lanes };
            let draw = self.lc.as_mut().expect("on").rng.next_u32();
            let lane = lanes[(draw as usize) % lanes.len()];
            // SUMO's departLane, if the flow asks for one (`depart.rs`).
            let lane = self.depart_lane_at_release(flow).unwrap_or(lane);
            let slot = self.insert_vehicle(flow, t, lane, priority_key(prio), false);
            let lc = self.lc.as_mut().expect("on");
            lc.v[slot as usize].seq = seq;
        }
        pending.clear();
        self.lc.as_mut().expect("on").pending = pending;
    }

    /// `initSegments`, `planLaneChange` (signals, then `scheduleLaneChange`) and the
    /// leader update that follows them in CityFlow's `nextStep`.
    pub(super) fn lc_plan(&mut self) {
        let Some(mut lc) = self.lc.take() else { return };
        // Signals, for every real running vehicle (the order does not matter).
        let now = self.time();
        lc.buffer.clear();
        // Emergency vehicles on lanes now (only while one runs; else nothing changes).
        lc.evs.clear();
        if self.units.has_emergency() {
            let evs = self
                .units
                .emergency_slots()
                .filter(|&e| self.vs[e as usize].running)
                .map(|e| (self.vs[e as usize].drv, self.vs[e as usize].dis, e))
                .collect();
            lc.evs = evs;
        }
        for v in 0..self.vs.len() as u32 {
            if !self.vs[v as usize].running || lc.v[v as usize].kind == 2 {
                continue;
            }
            self.make_signal(&mut lc, v, now);
            if plan_change(&lc.v[v as usize], self.vs[v as usize].drv) {
                lc.buffer.push(v);
            }
        }
        let mut buffer = std::mem::take(&mut lc.buffer);
        // Every lane the scheduling reads gets its segments before any shadow enters one.
        for &v in &buffer {
            self.ensure_segments(&mut lc, self.vs[v as usize].drv);
            if let Some(sig) = lc.v[v as usize].send {
                self.ensure_segments(&mut lc, sig.target);
            }
        }
        buffer.sort_unstable_by_key(|&v| lc.v[v as usize].seq);
        let urgency = |v: &u32| lc.v[*v as usize].send.map_or(0, |s| s.urgency);
        if buffer.iter().all(|v| urgency(v) == urgency(&buffer[0])) {
            sort_all_equal(&mut buffer);
        } else {
            // Only with incidents (urgency 2, the twin's own): the most urgent first.
            buffer.sort_by_key(|v| std::cmp::Reverse(urgency(v)));
        }
        for &v in &buffer {
            self.update_neighbors(&mut lc, v);
            let l = lc.v[v as usize];
            for r in [l.target_leader, l.target_follower] {
                if r != NONE {
                    self.receive_signal(&mut lc, r, v);
                }
            }
            let l = lc.v[v as usize];
            if plan_change(&l, self.vs[v as usize].drv)
                && l.send.is_some()
                && l.recv == NONE
                && !l.changing
                && self.gap_valid(&lc, v)
                && !self.is_link(self.vs[v as usize].drv)
            {
                self.insert_shadow(&mut lc, v);
            }
        }
        lc.buffer = buffer;
        self.lc = Some(lc);
        self.refresh_leaders();
    }

    /// `Lane::initSegments` of lane `l` (a lane or nothing), once per step: each vehicle's
    /// segment, and the lane's vehicles in segment-list order.
    pub(super) fn ensure_segments(&self, lc: &mut LcSim, l: u32) {
        if l == NONE || self.is_link(l) || lc.seg_stamp[l as usize] == self.step {
            return;
        }
        let l = l as usize;
        lc.seg_stamp[l] = self.step;
        lc.seg_order[l].clear();
        let n = lc.road_segs[self.lane_road[l] as usize];
        let len = self.drvs[l].len;
        let mut i = n - 1;
        let mut start = i as f64 * len / n as f64;
        for v in self.queue(l) {
            let dis = self.vs[v as usize].dis;
            while i > 0 && dis < start {
                i -= 1;
                start = i as f64 * len / n as f64;
            }
            lc.v[v as usize].seg = i;
            lc.seg_order[l].push(v);
        }
    }

    /// `Lane::getVehicleAfterDistance`: scanning segments from `seg` up, each from its
    /// back, the first vehicle at or after `dis`.
    fn vehicle_after(&self, lc: &LcSim, lane: u32, dis: f64, seg: u32) -> u32 {
        let order = &lc.seg_order[lane as usize];
        // Segments never increase along the list: the first of a lower segment by bisection.
        let end = order.partition_point(|&v| lc.v[v as usize].seg >= seg);
        order[..end].iter().rev().copied().find(|&v| self.vs[v as usize].dis >= dis).unwrap_or(NONE)
    }

    /// `Lane::getVehicleBeforeDistance`: scanning segments from `seg` down, each from its
    /// front, the first vehicle before `dis`.
    fn vehicle_before(&self, lc: &LcSim, lane: u32, dis: f64, seg: u32) -> u32 {
        let order = &lc.seg_order[lane as usize];
        let start = order.partition_point(|&v| lc.v[v as usize].seg > seg);
        order[start..].iter().copied().find(|&v| self.vs[v as usize].dis < dis).unwrap_or(NONE)
    }

    /// The lane next to `lane` on its road, outer (`+1`) or inner (`-1`), if any.
    pub(super) fn side_lane(&self, lane: u32, dir: i32) -> u32 {
        let road = &self.net.roads[self.lane_road[lane as usize] as usize];
        let idx = self.lane_index[lane as usize] as i64 + dir as i64;
        if idx < 0 || idx >= road.lane_count as i64 {
            NONE
        } else {
            road.first_lane.0 + idx as u32
        }
    }

    /// `SimpleLaneChange::makeSignal`.
    fn make_signal(&self, lc: &mut LcSim, v: u32, now: f64) {
        let l = &lc.v[v as usize];
        if l.changing || now - l.last_change < COOLING_S {
            return;
        }
        if self.inc.active {
            if let Some(sig) = self.blocked_lane_signal(lc, v) {
                lc.v[v as usize].send = Some(sig);
                return;
            }
        }
        if !lc.evs.is_empty() {
            if let Some(sig) = self.yield_signal(lc, v) {
                lc.v[v as usize].send = Some(sig);
                return;
            }
        }
        if lc.v[v as usize].aside {
            match self.return_signal(lc, v) {
                Some(Some(sig)) => {
                    lc.v[v as usize].send = Some(sig);
                    return;
                }
                Some(None) => return,
                None => lc.v[v as usize].aside = false,
            }
        }
        if self.cfg.strategic_lanes {
            if let Some(sig) = self.route_signal(v) {
                lc.v[v as usize].send = Some(sig);
                return;
            }
        }
        let mut sig = Signal { target: NONE, urgency: 0, direction: 0 };
        let s = &self.vs[v as usize];
        let mut full = true;
        if !self.is_link(s.drv) {
            let k = self.kin(v);
            let cur = s.drv;
            let len = self.drvs[cur as usize].len;
            let gap = self.cf_gap(v);
            let expected = 2.0 * k.p.length + 4.0 * self.cfg.dt * k.p.max_speed;
            if len - s.dis < MIN_REST_M || gap > expected || gap < 1.5 * k.p.length {
                full = false;
            } else {
                self.ensure_segments(lc, cur);
                let last_road = s.route_pos as usize + 1 == self.route(s.flow).len();
                let cur_est = gap;
                let mut outer_est = 0.0;
                let outer = self.side_lane(cur, 1);
                if outer != NONE && (last_road || self.may_change_to(v, outer)) {
                    self.ensure_segments(lc, outer);
                    outer_est = self.estimate_gap(lc, v, outer);
                    if outer_est > cur_est + k.p.length {
                        sig.target = outer;
                    }
                }
                let inner = self.side_lane(cur, -1);
                if inner != NONE && (last_road || self.may_change_to(v, inner)) {
                    self.ensure_segments(lc, inner);
                    let inner_est = self.estimate_gap(lc, v, inner);
                    if inner_est > cur_est + k.p.length && inner_est > outer_est {
                        sig.target = inner;
                    }
                }
                sig.urgency = 1;
            }
        }
        if full {
            // `LaneChange::makeSignal`: the direction.
            sig.direction = if self.is_link(s.drv) || sig.target == NONE {
                0
            } else if sig.target == self.side_lane(s.drv, 1) {
                1
            } else if sig.target == self.side_lane(s.drv, -1) {
                -1
            } else {
                0
            };
        }
        lc.v[v as usize].send = Some(sig);
    }

    /// The twin's addition to CityFlow's model: a vehicle whose lane an incident blocks
    /// ahead of it signals (urgency 2, ahead of CityFlow's 1) for an adjacent lane that is
    /// not blocked there and from which its route continues, whatever its gap to its
    /// leader and however close the lane's end. The usual rules then apply: it changes
    /// only when it received no other signal and the gaps are safe.
    fn blocked_lane_signal(&self, lc: &mut LcSim, v: u32) -> Option<Signal> {
        let s = &self.vs[v as usize];
        if self.is_link(s.drv) || self.inc.lane_blocks.is_empty() {
            return None;
        }
        let back = self.block_ahead_of(s.drv, s.dis, v)?;
        self.ensure_segments(lc, s.drv);
        let last_road = s.route_pos as usize + 1 == self.route(s.flow).len();
        let mut best: Option<(f64, u32, i8)> = None;
        for dir in [1i8, -1] {
            let lane = self.side_lane(s.drv, dir as i32);
            if lane == NONE || !(last_road || self.next_of(s.flow, s.route_pos, lane) != NONE) {
                continue;
            }
            // Not blocked where the vehicle would drive past its own lane's obstacle.
            if self.block_ahead_of(lane, s.dis, NONE).is_some_and(|b| b <= back + self.kin(v).p.length) {
                continue;
            }
            self.ensure_segments(lc, lane);
            let est = self.estimate_gap(lc, v, lane);
            if best.is_none_or(|b| est > b.0) {
                best = Some((est, lane, dir));
            }
        }
        best.map(|(_, target, direction)| Signal { target, urgency: 2, direction })
    }

    /// The twin's addition for emergency vehicles (issue 17): a vehicle with an emergency
    /// vehicle behind it on its lane, closer than [`YIELD_M`], moves aside: it signals
    /// (urgency 2) for the adjacent lane with the largest gap from which its route
    /// continues. Where no adjacent lane continues its route (every movement has its own
    /// lane), it moves aside into a free adjacent lane all the same when at least
    /// [`ASIDE_REST_M`] of its lane are left, and returns to a lane of its route once the
    /// emergency vehicle has passed (`return_signal`; until then it stops at that lane's
    /// end if it must). The usual rules then apply (no other signal received, safe gaps),
    /// so a vehicle only yields where a lane is free.
    fn yield_signal(&self, lc: &mut LcSim, v: u32) -> Option<Signal> {
        let s = &self.vs[v as usize];
        if self.is_link(s.drv) {
            return None;
        }
        let behind = lc.evs.iter().any(|&(d, dis, e)| e != v && d == s.drv && dis < s.dis && s.dis - dis < YIELD_M);
        if !behind {
            return None;
        }
        self.ensure_segments(lc, s.drv);
        let last_road = s.route_pos as usize + 1 == self.route(s.flow).len();
        let rest = self.drvs[s.drv as usize].len - s.dis;
        // (continues its route, gap): a lane that continues the route first.
        let mut best: Option<((bool, f64), u32, i8)> = None;
        for dir in [1i8, -1] {
            let lane = self.side_lane(s.drv, dir as i32);
            if lane == NONE {
                continue;
            }
            let continues = last_road || self.next_of(s.flow, s.route_pos, lane) != NONE;
            if !continues && rest < ASIDE_REST_M {
                continue;
            }
            if lc.evs.iter().any(|&(d, _, _)| d == lane) {
                continue;
            }
            self.ensure_segments(lc, lane);
            let est = self.estimate_gap(lc, v, lane);
            let key = (continues, est);
            if best.is_none_or(|b| key > b.0) {
                best = Some((key, lane, dir));
            }
        }
        let ((continues, _), target, direction) = best?;
        if !continues {
            lc.v[v as usize].aside = true;
        }
        Some(Signal { target, urgency: 2, direction })
    }

    /// A vehicle that moved aside (`yield_signal`) into a lane its route does not
    /// continue from: `None` once it is back on a lane of its route; `Some(None)` (wait)
    /// while an emergency vehicle on the lane it returns to has not passed it; else its
    /// signal towards the nearest lane of its route (urgency 3).
    fn return_signal(&self, lc: &LcSim, v: u32) -> Option<Option<Signal>> {
        let s = &self.vs[v as usize];
        if self.is_link(s.drv) {
            return Some(None);
        }
        let sig = self.route_signal(v)?;
        let passed = lc.evs.iter().all(|&(d, dis, _)| d != sig.target || dis > s.dis + self.kin(v).p.length);
        Some(passed.then_some(Signal { urgency: 3, ..sig }))
    }

    /// `SimpleLaneChange::estimateGap`.
    fn estimate_gap(&self, lc: &LcSim, v: u32, lane: u32) -> f64 {
        let s = &self.vs[v as usize];
        let leader = self.vehicle_after(lc, lane, s.dis, lc.v[v as usize].seg);
        if leader == NONE {
            self.drvs[lane as usize].len - s.dis
        } else {
            let l = &self.vs[leader as usize];
            l.dis - s.dis - self.kins[l.kin as usize].p.length
        }
    }

    /// `LaneChange::updateLeaderAndFollower`.
    fn update_neighbors(&self, lc: &mut LcSim, v: u32) {
        let target = lc.v[v as usize].send.map_or(NONE, |s| s.target);
        let s = &self.vs[v as usize];
        let seg = lc.v[v as usize].seg;
        let mut leader = self.vehicle_after(lc, target, s.dis, seg);
        let (mut leader_gap, follower_gap);
        if leader == NONE {
            let rest = self.drvs[s.drv as usize].len - s.dis;
            leader_gap = rest;
            let mut gap = f64::MAX;
            for &ll in self.out_links(target) {
                let c = self.tail[(self.n_lanes + ll) as usize];
                if c != NONE {
                    let cv = &self.vs[c as usize];
                    let clen = self.kins[cv.kin as usize].p.length;
                    if cv.dis + rest < gap {
                        gap = cv.dis + rest;
                        if gap < clen {
                            leader = c;
                            leader_gap = rest - (clen - gap);
                        }
                    }
                }
            }
        } else {
            let l = &self.vs[leader as usize];
            leader_gap = l.dis - s.dis - self.kins[l.kin as usize].p.length;
        }
        let follower = self.vehicle_before(lc, target, s.dis, seg);
        if follower != NONE {
            follower_gap = s.dis - self.vs[follower as usize].dis - self.kin(v).p.length;
        } else {
            follower_gap = f64::MAX;
        }
        let l = &mut lc.v[v as usize];
        l.target_leader = leader;
        l.target_follower = follower;
        l.leader_gap = leader_gap;
        l.follower_gap = follower_gap;
    }

    /// `Vehicle::receiveSignal`: `r` receives `sender`'s signal.
    fn receive_signal(&self, lc: &mut LcSim, r: u32, sender: u32) {
        let rl = &lc.v[r as usize];
        if rl.changing {
            return;
        }
        if self.cfg.strategic_lanes {
            // Urgency first, then priority (see `strategic.rs`).
            let new = self.signal_rank(lc, sender);
            if (rl.recv == NONE || self.signal_rank(lc, rl.recv) < new) && self.signal_rank(lc, r) < new {
                lc.v[r as usize].recv = sender;
            }
            return;
        }
        let cur = if rl.recv != NONE { self.aux[rl.recv as usize].priority } else { priority_key(-1i32 as u32) };
        let new = self.aux[sender as usize].priority;
        if (rl.recv == NONE || cur < new) && (rl.send.is_none() || self.aux[r as usize].priority < new) {
            lc.v[r as usize].recv = sender;
        }
    }

    /// `LaneChange::isGapValid`.
    fn gap_valid(&self, lc: &LcSim, v: u32) -> bool {
        let l = &lc.v[v as usize];
        let safe_after = self.kin(v).min_brake_distance(self.vs[v as usize].speed);
        let safe_before = if l.target_follower != NONE {
            self.kin(l.target_follower).min_brake_distance(self.vs[l.target_follower as usize].speed)
        } else {
            0.0
        };
        l.leader_gap >= safe_after && l.follower_gap >= safe_before
    }

    /// Lane changes that ended where CityFlow's behaviour is undefined (its issue #171;
    /// the twin's handling is in `lanechange.rs`).
    pub fn lane_changes_undefined(&self) -> u64 {
        self.lc.as_ref().map_or(0, |lc| lc.undefined)
    }

    /// Lane changes completed so far (0 with lane changing off).
    pub fn lane_changes_completed(&self) -> u64 {
        self.lc.as_ref().map_or(0, |lc| lc.completed)
    }

    /// Vehicles that moved aside for an emergency vehicle into a lane their route does
    /// not continue from, and those that have changed back (`yield_signal`).
    pub fn emergency_asides(&self) -> (u64, u64) {
        self.lc.as_ref().map_or((0, 0), |lc| (lc.asides, lc.returns))
    }

    /// The number of vehicles changing lanes now.
    pub fn lane_changes_in_progress(&self) -> usize {
        self.lc.as_ref().map_or(0, |lc| self.vs.iter().enumerate().filter(|(v, s)| s.running && lc.v[*v].changing).count())
    }

    /// The road of a vehicle, for tests.
    #[cfg(test)]
    pub(crate) fn lc_road(&self, v: u32) -> city::ids::RoadId {
        city::ids::RoadId(self.lane_road[self.vs[v as usize].drv as usize])
    }
}

/// `LaneChange::planChange`.
fn plan_change(l: &Lc, drv: u32) -> bool {
    l.send.is_some_and(|s| s.target != NONE && s.target != drv) || l.changing
}

/// `LaneChange::clearSignal`.
pub(super) fn clear_signal(l: &mut Lc) {
    l.target_leader = NONE;
    l.target_follower = NONE;
    l.last_dir = l.send.map_or(0, |s| s.direction);
    if l.changing {
        return;
    }
    l.send = None;
    l.recv = NONE;
}

/// A real vehicle's change is over without completing (`abortChanging` on its partner).
pub(super) fn reset_partner(l: &mut Lc) {
    l.changing = false;
    l.kind = 0;
    l.offset = 0.0;
    l.partner = NONE;
}
