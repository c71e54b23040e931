//! What-if copies for forecasting: a copy of the simulation that holds only what a
//! vehicle-level observer (cameras, probes) sees now, so a controller can roll it forward
//! without knowing the future.

use super::{FlowRt, Sim};
use city::demand::Flow;
use city::ids::LaneId;

impl Sim {
    /// A copy of this simulation that knows only the present:
    /// - **no future vehicles**: every flow is stopped, so the copy never creates a
    ///   vehicle; the vehicles running now and those waiting in entry buffers are kept,
    ///   with their positions, speeds, lanes and vehicle types;
    /// - **routes only as far as the next road**: each vehicle's route is cut after the
    ///   road its current lane (or lane link) leads to, the turn its lane shows; past that
    ///   road the copy does not know where a vehicle goes, so it leaves the network at the
    ///   end of that road. Its lane on that road is chosen without the rest of the route.
    ///
    /// Signals, the random state and the time are copied as they are, so the copy is
    /// deterministic. Metrics of the copy start from the original's totals.
    pub fn forecast_copy(&self) -> Sim {
        self.forecast_copy_with(false)
    }

    /// As [`Sim::forecast_copy`], but with `full_routes` each vehicle keeps its whole
    /// route (what a navigation feed would tell a brain about the vehicles present now);
    /// still no future vehicles.
    pub fn forecast_copy_with(&self, full_routes: bool) -> Sim {
        let mut sim = self.clone();
        sim.flows.clear();
        sim.routes.clear();
        sim.route_off.clear();
        sim.route_off.push(0);
        sim.flow_kin.clear();
        sim.flow_free_time.clear();
        sim.flow_free_prefix.clear();
        sim.flow_rt.clear();
        sim.flow_order.clear();
        sim.next_flow = 0;
        sim.active_flows.clear();
        sim.inc.forget_future();
        for v in 0..sim.vs.len() {
            if !sim.aux[v].alive {
                continue;
            }
            let s = sim.vs[v];
            let old = &self.flows[s.flow as usize];
            let old_route = self.route(s.flow);
            let keep = if full_routes { old_route.len() } else { (s.route_pos as usize + 2).min(old_route.len()) };
            let route = &old_route[..keep];
            sim.flow_free_prefix.push(super::flows::free_flow_prefix(&sim.net, &old.params, route));
            sim.flow_free_time.push(self.flow_free_time[s.flow as usize]);
            sim.flow_kin.push(s.kin);
            sim.flow_rt.push(FlowRt { now_time: 0.0, done: true, count: 1, issued: 0 });
            super::push_route(&mut sim.routes, &mut sim.route_off, route);
            sim.flows.push(Flow {
                params: old.params,
                route: Vec::new(),
                interval: 1.0,
                start: f64::INFINITY,
                end: Some(f64::INFINITY),
                depart: old.depart,
            });
            let flow = (sim.flows.len() - 1) as u32;
            sim.vs[v].flow = flow;
            // The cut route may change the next drivable, an input of the last action:
            // recompute every action rather than reuse one (see `Deps`).
            sim.vs[v].still = false;
            if !sim.is_link(s.drv) {
                sim.vs[v].next_drv = sim.next_of(flow, s.route_pos, s.drv);
            }
        }
        for l in 0..sim.head_next.len() {
            if sim.head[l] != super::NONE {
                sim.head_next[l] = sim.vs[sim.head[l] as usize].next_drv;
            }
        }
        sim
    }

    /// Vehicles on lane `l` and in its entry buffer whose route goes on past the lane's
    /// end (in a [`Sim::forecast_copy`]: those the copy knows still have the junction at
    /// the lane's end to cross).
    pub fn lane_continuing(&self, l: LaneId) -> u32 {
        let on = |v: &u32| {
            let s = &self.vs[*v as usize];
            (s.route_pos as usize + 1) < self.route(s.flow).len()
        };
        self.queue(l.idx()).chain(self.waiting[l.idx()].iter().copied()).filter(on).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use crate::{Sim, SimConfig};
    use city::testutil::corridor;

    #[test]
    fn the_copy_creates_no_vehicles_and_the_original_goes_on() {
        let s = corridor(vec![(2.0, 0.0, 600.0)]);
        let mut sim = Sim::new(&s, SimConfig::default());
        for _ in 0..100 {
            sim.step();
        }
        let present = sim.vehicles_present();
        assert!(present > 5, "{present}");
        let mut copy = sim.forecast_copy();
        assert_eq!(copy.time(), sim.time());
        assert_eq!(copy.vehicles_present(), present);
        let created = copy.metrics().vehicles_created;
        for _ in 0..300 {
            copy.step();
            sim.step();
        }
        assert_eq!(copy.metrics().vehicles_created, created, "the copy must not create vehicles");
        assert_eq!(copy.vehicles_present(), 0, "every known vehicle leaves");
        assert_eq!(copy.metrics().throughput, created, "and finishes its trip");
        assert!(sim.metrics().vehicles_created > created + 100);
    }
}
