//! [`Core`]: detection, fusion, the lifecycle and dispatch together, with no IO. The
//! service ([`crate::Incidents`]) wraps it in a lock and journals what it records.

use std::collections::BTreeMap;
use std::sync::Arc;

use twin::{Network, RoadId};

use crate::detect::{project_on_road, DetectConfig, Detectors};
use crate::dispatch::{advance, choose, fastest, Speeds, Spot, Unit, UnitStatus};
use crate::fusion::{Fused, Fusion, FusionConfig, Incident};
use crate::model::{step_allowed, Actor, Entry, IncidentType, LifecycleError, Report, Status};

/// Settings of the capability.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentsConfig {
    pub detect: DetectConfig,
    pub fusion: FusionConfig,
    /// The system verifies an event that penalises nobody at this confidence.
    pub auto_verify: f64,
    /// An alert not accepted within this many seconds escalates to the next unit.
    pub accept_timeout_s: f64,
    /// Units without a person behind them accept after this many seconds (the twin's
    /// units); `None`: only the unit page accepts.
    pub auto_accept_s: Option<f64>,
    /// Simulated units clear the scene after this many seconds on it; `None`: only the
    /// unit page clears.
    pub auto_clear_s: Option<f64>,
    /// Simulated units at an event with nothing of the twin's behind it (a false alarm,
    /// or a type the twin does not play, such as a pedestrian or a crowd) clear after
    /// this many seconds of looking instead (needs the twin's ground truth, `cameras`).
    pub nothing_found_s: f64,
    /// A free unit takes over an alert when it is at least this many seconds closer.
    pub reassign_margin_s: f64,
    /// The system closes a cleared event after this many seconds.
    pub close_after_s: f64,
    /// Closed, rejected and merged events stay in memory this long (the journal keeps
    /// them for good).
    pub keep_s: f64,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            detect: DetectConfig::default(),
            fusion: FusionConfig::default(),
            auto_verify: 0.5,
            accept_timeout_s: 60.0,
            auto_accept_s: None,
            auto_clear_s: None,
            nothing_found_s: 120.0,
            reassign_margin_s: 30.0,
            close_after_s: 300.0,
            keep_s: 6.0 * 3600.0,
        }
    }
}

/// One journal record: event id, time, JSON body.
pub type JournalRecord = (u64, f64, String);

/// The capability's state.
pub struct Core {
    pub net: Arc<Network>,
    pub cfg: IncidentsConfig,
    pub detectors: Detectors,
    pub fusion: Fusion,
    pub units: BTreeMap<String, Unit>,
    pub speeds: Speeds,
    last_tick: Option<f64>,
    /// Recorded transitions not yet journaled.
    pub pending: Vec<JournalRecord>,
    /// Bumped on every change a unit page shows.
    pub version: u64,
    /// Units whose page is open: a person answers for them, so they never accept or
    /// clear by themselves.
    pub watched: BTreeMap<String, u32>,
    /// The twin's virtual camera analytics, fed by its ground truth (run seconds from
    /// the brain time `t0`).
    pub cameras: Option<(crate::cameras::Cameras, Vec<crate::cameras::Truth>, f64)>,
    /// Alerts with a priority flag (the incident's [`IncidentType::corridor_priority`]) not
    /// yet taken by the corridor capability, which starts a green corridor for each.
    pub priority_dispatches: Vec<PriorityDispatch>,
    /// Scenes units cleared, not yet handed to the twin (the plug-in turns each into a
    /// `brain::Command::ClearIncident`, which ends the twin's incident there).
    pub clearances: Vec<Clearance>,
    /// Seconds of work on scene for each simulated unit there (set on arrival).
    work_s: BTreeMap<String, f64>,
    /// Units the twin drives (a green corridor's vehicle): their position is the
    /// vehicle's, never advanced by [`advance`].
    twin_driven: std::collections::BTreeSet<String>,
}

/// A scene a unit cleared.
#[derive(Clone, Debug, PartialEq)]
pub struct Clearance {
    pub event: u64,
    pub unit: String,
    pub road: Option<RoadId>,
    pub at: twin::Point,
    pub time: f64,
}

/// A dispatch with a priority flag: the request for a green corridor it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct PriorityDispatch {
    pub unit: String,
    pub kind: crate::model::UnitKind,
    pub incident: u64,
    pub incident_type: IncidentType,
    pub priority: u32,
    /// The unit's road when alerted and the incident's road.
    pub from: RoadId,
    pub to: RoadId,
    pub time: f64,
}

impl Core {
    pub fn new(net: Arc<Network>, cfg: IncidentsConfig, units: Vec<Unit>) -> Core {
        Core {
            detectors: Detectors::new(&net, cfg.detect.clone()),
            fusion: Fusion::new(cfg.fusion.clone()),
            units: units.into_iter().map(|u| (u.id.clone(), u)).collect(),
            speeds: Speeds::free(&net),
            net,
            cfg,
            last_tick: None,
            pending: Vec::new(),
            version: 0,
            watched: BTreeMap::new(),
            cameras: None,
            priority_dispatches: Vec::new(),
            clearances: Vec::new(),
            work_s: BTreeMap::new(),
            twin_driven: Default::default(),
        }
    }

    fn record(&mut self, id: u64, entry: Entry) {
        let e = self.fusion.get_mut(id).expect("recording on a known event");
        let body = serde_json::json!({
            "event": id,
            "type": e.kind.as_str(),
            "from": entry.from.map(Status::as_str),
            "to": entry.to.as_str(),
            "actor_kind": entry.actor.kind(),
            "actor": entry.actor.name(),
            "note": entry.note,
        })
        .to_string();
        self.pending.push((id, entry.time, body));
        e.timeline.push(entry);
        self.version += 1;
    }

    /// Change an event's status, enforcing the lifecycle and the review rule.
    pub fn transition(&mut self, id: u64, to: Status, actor: Actor, now: f64, note: &str) -> Result<(), LifecycleError> {
        let e = self.fusion.get(id).ok_or(LifecycleError::NotFound(id))?;
        let from = e.status;
        if !step_allowed(from, to) {
            return Err(LifecycleError::Illegal { id, from: from.as_str(), to: to.as_str() });
        }
        if to == Status::Verified && e.kind.penalises() && !matches!(actor, Actor::Operator(_)) {
            return Err(LifecycleError::NeedsOperator { id, kind: e.kind.as_str(), actor: actor.kind() });
        }
        if to == Status::Dispatched && e.kind.penalises() && !matches!(e.verified_by, Some(Actor::Operator(_))) {
            return Err(LifecycleError::Unverified { id, kind: e.kind.as_str() });
        }
        let e = self.fusion.get_mut(id).expect("checked");
        e.status = to;
        match to {
            Status::Verified => {
                e.verified_by = Some(actor.clone());
                e.verified_at = Some(now);
            }
            Status::Dispatched if e.dispatched_at.is_none() => e.dispatched_at = Some(now),
            Status::OnScene => e.arrived_at = Some(now),
            Status::Cleared => e.cleared_at = Some(now),
            _ => {}
        }
        self.record(id, Entry { time: now, from: Some(from), to, actor, note: note.to_string() });
        Ok(())
    }

    /// A note on the timeline without a status change.
    pub fn note(&mut self, id: u64, actor: Actor, now: f64, note: String) {
        if let Some(e) = self.fusion.get(id) {
            let s = e.status;
            self.record(id, Entry { time: now, from: Some(s), to: s, actor, note });
        }
    }

    /// Fuse one report (from a detector, a camera or a citizen), then act on it.
    pub fn report(&mut self, r: Report, now: f64) -> u64 {
        let (source, origin) = (r.source, r.origin.clone());
        let fused = self.fusion.add(r);
        let id = match fused {
            Fused::New(id) => {
                let e = self.fusion.get(id).expect("new").timeline[0].clone();
                let body = serde_json::json!({
                    "event": id, "type": self.fusion.get(id).map(|e| e.kind.as_str()), "from": null, "to": "detected",
                    "actor_kind": "system", "actor": "system", "note": e.note,
                })
                .to_string();
                self.pending.push((id, e.time, body));
                self.version += 1;
                id
            }
            Fused::Joined(id, new_source) => {
                if new_source {
                    let c = self.fusion.get(id).map_or(0.0, |e| e.confidence);
                    self.note(
                        id,
                        Actor::System,
                        now,
                        format!("corroborated by {} ({origin}); confidence {c:.2}", source.as_str()),
                    );
                }
                id
            }
        };
        self.auto(id, now);
        id
    }

    /// The system's own steps: verify what penalises nobody once confident, dispatch
    /// what is verified.
    fn auto(&mut self, id: u64, now: f64) {
        let threshold = self.cfg.auto_verify;
        if let Some(e) = self.fusion.get_mut(id) {
            if e.alarm_at.is_none() && e.confidence >= threshold && e.status.open() {
                e.alarm_at = Some(now);
            }
        }
        let Some(e) = self.fusion.get(id) else { return };
        if e.status == Status::Detected && !e.kind.penalises() && e.kind.is_incident() && e.confidence >= self.cfg.auto_verify {
            let note = format!("confidence {:.2} from {} source(s)", e.confidence, e.sources().len());
            let _ = self.transition(id, Status::Verified, Actor::System, now, &note);
        }
        let Some(e) = self.fusion.get(id) else { return };
        if e.status == Status::Verified && e.unit.is_none() && e.kind.responder().is_some() {
            self.dispatch(id, now, &[]);
        }
    }

    /// Where an event is on the network.
    fn spot_of(&self, e: &Incident) -> Spot {
        match e.road {
            Some(r) => Spot { road: r, offset: project_on_road(&self.net, r, e.pos).0 },
            None => {
                // A junction-level event (signal fault): the first road into it.
                let near = (0..self.net.roads.len())
                    .map(|k| RoadId(k as u32))
                    .min_by(|&a, &b| {
                        let d = |r: RoadId| project_on_road(&self.net, r, e.pos).1;
                        d(a).total_cmp(&d(b)).then(a.cmp(&b))
                    })
                    .unwrap_or(RoadId(0));
                Spot { road: near, offset: project_on_road(&self.net, near, e.pos).0 }
            }
        }
    }

    /// Alert the suitable free unit with the shortest live travel time.
    pub fn dispatch(&mut self, id: u64, now: f64, exclude: &[String]) -> Option<String> {
        let e = self.fusion.get(id)?.clone();
        let to = self.spot_of(&e);
        let Some((uid, route, eta)) = choose(&self.net, &self.speeds, self.units.values(), e.kind, to, exclude) else {
            if let Some(x) = self.fusion.get_mut(id) {
                x.queued_at.get_or_insert(now);
            }
            self.note(
                id,
                Actor::System,
                now,
                format!(
                    "no free {} unit; queued (priority {})",
                    e.kind.responder().map_or("", |k| k.as_str()),
                    e.kind.dispatch_priority()
                ),
            );
            return None;
        };
        let note = format!("alert to {uid}, {eta:.0} s away at live speeds");
        if self.transition(id, Status::Dispatched, Actor::System, now, &note).is_err() {
            return None;
        }
        self.alert(&uid, id, route, to, eta, now);
        self.version += 1;
        Some(uid)
    }

    /// Put unit `uid` on event `id`: alerted, with its route to `to` and its ETA.
    fn alert(&mut self, uid: &str, id: u64, route: Vec<RoadId>, to: Spot, eta: f64, now: f64) {
        let u = self.units.get_mut(uid).expect("chosen from units");
        u.status = UnitStatus::Alerted;
        u.event = Some(id);
        u.route = route;
        u.target = Some(to);
        u.alerted_at = Some(now);
        u.eta_s = Some(eta);
        let (kind, from) = (u.kind, u.at.road);
        if let Some(e) = self.fusion.get_mut(id) {
            e.unit = Some(uid.to_string());
            if let Some(priority) = e.kind.corridor_priority() {
                self.priority_dispatches.push(PriorityDispatch {
                    unit: uid.to_string(),
                    kind,
                    incident: id,
                    incident_type: e.kind,
                    priority,
                    from,
                    to: to.road,
                    time: now,
                });
            }
        }
    }

    fn release(&mut self, uid: &str, now: f64) {
        let home = match self.units.get(uid) {
            Some(u) => u.home,
            None => return,
        };
        let route = self.units.get(uid).and_then(|u| fastest(&self.net, &self.speeds, u.at, home));
        self.twin_driven.remove(uid);
        if let Some(u) = self.units.get_mut(uid) {
            u.event = None;
            u.alerted_at = None;
            u.on_scene_at = None;
            match route {
                Some((r, t)) if r.len() > 1 || u.at.offset > home.offset + 1.0 || u.at.road != home.road => {
                    u.status = UnitStatus::Returning;
                    u.route = r;
                    u.target = Some(home);
                    u.eta_s = Some(t);
                }
                _ => {
                    u.status = UnitStatus::Available;
                    u.route.clear();
                    u.target = None;
                    u.eta_s = None;
                }
            }
        }
        let _ = now;
        self.version += 1;
    }

    /// The twin drives unit `uid` to event `event` (a green corridor's vehicle): the unit
    /// stands at `at`, and is on scene once the vehicle `arrived` (and the alert was
    /// accepted). Ignored when the unit is no longer on its way to that event.
    pub fn follow_twin(&mut self, uid: &str, event: u64, at: Spot, arrived: bool, now: f64) {
        let Some(u) = self.units.get_mut(uid) else { return };
        if u.event != Some(event) || !matches!(u.status, UnitStatus::Alerted | UnitStatus::EnRoute) {
            self.twin_driven.remove(uid);
            return;
        }
        self.twin_driven.insert(uid.to_string());
        if u.at != at {
            u.at = at;
            if let Some(k) = u.route.iter().position(|&r| r == at.road) {
                u.route.drain(..k);
            }
            if let Some(t) = u.target {
                u.eta_s = fastest(&self.net, &self.speeds, u.at, t).map(|x| x.1);
            }
            self.version += 1;
        }
        if arrived && u.status == UnitStatus::EnRoute {
            let _ = self.on_scene(uid, now);
        }
    }

    /// The twin no longer drives unit `uid` (its corridor failed): the capability moves
    /// it again.
    pub fn unfollow_twin(&mut self, uid: &str) {
        self.twin_driven.remove(uid);
    }

    /// A unit accepts its alert.
    pub fn accept(&mut self, uid: &str, now: f64) -> Result<u64, LifecycleError> {
        let u = self.units.get_mut(uid).ok_or_else(|| LifecycleError::UnknownUnit(uid.into()))?;
        let (Some(id), UnitStatus::Alerted) = (u.event, u.status) else {
            return Err(LifecycleError::NotAssigned { unit: uid.into(), id: u.event.unwrap_or(0) });
        };
        u.status = UnitStatus::EnRoute;
        u.alerted_at = None;
        self.note(id, Actor::Unit(uid.into()), now, "alert accepted".into());
        Ok(id)
    }

    /// A unit reports it is on scene.
    pub fn on_scene(&mut self, uid: &str, now: f64) -> Result<u64, LifecycleError> {
        let u = self.units.get(uid).ok_or_else(|| LifecycleError::UnknownUnit(uid.into()))?;
        let Some(id) = u.event.filter(|_| matches!(u.status, UnitStatus::EnRoute | UnitStatus::Alerted)) else {
            return Err(LifecycleError::NotAssigned { unit: uid.into(), id: u.event.unwrap_or(0) });
        };
        self.transition(id, Status::OnScene, Actor::Unit(uid.into()), now, "unit on scene")?;
        let u = self.units.get_mut(uid).expect("checked");
        u.status = UnitStatus::OnScene;
        u.on_scene_at = Some(now);
        u.alerted_at = None;
        if let Some(work) = self.cfg.auto_clear_s {
            let real = self.twin_incident_at(id, now);
            let w = if real == Some(false) { self.cfg.nothing_found_s.min(work) } else { work };
            self.work_s.insert(uid.to_string(), w);
            if real == Some(false) {
                self.note(id, Actor::Unit(uid.into()), now, "nothing of the reported kind found on scene".into());
            }
        }
        Ok(id)
    }

    /// A unit reports the scene cleared; it returns to base.
    pub fn cleared(&mut self, uid: &str, now: f64) -> Result<u64, LifecycleError> {
        let u = self.units.get(uid).ok_or_else(|| LifecycleError::UnknownUnit(uid.into()))?;
        let Some(id) = u.event.filter(|_| u.status == UnitStatus::OnScene) else {
            return Err(LifecycleError::NotAssigned { unit: uid.into(), id: u.event.unwrap_or(0) });
        };
        self.transition(id, Status::Cleared, Actor::Unit(uid.into()), now, "scene cleared")?;
        if let Some(e) = self.fusion.get(id) {
            self.clearances.push(Clearance { event: id, unit: uid.into(), road: e.road, at: e.pos, time: now });
        }
        self.work_s.remove(uid);
        self.end_truth(id, now);
        self.release(uid, now);
        Ok(id)
    }

    /// Operator: verify (the only way for types that penalise), then dispatch.
    pub fn verify(&mut self, id: u64, operator: &str, now: f64) -> Result<(), LifecycleError> {
        self.transition(id, Status::Verified, Actor::Operator(operator.into()), now, "verified by operator")?;
        self.auto(id, now);
        Ok(())
    }

    /// Operator: not an incident.
    pub fn reject(&mut self, id: u64, operator: &str, now: f64, note: &str) -> Result<(), LifecycleError> {
        self.transition(id, Status::Rejected, Actor::Operator(operator.into()), now, note)
    }

    /// Operator: `from` is the same event as `into`.
    pub fn merge(&mut self, into: u64, from: u64, operator: &str, now: f64) -> Result<(), LifecycleError> {
        if into == from {
            return Err(LifecycleError::Invalid(format!("cannot merge event {into} into itself")));
        }
        let target = self.fusion.get(into).ok_or(LifecycleError::NotFound(into))?;
        if target.status.terminal() {
            return Err(LifecycleError::Illegal { id: into, from: target.status.as_str(), to: "merge target" });
        }
        let unit = self.fusion.get(from).ok_or(LifecycleError::NotFound(from))?.unit.clone();
        self.transition(from, Status::Merged, Actor::Operator(operator.into()), now, &format!("merged into event {into}"))?;
        self.fusion.merge(into, from);
        self.note(into, Actor::Operator(operator.into()), now, format!("event {from} merged in"));
        if let Some(uid) = unit {
            if self.units.get(&uid).is_some_and(|u| u.event == Some(from)) {
                self.release(&uid, now);
            }
        }
        Ok(())
    }

    /// Operator: close an event (clearing it first if a unit or nobody cleared it yet).
    pub fn close(&mut self, id: u64, operator: &str, now: f64) -> Result<(), LifecycleError> {
        let e = self.fusion.get(id).ok_or(LifecycleError::NotFound(id))?;
        let op = Actor::Operator(operator.into());
        if matches!(e.status, Status::Detected | Status::Dispatched | Status::OnScene) {
            let unit = e.unit.clone();
            if e.status == Status::OnScene {
                self.transition(id, Status::Cleared, op.clone(), now, "cleared by operator")?;
            } else {
                self.transition(id, Status::Cleared, op.clone(), now, "cleared by operator (no one on scene)")?;
            }
            if let Some(uid) = unit {
                if self.units.get(&uid).is_some_and(|u| u.event == Some(id)) {
                    self.release(&uid, now);
                }
            }
        }
        self.transition(id, Status::Closed, op, now, "closed by operator")
    }

    /// Observations committed by the brain.
    pub fn observe(&mut self, batch: &[sense::Observation], now: f64) {
        let mut reports = Vec::new();
        self.detectors.observe(&self.net, batch, &mut reports);
        for r in reports {
            self.report(r, now);
        }
    }

    /// A state estimate: live speeds, time-driven detectors, units moving, escalation,
    /// reassignment, the system's closing of cleared events.
    pub fn tick(&mut self, now: f64, state: Option<&state::CityState>) {
        if let Some(s) = state {
            self.speeds.refresh(&self.net, s);
        }
        let dt = self.last_tick.map_or(0.0, |t| (now - t).max(0.0));
        self.last_tick = Some(now);
        let mut reports = Vec::new();
        self.detectors.on_tick(&self.net, now, &mut reports);
        for r in reports {
            self.report(r, now);
        }
        self.move_units(now, dt);
        self.escalate(now);
        // The queue before reassignment: a unit that frees up goes to a waiting event
        // before it shortens another's trip.
        self.dispatch_waiting(now);
        self.reassign(now);
        let to_close: Vec<u64> = self
            .fusion
            .events
            .values()
            .filter(|e| e.status == Status::Cleared && e.cleared_at.is_some_and(|t| now - t >= self.cfg.close_after_s))
            .map(|e| e.id)
            .collect();
        for id in to_close {
            let _ = self.transition(id, Status::Closed, Actor::System, now, "closed after clearance");
        }
        if let Some((cams, truth, t0)) = self.cameras.as_mut() {
            let mut out = Vec::new();
            cams.step(&self.net, now - *t0, truth, &mut out);
            let t0 = *t0;
            for mut r in out {
                r.time += t0;
                r.confidence = self.cfg.detect.reliability.camera_of(r.confidence);
                self.report(r, now);
            }
        }
        if self.cfg.keep_s.is_finite() {
            self.fusion.forget(now - self.cfg.keep_s);
        }
    }

    fn move_units(&mut self, now: f64, dt: f64) {
        let ids: Vec<String> = self.units.keys().cloned().collect();
        for uid in ids {
            let (status, alerted, on_scene) = {
                let u = &self.units[&uid];
                (u.status, u.alerted_at, u.on_scene_at)
            };
            let person = self.watched.get(&uid).is_some_and(|&n| n > 0);
            match status {
                UnitStatus::Alerted => {
                    if let (Some(a), Some(t), false) = (self.cfg.auto_accept_s, alerted, person) {
                        if now - t >= a {
                            let _ = self.accept(&uid, now);
                        }
                    }
                }
                UnitStatus::EnRoute if self.twin_driven.contains(&uid) => {}
                UnitStatus::EnRoute | UnitStatus::Returning => {
                    let u = self.units.get_mut(&uid).expect("listed");
                    let arrived = advance(&self.net, &self.speeds, u, dt);
                    if let Some(t) = u.target {
                        u.eta_s = fastest(&self.net, &self.speeds, u.at, t).map(|x| x.1);
                    }
                    self.version += 1;
                    if arrived {
                        if status == UnitStatus::EnRoute {
                            let _ = self.on_scene(&uid, now);
                        } else {
                            let u = self.units.get_mut(&uid).expect("listed");
                            u.status = UnitStatus::Available;
                            u.target = None;
                            u.eta_s = None;
                        }
                    }
                }
                UnitStatus::OnScene => {
                    let work = self.work_s.get(&uid).copied().or(self.cfg.auto_clear_s);
                    if let (Some(c), Some(t), false) = (work, on_scene, person) {
                        if now - t >= c {
                            let _ = self.cleared(&uid, now);
                        }
                    }
                }
                UnitStatus::Available => {}
            }
        }
    }

    /// Whether a twin incident is in effect where event `id` is (from the twin's ground
    /// truth the virtual cameras hold): `None` without a twin.
    fn twin_incident_at(&self, id: u64, now: f64) -> Option<bool> {
        let (_, truth, t0) = self.cameras.as_ref()?;
        let e = self.fusion.get(id)?;
        let t = now - t0;
        Some(truth.iter().any(|x| {
            t >= x.start_s
                && t <= x.end_s
                && ((e.road.is_some() && x.road == e.road) || crate::fusion::dist(x.pos, e.pos) <= 200.0)
        }))
    }

    /// The twin incident behind event `id` ends now (a unit cleared it; the twin loop
    /// ends it in the engine): the cameras' ground truth follows, so they stop seeing it.
    fn end_truth(&mut self, id: u64, now: f64) {
        let Some(e) = self.fusion.get(id) else { return };
        let (road, pos) = (e.road, e.pos);
        if let Some((_, truth, t0)) = self.cameras.as_mut() {
            let t = now - *t0;
            if let Some(x) = truth
                .iter_mut()
                .filter(|x| t >= x.start_s && t <= x.end_s)
                .filter(|x| (road.is_some() && x.road == road) || crate::fusion::dist(x.pos, pos) <= 200.0)
                .min_by(|a, b| a.start_s.total_cmp(&b.start_s))
            {
                x.end_s = t;
            }
        }
    }

    /// Events waiting for a unit (none was free when they were verified, or their alert
    /// escalated or was diverted and found no other) get the first suitable one that is
    /// free, highest [`IncidentType::dispatch_priority`] first, then the longest waiting:
    /// checked on every tick, so the wait ends within one tick of a unit freeing up. A
    /// life-threatening event that finds none takes a unit on its way to an event that is
    /// not ([`Core::divert`]).
    fn dispatch_waiting(&mut self, now: f64) {
        let mut queue: Vec<(u32, f64, u64, bool)> = self
            .fusion
            .events
            .values()
            .filter(|e| {
                e.unit.is_none()
                    && ((e.status == Status::Verified && e.kind.responder().is_some()) || e.status == Status::Dispatched)
            })
            .map(|e| {
                let since = e.diverted_at.or(e.queued_at).or(e.verified_at).unwrap_or(e.detected_at);
                (e.kind.dispatch_priority(), since, e.id, e.status == Status::Dispatched)
            })
            .collect();
        queue.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        for (_, _, id, orphan) in queue {
            let Some(e) = self.fusion.get(id) else { continue };
            let to = self.spot_of(e);
            let (kind, tried) = (e.kind, if orphan { self.tried(id) } else { Vec::new() });
            if choose(&self.net, &self.speeds, self.units.values(), kind, to, &tried).is_some() {
                if orphan {
                    self.redispatch(id, now, &tried);
                } else {
                    self.dispatch(id, now, &[]);
                }
            } else if kind.corridor_priority().is_some() {
                self.divert(id, to, now, &tried);
            }
        }
    }

    /// Life-threatening event `id` waits with no suitable unit free: the suitable unit
    /// alerted or on its way (not yet on scene) to an event that is not life-threatening
    /// and that reaches `to` first is sent here instead; the event it leaves waits in the
    /// queue for the next free unit.
    fn divert(&mut self, id: u64, to: Spot, now: f64, exclude: &[String]) {
        let Some(kind) = self.fusion.get(id).map(|e| e.kind) else { return };
        let busy = self.units.values().filter(|u| {
            matches!(u.status, UnitStatus::Alerted | UnitStatus::EnRoute)
                && u.kind.suits(kind)
                && !exclude.contains(&u.id)
                && !self.twin_driven.contains(&u.id)
                && u.event.and_then(|x| self.fusion.get(x)).is_some_and(|x| x.kind.corridor_priority().is_none())
        });
        let best = busy
            .filter_map(|u| fastest(&self.net, &self.speeds, u.at, to).map(|(r, t)| (u.id.clone(), u.event, r, t)))
            .min_by(|a, b| a.3.total_cmp(&b.3).then(a.0.cmp(&b.0)));
        let Some((uid, Some(left), route, eta)) = best else { return };
        let note = format!("alert to {uid} (diverted from event {left}), {eta:.0} s away at live speeds");
        if self.transition(id, Status::Dispatched, Actor::System, now, &note).is_err() {
            return;
        }
        if let Some(x) = self.fusion.get_mut(left) {
            x.unit = None;
            x.diverted_at = Some(now);
        }
        self.note(left, Actor::System, now, format!("{uid} diverted to event {id} (higher priority); queued for another unit"));
        self.alert(&uid, id, route, to, eta, now);
        self.version += 1;
    }

    /// Alerts not accepted in time go to the next unit.
    fn escalate(&mut self, now: f64) {
        let late: Vec<(String, u64)> = self
            .units
            .values()
            .filter(|u| u.status == UnitStatus::Alerted && u.alerted_at.is_some_and(|t| now - t >= self.cfg.accept_timeout_s))
            .filter_map(|u| u.event.map(|e| (u.id.clone(), e)))
            .collect();
        for (uid, id) in late {
            self.release(&uid, now);
            if let Some(e) = self.fusion.get_mut(id) {
                e.escalations += 1;
                e.unit = None;
            }
            let tried: Vec<String> = self.tried(id);
            self.note(
                id,
                Actor::System,
                now,
                format!("escalated: {uid} did not accept within {:.0} s", self.cfg.accept_timeout_s),
            );
            let mut exclude = tried;
            exclude.push(uid);
            self.redispatch(id, now, &exclude);
        }
    }

    fn tried(&self, id: u64) -> Vec<String> {
        self.fusion
            .get(id)
            .map(|e| {
                e.timeline
                    .iter()
                    .filter_map(|x| x.note.strip_prefix("escalated: ").and_then(|n| n.split(' ').next()).map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn redispatch(&mut self, id: u64, now: f64, exclude: &[String]) {
        let Some(e) = self.fusion.get(id).cloned() else { return };
        let to = self.spot_of(&e);
        match choose(&self.net, &self.speeds, self.units.values(), e.kind, to, exclude) {
            Some((uid, route, eta)) => {
                let _ = self.transition(id, Status::Dispatched, Actor::System, now, &format!("alert to {uid}, {eta:.0} s away"));
                self.alert(&uid, id, route, to, eta, now);
            }
            None => self.note(id, Actor::System, now, "no other free unit; operator attention needed".into()),
        }
    }

    /// A free unit much closer than the one on its way takes over.
    fn reassign(&mut self, now: f64) {
        let moving: Vec<(String, u64, f64)> = self
            .units
            .values()
            .filter(|u| matches!(u.status, UnitStatus::Alerted | UnitStatus::EnRoute))
            .filter_map(|u| Some((u.id.clone(), u.event?, u.eta_s?)))
            .collect();
        for (uid, id, eta) in moving {
            let Some(e) = self.fusion.get(id).cloned() else { continue };
            let to = self.spot_of(&e);
            let mut exclude = self.tried(id);
            exclude.push(uid.clone());
            let Some((better, route, t)) = choose(&self.net, &self.speeds, self.units.values(), e.kind, to, &exclude) else {
                continue;
            };
            if t + self.cfg.reassign_margin_s >= eta {
                continue;
            }
            // Mutual aid stands in for a type's own responder, never replaces one.
            let aid = |id: &str| self.units.get(id).is_some_and(|u| u.kind.aids(e.kind));
            if aid(&better) && !aid(&uid) {
                continue;
            }
            self.release(&uid, now);
            let _ = self.transition(
                id,
                Status::Dispatched,
                Actor::System,
                now,
                &format!("reassigned from {uid} ({eta:.0} s away) to {better} ({t:.0} s away)"),
            );
            self.alert(&better, id, route, to, t, now);
        }
    }
}
