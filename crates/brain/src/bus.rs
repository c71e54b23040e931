//! The typed internal event bus: state ticks, plug-in events and commands, and accepted
//! batches, fanned out to synchronous subscribers in publication order.

use std::sync::{Arc, RwLock};

use sense::Observation;
use state::CityState;
use twin::{IntersectionId, RoadId};

/// Signal status of one signalised intersection at a tick.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalStatus {
    pub intersection: IntersectionId,
    /// Index of the plan stage shown: the plan's own, or under a policy the plan stage
    /// whose greens are those shown (`None` when the policy shows none of them).
    pub phase: Option<usize>,
    /// The NEMA phases green now ([`city::signal::Nema`]), under every controller.
    pub green_phases: Vec<u8>,
    /// Number of stages in its plan.
    pub phases: usize,
    /// Whether a through or left movement has green (else it is in clearance).
    pub serving: bool,
}

/// One state estimate and what the twin knows at that moment.
#[derive(Clone, Debug)]
pub struct Tick {
    pub time: f64,
    pub state: Arc<CityState>,
    pub signals: Arc<Vec<SignalStatus>>,
    /// Vehicles in the twin's network (0 without a twin).
    pub vehicles: u64,
    /// Trips the twin has finished (0 without a twin).
    pub trips: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What an event is about.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// A road has been graded congested for a sustained time.
    Congestion { road: RoadId },
    /// A road reported by [`EventKind::Congestion`] is no longer congested.
    CongestionCleared { road: RoadId },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Congestion { .. } => "congestion",
            EventKind::CongestionCleared { .. } => "congestion_cleared",
        }
    }
    pub fn road(&self) -> Option<RoadId> {
        match self {
            EventKind::Congestion { road } | EventKind::CongestionCleared { road } => Some(*road),
        }
    }
}

/// Something a plug-in noticed.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Assigned by the runtime, increasing from 1.
    pub id: u64,
    /// City clock, Unix seconds.
    pub time: f64,
    /// Name of the plug-in that raised it.
    pub source: &'static str,
    pub kind: EventKind,
    pub severity: Severity,
    pub message: String,
}

/// Something a plug-in asks the city to do. Commands reach the signal controller hook
/// of the twin loop ([`crate::Controller`]); only the safety layer may act on them.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Serve `phase` (a plan stage) at `intersection` until `until` (city clock).
    HoldPhase { intersection: IntersectionId, phase: usize, until: f64, reason: String },
    /// Return `intersection` to its normal policy.
    Release { intersection: IntersectionId },
    /// A response unit finished its work on scene: the twin ends the incident in effect
    /// there (on `road`, or a signal fault at a junction within 150 m of `at`). Handled by
    /// the twin loop itself, not the signal controller.
    ClearIncident { event: u64, unit: String, road: Option<twin::RoadId>, at: twin::Point },
}

/// One message on the bus.
#[derive(Clone, Debug)]
pub enum BusMessage {
    /// Observations committed to the store (in ingestion order).
    Accepted(Arc<[Observation]>),
    Tick(Arc<Tick>),
    Event(Arc<Event>),
    Command(Arc<Command>),
}

/// A bus subscriber. `deliver` runs on the publisher's thread, in publication order;
/// it must be quick and must not call back into the [`crate::Brain`] (hand heavy work
/// to a thread or channel of its own).
pub trait Subscriber: Send + Sync {
    fn name(&self) -> &str;
    fn deliver(&self, msg: &BusMessage);
}

/// The fan-out. Subscribing is rare; publishing takes a read lock only.
#[derive(Default)]
pub struct Bus {
    subscribers: RwLock<Vec<Arc<dyn Subscriber>>>,
}

impl Bus {
    pub fn subscribe(&self, s: Arc<dyn Subscriber>) {
        self.subscribers.write().unwrap_or_else(|e| e.into_inner()).push(s);
    }

    pub fn publish(&self, msg: &BusMessage) {
        let subs = self.subscribers.read().unwrap_or_else(|e| e.into_inner()).clone();
        for s in subs {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.deliver(msg))).is_err() {
                tracing::error!("bus subscriber {} panicked; message dropped for it", s.name());
            }
        }
    }

    pub fn subscriber_names(&self) -> Vec<String> {
        self.subscribers.read().unwrap_or_else(|e| e.into_inner()).iter().map(|s| s.name().to_string()).collect()
    }
}
