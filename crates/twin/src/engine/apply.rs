//! Applying the buffered actions: vehicle state, cached next drivables, statistics.

use rayon::prelude::*;

use super::core::DETECTOR_FRACTION;
use super::{Act, Sim, SimEvent, Veh, VehAux, NONE};
use crate::ids::{LaneId, MovementId};
use crate::VehicleId;

/// Vehicle slots per unit of work when actions are applied in parallel.
const APPLY_CHUNK: usize = 1024;

/// What one applied action adds to the statistics, summed in slot order afterwards.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Applied {
    distance: f64,
    speed: f64,
    /// Road of the lane driven after the action, `NONE` on a lane link; `u32::MAX - 1`
    /// for a slot that is not running.
    road: u32,
}

const IDLE: u32 = NONE - 1;

/// Apply action `a` to vehicle `s` (with `next`, its next drivable if the action changes
/// its drivable).
#[inline]
fn apply(s: &mut Veh, x: &mut VehAux, a: &Act, next: u32) {
    if a.drv != NONE {
        x.prev_drv = s.drv;
        s.drv = a.drv;
        s.route_pos = a.route_pos;
        s.next_drv = next;
    }
    s.still = a.drv == NONE && s.speed.to_bits() == a.speed.to_bits() && s.dis.to_bits() == a.dis.to_bits();
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
    /// Apply buffered actions; refresh cached next drivables; accumulate statistics. With
    /// threads (and no events to record) the vehicles are updated in parallel and only
    /// the sums run in slot order, so they are bit-identical to the sequential ones.
    pub(super) fn update_action(&mut self) {
        if self.cfg.threads > 1 && !self.cfg.record_events && self.stats.running > 4096 {
            self.update_action_par();
            return;
        }
        // One thread (or events to record): every slot in order, the arrays side by side.
        let dt = self.cfg.dt;
        let (mut vs, mut aux) = (std::mem::take(&mut self.vs), std::mem::take(&mut self.aux));
        let mut events = std::mem::take(&mut self.events);
        let st = &self.stats;
        let (mut updates, mut distance, mut time) = (st.vehicle_updates, st.distance_sum, st.vehicle_time);
        let mut road_sum = std::mem::take(&mut self.stats.road_speed_sum);
        let mut road_samples = std::mem::take(&mut self.stats.road_samples);
        for ((s, x), a) in vs.iter_mut().zip(aux.iter_mut()).zip(&self.acts) {
            if !s.running {
                continue;
            }
            let old_speed = s.speed;
            if self.cfg.record_events {
                self.apply_events(s, x, a, &mut events);
            }
            let next = if a.drv != NONE { self.next_of(s.flow, a.route_pos, a.drv) } else { NONE };
            apply(s, x, a, next);
            updates += 1;
            distance += (old_speed + a.speed) * dt / 2.0;
            time += dt;
            if s.drv < self.n_lanes {
                let r = self.lane_road[s.drv as usize] as usize;
                road_sum[r] += a.speed;
                road_samples[r] += 1;
            }
        }
        self.vs = vs;
        self.aux = aux;
        self.events = events;
        let st = &mut self.stats;
        (st.vehicle_updates, st.distance_sum, st.vehicle_time) = (updates, distance, time);
        st.road_speed_sum = road_sum;
        st.road_samples = road_samples;
    }

    fn update_action_par(&mut self) {
        let dt = self.cfg.dt;
        let mut vs = std::mem::take(&mut self.vs);
        let mut aux = std::mem::take(&mut self.aux);
        let mut out = std::mem::take(&mut self.applied);
        // Every entry is written below (idle slots get `IDLE`), so only the length matters.
        out.resize(vs.len(), Applied::default());
        let this = &*self;
        vs.par_chunks_mut(APPLY_CHUNK)
            .zip(aux.par_chunks_mut(APPLY_CHUNK))
            .zip(out.par_chunks_mut(APPLY_CHUNK))
            .enumerate()
            .for_each(|(c, ((vc, xc), oc))| {
                for (k, ((s, x), o)) in vc.iter_mut().zip(xc.iter_mut()).zip(oc.iter_mut()).enumerate() {
                    if !s.running {
                        o.road = IDLE;
                        continue;
                    }
                    let a = &this.acts[c * APPLY_CHUNK + k];
                    let old_speed = s.speed;
                    let next = if a.drv != NONE { this.next_of(s.flow, a.route_pos, a.drv) } else { NONE };
                    apply(s, x, a, next);
                    o.distance = (old_speed + a.speed) * dt / 2.0;
                    o.speed = a.speed;
                    o.road = if s.drv < this.n_lanes { this.lane_road[s.drv as usize] } else { NONE };
                }
            });
        self.vs = vs;
        self.aux = aux;
        let st = &mut self.stats;
        for o in &out {
            if o.road == IDLE {
                continue;
            }
            st.vehicle_updates += 1;
            st.distance_sum += o.distance;
            st.vehicle_time += dt;
            if o.road != NONE {
                st.road_speed_sum[o.road as usize] += o.speed;
                st.road_samples[o.road as usize] += 1;
            }
        }
        self.applied = out;
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
            let p = self.drv_len[s.drv as usize] * DETECTOR_FRACTION;
            if s.dis < p && a.dis >= p {
                events.push(SimEvent::DetectorPass { veh: id, lane: LaneId(s.drv), speed: a.speed });
            }
        }
    }
}
