//! # governance: who may do what with the city's data, and the record of it
//!
//! Departments own sensors and datasets; users, service accounts and the public call the
//! brain; every call is decided here, through the brain's one authorisation hook
//! ([`Access`] implements [`brain::Authorizer`]), and what must be is written to a
//! hash-chained audit log.
//!
//! ## Glossary
//! - **Department**: a city body that owns sensors and datasets (`traffic-police`, ...).
//! - **Principal**: a user (password, dashboard session) or a service account (API
//!   tokens) of one department, with a [`brain::Role`]. The public is no principal.
//! - **Token**: `cbt_<id>_<secret>`, 256 random bits; only SHA-256 of the secret is
//!   stored; scoped (read, write, admin), expiring, revocable.
//! - **Session**: a dashboard login kept server side (its id's SHA-256 in
//!   `governance.sqlite`, so sessions survive a restart); the browser holds a random id in
//!   an HttpOnly, SameSite=Strict cookie and sends the session's CSRF token (derived from
//!   the id, never stored) with every state-changing request. Failed logins are limited
//!   per account and per client address ([`limit`]); a locked login is a 429.
//! - **Dataset**: something the brain holds or serves, with an owner and a
//!   [`Classification`] (public, internal, restricted, personal).
//! - **Grant**: the owner's permission for a grantee (department or principal) to read a
//!   restricted or personal dataset, for a stated purpose, until it expires or is revoked.
//! - **Audit log**: `audit.log`, one hash-chained record per line ([`audit`]).
//! - **Transparency log**: the audit's automated decisions, readable by everyone.
//! - **Ticket**: a citizen's report with an unguessable number, routed to a department.
//!
//! ## Invariants
//! - **One decision.** [`Governance::decide`] is the only place that allows or refuses;
//!   governance's own calls (grants, tokens, queues) use it too. Unknown datasets and
//!   unknown actions are refused (fail closed).
//! - **No secret at rest.** Tokens and session ids are stored as SHA-256 digests,
//!   passwords as salted PBKDF2; raw secrets exist only in the answer that issues them.
//! - **Revocation is immediate.** Decisions read the in-memory cache that every change
//!   writes through, so a revoked token or grant fails on the next request; a request
//!   that keeps acting (an NGSI-LD subscription's notifications) is decided again each
//!   time for the account as it stands ([`Governance::standing`]).
//! - **Own records stay own.** `Action::ReadOwned` (a department's subscription inside
//!   a tenant it shares): only that department's principals, a grant does not open it.
//! - **Audit.** Every allowed read or write of non-public data, every refusal of an
//!   authenticated principal, every grant and credential change, every login and every
//!   automated decision is appended to the chain; `citybrain audit verify` names the
//!   first broken record.
//! - **Writes only by owners.** A record for a sensor is accepted only from a service of
//!   the sensor's department (the brain rejects the others in place, stored as rejected).

pub mod audit;
mod authz;
mod db;
pub mod error;
mod gov;
pub mod limit;
pub mod model;
pub mod oidc;
pub mod retention;
pub mod secret;
pub mod tickets;

pub use audit::{AuditKind, AuditLog, AuditRecord, Broken};
pub use authz::{Access, GrantView};
pub use db::DB_FILE;
pub use error::GovError;
pub use gov::{GovConfig, Governance, NewSession, TokenInfo};
pub use limit::LoginLimits;
pub use model::{datasets, Classification, Dataset, Department, Grant};
pub use retention::{DpReport, Holding, RetentionPolicy};
pub use tickets::{NewTicket, QueueKpi, Ticket, TicketStatus};
