//! Governance routes: login and sessions, tokens, grants, the audit trail, the
//! transparency log, citizens' tickets, the KPI page's figures and the data-protection
//! report. Each handler is one governance call; governance decides through the same
//! function as `Brain::authorize` (`Governance::decide`). Without governance configured
//! these answer 404.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use brain::{Caller, Role, Scopes};
use governance::{GovError, Governance, NewTicket};
use serde::{Deserialize, Serialize};

use crate::auth::{session_cookie, Authed, SESSION_COOKIE};
use crate::error::{ApiError, ErrorBody};
use crate::http::App;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/tokens", get(list_tokens).post(issue_token))
        .route("/tokens/{id}", delete(revoke_token))
        .route("/accounts", post(create_account))
        .route("/grants", get(list_grants).post(issue_grant))
        .route("/grants/{id}", delete(revoke_grant))
        .route("/audit", get(audit))
        .route("/catalogue", get(catalogue))
        .route("/transparency", get(transparency))
        .route("/tickets", post(submit_ticket))
        .route("/tickets/{number}", get(ticket_status))
        .route("/tickets/{number}/answer", post(answer_ticket))
        .route("/queue", get(queue))
        .route("/kpis/tickets", get(ticket_kpis))
        .route("/data-protection", get(data_protection))
}

/// Map a governance error to its status.
pub fn gov_error(e: GovError) -> ApiError {
    match e {
        GovError::BadCredentials(m) => ApiError::Unauthorized(m),
        GovError::Forbidden(m) => ApiError::Forbidden(m),
        GovError::NotFound { what, id } => ApiError::NotFound { what, id },
        GovError::Invalid(m) => ApiError::Invalid(m),
        GovError::Conflict(m) => ApiError::Invalid(m),
        GovError::TooManyAttempts { message, retry_after_s } => ApiError::TooManyRequests { message, retry_after_s },
        e @ (GovError::Storage(_) | GovError::Io { .. }) => ApiError::Unavailable(e.to_string()),
    }
}

fn gov(app: &App) -> Result<Arc<Governance>, ApiError> {
    app.gov.clone().ok_or_else(|| ApiError::NotFound { what: "governance", id: "not configured on this server".into() })
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| match e {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("Content-Type: expected application/json".into())
        }
        e => ApiError::Malformed(format!("body: {}", e.body_text())),
    })
}

/// At most 40 characters of a value echoed in an error message.
pub(crate) fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Run a blocking governance call off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, GovError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?.map_err(gov_error)
}

#[derive(Serialize)]
pub struct Me {
    pub principal: String,
    pub department: Option<String>,
    pub department_name: Option<String>,
    pub role: &'static str,
    pub scopes: String,
    /// The session's CSRF token (send it as `X-CSRF-Token` with state-changing requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    pub expires: Option<f64>,
}

fn me_of(gov: &Governance, c: &Caller, csrf: Option<String>, expires: Option<f64>) -> Me {
    let department_name = c.department.as_ref().and_then(|d| gov.departments().into_iter().find(|x| &x.id == d).map(|x| x.name));
    Me {
        principal: c.principal.clone(),
        department: c.department.clone(),
        department_name,
        role: c.role.as_str(),
        scopes: governance::model::scopes_str(c.scopes),
        csrf,
        expires,
    }
}

#[derive(Deserialize)]
struct Login {
    name: String,
    password: String,
}

/// Log in with a user name and password: a session cookie (HttpOnly, SameSite=Strict)
/// and the caller with the session's CSRF token. Failed logins are limited per account
/// and per client address: past the limit the answer is 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "governance", request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "The caller, with the session's CSRF token", body = Object),
        (status = 400, description = "Not JSON of the documented shape", body = ErrorBody),
        (status = 401, description = "Wrong user name or password", body = ErrorBody),
        (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "Name or password too long", body = ErrorBody),
        (status = 429, description = "Too many failed logins for the account or from the address; `Retry-After` says when to try again", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
async fn login(
    State(app): State<App>,
    peer: Option<axum::Extension<crate::transport::ClientAddr>>,
    b: Result<Json<Login>, JsonRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let l = body(b)?;
    if l.name.len() > 64 || l.password.len() > 256 {
        return Err(ApiError::Invalid("name/password: too long".into()));
    }
    let g2 = g.clone();
    // Failed logins are limited per account and per client address (429 when locked).
    let address = peer.map(|p| p.0 .0.ip().to_string());
    let s = blocking(move || g2.login_from(&l.name, &l.password, address.as_deref())).await?;
    let max_age = (s.expires - brain::wall_clock()).max(0.0) as u64;
    let cookie = format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}", s.id);
    let me = me_of(&g, &s.caller, Some(s.csrf), Some(s.expires));
    Ok(([(header::SET_COOKIE, cookie)], Json(me)).into_response())
}

/// End the session of the cookie (if any) and clear the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "governance",
    responses(
        (status = 204, description = "Logged out"),
        (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
    ))]
async fn logout(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    if let Some(id) = session_cookie(&headers) {
        g.logout(&id);
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

/// Who the caller is: principal, department, role, scopes (and the session's CSRF token).
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "governance",
    responses((status = 200, description = "The caller", body = Object), (status = 404, description = "Governance is not configured on this server", body = ErrorBody)))]
pub(crate) async fn me(State(app): State<App>, Authed(caller): Authed, headers: HeaderMap) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let csrf = session_cookie(&headers).and_then(|id| g.session(&id).ok()).map(|(_, csrf)| csrf);
    Ok(Json(me_of(&g, &caller, csrf, None)).into_response())
}

/// The tokens the caller may see (its own; a department admin's department's), never their secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "governance",
    responses(
        (status = 200, description = "Tokens", body = [Object]),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Authentication required", body = ErrorBody),
        (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
    ))]
async fn list_tokens(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    if caller.is_public() {
        return Err(ApiError::Forbidden("tokens: authentication required".into()));
    }
    Ok(Json(g.tokens(&caller)).into_response())
}

#[derive(Deserialize)]
struct IssueToken {
    principal: String,
    /// `read`, `write`, `admin`, comma-separated.
    scopes: String,
    ttl_s: f64,
    #[serde(default)]
    label: String,
}

#[derive(Serialize)]
struct IssuedToken {
    /// Shown once; only its hash is kept.
    token: String,
}

/// Issue an API token for a principal (`scopes`: read, write, admin); the secret is in
/// this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "governance", request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 201, description = "The token, shown once", body = Object),
        (status = 400, description = "Not JSON of the documented shape", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller, or a session request without its CSRF token", body = ErrorBody),
        (status = 404, description = "Unknown principal, or governance not configured", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (the message names it)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
async fn issue_token(
    State(app): State<App>,
    Authed(caller): Authed,
    b: Result<Json<IssueToken>, JsonRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let t = body(b)?;
    let scopes = governance::model::parse_scopes(&t.scopes)
        .ok_or_else(|| ApiError::Invalid(format!("scopes: read, write, admin (comma-separated), got {:?}", t.scopes)))?;
    let token = blocking(move || g.issue_token(&caller, &t.principal, scopes, t.ttl_s, &t.label)).await?;
    Ok((StatusCode::CREATED, Json(IssuedToken { token })).into_response())
}

/// Revoke a token; it fails on the next request.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "governance", params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller, or a session request without its CSRF token", body = ErrorBody),
        (status = 404, description = "Unknown token, or governance not configured", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
async fn revoke_token(State(app): State<App>, Authed(caller): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    blocking(move || g.revoke_token(&caller, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct NewAccount {
    name: String,
    department: String,
    role: String,
    password: Option<String>,
}

/// Create or reset an account of a department (a department admin for their own).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "governance", request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 201, description = "Created"),
        (status = 400, description = "Not JSON of the documented shape", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller, or a session request without its CSRF token", body = ErrorBody),
        (status = 404, description = "Unknown department, or governance not configured", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (the message names it)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
async fn create_account(
    State(app): State<App>,
    Authed(caller): Authed,
    b: Result<Json<NewAccount>, JsonRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let a = body(b)?;
    let role = Role::parse(&a.role)
        .ok_or_else(|| ApiError::Invalid(format!("role: viewer, operator, admin or service, got {:?}", a.role)))?;
    blocking(move || g.put_principal(&caller, &a.name, &a.department, role, a.password.as_deref())).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// The grants the caller may see: those its department issued or holds.
#[utoipa::path(get, path = "/api/v1/grants", tag = "governance",
    responses(
        (status = 200, description = "Grants", body = [Object]),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
    ))]
async fn list_grants(State(app): State<App>, Authed(caller): Authed) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    Ok(Json(g.grants(&caller)).into_response())
}

#[derive(Deserialize)]
struct NewGrant {
    dataset: String,
    grantee: String,
    purpose: String,
    /// Unix seconds.
    expires: f64,
}

/// An owner grants another department or principal read access to a restricted or
/// personal dataset, for a purpose, until a time.
#[utoipa::path(post, path = "/api/v1/grants", tag = "governance", request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 201, description = "The grant", body = Object),
        (status = 400, description = "Not JSON of the documented shape", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller, or a session request without its CSRF token", body = ErrorBody),
        (status = 404, description = "Unknown dataset, or governance not configured", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (the message names it)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
async fn issue_grant(
    State(app): State<App>,
    Authed(caller): Authed,
    b: Result<Json<NewGrant>, JsonRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let n = body(b)?;
    let grant = blocking(move || g.grant(&caller, &n.dataset, &n.grantee, &n.purpose, n.expires)).await?;
    Ok((StatusCode::CREATED, Json(grant)).into_response())
}

/// Revoke a grant; it stops on the next request.
#[utoipa::path(delete, path = "/api/v1/grants/{id}", tag = "governance", params(("id" = u64, Path, description = "Grant id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller, or a session request without its CSRF token", body = ErrorBody),
        (status = 404, description = "Unknown grant, or governance not configured", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
async fn revoke_grant(State(app): State<App>, Authed(caller): Authed, Path(id): Path<String>) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let id: u64 =
        id.parse().map_err(|_| ApiError::Malformed(format!("id: a grant number, got {:?}", crate::gov_api::short(&id))))?;
    blocking(move || g.revoke_grant(&caller, id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// Only records about this dataset.
    dataset: Option<String>,
    /// Most records (default 200, at most 5,000).
    #[param(minimum = 0)]
    limit: Option<usize>,
}

/// The audit trail an owner may read: who read or changed its data, when and for what
/// purpose (an admin sees their department's).
#[utoipa::path(get, path = "/api/v1/audit", tag = "governance", params(AuditParams),
    responses(
        (status = 200, description = "Audit records, newest first", body = [Object]),
        (status = 400, description = "`limit` not a non-negative integer", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller, or a session request without its CSRF token", body = ErrorBody),
        (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
        (status = 503, description = "The audit log cannot be read", body = ErrorBody),
    ))]
async fn audit(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(200).clamp(1, 5000);
    let rows = blocking(move || g.audit_of(&caller, q.dataset.as_deref(), limit)).await?;
    Ok(Json(rows).into_response())
}

#[derive(Serialize)]
struct Catalogue {
    departments: Vec<governance::Department>,
    datasets: Vec<governance::Dataset>,
    ticket_categories: Vec<&'static str>,
}

/// Departments, datasets (owner, classification) and the ticket categories.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "governance",
    responses((status = 200, description = "The catalogue", body = Object), (status = 404, description = "Governance is not configured on this server", body = ErrorBody)))]
pub(crate) async fn catalogue(State(app): State<App>) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    Ok(Json(Catalogue {
        departments: g.departments(),
        datasets: g.datasets(),
        ticket_categories: governance::tickets::CATEGORIES.to_vec(),
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LimitParams {
    /// Most records (default 200, at most 5,000).
    #[param(minimum = 0)]
    limit: Option<usize>,
}

/// The public transparency log: automated decisions the brain took, newest first.
#[utoipa::path(get, path = "/api/v1/transparency", tag = "governance", params(LimitParams),
    responses(
        (status = 200, description = "Decision records of the audit chain", body = [Object]),
        (status = 400, description = "`limit` not a non-negative integer", body = ErrorBody),
        (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
        (status = 503, description = "The audit log cannot be read", body = ErrorBody),
    ))]
pub(crate) async fn transparency(
    State(app): State<App>,
    q: Result<Query<LimitParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(200).clamp(1, 5000);
    let rows = blocking(move || g.transparency(limit)).await?;
    Ok(Json(rows).into_response())
}

#[derive(Deserialize)]
pub(crate) struct TicketIn {
    category: String,
    lon: Option<f64>,
    lat: Option<f64>,
    text: String,
    photo_ref: Option<String>,
}

/// A citizen's report: category, optional place, text, optional photo reference; the
/// answer holds the ticket number to follow it.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "citizens", request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 201, description = "The ticket's status and number", body = Object),
        (status = 400, description = "Not JSON of the ticket shape", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "A session request without its CSRF token", body = ErrorBody),
        (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (the message names it)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn submit_ticket(
    State(app): State<App>,
    Authed(caller): Authed,
    b: Result<Json<TicketIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let t = body(b)?;
    let n = NewTicket { category: t.category, lon: t.lon, lat: t.lat, text: t.text, photo_ref: t.photo_ref };
    let ticket = blocking(move || g.submit_ticket(&caller, n)).await?;
    if governance::tickets::TRAFFIC_CATEGORIES.contains(&ticket.category.as_str()) {
        // Traffic reports also enter the incident pipeline, as the citizen feed's records:
        // category and place only. The citizen's text is personal data of the ticket's
        // department and stays in the ticket (incidents are readable city-wide).
        let (backend, t2) = (app.backend.clone(), ticket.clone());
        let summary = format!("citizen report ({}), see the {} queue", t2.category, t2.department);
        tokio::task::spawn_blocking(move || backend.citizen_report(&t2.category, &summary, t2.lon, t2.lat)).await?;
    }
    let status = governance::TicketStatus {
        number: ticket.number,
        created: ticket.created,
        category: ticket.category,
        department: ticket.department,
        status: ticket.status,
        answer: None,
        answered_at: None,
    };
    Ok((StatusCode::CREATED, Json(status)).into_response())
}

/// A ticket's status and its department's answer, by number (no text, no place).
#[utoipa::path(get, path = "/api/v1/tickets/{number}", tag = "citizens", params(("number" = String, Path, description = "Ticket number")),
    responses(
        (status = 200, description = "Status", body = Object),
        (status = 400, description = "The path is not a ticket number", body = ErrorBody),
        (status = 404, description = "No such ticket, or governance not configured", body = ErrorBody),
        (status = 422, description = "Not a ticket number", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
pub(crate) async fn ticket_status(State(app): State<App>, Path(number): Path<String>) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    if number.len() > 40 {
        return Err(ApiError::Invalid("number: a ticket number such as T-ABCDE-FGHJK".into()));
    }
    Ok(Json(blocking(move || g.ticket_status(&number)).await?).into_response())
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    answer: Option<String>,
}

/// A department answers a ticket it owns: its new status and an answer the citizen sees.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/answer", tag = "citizens", params(("number" = String, Path, description = "Ticket number")), request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "The ticket's status", body = Object),
        (status = 400, description = "Not JSON of the documented shape", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller, or a session request without its CSRF token", body = ErrorBody),
        (status = 404, description = "No such ticket, or governance not configured", body = ErrorBody),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ErrorBody),
        (status = 422, description = "A field is not acceptable (the message names it)", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
async fn answer_ticket(
    State(app): State<App>,
    Authed(caller): Authed,
    Path(number): Path<String>,
    b: Result<Json<Answer>, JsonRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let a = body(b)?;
    let s = blocking(move || g.answer_ticket(&caller, &number, &a.status, a.answer.as_deref())).await?;
    Ok(Json(s).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct QueueParams {
    /// Department (default: the caller's).
    department: Option<String>,
    /// Most tickets (default 200, at most 2,000).
    #[param(minimum = 0)]
    limit: Option<usize>,
}

/// A department's queue of citizens' tickets, with their text and place (its own staff,
/// or a grantee of the tickets dataset).
#[utoipa::path(get, path = "/api/v1/queue", tag = "citizens", params(QueueParams),
    responses(
        (status = 200, description = "Tickets, newest first", body = [Object]),
        (status = 400, description = "`limit` not a non-negative integer", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Not allowed for this caller (or the public without a department)", body = ErrorBody),
        (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ))]
async fn queue(
    State(app): State<App>,
    Authed(caller): Authed,
    q: Result<Query<QueueParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let Query(q) = q?;
    let dept = q
        .department
        .or_else(|| caller.department.clone())
        .ok_or_else(|| ApiError::Forbidden("queue: authentication required".into()))?;
    let limit = q.limit.unwrap_or(200).clamp(1, 2000);
    Ok(Json(blocking(move || g.queue(&caller, &dept, limit)).await?).into_response())
}

/// Citizens' reports per department: received, open, answered, response times.
#[utoipa::path(get, path = "/api/v1/kpis/tickets", tag = "citizens",
    responses((status = 200, description = "Per department", body = [Object]), (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody)))]
pub(crate) async fn ticket_kpis(State(app): State<App>) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    Ok(Json(blocking(move || g.ticket_kpis()).await?).into_response())
}

/// The data-protection report: personal and restricted data held, by whom, how long.
#[utoipa::path(get, path = "/api/v1/data-protection", tag = "governance",
    responses((status = 200, description = "The report", body = Object), (status = 404, description = "Governance is not configured on this server", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody)))]
pub(crate) async fn data_protection(State(app): State<App>) -> Result<Response, ApiError> {
    let g = gov(&app)?;
    let holdings = app.backend.holdings();
    Ok(Json(blocking(move || g.dp_report(holdings)).await?).into_response())
}

/// The governance and citizens' routes of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    login,
    logout,
    me,
    list_tokens,
    issue_token,
    revoke_token,
    create_account,
    list_grants,
    issue_grant,
    revoke_grant,
    audit,
    catalogue,
    transparency,
    submit_ticket,
    ticket_status,
    answer_ticket,
    queue,
    ticket_kpis,
    data_protection,
))]
pub struct GovDoc;

/// Scopes a session of `role` has (for the dashboard's display).
pub fn session_scopes(role: Role) -> Scopes {
    governance::model::role_scopes(role)
}
