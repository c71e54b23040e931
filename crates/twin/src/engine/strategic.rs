//! Strategic lane changing for SUMO input ([`SimConfig::strategic_lanes`](super::SimConfig)),
//! the twin's addition to CityFlow's model. CityFlow files never turn it on, so their runs
//! take none of this code.
//!
//! CityFlow's router only ever takes a lane link whose end lane leads on to the road after
//! the next, and its lane changes are opportunistic (a better gap, never to follow the
//! route). On CityFlow's own networks every movement's lanes allow that; on SUMO networks
//! they often do not: a right turn that ends in the rightmost lane before a left turn, an
//! on-ramp whose acceleration lane ends, a lane that only turns. There the vehicle stood at
//! the end of its lane until it was teleported. With the option on:
//! - **Loose routing**: when no lane link from a lane to the next road ends in a lane that
//!   leads on, the router takes the link to the next road whose end lane is fewest lanes
//!   away from one that does (then the nearest in index), and the vehicle changes lanes
//!   on the next road (`next_of_loose`).
//! - **Route signal**: a vehicle on a lane that is not among the best of its road for its
//!   route signals for the adjacent lane towards the nearest best lane, anywhere on the lane
//!   and whatever its gap (CityFlow's signal needs a gap in a band and 30 m to the lane's
//!   end). Best means, in order: the lane has a link to the next road whose end lane leads
//!   on to the road after ([`Rank::Continues`]); it has a link to the next road
//!   ([`Rank::Reaches`]); neither. A vehicle in a lane of the last kind stops at its end
//!   and waits for its change (urgency 3); one of the middle kind keeps driving and
//!   changes where it can (urgency 2). The change itself is CityFlow's: a safe gap, a
//!   shadow, the sideways move.
//! - **Urgency decides who yields**: a vehicle receives a signal when the sender's
//!   (urgency, priority) beats its own and the one it holds (CityFlow compares priorities
//!   only), so a vehicle that must change is let in by one that merely wants to.
//! - **Opportunistic changes keep the route**: CityFlow's gap-seeking change goes only to a
//!   lane ranked as well as the current one.
//! - **Entry lanes**: a new vehicle enters on a lane that continues its route two roads
//!   ahead when there is one.

use super::lanechange::{LcSim, Signal};
use super::{Sim, NONE};

/// How well a lane serves a vehicle's route from its road on (lower is better).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// A lane link to the next road ends in a lane that leads to the road after it (or
    /// the road is the last, or the next is).
    Continues = 0,
    /// A lane link to the next road, none of whose end lanes leads on.
    Reaches = 1,
    /// No lane link to the next road.
    Stuck = 2,
}

impl Sim {
    /// [`Sim::next_of`]'s fallback with strategic lanes: from lane `drv`, the lane link to
    /// road `r1` whose end lane is fewest lanes from one that leads to `r2`, then nearest
    /// in index to `drv`; `NONE` if no link reaches `r1`.
    pub(super) fn next_of_loose(&self, drv: u32, r1: u32, r2: Option<u32>) -> u32 {
        let cur = self.lane_index[drv as usize] as i64;
        let mut best = (NONE, (i64::MAX, i64::MAX));
        for &ll in self.out_links(drv) {
            let to = self.link_to[ll as usize];
            if self.lane_road[to as usize] != r1 {
                continue;
            }
            let off = r2.map_or(0, |r2| self.lanes_from(to, r2));
            let key = (off, (self.lane_index[to as usize] as i64 - cur).abs());
            if key < best.1 {
                best = (self.n_lanes + ll, key);
            }
        }
        best.0
    }

    /// How many lanes `lane` is from the nearest lane of its road that leads to road `r`
    /// (0: it leads there itself; `i64::MAX / 2` if none does).
    fn lanes_from(&self, lane: u32, r: u32) -> i64 {
        let road = &self.net.roads[self.lane_road[lane as usize] as usize];
        let idx = self.lane_index[lane as usize] as i64;
        road.lanes()
            .filter(|l| self.lane_leads_to(l.0, r))
            .map(|l| (self.lane_index[l.0 as usize] as i64 - idx).abs())
            .min()
            .unwrap_or(i64::MAX / 2)
    }

    /// How well lane `lane` serves the route of `flow` from route position `pos` on.
    pub(crate) fn lane_rank(&self, flow: u32, pos: u32, lane: u32) -> Rank {
        let route = self.route(flow);
        let pos = pos as usize;
        let Some(r1) = route.get(pos + 1).map(|r| r.0) else { return Rank::Continues };
        if !self.lane_leads_to(lane, r1) {
            return Rank::Stuck;
        }
        let Some(r2) = route.get(pos + 2).map(|r| r.0) else { return Rank::Continues };
        let continues = self.out_links(lane).iter().any(|&ll| {
            let to = self.link_to[ll as usize];
            self.lane_road[to as usize] == r1 && self.lane_leads_to(to, r2)
        });
        if continues {
            Rank::Continues
        } else {
            Rank::Reaches
        }
    }

    /// The route signal of vehicle `v` (see the module header), if its lane is not among
    /// the best of its road for its route.
    pub(super) fn route_signal(&self, v: u32) -> Option<Signal> {
        let s = &self.vs[v as usize];
        if self.is_link(s.drv) {
            return None;
        }
        let cur = self.lane_rank(s.flow, s.route_pos, s.drv);
        if cur == Rank::Continues {
            return None;
        }
        let road = &self.net.roads[self.lane_road[s.drv as usize] as usize];
        let idx = self.lane_index[s.drv as usize] as i64;
        let (rank, target) = road
            .lanes()
            .map(|l| (self.lane_rank(s.flow, s.route_pos, l.0), (self.lane_index[l.0 as usize] as i64 - idx).abs(), l.0))
            .min()
            .map(|(r, _, l)| (r, l))?;
        if rank >= cur {
            return None;
        }
        let dir: i32 = if self.lane_index[target as usize] as i64 > idx { 1 } else { -1 };
        let side = self.side_lane(s.drv, dir);
        let urgency = if cur == Rank::Stuck { 3 } else { 2 };
        (side != NONE).then_some(Signal { target: side, urgency, direction: dir as i8 })
    }

    /// Whether CityFlow's gap-seeking change of `v` may go to lane `lane`: with strategic
    /// lanes, only to a lane that serves its route as well as its own does.
    pub(super) fn may_change_to(&self, v: u32, lane: u32) -> bool {
        let s = &self.vs[v as usize];
        if self.cfg.strategic_lanes {
            self.lane_rank(s.flow, s.route_pos, lane) <= self.lane_rank(s.flow, s.route_pos, s.drv)
        } else {
            self.next_of(s.flow, s.route_pos, lane) != NONE
        }
    }

    /// With strategic lanes, the (urgency, priority) a vehicle's signal competes with: the
    /// urgency counts only while it plans a change.
    pub(super) fn signal_rank(&self, lc: &LcSim, v: u32) -> (i32, u32) {
        let l = &lc.v[v as usize];
        let urgency = match l.send {
            Some(sig) if sig.target != NONE && sig.target != self.vs[v as usize].drv => sig.urgency,
            _ => 0,
        };
        (urgency, self.aux[v as usize].priority)
    }

    /// The entry lanes of a new vehicle of `flow` among `lanes` (those leading to its
    /// second road): with strategic lanes, those that continue its route, if any.
    pub(super) fn strategic_entry(&self, flow: u32, lanes: &mut Vec<u32>) {
        if !self.cfg.strategic_lanes {
            return;
        }
        let best: Vec<u32> = lanes.iter().copied().filter(|&l| self.lane_rank(flow, 0, l) == Rank::Continues).collect();
        if !best.is_empty() {
            *lanes = best;
        }
    }
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
