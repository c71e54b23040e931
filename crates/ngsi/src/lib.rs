//! # ngsi: citybrain's NGSI-LD capability
//!
//! The brain speaks NGSI-LD (ETSI GS CIM 009, the FIWARE context broker API) so that
//! every department's systems can share context data through it. A plug-in like
//! `incidents`: [`Ngsi::install`] offers the service with `Brain::provide`; the HTTP edge
//! (`server::ngsi_api`) finds it with `Brain::service::<Ngsi>()` and hands over each
//! request as a [`Req`] (caller, tenant, headers, query string, body); every call passes
//! `Brain::authorize` with `Action::Read/Write { dataset }` where the dataset is the
//! tenant's (`ngsi-ld` for the default tenant, `ngsi-ld:<department>` for
//! `NGSILD-Tenant: <department>`), so governance decides, not this crate.
//!
//! ## Modules
//! - [`context`]: `@context` resolution (core built in, allow-listed remote, cached),
//!   term expansion and compaction.
//! - [`model`]: the stored entity (expanded names), parsing and validation.
//! - [`render`]: stored → JSON (normalized / concise / keyValues, sysAttrs, pick/omit, GeoJSON).
//! - [`order`]: `orderBy`; [`scope`]: `scopeQ`.
//! - [`query`]: the `q` language; [`geo`]: geometries and `georel`.
//! - [`service`]: [`Ngsi`], tenants, headers, the entity calls; [`batch`], [`subs`]
//!   (subscriptions), [`notify`] (which subscriptions a change fires, the queue and its
//!   workers), [`notice`] (what a notification says), [`discovery`], [`temporal`],
//!   [`ctxapi`] (`/jsonldContexts`), [`csr`] (context source registrations), [`brainmap`] (the brain's own data as entities).
//! - [`db`]: the capability's SQLite file (its WAL copied into the file by a thread of its
//!   own, so that a commit does not wait for a checkpoint).
//!
//! ## Invariants
//! - Durable before visible: a write is committed to `ngsi.sqlite` before the in-memory
//!   view changes and before it is answered or notified; a batch is one transaction.
//! - Nothing malformed panics or answers 5xx: every parser returns a ProblemDetails error
//!   (`BadRequestData`, `InvalidRequest`, ...); 503 means storage or an unavailable context.
//! - Notifications never block a write: matching subscriptions are queued and a worker
//!   thread posts them.
//! - A subscription is a standing read of its subscriber ([`subowner`]): each
//!   notification is authorised again for the subscriber as the account stands, and the
//!   subscription itself is only its subscriber's department's to see or change.
//! - The brain never needs the internet: the core context is built in, remote contexts
//!   come only from the allow-list or the preloaded documents.

pub mod aggregate;
pub mod batch;
pub mod brainmap;
pub mod context;
pub mod core_context;
pub mod csr;
pub mod ctxapi;
pub mod db;
pub mod discovery;
pub mod entities;
pub mod error;
pub mod geo;
pub mod httpc;
pub mod join;
pub mod model;
pub mod mqttc;
pub mod notice;
pub mod notify;
pub mod order;
pub mod params;
pub mod purge;
pub mod query;
pub mod render;
pub mod scope;
pub mod select;
pub mod service;
pub mod stored;
pub mod subowner;
pub mod subs;
pub mod temporal;
pub mod temporal_view;
pub mod time;
pub mod util;

pub use context::{ActiveContext, ContextConfig, Contexts};
pub use error::NgsiError;
pub use service::{Ngsi, NgsiConfig, Out, Req};

pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
