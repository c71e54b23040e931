//! The corridor capability inside the brain: [`Corridors`], the service the edge calls
//! (every call through [`Brain::authorize`]), and [`CorridorPlugin`], which turns
//! dispatches with a priority flag into corridors.
//!
//! Requests are accepted here (checked, authorised, recorded) and queued; the twin
//! loop's controller hook ([`Corridors::before_step`]) starts them on the twin and
//! advances them every step next to the safety layer. What a corridor decided and what
//! it cost is recorded through [`Brain::record_decision`] (the audit chain and the
//! public transparency log) and journaled in the store (topic `corridor`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use brain::{Action, Brain, BrainError, Caller, Context, Plugin, Tick};
use control::SafetyLayer;
use twin::{Network, RoadId, Sim};

use crate::engine::{CorridorError, Engine, EngineConfig};
use crate::model::{Corridor, Request, Requester, VehicleType, MAX_PRIORITY};

/// What went wrong in a runtime call.
#[derive(Debug, thiserror::Error)]
pub enum CorridorsError {
    #[error(transparent)]
    Brain(#[from] BrainError),
    #[error("{0}")]
    Invalid(#[from] CorridorError),
    #[error("{field}: {message}")]
    Field { field: &'static str, message: String },
    #[error("no corridor {0}")]
    NotFound(u64),
    #[error("the corridor capability is not attached to a brain")]
    Detached,
}

/// A start request as an edge hands it over (road names, not ids).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartInput {
    pub origin: String,
    pub destination: String,
    /// `ambulance`, `fire_engine` or `police`.
    pub vehicle: String,
    pub priority: u32,
    pub reason: String,
}

/// Longest accepted reason, bytes.
pub const MAX_REASON: usize = 500;

struct Inner {
    engine: Engine,
    /// Accepted, waiting for the twin's next step: (id, request, accepted at).
    pending: Vec<(u64, Request)>,
    /// Accepted requests that could not start, with why.
    failed: Vec<Corridor>,
    next_id: u64,
    /// Corridors whose report has been recorded.
    reported: BTreeSet<u64>,
    /// The twin's time at the last step, and the brain's clock minus it.
    twin_time: f64,
    offset: f64,
}

/// The corridor capability shared by the plug-in, the twin loop and the edge.
pub struct Corridors {
    inner: Mutex<Inner>,
    brain: OnceLock<Weak<Brain>>,
    net: Arc<Network>,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Corridors {
    pub fn new(net: Arc<Network>, cfg: EngineConfig) -> Arc<Corridors> {
        let inner = Inner {
            engine: Engine::new(cfg),
            pending: Vec::new(),
            failed: Vec::new(),
            next_id: 1,
            reported: BTreeSet::new(),
            twin_time: 0.0,
            offset: 0.0,
        };
        Arc::new(Corridors { inner: Mutex::new(inner), brain: OnceLock::new(), net })
    }

    /// Register the plug-in with `brain` and offer the service to the edge.
    pub fn install(brain: &Arc<Brain>, cfg: EngineConfig) -> Arc<Corridors> {
        let svc = Corridors::new(brain.net.clone(), cfg);
        let _ = svc.brain.set(Arc::downgrade(brain));
        brain.register(Box::new(CorridorPlugin(svc.clone())));
        brain.provide(svc.clone());
        svc
    }

    pub fn network(&self) -> Arc<Network> {
        self.net.clone()
    }

    /// The twin's time at its last step (corridor times are twin seconds).
    pub fn twin_time(&self) -> f64 {
        lock(&self.inner).twin_time
    }

    /// The brain's clock minus the twin's time (Unix seconds of twin time 0).
    pub fn clock_offset(&self) -> f64 {
        lock(&self.inner).offset
    }

    pub(crate) fn brain(&self) -> Result<Arc<Brain>, CorridorsError> {
        self.brain.get().and_then(Weak::upgrade).ok_or(CorridorsError::Detached)
    }

    /// Check an edge's input and turn it into a request from `requester`.
    pub fn parse(net: &Network, input: &StartInput, requester: Requester) -> Result<Request, CorridorsError> {
        let road = |field: &'static str, name: &str| {
            net.road_by_name(name).ok_or_else(|| CorridorsError::Field { field, message: format!("no such road {name:?}") })
        };
        let origin = road("origin", &input.origin)?;
        let destination = road("destination", &input.destination)?;
        let vehicle = VehicleType::parse(&input.vehicle).ok_or_else(|| CorridorsError::Field {
            field: "vehicle",
            message: format!("must be one of ambulance, fire_engine, police; got {:?}", input.vehicle),
        })?;
        if input.reason.len() > MAX_REASON {
            return Err(CorridorsError::Field { field: "reason", message: format!("longer than {MAX_REASON} bytes") });
        }
        let req =
            Request { origin, destination, vehicle, priority: input.priority, requester, reason: input.reason.trim().into() };
        Engine::validate(&req)?;
        Ok(req)
    }

    /// An operator starts a corridor. Only a caller with the right (`Action::StartCorridor`:
    /// emergency services' operators and services) may; the request is recorded with who
    /// asked and why.
    pub fn start(&self, caller: &Caller, input: &StartInput) -> Result<u64, CorridorsError> {
        let b = self.brain()?;
        b.authorize(caller, Action::StartCorridor)?;
        let requester = Requester::Operator { principal: caller.principal.clone(), department: caller.department.clone() };
        let req = Corridors::parse(&self.net, input, requester)?;
        Ok(self.accept(&b, req))
    }

    /// A dispatch starts a corridor: only with a priority flag (1..=9); without one the
    /// unit drives in normal traffic and `None` is returned.
    pub fn start_for_dispatch(&self, d: &incidents::PriorityDispatch) -> Result<Option<u64>, CorridorsError> {
        if !(1..=MAX_PRIORITY).contains(&d.priority) {
            return Ok(None);
        }
        let b = self.brain()?;
        let vehicle = match d.kind {
            incidents::UnitKind::Ambulance => VehicleType::Ambulance,
            incidents::UnitKind::FireEngine => VehicleType::FireEngine,
            _ => VehicleType::Police,
        };
        let req = Request {
            origin: d.from,
            destination: d.to,
            vehicle,
            priority: d.priority,
            requester: Requester::Dispatch { unit: d.unit.clone(), incident: d.incident },
            reason: format!("{} at incident {}", d.incident_type.as_str(), d.incident),
        };
        Engine::validate(&req)?;
        Ok(Some(self.accept(&b, req)))
    }

    fn accept(&self, b: &Brain, req: Request) -> u64 {
        let id = {
            let mut g = lock(&self.inner);
            let id = g.next_id;
            g.next_id += 1;
            g.pending.push((id, req.clone()));
            id
        };
        let subject = format!("corridor:{id} {} -> {}", self.net.road(req.origin).name, self.net.road(req.destination).name);
        let reason = format!(
            "{} asked for a green corridor for a {} (priority {}): {}",
            req.requester.describe(),
            req.vehicle.as_str(),
            req.priority,
            req.reason
        );
        b.record_decision("corridor", "corridor-start", &subject, &reason);
        journal(
            b,
            id,
            &serde_json::json!({"corridor": id, "event": "accepted", "requester": req.requester.describe(), "reason": req.reason, "priority": req.priority, "vehicle": req.vehicle.as_str()}),
        );
        id
    }

    /// Every corridor, newest last (`Action::ReadCorridors`).
    pub fn list(&self, caller: &Caller) -> Result<Vec<Corridor>, CorridorsError> {
        self.brain()?.authorize(caller, Action::ReadCorridors)?;
        Ok(self.snapshot())
    }

    /// One corridor (`Action::ReadCorridors`).
    pub fn get(&self, caller: &Caller, id: u64) -> Result<Corridor, CorridorsError> {
        self.brain()?.authorize(caller, Action::ReadCorridors)?;
        self.snapshot().into_iter().find(|c| c.id == id).ok_or(CorridorsError::NotFound(id))
    }

    /// Every corridor without authorisation (the runtime's own use, tests).
    pub fn snapshot(&self) -> Vec<Corridor> {
        let g = lock(&self.inner);
        let mut out: Vec<Corridor> = g.engine.corridors().cloned().chain(g.failed.iter().cloned()).collect();
        out.extend(g.pending.iter().map(|(id, req)| planned(*id, req)));
        out.sort_by_key(|c| c.id);
        out
    }

    /// The twin loop's hook, once per step before the controller ticks the safety
    /// layer: start the accepted requests on the twin, advance every corridor, record
    /// the reports of corridors that finished.
    pub fn before_step(&self, sim: &mut Sim, safety: &mut SafetyLayer) {
        let finished;
        let mut failed = Vec::new();
        let clock = self.brain().map(|b| b.now()).ok();
        {
            let mut g = lock(&self.inner);
            g.twin_time = sim.time();
            if let Some(c) = clock {
                g.offset = c - sim.time();
            }
            if g.pending.is_empty() && !g.engine.busy() {
                return;
            }
            let pending = std::mem::take(&mut g.pending);
            for (id, req) in pending {
                if let Err(e) = g.engine.start(sim, safety, req.clone(), Some(id)) {
                    let mut c = planned(id, &req);
                    c.status = crate::model::Status::Failed;
                    c.failure = Some(e.to_string());
                    failed.push(c.clone());
                    g.failed.push(c);
                }
            }
            g.engine.step(sim, safety);
            let done: Vec<Corridor> =
                g.engine.corridors().filter(|c| c.finished()).filter(|c| !g.reported.contains(&c.id)).cloned().collect();
            for c in &done {
                g.reported.insert(c.id);
            }
            finished = done;
        }
        let Ok(b) = self.brain() else { return };
        for c in failed {
            b.record_decision("corridor", "corridor-failed", &format!("corridor:{}", c.id), c.failure.as_deref().unwrap_or(""));
        }
        for c in finished {
            let r = crate::report::Report::of(&c);
            b.record_decision("corridor", "corridor-report", &format!("corridor:{}", c.id), &r.summary());
            journal(&b, c.id, &r.json());
        }
    }
}

fn planned(id: u64, req: &Request) -> Corridor {
    Corridor {
        id,
        request: req.clone(),
        status: crate::model::Status::Planned,
        route: Vec::new(),
        vehicle: None,
        started: f64::NAN,
        arrived: None,
        predicted_without_s: f64::NAN,
        free_flow_s: f64::NAN,
        signals: Vec::new(),
        lonlat: None,
        point: None,
        progress: 0.0,
        failure: None,
        stopped_since: None,
        stuck: false,
    }
}

fn journal(b: &Brain, id: u64, body: &serde_json::Value) {
    if let Err(e) = b.journal_append("corridor", &id.to_string(), b.now(), &body.to_string()) {
        tracing::warn!("journaling corridor {id}: {e}");
    }
}

/// The plug-in face of [`Corridors`]: on each tick, the dispatches with a priority flag
/// that the incident capability made start corridors (as the system, on the dispatch's
/// behalf; the dispatch is the requester).
pub struct CorridorPlugin(pub Arc<Corridors>);

impl Plugin for CorridorPlugin {
    fn name(&self) -> &'static str {
        "corridor"
    }
    fn on_tick(&mut self, _tick: &Tick, _cx: &mut Context<'_>) {
        let Ok(b) = self.0.brain() else { return };
        let Some(inc) = b.service::<incidents::Incidents>() else { return };
        let taken = inc.with(|c| std::mem::take(&mut c.priority_dispatches));
        for d in taken {
            if let Err(e) = self.0.start_for_dispatch(&d) {
                tracing::warn!("corridor for the dispatch of {} to incident {}: {e}", d.unit, d.incident);
            }
        }
        // One source of truth for a unit with a corridor: the twin's vehicle. The
        // incident capability's unit stands where the vehicle is and is on scene when it
        // arrives.
        let net = &self.0.net;
        let follow: Vec<(String, u64, incidents::Spot, bool, bool)> = self
            .0
            .snapshot()
            .iter()
            .filter_map(|c| {
                let Requester::Dispatch { unit, incident } = &c.request.requester else { return None };
                let failed = c.status == crate::model::Status::Failed;
                let spot = match c.point {
                    Some(p) if !failed => c
                        .route
                        .iter()
                        .map(|&r| (r, incidents::detect::project_on_road(net, r, p)))
                        .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
                        .map(|(r, (s, _, _))| incidents::Spot { road: r, offset: s })?,
                    _ => incidents::Spot { road: c.request.origin, offset: 0.0 },
                };
                Some((unit.clone(), *incident, spot, c.status == crate::model::Status::Arrived, failed))
            })
            .collect();
        if follow.is_empty() {
            return;
        }
        let now = b.now();
        inc.with(|c| {
            for (unit, incident, spot, arrived, failed) in follow {
                if failed {
                    c.unfollow_twin(&unit);
                } else {
                    c.follow_twin(&unit, incident, spot, arrived, now);
                }
            }
        });
    }
}

/// Road ids of a corridor's route as names.
pub fn route_names(net: &Network, route: &[RoadId]) -> Vec<String> {
    route.iter().map(|&r| net.road(r).name.clone()).collect()
}
