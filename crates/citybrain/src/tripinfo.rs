//! `citybrain sim --tripinfo FILE`: one CSV row per vehicle, like SUMO's tripinfo output:
//! `id,depart,arrival,duration,waiting_time,stops,route_length,finished`.
//!
//! - `id`: CityFlow's vehicle id, `flow_<flow>_<n>`.
//! - `depart`: when it entered the network (left its entry buffer), seconds.
//! - `arrival`: when it finished (empty when it had not by the end of the run).
//! - `duration`: `arrival - depart`, or the time so far for an unfinished vehicle.
//! - `waiting_time`: seconds at a speed of 0.1 m/s or less (SUMO's definition), so far.
//! - `stops`: times its speed fell below 0.1 m/s after moving.
//! - `route_length`: length of its route's roads, metres (their first lane).
//! - `finished`: 1 or 0.
//!
//! Vehicles that never entered the network are not listed (the run metrics count them).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use twin::engine::SimEvent;
use twin::Sim;

struct Trip {
    name: String,
    depart: f64,
    waiting: f64,
    route_length: f64,
}

pub struct TripInfo {
    w: std::io::BufWriter<std::fs::File>,
    open: HashMap<u64, Trip>,
    rows: u64,
}

impl TripInfo {
    pub fn create(path: &Path) -> Result<TripInfo> {
        let f = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = std::io::BufWriter::new(f);
        writeln!(w, "id,depart,arrival,duration,waiting_time,stops,route_length,finished")?;
        Ok(TripInfo { w, open: HashMap::new(), rows: 0 })
    }

    /// Call after every step (the sim must record events).
    pub fn after_step(&mut self, sim: &Sim) -> Result<()> {
        let now = sim.time();
        let net = sim.network();
        for e in sim.step_events() {
            match *e {
                SimEvent::TripStart { veh, time, .. } => {
                    let Some(v) = sim.vehicle(veh) else { continue };
                    let route_length = sim.flow_route(v.flow).iter().map(|&r| net.lane(net.road(r).first_lane).length).sum();
                    let name = format!("flow_{}_{}", v.flow, v.seq);
                    self.open.insert(veh.0, Trip { name, depart: time, waiting: 0.0, route_length });
                }
                SimEvent::TripEnd { veh, stops, .. } => {
                    if let Some(t) = self.open.remove(&veh.0) {
                        let d = now - t.depart;
                        writeln!(self.w, "{},{},{now},{d},{},{stops},{:.2},1", t.name, t.depart, t.waiting, t.route_length)?;
                        self.rows += 1;
                    }
                }
                _ => {}
            }
        }
        let dt = sim.dt();
        let open = &mut self.open;
        sim.for_each_vehicle(|v| {
            if v.speed <= 0.1 {
                if let Some(t) = open.get_mut(&v.id.0) {
                    t.waiting += dt;
                }
            }
        });
        Ok(())
    }

    /// Write the unfinished vehicles and flush; returns `(finished, unfinished)` rows.
    pub fn finish(mut self, sim: &Sim) -> Result<(u64, u64)> {
        let now = sim.time();
        let mut rest: Vec<(u64, Trip)> = self.open.drain().collect();
        rest.sort_by_key(|(id, _)| *id);
        let mut unfinished = 0;
        for (id, t) in rest {
            let stops = sim.vehicle_stops(twin::VehicleId(id)).unwrap_or(0);
            writeln!(self.w, "{},{},,{},{},{stops},{:.2},0", t.name, t.depart, now - t.depart, t.waiting, t.route_length)?;
            unfinished += 1;
        }
        self.w.flush()?;
        Ok((self.rows, unfinished))
    }
}
