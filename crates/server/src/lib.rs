//! # server: citybrain's edge
//!
//! HTTP and WebSocket on top of the brain: REST under `/api/v1`, the state stream, the
//! OpenAPI document, `/healthz`, Prometheus `/metrics` and the dashboard's static files.
//!
//! ## Glossary
//! - **Hub**: the latest [`api::LiveState`] plus the broadcast channel that fans deltas out
//!   to WebSocket clients.
//! - **Backend**: what the HTTP layer asks of the brain (ingest, history, signals, sensors).
//! - **Snapshot / delta**: the first stream message carries everything; later ones carry
//!   only roads and intersections that changed, plus the city figures.
//!
//! ## Invariants
//! - Only this crate knows JSON wire types of the API (`api`); library crates hand over
//!   plain Rust values.
//! - The server binds where it is told (127.0.0.1 by default) and never calls out.
//! - Ingestion over HTTP and the twin's virtual sensors share one pipeline.
//! - No runtime logic here: every handler is one call into the [`brain`] runtime (through
//!   [`Backend`]) plus the translation to wire types.

pub mod api;
pub mod backend;
pub mod client;
pub mod http;
pub mod openapi;

pub use backend::attach;
pub use http::{router, Backend, HttpConfig, Hub, Ingested};
