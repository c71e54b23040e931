//! The corridor's own route: the fastest for a vehicle that gets green at every signal
//! and cannot overtake ([`RouteMode::Lanes`]).
//!
//! With its signals preempted, what slows the vehicle is the traffic on the lanes it
//! will drive: every movement of the CityFlow networks has its own lanes, so on a road
//! it drives the lane that leads to its next road, behind whoever is on it. The cost of
//! driving road `a` towards road `b` is its length and the link's at the vehicle's own
//! speeds, plus, for the vehicles now on the lanes of `a` that lead to `b` (loop
//! counts), the time it loses if it catches up with them, `length × (1 / v_traffic −
//! 1 / v_own) × (1 − e^(−n))` (`n` vehicles per such lane), plus 2 s per standing
//! vehicle per lane (the flush). Dijkstra over roads, ties broken by road index.

use city::heap::MinCost;
use std::collections::BinaryHeap;

use twin::{RoadId, Sim};

use crate::engine::{lane_speed, link_len};

/// How a corridor routes its vehicle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RouteMode {
    /// The fastest route on the live travel times of general traffic (as without a corridor).
    #[default]
    Traffic,
    /// The fastest for the corridor's vehicle: its own speeds, the traffic on its lanes.
    Lanes,
}

impl RouteMode {
    pub fn parse(s: &str) -> Option<RouteMode> {
        match s {
            "traffic" => Some(RouteMode::Traffic),
            "lanes" => Some(RouteMode::Lanes),
            _ => None,
        }
    }
}

/// Seconds the vehicle (desired speed `v_own` at most `limit` × the lane's limit, turn
/// speed `turn`) needs on road `a` and the link to `b` with the traffic now on its lanes.
fn cost(sim: &Sim, a: RoadId, b: Option<RoadId>, v_own: f64, limit: f64, turn: f64) -> f64 {
    let net = sim.network();
    let traffic = lane_speed(net, a);
    let v = v_own.min(limit * traffic).max(0.1);
    let len = net.road_length(a);
    let lanes = crate::engine::lanes_toward(net, a, b);
    let k = lanes.len().max(1) as f64;
    let (n, waiting) = lanes.iter().fold((0.0, 0.0), |(n, w), &l| {
        let st = sim.lane_stats(l);
        (n + f64::from(st.count), w + f64::from(st.waiting))
    });
    let lost = (len / traffic - len / v).max(0.0) * (1.0 - (-n / k).exp()) + 2.0 * waiting / k;
    let link = b.map_or(0.0, |b| link_len(net, a, b) / v.min(turn.max(0.1)));
    len / v + link + lost
}

/// The fastest route from `from` to `to` for the corridor's vehicle ([`RouteMode::Lanes`]):
/// roads in driving order and the expected seconds; `None` when unreachable.
pub fn lanes_route(sim: &Sim, from: RoadId, to: RoadId, v_own: f64, limit: f64, turn: f64) -> Option<(Vec<RoadId>, f64)> {
    let net = sim.network();
    let n = net.roads.len();
    if from.idx() >= n || to.idx() >= n {
        return None;
    }
    let mut next: Vec<Vec<RoadId>> = vec![Vec::new(); n];
    for m in &net.movements {
        let out = &mut next[m.from_road.idx()];
        if !out.contains(&m.to_road) {
            out.push(m.to_road);
        }
    }
    // best[r]: seconds to reach the start of road r.
    let mut best = vec![f64::INFINITY; n];
    let mut prev = vec![u32::MAX; n];
    let mut heap = BinaryHeap::new();
    best[from.idx()] = 0.0;
    heap.push(MinCost(0.0, from.0));
    while let Some(MinCost(c, r)) = heap.pop() {
        if c > best[r as usize] {
            continue;
        }
        if r == to.0 {
            break;
        }
        for &b in &next[r as usize] {
            let nc = c + cost(sim, RoadId(r), Some(b), v_own, limit, turn);
            if nc < best[b.idx()] {
                best[b.idx()] = nc;
                prev[b.idx()] = r;
                heap.push(MinCost(nc, b.0));
            }
        }
    }
    if !best[to.idx()].is_finite() {
        return None;
    }
    let mut route = vec![to];
    while route.last() != Some(&from) {
        let p = prev[route.last()?.idx()];
        if p == u32::MAX {
            return None;
        }
        route.push(RoadId(p));
    }
    route.reverse();
    Some((route, best[to.idx()] + cost(sim, to, None, v_own, limit, turn)))
}
