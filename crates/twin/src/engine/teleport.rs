//! Jam resolution, as SUMO does it (`--time-to-teleport`): the front vehicle of a lane that
//! has stood (speed below 0.1 m/s) for longer than [`SimConfig::teleport_after`] seconds is
//! taken off its lane and put at the front of the entry buffer of the next lane of its
//! route, the lane its chosen lane link leads to; it enters that lane as soon as there is
//! room (as a new vehicle would), keeps its identity, trip start and stops, and is counted
//! in [`Metrics::teleports`](super::Metrics::teleports). A vehicle on the last road of its
//! route has nowhere to jump to and is left alone. A vehicle stuck in a lane with no link
//! that continues its route (the car-following model alone never leaves its lane) goes to
//! the lane of the next road that does continue it.
//!
//! Off by default (`None`), so CityFlow runs stay bit-identical: the only cost then is one
//! test per step in [`Sim::step`]. SUMO's default is 300 s, and the CLI turns it on for
//! imported SUMO scenarios.
//!
//! Model choices: only lane fronts are checked (as SUMO checks the first vehicle of each
//! lane); standing time is measured from when the vehicle stood still at the front of its
//! lane (in a queue it moves up now and then, which restarts SUMO's waiting time too);
//! vehicles inside a junction (on a lane link) are not teleported: a gridlock always
//! includes a lane front.

use std::collections::HashMap;

use super::{Act, Sim, SimConfig, NONE};
use crate::engine::observe::WAITING_SPEED;

/// SUMO's default `time-to-teleport`, seconds.
pub const SUMO_TIME_TO_TELEPORT: f64 = 300.0;

/// Jam-resolution state (empty unless [`SimConfig::teleport_after`] is set).
#[derive(Clone, Debug, Default)]
pub(crate) struct Teleports {
    /// Vehicle id → time it began standing at the front of its lane.
    since: HashMap<u64, f64>,
    scratch: HashMap<u64, f64>,
    /// Vehicles teleported so far.
    pub(crate) count: u64,
}

impl Sim {
    /// Teleport every lane front that has stood too long (see the module header).
    pub(super) fn resolve_jams(&mut self) {
        let Some(after) = self.cfg.teleport_after else { return };
        let now = self.time();
        let mut next = std::mem::take(&mut self.tele.scratch);
        next.clear();
        let mut jump = Vec::new();
        for d in self.occupied.range(0, self.n_lanes as usize) {
            let v = self.head[d];
            let s = &self.vs[v as usize];
            if s.speed >= WAITING_SPEED {
                continue;
            }
            let id = self.aux[v as usize].id;
            let t0 = self.tele.since.get(&id).copied().unwrap_or(now);
            let more = (s.route_pos as usize + 1) < self.route(s.flow).len();
            if now - t0 >= after && more && !self.lc_busy(v) {
                jump.push(d as u32);
            } else {
                next.insert(id, t0);
            }
        }
        self.tele.scratch = std::mem::replace(&mut self.tele.since, next);
        for d in jump {
            self.teleport_front(d);
        }
    }

    /// Move the front vehicle of lane `d` to the entry buffer of the lane its next lane
    /// link leads to.
    fn teleport_front(&mut self, d: u32) {
        let v = self.head[d as usize];
        self.q_pop(d);
        let h = self.head[d as usize];
        if h != NONE {
            // The vehicle behind is the front now: it looks ahead.
            let (leader, gap) = self.find_leader(h);
            let s = &mut self.vs[h as usize];
            s.front = true;
            s.leader = leader;
            s.gap = gap;
            self.head_next[d as usize] = s.next_drv;
        }
        let s = self.vs[v as usize];
        let pos = s.route_pos + 1;
        let to = if s.next_drv != NONE && self.is_link(s.next_drv) {
            self.link_to[(s.next_drv - self.n_lanes) as usize]
        } else {
            // Its lane has no link that continues the route (no lane change reached one):
            // the lane of the next road that continues it, nearest in index.
            self.continuing_lane(s.flow, pos, self.lane_index[d as usize])
        };
        let next_drv = self.next_of(s.flow, pos, to);
        let veh = &mut self.vs[v as usize];
        veh.drv = to;
        veh.route_pos = pos;
        veh.next_drv = next_drv;
        veh.speed = 0.0;
        veh.dis = 0.0;
        veh.gap = 0.0;
        veh.leader = NONE;
        veh.prev_drv = NONE;
        veh.blocker = NONE;
        veh.behind = NONE;
        veh.running = false;
        veh.stopped = true;
        veh.still = false;
        veh.front = false;
        self.aux[v as usize].enter_link_step = u32::MAX;
        self.acts[v as usize] = Act::default();
        self.waiting[to as usize].push_front(v);
        self.buffered.insert(to as usize);
        self.stats.running -= 1;
        self.tele.count += 1;
    }
}

impl Sim {
    /// Lane changing is on and `v` takes part in a change (a shadow, a vehicle with one,
    /// or one holding or sending a signal): not teleported until that is over.
    fn lc_busy(&self, v: u32) -> bool {
        self.lc.as_ref().is_some_and(|lc| {
            let l = &lc.v[v as usize];
            l.kind != 0 || l.recv != NONE || l.changing || l.send.is_some()
        })
    }

    /// The lane of road `route[pos]` of `flow` that leads to the road after it (any lane on
    /// the last road), nearest to lane index `index`; ties to the lower index.
    fn continuing_lane(&self, flow: u32, pos: u32, index: u32) -> u32 {
        let route = self.route(flow);
        let road = self.net.road(route[pos as usize]);
        let after = route.get(pos as usize + 1).map(|r| r.0);
        let ok = |l: u32| after.is_none_or(|r| self.lane_leads_to(l, r));
        let lanes = road.lanes().map(|l| l.0);
        let best = lanes.clone().filter(|&l| ok(l)).min_by_key(|&l| (self.lane_index[l as usize] as i64 - index as i64).abs());
        best.unwrap_or(road.first_lane.0)
    }
}

impl SimConfig {
    /// SUMO's jam resolution (`teleport_after` = 300 s), for imported SUMO scenarios.
    pub fn with_sumo_teleports(self) -> SimConfig {
        SimConfig { teleport_after: Some(SUMO_TIME_TO_TELEPORT), ..self }
    }
}

#[cfg(test)]
#[path = "teleport_tests.rs"]
mod tests;
