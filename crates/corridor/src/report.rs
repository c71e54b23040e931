//! The report of a corridor after its run: the vehicle's actual time against the time
//! predicted without a corridor, the prediction quality per signal, and what it cost
//! everyone else.

use crate::model::{Corridor, Stage};

/// A corridor's report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub id: u64,
    pub requester: String,
    pub reason: String,
    pub priority: u32,
    /// The vehicle's travel time, seconds (so far, while it drives).
    pub actual_s: f64,
    /// The route's live travel time when planned: the prediction without a corridor.
    pub predicted_without_s: f64,
    /// At the vehicle's own desired speed with every signal green.
    pub free_flow_s: f64,
    /// `predicted_without_s - actual_s`.
    pub saved_s: f64,
    pub signals: usize,
    pub preempted: usize,
    /// Vehicle-seconds other traffic waited at the corridor's signals while preempted.
    pub cost_veh_s: f64,
    /// Seconds the corridor's signals spent preempted (call placed to vehicle passed).
    pub preempted_s: f64,
    /// Per signal: prediction made 60 s before arrival minus the actual arrival.
    pub prediction_errors_s: Vec<f64>,
}

impl Report {
    pub fn of(c: &Corridor) -> Report {
        let now = c.arrived.unwrap_or(c.started);
        let actual = c.travel_time(now);
        let preempted_s =
            c.signals.iter().filter_map(|s| Some(s.passed_at.unwrap_or(now) - s.called_at?)).map(|x| x.max(0.0)).sum();
        Report {
            id: c.id,
            requester: c.request.requester.describe(),
            reason: c.request.reason.clone(),
            priority: c.request.priority,
            actual_s: actual,
            predicted_without_s: c.predicted_without_s,
            free_flow_s: c.free_flow_s,
            saved_s: c.predicted_without_s - actual,
            signals: c.signals.len(),
            preempted: c.signals.iter().filter(|s| s.called_at.is_some()).count(),
            cost_veh_s: c.cost_veh_s(),
            preempted_s,
            prediction_errors_s: c.prediction_errors(),
        }
    }

    /// One line for the transparency log.
    pub fn summary(&self) -> String {
        format!(
            "{} ({}): vehicle took {:.0} s against {:.0} s predicted without a corridor; {} of {} signals preempted for {:.0} s in all, others waited {:.0} vehicle-seconds at them",
            self.requester,
            self.reason,
            self.actual_s,
            self.predicted_without_s,
            self.preempted,
            self.signals,
            self.preempted_s,
            self.cost_veh_s
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "corridor": self.id,
            "event": "report",
            "requester": self.requester,
            "reason": self.reason,
            "priority": self.priority,
            "actual_s": self.actual_s,
            "predicted_without_s": self.predicted_without_s,
            "free_flow_s": self.free_flow_s,
            "saved_s": self.saved_s,
            "signals": self.signals,
            "preempted": self.preempted,
            "preempted_s": self.preempted_s,
            "cost_veh_s": self.cost_veh_s,
            "prediction_errors_s": self.prediction_errors_s,
        })
    }
}

/// Whether every signal of `c` is back to normal control.
pub fn recovered(c: &Corridor) -> bool {
    c.signals.iter().all(|s| s.stage == Stage::Done)
}
