//! Applying the buffered actions: vehicle state, cached next drivables, statistics.

use rayon::prelude::*;

use super::core::{ACT_CHUNK, DETECTOR_FRACTION};
use super::observe::Accum;
use super::{Act, Sim, SimEvent, Veh, VehAux, NONE};
use crate::VehicleId;
use city::ids::{LaneId, MovementId};

/// What one applied action adds to the statistics, summed in slot order afterwards.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Applied {
    distance: f64,
    speed: f64,
    /// Road of the lane driven after the action, `NONE` on a lane link.
    road: u32,
}

impl Accum {
    /// Add what one vehicle-step adds to the float sums. Vehicle updates and per-road
    /// samples are counts, taken from the queues (see `update_leaders`); a vehicle left out
    /// of the apply pass adds exactly zero to every sum here.
    #[inline]
    fn add(&mut self, o: &Applied) {
        self.distance_sum += o.distance;
        if o.road != NONE {
            self.road_speed_sum[o.road as usize] += o.speed;
        }
    }
}

/// Apply action `a` to vehicle `s` (with `next`, its next drivable if the action changes
/// its drivable).
#[inline]
fn apply(s: &mut Veh, x: &mut VehAux, a: &Act, next: u32) {
    if a.drv != NONE {
        s.prev_drv = s.drv;
        s.drv = a.drv;
        s.route_pos = a.route_pos;
        s.next_drv = next;
    }
    // Non-short-circuit `&`: the three tests are cheap and their outcomes unpredictable.
    s.still = (a.drv == NONE) & (s.speed.to_bits() == a.speed.to_bits()) & (s.dis.to_bits() == a.dis.to_bits());
    s.speed = a.speed;
    s.dis = a.dis;
    s.blocker = a.blocker;
    if a.speed < 0.1 {
        if !s.stopped {
            s.stopped = true;
            x.stops += 1;
        }
    } else if a.speed > 1.0 {
        s.stopped = false;
    }
}

impl Sim {
    /// Apply buffered actions; refresh cached next drivables; accumulate statistics. Only
    /// the live vehicles (see `act_chunk`) are visited: the others are at rest reusing the
    /// action last applied to them, so applying it again would change nothing and add
    /// exactly zero to every sum. With threads (and no events to record) the vehicles are
    /// updated in parallel and only the sums run in slot order, so they are bit-identical
    /// to the sequential ones.
    pub(super) fn update_action(&mut self) {
        if self.cfg.threads > 1 && !self.cfg.record_events && self.stats.running > 4096 {
            self.update_action_par();
            return;
        }
        let (mut vs, mut aux) = (std::mem::take(&mut self.vs), std::mem::take(&mut self.aux));
        let mut events = std::mem::take(&mut self.events);
        let mut st = std::mem::replace(&mut self.stats, Accum::new(0));
        for &v in self.live.iter().flatten() {
            let (s, x, a) = (&mut vs[v as usize], &mut aux[v as usize], &self.acts[v as usize]);
            if !s.running {
                // It finished its trip in `update_location`.
                continue;
            }
            if self.cfg.record_events && !self.is_shadow(v) {
                self.apply_events(s, x, a, &mut events);
            }
            st.add(&self.apply_one(s, x, a));
        }
        self.vs = vs;
        self.aux = aux;
        self.events = events;
        self.stats = st;
    }

    fn update_action_par(&mut self) {
        let mut vs = std::mem::take(&mut self.vs);
        let mut aux = std::mem::take(&mut self.aux);
        let mut out = std::mem::take(&mut self.applied);
        out.resize_with(self.live.len(), Vec::new);
        let this = &*self;
        // A chunk's live vehicles are all in its own slot range.
        vs.par_chunks_mut(ACT_CHUNK)
            .zip(aux.par_chunks_mut(ACT_CHUNK))
            .zip(self.live.par_iter().zip(out.par_iter_mut()))
            .enumerate()
            .for_each(|(c, ((vc, xc), (live, o)))| {
                o.clear();
                for &v in live {
                    let k = v as usize - c * ACT_CHUNK;
                    let s = &mut vc[k];
                    if s.running {
                        o.push(this.apply_one(s, &mut xc[k], &this.acts[v as usize]));
                    }
                }
            });
        self.vs = vs;
        self.aux = aux;
        for o in out.iter().flatten() {
            self.stats.add(o);
        }
        self.applied = out;
    }

    /// Apply action `a` to running vehicle `s`: its new state and what it adds to the
    /// statistics.
    #[inline]
    fn apply_one(&self, s: &mut Veh, x: &mut VehAux, a: &Act) -> Applied {
        let old_speed = s.speed;
        let next = if a.drv != NONE { self.next_of(s.flow, a.route_pos, a.drv) } else { NONE };
        apply(s, x, a, next);
        Applied {
            distance: (old_speed + a.speed) * self.cfg.dt / 2.0,
            speed: a.speed,
            road: if s.drv < self.n_lanes { self.lane_road[s.drv as usize] } else { NONE },
        }
    }

    /// The events of applying action `a` to vehicle `s` (before it is applied).
    fn apply_events(&self, s: &Veh, x: &VehAux, a: &Act, events: &mut Vec<SimEvent>) {
        let id = VehicleId(x.id);
        if a.drv != NONE {
            if s.drv < self.n_lanes {
                let movement = (a.drv >= self.n_lanes).then(|| MovementId(self.link_movement[(a.drv - self.n_lanes) as usize]));
                events.push(SimEvent::LaneExit { veh: id, lane: LaneId(s.drv), speed: a.speed, movement });
            }
            if a.drv < self.n_lanes {
                events.push(SimEvent::LaneEnter { veh: id, lane: LaneId(a.drv), speed: a.speed });
            }
        } else if s.drv < self.n_lanes {
            let p = self.drvs[s.drv as usize].len * DETECTOR_FRACTION;
            if s.dis < p && a.dis >= p {
                events.push(SimEvent::DetectorPass { veh: id, lane: LaneId(s.drv), speed: a.speed });
            }
        }
    }
}
