//! Signal control policies. A policy sees an [`Observation`] and answers with
//! [`Request`]s; it never touches the simulator, and the [`crate::SafetyLayer`] decides
//! when (and whether) a request takes effect.

mod actuated;
mod citybrain;
mod fixed;
mod maxpressure;
mod mpc;
mod rollout;
mod sotl;
mod webster;

pub use actuated::Actuated;
pub use citybrain::{CityBrain, CityBrainParams};
pub use fixed::FixedTime;
pub use maxpressure::MaxPressure;
pub use mpc::{CityBrainMpc, MpcParams, MPC_MAX_JUNCTIONS};
pub use sotl::Sotl;
pub use webster::Webster;

use city::{Demand, Network};

use crate::forecast::Forecast;
use crate::junction::Junction;
use crate::observe::Observation;
use crate::safety::{Request, Timing};
use crate::ControlError;

/// A signal controller. `Send`, so that a control loop can run on a worker thread.
pub trait Policy: Send {
    fn name(&self) -> &str;
    /// Decide at time `now`: at most one request per intersection (none = keep going).
    fn decide(&mut self, obs: &Observation, now: f64) -> Vec<Request>;
    /// Whether the policy wants a [`Forecast`] at each decision (then the controller
    /// calls [`Policy::decide_with_forecast`] instead of [`Policy::decide`]).
    fn wants_forecast(&self) -> bool {
        false
    }
    /// Whether the forecast should keep the present vehicles' whole routes.
    fn forecast_full_routes(&self) -> bool {
        false
    }
    /// Decide with a what-if model of the present; by default the forecast is ignored.
    fn decide_with_forecast(&mut self, obs: &Observation, _forecast: &Forecast, now: f64) -> Vec<Request> {
        self.decide(obs, now)
    }
    /// How the signal's event log names a green this policy ends (a green that reaches
    /// the maximum is a max-out whatever the policy): a force-off by default.
    fn termination(&self) -> twin::Termination {
        twin::Termination::ForceOff
    }
}

/// What a policy may know when it is built: the static network, the controlled
/// junctions with their candidate phases, the timing and the planned demand.
#[derive(Clone, Copy, Debug)]
pub struct PolicyContext<'a> {
    pub net: &'a Network,
    pub junctions: &'a [Junction],
    pub timing: Timing,
    pub demand: &'a Demand,
    /// Length of the evaluated period, seconds (used to turn demand into flow rates).
    pub horizon_s: f64,
}

/// Policy display names (tables, plots), in the order of [`CLI_NAMES`]; [`by_name`]
/// accepts these too (case-insensitive).
pub const NAMES: &[&str] = &["FixedTime", "Webster", "Actuated", "SOTL", "MaxPressure", "CityBrainHeuristic", "CityBrain"];

/// The names the command line takes (`--controller`, `--controllers`), which are also
/// the keys of `citybrain eval --json`; in the order of [`NAMES`].
pub const CLI_NAMES: &[&str] = &["fixed", "webster", "actuated", "sotl", "maxpressure", "citybrainheuristic", "citybrain"];

/// The command-line name of a policy given by any accepted spelling: a command-line name,
/// a display name or an alias (`fixedtime`, `mp`), case-insensitive. `None` if unknown.
pub fn cli_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let canonical = match lower.as_str() {
        "fixedtime" => "fixed",
        "mp" => "maxpressure",
        other => other,
    };
    CLI_NAMES.iter().copied().find(|&n| n == canonical)
}

/// The display name of a policy given by any accepted spelling (`fixed` -> `FixedTime`).
pub fn display_name(name: &str) -> Option<&'static str> {
    let cli = cli_name(name)?;
    CLI_NAMES.iter().position(|&n| n == cli).map(|i| NAMES[i])
}

/// Build a policy by name (any spelling [`cli_name`] accepts).
pub fn by_name(name: &str, ctx: &PolicyContext) -> Result<Box<dyn Policy>, ControlError> {
    let p: Box<dyn Policy> = match cli_name(name) {
        Some("fixed") => Box::new(FixedTime::new(ctx)),
        Some("webster") => Box::new(Webster::new(ctx)),
        Some("actuated") => Box::new(Actuated::new(ctx)),
        Some("sotl") => Box::new(Sotl::new(ctx)),
        Some("maxpressure") => Box::new(MaxPressure::new(ctx)),
        Some("citybrainheuristic") => Box::new(CityBrain::new(ctx, CityBrainParams::for_timing(&ctx.timing))),
        Some("citybrain") => Box::new(CityBrainMpc::for_context(ctx)),
        _ => return Err(ControlError::UnknownPolicy(name.to_string())),
    };
    Ok(p)
}

/// Sum of `value(m)` over the non-right-turn movements a phase serves.
pub(crate) fn phase_sum(j: &Junction, phase: usize, mut value: impl FnMut(usize) -> f64) -> f64 {
    let mask = &j.phases[phase];
    (0..j.len()).filter(|&m| mask[m] && !j.always[m]).map(&mut value).sum()
}

/// Vehicles waiting on the incoming lanes of local movement `m`.
pub(crate) fn waiting_on(j: &Junction, obs: &Observation, m: usize) -> f64 {
    j.in_lanes[m].iter().map(|l| obs.lanes[l.idx()].waiting as f64).sum()
}

/// The phase with the highest score; ties go to `current`, then to the lower index.
pub(crate) fn argmax(scores: impl Iterator<Item = f64>, current: Option<usize>) -> usize {
    let mut best = (0usize, f64::NEG_INFINITY);
    for (p, s) in scores.enumerate() {
        let better = s > best.1 + 1e-9 || ((s - best.1).abs() <= 1e-9 && Some(p) == current);
        if better {
            best = (p, s);
        }
    }
    best.0
}
