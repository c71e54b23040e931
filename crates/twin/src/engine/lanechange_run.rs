//! Lane changing while it happens: the shadow inserted into the target lane, the yield to
//! a signal, the sideways move, completion and abort, and what a leaving shadow counts
//! for. The model and where the twin differs from CityFlow: `lanechange.rs`.

use super::cfrand::priority_key;
use super::lanechange::{clear_signal, reset_partner, LcSim};
use super::{Sim, NONE};

/// `yieldSpeed`'s "no limit".
pub(super) const NO_YIELD: f64 = 100.0;

impl Sim {
    /// `Engine::insertShadow`: a copy of `v` in its target lane, before its target follower.
    pub(super) fn insert_shadow(&mut self, lc: &mut LcSim, v: u32) {
        let target = lc.v[v as usize].send.expect("signal").target;
        let follower = lc.v[v as usize].target_follower;
        let prio = lc.draw_priority();
        let gap = self.cf_gap(v);
        let mut veh = self.vs[v as usize];
        veh.drv = target;
        veh.next_drv = self.next_of(veh.flow, veh.route_pos, target);
        veh.blocker = NONE;
        veh.still = false;
        veh.gap = gap;
        let mut aux = self.aux[v as usize];
        aux.priority = priority_key(prio);
        let slot = self.alloc_slot(veh, aux);
        let seq = lc.next_seq();
        lc.init_slot(slot, prio, Some(seq));
        let (seg, offset) = (lc.v[v as usize].seg, lc.v[v as usize].offset);
        {
            let sl = &mut lc.v[slot as usize];
            sl.kind = 2;
            sl.partner = v;
            sl.seg = seg;
            sl.offset = offset;
        }
        let vl = &mut lc.v[v as usize];
        vl.kind = 1;
        vl.partner = slot;
        vl.changing = true;
        self.q_insert_before(target, slot, follower);
        // The segment list: after every vehicle of its segment further along.
        let dis = self.vs[slot as usize].dis;
        let order = &lc.seg_order[target as usize];
        let mut at = order.partition_point(|&o| lc.v[o as usize].seg > seg);
        while at < order.len() && lc.v[order[at] as usize].seg == seg && self.vs[order[at] as usize].dis > dis {
            at += 1;
        }
        lc.seg_order[target as usize].insert(at, slot);
        let st = &mut self.stats;
        st.alive += 1;
        st.running += 1;
        st.alive_enter_sum += self.aux[slot as usize].enter_time;
    }

    /// Insert `v` into lane `lane`'s queue before vehicle `before` (`NONE`: at the back).
    pub(super) fn q_insert_before(&mut self, lane: u32, v: u32, before: u32) {
        if before == NONE {
            self.q_push(lane, v);
            // `q_push` takes `v`'s current drivable as the one it comes from: it is already
            // on `lane`, so the lane link it came off is its previous drivable's.
            self.tail_from[lane as usize] = self.link_into(self.vs[v as usize].prev_drv, lane);
            if self.head[lane as usize] == v {
                self.head_next[lane as usize] = self.vs[v as usize].next_drv;
            }
            return;
        }
        let d = lane as usize;
        // The vehicle in front of `before` in the queue (a front's `leader` is its look-ahead's).
        let b = &self.vs[before as usize];
        let ahead = if b.front { NONE } else { b.leader };
        debug_assert!(if ahead == NONE { self.head[lane as usize] == before } else { self.vs[ahead as usize].behind == before });
        {
            let s = &mut self.vs[v as usize];
            s.leader = ahead;
            s.front = ahead == NONE;
            s.behind = before;
        }
        let b = &mut self.vs[before as usize];
        b.leader = v;
        b.front = false;
        if ahead == NONE {
            self.head[d] = v;
            self.head_next[d] = self.vs[v as usize].next_drv;
        } else {
            self.vs[ahead as usize].behind = v;
        }
        self.qlen[d] += 1;
    }

    /// Fronts look ahead again (CityFlow's `updateLeaderAndGap` after lane-change
    /// scheduling); a front without a leader keeps its gap. No statistics.
    pub(super) fn refresh_leaders(&mut self) {
        let mut next = 0;
        while let Some(d) = self.occupied.first_from(next) {
            next = d + 1;
            let h = self.head[d];
            let (leader, gap) = self.find_leader(h);
            let s = &mut self.vs[h as usize];
            s.leader = leader;
            s.front = true;
            if leader != NONE {
                s.gap = gap;
            }
            if d < self.n_lanes as usize {
                self.head_next[d] = s.next_drv;
            }
        }
    }

    /// `SimpleLaneChange::yieldSpeed` of vehicle `v` (infinite: no say).
    #[inline]
    pub(super) fn yield_speed(&self, v: u32) -> f64 {
        let Some(lc) = self.lc.as_ref() else { return f64::INFINITY };
        let src = lc.v[v as usize].recv;
        if src == NONE {
            return NO_YIELD;
        }
        let sl = &lc.v[src as usize];
        if v == sl.target_leader {
            return NO_YIELD;
        }
        let safe = if sl.target_follower != NONE {
            self.kin(sl.target_follower).min_brake_distance(self.vs[sl.target_follower as usize].speed)
        } else {
            0.0
        };
        let gap = sl.follower_gap - safe;
        let s = &self.vs[v as usize];
        let sk = self.kin(src);
        let y = self.kin(v).no_collision_speed_max(self.vs[src as usize].speed, sk.p.max_neg_acc, s.speed, gap, self.cfg.dt, 0.0);
        if y < 0.0 {
            NO_YIELD
        } else {
            y
        }
    }

    /// Right after vehicle `v`'s move is computed (`acts`): a shadow entering a lane link
    /// aborts its change; a changing vehicle moves sideways and may complete it.
    pub(super) fn lc_after_action(&mut self, v: u32) {
        let Some(mut lc) = self.lc.take() else { return };
        if lc.v[v as usize].kind != 0 {
            self.lc_after_action_in(&mut lc, v);
        }
        self.lc = Some(lc);
    }

    fn lc_after_action_in(&mut self, lc: &mut LcSim, v: u32) {
        let l = lc.v[v as usize];
        let a = self.acts[v as usize];
        if l.kind == 2 && ((a.drv != NONE && !a.end) || l.orphan) {
            // `abortLaneChange` (or the twin's own abort of an orphaned shadow, below).
            self.acts[v as usize].end = true;
            if l.partner != NONE {
                reset_partner(&mut lc.v[l.partner as usize]);
            }
            clear_signal(&mut lc.v[v as usize]);
            return;
        }
        if !(l.kind == 1 && l.changing) {
            return;
        }
        if a.drv != NONE && !a.end {
            // It left its lane while changing (CityFlow: undefined, issue #171): the change
            // is over and its shadow leaves when its own action is computed (after this
            // vehicle's, in creation order).
            lc.undefined += 1;
            let p = l.partner as usize;
            lc.v[p].orphan = true;
            lc.v[p].partner = NONE;
            reset_partner(&mut lc.v[v as usize]);
            return;
        }
        let dt = self.cfg.dt;
        let dir = l.send.map_or(0, |s| s.direction) as f64;
        let target = l.send.map_or(NONE, |s| s.target);
        let max_off = (self.net.lanes[target as usize].width + self.net.lanes[self.vs[v as usize].drv as usize].width) / 2.0;
        // `max2double(0.2 * nextSpeed, 1)`.
        let x = 0.2 * a.speed;
        let side = if x > 1.0 { x } else { 1.0 };
        let mut off = (l.offset + side * dt * dir).abs();
        off = if off < max_off { off } else { max_off };
        lc.v[v as usize].offset = off * dir;
        if off >= max_off {
            // `finishChanging`: the shadow becomes the vehicle.
            let p = l.partner;
            let pl = &mut lc.v[p as usize];
            pl.kind = 0;
            pl.offset = 0.0;
            pl.partner = NONE;
            // A vehicle that moved aside for an emergency vehicle keeps that state.
            pl.aside = l.aside;
            lc.completed += 1;
            if l.aside {
                let s = &self.vs[p as usize];
                let off_route = s.next_drv == NONE && (s.route_pos as usize) + 1 < self.route(s.flow).len();
                if off_route {
                    lc.asides += 1;
                } else {
                    lc.returns += 1;
                }
            }
            let vl = &mut lc.v[v as usize];
            vl.changing = false;
            vl.finished = true;
            vl.last_change = self.time();
            vl.partner = NONE;
            clear_signal(vl);
            self.acts[v as usize].end = true;
            if self.cfg.record_events {
                self.id_slot.insert(self.aux[p as usize].id, p);
            }
            if !self.units.is_empty() {
                self.units.reslot(self.aux[p as usize].id, p);
            }
        }
    }

    /// A vehicle leaves the network (`updateLocation`): whether CityFlow counts it as a
    /// finished trip (`Some(true)`: a real one; `Some(false)`: a shadow, counted in the
    /// average travel time only) or not at all (`None`: a completed change's old self).
    pub(super) fn lc_leaving(&mut self, v: u32) -> Option<bool> {
        let Some(lc) = self.lc.as_mut() else { return Some(true) };
        let l = lc.v[v as usize];
        if l.finished {
            return None;
        }
        if l.kind == 1 && l.partner != NONE {
            // Its route ended while changing: the shadow loses its partner (CityFlow: a
            // dangling pointer) and stays a shadow until it leaves. (The same end of the
            // same road ends both at once on these networks: then nothing is undefined.)
            let p = l.partner as usize;
            if !self.acts[p].end {
                lc.undefined += 1;
            }
            lc.v[p].partner = NONE;
            lc.v[v as usize].partner = NONE;
        }
        Some(l.kind != 2)
    }

    /// `Vehicle::clearSignal` for every running vehicle (after `updateAction`).
    pub(super) fn lc_clear_signals(&mut self) {
        let Some(lc) = self.lc.as_mut() else { return };
        for (v, s) in self.vs.iter().enumerate() {
            if s.running {
                clear_signal(&mut lc.v[v]);
            }
        }
    }
}
