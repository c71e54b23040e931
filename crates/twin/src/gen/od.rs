//! The road graph's connectivity check, the AM-peak commuter demand and its routes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::layout::{Kind, Layout};
use super::{GenConfig, GenError};
use city::demand::{Flow, VehicleParams};
use city::ids::RoadId;
use city::network::Network;
use city::spec::{NetworkSpec, Turn};

/// Length of one demand slice, seconds.
pub(super) const SLICE_S: f64 = 300.0;
/// Rate outside the peak, as a share of the peak rate.
const OFF_PEAK: f64 = 0.3;
/// Width (standard deviation) of the peak as a share of the horizon.
const PEAK_WIDTH: f64 = 0.18;
/// Share of trips that end inside the grid rather than leaving the city.
const INTERIOR_SHARE: f64 = 0.65;
/// Top speed assumed when costing routes, m/s.
const ROUTE_SPEED: f64 = 16.667;

/// Expected signal delay added to a route for each kind of turn, seconds.
fn turn_penalty(t: Turn) -> f64 {
    match t {
        Turn::Left => 25.0,
        Turn::Straight => 12.0,
        Turn::Right => 8.0,
    }
}

/// For every road, the roads a movement leads onto (with the turn), in spec order.
pub(super) fn successors(spec: &NetworkSpec) -> Vec<Vec<(u32, Turn)>> {
    let mut succ = vec![Vec::new(); spec.roads.len()];
    for i in &spec.intersections {
        for m in &i.movements {
            if !m.lane_links.is_empty() {
                succ[m.from_road].push((m.to_road as u32, m.turn));
            }
        }
    }
    succ
}

/// Every road that does not start at a boundary node must be reachable from one grid
/// road, and that grid road from every road that does not end at a boundary node.
pub(super) fn check_strongly_connected(lay: &Layout, succ: &[Vec<(u32, Turn)>]) -> Result<(), GenError> {
    let n = succ.len();
    let mut pred = vec![Vec::new(); n];
    for (r, s) in succ.iter().enumerate() {
        for &(t, _) in s {
            pred[t as usize].push(r as u32);
        }
    }
    let kind = |node: usize| lay.nodes[node].kind;
    let Some(root) = (0..n).find(|&r| kind(lay.roads[r].from) == Kind::Grid && kind(lay.roads[r].to) == Kind::Grid) else {
        return Err(GenError::new("network", "no road between two grid junctions"));
    };
    let reach = |adj: &[Vec<u32>]| {
        let mut seen = vec![false; n];
        let mut stack = vec![root];
        seen[root] = true;
        while let Some(r) = stack.pop() {
            for &t in &adj[r] {
                if !seen[t as usize] {
                    seen[t as usize] = true;
                    stack.push(t as usize);
                }
            }
        }
        seen
    };
    let fwd_adj: Vec<Vec<u32>> = succ.iter().map(|s| s.iter().map(|&(t, _)| t).collect()).collect();
    let fwd = reach(&fwd_adj);
    let bwd = reach(&pred);
    for (r, road) in lay.roads.iter().enumerate() {
        if (kind(road.from) != Kind::Virtual && !fwd[r]) || (kind(road.to) != Kind::Virtual && !bwd[r]) {
            return Err(GenError::new(
                "network",
                format!("road {} is cut off from the rest of the city (generator bug)", road.name),
            ));
        }
    }
    Ok(())
}

/// Relative demand rate at time `t` of a horizon `d`: an off-peak floor plus a bell
/// centred on the middle of the horizon.
pub(super) fn profile(t: f64, d: f64) -> f64 {
    let z = (t - d / 2.0) / (PEAK_WIDTH * d);
    OFF_PEAK + (1.0 - OFF_PEAK) * (-0.5 * z * z).exp()
}

/// The vehicle types: a fast, a medium and a slow car and a bus, with the gaps and
/// headways of the real CityFlow datasets, and their shares of the fleet.
fn vehicle_types() -> [(VehicleParams, f64); 4] {
    let car = VehicleParams { min_gap: 2.5, headway_time: 2.0, ..VehicleParams::default() };
    [
        (VehicleParams { max_speed: 16.667, ..car }, 0.45),
        (VehicleParams { max_speed: 13.889, ..car }, 0.35),
        (VehicleParams { max_speed: 11.111, ..car }, 0.15),
        (VehicleParams { length: 12.0, max_speed: 11.111, usual_pos_acc: 1.5, max_pos_acc: 2.5, ..car }, 0.05),
    ]
}

/// Weighted choice over a cumulative-weight table.
struct Choice {
    items: Vec<u32>,
    cum: Vec<f64>,
}

impl Choice {
    fn new(items: impl IntoIterator<Item = (u32, f64)>) -> Choice {
        let (mut v, mut cum, mut total) = (Vec::new(), Vec::new(), 0.0);
        for (item, w) in items {
            if w > 0.0 {
                total += w;
                v.push(item);
                cum.push(total);
            }
        }
        Choice { items: v, cum }
    }
    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    fn pick(&self, rng: &mut ChaCha8Rng) -> u32 {
        let total = self.cum.last().copied().unwrap_or(0.0);
        let x = rng.gen::<f64>() * total;
        let k = self.cum.partition_point(|&c| c <= x).min(self.items.len() - 1);
        self.items[k]
    }
}

#[derive(Clone, Copy, Debug)]
struct Trip {
    time: u32,
    origin: u32,
    dest: u32,
    kind: u8,
}

/// Draw the trips of every slice, route them, and return one flow per vehicle in
/// release order.
pub(super) fn demand(
    cfg: &GenConfig,
    lay: &Layout,
    net: &Network,
    succ: &[Vec<(u32, Turn)>],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Flow>, GenError> {
    let kind = |node: usize| lay.nodes[node].kind;
    let lanes = |r: usize| lay.roads[r].class.lanes as f64;
    let roads = lay.roads.iter().enumerate();
    let origins = Choice::new(roads.clone().filter(|(_, r)| kind(r.from) == Kind::Virtual).map(|(k, _)| (k as u32, lanes(k))));
    let exits = Choice::new(roads.clone().filter(|(_, r)| kind(r.to) == Kind::Virtual).map(|(k, _)| (k as u32, lanes(k))));
    let interior = Choice::new(roads.filter(|(_, r)| kind(r.from) == Kind::Grid && kind(r.to) == Kind::Grid).map(|(k, r)| {
        let mid = (lay.nodes[r.from].point + lay.nodes[r.to].point) * 0.5;
        let d = (mid - lay.centre).len() / lay.radius;
        (k as u32, lanes(k) * (0.05 + (-3.0 * d * d).exp()))
    }));
    if origins.is_empty() || exits.is_empty() {
        return Err(GenError::new("network", "the city has no boundary roads (generator bug)"));
    }
    let types = vehicle_types();

    // Trips, slice by slice.
    let d = cfg.duration_s;
    let n_slices = (d / SLICE_S).ceil() as usize;
    let slices: Vec<(f64, f64)> = (0..n_slices).map(|s| (s as f64 * SLICE_S, SLICE_S.min(d - s as f64 * SLICE_S))).collect();
    let peak_shape = slices.iter().map(|&(s, len)| profile(s + len / 2.0, d)).fold(0.0, f64::max);
    let mut trips = Vec::new();
    for &(start, len) in &slices {
        let expected = cfg.peak_vehicles_per_hour * profile(start + len / 2.0, d) / peak_shape * len / 3600.0;
        let count = expected.floor() as u64 + u64::from(rng.gen::<f64>() < expected.fract());
        let whole = (len.floor() as u32).max(1);
        for _ in 0..count {
            let origin = origins.pick(rng);
            let entry_node = lay.roads[origin as usize].from;
            let mut dest = None;
            for _ in 0..8 {
                let cand =
                    if !interior.is_empty() && rng.gen_bool(INTERIOR_SHARE) { interior.pick(rng) } else { exits.pick(rng) };
                // No trips straight back out where they came in.
                if lay.roads[cand as usize].to != entry_node {
                    dest = Some(cand);
                    break;
                }
            }
            let u = rng.gen::<f64>();
            let mut acc = 0.0;
            let vtype = types.iter().position(|&(_, share)| {
                acc += share;
                u < acc
            });
            let time = start as u32 + rng.gen_range(0..whole);
            if let Some(dest) = dest {
                trips.push(Trip { time, origin, dest, kind: vtype.unwrap_or(0) as u8 });
            }
        }
    }

    // Routes: one Dijkstra per origin in use, in parallel, results in origin order.
    let road_time: Vec<f64> =
        lay.roads.iter().enumerate().map(|(k, r)| net.road_length(RoadId::from(k)) / r.class.speed.min(ROUTE_SPEED)).collect();
    let graph = Graph::new(succ, &road_time);
    // Trips grouped by origin (runs of equal origin in `by_origin`), each group routed
    // by one Dijkstra that stops once all its destinations are settled.
    let mut by_origin: Vec<u32> = (0..trips.len() as u32).collect();
    by_origin.sort_unstable_by_key(|&k| (trips[k as usize].origin, k));
    let groups: Vec<&[u32]> = by_origin.chunk_by(|&a, &b| trips[a as usize].origin == trips[b as usize].origin).collect();
    let routed: Vec<Result<Vec<Vec<RoadId>>, GenError>> = groups
        .par_iter()
        .map(|group| {
            let o = trips[group[0] as usize].origin;
            let dests: Vec<u32> = group.iter().map(|&k| trips[k as usize].dest).collect();
            let pred = graph.shortest_paths(o, &dests);
            dests.iter().map(|&d| route(&pred, o, d).ok_or_else(|| no_route(lay, o, d))).collect()
        })
        .collect();
    let mut routes: Vec<Vec<RoadId>> = vec![Vec::new(); trips.len()];
    for (group, group_routes) in groups.iter().zip(routed) {
        for (&k, r) in group.iter().zip(group_routes?) {
            routes[k as usize] = r;
        }
    }

    let mut order: Vec<usize> = (0..trips.len()).collect();
    order.sort_by_key(|&k| (trips[k].time, k));
    Ok(order
        .into_iter()
        .map(|k| {
            let t = &trips[k];
            Flow {
                params: types[t.kind as usize].0,
                route: std::mem::take(&mut routes[k]),
                interval: SLICE_S,
                start: t.time as f64,
                end: Some(t.time as f64),
                depart: Default::default(),
            }
        })
        .collect())
}

fn no_route(lay: &Layout, o: u32, d: u32) -> GenError {
    GenError::new(
        "network",
        format!("no route from {} to {} (generator bug)", lay.roads[o as usize].name, lay.roads[d as usize].name),
    )
}

const NO_PRED: u32 = u32::MAX;

/// The road graph for routing in compressed rows: `edges[first[r]..first[r + 1]]` are
/// the roads reachable from road `r`, with the cost of entering each in deciseconds
/// (its free-flow time plus the turn's signal-delay penalty).
struct Graph {
    first: Vec<u32>,
    edges: Vec<(u32, u32)>,
}

impl Graph {
    fn new(succ: &[Vec<(u32, Turn)>], road_time: &[f64]) -> Graph {
        let mut first = Vec::with_capacity(succ.len() + 1);
        let mut edges = Vec::with_capacity(succ.iter().map(Vec::len).sum());
        first.push(0);
        for s in succ {
            for &(to, turn) in s {
                let c = ((road_time[to as usize] + turn_penalty(turn)) * 10.0).round().clamp(1.0, 1e6) as u32;
                edges.push((to, c));
            }
            first.push(edges.len() as u32);
        }
        Graph { first, edges }
    }

    /// Dijkstra from `origin` until every road in `targets` is settled. Returns each
    /// reached road's predecessor (`origin` is its own). Ties break on the lower road id.
    fn shortest_paths(&self, origin: u32, targets: &[u32]) -> Vec<u32> {
        let n = self.first.len() - 1;
        let mut dist = vec![u64::MAX; n];
        let mut pred = vec![NO_PRED; n];
        let mut is_target = vec![false; n];
        let mut left = 0;
        for &t in targets {
            if !is_target[t as usize] {
                is_target[t as usize] = true;
                left += 1;
            }
        }
        // Min-heap on (cost << 32 | road), packed so comparisons are single integers.
        let mut heap = BinaryHeap::new();
        dist[origin as usize] = 0;
        pred[origin as usize] = origin;
        heap.push(Reverse(u64::from(origin)));
        while let Some(Reverse(key)) = heap.pop() {
            let (c, road) = (key >> 32, (key & 0xffff_ffff) as u32);
            if c > dist[road as usize] {
                continue;
            }
            if is_target[road as usize] {
                is_target[road as usize] = false;
                left -= 1;
                if left == 0 {
                    break;
                }
            }
            let (lo, hi) = (self.first[road as usize] as usize, self.first[road as usize + 1] as usize);
            for &(next, w) in &self.edges[lo..hi] {
                let nc = c + u64::from(w);
                if nc < dist[next as usize] {
                    dist[next as usize] = nc;
                    pred[next as usize] = road;
                    heap.push(Reverse(nc << 32 | u64::from(next)));
                }
            }
        }
        pred
    }
}

fn route(pred: &[u32], origin: u32, dest: u32) -> Option<Vec<RoadId>> {
    let mut r = vec![RoadId(dest)];
    let mut cur = dest;
    while cur != origin {
        cur = pred[cur as usize];
        if cur == NO_PRED || r.len() > pred.len() {
            return None;
        }
        r.push(RoadId(cur));
    }
    r.reverse();
    Some(r)
}
