//! Why vehicles stand: every running vehicle slower than [`WAITING_SPEED`], counted by
//! what holds up the front of its queue. A diagnostic for jams (`sim --standing-at`); it
//! reads the state only.

use super::observe::WAITING_SPEED;
use super::{Sim, NONE};

/// Standing vehicles by cause (see [`Sim::standing`]). Every standing vehicle is counted
/// once, under the cause of the front vehicle of its lane (or lane link).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    pub total: u64,
    /// The front is on a lane that does not lead on along its route: it waits for a lane
    /// change (or a teleport).
    pub wrong_lane: u64,
    /// The front waits at a red signal.
    pub red: u64,
    /// The front has green but the lane after the junction has no room (spillback).
    pub no_room: u64,
    /// The front yields to a vehicle crossing its path in the junction.
    pub yielding: u64,
    /// The vehicle stands on a lane link, inside the junction box.
    pub in_junction: u64,
    /// The front takes part in a lane change (a shadow, a partner, a signal).
    pub lane_change: u64,
    /// Anything else (behind a front that moves, at the end of its route, ...).
    pub other: u64,
}

impl Sim {
    /// Count the standing vehicles by cause (see [`Standing`]). Lane-change shadows are
    /// not vehicles and are not counted.
    pub fn standing(&self) -> Standing {
        let mut st = Standing::default();
        for d in self.occupied.range(0, self.head.len()) {
            let cause = self.front_cause(d as u32);
            for v in self.queue(d) {
                let s = &self.vs[v as usize];
                if s.speed >= WAITING_SPEED || self.is_shadow(v) {
                    continue;
                }
                st.total += 1;
                *match cause {
                    Cause::WrongLane => &mut st.wrong_lane,
                    Cause::Red => &mut st.red,
                    Cause::NoRoom => &mut st.no_room,
                    Cause::Yielding => &mut st.yielding,
                    Cause::InJunction => &mut st.in_junction,
                    Cause::LaneChange => &mut st.lane_change,
                    Cause::Other => &mut st.other,
                } += 1;
            }
        }
        st
    }

    fn front_cause(&self, d: u32) -> Cause {
        if self.is_link(d) {
            return Cause::InJunction;
        }
        let h = self.head[d as usize];
        let s = &self.vs[h as usize];
        if let Some(lc) = self.lc.as_ref() {
            let l = &lc.v[h as usize];
            if l.kind != 0 || l.changing || l.recv != NONE {
                return Cause::LaneChange;
            }
        }
        let more = (s.route_pos as usize + 1) < self.route(s.flow).len();
        if s.next_drv == NONE {
            return if more { Cause::WrongLane } else { Cause::Other };
        }
        if s.speed >= WAITING_SPEED {
            return Cause::Other;
        }
        if self.is_link(s.next_drv) {
            if !self.link_available(s.next_drv) {
                return Cause::Red;
            }
            if !self.can_enter(self.link_to[(s.next_drv - self.n_lanes) as usize], h) {
                return Cause::NoRoom;
            }
            if self.acts[h as usize].blocker != NONE {
                return Cause::Yielding;
            }
        }
        Cause::Other
    }
}

#[derive(Clone, Copy)]
enum Cause {
    WrongLane,
    Red,
    NoRoom,
    Yielding,
    InJunction,
    LaneChange,
    Other,
}
