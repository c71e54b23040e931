//! Evaluation harness: run a policy on a scenario under a protocol and collect metrics;
//! the Nanchang (KDD Cup 2021) score.

use city::Scenario;
use twin::{Sim, SimConfig};

use crate::forecast::Forecast;
use crate::junction::{junctions, PhaseSet};
use crate::observe::Observer;
use crate::policy::{by_name, Policy, PolicyContext};
use crate::safety::{SafetyLayer, Timing};
use crate::ControlError;

/// How control is exercised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// The LLMLight/LibSignal protocol: four through/left phases, a decision every
    /// 30 s, a 5 s yellow inside the 30 s ([`Timing::benchmark`]).
    Benchmark,
    /// Field-style timing ([`Timing::operational`]) over the roadnet's own phases.
    Operational,
}

impl Protocol {
    pub fn timing(self) -> Timing {
        match self {
            Protocol::Benchmark => Timing::benchmark(),
            Protocol::Operational => Timing::operational(),
        }
    }
    pub fn phase_set(self) -> PhaseSet {
        match self {
            Protocol::Benchmark => PhaseSet::Four,
            Protocol::Operational => PhaseSet::Plan,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Benchmark => "benchmark",
            Protocol::Operational => "operational",
        }
    }
}

/// A policy wired to the signals through the safety layer: the control loop.
pub struct Controller {
    safety: SafetyLayer,
    observer: Observer,
    policy: Box<dyn Policy>,
    next_decision: f64,
    decisions: u64,
}

impl Controller {
    /// Build the named policy for `scenario` under `protocol`; `horizon_s` is the
    /// evaluated period (demand-based policies turn it into flow rates).
    pub fn new(scenario: &Scenario, policy: &str, protocol: Protocol, horizon_s: f64) -> Result<Controller, ControlError> {
        Controller::with_timing(scenario, policy, protocol.phase_set(), protocol.timing(), horizon_s)
    }

    /// As [`Controller::new`] with explicit phase set and timing.
    pub fn with_timing(
        scenario: &Scenario,
        policy: &str,
        set: PhaseSet,
        timing: Timing,
        horizon_s: f64,
    ) -> Result<Controller, ControlError> {
        let net = &scenario.network;
        let js = junctions(net, set)?;
        let ctx = PolicyContext { net, junctions: &js, timing, demand: &scenario.demand, horizon_s };
        let policy = by_name(policy, &ctx)?;
        Controller::from_policy(scenario, policy, js, timing)
    }

    /// Wire an already built policy (e.g. a custom one) to the signals.
    pub fn from_policy(
        scenario: &Scenario,
        policy: Box<dyn Policy>,
        junctions: Vec<crate::Junction>,
        timing: Timing,
    ) -> Result<Controller, ControlError> {
        let observer = Observer::new(&scenario.network, &junctions);
        let mut safety = SafetyLayer::new(&scenario.network, junctions, timing)?;
        safety.set_requested_termination(policy.termination());
        Ok(Controller { safety, observer, policy, next_decision: 0.0, decisions: 0 })
    }

    /// Decide if a decision is due, advance the safety layer and the signals; call once
    /// before every `sim.step()`.
    pub fn before_step(&mut self, sim: &mut Sim) {
        let now = sim.time();
        if now + 1e-9 >= self.next_decision {
            let obs = self.observer.observe(sim, &self.safety);
            let requests = if self.policy.wants_forecast() {
                let forecast = Forecast::with_routes(sim, &self.safety, self.policy.forecast_full_routes());
                self.policy.decide_with_forecast(obs, &forecast, now)
            } else {
                self.policy.decide(obs, now)
            };
            self.safety.request(&requests);
            self.next_decision += self.safety.timing().decision_interval;
            self.decisions += 1;
        }
        self.safety.tick(sim, now);
    }

    pub fn safety(&self) -> &SafetyLayer {
        &self.safety
    }
    /// The safety layer, to place or release preemption calls
    /// ([`SafetyLayer::preempt`]); signals still change only in its `tick`.
    pub fn safety_mut(&mut self) -> &mut SafetyLayer {
        &mut self.safety
    }
    pub fn policy_name(&self) -> &str {
        self.policy.name()
    }
    pub fn decisions(&self) -> u64 {
        self.decisions
    }
}

/// Outcome of one evaluation run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// CityFlow's definition (twin `Metrics::average_travel_time_s`).
    pub average_travel_time_s: f64,
    pub throughput: u64,
    pub mean_delay_s: f64,
    pub stops_per_vehicle: f64,
    pub average_speed_mps: f64,
    /// Mean over entered vehicles of (elapsed + remaining free-flow) / free-flow time.
    pub delay_index: f64,
    /// Every 60 s: (time, average travel time so far, queued vehicles).
    pub series: Vec<(f64, f64, u64)>,
    /// Phase changes the safety layer carried out.
    pub phase_changes: u64,
}

/// Run `policy` on `scenario` for `steps` one-second steps.
pub fn run(scenario: &Scenario, policy: &str, protocol: Protocol, seed: u64, steps: u64) -> Result<RunResult, ControlError> {
    let mut ctl = Controller::new(scenario, policy, protocol, steps as f64)?;
    let mut sim = Sim::new(scenario, SimConfig { seed, ..SimConfig::default() });
    for _ in 0..steps {
        ctl.before_step(&mut sim);
        sim.step();
    }
    let m = sim.metrics();
    Ok(RunResult {
        average_travel_time_s: m.average_travel_time_s,
        throughput: m.throughput,
        mean_delay_s: m.mean_delay_s,
        stops_per_vehicle: m.stops_per_vehicle,
        average_speed_mps: m.average_speed_mps,
        delay_index: sim.delay_index().unwrap_or(1.0),
        series: sim.series().iter().map(|s| (s.time_s, s.average_travel_time_s, s.queued)).collect(),
        phase_changes: ctl.safety().changes(),
    })
}

/// Delay-index threshold of the KDD Cup 2021 score.
pub const KDD_DELAY_LIMIT: f64 = 1.40;
/// How often the KDD score checks the delay index, seconds.
pub const KDD_CHECK_S: f64 = 20.0;

/// The Nanchang (KDD Cup 2021) score of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KddScore {
    /// Vehicles that had entered the network when the run stopped.
    pub served: u64,
    /// When the delay index first exceeded the limit (None: never within the run).
    pub stopped_at_s: Option<f64>,
    /// The delay index at the stop.
    pub delay_index: f64,
}

/// Run until the mean delay index first exceeds [`KDD_DELAY_LIMIT`] (checked every
/// [`KDD_CHECK_S`]) or `max_steps` pass, and count vehicles served.
pub fn kdd_score(
    scenario: &Scenario,
    policy: &str,
    protocol: Protocol,
    seed: u64,
    max_steps: u64,
) -> Result<KddScore, ControlError> {
    let mut ctl = Controller::new(scenario, policy, protocol, max_steps as f64)?;
    let mut sim = Sim::new(scenario, SimConfig { seed, ..SimConfig::default() });
    let served = |sim: &Sim| {
        let m = sim.metrics();
        m.throughput + m.vehicles_running
    };
    let mut next_check = KDD_CHECK_S;
    let mut di = 1.0;
    for _ in 0..max_steps {
        ctl.before_step(&mut sim);
        sim.step();
        if sim.time() + 1e-9 >= next_check {
            next_check += KDD_CHECK_S;
            di = sim.delay_index().unwrap_or(1.0);
            if di > KDD_DELAY_LIMIT {
                return Ok(KddScore { served: served(&sim), stopped_at_s: Some(sim.time()), delay_index: di });
            }
        }
    }
    Ok(KddScore { served: served(&sim), stopped_at_s: None, delay_index: di })
}
