//! The plug-in interface for analysers and applications.
//!
//! A capability (incident detection, green corridors, ...) lives in its own crate,
//! implements [`Plugin`] and is registered in one place, the binary's `plugins.rs`,
//! with [`crate::Brain::register`]. The runtime calls it after every durable batch and
//! every tick, on the thread that produced them, one plug-in at a time.

use sense::SensorRegistry;
use twin::Network;

use crate::bus::{Command, EventKind, Severity, Tick};

/// An analyser or application running inside the brain.
pub trait Plugin: Send {
    /// Short stable name (`congestion-watch`, `incidents`); events carry it.
    fn name(&self) -> &'static str;
    /// Observations just committed to the store. Must be quick: it runs on the
    /// ingestion path (after the acknowledgement is decided, before it is sent).
    fn on_observations(&mut self, _batch: &[sense::Observation], _cx: &mut Context<'_>) {}
    /// A new state estimate.
    fn on_tick(&mut self, _tick: &Tick, _cx: &mut Context<'_>) {}
}

/// What a plug-in sees of the brain, and where it puts what it raises.
pub struct Context<'a> {
    pub net: &'a Network,
    pub registry: &'a SensorRegistry,
    /// City clock, Unix seconds.
    pub now: f64,
    pub(crate) events: Vec<(EventKind, Severity, String)>,
    pub(crate) commands: Vec<Command>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(net: &'a Network, registry: &'a SensorRegistry, now: f64) -> Self {
        Context { net, registry, now, events: Vec::new(), commands: Vec::new() }
    }
    /// Raise an event (the runtime stamps its id, time and source).
    pub fn emit(&mut self, kind: EventKind, severity: Severity, message: impl Into<String>) {
        self.events.push((kind, severity, message.into()));
    }
    /// Ask for an action on the city.
    pub fn command(&mut self, c: Command) {
        self.commands.push(c);
    }
}
