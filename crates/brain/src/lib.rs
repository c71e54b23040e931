//! # brain: citybrain's runtime
//!
//! The composition root of a live City Brain. A [`Brain`] owns the one ingestion
//! [`sense::Pipeline`], the [`state::StateEstimator`], the store, the capability
//! plug-ins and the event [`Bus`]; [`run_twin`] plays the digital twin against it and
//! [`run_publisher`] ticks it when no twin runs. The HTTP crate (`server`) only
//! translates HTTP and WebSocket to the runtime calls of this crate.
//!
//! ## Glossary
//! - **Runtime call**: a method of [`Brain`] that the edge (HTTP, later MQTT/NGSI-LD)
//!   invokes on behalf of a [`Caller`]; each one passes [`Brain::authorize`] first.
//! - **Tick**: one state estimate ([`Tick`]): the [`state::CityState`] at a time, the
//!   signal status of every signalised intersection and the twin's vehicle counts.
//! - **Bus**: typed fan-out of [`BusMessage`]s (ticks, events, commands, accepted
//!   batches) to synchronous [`Subscriber`]s (the server's live hub, the store's
//!   snapshot writer, later NATS).
//! - **Plug-in**: an analyser or application ([`Plugin`]) that sees every accepted batch
//!   and every tick and may emit [`Event`]s and [`Command`]s. Registered in one place,
//!   the binary's `plugins.rs`; the reference plug-in is [`plugins::CongestionWatch`].
//! - **Event**: something a plug-in noticed (congestion, later incidents), kept in a
//!   bounded ring and published on the bus.
//! - **Command**: something a plug-in asks the city to do (hold a phase for a corridor);
//!   delivered to the signal controller hook of the twin loop, which applies it through
//!   the safety layer or ignores what it cannot honour.
//!
//! ## Invariants
//! - **Durable before visible.** An accepted batch is committed to the store before it
//!   is acknowledged, before plug-ins see it and before it is published on the bus.
//! - **Lock discipline.** Locks are taken in this order and never the other way:
//!   `pipeline` → `staged` (inside the pipeline's sink); the store's own locks are
//!   taken only after `pipeline` is released; `plugins` is taken alone (after the store
//!   commit, never while holding `pipeline`); `estimator`, `signals`, `events`,
//!   `commands` and the bus's subscriber list are leaf locks, held for a copy or a
//!   short update and never across IO. A store read holds no runtime lock at all, so a
//!   long history or event query never blocks ingestion.
//! - **One authorisation point.** Every runtime call on behalf of a caller goes through
//!   [`Brain::authorize`] with an [`Action`]; an [`Authorizer`] decides (the default,
//!   [`OpenAccess`], allows everything and is meant for loopback deployments).
//! - **A plug-in cannot take the brain down.** A plug-in that panics is disabled and
//!   logged; the batch or tick that triggered it is not affected.
//! - **No IO here but the store's and the keystore's.** The runtime reads no files and
//!   opens no sockets, except the plate key file of [`keystore`]; the binary and the
//!   server do the rest.
//! - **Time.** Every time is Unix seconds, UTC (`sense::time`). The brain's clock
//!   ([`Brain::now`]) is the wall clock, or the twin's when a twin runs
//!   ([`ClockSource`]); it only moves forward and no record moves it. Records are judged
//!   against it (skew and age bounds of [`BrainConfig::pipeline`]). Civil dates use the
//!   city's time zone ([`BrainConfig::timezone`]).

pub mod access;
pub mod bus;
pub mod keystore;
pub mod plugin;
pub mod plugins;
mod runtime;
mod twin_loop;

pub use access::{Action, Authorizer, Caller, Decision, Denied, OpenAccess, Role, Scopes};
pub use bus::{Bus, BusMessage, Command, Event, EventKind, Severity, SignalStatus, Subscriber, Tick};
pub use plugin::{Context, Plugin};
pub use runtime::{
    wall_clock, Brain, BrainConfig, BrainError, ClockSource, Counters, HistoryPoint, HistorySeries, IngestOutcome, Replay,
};
pub use store::Retention;
pub use twin_loop::{apply_clearances, run_publisher, run_twin, Controller, CLEAR_RADIUS_M};
