//! Fusion: reports from every source merge into events by space–time proximity and type
//! compatibility; an event's confidence rises as independent sources corroborate it.

use std::collections::BTreeMap;

use twin::{Point, RoadId};

use crate::model::{Actor, Entry, IncidentType, Report, SourceKind, Status};

/// How close two reports must be to describe the same event.
#[derive(Clone, Debug, PartialEq)]
pub struct FusionConfig {
    /// Metres between a report and the event's position.
    pub radius_m: f64,
    /// Seconds since the event's last report.
    pub window_s: f64,
    /// Reports kept per event (the earliest per source are always kept).
    pub max_reports: usize,
}

impl Default for FusionConfig {
    fn default() -> Self {
        FusionConfig { radius_m: 150.0, window_s: 900.0, max_reports: 50 }
    }
}

/// One fused event.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub id: u64,
    pub kind: IncidentType,
    pub status: Status,
    /// Network metres: the position of its most confident report.
    pub pos: Point,
    pub road: Option<RoadId>,
    pub first_seen: f64,
    pub last_seen: f64,
    /// 0..=1: `1 - Π (1 - c_s)` over the best confidence of each distinct source kind.
    pub confidence: f64,
    pub reports: Vec<Report>,
    pub timeline: Vec<Entry>,
    /// Who verified it (an operator for every type that could penalise a person).
    pub verified_by: Option<Actor>,
    /// The unit sent, if any.
    pub unit: Option<String>,
    /// Events merged into this one.
    pub merged: Vec<u64>,
    /// The event this one was merged into.
    pub merged_into: Option<u64>,
    /// Times of the key steps, for the evaluation.
    pub detected_at: f64,
    pub verified_at: Option<f64>,
    pub dispatched_at: Option<f64>,
    /// When a dispatch first found no suitable free unit (it waited in the queue).
    pub queued_at: Option<f64>,
    /// When its unit was last taken for a life-threatening event (it waited again).
    pub diverted_at: Option<f64>,
    pub arrived_at: Option<f64>,
    pub cleared_at: Option<f64>,
    /// Escalations (alerts not accepted in time).
    pub escalations: u32,
    /// When its confidence first reached the alarm level (the system's verification
    /// threshold), whatever its type: when it became an alarm an operator sees.
    pub alarm_at: Option<f64>,
}

impl Incident {
    fn new(id: u64, r: Report) -> Incident {
        let entry = Entry {
            time: r.time,
            from: None,
            to: Status::Detected,
            actor: Actor::System,
            note: format!("{} report from {}: {}", r.source.as_str(), r.origin, r.kind.as_str()),
        };
        Incident {
            id,
            kind: r.kind,
            status: Status::Detected,
            pos: r.pos,
            road: r.road,
            first_seen: r.time,
            last_seen: r.time,
            confidence: r.confidence.clamp(0.0, 1.0),
            detected_at: r.time,
            reports: vec![r],
            timeline: vec![entry],
            verified_by: None,
            unit: None,
            merged: Vec::new(),
            merged_into: None,
            verified_at: None,
            dispatched_at: None,
            arrived_at: None,
            cleared_at: None,
            escalations: 0,
            queued_at: None,
            diverted_at: None,
            alarm_at: None,
        }
    }

    /// Distinct source kinds among its reports.
    pub fn sources(&self) -> Vec<SourceKind> {
        let mut s: Vec<_> = self.reports.iter().map(|r| r.source).collect();
        s.sort();
        s.dedup();
        s
    }

    fn recompute(&mut self) {
        let mut best: BTreeMap<SourceKind, f64> = BTreeMap::new();
        // Congestion is evidence of congestion only: a queue does not corroborate an
        // obstruction (congestion without an incident must not raise one).
        let kind = self.kind;
        for r in self.reports.iter().filter(|r| r.kind != IncidentType::Congestion || kind == IncidentType::Congestion) {
            let e = best.entry(r.source).or_insert(0.0);
            *e = e.max(r.confidence.clamp(0.0, 1.0));
        }
        self.confidence = 1.0 - best.values().map(|c| 1.0 - c).product::<f64>();
        if let Some(r) = self.reports.iter().max_by(|a, b| a.confidence.total_cmp(&b.confidence)) {
            self.pos = r.pos;
            if r.road.is_some() {
                self.road = r.road;
            }
        }
    }

    /// Would `r` be part of this event?
    pub fn matches(&self, r: &Report, cfg: &FusionConfig) -> bool {
        if !self.status.open() || matches!(self.status, crate::Status::Cleared) {
            return false;
        }
        let near = dist(self.pos, r.pos) <= cfg.radius_m || (self.road.is_some() && self.road == r.road);
        let recent = r.time - self.last_seen <= cfg.window_s && self.first_seen - r.time <= cfg.window_s;
        near && recent && self.kind.compatible(r.kind)
    }

    /// Add a report; the type is refined only while the event is unverified (so a
    /// verification by the system never covers a type that penalises).
    fn absorb(&mut self, r: Report, cfg: &FusionConfig) -> bool {
        let new_source = !self.reports.iter().any(|x| x.source == r.source);
        if self.status == Status::Detected {
            self.kind = self.kind.refine(r.kind);
        }
        self.last_seen = self.last_seen.max(r.time);
        if self.reports.len() < cfg.max_reports || new_source {
            self.reports.push(r);
        } else if let Some(slot) = self.reports.iter_mut().rev().find(|x| x.source == r.source) {
            // Keep the latest of a source that already reported many times.
            *slot = r;
        }
        self.recompute();
        new_source
    }
}

/// Euclidean distance in network metres.
pub fn dist(a: Point, b: Point) -> f64 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// What fusing one report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fused {
    /// A new event with this id.
    New(u64),
    /// Joined an event; `true` when its source kind is new to the event.
    Joined(u64, bool),
}

/// The set of events.
#[derive(Clone, Debug, Default)]
pub struct Fusion {
    pub cfg: FusionConfig,
    pub events: BTreeMap<u64, Incident>,
    next: u64,
}

impl Fusion {
    pub fn new(cfg: FusionConfig) -> Fusion {
        Fusion { cfg, events: BTreeMap::new(), next: 1 }
    }

    /// Merge `r` into the nearest compatible open event, or open a new one.
    pub fn add(&mut self, r: Report) -> Fused {
        let best = self
            .events
            .values()
            .filter(|e| e.matches(&r, &self.cfg))
            .min_by(|a, b| dist(a.pos, r.pos).total_cmp(&dist(b.pos, r.pos)).then(a.id.cmp(&b.id)))
            .map(|e| e.id);
        match best {
            Some(id) => {
                let cfg = self.cfg.clone();
                let e = self.events.get_mut(&id).expect("found above");
                let new_source = e.absorb(r, &cfg);
                Fused::Joined(id, new_source)
            }
            None => {
                self.next = self.next.max(1);
                let id = self.next;
                self.next += 1;
                self.events.insert(id, Incident::new(id, r));
                Fused::New(id)
            }
        }
    }

    pub fn get(&self, id: u64) -> Option<&Incident> {
        self.events.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Incident> {
        self.events.get_mut(&id)
    }

    /// Fold event `from` into `into`: its reports join, it becomes `merged`.
    pub fn merge(&mut self, into: u64, from: u64) -> Option<()> {
        if into == from {
            return None;
        }
        let src = self.events.get(&from)?.clone();
        let cfg = self.cfg.clone();
        let dst = self.events.get_mut(&into)?;
        for r in src.reports {
            dst.absorb(r, &cfg);
        }
        dst.merged.push(from);
        dst.first_seen = dst.first_seen.min(src.first_seen);
        dst.detected_at = dst.detected_at.min(src.detected_at);
        self.events.get_mut(&from)?.merged_into = Some(into);
        Some(())
    }

    /// Drop closed, rejected and merged events older than `before` (memory bound; the
    /// store keeps their timelines).
    pub fn forget(&mut self, before: f64) {
        self.events.retain(|_, e| e.status.open() || e.last_seen >= before);
    }
}
