//! [`Incidents`]: the capability's runtime calls (each authorised through
//! [`brain::Brain::authorize`]) and its plug-in ([`IncidentsPlugin`]). Every transition
//! is journaled in the brain's store after the capability's lock is released.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use brain::{Action, Brain, BrainError, Caller, Context, Plugin, Tick};
use twin::{Network, Point};

use crate::core::{Core, IncidentsConfig, JournalRecord};
use crate::dispatch::Unit;
use crate::fusion::Incident;
use crate::model::{IncidentType, LifecycleError, Report, SourceKind};

/// Why an incident call failed.
#[derive(Debug, thiserror::Error)]
pub enum IncidentsError {
    #[error(transparent)]
    Brain(#[from] BrainError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A field of a report or action is not acceptable; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error("the incident service is not attached to a brain")]
    Detached,
}

/// A report as the edge hands it over (already parsed, not yet validated).
#[derive(Clone, Debug, PartialEq)]
pub struct ReportInput {
    /// `camera` or `citizen`.
    pub source: String,
    /// Incident type name (camera: required; citizen: optional, default `blockage`).
    pub kind: Option<String>,
    pub lon: f64,
    pub lat: f64,
    /// 0..=1 (camera: required; citizen: 0.3).
    pub confidence: Option<f64>,
    /// Snapshot (camera) or photo (citizen) reference.
    pub reference: Option<String>,
    pub text: Option<String>,
    /// Camera or device id.
    pub device: Option<String>,
    /// Unix seconds; default the brain's clock.
    pub time: Option<f64>,
}

/// The incident capability shared by the plug-in and the edge.
pub struct Incidents {
    core: Mutex<Core>,
    brain: OnceLock<Weak<Brain>>,
}

fn lock(m: &Mutex<Core>) -> MutexGuard<'_, Core> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Longest accepted text field, bytes.
pub const MAX_TEXT: usize = 2000;

impl Incidents {
    pub fn new(net: Arc<Network>, cfg: IncidentsConfig, units: Vec<Unit>) -> Arc<Incidents> {
        Arc::new(Incidents { core: Mutex::new(Core::new(net, cfg, units)), brain: OnceLock::new() })
    }

    /// Register the plug-in with `brain` and offer the service to the edge.
    pub fn install(brain: &Arc<Brain>, cfg: IncidentsConfig, units: Vec<Unit>) -> Arc<Incidents> {
        let svc = Incidents::new(brain.net.clone(), cfg, units);
        let _ = svc.brain.set(Arc::downgrade(brain));
        brain.register(Box::new(IncidentsPlugin(svc.clone())));
        brain.provide(svc.clone());
        svc
    }

    fn brain(&self) -> Result<Arc<Brain>, IncidentsError> {
        self.brain.get().and_then(Weak::upgrade).ok_or(IncidentsError::Detached)
    }

    fn authorize(&self, caller: &Caller, action: Action<'_>) -> Result<Arc<Brain>, IncidentsError> {
        let b = self.brain()?;
        b.authorize(caller, action)?;
        Ok(b)
    }

    /// Run `f` on the core, then journal what it recorded (outside the lock).
    pub fn with<T>(&self, f: impl FnOnce(&mut Core) -> T) -> T {
        let (out, pending) = {
            let mut c = lock(&self.core);
            let out = f(&mut c);
            (out, std::mem::take(&mut c.pending))
        };
        self.journal(pending);
        out
    }

    fn journal(&self, pending: Vec<JournalRecord>) {
        if pending.is_empty() {
            return;
        }
        let Some(b) = self.brain.get().and_then(Weak::upgrade) else { return };
        for (id, t, body) in pending {
            if let Err(e) = b.journal_append("incident", &id.to_string(), t, &body) {
                tracing::warn!("journaling incident {id}: {e}");
            }
        }
    }

    /// A camera or citizen report into the fusion; returns the event it joined.
    pub fn submit(&self, caller: &Caller, input: &ReportInput) -> Result<u64, IncidentsError> {
        let b = self.authorize(caller, Action::ReportIncident)?;
        let now = b.now();
        let r = validate(&b.net, input, now)?;
        Ok(self.with(|c| c.report(r, now)))
    }

    /// Events, newest first; open ones only unless `all`.
    pub fn list(&self, caller: &Caller, all: bool, limit: usize) -> Result<Vec<Incident>, IncidentsError> {
        self.authorize(caller, Action::ReadIncidents)?;
        Ok(self.with(|c| c.fusion.events.values().rev().filter(|e| all || e.status.open()).take(limit).cloned().collect()))
    }

    pub fn get(&self, caller: &Caller, id: u64) -> Result<Incident, IncidentsError> {
        self.authorize(caller, Action::ReadIncidents)?;
        self.with(|c| c.fusion.get(id).cloned()).ok_or(IncidentsError::Lifecycle(LifecycleError::NotFound(id)))
    }

    /// The stored timeline of an event (journal), for events no longer in memory too.
    pub fn stored_timeline(&self, caller: &Caller, id: u64) -> Result<Vec<store::JournalEntry>, IncidentsError> {
        let b = self.authorize(caller, Action::ReadIncidents)?;
        Ok(b.journal("incident", Some(&id.to_string()), 10_000)?)
    }

    pub fn units(&self, caller: &Caller) -> Result<Vec<Unit>, IncidentsError> {
        self.authorize(caller, Action::ReadIncidents)?;
        Ok(self.with(|c| c.units.values().cloned().collect()))
    }

    /// One unit, with the event it is assigned to and the change counter.
    pub fn unit(&self, caller: &Caller, id: &str) -> Result<(Unit, Option<Incident>, u64), IncidentsError> {
        self.authorize(caller, Action::ActAsUnit { unit: id })?;
        self.with(|c| {
            let u = c.units.get(id).cloned().ok_or_else(|| LifecycleError::UnknownUnit(id.into()))?;
            let e = u.event.and_then(|e| c.fusion.get(e).cloned());
            Ok((u, e, c.version))
        })
    }

    /// The operator's name: the authenticated principal, else the one given.
    fn operator(caller: &Caller, given: Option<&str>) -> Result<String, IncidentsError> {
        let name = if caller.principal.is_empty() { given.unwrap_or("").trim() } else { caller.principal.as_str() };
        if name.is_empty() || name.len() > 200 {
            return Err(IncidentsError::Invalid("operator: required (1 to 200 characters) to act on an event".into()));
        }
        Ok(name.to_string())
    }

    pub fn verify(&self, caller: &Caller, id: u64, operator: Option<&str>) -> Result<Incident, IncidentsError> {
        let b = self.authorize(caller, Action::OperateIncidents)?;
        let op = Self::operator(caller, operator)?;
        let now = b.now();
        self.with(|c| c.verify(id, &op, now))?;
        self.get(caller, id)
    }

    pub fn reject(
        &self,
        caller: &Caller,
        id: u64,
        operator: Option<&str>,
        note: Option<&str>,
    ) -> Result<Incident, IncidentsError> {
        let b = self.authorize(caller, Action::OperateIncidents)?;
        let op = Self::operator(caller, operator)?;
        let note = note.unwrap_or("rejected by operator");
        if note.len() > MAX_TEXT {
            return Err(IncidentsError::Invalid(format!("note: at most {MAX_TEXT} bytes")));
        }
        let now = b.now();
        self.with(|c| c.reject(id, &op, now, note))?;
        self.get(caller, id)
    }

    pub fn merge(&self, caller: &Caller, into: u64, from: u64, operator: Option<&str>) -> Result<Incident, IncidentsError> {
        let b = self.authorize(caller, Action::OperateIncidents)?;
        let op = Self::operator(caller, operator)?;
        let now = b.now();
        self.with(|c| c.merge(into, from, &op, now))?;
        self.get(caller, into)
    }

    pub fn close(&self, caller: &Caller, id: u64, operator: Option<&str>) -> Result<Incident, IncidentsError> {
        let b = self.authorize(caller, Action::OperateIncidents)?;
        let op = Self::operator(caller, operator)?;
        let now = b.now();
        self.with(|c| c.close(id, &op, now))?;
        self.get(caller, id)
    }

    /// A unit's button: `accept`, `on_scene` or `cleared`.
    pub fn unit_action(&self, caller: &Caller, unit: &str, action: &str) -> Result<u64, IncidentsError> {
        let b = self.authorize(caller, Action::ActAsUnit { unit })?;
        let now = b.now();
        let r = self.with(|c| match action {
            "accept" => c.accept(unit, now),
            "on_scene" => c.on_scene(unit, now),
            "cleared" => c.cleared(unit, now),
            other => Err(LifecycleError::Invalid(format!("action: expected accept, on_scene or cleared, got {other:?}"))),
        });
        Ok(r?)
    }

    /// A unit's page is open (until the guard drops): the unit answers its alerts itself.
    pub fn watch(self: &Arc<Self>, unit: &str) -> Watch {
        *lock(&self.core).watched.entry(unit.to_string()).or_insert(0) += 1;
        Watch { svc: self.clone(), unit: unit.to_string() }
    }

    /// The network the service works on.
    pub fn network(&self) -> Arc<Network> {
        lock(&self.core).net.clone()
    }
}

/// An open unit page; see [`Incidents::watch`].
pub struct Watch {
    svc: Arc<Incidents>,
    unit: String,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut c = lock(&self.svc.core);
        if let Some(n) = c.watched.get_mut(&self.unit) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Validate a report: every problem names its field.
pub fn validate(net: &Network, i: &ReportInput, now: f64) -> Result<Report, IncidentsError> {
    let bad = |m: String| Err(IncidentsError::Invalid(m));
    let source = match i.source.as_str() {
        "camera" => SourceKind::Camera,
        "citizen" => SourceKind::Citizen,
        other => return bad(format!("source: expected camera or citizen, got {other:?}")),
    };
    let kind = match (&i.kind, source) {
        (Some(k), _) => match IncidentType::parse(k) {
            Some(t) => t,
            None => return bad(format!("type: unknown incident type {k:?}")),
        },
        (None, SourceKind::Camera) => return bad("type: required for a camera report".into()),
        (None, _) => IncidentType::Blockage,
    };
    if !(i.lon.is_finite() && (-180.0..=180.0).contains(&i.lon)) {
        return bad(format!("location.lon: must be within -180..180, got {}", i.lon));
    }
    if !(i.lat.is_finite() && (-90.0..=90.0).contains(&i.lat)) {
        return bad(format!("location.lat: must be within -90..90, got {}", i.lat));
    }
    let pos = net.georef.to_local(i.lon, i.lat);
    if !(pos.x.is_finite() && pos.y.is_finite()) {
        return bad("location: cannot be placed on the network".into());
    }
    if let Some((lo, hi)) = net.bounds() {
        let margin = 500.0;
        if pos.x < lo.x - margin || pos.x > hi.x + margin || pos.y < lo.y - margin || pos.y > hi.y + margin {
            return bad(format!("location: ({}, {}) is outside the city", i.lon, i.lat));
        }
    }
    let confidence = match (i.confidence, source) {
        (Some(c), _) if c.is_finite() && (0.0..=1.0).contains(&c) => c,
        (Some(c), _) => return bad(format!("confidence: must be within 0..1, got {c}")),
        (None, SourceKind::Camera) => return bad("confidence: required for a camera report".into()),
        (None, _) => 0.3,
    };
    let text = i.text.clone().unwrap_or_default();
    if text.len() > MAX_TEXT {
        return bad(format!("text: at most {MAX_TEXT} bytes, got {}", text.len()));
    }
    if source == SourceKind::Citizen && text.trim().is_empty() {
        return bad("text: a citizen report needs a description".into());
    }
    for (name, v) in [("snapshot", &i.reference), ("device", &i.device)] {
        if let Some(v) = v {
            if v.is_empty() || v.len() > 500 || v.chars().any(char::is_control) {
                return bad(format!("{name}: 1 to 500 printable characters"));
            }
        }
    }
    let time = match i.time {
        Some(t) if t.is_finite() && (now - 86_400.0..=now + 300.0).contains(&t) => t,
        Some(t) => return bad(format!("time: must be within the last day of the brain's clock, got {t}")),
        None => now,
    };
    let road = crate::detect::match_road(net, pos, None).map(|(r, _)| r);
    let origin = match (&i.device, source) {
        (Some(d), _) => format!("{}:{d}", source.as_str()),
        (None, _) => source.as_str().to_string(),
    };
    Ok(Report {
        time,
        kind,
        source,
        origin,
        pos: Point::new(pos.x, pos.y),
        road,
        confidence,
        reference: i.reference.clone(),
        text,
    })
}

/// The plug-in face of [`Incidents`].
pub struct IncidentsPlugin(pub Arc<Incidents>);

impl Plugin for IncidentsPlugin {
    fn name(&self) -> &'static str {
        "incidents"
    }
    fn on_observations(&mut self, batch: &[sense::Observation], cx: &mut Context<'_>) {
        let now = cx.now;
        self.0.with(|c| c.observe(batch, now));
    }
    fn on_tick(&mut self, tick: &Tick, cx: &mut Context<'_>) {
        let cleared = self.0.with(|c| {
            c.tick(tick.time, Some(&tick.state));
            std::mem::take(&mut c.clearances)
        });
        // Scenes units cleared: the twin ends its incident there.
        for x in cleared {
            cx.command(brain::Command::ClearIncident { event: x.event, unit: x.unit, road: x.road, at: x.at });
        }
    }
}
