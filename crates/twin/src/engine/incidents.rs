//! Incidents applied by the engine: blocked lanes, closed roads, failed signals, and the
//! plan ([`IncidentPlan`]) that switches them on and off on schedule.
//!
//! ## Model choices
//! - **Blocked lane** (crash, stalled vehicle, illegal parking, road works): a stopped
//!   obstacle on the lane from `pos_m` (where vehicles stop) for `length_m` downstream.
//!   Every vehicle whose look-ahead (CityFlow's leader horizon, along its route) reaches
//!   the obstacle's back end brakes for it with the car-following model, as for a
//!   stopped leader of its own type: the speed is the minimum of the usual speed and
//!   `getCarFollowSpeed` against speed 0 at that gap. A vehicle whose front is already
//!   past the back end when the lane is blocked drives out. A lane whose obstacle starts
//!   within one vehicle length plus the minimum gap of the lane's start has no room:
//!   vehicles stop before the lane link into it (as `Lane::canEnter` fails) and entry
//!   buffers do not admit onto it. The router's lane choice at a junction avoids a
//!   blocked end lane when another lane of the same road also continues the route.
//! - **Closed road** (flood): not entered. Its lanes admit no vehicle, so traffic routed
//!   over it waits at the stop line before it, like at a red light (vehicles already on
//!   it drive off). Flow vehicles are not rerouted: their routes are fixed as in
//!   CityFlow's flow file; dispatched units route around it with [`Sim::fastest_route`],
//!   which treats a closed road as impassable.
//! - **Dark signal**: every approach is an all-way stop: every movement may go, but a
//!   vehicle first comes to rest within 5 m of the stop line (speed under 0.1 m/s), then
//!   crosses, yielding at crossing points by the usual right of way (`Cross::canPass`).
//! - **Flashing signal**: every movement may go, cautiously: at most half the vehicle's
//!   desired speed approaching the junction and through it, yielding at crossing points.
//! - The signal controller is unaware: the green it set is kept and shows again when the
//!   fault ends (a detector of faults must find them from traffic or the event log).
//!
//! Nothing here runs unless an incident is in effect (`IncState::active`), so a run
//! without incidents takes exactly the code paths, and gives exactly the results, it
//! gave before incidents existed.

use std::collections::BTreeMap;

use super::model::{car_follow_speed, min};
use super::{Act, Deps, Sim, VehicleId, NONE};
use crate::incident::{Incident, IncidentError, IncidentPlan, Location, SignalFault};
use city::demand::Flow;
use city::ids::{IntersectionId, LaneId, RoadId};

/// A vehicle counts as stopped at a dark signal's stop line within this distance of it.
pub const STOP_LINE_M: f64 = 5.0;
/// Share of its desired speed a vehicle keeps through a junction with flashing signals.
pub const FLASHING_SPEED_SHARE: f64 = 0.5;

/// A lane obstacle's handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub u32);

/// A stopped obstacle on a lane: from `back` (where vehicles stop) to `front`, metres
/// from the lane's start.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub id: BlockId,
    pub back: f64,
    pub front: f64,
    /// The vehicles that could not stop before it when it appeared (closer to it than
    /// their braking distance at full deceleration): they drive through, as vehicles
    /// passing the spot at that moment do.
    pub passing: Vec<VehicleId>,
}

/// What the engine knows of incidents (empty and inactive until the first one).
#[derive(Clone, Debug, Default)]
pub(crate) struct IncState {
    /// Any obstacle, closure or fault in effect: the only thing the hot paths test.
    pub active: bool,
    /// Per lane, its obstacles (allocated with the first incident).
    pub lane_blocks: Vec<Vec<Block>>,
    /// Per road, how many incidents close it.
    pub closed: Vec<u32>,
    /// Per intersection, its fault and how many incidents cause one.
    pub fault: Vec<(Option<SignalFault>, u32)>,
    /// Per movement, its junction's fault.
    pub mv_fault: Vec<Option<SignalFault>>,
    n_blocks: usize,
    n_closed: usize,
    n_faults: usize,
    next_block: u32,
    /// The scheduled incidents, and their switch times in order: `(time, on, index)`.
    plan: Vec<Incident>,
    timeline: Vec<(f64, bool, usize)>,
    next_event: usize,
    /// Per incident in effect (by index in `plan`), the obstacles it placed.
    live: BTreeMap<usize, Vec<BlockId>>,
}

impl IncState {
    /// Forget the scheduled switches not made yet (a forecast knows only the present).
    pub fn forget_future(&mut self) {
        self.timeline.truncate(self.next_event);
    }
}

impl Sim {
    fn inc_alloc(&mut self) {
        if self.inc.lane_blocks.is_empty() {
            self.inc.lane_blocks = vec![Vec::new(); self.n_lanes as usize];
            self.inc.closed = vec![0; self.net.roads.len()];
            self.inc.fault = vec![(None, 0); self.net.intersections.len()];
            self.inc.mv_fault = vec![None; self.net.movements.len()];
        }
    }

    /// After any change to incidents: recompute the summary flag, refresh every cached
    /// route choice (the router avoids blocked lanes) and make every action recomputed.
    fn inc_changed(&mut self) {
        let i = &mut self.inc;
        i.active = i.n_blocks > 0 || i.n_closed > 0 || i.n_faults > 0;
        for v in 0..self.vs.len() {
            let s = self.vs[v];
            if s.running || self.aux[v].alive {
                if !self.is_link(s.drv) {
                    self.vs[v].next_drv = self.next_of(s.flow, s.route_pos, s.drv);
                }
                self.vs[v].still = false;
            }
        }
        for l in 0..self.n_lanes as usize {
            let h = self.head[l];
            self.head_next[l] = if h == NONE { NONE } else { self.vs[h as usize].next_drv };
        }
    }

    /// Block lane `lane` from `pos_m` (from its start) for `length_m` downstream: a
    /// stopped obstacle that vehicles brake for. Returns its handle for [`Sim::unblock`].
    pub fn block_lane(&mut self, lane: LaneId, pos_m: f64, length_m: f64) -> BlockId {
        self.inc_alloc();
        let id = BlockId(self.inc.next_block);
        self.inc.next_block += 1;
        let back = pos_m.max(0.0);
        let front = back + length_m.max(0.0);
        let mut passing = Vec::new();
        for v in 0..self.vs.len() as u32 {
            if self.vs[v as usize].running {
                if let Some(gap) = self.gap_to(v, lane.0, back) {
                    if gap < self.kin(v).min_brake_distance(self.vs[v as usize].speed) {
                        passing.push(VehicleId(self.aux[v as usize].id));
                    }
                }
            }
        }
        self.inc.lane_blocks[lane.idx()].push(Block { id, back, front, passing });
        self.inc.n_blocks += 1;
        self.inc_changed();
        id
    }

    /// Remove an obstacle; `false` if there is none with this handle.
    pub fn unblock(&mut self, id: BlockId) -> bool {
        for bs in &mut self.inc.lane_blocks {
            if let Some(k) = bs.iter().position(|b| b.id == id) {
                bs.remove(k);
                self.inc.n_blocks -= 1;
                self.inc_changed();
                return true;
            }
        }
        false
    }

    /// The obstacles on lane `lane`.
    pub fn lane_blocks(&self, lane: LaneId) -> &[Block] {
        self.inc.lane_blocks.get(lane.idx()).map_or(&[], |b| b.as_slice())
    }

    /// Close road `road` (`true`) or lift one closure of it (`false`). Closures count: a
    /// road closed twice opens after two lifts.
    pub fn close_road(&mut self, road: RoadId, closed: bool) {
        self.inc_alloc();
        let c = &mut self.inc.closed[road.idx()];
        if closed {
            *c += 1;
            if *c == 1 {
                self.inc.n_closed += 1;
            }
        } else if *c > 0 {
            *c -= 1;
            if *c == 0 {
                self.inc.n_closed -= 1;
            }
        }
        self.inc_changed();
    }

    /// Whether road `road` is closed.
    pub fn road_closed(&self, road: RoadId) -> bool {
        self.inc.closed.get(road.idx()).is_some_and(|&c| c > 0)
    }

    /// Set (`Some`) or lift (`None`) a signal fault at intersection `i`. Faults count like
    /// closures; the latest fault set is the one shown.
    pub fn set_signal_fault(&mut self, i: IntersectionId, fault: Option<SignalFault>) {
        self.inc_alloc();
        let f = &mut self.inc.fault[i.idx()];
        match fault {
            Some(x) => {
                f.0 = Some(x);
                f.1 += 1;
                if f.1 == 1 {
                    self.inc.n_faults += 1;
                }
            }
            None if f.1 > 0 => {
                f.1 -= 1;
                if f.1 == 0 {
                    f.0 = None;
                    self.inc.n_faults -= 1;
                }
            }
            None => {}
        }
        let shown = f.0;
        for &m in &self.net.intersections[i.idx()].movements {
            self.inc.mv_fault[m.idx()] = shown;
        }
        self.inc_changed();
    }

    /// The fault intersection `i`'s signals show, if any.
    pub fn signal_fault(&self, i: IntersectionId) -> Option<SignalFault> {
        self.inc.fault.get(i.idx()).and_then(|f| f.0)
    }

    /// Schedule a plan's incidents (each switched on at `start_s` and off at `end_s`, at
    /// the start of the first step at or after that time) and add its decoys' surges as
    /// flows. May be called more than once; errors leave the simulation unchanged.
    pub fn schedule_incidents(&mut self, plan: &IncidentPlan) -> Result<(), IncidentError> {
        plan.check_ids()?;
        for (k, inc) in plan.incidents.iter().enumerate() {
            self.check_incident(inc).map_err(|m| IncidentError::field(format!("incidents[{k}]"), m))?;
        }
        for (k, d) in plan.decoys.iter().enumerate() {
            if d.road.idx() >= self.net.roads.len() {
                return Err(IncidentError::field(format!("decoys[{k}].road"), "no such road"));
            }
        }
        let base = self.inc.plan.len();
        self.inc.plan.extend(plan.incidents.iter().cloned());
        for (k, inc) in plan.incidents.iter().enumerate() {
            self.inc.timeline.push((inc.start_s, true, base + k));
            self.inc.timeline.push((inc.end_s, false, base + k));
        }
        // Not yet processed entries, by time; at one time, lifts before starts.
        let from = self.inc.next_event;
        self.inc.timeline[from..].sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let params = self.flows.first().map(|f| f.params).unwrap_or_default();
        for d in &plan.decoys {
            let route = crate::incident::surge_route(&self.net, d.road, 12);
            let interval = 3600.0 / d.vehicles_per_hour;
            self.add_flow(Flow { params, route, interval, start: d.start_s, end: Some(d.end_s), depart: Default::default() });
        }
        self.process_incidents();
        Ok(())
    }

    fn check_incident(&self, inc: &Incident) -> Result<(), String> {
        if !(inc.start_s.is_finite() && inc.end_s.is_finite() && inc.start_s < inc.end_s) {
            return Err("start_s must be before end_s".into());
        }
        match &inc.location {
            Location::Lanes { road, lanes, .. } => {
                let n = self.net.roads.get(road.idx()).ok_or("no such road")?.lane_count;
                if lanes.is_empty() || lanes.iter().any(|&l| l >= n) {
                    return Err(format!("lanes must be indices in 0..{n}"));
                }
            }
            Location::Road { road } => {
                self.net.roads.get(road.idx()).ok_or("no such road")?;
            }
            Location::Junction { intersection, .. } => {
                self.net.intersections.get(intersection.idx()).ok_or("no such intersection")?;
            }
        }
        Ok(())
    }

    /// The scheduled incidents in effect now.
    pub fn active_incidents(&self) -> impl Iterator<Item = &Incident> + '_ {
        self.inc.live.keys().map(move |&k| &self.inc.plan[k])
    }

    /// Switch on and off the scheduled incidents whose time has come (start of a step).
    pub(super) fn process_incidents(&mut self) {
        let now = self.time();
        while let Some(&(t, on, k)) = self.inc.timeline.get(self.inc.next_event) {
            if t > now {
                break;
            }
            self.inc.next_event += 1;
            let inc = self.inc.plan[k].clone();
            if on {
                let mut blocks = Vec::new();
                match &inc.location {
                    Location::Lanes { road, lanes, pos_m, length_m } => {
                        let first = self.net.road(*road).first_lane.0;
                        for &l in lanes {
                            blocks.push(self.block_lane(LaneId(first + l), *pos_m, *length_m));
                        }
                    }
                    Location::Road { road } => self.close_road(*road, true),
                    Location::Junction { intersection, fault } => self.set_signal_fault(*intersection, Some(*fault)),
                }
                self.inc.live.insert(k, blocks);
            } else {
                self.switch_off(k);
            }
        }
    }

    /// Lift scheduled incident `k` (by index in the plan) if it is in effect.
    fn switch_off(&mut self, k: usize) -> bool {
        let Some(blocks) = self.inc.live.remove(&k) else { return false };
        for b in blocks {
            self.unblock(b);
        }
        match self.inc.plan[k].location.clone() {
            Location::Road { road } => self.close_road(road, false),
            Location::Junction { intersection, .. } => self.set_signal_fault(intersection, None),
            Location::Lanes { .. } => {}
        }
        true
    }

    /// End now the scheduled incident in effect that a response unit cleared: the one on
    /// `road` (a blocked lane or a closed road), else a signal fault whose junction lies
    /// within `radius_m` of `at`; the earliest started when several match. Its scheduled
    /// end then does nothing. Returns its id, `None` when nothing there is in effect.
    pub fn end_incident_at(&mut self, road: Option<RoadId>, at: city::geom::Point, radius_m: f64) -> Option<u32> {
        let net = &self.net;
        let k = self
            .inc
            .live
            .keys()
            .copied()
            .filter(|&k| match &self.inc.plan[k].location {
                Location::Lanes { road: r, .. } | Location::Road { road: r } => road == Some(*r),
                Location::Junction { intersection, .. } => {
                    let p = net.intersection(*intersection).point;
                    ((p.x - at.x).powi(2) + (p.y - at.y).powi(2)).sqrt() <= radius_m
                }
            })
            .min_by(|&a, &b| self.inc.plan[a].start_s.total_cmp(&self.inc.plan[b].start_s).then(a.cmp(&b)))?;
        self.switch_off(k);
        Some(self.inc.plan[k].id)
    }

    /// The time the next scheduled switch is due (infinite when none is left).
    #[inline]
    pub(super) fn next_incident_time(&self) -> f64 {
        self.inc.timeline.get(self.inc.next_event).map_or(f64::INFINITY, |e| e.0)
    }

    /// The back of the nearest obstacle on lane `l` at or ahead of `dis` that vehicle `v`
    /// (`NONE`: any vehicle) is not passing.
    #[inline]
    fn block_ahead(&self, l: u32, dis: f64, v: u32) -> Option<f64> {
        let id = if v == NONE { None } else { Some(VehicleId(self.aux[v as usize].id)) };
        self.inc.lane_blocks[l as usize]
            .iter()
            .filter(|b| b.back >= dis && !id.is_some_and(|id| b.passing.contains(&id)))
            .map(|b| b.back)
            .min_by(f64::total_cmp)
    }

    /// [`Sim::block_ahead`] when any obstacle exists.
    #[inline]
    pub(super) fn block_ahead_of(&self, l: u32, dis: f64, v: u32) -> Option<f64> {
        if self.inc.n_blocks == 0 {
            return None;
        }
        self.block_ahead(l, dis, v)
    }

    /// The gap from vehicle `v` to point `back` of lane `lane` along its route, if it is
    /// ahead within the look-ahead horizon.
    fn gap_to(&self, v: u32, lane: u32, back: f64) -> Option<f64> {
        let s = &self.vs[v as usize];
        if s.drv == lane {
            return (s.dis <= back).then_some(back - s.dis);
        }
        self.walk_ahead(v, |drv, dis| (drv == lane).then_some(dis + back))
    }

    /// The gap from vehicle `v` to the nearest obstacle ahead along its route within its
    /// look-ahead horizon (the leader horizon).
    fn obstacle_gap(&self, v: u32) -> Option<f64> {
        let s = &self.vs[v as usize];
        if !self.is_link(s.drv) {
            if let Some(b) = self.block_ahead(s.drv, s.dis, v) {
                return Some(b - s.dis);
            }
        }
        self.walk_ahead(v, |drv, dis| if self.is_link(drv) { None } else { self.block_ahead(drv, 0.0, v).map(|b| dis + b) })
    }

    /// Walk the lanes and links after vehicle `v`'s current one along its route, while
    /// their start lies within its look-ahead horizon; `found(drv, dis)` gets each with the
    /// distance from `v` to its start, and the first `Some` it returns is the answer.
    fn walk_ahead(&self, v: u32, mut found: impl FnMut(u32, f64) -> Option<f64>) -> Option<f64> {
        let s = &self.vs[v as usize];
        let horizon = self.kin(v).approach;
        let mut dis = self.drvs[s.drv as usize].len - s.dis;
        let (mut drv, mut pos) = (s.drv, s.route_pos);
        let mut i = 0;
        while dis <= horizon {
            let next = if i == 0 { s.next_drv } else { self.next_of(s.flow, pos, drv) };
            if next == NONE {
                return None;
            }
            if self.is_link(drv) {
                pos += 1;
            }
            drv = next;
            i += 1;
            if let Some(g) = found(drv, dis) {
                return Some(g);
            }
            dis += self.drvs[drv as usize].len;
        }
        None
    }

    /// Incidents' say in vehicle `v`'s next speed (only called while one is in effect):
    /// braking for an obstacle ahead. Marks the action as depending on anything.
    pub(super) fn incident_speed(&self, v: u32, speed: f64, act: &mut Act) -> f64 {
        if self.inc.n_blocks == 0 {
            return speed;
        }
        match self.obstacle_gap(v) {
            Some(gap) => {
                act.deps = Deps::Any;
                let (s, k) = (&self.vs[v as usize], self.kin(v));
                min(speed, car_follow_speed(k, s.speed, k, 0.0, gap, self.cfg.dt))
            }
            None => speed,
        }
    }

    /// Whether lane `lane` admits vehicle `v` at its start under the incidents in effect.
    #[inline]
    pub(super) fn lane_open(&self, lane: u32, v: u32) -> bool {
        if self.inc.closed[self.lane_road[lane as usize] as usize] > 0 {
            return false;
        }
        let k = self.kin(v);
        self.block_ahead(lane, 0.0, NONE).is_none_or(|b| b >= k.p.length + k.p.min_gap)
    }

    /// Whether lane `lane` has an obstacle or is closed (the router avoids it).
    #[inline]
    pub(super) fn lane_blocked(&self, lane: u32) -> bool {
        !self.inc.lane_blocks[lane as usize].is_empty() || self.inc.closed[self.lane_road[lane as usize] as usize] > 0
    }

    /// [`Sim::link_fault`] when any incident is in effect.
    #[inline(always)]
    pub(super) fn link_fault_if_active(&self, d: u32) -> Option<SignalFault> {
        if self.inc.active {
            self.link_fault(d)
        } else {
            None
        }
    }

    /// The fault shown at the junction of lane link `d` (a drivable), if any.
    #[inline]
    pub(super) fn link_fault(&self, d: u32) -> Option<SignalFault> {
        if self.inc.n_faults == 0 {
            return None;
        }
        self.inc.mv_fault[self.link_movement[(d - self.n_lanes) as usize] as usize]
    }

    /// A dark or flashing junction's say in the speed of vehicle `v`, on a lane before
    /// lane link `link`: `Err(speed)` to stop at the line (dark), else the speed cap.
    pub(super) fn fault_speed(&self, v: u32, link: u32, fault: SignalFault, act: &mut Act) -> Result<f64, f64> {
        act.deps = Deps::Any;
        let (s, k) = (&self.vs[v as usize], self.kin(v));
        let rest = self.drvs[s.drv as usize].len - s.dis;
        let _ = link;
        match fault {
            SignalFault::Dark => {
                let at_line = s.speed < super::observe::WAITING_SPEED && rest <= STOP_LINE_M;
                if !at_line && k.min_brake_distance(s.speed) <= rest {
                    return Err(k.stop_before_speed(s.speed, rest, self.cfg.dt));
                }
                Ok(k.p.max_speed)
            }
            SignalFault::Flashing => Ok(k.p.max_speed * FLASHING_SPEED_SHARE),
        }
    }

    /// Add a flow at run time (a demand surge): it releases vehicles from its start time
    /// like the scenario's flows (an earlier start means the next step). Returns its index.
    pub fn add_flow(&mut self, mut f: Flow) -> u32 {
        let idx = self.flows.len() as u32;
        let kin = self.kin_index(f.params, 1.0);
        self.flow_kin.push(kin);
        let prefix = super::flows::free_flow_prefix(&self.net, &f.params, &f.route);
        self.flow_free_time.push(prefix.last().copied().unwrap_or(0.0));
        self.flow_free_prefix.push(prefix);
        self.flow_rt.push(super::FlowRt { now_time: f.interval, done: false, count: 0, issued: 0 });
        super::push_route(&mut self.routes, &mut self.route_off, &std::mem::take(&mut f.route));
        let start = f.start;
        self.flows.push(f);
        let rest = &self.flow_order[self.next_flow..];
        let at = self.next_flow + rest.partition_point(|&g| self.flows[g as usize].start <= start);
        self.flow_order.insert(at, idx);
        idx
    }
}
