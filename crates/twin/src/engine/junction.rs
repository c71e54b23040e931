//! Junction behaviour: crossing-point notification, right of way (`Cross::canPass`) and
//! the intersection-related speed (stop at red, turning cap, yield at crossings).

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::disjoint::Disjoint;
use super::model::min;
use super::{Act, Deps, Sim, NONE};
use city::network::Network;

/// CityFlow's `Cross::leaveDistance`.
const LEAVE_DISTANCE: f64 = 0.0;
/// Lane links per unit of work in the crossing notification.
const NOTIFY_CHUNK: usize = 2048;

impl Sim {
    /// CityFlow's `notifyCross`: for each crossing point, the nearest vehicle on each of its
    /// two lane links and its distance to the point (negative once past it). Only lane
    /// links that have a vehicle near them are visited; each link writes only its own side
    /// of each cross, so the visiting order does not matter.
    ///
    /// A link's notification at a cross is stored in the *foe's* slot (`xs[lc.foe]`):
    /// it is read only by vehicles on the foe link, so a vehicle checking its link's
    /// crosses reads one contiguous run of slots instead of one scattered slot per cross.
    pub(super) fn notify_crosses(&mut self) {
        let ep = epoch(self.step);
        if ep == 1 {
            // The epoch counter wrapped (or this is the first step): forget everything.
            self.xs.iter_mut().for_each(|x| *x = CrossSt::default());
            self.link_hit.0.iter_mut().for_each(|h| *h.get_mut() = 0);
        }
        debug_assert!(
            self.occupied.range(0, self.n_lanes as usize).all(|l| self.tail_from_ok(l)),
            "a lane's last vehicle: {:?}",
            self.occupied
                .range(0, self.n_lanes as usize)
                .filter(|&l| !self.tail_from_ok(l))
                .map(|l| (
                    l,
                    self.tail[l],
                    self.tail_from[l],
                    self.vs[self.tail[l] as usize].prev_drv,
                    self.is_shadow(self.tail[l]),
                    self.vs[self.tail[l] as usize].dis,
                    self.step
                ))
                .collect::<Vec<_>>()
        );
        let mut links = std::mem::take(&mut self.src_drvs);
        links.clear();
        let n = self.n_lanes;
        // Out of `self` while marking, so the marking loops may read the rest of it.
        let (mut marked, mut link_why) = (std::mem::take(&mut self.marked), std::mem::take(&mut self.link_why));
        let mut mark = |d: u32, why: u8| {
            let li = (d - n) as usize;
            if !marked.contains(li) {
                marked.insert(li);
                link_why[li] = 0;
                links.push(li as u32);
            }
            link_why[li] |= why;
        };
        // Only occupied drivables can make a link notify: the last vehicle of an end lane,
        // the front vehicle of a start lane, or any vehicle on the link.
        for l in self.occupied.range(0, n as usize) {
            let p = self.tail_from[l];
            if p != NONE {
                // `notify_link`'s first test for this vehicle: whether it still covers the
                // link's far-end cross. If not, it notifies nothing there, and never will
                // again: it only moves further from the link while it is the last.
                if self.covers_far_cross(self.tail[l], p) {
                    mark(p, FROM_LINK);
                } else {
                    self.tail_from[l] = NONE;
                }
            }
            debug_assert_eq!(self.head_next[l], self.vs[self.head[l] as usize].next_drv, "lane {l}'s front");
            let nx = self.head_next[l];
            if nx != NONE && nx >= n {
                mark(nx, TO_LINK);
            }
        }
        for d in self.occupied.range(n as usize, self.head.len()) {
            mark(d as u32, 0);
        }
        (self.marked, self.link_why) = (marked, link_why);
        let mut xs = std::mem::take(&mut self.xs);
        let n_links = self.link_cross_off.len() - 1;
        self.notify_range(0, n_links, &Disjoint::new(&mut xs), ep);
        self.xs = xs;
        for &li in &links {
            self.marked.remove(li as usize);
        }
        self.src_drvs = links;
    }

    /// Drivable `p` if it is a lane link into lane `l`, else `NONE`.
    #[inline]
    pub(super) fn link_into(&self, p: u32, l: u32) -> u32 {
        let n = self.n_lanes;
        if p != NONE && p >= n && self.link_to[(p - n) as usize] == l {
            p
        } else {
            NONE
        }
    }

    /// `notify_link`'s first test for vehicle `v`, which came off lane link `p`: whether it
    /// still covers the link's far-end cross.
    #[inline]
    fn covers_far_cross(&self, v: u32, p: u32) -> bool {
        let s = &self.vs[v as usize];
        self.link_far[(p - self.n_lanes) as usize] + (s.dis - self.kins[s.kin as usize].p.length) < LEAVE_DISTANCE
    }

    /// `tail_from[l]` is the link lane `l`'s last vehicle came off, or `NONE` if it came
    /// off none or no longer covers that link's far-end cross.
    fn tail_from_ok(&self, l: usize) -> bool {
        let v = self.tail[l];
        let p = self.link_into(self.vs[v as usize].prev_drv, l as u32);
        self.tail_from[l] == p || (self.tail_from[l] == NONE && !self.covers_far_cross(v, p))
    }

    /// Notify the crosses of the marked links among links `lo..hi`. Halves run in parallel
    /// when there are threads (see [`notify`] for why the writes never overlap).
    fn notify_range(&self, lo: usize, hi: usize, xs: &Disjoint<'_, CrossSt>, ep: u32) {
        if self.cfg.threads > 1 && hi - lo > NOTIFY_CHUNK {
            let mid = lo + (hi - lo) / 2;
            rayon::join(|| self.notify_range(lo, mid, xs, ep), || self.notify_range(mid, hi, xs, ep));
            return;
        }
        let n = self.n_lanes as usize;
        for li in self.marked.range(lo, hi) {
            self.notify_link((n + li) as u32, self.link_why[li], xs, ep);
        }
    }

    /// Notify the crosses of lane link `d`, each into its foe's slot. `why` says whether
    /// the last vehicle of its end lane came off it ([`FROM_LINK`]) and whether the front
    /// vehicle of its start lane is to take it next ([`TO_LINK`]).
    fn notify_link(&self, d: u32, why: u8, xs: &Disjoint<'_, CrossSt>, ep: u32) {
        let li = (d - self.n_lanes) as usize;
        let off = self.link_cross_off[li] as usize;
        let crosses = &self.link_cross[off..self.link_cross_off[li + 1] as usize];
        if crosses.is_empty() {
            return;
        }
        let link_len = self.drvs[d as usize].len;
        // Far end first.
        let mut r = crosses.len();
        if why & FROM_LINK != 0 {
            let v = self.tail[self.link_to[li] as usize];
            let s = &self.vs[v as usize];
            debug_assert_eq!(s.prev_drv, d);
            let veh_dist = s.dis - self.kins[s.kin as usize].p.length;
            while r > 0 {
                let lc = crosses[r - 1];
                let cross_dist = link_len - lc.dist;
                if cross_dist + veh_dist < LEAVE_DISTANCE {
                    notify(xs, &self.link_hit.0, lc, v, -(s.dis + cross_dist), ep);
                    r -= 1;
                } else {
                    break;
                }
            }
        }
        for v in self.queue(d as usize) {
            if r == 0 {
                // Every point is taken; the rest of the queue changes nothing.
                break;
            }
            let s = &self.vs[v as usize];
            let len = self.kins[s.kin as usize].p.length;
            while r > 0 {
                let lc = crosses[r - 1];
                let cross_dist = lc.dist;
                if s.dis > cross_dist {
                    if s.dis - cross_dist - len <= LEAVE_DISTANCE {
                        notify(xs, &self.link_hit.0, lc, v, cross_dist - s.dis, ep);
                    } else {
                        break;
                    }
                } else {
                    notify(xs, &self.link_hit.0, lc, v, cross_dist - s.dis, ep);
                }
                r -= 1;
            }
        }
        if why & TO_LINK != 0 && self.link_available(d) {
            let start_lane = self.link_from[li] as usize;
            let v = self.head[start_lane];
            let s = &self.vs[v as usize];
            debug_assert_eq!(s.next_drv, d);
            let veh_dist = self.drvs[start_lane].len - s.dis;
            for lc in crosses[..r].iter().rev() {
                notify(xs, &self.link_hit.0, *lc, v, veh_dist + lc.dist, ep);
            }
        }
    }

    /// The foe notified this step at the cross of crossing slot `k` (see [`LinkCross`]),
    /// if any.
    #[inline]
    fn cross_foe(&self, k: usize) -> Option<&CrossSt> {
        let x = &self.xs[k];
        (x.epoch == epoch(self.step)).then_some(x)
    }

    /// CityFlow's `getIntersectionRelatedSpeed`; sets `act.blocker` to the foe yielded to
    /// and `act.deps` to what the speed depends on.
    pub(super) fn intersection_speed(&self, v: u32, act: &mut Act) -> f64 {
        let s = &self.vs[v as usize];
        let k = self.kin(v);
        let dt = self.cfg.dt;
        let mut speed = k.p.max_speed;
        let len = self.drvs[s.drv as usize].len;
        let mut link = NONE;
        act.deps = Deps::Any;
        if s.next_drv != NONE && self.is_link(s.next_drv) {
            link = s.next_drv;
            if let Some(fault) = self.link_fault_if_active(link) {
                match self.fault_speed(v, link, fault, act) {
                    Err(stop) => return min(speed, stop),
                    Ok(cap) => speed = min(speed, cap),
                }
            }
            if self.must_stop(link, v) && k.min_brake_distance(s.speed) <= len - s.dis {
                act.deps = Deps::OwnStop;
                return min(speed, k.stop_before_speed(s.speed, len - s.dis, dt));
            }
            if self.link_turn[(link - self.n_lanes) as usize] {
                speed = min(speed, k.p.turn_speed);
            }
        }
        if link == NONE && self.is_link(s.drv) {
            link = s.drv;
            if let Some(fault) = self.link_fault_if_active(link) {
                // On the link: a dark junction was stopped for already.
                if fault == crate::incident::SignalFault::Flashing {
                    act.deps = Deps::Any;
                    speed = min(speed, k.p.max_speed * super::incidents::FLASHING_SPEED_SHARE);
                }
            }
        }
        if link == NONE {
            return speed;
        }
        let li = (link - self.n_lanes) as usize;
        if self.link_hit.0[li].load(Relaxed) != epoch(self.step) {
            // No foe notified at any of the link's crosses.
            return speed;
        }
        let to_start = if self.is_link(s.drv) { s.dis } else { -(len - s.dis) };
        let (lo, hi) = (self.link_cross_off[li] as usize, self.link_cross_off[li + 1] as usize);
        for (slot, lc) in (lo..hi).zip(&self.link_cross[lo..hi]) {
            let on_link = lc.dist;
            if on_link < to_start {
                continue;
            }
            let Some(x) = self.cross_foe(slot) else { continue };
            let foe = x.veh;
            if !self.can_pass(v, link, lc, to_start, x) {
                speed = min(speed, k.stop_before_speed(s.speed, on_link - to_start - k.p.yield_distance, dt));
                act.blocker = foe;
                break;
            }
        }
        speed
    }

    /// SUMO input (`SimConfig::signal_lookahead`): the speed that stops vehicle `v` before
    /// the first red lane link along its route beyond the one directly ahead (which
    /// `intersection_speed` handles), if that link starts within the vehicle's approach
    /// distance; else no limit. Such a red is behind a lane shorter than the approach
    /// distance, which CityFlow's vehicles enter too fast to stop on.
    pub(super) fn red_ahead_speed(&self, v: u32, act: &mut Act) -> f64 {
        let s = &self.vs[v as usize];
        let k = self.kin(v);
        let mut dist = self.drvs[s.drv as usize].len - s.dis;
        let (mut drv, mut pos) = (s.drv, s.route_pos);
        let mut links = 0;
        let mut i = 0;
        while dist < k.approach {
            let next = if i == 0 { s.next_drv } else { self.next_of(s.flow, pos, drv) };
            i += 1;
            if next == NONE {
                break;
            }
            if self.is_link(drv) {
                pos += 1;
            }
            if self.is_link(next) {
                links += 1;
                // The link directly ahead (or the one being crossed) is `intersection_speed`'s.
                let ahead = links > 1 || self.is_link(s.drv);
                if ahead && !self.link_available(next) {
                    act.deps = Deps::Any;
                    if k.min_brake_distance(s.speed) > dist {
                        // Too late to stop (as for the link directly ahead): go on.
                        break;
                    }
                    return k.stop_before_speed(s.speed, dist, self.cfg.dt);
                }
            }
            drv = next;
            dist += self.drvs[drv as usize].len;
        }
        k.p.max_speed
    }

    /// Whether a vehicle `v` about to take lane link `link` must stop before it: the link is
    /// red or its end lane has no room.
    #[inline]
    pub(super) fn must_stop(&self, link: u32, v: u32) -> bool {
        !self.link_available(link) || !self.can_enter(self.link_to[(link - self.n_lanes) as usize], v)
    }

    /// `Lane::canEnter`: room behind the lane's last vehicle, or it is moving off.
    pub(super) fn can_enter(&self, lane: u32, v: u32) -> bool {
        if self.inc.active && !self.lane_open(lane, v) {
            return false;
        }
        match self.tail[lane as usize] {
            NONE => true,
            t => {
                let t = &self.vs[t as usize];
                t.dis > self.kins[t.kin as usize].p.length + self.kin(v).p.length || t.speed >= 2.0
            }
        }
    }

    /// CityFlow's `Cross::canPass`: may vehicle `v` on (or approaching) `link` pass cross
    /// `lc` of the link, given the foe notified on the other side?
    fn can_pass(&self, v: u32, link: u32, lc: &LinkCross, to_start: f64, x: &CrossSt) -> bool {
        let foe = x.veh;
        let foe_link = self.n_lanes + lc.foe_link;
        let (t1, t2) = (self.link_priority(link), self.link_priority(foe_link));
        let d1 = lc.dist - to_start;
        let d2 = x.dist;
        let (me, fv) = (&self.vs[v as usize], &self.vs[foe as usize]);
        let (mx, fx) = (&self.aux[v as usize], &self.aux[foe as usize]);
        let (mk, fk) = (self.kin(v), self.kin(foe));
        if !mk.can_yield(me.speed, d1) {
            return true;
        }
        let dt = self.cfg.dt;
        let reach = |veh: u32, d: f64, l: u32| {
            let k = self.kin(veh);
            let target = if self.link_turn[(l - self.n_lanes) as usize] { k.p.turn_speed } else { k.p.max_speed };
            k.reach_steps(self.vs[veh as usize].speed, d, target, k.p.usual_pos_acc, dt)
        };
        let mut yield_ = 0i8;
        if !fk.can_yield(fv.speed, d2) {
            yield_ = 1;
        }
        if yield_ == 0 {
            if t1 > t2 {
                yield_ = -1;
            } else if t1 < t2 {
                if d2 > 0.0 {
                    if reach(foe, d2, foe_link) > reach(v, d1, link) {
                        yield_ = -1;
                    }
                } else if d2 + fk.p.length < 0.0 {
                    yield_ = -1;
                }
                if yield_ == 0 {
                    yield_ = 1;
                }
            } else if d2 > 0.0 {
                let (fs, ms) = (reach(foe, d2, foe_link), reach(v, d1, link));
                yield_ = if fs > ms {
                    -1
                } else if fs == ms {
                    if mx.enter_link_step == fx.enter_link_step {
                        if d1 == d2 {
                            if mx.priority > fx.priority {
                                -1
                            } else {
                                1
                            }
                        } else if d1 < d2 {
                            -1
                        } else {
                            1
                        }
                    } else if mx.enter_link_step < fx.enter_link_step {
                        -1
                    } else {
                        1
                    }
                } else {
                    1
                };
            } else {
                yield_ = if d2 + fk.p.length < 0.0 { -1 } else { 1 };
            }
        }
        if yield_ == 1 {
            // Break deadlocks: a cycle in the chain of blockers (Floyd's algorithm).
            let (mut slow, mut fast) = (foe, foe);
            let blocker = |v: u32| self.vs[v as usize].blocker;
            while fast != NONE && blocker(fast) != NONE {
                slow = blocker(slow);
                fast = blocker(blocker(fast));
                if slow == fast {
                    yield_ = -1;
                    break;
                }
            }
        }
        yield_ == -1
    }

    #[inline]
    fn link_priority(&self, d: u32) -> u8 {
        let m = self.link_movement[(d - self.n_lanes) as usize];
        self.net.movements[m as usize].turn as u8
    }
}

/// Why a lane link is notified (bits of `Sim::link_why`): the last vehicle of its end
/// lane came off it; the front vehicle of its start lane takes it next.
const FROM_LINK: u8 = 1;
const TO_LINK: u8 = 2;

/// One crossing point of a lane link (a "crossing slot"): its distance from the start of
/// the link, and the slot of the same point on the other link (`foe`, in `link_cross`)
/// with that link's index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkCross {
    pub dist: f64,
    pub foe: u32,
    pub foe_link: u32,
}

/// Per crossing slot: the nearest vehicle on the *foe* link of its cross notified this
/// step (valid only when `epoch` matches the current step's) and that vehicle's distance
/// to the point. Laid out like `link_cross`, so the crosses of one link are read from
/// contiguous memory.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CrossSt {
    pub dist: f64,
    pub veh: u32,
    pub epoch: u32,
}

/// Write a notification (vehicle `v` at distance `d`) into crossing slot `k`.
///
/// Sound from several threads at once because every slot has exactly one writer: slot
/// `k` (on link `L`, cross `c`) is written only by the notification of the other link of
/// `c` at `c`, i.e. by the link that owns slot `link_cross[k].foe`, once per step;
/// `notify_range` hands each link to one thread, and nothing reads `xs` until every
/// writer has joined.
#[inline(always)]
fn notify(xs: &Disjoint<'_, CrossSt>, hit: &[AtomicU32], lc: LinkCross, v: u32, d: f64, ep: u32) {
    // SAFETY: the slot has a single writer and no reader during the pass (see above).
    unsafe { xs.update(lc.foe as usize, |x| *x = CrossSt { dist: d, veh: v, epoch: ep }) };
    // Several links may mark the same foe link, all with the same value; a relaxed
    // atomic store is a plain store on the targets that matter.
    hit[lc.foe_link as usize].store(ep, Relaxed);
}

/// Per lane link, an epoch stored from several threads at once (see [`notify`]).
#[derive(Debug, Default)]
pub(crate) struct Hits(pub Vec<AtomicU32>);

impl Hits {
    pub fn new(n: usize) -> Hits {
        Hits((0..n).map(|_| AtomicU32::new(0)).collect())
    }
}

impl Clone for Hits {
    fn clone(&self) -> Hits {
        Hits(self.0.iter().map(|h| AtomicU32::new(h.load(Relaxed))).collect())
    }
}

/// The notification epoch of `step`: never 0 (the "never notified" value).
#[inline]
fn epoch(step: u64) -> u32 {
    (step % u32::MAX as u64) as u32 + 1
}

/// Per lane link (`links`: their drivables), the distance from its far-end cross to its end,
/// as `notify_link` computes it; infinite for a link without crosses.
pub(super) fn far_cross_dists(off: &[u32], crosses: &[LinkCross], links: &[super::DrvStatic]) -> Vec<f64> {
    off.windows(2)
        .zip(links)
        .map(|(w, l)| if w[1] > w[0] { l.len - crosses[w[1] as usize - 1].dist } else { f64::INFINITY })
        .collect()
}

/// Every lane link's crossing points as one contiguous array (offsets per link), in the
/// link's order (nearest first).
pub(super) fn flatten_crosses(net: &Network) -> (Vec<u32>, Vec<LinkCross>) {
    let mut off = Vec::with_capacity(net.lane_links.len() + 1);
    let mut slot_of = vec![[0u32; 2]; net.crosses.len()];
    let mut out = Vec::new();
    off.push(0);
    for ll in &net.lane_links {
        for &(c, side) in &ll.crosses {
            slot_of[c.idx()][side as usize] = out.len() as u32;
            let cross = &net.crosses[c.idx()];
            out.push(LinkCross { dist: cross.distance[side as usize], foe: 0, foe_link: cross.links[1 - side as usize].0 });
        }
        off.push(out.len() as u32);
    }
    for ll in &net.lane_links {
        for &(c, side) in &ll.crosses {
            out[slot_of[c.idx()][side as usize] as usize].foe = slot_of[c.idx()][1 - side as usize];
        }
    }
    (off, out)
}
