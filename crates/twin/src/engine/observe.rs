//! Observation: metrics, per-lane statistics, vehicle views, per-step events (the hooks
//! virtual sensors are built on) and the per-road speed time series.

use super::{Sim, VehicleId};
use city::geom::{direction_at, point_at, Point};
use city::ids::{LaneId, LaneLinkId, MovementId, RoadId};

/// Speed below which a vehicle counts as waiting (CityFlow's definition).
pub const WAITING_SPEED: f64 = 0.1;

/// Running totals maintained by the engine.
#[derive(Clone, Debug)]
pub(crate) struct Accum {
    pub created: u64,
    pub alive: u64,
    pub running: u64,
    pub alive_enter_sum: f64,
    pub finished: u64,
    pub finished_tt_sum: f64,
    pub delay_sum: f64,
    /// Sum over finished trips of travel time / free-flow time.
    pub delay_index_sum: f64,
    pub stops_sum: u64,
    /// Lane-change shadows that left (CityFlow counts them as finished trips in its
    /// average travel time), and their travel times.
    pub ghost_finished: u64,
    pub ghost_tt_sum: f64,
    pub vehicle_updates: u64,
    pub distance_sum: f64,
    pub road_speed_sum: Vec<f64>,
    pub road_samples: Vec<u32>,
    pub road_series: Vec<Vec<f32>>,
    pub series: Vec<SeriesPoint>,
    pub next_series: f64,
}

impl Accum {
    pub fn new(n_roads: usize) -> Accum {
        Accum {
            created: 0,
            alive: 0,
            running: 0,
            alive_enter_sum: 0.0,
            finished: 0,
            finished_tt_sum: 0.0,
            delay_sum: 0.0,
            delay_index_sum: 0.0,
            stops_sum: 0,
            ghost_finished: 0,
            ghost_tt_sum: 0.0,
            vehicle_updates: 0,
            distance_sum: 0.0,
            road_speed_sum: vec![0.0; n_roads],
            road_samples: vec![0; n_roads],
            road_series: vec![Vec::new(); n_roads],
            series: Vec::new(),
            next_series: 0.0,
        }
    }
}

/// Whole-run metrics at the current time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    pub time_s: f64,
    /// CityFlow's definition: finished trips plus (now - creation) for every vehicle still
    /// in the network or waiting to enter, over all vehicles created.
    pub average_travel_time_s: f64,
    /// Trips finished.
    pub throughput: u64,
    pub vehicles_created: u64,
    /// Vehicles on the roads now.
    pub vehicles_running: u64,
    /// Vehicles created but still waiting to enter.
    pub vehicles_waiting: u64,
    /// Mean over finished trips of max(0, travel time - free-flow time).
    pub mean_delay_s: f64,
    /// Mean number of stops (speed falling below 0.1 m/s after moving) per finished trip.
    pub stops_per_vehicle: f64,
    /// Distance driven over time spent driving, all vehicles, whole run.
    pub average_speed_mps: f64,
    /// Vehicle updates performed (one vehicle advanced one step).
    pub vehicle_updates: u64,
    /// Vehicles moved past a jam (`SimConfig::teleport_after`); 0 when that is off.
    pub teleports: u64,
}

/// The vehicles that have not finished, at the current time ([`Sim::unfinished`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Unfinished {
    /// Vehicles on the roads.
    pub running: u64,
    /// Vehicles created but still waiting to enter.
    pub waiting: u64,
    /// Sum of their delays so far, seconds.
    pub delay_sum_s: f64,
    /// Sum of their stops so far.
    pub stops_sum: u64,
}

/// Per-lane observation at the current time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LaneStats {
    pub count: u32,
    /// Vehicles slower than [`WAITING_SPEED`].
    pub waiting: u32,
    /// Share of the lane's length covered by vehicles, 0..1.
    pub occupancy: f64,
    /// Mean speed of vehicles on the lane (0 when empty).
    pub mean_speed: f64,
    /// Length from the stop line back to the end of the last waiting vehicle of the
    /// queue that starts at the stop line.
    pub queue_length_m: f64,
    /// Vehicles waiting in the entry buffer of this lane.
    pub entry_buffer: u32,
}

/// One vehicle as a sensor or display sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VehicleView {
    pub id: VehicleId,
    pub pos: Point,
    /// Radians, CityFlow convention (atan2 of the direction).
    pub heading: f64,
    pub speed: f64,
    pub road: Option<RoadId>,
    pub lane: Option<LaneId>,
    pub lane_link: Option<LaneLinkId>,
    /// Distance along the current lane or lane link.
    pub dis: f64,
    pub length: f64,
    pub width: f64,
    /// Index of the flow that released it.
    pub flow: u32,
    /// Its number within that flow: CityFlow names it `flow_<flow>_<seq>`.
    pub seq: u32,
}

/// Things that happened during the last step: the raw material of virtual sensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SimEvent {
    TripStart {
        veh: VehicleId,
        lane: LaneId,
        time: f64,
    },
    LaneEnter {
        veh: VehicleId,
        lane: LaneId,
        speed: f64,
    },
    /// Left a lane; `movement` is the junction movement it took (None when the trip ended).
    LaneExit {
        veh: VehicleId,
        lane: LaneId,
        speed: f64,
        movement: Option<MovementId>,
    },
    /// The vehicle's front crossed the lane's loop detector (at [`super::DETECTOR_FRACTION`]).
    DetectorPass {
        veh: VehicleId,
        lane: LaneId,
        speed: f64,
    },
    TripEnd {
        veh: VehicleId,
        travel_time: f64,
        free_flow_time: f64,
        /// Times it stopped (speed falling below 0.1 m/s after moving).
        stops: u32,
    },
}

/// A network-wide sample of the time series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesPoint {
    pub time_s: f64,
    pub vehicles_running: u64,
    pub vehicles_waiting: u64,
    /// Running vehicles slower than [`WAITING_SPEED`].
    pub queued: u64,
    pub mean_speed_mps: f64,
    pub average_travel_time_s: f64,
    pub throughput: u64,
}

impl Sim {
    pub fn metrics(&self) -> Metrics {
        let s = &self.stats;
        let now = self.time();
        // Without lane changing the ghost terms are exactly 0 and change nothing.
        let n = s.finished + s.ghost_finished + s.alive;
        let tt = (s.finished_tt_sum + s.ghost_tt_sum) + s.alive as f64 * now - s.alive_enter_sum;
        Metrics {
            time_s: now,
            average_travel_time_s: if n == 0 { 0.0 } else { tt / n as f64 },
            throughput: s.finished,
            vehicles_created: s.created,
            vehicles_running: s.running,
            vehicles_waiting: s.alive - s.running,
            mean_delay_s: if s.finished == 0 { 0.0 } else { s.delay_sum / s.finished as f64 },
            stops_per_vehicle: if s.finished == 0 { 0.0 } else { s.stops_sum as f64 / s.finished as f64 },
            // Time spent driving: one step per vehicle update (exact, whatever the order).
            average_speed_mps: if s.vehicle_updates > 0 {
                s.distance_sum / (s.vehicle_updates as f64 * self.cfg.dt)
            } else {
                0.0
            },
            vehicle_updates: s.vehicle_updates,
            teleports: self.tele.count,
        }
    }

    /// The KDD Cup 2021 delay index: the mean over vehicles that have entered the network
    /// (finished or running) of (elapsed + remaining free-flow time) / whole-trip free-flow
    /// time; a finished trip counts travel time / free-flow time. `None` before any vehicle
    /// has entered. The remaining free-flow time of a vehicle part-way along a road is
    /// interpolated linearly along that road.
    pub fn delay_index(&self) -> Option<f64> {
        let now = self.time();
        let mut sum = self.stats.delay_index_sum;
        let mut n = self.stats.finished;
        for (s, x) in self.vs.iter().zip(&self.aux).filter(|(s, _)| s.running) {
            let (done, total) = self.free_flow_done(s);
            sum += ((now - x.enter_time) + (total - done).max(0.0)) / total;
            n += 1;
        }
        (n > 0).then(|| sum / n as f64)
    }

    /// Free-flow time of the part of its route a running vehicle has covered, and of the
    /// whole route (at least 1e-9), seconds; linear along the current road.
    fn free_flow_done(&self, s: &super::Veh) -> (f64, f64) {
        let prefix = &self.flow_free_prefix[s.flow as usize];
        let total = self.flow_free_time[s.flow as usize].max(1e-9);
        let k = (s.route_pos as usize).min(prefix.len().saturating_sub(2));
        let done = if self.is_link(s.drv) {
            prefix.get(k + 1).copied().unwrap_or(total)
        } else {
            let (a, b) = (prefix[k], prefix.get(k + 1).copied().unwrap_or(total));
            let len = self.drvs[s.drv as usize].len.max(1e-9);
            a + (b - a) * (s.dis / len).clamp(0.0, 1.0)
        };
        (done, total)
    }

    /// Delay and stops so far of the vehicles that have not finished: a running vehicle's
    /// delay is its time since creation minus the free-flow time of what it has covered,
    /// a vehicle still waiting to enter has covered nothing. With [`Metrics`] (finished
    /// trips) this gives run metrics over every vehicle.
    pub fn unfinished(&self) -> Unfinished {
        let now = self.time();
        let mut u = Unfinished::default();
        for (v, (s, x)) in self.vs.iter().zip(&self.aux).enumerate() {
            if !x.alive || self.is_shadow(v as u32) {
                continue;
            }
            let done = if s.running {
                u.running += 1;
                self.free_flow_done(s).0
            } else {
                u.waiting += 1;
                0.0
            };
            u.delay_sum_s += (now - x.enter_time - done).max(0.0);
            u.stops_sum += u64::from(x.stops);
        }
        u
    }

    pub fn lane_stats(&self, l: LaneId) -> LaneStats {
        let len = self.drvs[l.idx()].len;
        let mut st =
            LaneStats { count: self.qlen[l.idx()], entry_buffer: self.waiting[l.idx()].len() as u32, ..Default::default() };
        let (mut covered, mut speed_sum, mut in_queue) = (0.0, 0.0, true);
        for v in self.queue(l.idx()) {
            let s = &self.vs[v as usize];
            let vl = self.kins[s.kin as usize].p.length;
            covered += vl;
            speed_sum += s.speed;
            if s.speed < WAITING_SPEED {
                st.waiting += 1;
                if in_queue {
                    st.queue_length_m = (len - (s.dis - vl)).max(0.0);
                }
            } else {
                in_queue = false;
            }
        }
        if st.count > 0 {
            st.mean_speed = speed_sum / st.count as f64;
        }
        st.occupancy = if len > 0.0 { (covered / len).min(1.0) } else { 0.0 };
        st
    }

    /// Visit every running vehicle (slot order, which is deterministic).
    pub fn for_each_vehicle(&self, mut f: impl FnMut(VehicleView)) {
        for v in 0..self.vs.len() as u32 {
            if self.vs[v as usize].running && !self.is_shadow(v) {
                f(self.vehicle_view(v));
            }
        }
    }

    pub(crate) fn vehicle_view(&self, v: u32) -> VehicleView {
        let s = &self.vs[v as usize];
        let k = &self.kins[s.kin as usize];
        let (points, lane, lane_link) = if self.is_link(s.drv) {
            let ll = s.drv - self.n_lanes;
            (&self.net.lane_links[ll as usize].points, None, Some(LaneLinkId(ll)))
        } else {
            (&self.net.lanes[s.drv as usize].points, Some(LaneId(s.drv)), None)
        };
        let dir = direction_at(points, s.dis);
        VehicleView {
            id: VehicleId(self.aux[v as usize].id),
            pos: point_at(points, s.dis),
            heading: dir.y.atan2(dir.x),
            speed: s.speed,
            road: self.road_of(v),
            lane,
            lane_link,
            dis: s.dis,
            length: k.p.length,
            width: k.p.width,
            flow: s.flow,
            seq: self.aux[v as usize].seq,
        }
    }

    /// Vehicles on lane `l`, front first, as `(id, distance from lane start, speed, length)`.
    pub fn lane_vehicles(&self, l: LaneId) -> impl Iterator<Item = (VehicleId, f64, f64, f64)> + '_ {
        self.queue(l.idx()).map(move |v| {
            let s = &self.vs[v as usize];
            (VehicleId(self.aux[v as usize].id), s.dis, s.speed, self.kins[s.kin as usize].p.length)
        })
    }

    /// The running vehicle with this id (needs `record_events`, which keeps the id index).
    pub fn vehicle(&self, id: VehicleId) -> Option<VehicleView> {
        let &slot = self.id_slot.get(&id.0)?;
        self.vs[slot as usize].running.then(|| self.vehicle_view(slot))
    }

    /// Stops so far of the vehicle with this id, running or waiting to enter (needs
    /// `record_events`).
    pub fn vehicle_stops(&self, id: VehicleId) -> Option<u32> {
        let &slot = self.id_slot.get(&id.0)?;
        Some(self.aux[slot as usize].stops)
    }

    /// Events of the last step (empty unless `record_events` is on).
    pub fn step_events(&self) -> &[SimEvent] {
        &self.events
    }

    /// Network-wide samples, one every `series_interval` seconds.
    pub fn series(&self) -> &[SeriesPoint] {
        &self.stats.series
    }

    /// Mean speed of vehicles on road `r` per series interval (NaN for an interval with no
    /// vehicle on the road).
    pub fn road_speed_series(&self, r: RoadId) -> &[f32] {
        &self.stats.road_series[r.idx()]
    }

    /// Mean speed on road `r` now (None when empty).
    pub fn road_speed(&self, r: RoadId) -> Option<f64> {
        let (mut sum, mut n) = (0.0, 0u32);
        for l in self.net.road(r).lanes() {
            for v in self.queue(l.idx()) {
                sum += self.vs[v as usize].speed;
                n += 1;
            }
        }
        (n > 0).then(|| sum / n as f64)
    }

    pub(super) fn record_series(&mut self) {
        let now = self.time();
        if now + 1e-9 < self.stats.next_series + self.cfg.series_interval {
            return;
        }
        self.stats.next_series += self.cfg.series_interval;
        let m = self.metrics();
        let (mut queued, mut speed_sum) = (0u64, 0.0);
        for s in self.vs.iter().filter(|s| s.running) {
            speed_sum += s.speed;
            if s.speed < WAITING_SPEED {
                queued += 1;
            }
        }
        let st = &mut self.stats;
        st.series.push(SeriesPoint {
            time_s: now,
            vehicles_running: m.vehicles_running,
            vehicles_waiting: m.vehicles_waiting,
            queued,
            mean_speed_mps: if m.vehicles_running > 0 { speed_sum / m.vehicles_running as f64 } else { 0.0 },
            average_travel_time_s: m.average_travel_time_s,
            throughput: m.throughput,
        });
        for r in 0..st.road_series.len() {
            let n = st.road_samples[r];
            st.road_series[r].push(if n > 0 { (st.road_speed_sum[r] / n as f64) as f32 } else { f32::NAN });
            st.road_speed_sum[r] = 0.0;
            st.road_samples[r] = 0;
        }
    }
}
