//! The state estimator: keeps recent evidence per road and intersection and turns it
//! into a [`CityState`] on [`StateEstimator::update`].

use std::collections::VecDeque;

use city::{IntersectionId, Network, Point, RoadId};
use sense::{ObsData, Observation, ObservationSink, SensorRegistry, SinkError};

use crate::model::*;
use crate::spatial::LaneGrid;

/// One speed sample: when, what speed, how many vehicles it stands for, from where.
#[derive(Clone, Copy, Debug)]
struct Sample {
    time: f64,
    speed: f64,
    weight: f64,
    vehicles: u32,
    probe: bool,
}

#[derive(Clone, Copy, Debug)]
struct LaneFlow {
    start: f64,
    end: f64,
    count: u32,
}

#[derive(Clone, Copy, Debug)]
struct QueueSample {
    time: f64,
    queue_m: f64,
    waiting: u32,
}

#[derive(Clone, Copy, Debug)]
struct Through {
    start: f64,
    end: f64,
    count: u32,
}

/// Most samples kept per road between updates (oldest dropped first), so memory stays
/// bounded even if `update` is never called.
pub const MAX_SAMPLES_PER_ROAD: usize = 4096;

/// Static facts about a road the estimator needs.
#[derive(Clone, Debug)]
struct RoadInfo {
    class: RoadClass,
    length: f64,
    free_speed: f64,
    area: usize,
    to: IntersectionId,
    lanes: std::ops::Range<usize>,
}

/// A district: a cell of the grid over the network's bounding box.
#[derive(Clone, Debug, PartialEq)]
pub struct Area {
    pub name: String,
    pub min: Point,
    pub max: Point,
}

/// Fuses observations into road, intersection, district and city state.
///
/// Fusion rule: a road's speed is the weighted mean of its samples in the horizon, each
/// weighing `base * exp(-age / tau_s)`, where `base` is `loop_weight * count` for a loop
/// aggregate (mean spot speed of `count` vehicles; a silent loop with occupancy at least
/// `jam_occupancy` counts as one standing vehicle at 0 m/s) and `probe_weight` for a probe
/// fix map-matched to the road.
pub struct StateEstimator {
    cfg: StateConfig,
    roads: Vec<RoadInfo>,
    areas: Vec<Area>,
    signalised: Vec<IntersectionId>,
    grid: LaneGrid,
    samples: Vec<VecDeque<Sample>>,
    lane_flow: Vec<Option<LaneFlow>>,
    /// Per approach road: recent queue samples.
    queues: Vec<VecDeque<QueueSample>>,
    /// Per intersection: recent movement counts.
    through: Vec<VecDeque<Through>>,
    unmatched_probes: u64,
    latest: Option<CityState>,
}

impl StateEstimator {
    pub fn new(net: &Network, cfg: StateConfig) -> StateEstimator {
        let areas = districts(net, cfg.districts);
        let (cols, rows) = (cfg.districts.0.max(1), cfg.districts.1.max(1));
        let roads = net
            .roads
            .iter()
            .map(|r| {
                let free_speed = r.lanes().map(|l| net.lane(l).max_speed).fold(0.0, f64::max).max(0.1);
                let class = cfg.classify(free_speed, r.lane_count);
                let length = city::geom::polyline_length(&r.points).max(1.0);
                let mid = city::geom::point_at(&r.points, length / 2.0);
                RoadInfo {
                    class,
                    length,
                    free_speed,
                    area: area_of(&areas, cols, rows, mid),
                    to: r.to,
                    lanes: r.first_lane.idx()..r.first_lane.idx() + r.lane_count as usize,
                }
            })
            .collect::<Vec<_>>();
        let signalised = net
            .intersections
            .iter()
            .enumerate()
            .filter(|(_, i)| i.is_signalised() && !i.is_virtual)
            .map(|(k, _)| IntersectionId(k as u32))
            .collect();
        StateEstimator {
            grid: LaneGrid::new(net, 50.0),
            samples: vec![VecDeque::new(); roads.len()],
            lane_flow: vec![None; net.lanes.len()],
            queues: vec![VecDeque::new(); roads.len()],
            through: vec![VecDeque::new(); net.intersections.len()],
            roads,
            areas,
            signalised,
            cfg,
            unmatched_probes: 0,
            latest: None,
        }
    }

    pub fn config(&self) -> &StateConfig {
        &self.cfg
    }

    /// The districts, in the order of [`CityState::areas`].
    pub fn areas(&self) -> &[Area] {
        &self.areas
    }

    /// The district a road belongs to (by its midpoint).
    pub fn road_area(&self, r: RoadId) -> Option<usize> {
        self.roads.get(r.idx()).map(|i| i.area)
    }

    /// Probe fixes that matched no road so far.
    pub fn unmatched_probes(&self) -> u64 {
        self.unmatched_probes
    }

    /// The road a probe fix belongs to, if any.
    pub fn match_probe(&self, pos: Point, heading: f64) -> Option<RoadId> {
        self.grid.nearest(pos, heading, self.cfg.match_radius_m, self.cfg.heading_tolerance).map(|m| m.0)
    }

    fn push_sample(&mut self, road: usize, s: Sample) {
        if let Some(q) = self.samples.get_mut(road) {
            if q.len() >= MAX_SAMPLES_PER_ROAD {
                q.pop_front();
            }
            q.push_back(s);
        }
    }

    /// Take one observation into account.
    pub fn observe(&mut self, obs: &Observation) {
        let t = obs.time;
        match &obs.data {
            ObsData::Loop(l) => {
                let (w, r) = (self.cfg.loop_weight, l.road.idx());
                match l.speed {
                    Some(v) if l.count > 0 => self.push_sample(
                        r,
                        Sample { time: t, speed: v, weight: w * l.count as f64, vehicles: l.count, probe: false },
                    ),
                    _ if l.occupancy >= self.cfg.jam_occupancy => {
                        self.push_sample(r, Sample { time: t, speed: 0.0, weight: w, vehicles: 0, probe: false })
                    }
                    _ => {}
                }
                if let Some(f) = self.lane_flow.get_mut(l.lane.idx()) {
                    // Keep the latest interval; ties broken by count so arrival order is irrelevant.
                    if f.is_none_or(|f| (f.end, f.count) < (l.end, l.count)) {
                        *f = Some(LaneFlow { start: l.start, end: l.end, count: l.count });
                    }
                }
            }
            ObsData::Probe(p) => match self.match_probe(p.pos, p.heading) {
                Some(r) => {
                    let w = self.cfg.probe_weight;
                    self.push_sample(r.idx(), Sample { time: t, speed: p.speed, weight: w, vehicles: 1, probe: true })
                }
                None => self.unmatched_probes += 1,
            },
            ObsData::Queue(q) => {
                if let Some(d) = self.queues.get_mut(q.road.idx()) {
                    if d.len() >= MAX_SAMPLES_PER_ROAD {
                        d.pop_front();
                    }
                    d.push_back(QueueSample { time: t, queue_m: q.queue_m, waiting: q.waiting });
                }
            }
            ObsData::Movement(m) => {
                if let Some(d) = self.through.get_mut(m.intersection.idx()) {
                    if d.len() >= MAX_SAMPLES_PER_ROAD {
                        d.pop_front();
                    }
                    d.push_back(Through { start: m.start, end: m.end, count: m.count });
                }
            }
            ObsData::Plate(_) | ObsData::Signal(_) | ObsData::Report(_) => {}
        }
    }

    pub fn observe_all(&mut self, obs: &[Observation]) {
        for o in obs {
            self.observe(o);
        }
    }

    /// Drop evidence older than the horizon and compute the snapshot for `now`.
    pub fn update(&mut self, now: f64) -> &CityState {
        let cut = now - self.cfg.horizon_s;
        // `retain`, not popping the front: evidence may arrive out of order.
        for q in &mut self.samples {
            q.retain(|s| s.time >= cut);
        }
        for q in &mut self.queues {
            q.retain(|s| s.time >= cut);
        }
        for q in &mut self.through {
            q.retain(|s| s.end >= cut);
        }
        let roads: Vec<RoadState> = (0..self.roads.len()).map(|r| self.road_state(r, now)).collect();
        let intersections = self.signalised.iter().map(|&i| self.intersection_state(i, now)).collect();
        let areas: Vec<AreaState> = self
            .areas
            .iter()
            .enumerate()
            .map(|(a, area)| self.area_state(area.name.clone(), &roads, |r| self.roads[r].area == a))
            .collect();
        let city = self.area_state("city".into(), &roads, |_| true);
        self.latest = Some(CityState { time: now, roads, intersections, areas, city });
        self.latest.as_ref().expect("just set")
    }

    /// The last snapshot computed by [`Self::update`].
    pub fn latest(&self) -> Option<&CityState> {
        self.latest.as_ref()
    }

    fn road_state(&self, r: usize, now: f64) -> RoadState {
        let info = &self.roads[r];
        let (mut sw, mut swv, mut lv, mut pf) = (0.0, 0.0, 0u32, 0u32);
        for s in &self.samples[r] {
            let age = (now - s.time).max(0.0);
            let w = s.weight * (-age / self.cfg.tau_s).exp();
            sw += w;
            swv += w * s.speed;
            if s.probe {
                pf += 1;
            } else {
                lv += s.vehicles;
            }
        }
        let speed = (sw > 0.0).then(|| swv / sw);
        let tti = speed.map(|v| if v > 0.0 { (info.free_speed / v).min(self.cfg.max_tti) } else { self.cfg.max_tti });
        let grade = speed.map(|v| self.cfg.thresholds(info.class).grade(v));
        let cut = now - self.cfg.horizon_s;
        let mut flow = None;
        for l in info.lanes.clone() {
            if let Some(f) = self.lane_flow[l].filter(|f| f.end >= cut && f.end > f.start) {
                *flow.get_or_insert(0.0) += f.count as f64 * 3600.0 / (f.end - f.start);
            }
        }
        RoadState {
            road: RoadId(r as u32),
            class: info.class,
            length_m: info.length,
            free_speed: info.free_speed,
            speed,
            tti,
            grade,
            flow_vph: flow,
            loop_vehicles: lv,
            probe_fixes: pf,
        }
    }

    fn intersection_state(&self, i: IntersectionId, _now: f64) -> IntersectionState {
        let (mut queue_m, mut waiting, mut mean_waiting, mut any_queue) = (0.0_f64, 0u32, 0.0, false);
        for (r, info) in self.roads.iter().enumerate() {
            if info.to != i || self.queues[r].is_empty() {
                continue;
            }
            let q = &self.queues[r];
            let last = q.iter().reduce(|a, b| if (b.time, b.waiting) > (a.time, a.waiting) { b } else { a }).expect("non-empty");
            queue_m = queue_m.max(last.queue_m);
            waiting += last.waiting;
            mean_waiting += q.iter().map(|s| s.waiting as f64).sum::<f64>() / q.len() as f64;
            any_queue = true;
        }
        let th = &self.through[i.idx()];
        let throughput = match (th.iter().map(|t| t.start).reduce(f64::min), th.iter().map(|t| t.end).reduce(f64::max)) {
            (Some(s), Some(e)) if e > s => Some(th.iter().map(|t| t.count as f64).sum::<f64>() / (e - s)),
            _ => None,
        };
        let delay_s = match throughput {
            Some(l) if l > 0.0 && any_queue => Some(mean_waiting / l),
            _ => None,
        };
        IntersectionState { intersection: i, queue_m, waiting, delay_s, throughput_vps: throughput }
    }

    fn area_state(&self, name: String, roads: &[RoadState], member: impl Fn(usize) -> bool) -> AreaState {
        let members: Vec<&RoadState> = roads.iter().filter(|r| member(r.road.idx())).collect();
        let covered: Vec<&&RoadState> = members.iter().filter(|r| r.speed.is_some()).collect();
        // VKT weight per unit length of each class: mean loop flow of the class's roads
        // (city-wide), so a jammed road is not discounted for its low flow.
        let class_weight = |c: RoadClass| {
            let (mut lf, mut l) = (0.0, 0.0);
            for r in roads.iter().filter(|r| r.class == c) {
                if let Some(f) = r.flow_vph {
                    lf += f * r.length_m;
                    l += r.length_m;
                }
            }
            if l > 0.0 && lf > 0.0 {
                lf / l
            } else {
                1.0
            }
        };
        let (wa, wl) = (class_weight(RoadClass::Arterial), class_weight(RoadClass::Local));
        let weight = |c| if c == RoadClass::Arterial { wa } else { wl };
        let (mut len, mut len_tti, mut tt, mut vkt, mut vkt_cong) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for r in &covered {
            let tti = r.tti.expect("covered roads have a tti");
            len += r.length_m;
            len_tti += r.length_m * tti;
            tt += r.length_m * tti / r.free_speed;
            let v = r.length_m * weight(r.class);
            vkt += v;
            if r.grade == Some(Grade::Congested) {
                vkt_cong += v;
            }
        }
        let share = if vkt > 0.0 { vkt_cong / vkt } else { 0.0 };
        let tpi = tpi_from_share(share, &self.cfg.tpi_breakpoints);
        AreaState {
            name,
            roads_covered: covered.len(),
            roads_total: members.len(),
            delay_index: (len > 0.0).then(|| len_tti / len),
            mean_speed: (tt > 0.0).then(|| len / tt),
            congested_share: share,
            tpi,
            tpi_grade: TpiGrade::of(tpi),
        }
    }
}

impl ObservationSink for StateEstimator {
    fn accept(&mut self, batch: &[Observation], _: &SensorRegistry) -> Result<(), SinkError> {
        self.observe_all(batch);
        Ok(())
    }
}

/// Grid of `cols x rows` districts over the bounding box of the intersections, named
/// `district-1`.. in row-major order from the south-west corner.
fn districts(net: &Network, (cols, rows): (usize, usize)) -> Vec<Area> {
    let (cols, rows) = (cols.max(1), rows.max(1));
    let pts = net.intersections.iter().map(|i| i.point);
    let (mut lo, mut hi) = (Point::new(f64::INFINITY, f64::INFINITY), Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY));
    for p in pts {
        lo = Point::new(lo.x.min(p.x), lo.y.min(p.y));
        hi = Point::new(hi.x.max(p.x), hi.y.max(p.y));
    }
    if !lo.x.is_finite() {
        lo = Point::new(0.0, 0.0);
        hi = lo;
    }
    let (w, h) = ((hi.x - lo.x) / cols as f64, (hi.y - lo.y) / rows as f64);
    let mut out = Vec::with_capacity(cols * rows);
    for r in 0..rows {
        for c in 0..cols {
            out.push(Area {
                name: format!("district-{}", out.len() + 1),
                min: Point::new(lo.x + w * c as f64, lo.y + h * r as f64),
                max: Point::new(lo.x + w * (c + 1) as f64, lo.y + h * (r + 1) as f64),
            });
        }
    }
    out
}

fn area_of(areas: &[Area], cols: usize, rows: usize, p: Point) -> usize {
    let (lo, hi) = (areas[0].min, areas[areas.len() - 1].max);
    let cell = |v: f64, a: f64, b: f64, n: usize| {
        if b > a {
            (((v - a) / (b - a) * n as f64).floor().max(0.0) as usize).min(n - 1)
        } else {
            0
        }
    };
    cell(p.y, lo.y, hi.y, rows) * cols + cell(p.x, lo.x, hi.x, cols)
}
