//! SUMO's departure lanes ([`DepartLane`], `departLane`): which lane of its first road a
//! vehicle enters. Only SUMO input asks for anything but [`DepartLane::Route`] (CityFlow's
//! rule, drawn at release in `flows.rs` and `lanechange.rs`), so CityFlow runs take none
//! of this code.
//!
//! A fixed rule (`Given`, `First`, SUMO's lane indices, 0 the rightmost) picks the lane
//! once, at release. A rule that looks at
//! the traffic (`Free`, `Allowed`, `Best`, `Random`) picks a lane at release, to wait in
//! its entry buffer, and again at every attempt to enter (`Sim::admit`): the vehicle
//! enters the lane the rule picks at that moment, as SUMO chooses at each insertion
//! attempt. `Free`, `Allowed` and `Best` are SUMO's `MSEdge::getFreeLane`: among their
//! candidate lanes, the one whose last vehicle is furthest from the lane's start (an empty
//! lane counts its whole length), ties to the rightmost; when no lane has room, the one
//! with the least occupancy (vehicle lengths plus minimum gaps over the lane length).
//!
//! Without strategic lanes a vehicle could not leave a lane that does not lead on along
//! its route, so then every rule keeps to the lanes that do.
//!
//! Where the twin differs: SUMO's `free` and `random` consider every lane of the road; the
//! twin's take the lanes that serve the route best (SUMO's `best` candidates). SUMO's
//! lane-change model weaves a vehicle out of a lane that does not continue its route; the
//! twin's (CityFlow's change with the strategic signals) is slower at it, and such a vehicle
//! stands at the lane's end and blocks it. On SUMO's `game/ramp` scenario, every lane for
//! `free` gave 3,646 finished trips in the hour, the best lanes 4,846 (SUMO: 4,966).

use rand::Rng;

use super::model::car_follow_speed;
use super::strategic::Rank;
use super::{Sim, SimEvent, NONE};
use city::demand::{DepartLane, DepartPos};
use city::ids::LaneId;

impl Sim {
    /// The entry lane a new vehicle of `flow` gets at release under its departure lane
    /// rule, or `None` for CityFlow's rule ([`DepartLane::Route`]) or a fixed lane the
    /// road does not have (the caller then draws CityFlow's lane).
    pub(super) fn depart_lane_at_release(&mut self, flow: u32) -> Option<u32> {
        let rule = self.flows[flow as usize].depart.lane;
        if rule == DepartLane::Route {
            return None;
        }
        let road = self.net.road(self.route(flow)[0]);
        let (first, n) = (road.first_lane.0, road.lane_count);
        // SUMO counts lanes from the right, the twin from the inside (the SUMO importer
        // reverses them): SUMO's lane k is our lane n - 1 - k.
        let lane = match rule {
            DepartLane::Given(k) if k < n => first + (n - 1 - k),
            DepartLane::Given(_) => return None,
            DepartLane::First => first + n.saturating_sub(1),
            _ => return Some(self.depart_lane_now(flow, rule)),
        };
        self.depart_lane_usable(flow, lane).then_some(lane)
    }

    /// Whether a vehicle of `flow` may enter on `lane`: it leads on along the route, or
    /// strategic lanes let the vehicle change to one that does.
    fn depart_lane_usable(&self, flow: u32, lane: u32) -> bool {
        let route = self.route(flow);
        self.cfg.strategic_lanes || route.len() < 2 || self.lane_leads_to(lane, route[1].0)
    }

    /// The lane a vehicle of `flow` with the traffic-dependent rule `rule` enters now.
    pub(super) fn depart_lane_now(&mut self, flow: u32, rule: DepartLane) -> u32 {
        let road = self.net.road(self.route(flow)[0]);
        // From the right, as SUMO scans them (ties go to the rightmost).
        let (first, n) = (road.first_lane.0, road.lane_count);
        let mut lanes: Vec<u32> = (0..n).rev().map(|k| first + k).filter(|&l| self.depart_lane_usable(flow, l)).collect();
        let route = self.route(flow);
        match rule {
            DepartLane::Allowed if route.len() > 1 => {
                let r1 = route[1].0;
                lanes.retain(|&l| self.lane_leads_to(l, r1));
            }
            DepartLane::Best | DepartLane::Free | DepartLane::Random => {
                let best = lanes.iter().map(|&l| self.lane_rank(flow, 0, l)).min().unwrap_or(Rank::Continues);
                lanes.retain(|&l| self.lane_rank(flow, 0, l) == best);
            }
            _ => {}
        }
        if lanes.is_empty() {
            // Every lane of a validated route's first road cannot be unusable; be safe.
            return first;
        }
        if rule == DepartLane::Random {
            return lanes[self.rng.gen_range(0..lanes.len())];
        }
        self.freest_lane(&lanes)
    }

    /// SUMO's `getFreeLane` over `lanes` (non-empty): the most room behind the last
    /// vehicle, else the least occupancy.
    fn freest_lane(&self, lanes: &[u32]) -> u32 {
        let mut by_gap = (NONE, 0.0);
        let mut by_occupancy = (lanes[0], f64::INFINITY);
        for &l in lanes {
            let len = self.drvs[l as usize].len;
            let room = match self.tail[l as usize] {
                NONE => len,
                t => self.vs[t as usize].dis,
            };
            if room > by_gap.1 {
                by_gap = (l, room);
            }
            let used: f64 = self
                .queue(l as usize)
                .map(|v| {
                    let p = &self.kin(v).p;
                    p.length + p.min_gap
                })
                .sum();
            let occupancy = used / len.max(f64::MIN_POSITIVE);
            if occupancy < by_occupancy.1 {
                by_occupancy = (l, occupancy);
            }
        }
        if by_gap.0 != NONE {
            by_gap.0
        } else {
            by_occupancy.0
        }
    }

    /// Put waiting vehicle `v` (still at route position 0) on entry lane `lane`: the lane
    /// it will enter and the drivable after it.
    pub(super) fn set_entry_lane(&mut self, v: u32, lane: u32) {
        let flow = self.vs[v as usize].flow;
        let next = self.next_of(flow, 0, lane);
        let s = &mut self.vs[v as usize];
        s.drv = lane;
        s.next_drv = next;
    }
}

impl Sim {
    /// SUMO's departure positions ([`DepartPos`], `departPos`): waiting vehicle `v`, the
    /// front of lane `l`'s entry buffer, enters lane `to` where `rule` puts it, if that is
    /// safe; whether it entered.
    pub(super) fn enter_along(&mut self, v: u32, l: usize, to: usize, rule: DepartPos) -> bool {
        let len = self.drvs[to].len;
        match rule {
            DepartPos::Base => self.enter_at(v, l, to, 0.0),
            DepartPos::Given(x) => {
                let x = if x < 0.0 { len + x } else { x };
                self.enter_at(v, l, to, x.clamp(0.0, len))
            }
            DepartPos::Random => {
                let x = self.rng.gen::<f64>() * len;
                self.enter_at(v, l, to, x)
            }
            DepartPos::RandomFree => {
                for _ in 0..10 {
                    let x = self.rng.gen::<f64>() * len;
                    if self.enter_at(v, l, to, x) {
                        return true;
                    }
                }
                self.enter_free(v, l, to)
            }
            DepartPos::Free => self.enter_free(v, l, to),
            // Not modelled: SUMO's `last` (behind the lane's last vehicle, wherever that
            // is) inserted vehicles at rest far down a motorway's lanes and jammed A10KW;
            // the lane's start instead.
            DepartPos::Last => self.enter_at(v, l, to, 0.0),
        }
    }

    /// SUMO's `freeInsertion`: at the lane's start, else in the first gap from the start
    /// that is safe, just ahead of the vehicle behind it (its minimum gap plus a second of
    /// its speed, the model's headway at that speed).
    fn enter_free(&mut self, v: u32, l: usize, to: usize) -> bool {
        if self.enter_at(v, l, to, 0.0) {
            return true;
        }
        let own = self.kin(v).p.length;
        let mut behind = self.tail[to];
        while behind != NONE {
            let b = &self.vs[behind as usize];
            let k = &self.kins[b.kin as usize].p;
            let x = b.dis + k.min_gap + b.speed * k.headway_time + own;
            let ahead = if b.front { NONE } else { b.leader };
            if x > self.drvs[to].len {
                return false;
            }
            let room = match ahead {
                NONE => true,
                a => {
                    let a = &self.vs[a as usize];
                    a.dis - self.kins[a.kin as usize].p.length - x > self.kin(v).p.min_gap
                }
            };
            if room && self.enter_at(v, l, to, x) {
                return true;
            }
            behind = ahead;
        }
        false
    }

    /// Waiting vehicle `v` (front of lane `l`'s entry buffer) enters lane `to` with its
    /// front at `x` metres if there is room: its minimum gap behind the vehicle ahead, the
    /// vehicle behind keeps its minimum gap and need not brake harder than usual, and its
    /// departure speed is safe there. Whether it entered.
    fn enter_at(&mut self, v: u32, l: usize, to: usize, x: f64) -> bool {
        // The vehicles ahead of and behind `x` on the lane (the queue runs front first).
        let (mut ahead, mut behind) = (NONE, self.head[to]);
        while behind != NONE && self.vs[behind as usize].dis > x {
            ahead = behind;
            behind = self.vs[behind as usize].behind;
        }
        let k = *self.kin(v);
        if ahead != NONE {
            let a = &self.vs[ahead as usize];
            if a.dis - self.kins[a.kin as usize].p.length - x <= k.p.min_gap {
                return false;
            }
        }
        let was = self.vs[v as usize].dis;
        self.vs[v as usize].dis = x;
        let depart = self.flows[self.vs[v as usize].flow as usize].depart.speed;
        let speed = if depart.at_rest() { Some(0.0) } else { self.entry_speed(v, to, depart, ahead) };
        let ok = speed.is_some_and(|speed| {
            behind == NONE || {
                let b = &self.vs[behind as usize];
                let bk = &self.kins[b.kin as usize];
                let gap = x - k.p.length - b.dis;
                gap > bk.p.min_gap
                    && car_follow_speed(bk, b.speed, &k, speed, gap, self.cfg.dt) >= b.speed - bk.p.usual_neg_acc * self.cfg.dt
            }
        });
        let Some(speed) = speed.filter(|_| ok) else {
            self.vs[v as usize].dis = was;
            return false;
        };
        self.waiting[l].pop_front();
        if self.waiting[l].is_empty() {
            self.buffered.remove(l);
        }
        if speed > 0.0 {
            let s = &mut self.vs[v as usize];
            s.speed = speed;
            s.stopped = false;
        }
        self.vs[v as usize].running = true;
        if behind == NONE {
            self.q_push(to as u32, v);
        } else {
            self.q_insert_before(to as u32, v, behind);
        }
        if ahead == NONE {
            // The lane's front now: it looks ahead along its route.
            let (leader, gap) = self.find_leader(v);
            let keep = leader == NONE && self.lc.is_some();
            let s = &mut self.vs[v as usize];
            s.leader = leader;
            s.front = true;
            if !keep {
                s.gap = gap;
            }
            self.head_next[to] = s.next_drv;
        }
        self.stats.running += 1;
        if self.cfg.record_events {
            let id = crate::VehicleId(self.aux[v as usize].id);
            self.events.push(SimEvent::TripStart { veh: id, lane: LaneId(to as u32), time: self.time() });
        }
        true
    }
}

#[cfg(test)]
#[path = "depart_tests.rs"]
mod tests;
