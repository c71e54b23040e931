//! Shortest free-flow travel-time paths between roads, for SUMO trips and flows given by
//! `from`/`to` (and `via`) edges: the cost of a road is its mean lane length over its
//! fastest lane's speed limit, the cost of a route the sum over its roads after the first.
//! Ties go to the lower road index, so routes are deterministic.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::ids::RoadId;
use crate::network::Network;

pub(super) struct Router {
    /// Per road: the roads a vehicle can drive onto next, ascending.
    next: Vec<Vec<u32>>,
    /// Per road: free-flow travel time in seconds.
    cost: Vec<f64>,
    cache: HashMap<(u32, u32), Option<Vec<RoadId>>>,
}

impl Router {
    pub(super) fn new(net: &Network) -> Router {
        let mut next: Vec<Vec<u32>> = vec![Vec::new(); net.roads.len()];
        for ll in &net.lane_links {
            let (a, b) = (net.lane(ll.from_lane).road.0, net.lane(ll.to_lane).road.0);
            next[a as usize].push(b);
        }
        for n in &mut next {
            n.sort_unstable();
            n.dedup();
        }
        let cost = (0..net.roads.len())
            .map(|r| {
                let road = net.road(RoadId(r as u32));
                let v = road.lanes().map(|l| net.lane(l).max_speed).fold(0.0f64, f64::max);
                if v > 0.0 {
                    net.road_length(RoadId(r as u32)) / v
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        Router { next, cost, cache: HashMap::new() }
    }

    /// The fastest route from `stops[0]` through each stop in turn to the last, or None.
    pub(super) fn route_via(&mut self, stops: &[RoadId]) -> Option<Vec<RoadId>> {
        let mut route = vec![*stops.first()?];
        for w in stops.windows(2) {
            let leg = self.route(w[0], w[1])?;
            route.extend_from_slice(&leg[1..]);
        }
        Some(route)
    }

    /// The fastest route from `a` to `b` (both included), or None.
    pub(super) fn route(&mut self, a: RoadId, b: RoadId) -> Option<Vec<RoadId>> {
        if let Some(r) = self.cache.get(&(a.0, b.0)) {
            return r.clone();
        }
        let r = self.dijkstra(a.0, b.0);
        self.cache.insert((a.0, b.0), r.clone());
        r
    }

    fn dijkstra(&self, a: u32, b: u32) -> Option<Vec<RoadId>> {
        if a == b {
            return Some(vec![RoadId(a)]);
        }
        let n = self.next.len();
        let mut dist = vec![f64::INFINITY; n];
        let mut prev = vec![u32::MAX; n];
        let mut heap = BinaryHeap::new();
        dist[a as usize] = 0.0;
        // Non-negative floats order like their bit patterns.
        heap.push(Reverse((0f64.to_bits(), a)));
        while let Some(Reverse((d, r))) = heap.pop() {
            let d = f64::from_bits(d);
            if d > dist[r as usize] {
                continue;
            }
            if r == b {
                break;
            }
            for &s in &self.next[r as usize] {
                let nd = d + self.cost[s as usize];
                if nd < dist[s as usize] {
                    dist[s as usize] = nd;
                    prev[s as usize] = r;
                    heap.push(Reverse((nd.to_bits(), s)));
                }
            }
        }
        if !dist[b as usize].is_finite() {
            return None;
        }
        let mut out = vec![RoadId(b)];
        let mut cur = b;
        while cur != a {
            cur = prev[cur as usize];
            out.push(RoadId(cur));
        }
        out.reverse();
        Some(out)
    }
}
