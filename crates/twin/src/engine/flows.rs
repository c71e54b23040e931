//! Demand: flows releasing vehicles into entry buffers, vehicle creation (also for the
//! dispatched units of `units`), vehicle types.

use rand::Rng;

use super::model::{car_follow_speed, min, Kin};
use super::{Act, Sim, Veh, VehAux, NONE};
use city::demand::{DepartSpeed, VehicleParams};
use city::ids::RoadId;
use city::network::Network;

impl Sim {
    /// Release this step's vehicles from every started flow into entry buffers, in file
    /// order. Flows join the active list when their start time comes and leave it once
    /// past their end, so a step costs O(active flows), not O(all flows).
    pub(super) fn release_flows(&mut self) {
        let t = self.time();
        let dt = self.cfg.dt;
        let before = self.active_flows.len();
        while let Some(&f) = self.flow_order.get(self.next_flow) {
            if self.flows[f as usize].start > t {
                break;
            }
            self.active_flows.push(f);
            self.next_flow += 1;
        }
        if self.active_flows.len() != before {
            self.active_flows.sort_unstable();
        }
        let mut active = std::mem::take(&mut self.active_flows);
        active.retain(|&f| {
            let f = f as usize;
            let (end, interval) = (self.flows[f].end, self.flows[f].interval);
            if end.is_some_and(|e| t > e) {
                self.flow_rt[f].done = true;
                return false;
            }
            while self.flow_rt[f].now_time >= interval {
                if self.lc.is_some() {
                    self.spawn_cf(f as u32, t);
                    self.flow_rt[f].now_time -= interval;
                    continue;
                }
                self.spawn(f as u32, t);
                self.flow_rt[f].now_time -= interval;
            }
            self.flow_rt[f].now_time += dt;
            true
        });
        self.active_flows = active;
    }

    /// A vehicle of `flow` released at `t` (lane changing off); returns its slot.
    pub(super) fn spawn(&mut self, flow: u32, t: f64) -> u32 {
        self.flow_rt[flow as usize].count += 1;
        let lane = match self.depart_lane_at_release(flow) {
            Some(l) => l,
            None => self.route_entry_lane(flow),
        };
        let priority = self.rng.gen::<u32>();
        self.insert_vehicle(flow, t, lane, priority, false)
    }

    /// CityFlow's entry lane for a new vehicle of `flow` (lane changing off): a random lane
    /// among those leading to its second road.
    fn route_entry_lane(&mut self, flow: u32) -> u32 {
        let route = self.route(flow);
        let first_road = self.net.road(route[0]);
        if route.len() == 1 {
            first_road.first_lane.0 + self.rng.gen_range(0..first_road.lane_count.max(1))
        } else {
            let r1 = route[1].0;
            let n = first_road.lanes().filter(|l| self.lane_leads_to(l.0, r1)).count() as u32;
            // Routes are validated, so n > 0; fall back to lane 0 defensively.
            let k = if n == 0 { 0 } else { self.rng.gen_range(0..n) };
            first_road
                .lanes()
                .filter(|l| n == 0 || self.lane_leads_to(l.0, r1))
                .nth(k as usize)
                .unwrap_or(first_road.first_lane)
                .0
        }
    }

    /// A vehicle of `flow` released at `t` with lane changing on: CityFlow's priority and
    /// thread draws now, its entry lane once every flow has released (`lc_place_pending`).
    fn spawn_cf(&mut self, flow: u32, t: f64) {
        self.flow_rt[flow as usize].count += 1;
        let lc = self.lc.as_mut().expect("lane changing is on");
        let prio = lc.draw_priority();
        lc.reserve_priority(prio);
        let _thread = lc.rng.next_u32();
        let seq = lc.next_seq();
        lc.pending.push((flow, t, prio, seq));
    }

    /// Create a vehicle of `flow` at time `t` in lane `lane`'s entry buffer (at its front
    /// if `first`), with crossing tie-break `priority`; returns its slot.
    pub(crate) fn insert_vehicle(&mut self, flow: u32, t: f64, lane: u32, priority: u32, first: bool) -> u32 {
        let veh = Veh {
            speed: 0.0,
            dis: 0.0,
            gap: 0.0,
            drv: lane,
            next_drv: NONE,
            leader: NONE,
            prev_drv: NONE,
            flow,
            kin: self.flow_kin[flow as usize],
            route_pos: 0,
            blocker: NONE,
            behind: NONE,
            running: false,
            stopped: true,
            still: false,
            front: false,
        };
        let seq = self.flow_rt.get_mut(flow as usize).map_or(0, |f| {
            f.issued += 1;
            f.issued - 1
        });
        let aux =
            VehAux { enter_time: t, id: self.stats.created, enter_link_step: u32::MAX, priority, stops: 0, alive: true, seq };
        let slot = self.alloc_slot(veh, aux);
        if let Some(lc) = self.lc.as_mut() {
            // The raw draw behind the priority (see `cfrand::priority_key`).
            lc.init_slot(slot, priority ^ 0x8000_0000, None);
        }
        self.vs[slot as usize].next_drv = self.next_of(flow, 0, lane);
        if first {
            self.waiting[lane as usize].push_front(slot);
        } else {
            self.waiting[lane as usize].push_back(slot);
        }
        self.buffered.insert(lane as usize);
        if self.cfg.record_events {
            self.id_slot.insert(self.stats.created, slot);
        }
        self.stats.created += 1;
        self.stats.alive += 1;
        self.stats.alive_enter_sum += t;
        slot
    }

    /// The speed waiting vehicle `v` enters lane `l` at under its flow's departure speed
    /// (not at rest: SUMO input), or `None` while that speed is not safe yet. Safe: the
    /// vehicle needs no braking in its next step behind the vehicle ahead (the car-following
    /// speed at that speed is at least that speed), and it can stop at the lane's end at its
    /// usual deceleration if it must stop there.
    ///
    /// The vehicle enters at its current position (`dis`) behind `ahead`, the nearest
    /// vehicle ahead of it on the lane (`NONE`: it looks ahead along its route).
    pub(super) fn entry_speed(&mut self, v: u32, l: usize, depart: DepartSpeed, ahead: u32) -> Option<f64> {
        let k = *self.kin(v);
        let top = min(k.p.max_speed, self.drvs[l].max_speed * k.limit);
        let mut safe = top;
        let at = self.vs[v as usize].dis;
        let (leader, gap) = match ahead {
            NONE => self.find_leader(v),
            t => (t, self.vs[t as usize].dis - self.kins[self.vs[t as usize].kin as usize].p.length - at),
        };
        if leader != NONE {
            let (lk, ls) = (self.kins[self.vs[leader as usize].kin as usize], self.vs[leader as usize].speed);
            let dt = self.cfg.dt;
            let ok = |x: f64| car_follow_speed(&k, x, &lk, ls, gap, dt) >= x;
            if !ok(safe) {
                // The car-following speed falls as the own speed rises: bisect.
                let (mut lo, mut hi) = (0.0, safe);
                for _ in 0..32 {
                    let mid = 0.5 * (lo + hi);
                    if ok(mid) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                safe = lo;
            }
        }
        let next = self.vs[v as usize].next_drv;
        if next != NONE && self.is_link(next) && self.must_stop(next, v) {
            safe = min(safe, (2.0 * k.p.usual_neg_acc * (self.drvs[l].len - at)).sqrt());
        }
        let want = match depart {
            DepartSpeed::Given(x) => return (min(x, top) <= safe).then_some(min(x, top)),
            DepartSpeed::Desired => return (top <= safe).then_some(top),
            DepartSpeed::Max => top,
            DepartSpeed::Random => top * self.rng.gen::<f64>(),
            DepartSpeed::Last => match ahead {
                NONE => top,
                t => self.vs[t as usize].speed,
            },
            DepartSpeed::Avg => {
                let (n, sum) = self.queue(l).fold((0u32, 0.0), |(n, s), u| (n + 1, s + self.vs[u as usize].speed));
                if n == 0 {
                    top
                } else {
                    sum / n as f64
                }
            }
        };
        Some(min(min(want, top), safe))
    }

    /// A slot for a new vehicle (a free one, or a new one at the end of the arena).
    pub(crate) fn alloc_slot(&mut self, veh: Veh, aux: VehAux) -> u32 {
        match self.free_slots.pop() {
            Some(s) => {
                self.vs[s as usize] = veh;
                self.aux[s as usize] = aux;
                s
            }
            None => {
                if self.vs.len() == self.vs.capacity() {
                    // Grow the arena by an eighth rather than doubling it: at city scale
                    // it is most of the memory per vehicle.
                    let more = (self.vs.len() / 8).max(256);
                    self.vs.reserve_exact(more);
                    self.aux.reserve_exact(more);
                    self.acts.reserve_exact(more);
                }
                self.vs.push(veh);
                self.aux.push(aux);
                self.acts.push(Act::default());
                (self.vs.len() - 1) as u32
            }
        }
    }

    /// The index of the vehicle type with parameters `p` and speed-limit factor `limit`,
    /// added if new.
    pub(crate) fn kin_index(&mut self, p: VehicleParams, limit: f64) -> u32 {
        match self.kins.iter().position(|k| k.p == p && k.limit == limit) {
            Some(k) => k as u32,
            None => {
                let mut k = Kin::new(p, self.cfg.dt);
                k.limit = limit;
                self.kins.push(k);
                (self.kins.len() - 1) as u32
            }
        }
    }

    pub(super) fn free_slot(&mut self, v: u32) {
        if let Some(lc) = self.lc.as_mut() {
            lc.free_slot(v);
        }
        self.vs[v as usize].running = false;
        self.aux[v as usize].alive = false;
        self.free_slots.push(v);
    }
}

/// Free-flow trip time along a route: each road at the lower of the vehicle's and the
/// lane's top speed, each junction movement at the turning speed for turns. Returns the
/// time elapsed at the start of each road of the route, then the whole-trip time.
pub(super) fn free_flow_prefix(net: &Network, p: &VehicleParams, route: &[RoadId]) -> Vec<f64> {
    let mut t = 0.0;
    let mut prefix = Vec::with_capacity(route.len() + 1);
    for (k, &r) in route.iter().enumerate() {
        prefix.push(t);
        let road = net.road(r);
        let lane_speed = road.lanes().map(|l| net.lane(l).max_speed).fold(0.0_f64, f64::max);
        t += net.road_length(r) / p.max_speed.min(lane_speed).max(0.1);
        if let Some(&next) = route.get(k + 1) {
            let link = road
                .lanes()
                .flat_map(|l| net.lane(l).lane_links.iter().copied())
                .find(|&ll| net.lane(net.lane_link(ll).to_lane).road == next);
            if let Some(ll) = link {
                let ll = net.lane_link(ll);
                let turn = net.movement(ll.movement).turn != city::Turn::Straight;
                let v = if turn { p.turn_speed.min(p.max_speed) } else { p.max_speed };
                t += ll.length / v.max(0.1);
            }
        }
    }
    prefix.push(t);
    prefix
}
