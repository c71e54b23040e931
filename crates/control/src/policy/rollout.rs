//! The closed-loop search of [`super::CityBrainMpc`] under field timing: deviations from
//! the heuristic over the first decisions, each judged by a rollout in which the
//! heuristic then keeps deciding (rollout over a base policy), junctions taking turns by
//! colour.
//!
//! A deviation `(t, p)` holds the junction's current phase for `t` decisions (`t <
//! ahead`) and then requests phase `p`; `(0, p)` with `p` the heuristic's choice is the
//! plan to beat. For each colour (a greedy colouring of the junction graph, so no two
//! neighbours share one) in turn, the junctions of that colour try every deviation: in
//! rollout `(t, p)` each of them plays it while every other junction plays its current
//! plan (the heuristic's phase, or what an earlier colour chose); after the deviation all
//! junctions follow the heuristic on what the model shows, as the live brain would. A
//! junction keeps the deviation with the fewest vehicle-seconds on its incoming lanes of
//! vehicles still to cross it (ties: the plan). Neighbours never deviate together, so a
//! junction's cost reflects its own choice and its neighbours' closed-loop response.

use city::LaneId;

use super::{CityBrain, Policy};
use crate::forecast::Forecast;
use crate::junction::Junction;
use crate::observe::{Observation, Observer};
use crate::safety::{Request, SignalState, Target, Timing};
use crate::PolicyContext;

/// State of the closed-loop search (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct ClosedLoop {
    observer: Observer,
    colour: Vec<usize>,
    colours: usize,
    timing: Timing,
    /// Decisions each rollout covers.
    decisions: usize,
    /// Decisions a deviation covers (its phase sequence), before the heuristic decides.
    ahead: usize,
}

impl ClosedLoop {
    pub(crate) fn new(ctx: &PolicyContext, decisions: usize, ahead: usize) -> ClosedLoop {
        let colour = colouring(&adjacency(ctx));
        let colours = colour.iter().max().map_or(0, |c| c + 1);
        ClosedLoop {
            observer: Observer::new(ctx.net, ctx.junctions),
            colour,
            colours,
            timing: ctx.timing,
            decisions,
            ahead: ahead.clamp(1, decisions.max(1)),
        }
    }

    /// Decide for every junction; `heuristic` is the base policy, `groups[k]` the lanes
    /// junction `k`'s cost counts, `cost` scratch of the same length.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn decide(
        &mut self,
        heuristic: &mut CityBrain,
        junctions: &[Junction],
        groups: &[Vec<LaneId>],
        cost: &mut [f64],
        obs: &Observation,
        forecast: &Forecast,
        now: f64,
    ) -> Vec<Request> {
        let n = junctions.len();
        let start = heuristic.decide(obs, now);
        let index = |r: &Request| junctions.iter().position(|j| j.id == r.intersection);
        let most = junctions.iter().map(|j| j.phases.len()).max().unwrap_or(0);
        let ahead = self.ahead;
        // Per junction, its plan `(t, p)`: hold the current phase `cur[k]` for `t`
        // decisions, then request phase `p` (up to decision `ahead`; the heuristic after).
        let mut plan: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut cur = vec![0; n];
        let mut free = vec![false; n];
        let interval = self.timing.decision_interval;
        for r in &start {
            if let (Some(k), Target::Phase(p)) = (index(r), r.target) {
                let o = &obs.junctions[k];
                if matches!(o.state, SignalState::Green { .. } | SignalState::Startup) {
                    plan[k] = Some((0, p));
                    cur[k] = o.phase.unwrap_or(p);
                    // A change requested now can only start before the next decision once
                    // the minimum green is (nearly) over; otherwise the next decision rules.
                    free[k] = o.state == SignalState::Startup || o.since_green + interval + 1e-6 >= self.timing.min_green;
                }
            }
        }
        let cur = &cur;
        let rollout = |plan: &[Option<(usize, usize)>], observer: &mut Observer, cost: &mut [f64]| {
            let mut base = heuristic.clone();
            forecast.rollout_closed_loop(
                self.decisions,
                interval,
                observer,
                |o, d| {
                    let mut r = base.decide(o, now + d as f64 * interval);
                    if d < ahead {
                        for req in &mut r {
                            if let Some((k, (t, p))) = index(req).and_then(|k| Some((k, plan[k]?))) {
                                req.target = Target::Phase(if d < t { cur[k] } else { p });
                            }
                        }
                    }
                    r
                },
                groups,
                cost,
            );
        };
        for c in 0..self.colours {
            let set: Vec<usize> = (0..n).filter(|&k| free[k] && self.colour[k] == c).collect();
            if set.is_empty() {
                continue;
            }
            rollout(&plan, &mut self.observer, cost);
            let mut best: Vec<(f64, Option<(usize, usize)>)> = set.iter().map(|&k| (cost[k], plan[k])).collect();
            for i in 0..ahead * most {
                let (t, p) = (i / most, i % most);
                let mut alt = plan.clone();
                for &k in &set {
                    if p < junctions[k].phases.len() {
                        alt[k] = Some(if p == cur[k] { (0, p) } else { (t, p) });
                    }
                }
                if set.iter().all(|&k| alt[k] == plan[k]) {
                    continue;
                }
                rollout(&alt, &mut self.observer, cost);
                for (b, &k) in best.iter_mut().zip(&set) {
                    if alt[k] != plan[k] && cost[k] < b.0 - 1e-9 {
                        *b = (cost[k], alt[k]);
                    }
                }
            }
            for (b, &k) in best.iter().zip(&set) {
                plan[k] = b.1;
            }
        }
        (0..n)
            .filter_map(|k| {
                let (t, p) = plan[k]?;
                Some(Request { intersection: junctions[k].id, target: Target::Phase(if t > 0 { cur[k] } else { p }) })
            })
            .collect()
    }
}

/// Per junction, the other junctions joined to it by a road (sorted).
pub(crate) fn adjacency(ctx: &PolicyContext) -> Vec<Vec<usize>> {
    let pos = |i: city::IntersectionId| ctx.junctions.iter().position(|j| j.id == i);
    ctx.junctions
        .iter()
        .enumerate()
        .map(|(k, j)| {
            let mut adj: Vec<usize> = j
                .in_lanes
                .iter()
                .chain(&j.out_lanes)
                .flatten()
                .flat_map(|&l| {
                    let r = ctx.net.road(ctx.net.lane(l).road);
                    [r.from, r.to]
                })
                .filter_map(pos)
                .filter(|&o| o != k)
                .collect();
            adj.sort();
            adj.dedup();
            adj
        })
        .collect()
}

/// Greedy colouring in index order: neighbours get different colours.
pub(crate) fn colouring(adj: &[Vec<usize>]) -> Vec<usize> {
    let mut colour = vec![usize::MAX; adj.len()];
    for k in 0..adj.len() {
        colour[k] = (0..).find(|c| !adj[k].iter().any(|&o| colour[o] == *c)).unwrap_or(0);
    }
    colour
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_never_share_a_colour() {
        let s = crate::grid::grid_scenario(3, 4, 4.0, 600.0);
        let js = crate::junctions(&s.network, crate::PhaseSet::Four).unwrap();
        let ctx =
            PolicyContext { net: &s.network, junctions: &js, timing: Timing::operational(), demand: &s.demand, horizon_s: 600.0 };
        let adj = adjacency(&ctx);
        assert!(adj.iter().any(|a| a.len() >= 3), "{adj:?}");
        let colour = colouring(&adj);
        for (k, a) in adj.iter().enumerate() {
            assert!(!a.contains(&k));
            for &o in a {
                assert_ne!(colour[k], colour[o], "{k} and {o}");
            }
        }
        // A grid is bipartite: the greedy colouring in row order needs two colours.
        assert_eq!(colour.iter().max(), Some(&1));
    }
}
