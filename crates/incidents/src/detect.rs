//! Automatic detection from the brain's own feeds:
//! - **occupancy** (APID / California style): per loop, a lane that stays covered with
//!   nothing passing ("stuck") or goes silent while its road flows ("starved"), for longer
//!   than its signal could explain, while the downstream stations are clear;
//! - **speed drop**: probe vehicles stopped on a road whose probe speeds are far below the
//!   road's learned baseline, away from the signal queue, for longer than a red;
//! - **queue spillback**: an approach queue reaching back to the upstream junction;
//! - **signal faults** from the controller event log: a dark controller, a phase that
//!   misses its green for several cycles, a streak of max-outs.

use std::collections::{BTreeMap, HashMap};

use sense::{EventCode, ObsData, Observation};
use twin::{IntersectionId, LaneId, Network, Point, RoadId};

use crate::model::{IncidentType, Report, SourceKind};

/// Thresholds of the detectors.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectConfig {
    /// A loop is "covered" at or above this occupancy.
    pub stuck_occupancy: f64,
    /// ... and passes at most this many vehicles in the interval.
    pub stuck_max_count: u32,
    /// A downstream station is "clear" below this occupancy (APID's OCCDF test).
    pub downstream_clear: f64,
    /// Extra seconds beyond the longest red a lane's signal shows before a covered or
    /// silent loop counts.
    pub red_margin_s: f64,
    /// A lane is "starved" when its learned count per interval is at least this and it
    /// passes nothing while another lane of its road passes vehicles.
    pub starve_min_baseline: f64,
    /// Probe speed under this share of the road's baseline is a drop.
    pub drop_ratio: f64,
    /// A probe stopped this long beyond its signal's red (seconds) counts.
    pub probe_stop_margin_s: f64,
    /// ... and at least this long (seconds).
    pub probe_min_stop_s: f64,
    /// Metres beyond the measured signal queue a stopped probe must be.
    pub probe_queue_margin_m: f64,
    /// Queue over this share of the road's length is a spillback.
    pub spillback_share: f64,
    /// ... for this long (seconds).
    pub spillback_s: f64,
    /// A queue reading longer than `queue_gap_m_per_vehicle` per waiting vehicle plus
    /// `queue_gap_slack_m` (and at least `queue_gap_min_m`) has a gap: its front vehicle
    /// is stopped far from the stop line.
    pub queue_gap_m_per_vehicle: f64,
    pub queue_gap_slack_m: f64,
    pub queue_gap_min_m: f64,
    /// ... for this long (seconds between the first and the latest such reading).
    pub queue_gap_s: f64,
    /// A controller silent this long (seconds) after reporting is dark.
    pub dark_s: f64,
    /// A phase without green for this many cycles misses its greens.
    pub missing_cycles: f64,
    /// Greens at least this long (seconds) are max-outs ...
    pub max_green_s: f64,
    /// ... and this many in a row are a streak.
    pub max_out_streak: u32,
    /// Confidence of each kind of obstruction report: the share of such reports that
    /// matched a real incident on the calibration runs (`citybrain eval incidents
    /// --calibrate`, seeds other than the evaluation's), so that the fusion's noisy-OR
    /// combines probabilities rather than hand-set weights.
    pub reliability: Reliability,
    /// The controller detector logs' starved-lane test.
    pub log: crate::detect_log::LogConfig,
    /// The exit roads' input–output test.
    pub flow: crate::detect_flow::FlowConfig,
}

/// Calibrated confidence per kind of obstruction report (see [`DetectConfig::reliability`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Reliability {
    /// A loop covered with nothing passing.
    pub loop_stuck: f64,
    /// A loop silent while its road flows.
    pub loop_silent: f64,
    /// A probe stopped beyond the signal queue.
    pub probe_stop: f64,
    /// An approach camera's queue with a gap.
    pub queue_gap: f64,
    /// A controller detector log's starved lane; 0 turns the test off (the default: its
    /// calibrated reliability, 0.55–0.64 on the seed-2 runs, would raise an alarm alone
    /// at the 0.5 alarm level and multiply the false alarms; see BENCHMARKS.md).
    pub detector_log: f64,
    /// An exit road's input–output count: vehicles sent in that never reached a lane's
    /// loop; 0 turns the test off. Calibrated reliability 0.80–0.92 (seeds 1 and 2); at
    /// the default 0.6 (an alarm alone) it raises detection from 80 % to 93–94 % and adds
    /// 3–4 false alarms in 20 hours (docs/benchmarks/incidents.md): on by default, the
    /// operator may turn it off.
    pub flow_balance: f64,
    /// A loop covered with nothing passing on an exit road (nothing downstream to queue
    /// behind).
    pub exit_stuck: f64,
    /// A probe stopped on an exit road (matched an incident 13 of 13 times on seeds 1
    /// and 2 in the twin, but alone at 0.5 it raised 34 false alarms in 3 h on the SUMO
    /// data, where vehicles stop at the network's edge; at 0.35 it needs corroboration).
    pub exit_probe_stop: f64,
    /// The twin's virtual camera analytics, by tenth of the confidence they report
    /// (`camera[k]` for a reported confidence in `k/10 .. (k+1)/10`); `None`: taken as
    /// reported. Reports through the API keep the confidence they state.
    pub camera: Option<[f64; 10]>,
}

impl Reliability {
    /// The calibrated confidence of a virtual camera report that states `c`.
    pub fn camera_of(&self, c: f64) -> f64 {
        match &self.camera {
            Some(t) => t[((c * 10.0).floor().max(0.0) as usize).min(9)],
            None => c,
        }
    }
}

impl Default for Reliability {
    fn default() -> Self {
        Reliability {
            loop_stuck: 0.2,
            loop_silent: 0.2,
            probe_stop: 0.35,
            queue_gap: 0.6,
            detector_log: 0.0,
            flow_balance: 0.6,
            exit_stuck: 0.2,
            exit_probe_stop: 0.35,
            camera: None,
        }
    }
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            stuck_occupancy: 0.8,
            stuck_max_count: 0,
            downstream_clear: 0.3,
            red_margin_s: 30.0,
            starve_min_baseline: 2.0,
            drop_ratio: 0.25,
            probe_stop_margin_s: 30.0,
            probe_min_stop_s: 60.0,
            probe_queue_margin_m: 25.0,
            spillback_share: 0.9,
            spillback_s: 60.0,
            queue_gap_m_per_vehicle: 8.0,
            queue_gap_slack_m: 40.0,
            queue_gap_min_m: 60.0,
            queue_gap_s: 0.0,
            dark_s: 180.0,
            missing_cycles: 3.0,
            max_green_s: 90.0,
            max_out_streak: 5,
            reliability: Reliability::default(),
            log: crate::detect_log::LogConfig::default(),
            flow: crate::detect_flow::FlowConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct LaneWatch {
    /// Seconds the loop has been covered with nothing passing, and since when.
    stuck_since: Option<f64>,
    silent_since: Option<f64>,
    baseline_count: f64,
    samples: u32,
    last_occ: f64,
    last_count: u32,
    reported: bool,
}

#[derive(Clone, Debug)]
struct ProbeWatch {
    road: RoadId,
    pos: Point,
    stopped_since: Option<f64>,
    reported: bool,
}

#[derive(Clone, Debug, Default)]
struct SignalWatch {
    last_event: Option<f64>,
    last_green: BTreeMap<u32, f64>,
    green_start: Option<(u32, f64)>,
    streak: u32,
    dark_reported: bool,
    missing_reported: BTreeMap<u32, bool>,
    streak_reported: bool,
    /// Preempted (between ATSPM 105 and 111): missing greens and long greens are the
    /// preemption's, not a fault.
    preempted: bool,
}

/// Static per-road facts the detectors need.
#[derive(Clone, Debug)]
struct RoadInfo {
    length: f64,
    /// Longest red the road's signal shows (0 without a signal).
    max_red: f64,
    /// Roads fed by this one (downstream stations).
    next: Vec<RoadId>,
    lanes: Vec<LaneId>,
    /// Leaves the network (ends at a virtual junction): nothing downstream holds a queue.
    exit: bool,
}

/// All detectors, with their memory.
#[derive(Clone, Debug)]
pub struct Detectors {
    pub cfg: DetectConfig,
    roads: Vec<RoadInfo>,
    cycle: Vec<f64>,
    lanes: HashMap<LaneId, LaneWatch>,
    probes: HashMap<String, ProbeWatch>,
    headings: HashMap<String, f64>,
    road_speed: Vec<(f64, u32)>,
    queue_since: HashMap<RoadId, (f64, bool)>,
    gap_since: HashMap<RoadId, (f64, bool)>,
    queue_m: HashMap<RoadId, f64>,
    signals: BTreeMap<IntersectionId, SignalWatch>,
    logs: crate::detect_log::DetectorLogs,
    flow: crate::detect_flow::FlowBalance,
}

/// Longest time (seconds) a movement of road `r` waits for green at its downstream signal.
fn max_red(net: &Network, r: RoadId) -> f64 {
    let i = net.intersection(net.road(r).to);
    if !i.is_signalised() {
        return 0.0;
    }
    let cycle: f64 = i.phases.iter().map(|p| p.duration).sum();
    let mut worst: f64 = 0.0;
    for &m in &i.movements {
        let mv = net.movement(m);
        if mv.from_road != r || mv.turn == twin::Turn::Right {
            continue;
        }
        let green: f64 =
            i.phases.iter().filter(|p| p.green.get(mv.local as usize).copied().unwrap_or(false)).map(|p| p.duration).sum();
        worst = worst.max(cycle - green);
    }
    worst
}

/// Where along road `r` (metres from its start) and how far from its polyline `p` lies.
pub fn project_on_road(net: &Network, r: RoadId, p: Point) -> (f64, f64, f64) {
    let pts = &net.road(r).points;
    let (mut best_d, mut best_s, mut best_heading, mut acc) = (f64::INFINITY, 0.0, 0.0, 0.0);
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len2 = dx * dx + dy * dy;
        let len = len2.sqrt();
        let t = if len2 > 0.0 { (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        let (qx, qy) = (a.x + t * dx, a.y + t * dy);
        let d = ((p.x - qx).powi(2) + (p.y - qy).powi(2)).sqrt();
        if d < best_d {
            best_d = d;
            best_s = acc + t * len;
            best_heading = dy.atan2(dx);
        }
        acc += len;
    }
    (best_s, best_d, best_heading)
}

/// The point `s` metres along road `r`.
pub fn point_on_road(net: &Network, r: RoadId, s: f64) -> Point {
    let pts = &net.road(r).points;
    let mut left = s.max(0.0);
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt();
        if left <= len && len > 0.0 {
            let t = left / len;
            return Point::new(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y));
        }
        left -= len;
    }
    pts.last().copied().unwrap_or(Point::new(0.0, 0.0))
}

/// The road a GPS fix is on: nearest polyline within 20 m whose direction agrees with
/// the heading (within 60°).
pub fn match_road(net: &Network, p: Point, heading: Option<f64>) -> Option<(RoadId, f64)> {
    let mut best: Option<(RoadId, f64, f64)> = None;
    for k in 0..net.roads.len() {
        let r = RoadId(k as u32);
        let (s, d, h) = project_on_road(net, r, p);
        if d > 20.0 {
            continue;
        }
        if let Some(hd) = heading {
            let diff = (hd - h + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI) - std::f64::consts::PI;
            if diff.abs() > std::f64::consts::FRAC_PI_3 {
                continue;
            }
        }
        if best.is_none_or(|b| d < b.2) {
            best = Some((r, s, d));
        }
    }
    best.map(|(r, s, _)| (r, s))
}

impl Detectors {
    pub fn new(net: &Network, cfg: DetectConfig) -> Detectors {
        let roads = (0..net.roads.len())
            .map(|k| {
                let r = RoadId(k as u32);
                let road = net.road(r);
                let next = (0..net.roads.len())
                    .map(|j| RoadId(j as u32))
                    .filter(|&q| net.road(q).from == road.to && net.road(q).to != road.from)
                    .collect();
                RoadInfo {
                    length: net.road_length(r),
                    max_red: max_red(net, r),
                    next,
                    lanes: road.lanes().collect(),
                    exit: net.intersection(road.to).is_virtual,
                }
            })
            .collect();
        let cycle = net.intersections.iter().map(|i| i.phases.iter().map(|p| p.duration).sum()).collect();
        Detectors {
            logs: crate::detect_log::DetectorLogs::new(
                net,
                crate::detect_log::LogConfig { confidence: cfg.reliability.detector_log, ..cfg.log.clone() },
            ),
            flow: crate::detect_flow::FlowBalance::new(
                net,
                crate::detect_flow::FlowConfig { confidence: cfg.reliability.flow_balance, ..cfg.flow.clone() },
            ),
            cfg,
            roads,
            cycle,
            lanes: HashMap::new(),
            probes: HashMap::new(),
            headings: HashMap::new(),
            road_speed: vec![(0.0, 0); net.roads.len()],
            queue_since: HashMap::new(),
            gap_since: HashMap::new(),
            queue_m: HashMap::new(),
            signals: BTreeMap::new(),
        }
    }

    /// Feed one batch; reports go to `out`.
    pub fn observe(&mut self, net: &Network, batch: &[Observation], out: &mut Vec<Report>) {
        for o in batch {
            match &o.data {
                ObsData::Loop(l) => {
                    self.flow.on_loop(l);
                    self.on_loop(net, l.lane, l.road, l.end, l.count, l.occupancy, out)
                }
                ObsData::Movement(m) => self.flow.on_movement(m),
                ObsData::Probe(p) => self.on_probe(net, o.time, &p.token, p.pos, p.speed, p.heading, out),
                ObsData::Queue(q) => {
                    self.on_queue_gap(net, o.time, q.road, q.queue_m, q.waiting, out);
                    self.on_queue(net, o.time, q.road, q.queue_m, out);
                }
                ObsData::Signal(s) => {
                    self.logs.on_event(o.time, s.intersection, s.code, s.param);
                    self.on_signal(o.time, s.intersection, s.code, s.param, out)
                }
                ObsData::Report(c) => {
                    let kind = match c.category.as_str() {
                        "accident" => IncidentType::Collision,
                        "congestion" => IncidentType::Congestion,
                        "signal-fault" => IncidentType::SignalFault,
                        "road-works" => IncidentType::RoadWorks,
                        _ => IncidentType::Blockage,
                    };
                    let pos = c.pos.or_else(|| c.road.map(|r| point_on_road(net, r, net.road_length(r) / 2.0)));
                    if let Some(pos) = pos {
                        let road = c.road.or_else(|| match_road(net, pos, None).map(|x| x.0));
                        out.push(Report {
                            time: o.time,
                            kind,
                            source: SourceKind::Citizen,
                            origin: "citizen:12345".into(),
                            pos,
                            road,
                            confidence: 0.3,
                            reference: None,
                            text: c.text.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        self.flow.check(net, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_loop(&mut self, net: &Network, lane: LaneId, road: RoadId, t: f64, count: u32, occ: f64, out: &mut Vec<Report>) {
        let cfg = self.cfg.clone();
        let info = &self.roads[road.0 as usize];
        let hold = info.max_red + cfg.red_margin_s;
        // Downstream stations (APID's comparison): mean occupancy of the roads fed.
        let down: Vec<f64> = info
            .next
            .iter()
            .flat_map(|q| self.roads[q.0 as usize].lanes.iter())
            .filter_map(|l| self.lanes.get(l))
            .map(|w| w.last_occ)
            .collect();
        let down_occ = if down.is_empty() { 0.0 } else { down.iter().sum::<f64>() / down.len() as f64 };
        let siblings_flow = info.lanes.iter().filter(|&&l| l != lane).filter_map(|l| self.lanes.get(l)).any(|w| w.last_count > 0);
        let w = self.lanes.entry(lane).or_default();
        w.last_occ = occ;
        w.last_count = count;
        let stuck = occ >= cfg.stuck_occupancy && count <= cfg.stuck_max_count;
        let silent = count == 0 && occ == 0.0 && w.baseline_count >= cfg.starve_min_baseline && siblings_flow;
        if !stuck && !silent {
            // Learn the lane's normal count only from unremarkable intervals.
            w.samples += 1;
            let a = if w.samples < 20 { 1.0 / w.samples as f64 } else { 0.05 };
            w.baseline_count += a * (count as f64 - w.baseline_count);
        }
        w.stuck_since = if stuck { Some(w.stuck_since.unwrap_or(t)) } else { None };
        w.silent_since = if silent { Some(w.silent_since.unwrap_or(t)) } else { None };
        if !stuck && !silent {
            w.reported = false;
            return;
        }
        // The interval that first showed it started `interval` earlier; count from its end.
        let since = w.stuck_since.or(w.silent_since).unwrap_or(t);
        // A silent lane: long enough that a Poisson stream at the learned rate would
        // leave such a gap less than once in 10,000 (rate per 30 s interval).
        let hold = if stuck { hold } else { 30.0 * (9.2 / w.baseline_count.max(0.1)).ceil().max(2.0) };
        if w.reported || t - since < hold.max(1.0) - 30.0 || down_occ >= cfg.downstream_clear {
            return;
        }
        w.reported = true;
        let len = net.lane(lane).length;
        let (pos, conf, what) = if stuck && info.exit {
            (point_on_road(net, road, len * 0.55), cfg.reliability.exit_stuck, "covered with nothing passing on an exit road")
        } else if stuck {
            (point_on_road(net, road, len * 0.55), cfg.reliability.loop_stuck, "covered with nothing passing")
        } else {
            (point_on_road(net, road, len * 0.4), cfg.reliability.loop_silent, "silent while its road flows")
        };
        out.push(Report {
            time: t,
            kind: IncidentType::Blockage,
            source: SourceKind::Occupancy,
            origin: format!("loop:{}:{}", net.road(road).name, net.lane(lane).index),
            pos,
            road: Some(road),
            confidence: conf,
            reference: None,
            text: format!(
                "lane {} {what} for {:.0} s (longest red {:.0} s), downstream occupancy {:.2}",
                net.lane(lane).index,
                t - since + 30.0,
                info.max_red,
                down_occ
            ),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn on_probe(&mut self, net: &Network, t: f64, token: &str, pos: Point, speed: f64, heading: f64, out: &mut Vec<Report>) {
        // A stopped probe's GPS heading is noise: use its last moving heading.
        let hd = if speed > 1.0 {
            self.headings.insert(token.to_string(), heading);
            Some(heading)
        } else {
            self.headings.get(token).copied()
        };
        let Some((road, s)) = match_road(net, pos, hd) else {
            self.probes.remove(token);
            return;
        };
        let info = &self.roads[road.0 as usize];
        let rs = &mut self.road_speed[road.0 as usize];
        let baseline = if rs.1 > 0 { rs.0 } else { net.lane(info.lanes[0]).max_speed * 0.7 };
        if speed > 1.0 {
            // Baseline from moving fixes (a stopped probe at a red says nothing of the road).
            rs.1 += 1;
            let a = if rs.1 < 50 { 1.0 / rs.1 as f64 } else { 0.02 };
            rs.0 += a * (speed - rs.0);
        }
        let queue = self.queue_m.get(&road).copied().unwrap_or(0.0);
        let from_end = info.length - s;
        let dropped = speed < self.cfg.drop_ratio * baseline;
        let beyond_queue = from_end > queue + self.cfg.probe_queue_margin_m;
        let hold = (info.max_red + self.cfg.probe_stop_margin_s).max(self.cfg.probe_min_stop_s);
        let exit = info.exit;
        let w = self.probes.entry(token.to_string()).or_insert(ProbeWatch { road, pos, stopped_since: None, reported: false });
        if w.road != road || !dropped {
            *w = ProbeWatch { road, pos, stopped_since: None, reported: false };
            return;
        }
        w.pos = pos;
        let since = *w.stopped_since.get_or_insert(t);
        if w.reported || !beyond_queue || t - since < hold {
            return;
        }
        w.reported = true;
        out.push(Report {
            time: t,
            kind: IncidentType::Blockage,
            source: SourceKind::SpeedDrop,
            origin: format!("probe:{}", &token[..token.len().min(12)]),
            pos,
            road: Some(road),
            confidence: if exit { self.cfg.reliability.exit_probe_stop } else { self.cfg.reliability.probe_stop },
            reference: None,
            text: format!(
                "probe stopped{} {:.0} s at {:.0} m from the stop line (queue {:.0} m); road baseline {:.1} m/s",
                if exit { " on an exit road" } else { "" },
                t - since,
                from_end,
                queue,
                baseline
            ),
        });
    }

    fn on_queue_gap(&mut self, net: &Network, t: f64, road: RoadId, queue_m: f64, waiting: u32, out: &mut Vec<Report>) {
        let c = &self.cfg;
        let len = self.roads[road.0 as usize].length;
        let gap = queue_m >= c.queue_gap_min_m && queue_m > c.queue_gap_m_per_vehicle * waiting as f64 + c.queue_gap_slack_m;
        if !gap {
            self.gap_since.remove(&road);
            return;
        }
        let e = self.gap_since.entry(road).or_insert((t, false));
        if e.1 || t - e.0 < c.queue_gap_s {
            return;
        }
        e.1 = true;
        let at = (len - queue_m + 10.0).clamp(0.0, len);
        out.push(Report {
            time: t,
            kind: IncidentType::Blockage,
            source: SourceKind::QueueGap,
            origin: format!("camera:{}", net.intersection(net.road(road).to).name),
            pos: point_on_road(net, road, at),
            road: Some(road),
            confidence: c.reliability.queue_gap,
            reference: None,
            text: format!(
                "queue reads {queue_m:.0} m with {waiting} waiting for {:.0} s: a vehicle stopped {:.0} m up the approach",
                t - e.0,
                queue_m
            ),
        });
    }

    fn on_queue(&mut self, net: &Network, t: f64, road: RoadId, queue_m: f64, out: &mut Vec<Report>) {
        self.queue_m.insert(road, queue_m);
        let len = self.roads[road.0 as usize].length;
        if queue_m < self.cfg.spillback_share * len {
            self.queue_since.remove(&road);
            return;
        }
        let e = self.queue_since.entry(road).or_insert((t, false));
        if e.1 || t - e.0 < self.cfg.spillback_s {
            return;
        }
        e.1 = true;
        out.push(Report {
            time: t,
            kind: IncidentType::Congestion,
            source: SourceKind::Spillback,
            origin: format!("camera:{}", net.intersection(net.road(road).to).name),
            pos: point_on_road(net, road, len * 0.1),
            road: Some(road),
            confidence: 0.6,
            reference: None,
            text: format!("queue {queue_m:.0} m on a {len:.0} m approach for {:.0} s", t - e.0),
        });
    }

    fn on_signal(&mut self, t: f64, i: IntersectionId, code: EventCode, param: u32, _out: &mut [Report]) {
        let w = self.signals.entry(i).or_default();
        w.last_event = Some(w.last_event.map_or(t, |x: f64| x.max(t)));
        w.dark_reported = false;
        match code {
            EventCode::PhaseBeginGreen => {
                w.last_green.insert(param, t);
                w.missing_reported.insert(param, false);
                w.green_start = Some((param, t));
            }
            EventCode::PreemptEntryStarted => w.preempted = true,
            EventCode::PreemptBeginExit => {
                w.preempted = false;
                w.streak = 0;
                w.green_start = None;
                for g in w.last_green.values_mut() {
                    *g = g.max(t);
                }
            }
            EventCode::PhaseBeginYellow if w.preempted => {
                w.green_start = None;
            }
            EventCode::PhaseBeginYellow => {
                if let Some((p, s)) = w.green_start.take() {
                    if p == param && t - s >= self.cfg.max_green_s {
                        w.streak += 1;
                    } else {
                        w.streak = 0;
                        w.streak_reported = false;
                    }
                }
            }
            _ => {}
        }
    }

    /// Time-driven checks (dark controllers, missing greens, max-out streaks).
    pub fn on_tick(&mut self, net: &Network, now: f64, out: &mut Vec<Report>) {
        self.logs.check(net, now, out);
        for (&i, w) in self.signals.iter_mut() {
            let Some(last) = w.last_event else { continue };
            if w.preempted {
                continue;
            }
            let at = net.intersection(i).point;
            let name = &net.intersection(i).name;
            let report = |text: String, conf: f64| Report {
                time: now,
                kind: IncidentType::SignalFault,
                source: SourceKind::SignalLog,
                origin: format!("controller:{name}"),
                pos: at,
                road: None,
                confidence: conf,
                reference: None,
                text,
            };
            if now - last >= self.cfg.dark_s && !w.dark_reported {
                w.dark_reported = true;
                out.push(report(format!("controller dark: no event for {:.0} s", now - last), 0.9));
                continue;
            }
            let cycle = self.cycle[i.0 as usize].max(1.0);
            for (&p, &g) in &w.last_green {
                let flagged = w.missing_reported.entry(p).or_insert(false);
                if !*flagged && now - g >= self.cfg.missing_cycles * cycle && now - last < self.cfg.dark_s {
                    *flagged = true;
                    out.push(report(format!("phase {p} missed its green for {:.0} s ({:.0} s cycle)", now - g, cycle), 0.7));
                }
            }
            if w.streak >= self.cfg.max_out_streak && !w.streak_reported {
                w.streak_reported = true;
                out.push(report(format!("{} max-outs in a row", w.streak), 0.5));
            }
        }
    }
}
