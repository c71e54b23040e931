//! Input–output counting (conservation, the California/APID complement) on the roads
//! that leave the network: vehicles sent into a road by its upstream junction's camera
//! (movement counts) against vehicles passing the road's own loops (one per lane,
//! mid-road), lane by lane.
//!
//! An exit road ends at the network's edge: no signal, no junction, nothing downstream
//! that could hold a queue, and no camera. Every vehicle sent in passes a loop within its
//! free-flow time to the loops, whatever the demand (a 900 veh/h surge flows straight
//! through). Which loop: a vehicle keeps its lane across the junction when the movement
//! lets it (the lane link's end lane closest in index to the lane it comes from, the
//! CityFlow router's rule), so each movement's count belongs to one lane of the exit road
//! (or a group of lanes, when a movement's lanes end in several). A blocked lane shows
//! in both ways an obstacle acts: vehicles stopped behind it never reach the loop, and
//! vehicles that avoid the lane (they take another at the junction, or change lanes)
//! pass another lane's loop; either way the lane's loop stops counting what its
//! movements keep sending.
//!
//! Per lane group and per 30 s interval (the loops' and cameras' common interval):
//! `held ← max(0, held + sent − passed)` (a Lindley recursion, so vehicles that started
//! on the road itself or moved into the lane from another cannot mask a later deficit),
//! and `excess = held − what may still be in transit` (of each interval sent within the
//! transit time, the share sent in its last `transit − age` seconds). An interval in
//! which the group's loops count anything caps `held` at what may be in transit (the
//! lane flows; what it missed went to another lane, and would otherwise stay a deficit
//! for ever). The group is reported once `excess ≥ min_excess` for `persist`
//! consecutive intervals: a lane whose loop stays silent while its movements keep
//! sending vehicles into it.

use std::collections::{HashMap, VecDeque};

use sense::{LoopAggregate, MovementCount};
use twin::{LaneId, MovementId, Network, RoadId};

use crate::detect::point_on_road;
use crate::model::{IncidentType, Report, SourceKind};

/// Thresholds of the input–output test.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowConfig {
    /// Vehicles held beyond those still in transit.
    pub min_excess: u32,
    /// Consecutive intervals the excess must last.
    pub persist: u32,
    /// Transit speed to the loop as a share of the lanes' speed limit.
    pub transit_speed_share: f64,
    /// Seconds added to the transit (crossing the junction, starting from its stop line).
    pub transit_extra_s: f64,
    /// Confidence of a report; 0 turns the test off.
    pub confidence: f64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig { min_excess: 3, persist: 2, transit_speed_share: 0.6, transit_extra_s: 8.0, confidence: 0.0 }
    }
}

impl FlowConfig {
    /// These thresholds with confidence `c`.
    pub fn with_confidence(self, c: f64) -> FlowConfig {
        FlowConfig { confidence: c, ..self }
    }
}

#[derive(Clone, Debug)]
struct Group {
    road: RoadId,
    /// Lane indices in the group (one lane when every movement keeps its lane).
    lanes: Vec<u32>,
    /// Seconds from the upstream stop line to the loops at the slowest normal speed.
    transit_s: f64,
    /// Vehicles sent in, by interval end (the latest few).
    sent: VecDeque<(f64, u32)>,
    /// The interval whose loop counts are being summed, the lanes counted and the sum.
    loop_end: f64,
    loops_seen: usize,
    passed: u32,
    tested: bool,
    interval_s: f64,
    held: u32,
    over: u32,
    reported: bool,
}

/// The input–output test over every exit road whose upstream junction has a camera.
#[derive(Clone, Debug)]
pub struct FlowBalance {
    pub cfg: FlowConfig,
    groups: Vec<Group>,
    /// Movement → the group its vehicles enter.
    by_movement: HashMap<MovementId, usize>,
    /// Loop lane → its group.
    by_lane: HashMap<LaneId, usize>,
}

/// The lane of the next road a vehicle from `from` takes on movement `m`: the lane
/// link's end lane closest in index to the lane it comes from (it keeps its lane).
fn kept_lane(net: &Network, m: MovementId, from: LaneId) -> Option<LaneId> {
    let i = net.lane(from).index as i64;
    let mut best: Option<(i64, LaneId)> = None;
    for &ll in &net.movement(m).lane_links {
        let link = net.lane_link(ll);
        if link.from_lane != from {
            continue;
        }
        let d = (net.lane(link.to_lane).index as i64 - i).abs();
        if best.is_none_or(|b| d < b.0) {
            best = Some((d, link.to_lane));
        }
    }
    best.map(|b| b.1)
}

impl FlowBalance {
    pub fn new(net: &Network, cfg: FlowConfig) -> FlowBalance {
        let mut groups = Vec::new();
        let mut by_movement = HashMap::new();
        let mut by_lane = HashMap::new();
        for (k, road) in net.roads.iter().enumerate() {
            let r = RoadId(k as u32);
            let (from, to) = (net.intersection(road.from), net.intersection(road.to));
            let n = road.lanes().count();
            if from.is_virtual || !to.is_virtual || n == 0 {
                continue;
            }
            // Lanes a movement's vehicles may end in are one group (union-find over the
            // road's lane indices).
            let mut parent: Vec<usize> = (0..n).collect();
            fn root(p: &mut [usize], mut x: usize) -> usize {
                while p[x] != x {
                    p[x] = p[p[x]];
                    x = p[x];
                }
                x
            }
            let into: Vec<MovementId> = from.movements.iter().copied().filter(|&m| net.movement(m).to_road == r).collect();
            let mut ends: Vec<(MovementId, Vec<usize>)> = Vec::new();
            for &m in &into {
                let mut e: Vec<usize> = net
                    .movement(m)
                    .lane_links
                    .iter()
                    .map(|&ll| net.lane_link(ll).from_lane)
                    .filter_map(|fl| kept_lane(net, m, fl))
                    .map(|l| net.lane(l).index as usize)
                    .collect();
                e.sort_unstable();
                e.dedup();
                for w in e.windows(2) {
                    let (a, b) = (root(&mut parent, w[0]), root(&mut parent, w[1]));
                    parent[a] = b;
                }
                ends.push((m, e));
            }
            let lanes: Vec<LaneId> = road.lanes().collect();
            let speed = lanes.iter().map(|&l| net.lane(l).max_speed).fold(f64::INFINITY, f64::min).max(1.0);
            let mut gid: HashMap<usize, usize> = HashMap::new();
            for (i, &l) in lanes.iter().enumerate() {
                let root_i = root(&mut parent, i);
                let g = *gid.entry(root_i).or_insert_with(|| {
                    groups.push(Group {
                        road: r,
                        lanes: Vec::new(),
                        transit_s: 0.0,
                        sent: VecDeque::new(),
                        loop_end: f64::NEG_INFINITY,
                        loops_seen: 0,
                        passed: 0,
                        tested: false,
                        interval_s: 30.0,
                        held: 0,
                        over: 0,
                        reported: false,
                    });
                    groups.len() - 1
                });
                let to_loop = net.lane(l).length * twin::engine::DETECTOR_FRACTION;
                let grp = &mut groups[g];
                grp.lanes.push(net.lane(l).index);
                grp.transit_s = grp.transit_s.max(to_loop / (speed * cfg.transit_speed_share) + cfg.transit_extra_s);
                by_lane.insert(l, g);
            }
            for (m, e) in ends {
                if let Some(&first) = e.first() {
                    let root_m = root(&mut parent, first);
                    by_movement.insert(m, gid[&root_m]);
                }
            }
        }
        FlowBalance { cfg, groups, by_movement, by_lane }
    }

    /// Roads under test.
    pub fn roads(&self) -> impl Iterator<Item = RoadId> + '_ {
        let mut r: Vec<RoadId> = self.groups.iter().map(|g| g.road).collect();
        r.dedup();
        r.into_iter()
    }

    /// Lane groups under test on `road` (lane indices), in lane order.
    pub fn groups(&self, road: RoadId) -> Vec<Vec<u32>> {
        self.groups.iter().filter(|g| g.road == road).map(|g| g.lanes.clone()).collect()
    }

    /// The lanes (indices) of the group movement `m` sends its vehicles into, if its
    /// road is under test.
    pub fn group_of(&self, m: MovementId) -> Option<Vec<u32>> {
        self.by_movement.get(&m).map(|&g| self.groups[g].lanes.clone())
    }

    /// A camera's movement count: vehicles sent into its `to_road` in `[start, end)`.
    pub fn on_movement(&mut self, m: &MovementCount) {
        let Some(&k) = self.by_movement.get(&m.movement) else { return };
        let b = &mut self.groups[k];
        match b.sent.back_mut() {
            Some(last) if (last.0 - m.end).abs() < 1e-6 => last.1 += m.count,
            _ => b.sent.push_back((m.end, m.count)),
        }
    }

    /// A loop's interval count; its group is tested once every lane's count of the
    /// interval is in (call [`FlowBalance::check`] after the batch).
    pub fn on_loop(&mut self, l: &LoopAggregate) {
        let Some(&k) = self.by_lane.get(&l.lane) else { return };
        let b = &mut self.groups[k];
        if (l.end - b.loop_end).abs() > 1e-6 {
            b.loop_end = l.end;
            b.loops_seen = 0;
            b.passed = 0;
            b.tested = false;
        }
        b.loops_seen += 1;
        b.passed += l.count;
        b.interval_s = (l.end - l.start).max(1.0);
    }

    /// Test every lane group whose loops all reported an interval not tested yet.
    pub fn check(&mut self, net: &Network, out: &mut Vec<Report>) {
        let c = &self.cfg;
        if c.confidence <= 0.0 {
            return;
        }
        for b in &mut self.groups {
            if b.tested || b.loops_seen < b.lanes.len() {
                continue;
            }
            b.tested = true;
            let (t, interval_s) = (b.loop_end, b.interval_s);
            let sent_now: u32 = b.sent.iter().filter(|s| s.0 <= t + 1e-6 && s.0 > t - interval_s + 1e-6).map(|s| s.1).sum();
            b.held = (b.held + sent_now).saturating_sub(b.passed);
            // What was sent within the transit time may still be on its way to the loops:
            // of each interval ending `age` seconds ago, the share sent in its last
            // `transit - age` seconds.
            let mut in_transit = 0.0;
            for &(end, n) in &b.sent {
                let age = t - end;
                if age > -1e-6 {
                    in_transit += n as f64 * ((b.transit_s - age) / interval_s).clamp(0.0, 1.0);
                }
            }
            let in_transit = in_transit.ceil() as u32;
            // A loop that counts is a lane that flows: what it missed went another way (a
            // vehicle that took another lane passes another loop and is never counted
            // here), so only a lane whose loop stays silent keeps its deficit.
            if b.passed > 0 {
                b.held = b.held.min(in_transit);
            }
            while b.sent.front().is_some_and(|s| s.0 < t - b.transit_s - interval_s) {
                b.sent.pop_front();
            }
            let excess = b.held.saturating_sub(in_transit);
            if excess < c.min_excess {
                b.over = 0;
                b.reported = false;
                continue;
            }
            b.over += 1;
            if b.reported || b.over < c.persist {
                continue;
            }
            b.reported = true;
            let len = net.road_length(b.road);
            let lanes: Vec<String> = b.lanes.iter().map(|i| i.to_string()).collect();
            out.push(Report {
                time: t,
                kind: IncidentType::Blockage,
                source: SourceKind::FlowBalance,
                origin: format!("loops:{}:{}", net.road(b.road).name, lanes.join("+")),
                pos: point_on_road(net, b.road, len * twin::engine::DETECTOR_FRACTION * 0.5),
                road: Some(b.road),
                confidence: c.confidence,
                reference: None,
                text: format!(
                    "exit road lane {} holds {} vehicles its junction's camera sent in that never reached its loop \
                     ({excess} beyond the {in_transit} still in transit, {:.0} s)",
                    lanes.join("+"),
                    b.held,
                    interval_s * b.over as f64
                ),
            });
        }
    }
}
