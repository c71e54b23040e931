//! Lane-level blockage signature from the signal controllers' detector logs (ATSPM 82
//! detector on, 81 off, of the stop-bar presence zones; channel `k` of an intersection
//! with `n` approach lanes is lane `k` in [`twin::signal::detectors`]' order for
//! `k ≤ n`, the advance zones follow).
//!
//! A lane blocked upstream of its stop bar stops feeding its presence detector while the
//! other lanes of the road keep actuating theirs: the **starved lane**. Each lane learns
//! its actuation rate `r` (actuations per second, exponentially weighted over
//! `tau_s`); it is starved when it has been quiet for `ln(1/alpha) / r` seconds (a
//! Poisson stream at that rate leaves such a gap less than once in `1/alpha`), at least a
//! cycle plus `margin_s`, while its siblings have actuated at least `min_sibling_ons`
//! times since its last actuation (the road flows: not a red, not a jam). The event
//! log's resolution is the event, not a 30 s count interval, and every signalised
//! approach has these detectors, loops or not.

use std::collections::HashMap;

use sense::EventCode;
use twin::{IntersectionId, LaneId, Network, RoadId};

use crate::detect::point_on_road;
use crate::model::{IncidentType, Report, SourceKind};

/// Thresholds of the starved-lane test.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// Chance of a gap this long in a normal Poisson stream at the learned rate.
    pub alpha: f64,
    /// Seconds beyond a cycle a lane must be quiet at least.
    pub margin_s: f64,
    /// Actuations of the road's other lanes since the lane's last one.
    pub min_sibling_ons: u64,
    /// Seconds of learning (since the lane's first actuation) before a lane is tested.
    pub min_learn_s: f64,
    /// Actuations learned before a lane is tested.
    pub min_learn_ons: f64,
    /// Time constant of the learned rate, seconds.
    pub tau_s: f64,
    /// Confidence of a report (set from `DetectConfig::reliability.detector_log`).
    pub confidence: f64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            alpha: 1e-4,
            margin_s: 20.0,
            min_sibling_ons: 4,
            min_learn_s: 480.0,
            min_learn_ons: 6.0,
            tau_s: 1200.0,
            confidence: 0.0,
        }
    }
}

#[derive(Clone, Debug)]
struct LaneLog {
    lane: LaneId,
    road: RoadId,
    /// The intersection's cycle, seconds.
    cycle: f64,
    first_on: Option<f64>,
    last_on: Option<f64>,
    /// Exponentially weighted actuations and exposure (seconds).
    ons: f64,
    exposure: f64,
    /// The road's actuation counter at this lane's last actuation.
    road_ons_at: u64,
    reported: bool,
}

impl LaneLog {
    fn rate(&self) -> f64 {
        if self.exposure > 0.0 {
            self.ons / self.exposure
        } else {
            0.0
        }
    }
}

/// The starved-lane detector over every signalised intersection's presence channels.
#[derive(Clone, Debug)]
pub struct DetectorLogs {
    pub cfg: LogConfig,
    chans: HashMap<(IntersectionId, u32), usize>,
    lanes: Vec<LaneLog>,
    road_ons: HashMap<RoadId, u64>,
    /// Roads with more than one presence channel (a lone lane has no sibling to compare).
    multi: HashMap<RoadId, usize>,
}

impl DetectorLogs {
    pub fn new(net: &Network, cfg: LogConfig) -> DetectorLogs {
        let mut chans = HashMap::new();
        let mut lanes = Vec::new();
        let mut multi: HashMap<RoadId, usize> = HashMap::new();
        for (k, inter) in net.intersections.iter().enumerate() {
            if !inter.is_signalised() {
                continue;
            }
            let id = IntersectionId(k as u32);
            let nema = twin::signal::Nema::of(net, id);
            let cycle: f64 = inter.phases.iter().map(|p| p.duration).sum();
            for d in twin::signal::detectors(net, id, &nema, &twin::signal::DetectorLayout::default()) {
                if d.function != twin::signal::DetectorFunction::Presence {
                    continue;
                }
                let road = net.lane(d.lane).road;
                *multi.entry(road).or_default() += 1;
                chans.insert((id, d.channel), lanes.len());
                lanes.push(LaneLog {
                    lane: d.lane,
                    road,
                    cycle,
                    first_on: None,
                    last_on: None,
                    ons: 0.0,
                    exposure: 0.0,
                    road_ons_at: 0,
                    reported: false,
                });
            }
        }
        multi.retain(|_, n| *n > 1);
        DetectorLogs { cfg, chans, lanes, road_ons: HashMap::new(), multi }
    }

    /// One controller event (only detector-on events of presence channels matter).
    pub fn on_event(&mut self, t: f64, i: IntersectionId, code: EventCode, param: u32) {
        if code != EventCode::DetectorOn {
            return;
        }
        let Some(&k) = self.chans.get(&(i, param)) else { return };
        let tau = self.cfg.tau_s;
        let road_count = self.road_ons.entry(self.lanes[k].road).or_default();
        *road_count += 1;
        let now_count = *road_count;
        let w = &mut self.lanes[k];
        match w.last_on {
            // A gap that was reported as starved is the anomaly, not the lane's normal rate.
            Some(last) if !w.reported => {
                let gap = (t - last).max(0.0);
                let decay = (-gap / tau).exp();
                w.ons = w.ons * decay + 1.0;
                w.exposure = w.exposure * decay + tau * (1.0 - decay);
            }
            Some(_) => {}
            None => w.first_on = Some(t),
        }
        w.last_on = Some(w.last_on.map_or(t, |l| l.max(t)));
        w.road_ons_at = now_count;
        w.reported = false;
    }

    /// Time-driven test of every lane; reports go to `out`.
    pub fn check(&mut self, net: &Network, now: f64, out: &mut Vec<Report>) {
        let c = &self.cfg;
        for w in &mut self.lanes {
            let (Some(first), Some(last)) = (w.first_on, w.last_on) else { continue };
            if c.confidence <= 0.0
                || w.reported
                || !self.multi.contains_key(&w.road)
                || now - first < c.min_learn_s
                || w.ons < c.min_learn_ons
            {
                continue;
            }
            let rate = w.rate();
            if rate <= 0.0 {
                continue;
            }
            let hold = ((1.0 / c.alpha).ln() / rate).max(w.cycle + c.margin_s);
            let quiet = now - last;
            // Siblings' actuations since: the road's count minus this lane's own (none since).
            let siblings = self.road_ons.get(&w.road).copied().unwrap_or(0).saturating_sub(w.road_ons_at);
            if quiet < hold || siblings < c.min_sibling_ons {
                continue;
            }
            w.reported = true;
            let lane = net.lane(w.lane);
            out.push(Report {
                time: now,
                kind: IncidentType::Blockage,
                source: SourceKind::DetectorLog,
                origin: format!("detector:{}:{}", net.road(w.road).name, lane.index),
                pos: point_on_road(net, w.road, lane.length * 0.5),
                road: Some(w.road),
                confidence: c.confidence,
                reference: None,
                text: format!(
                    "lane {} stop-bar detector quiet {quiet:.0} s (learned {:.1} actuations/min; {siblings} on the other lanes since)",
                    lane.index,
                    60.0 * rate
                ),
            });
        }
    }
}
