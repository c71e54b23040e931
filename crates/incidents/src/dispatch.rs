//! Response units and the choice of one: live travel time on the network (Dijkstra over
//! roads at their fused speeds), never straight-line distance.

use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use twin::heap::MinCost;
use twin::{Network, Point, RoadId};

use crate::detect::point_on_road;
use crate::model::{IncidentType, UnitKind};

/// What a unit is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitStatus {
    Available,
    /// Alerted, not yet accepted.
    Alerted,
    EnRoute,
    OnScene,
    /// Driving back to base; may be dispatched again.
    Returning,
}

impl UnitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Available => "available",
            UnitStatus::Alerted => "alerted",
            UnitStatus::EnRoute => "en_route",
            UnitStatus::OnScene => "on_scene",
            UnitStatus::Returning => "returning",
        }
    }
    /// May take a new alert.
    pub fn free(self) -> bool {
        matches!(self, UnitStatus::Available | UnitStatus::Returning)
    }
}

/// A place on the network: `offset` metres along `road`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spot {
    pub road: RoadId,
    pub offset: f64,
}

/// A response unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    pub id: String,
    pub kind: UnitKind,
    pub home: Spot,
    pub status: UnitStatus,
    pub at: Spot,
    /// The event it is assigned to.
    pub event: Option<u64>,
    /// Roads still to drive (the first is `at.road`), and where on the last it stops.
    pub route: Vec<RoadId>,
    pub target: Option<Spot>,
    /// When the current alert was sent (escalation clock).
    pub alerted_at: Option<f64>,
    /// Estimated seconds to the target when last routed.
    pub eta_s: Option<f64>,
    /// When it reached the scene.
    pub on_scene_at: Option<f64>,
}

impl Unit {
    pub fn new(id: impl Into<String>, kind: UnitKind, home: Spot) -> Unit {
        Unit {
            id: id.into(),
            kind,
            home,
            status: UnitStatus::Available,
            at: home,
            event: None,
            route: Vec::new(),
            target: None,
            alerted_at: None,
            eta_s: None,
            on_scene_at: None,
        }
    }

    pub fn point(&self, net: &Network) -> Point {
        point_on_road(net, self.at.road, self.at.offset)
    }
}

/// Live speed per road (m/s): the fused estimate, else the free speed; never below
/// `floor` so a jammed road is slow, not impassable. It carries the network's road
/// successors ([`successors`]), built once with [`Speeds::free`] and shared by every
/// clone and every [`Speeds::refresh`], so routing does not rebuild them per call.
#[derive(Clone, Debug)]
pub struct Speeds {
    pub speed: Vec<f64>,
    next: Arc<[Vec<RoadId>]>,
}

impl Speeds {
    /// Free speeds (the highest lane limit of each road).
    pub fn free(net: &Network) -> Speeds {
        Speeds { speed: free_speeds(net), next: successors(net).into() }
    }
    /// From a state estimate: each road's fused speed where known.
    pub fn live(net: &Network, state: &state::CityState) -> Speeds {
        let mut s = Speeds::free(net);
        s.apply(state);
        s
    }
    /// Back to free speeds, then `state`'s fused speeds where known (as [`Speeds::live`]),
    /// keeping the successors: `net` must be the network these speeds were built for.
    pub fn refresh(&mut self, net: &Network, state: &state::CityState) {
        self.speed = free_speeds(net);
        self.apply(state);
    }
    fn apply(&mut self, state: &state::CityState) {
        for r in &state.roads {
            if let (Some(v), Some(x)) = (r.speed, self.speed.get_mut(r.road.0 as usize)) {
                *x = v.max(0.5);
            }
        }
    }
    pub fn of(&self, r: RoadId) -> f64 {
        self.speed.get(r.0 as usize).copied().unwrap_or(1.0).max(0.5)
    }
    /// The roads `r` leads to ([`successors`] of the network these speeds were built for).
    pub fn next(&self, r: RoadId) -> &[RoadId] {
        self.next.get(r.0 as usize).map_or(&[], Vec::as_slice)
    }
}

fn free_speeds(net: &Network) -> Vec<f64> {
    net.roads.iter().map(|r| r.lanes().map(|l| net.lane(l).max_speed).fold(1.0, f64::max)).collect()
}

/// The roads each road's movements lead to (a vehicle can turn only where a movement
/// exists: no U-turn unless the junction has one). A road that leaves the network (no
/// movement out of it) leads to its reverse road: a unit turns around beyond the edge.
/// Without that, an incident on a road entering the network could not be reached (no
/// movement leads into it), and a unit that attended one on a road leaving it could
/// never drive back.
pub fn successors(net: &Network) -> Vec<Vec<RoadId>> {
    let mut out = vec![Vec::new(); net.roads.len()];
    for m in &net.movements {
        let v: &mut Vec<RoadId> = &mut out[m.from_road.0 as usize];
        if !v.contains(&m.to_road) {
            v.push(m.to_road);
        }
    }
    // The first road (by id) between each ordered pair of junctions, found once: a
    // dead end looks its reverse up instead of scanning every road.
    let mut between = std::collections::HashMap::with_capacity(net.roads.len());
    for j in 0..net.roads.len() {
        let x = net.road(RoadId(j as u32));
        between.entry((x.from, x.to)).or_insert(RoadId(j as u32));
    }
    for (k, v) in out.iter_mut().enumerate() {
        let r = net.road(RoadId(k as u32));
        if v.is_empty() {
            v.extend(between.get(&(r.to, r.from)).copied());
        }
    }
    out
}

/// Fastest route from `from` to `to` at `speeds` along the network's movements: the
/// roads to drive (starting with `from.road`, ending with `to.road`) and the seconds it
/// takes. The successors come with `speeds` (built for `net`).
pub fn fastest(net: &Network, speeds: &Speeds, from: Spot, to: Spot) -> Option<(Vec<RoadId>, f64)> {
    if from.road == to.road && from.offset <= to.offset {
        return Some((vec![from.road], (to.offset - from.offset) / speeds.of(from.road)));
    }
    // dist[r]: seconds until the unit enters road r.
    let mut dist: BTreeMap<RoadId, (f64, Option<RoadId>)> = BTreeMap::new();
    let mut heap = BinaryHeap::new();
    let leave = (net.road_length(from.road) - from.offset).max(0.0) / speeds.of(from.road);
    for &q in speeds.next(from.road) {
        if leave < dist.get(&q).map_or(f64::INFINITY, |x| x.0) {
            dist.insert(q, (leave, Some(from.road)));
            heap.push(MinCost(leave, q.0));
        }
    }
    while let Some(MinCost(d, r)) = heap.pop() {
        let r = RoadId(r);
        if d > dist.get(&r).map_or(f64::INFINITY, |x| x.0) {
            continue;
        }
        if r == to.road {
            break;
        }
        let nd = d + net.road_length(r) / speeds.of(r);
        for &q in speeds.next(r) {
            if nd < dist.get(&q).map_or(f64::INFINITY, |x| x.0) {
                dist.insert(q, (nd, Some(r)));
                heap.push(MinCost(nd, q.0));
            }
        }
    }
    let (d, _) = *dist.get(&to.road)?;
    let mut roads = vec![to.road];
    let mut at = to.road;
    loop {
        let (_, Some(prev)) = dist.get(&at).copied()? else { return None };
        roads.push(prev);
        if prev == from.road {
            break;
        }
        at = prev;
        if roads.len() > net.roads.len() + 2 {
            return None;
        }
    }
    roads.reverse();
    Some((roads, d + to.offset / speeds.of(to.road)))
}

/// The free unit that suits `kind` and reaches `to` first at live speeds, with its
/// route and time; units in `exclude` are skipped. The type's own responders come
/// first; a unit of another kind (mutual aid, [`UnitKind::aids`]) only when none of them
/// is free.
pub fn choose<'a>(
    net: &Network,
    speeds: &Speeds,
    units: impl IntoIterator<Item = &'a Unit>,
    kind: IncidentType,
    to: Spot,
    exclude: &[String],
) -> Option<(String, Vec<RoadId>, f64)> {
    units
        .into_iter()
        .filter(|u| u.status.free() && u.kind.suits(kind) && !exclude.contains(&u.id))
        .filter_map(|u| fastest(net, speeds, u.at, to).map(|(r, t)| (u.id.clone(), r, t, u.kind.responder_rank(kind))))
        .min_by(|a, b| a.3.cmp(&b.3).then(a.2.total_cmp(&b.2)).then(a.0.cmp(&b.0)))
        .map(|(id, r, t, _)| (id, r, t))
}

impl UnitKind {
    /// 0 for the type's own responder, 1 for a fallback.
    fn responder_rank(self, t: IncidentType) -> u8 {
        u8::from(t.responder() != Some(self))
    }
}

/// The straight-line nearest free suitable unit (what the choice must *not* be based on;
/// kept for tests and the evaluation's comparison).
pub fn nearest_straight<'a>(
    net: &Network,
    units: impl IntoIterator<Item = &'a Unit>,
    kind: IncidentType,
    to: Spot,
) -> Option<String> {
    let target = point_on_road(net, to.road, to.offset);
    units
        .into_iter()
        .filter(|u| u.status.free() && u.kind.suits(kind))
        .min_by(|a, b| crate::fusion::dist(a.point(net), target).total_cmp(&crate::fusion::dist(b.point(net), target)))
        .map(|u| u.id.clone())
}

/// Move a unit along its route for `dt` seconds at live speeds. Returns true when it
/// reached its target.
pub fn advance(net: &Network, speeds: &Speeds, u: &mut Unit, dt: f64) -> bool {
    let Some(target) = u.target else { return false };
    let mut left = dt;
    while left > 0.0 {
        let road = u.at.road;
        let end = if road == target.road && u.route.len() <= 1 { target.offset } else { net.road_length(road) };
        let v = speeds.of(road);
        let need = (end - u.at.offset).max(0.0) / v;
        if need > left {
            u.at.offset += left * v;
            return false;
        }
        left -= need;
        u.at.offset = end;
        if road == target.road && u.route.len() <= 1 {
            u.route.clear();
            return true;
        }
        if u.route.len() <= 1 {
            // Lost its route (should not happen): stop here.
            u.route.clear();
            return true;
        }
        u.route.remove(0);
        u.at = Spot { road: u.route[0], offset: 0.0 };
    }
    false
}

/// Home bases for a default fleet: `per_kind` units of each kind, spread over the
/// network's non-virtual junctions (deterministic).
pub fn default_fleet(net: &Network, per_kind: usize) -> Vec<Unit> {
    let starts: Vec<RoadId> = (0..net.roads.len())
        .map(|k| RoadId(k as u32))
        .filter(|&r| !net.intersection(net.road(r).from).is_virtual && !net.intersection(net.road(r).to).is_virtual)
        .collect();
    let starts = if starts.is_empty() { (0..net.roads.len()).map(|k| RoadId(k as u32)).collect() } else { starts };
    let mut units = Vec::new();
    if starts.is_empty() {
        return units;
    }
    let total = per_kind * UnitKind::ALL.len();
    let mut n = 0usize;
    for kind in UnitKind::ALL {
        for k in 0..per_kind {
            let r = starts[(n * 7919 + n * starts.len() / total.max(1)) % starts.len()];
            let id = format!("{}-{}", kind.as_str().replace('_', "-"), k + 1);
            units.push(Unit::new(id, kind, Spot { road: r, offset: 0.0 }));
            n += 1;
        }
    }
    units
}
