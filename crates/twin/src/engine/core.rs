//! The per-step phases that move vehicles: entry, action, location update, leaders.

use std::hint::select_unpredictable;

use rayon::prelude::*;

use super::lanechange_run::NO_YIELD;
use super::model::{car_follow_speed, max, min};
use super::{Act, Deps, Sim, SimEvent, NONE};
use crate::VehicleId;
use city::demand::DepartPos;
use city::ids::{LaneId, RoadId};

/// Where along each lane (as a share of its length) the virtual loop detector sits.
pub const DETECTOR_FRACTION: f64 = 0.5;

/// Vehicle slots per unit of work in the action phase.
pub(super) const ACT_CHUNK: usize = 1024;
/// Drivable fronts per unit of work in the leader update.
const LEAD_CHUNK: usize = 1024;

impl Sim {
    /// Each lane admits the front vehicle of its entry buffer if the last vehicle on the
    /// lane is at least its length plus the newcomer's minimum gap from the start.
    pub(super) fn handle_waiting(&mut self) {
        debug_assert!(
            self.waiting.iter().enumerate().all(|(l, q)| q.is_empty() != self.buffered.contains(l)),
            "the set of lanes with an entry buffer is out of step with the buffers"
        );
        // Admission may empty a buffer (and drop its lane from the set) while we walk it.
        let mut next = 0;
        while let Some(l) = self.buffered.first_from(next) {
            self.admit(l);
            next = l + 1;
        }
    }

    /// Admit the front of lane `l`'s (non-empty) entry buffer if there is room.
    /// A vehicle whose departure lane depends on the traffic (SUMO's `departLane`, see
    /// `depart.rs`) may enter another lane of its road than the one it waits for.
    fn admit(&mut self, l: usize) {
        let v = self.waiting[l][0];
        let rule = self.flows[self.vs[v as usize].flow as usize].depart.lane;
        let to = if rule.is_dynamic() && self.vs[v as usize].route_pos == 0 {
            let to = self.depart_lane_now(self.vs[v as usize].flow, rule);
            if to as usize != l {
                self.set_entry_lane(v, to);
            }
            to as usize
        } else {
            l
        };
        if !self.enter(v, l, to) && to != l {
            self.set_entry_lane(v, l as u32);
        }
    }

    /// Move waiting vehicle `v`, the front of lane `l`'s entry buffer, onto lane `to` if
    /// there is room; whether it entered.
    fn enter(&mut self, v: u32, l: usize, to: usize) -> bool {
        if self.inc.active && !self.lane_open(to as u32, v) {
            return false;
        }
        let pos = self.flows[self.vs[v as usize].flow as usize].depart.pos;
        if pos != DepartPos::Base && self.vs[v as usize].route_pos == 0 {
            // SUMO's departPos (`depart.rs`).
            return self.enter_along(v, l, to, pos);
        }
        let tail = self.tail[to];
        if tail != NONE {
            let t = &self.vs[tail as usize];
            if t.dis <= self.kins[t.kin as usize].p.length + self.kin(v).p.min_gap {
                return false;
            }
        }
        // SUMO's departure speeds (CityFlow's vehicles enter at rest).
        let depart = self.flows[self.vs[v as usize].flow as usize].depart.speed;
        let speed = if depart.at_rest() {
            0.0
        } else {
            match self.entry_speed(v, to, depart, tail) {
                Some(x) => x,
                None => return false,
            }
        };
        self.waiting[l].pop_front();
        if self.waiting[l].is_empty() {
            self.buffered.remove(l);
        }
        let l = to;
        if speed > 0.0 {
            let veh = &mut self.vs[v as usize];
            veh.speed = speed;
            veh.stopped = false;
        }
        self.vs[v as usize].running = true;
        self.q_push(l as u32, v);
        if tail == NONE {
            // The lane was empty: look ahead now (as CityFlow does on entry).
            let (leader, gap) = self.find_leader(v);
            let keep = leader == NONE && self.lc.is_some();
            let veh = &mut self.vs[v as usize];
            veh.leader = leader;
            if !keep {
                veh.gap = gap;
            }
            self.head_next[l] = veh.next_drv;
        }
        self.stats.running += 1;
        if self.cfg.record_events {
            let id = VehicleId(self.aux[v as usize].id);
            self.events.push(SimEvent::TripStart { veh: id, lane: LaneId(l as u32), time: self.time() });
        }
        true
    }

    /// Compute every running vehicle's next speed and position into `acts`, and list (per
    /// chunk of slots, so each list is in slot order whatever the thread count) the
    /// vehicles that leave their drivable and those whose action changes anything.
    pub(super) fn get_action(&mut self) {
        if self.lc.is_some() {
            self.get_action_lc();
            return;
        }
        let mut acts = std::mem::take(&mut self.acts);
        let mut movers = std::mem::take(&mut self.movers);
        let mut live = std::mem::take(&mut self.live);
        let chunks = acts.len().div_ceil(ACT_CHUNK);
        movers.resize_with(chunks, Vec::new);
        live.resize_with(chunks, Vec::new);
        let this = &*self;
        if self.cfg.threads > 1 && self.stats.running > 4096 {
            acts.par_chunks_mut(ACT_CHUNK)
                .zip(movers.par_iter_mut().zip(live.par_iter_mut()))
                .enumerate()
                .for_each(|(c, (chunk, (m, l)))| this.act_chunk(c, chunk, m, l));
        } else {
            for (c, (chunk, (m, l))) in acts.chunks_mut(ACT_CHUNK).zip(movers.iter_mut().zip(live.iter_mut())).enumerate() {
                this.act_chunk(c, chunk, m, l);
            }
        }
        self.acts = acts;
        self.movers = movers;
        self.live = live;
    }

    /// The action phase for the vehicle slots of chunk `c`. A reused action at rest (speed
    /// exactly zero) changes nothing when applied, so it is left out of `live`: the apply
    /// pass skips it (see `update_action`).
    fn act_chunk(&self, c: usize, acts: &mut [Act], movers: &mut Vec<u32>, live: &mut Vec<u32>) {
        movers.clear();
        live.clear();
        for (k, a) in acts.iter_mut().enumerate() {
            let v = (c * ACT_CHUNK + k) as u32;
            if self.vs[v as usize].running {
                let gap = self.gap_of(v);
                if !self.act_reusable(v, a, gap) {
                    *a = self.control(v, gap);
                } else {
                    debug_assert_eq!(*a, self.control(v, gap), "reused action of vehicle {v} differs");
                    if a.speed.to_bits() == 0 {
                        continue;
                    }
                }
                live.push(v);
                if a.end || a.drv != NONE {
                    movers.push(v);
                }
            }
        }
    }

    /// Whether `a`, vehicle `v`'s action of the last step, is still its action: every input
    /// it was computed from is unchanged (an exact shortcut for vehicles at rest in queues).
    #[inline]
    fn act_reusable(&self, v: u32, a: &Act, gap: f64) -> bool {
        let s = &self.vs[v as usize];
        s.still
            && a.leader == s.leader
            && a.gap.to_bits() == gap.to_bits()
            && (s.leader == NONE || self.vs[s.leader as usize].still)
            && match a.deps {
                Deps::Any => false,
                Deps::Own => true,
                Deps::OwnStop => self.must_stop(s.next_drv, v),
            }
    }

    /// The gap from vehicle `v` to its leader: stored for a queue front (the look-ahead's),
    /// derived for a follower exactly as CityFlow's `updateLeaderAndGap` computes it.
    #[inline]
    pub(super) fn gap_of(&self, v: u32) -> f64 {
        let s = &self.vs[v as usize];
        // Fronts and followers alternate unpredictably along the arena: compute the derived
        // gap for both (a front reads itself) and select, instead of branching.
        let l = &self.vs[select_unpredictable(s.front, v, s.leader) as usize];
        debug_assert!(s.front || l.drv == s.drv, "vehicle {v} follows a vehicle on another drivable");
        let derived = l.dis - self.kins[l.kin as usize].p.length - s.dis;
        select_unpredictable(s.front, s.gap, derived)
    }

    /// The action phase with lane changing, as CityFlow's `vehicleControl` runs it with a
    /// partner: sequential, vehicles in creation order (see `lanechange.rs`). A vehicle
    /// with a partner also computes the partner's next speed; both take the lower one.
    /// Each vehicle's lane-change bookkeeping follows its move at once, because a change
    /// completed by one vehicle clears the signal that later vehicles yield to.
    fn get_action_lc(&mut self) {
        let n = self.vs.len();
        let chunks = n.div_ceil(ACT_CHUNK);
        self.movers.resize_with(chunks, Vec::new);
        self.live.resize_with(chunks, Vec::new);
        let lc = self.lc.as_mut().expect("lane changing is on");
        let mut set = std::mem::take(&mut lc.set);
        let mut involved = std::mem::take(&mut lc.involved);
        // Per vehicle: the speed set for it this step (by itself or by its partner).
        set.clear();
        set.resize(n, None);
        // Only vehicles that lane changing touches (a shadow or a changing vehicle, or one
        // yielding to a signal) depend on the order: a partner sets the other's speed and a
        // completed change clears signals. Nothing of theirs is read by the others, whose
        // actions are the same in any order. So: those in creation order first, then the
        // rest in slot order (exactly as in one pass in creation order, and cache-friendly).
        involved.clear();
        {
            let lcv = &self.lc.as_ref().expect("on").v;
            for v in 0..n as u32 {
                let l = &lcv[v as usize];
                if (l.kind != 0 || l.recv != NONE) && self.vs[v as usize].running {
                    involved.push((l.seq, v));
                }
            }
        }
        involved.sort_unstable();
        for &(_, v) in &involved {
            self.act_lc(v, &mut set);
        }
        for l in self.movers.iter_mut().chain(self.live.iter_mut()) {
            l.clear();
        }
        for v in 0..n as u32 {
            if !self.vs[v as usize].running {
                continue;
            }
            if set[v as usize].is_none() {
                let gap = self.gap_of(v);
                let a = &self.acts[v as usize];
                if self.act_reusable(v, a, gap) {
                    debug_assert_eq!(*a, self.control(v, gap), "reused action of vehicle {v} differs");
                    if a.speed.to_bits() == 0 {
                        // At rest reusing its last action: left out of the apply pass.
                        continue;
                    }
                } else {
                    // Untouched by lane changing: it holds no signal, so it yields to none.
                    let mut act = self.act_init(v, gap);
                    let next = self.next_speed_cap(v, gap, &mut act, Some(NO_YIELD));
                    self.acts[v as usize] = self.advance(v, next, act);
                }
            }
            let c = v as usize / ACT_CHUNK;
            self.live[c].push(v);
            let a = &self.acts[v as usize];
            if a.end || a.drv != NONE {
                self.movers[c].push(v);
            }
        }
        let lc = self.lc.as_mut().expect("on");
        (lc.involved, lc.set) = (involved, set);
    }

    /// One vehicle's action with lane changing (`vehicleControl` with its partner).
    fn act_lc(&mut self, v: u32, set: &mut [Option<f64>]) {
        let (kind, partner, recv) = {
            let l = &self.lc.as_ref().expect("on").v[v as usize];
            (l.kind, l.partner, l.recv)
        };
        let involved = kind != 0 || recv != NONE;
        let (mut act, mut next) = match set[v as usize] {
            Some(sp) => (self.acts[v as usize], sp),
            None => {
                let gap = self.gap_of(v);
                let mut act = self.act_init(v, gap);
                let next = self.next_speed(v, gap, &mut act);
                (act, next)
            }
        };
        let p = partner;
        if p != NONE && set[p as usize].is_none() {
            let gp = self.gap_of(p);
            let mut pa = self.act_init(p, gp);
            let ps = self.next_speed(p, gp, &mut pa);
            // `min2double(nextSpeed, partnerSpeed)`.
            next = if next < ps { next } else { ps };
            set[p as usize] = Some(next);
            pa.deps = Deps::Any;
            self.acts[p as usize] = pa;
        }
        // Its own speed is set now too (`setSpeed`): its partner will not recompute it.
        set[v as usize] = Some(next);
        act = self.advance(v, next, act);
        if involved {
            // It yielded to a signal or moved with a partner: never reuse this action.
            act.deps = Deps::Any;
        }
        self.acts[v as usize] = act;
        if kind != 0 {
            self.lc_after_action(v);
        }
    }

    /// An action before the speed is known.
    #[inline]
    fn act_init(&self, v: u32, gap: f64) -> Act {
        Act { drv: NONE, blocker: NONE, leader: self.vs[v as usize].leader, gap, deps: Deps::Own, ..Default::default() }
    }

    /// CityFlow's `vehicleControl`: next speed, then walk the route by the distance covered.
    #[inline]
    fn control(&self, v: u32, gap: f64) -> Act {
        let mut act = self.act_init(v, gap);
        let next = self.next_speed(v, gap, &mut act);
        self.advance(v, next, act)
    }

    /// The rest of `vehicleControl`: with next speed `next`, walk the route. Always
    /// inlined: the action phase without lane changing is one loop body (measured: out of
    /// line, it costs about 13 % of a run's CPU).
    #[inline(always)]
    fn advance(&self, v: u32, next: f64, mut act: Act) -> Act {
        let s = &self.vs[v as usize];
        let k = self.kin(v);
        let dt = self.cfg.dt;
        let (speed, delta) =
            if next < 0.0 { (0.0, 0.5 * s.speed * s.speed / k.p.max_neg_acc) } else { (next, (s.speed + next) * dt / 2.0) };
        let mut dis = s.dis + delta;
        let mut drv = s.drv;
        let mut pos = s.route_pos;
        act.speed = speed;
        let mut i = 0;
        while dis > self.drvs[drv as usize].len {
            dis -= self.drvs[drv as usize].len;
            let nd = if i == 0 { s.next_drv } else { self.next_of(s.flow, pos, drv) };
            if nd == NONE {
                act.end = true;
                break;
            }
            if self.is_link(drv) {
                pos += 1;
            }
            drv = nd;
            act.drv = nd;
            i += 1;
        }
        act.dis = dis;
        act.route_pos = pos;
        act
    }

    /// CityFlow's `getNextSpeed`; records the foe yielded to and the inputs used in `act`.
    #[inline(always)]
    fn next_speed(&self, v: u32, gap: f64, act: &mut Act) -> f64 {
        let cap = if self.lc.is_some() { Some(self.yield_speed(v)) } else { None };
        self.next_speed_cap(v, gap, act, cap)
    }

    /// [`Self::next_speed`] with the lane-change yield speed given (`None`: lane changing
    /// off): the caller may know it without reading the vehicle's lane-change state.
    #[inline(always)]
    fn next_speed_cap(&self, v: u32, gap: f64, act: &mut Act, cap: Option<f64>) -> f64 {
        let s = &self.vs[v as usize];
        let k = self.kin(v);
        let dt = self.cfg.dt;
        // `k.limit` is 1 except for an emergency vehicle (`units`); times 1 is exact.
        let mut speed = min(min(k.p.max_speed, s.speed + k.p.max_pos_acc * dt), self.drvs[s.drv as usize].max_speed * k.limit);
        if s.leader != NONE {
            let l = &self.vs[s.leader as usize];
            speed = min(speed, car_follow_speed(k, s.speed, &self.kins[l.kin as usize], l.speed, gap, dt));
        }
        if self.inc.active {
            speed = self.incident_speed(v, speed, act);
        }
        let len = self.drvs[s.drv as usize].len;
        if self.is_link(s.drv) || (s.next_drv != NONE && self.is_link(s.next_drv) && len - s.dis <= k.approach) {
            speed = min(speed, self.intersection_speed(v, act));
        }
        if self.cfg.signal_lookahead {
            speed = min(speed, self.red_ahead_speed(v, act));
        }
        if let Some(y) = cap {
            speed = min(speed, y);
        }
        // A lane that does not continue the route (only when no lane link fits): stop at its end.
        if s.next_drv == NONE && (s.route_pos as usize) + 1 < self.route(s.flow).len() {
            speed = min(speed, k.no_collision_speed_max(0.0, 1.0, s.speed, len - s.dis, dt, k.p.min_gap));
        }
        max(speed, s.speed - k.p.max_neg_acc * dt)
    }

    /// Remove vehicles that left their drivable, finish trips, and append movers to their
    /// new drivables in order of new position (furthest first).
    pub(super) fn update_location(&mut self) {
        self.moved.clear();
        self.src_drvs.clear();
        if self.lc.is_some() {
            // Movers lose their leader: CityFlow keeps the gap each had (see `cf_gap`).
            for c in 0..self.movers.len() {
                for k in 0..self.movers[c].len() {
                    let v = self.movers[c][k];
                    self.vs[v as usize].gap = self.cf_gap(v);
                }
            }
        }
        let stamp = self.step;
        for &v in self.movers.iter().flatten() {
            let d = self.vs[v as usize].drv;
            let a = &self.acts[v as usize];
            if self.drv_stamp[d as usize] != stamp {
                self.drv_stamp[d as usize] = stamp;
                self.src_drvs.push(d);
            }
            if a.end || a.drv != NONE {
                self.drv_leaving[d as usize] += 1;
            }
            if !a.end {
                self.moved.push((v, a.dis));
            }
        }
        let now = self.time();
        for k in 0..self.src_drvs.len() {
            let d = self.src_drvs[k] as usize;
            while self.head[d] != NONE {
                let f = self.head[d];
                let a = self.acts[f as usize];
                if !(a.end || a.drv != NONE) {
                    break;
                }
                self.q_pop(d as u32);
                self.drv_leaving[d] -= 1;
                if a.end {
                    self.finish_trip(f, now);
                }
            }
            // CityFlow erases every vehicle that left, wherever it is in the list: one
            // that entered a lane behind a vehicle it then overtook (both came off lane
            // links in the same step) can leave first. Rare, so the slow path may allocate.
            if std::mem::take(&mut self.drv_leaving[d]) > 0 {
                let acts = &self.acts;
                let gone = |v: &u32| acts[*v as usize].end || acts[*v as usize].drv != NONE;
                let (left, kept): (Vec<u32>, Vec<u32>) = self.queue(d).partition(gone);
                self.head[d] = kept.first().copied().unwrap_or(NONE);
                self.tail[d] = kept.last().copied().unwrap_or(NONE);
                self.qlen[d] = kept.len() as u32;
                if d < self.n_lanes as usize && self.tail[d] != NONE {
                    // The kept vehicles did not change drivable: `prev_drv` is current.
                    self.tail_from[d] = self.link_into(self.vs[self.tail[d] as usize].prev_drv, d as u32);
                }
                // Who follows whom changed inside the queue.
                if self.lc.is_some() {
                    if let Some(&h) = kept.first() {
                        self.vs[h as usize].gap = self.cf_gap(h);
                    }
                }
                let mut ahead = NONE;
                for (k, &v) in kept.iter().enumerate() {
                    let s = &mut self.vs[v as usize];
                    s.leader = ahead;
                    s.front = ahead == NONE;
                    s.behind = kept.get(k + 1).copied().unwrap_or(NONE);
                    ahead = v;
                }
                if self.head[d] == NONE {
                    self.occupied.remove(d);
                }
                for f in left {
                    if self.acts[f as usize].end {
                        self.finish_trip(f, now);
                    }
                }
            }
        }
        debug_assert!(
            self.src_drvs.iter().all(|&d| self.queue(d as usize).all(|v| {
                let a = &self.acts[v as usize];
                !(a.end || a.drv != NONE)
            })),
            "a vehicle that left its drivable is still in its queue"
        );
        self.moved.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for k in 0..self.moved.len() {
            let v = self.moved[k].0;
            let d = self.acts[v as usize].drv;
            self.q_push(d, v);
            self.aux[v as usize].enter_link_step = if self.is_link(d) { self.step as u32 } else { u32::MAX };
        }
    }

    fn finish_trip(&mut self, v: u32, now: f64) {
        let (s, x) = (self.vs[v as usize], self.aux[v as usize]);
        let free_time = self.flow_free_time[s.flow as usize];
        let tt = now - x.enter_time;
        if self.lc.is_some() {
            let counted = self.lc_leaving(v);
            if counted != Some(true) {
                // A shadow (counted in CityFlow's average travel time only) or the old self
                // of a vehicle whose lane change completed (not counted).
                let st = &mut self.stats;
                if counted == Some(false) {
                    st.ghost_finished += 1;
                    st.ghost_tt_sum += tt;
                }
                st.alive -= 1;
                st.running -= 1;
                st.alive_enter_sum -= x.enter_time;
                self.free_slot(v);
                return;
            }
        }
        let st = &mut self.stats;
        st.finished += 1;
        st.finished_tt_sum += tt;
        st.delay_sum += (tt - free_time).max(0.0);
        st.delay_index_sum += tt / free_time.max(1e-9);
        st.stops_sum += x.stops as u64;
        st.alive -= 1;
        st.running -= 1;
        st.alive_enter_sum -= x.enter_time;
        if !self.units.is_empty() {
            self.units.finished(x.id, now);
        }
        if self.cfg.record_events {
            self.id_slot.remove(&x.id);
            if s.drv < self.n_lanes {
                self.events.push(SimEvent::LaneExit {
                    veh: VehicleId(x.id),
                    lane: LaneId(s.drv),
                    speed: s.speed,
                    movement: None,
                });
            }
            self.events.push(SimEvent::TripEnd {
                veh: VehicleId(x.id),
                travel_time: tt,
                free_flow_time: free_time,
                stops: x.stops,
            });
        }
        self.free_slot(v);
    }

    /// CityFlow's `updateLeaderAndGap` for every vehicle. The front of each queue looks
    /// ahead (`find_leader`, in parallel when there are threads). Every other vehicle
    /// follows the one in front of it on the same drivable: the queue operations keep that
    /// leader, and its gap is derived from the two positions when it is read (`gap_of`),
    /// so followers need no pass here.
    pub(super) fn update_leaders(&mut self) {
        debug_assert!(
            self.head.iter().enumerate().all(|(d, &h)| (h != NONE) == self.occupied.contains(d)
                && self.queue(d).count() == self.qlen[d] as usize
                && self.queue(d).last().unwrap_or(NONE) == self.tail[d]),
            "the set of occupied drivables is out of step with the queues"
        );
        debug_assert!(
            self.occupied.range(0, self.head.len()).all(|d| {
                self.queue(d)
                    .skip(1)
                    .zip(self.queue(d))
                    .all(|(v, ahead)| !self.vs[v as usize].front && self.vs[v as usize].leader == ahead)
            }),
            "a follower's leader is not the vehicle in front of it"
        );
        let mut fronts = std::mem::take(&mut self.fronts);
        fronts.clear();
        fronts.extend(self.occupied.range(0, self.head.len()).map(|d| (d as u32, NONE, 0.0, 0)));
        let this = &*self;
        let look = |f: &mut (u32, u32, f64, u32)| {
            (f.1, f.2) = this.find_leader(this.head[f.0 as usize]);
            f.3 = this.qlen[f.0 as usize];
        };
        if self.cfg.threads > 1 && fronts.len() > LEAD_CHUNK {
            fronts.par_chunks_mut(LEAD_CHUNK).for_each(|c| c.iter_mut().for_each(look));
        } else {
            fronts.iter_mut().for_each(look);
        }
        let st = &mut self.stats;
        let keep_gap = self.lc.is_some();
        for &(d, leader, gap, n) in &fronts {
            let s = &mut self.vs[self.head[d as usize] as usize];
            s.leader = leader;
            if !(keep_gap && leader == NONE) {
                s.gap = gap;
            }
            s.front = true;
            if d < self.n_lanes {
                self.head_next[d as usize] = s.next_drv;
            }
            // Every running vehicle is in exactly one queue: count this step's updates here.
            st.vehicle_updates += n as u64;
            if d < self.n_lanes {
                st.road_samples[self.lane_road[d as usize] as usize] += n;
            }
        }
        self.fronts = fronts;
    }

    /// CityFlow's `updateLeaderAndGap` for a queue's front vehicle `v` (a follower's leader is
    /// the vehicle ahead on its drivable, see `gap_of`): the nearest last vehicle on the
    /// drivables ahead within the look-ahead horizon.
    pub(super) fn find_leader(&self, v: u32) -> (u32, f64) {
        let s = &self.vs[v as usize];
        let horizon = self.kin(v).approach;
        let mut dis = self.drvs[s.drv as usize].len - s.dis;
        let (mut drv, mut pos) = (s.drv, s.route_pos);
        let mut i = 0;
        loop {
            let next = if i == 0 { s.next_drv } else { self.next_of(s.flow, pos, drv) };
            if next == NONE {
                return (NONE, 0.0);
            }
            if self.is_link(drv) {
                pos += 1;
            }
            let from = drv;
            drv = next;
            i += 1;
            if self.is_link(drv) {
                // Lane links from one lane overlap at first: check all of them. The router
                // picks a lane's next link among its out links, so `from` is this link's start.
                debug_assert_eq!(from, self.link_from[(drv - self.n_lanes) as usize]);
                let (mut best, mut best_gap) = (NONE, 0.0);
                for &ll in self.out_links(from) {
                    let c = self.tail[(self.n_lanes + ll) as usize];
                    if c != NONE {
                        let l = &self.vs[c as usize];
                        let gap = dis + l.dis - self.kins[l.kin as usize].p.length;
                        if best == NONE || gap < best_gap {
                            best = c;
                            best_gap = gap;
                        }
                    }
                }
                if best != NONE {
                    return (best, best_gap);
                }
            } else if self.tail[drv as usize] != NONE {
                let c = self.tail[drv as usize];
                let l = &self.vs[c as usize];
                return (c, dis + l.dis - self.kins[l.kin as usize].p.length);
            }
            dis += self.drvs[drv as usize].len;
            if dis > horizon {
                return (NONE, 0.0);
            }
        }
    }

    /// Road of a vehicle's current drivable, if it is on a lane.
    pub(crate) fn road_of(&self, v: u32) -> Option<RoadId> {
        let d = self.vs[v as usize].drv;
        (d < self.n_lanes).then(|| RoadId(self.lane_road[d as usize]))
    }
}
