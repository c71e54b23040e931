//! `congestion-watch`: the reference plug-in. It raises an event when a road stays
//! graded congested for a sustained time, and another when it recovers.

use std::collections::BTreeMap;

use state::Grade;
use twin::RoadId;

use crate::bus::{EventKind, Severity, Tick};
use crate::plugin::{Context, Plugin};

#[derive(Clone, Debug, PartialEq)]
pub struct CongestionWatchConfig {
    /// A road must be graded congested for this long (city seconds) to raise an event.
    pub sustain_s: f64,
    /// ... and graded free or slow for this long to clear it.
    pub clear_s: f64,
}

impl Default for CongestionWatchConfig {
    fn default() -> Self {
        CongestionWatchConfig { sustain_s: 120.0, clear_s: 60.0 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RoadWatch {
    /// Congested since this time, no event yet.
    Building(f64),
    /// Event raised; `Some(t)`: no longer congested since `t`.
    Raised(Option<f64>),
}

/// Sustained-congestion alerts per road.
#[derive(Debug, Default)]
pub struct CongestionWatch {
    cfg: CongestionWatchConfig,
    roads: BTreeMap<RoadId, RoadWatch>,
}

impl CongestionWatch {
    pub fn new(cfg: CongestionWatchConfig) -> Self {
        CongestionWatch { cfg, roads: BTreeMap::new() }
    }
}

impl Plugin for CongestionWatch {
    fn name(&self) -> &'static str {
        "congestion-watch"
    }

    fn on_tick(&mut self, tick: &Tick, cx: &mut Context<'_>) {
        let t = tick.time;
        for r in &tick.state.roads {
            let congested = r.grade == Some(Grade::Congested);
            let name = || cx.net.road(r.road).name.clone();
            match (self.roads.get(&r.road).copied(), congested) {
                (None, true) => {
                    self.roads.insert(r.road, RoadWatch::Building(t));
                }
                (None, false) => {}
                (Some(RoadWatch::Building(since)), true) => {
                    if t - since >= self.cfg.sustain_s {
                        let msg = format!("road {} congested for {:.0} s", name(), t - since);
                        cx.emit(EventKind::Congestion { road: r.road }, Severity::Warning, msg);
                        self.roads.insert(r.road, RoadWatch::Raised(None));
                    }
                }
                (Some(RoadWatch::Building(_)), false) => {
                    self.roads.remove(&r.road);
                }
                (Some(RoadWatch::Raised(_)), true) => {
                    self.roads.insert(r.road, RoadWatch::Raised(None));
                }
                (Some(RoadWatch::Raised(None)), false) => {
                    self.roads.insert(r.road, RoadWatch::Raised(Some(t)));
                }
                (Some(RoadWatch::Raised(Some(since))), false) => {
                    if t - since >= self.cfg.clear_s {
                        let msg = format!("road {} no longer congested", name());
                        cx.emit(EventKind::CongestionCleared { road: r.road }, Severity::Info, msg);
                        self.roads.remove(&r.road);
                    }
                }
            }
        }
    }
}
