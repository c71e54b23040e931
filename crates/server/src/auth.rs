//! Authentication at the edge: a middleware turns the request's credential (a bearer
//! token, an OpenID Connect JWT, or the dashboard's session cookie) into a
//! [`brain::Caller`] kept in the request's extensions; handlers take it with the
//! [`Authed`] extractor and hand it to the runtime call, where `Brain::authorize`
//! decides. This module decides nothing about access itself.
//!
//! - `Authorization: Bearer cbt_…` (API token) or `Bearer <JWT>` (OIDC, when
//!   configured). A credential that does not authenticate is a 401, never silently the
//!   public.
//! - Cookie `cb_session=<id>`: a dashboard session. A state-changing request (any method
//!   but GET, HEAD, OPTIONS) made with it must carry the session's CSRF token in
//!   `X-CSRF-Token` (403 otherwise); the cookie is HttpOnly and SameSite=Strict besides.
//!   A stale session cookie is the public.
//! - `X-Purpose`: the purpose the caller declares, recorded in the audit.
//! - No credential: [`Caller::anonymous`], the public.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use brain::Caller;
use governance::Governance;

use crate::error::ApiError;
use crate::http::App;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "cb_session";
/// Header carrying the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Header carrying the caller's declared purpose.
pub const PURPOSE_HEADER: &str = "x-purpose";

/// The authenticated caller of a request (the public when there is no credential).
#[derive(Clone, Debug)]
pub struct Authed(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Authed(parts.extensions.get::<Caller>().cloned().unwrap_or_default()))
    }
}

/// The session id of the request's cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == SESSION_COOKIE && !v.is_empty()).then(|| v.to_string())
    })
}

/// Resolve the caller of a request.
pub fn resolve(gov: Option<&Arc<Governance>>, method: &Method, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(gov) = gov else { return Ok(Caller::anonymous()) };
    let purpose = match headers.get(PURPOSE_HEADER) {
        None => None,
        Some(v) => {
            let p = v.to_str().map_err(|_| ApiError::Malformed("X-Purpose: not ASCII".into()))?.trim();
            if p.len() > 200 {
                return Err(ApiError::Invalid("X-Purpose: at most 200 characters".into()));
            }
            (!p.is_empty()).then(|| p.to_string())
        }
    };
    let mut caller = if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| ApiError::Unauthorized("Authorization: not ASCII".into()))?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::Unauthorized("Authorization: expected `Bearer <token>`".into()))?
            .trim();
        let r = if token.starts_with("cbt_") { gov.authenticate_token(token) } else { gov.authenticate_jwt(token) };
        r.map_err(|e| ApiError::Unauthorized(e.to_string()))?
    } else if let Some(id) = session_cookie(headers) {
        match gov.session(&id) {
            Ok((caller, csrf)) => {
                let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
                if !safe {
                    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                    if !governance::secret::ct_eq(sent.as_bytes(), csrf.as_bytes()) {
                        return Err(ApiError::Forbidden("X-CSRF-Token: missing or wrong for this session".into()));
                    }
                }
                caller
            }
            Err(_) => Caller::anonymous(),
        }
    } else {
        Caller::anonymous()
    };
    caller.purpose = purpose;
    Ok(caller)
}

/// The middleware: resolve the caller and keep it in the request's extensions.
pub(crate) async fn authenticate(State(app): State<App>, mut req: Request, next: Next) -> Response {
    match resolve(app.gov.as_ref(), req.method(), req.headers()) {
        Ok(mut caller) => {
            if let Some(dept) = &app.cfg.ngsi_anonymous_as {
                if caller.is_public() && req.uri().path().starts_with("/ngsi-ld/") {
                    caller = ngsi_anonymous(dept, caller.purpose.take());
                }
            }
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The caller an anonymous NGSI-LD request acts as under `HttpConfig::ngsi_anonymous_as`:
/// a service account of that department with read and write scopes (governance still
/// decides each call).
pub fn ngsi_anonymous(dept: &str, purpose: Option<String>) -> Caller {
    Caller {
        principal: format!("ngsi-anonymous@{dept}"),
        department: Some(dept.to_string()),
        role: brain::Role::Service,
        scopes: brain::Scopes::READ.union(brain::Scopes::WRITE),
        purpose,
    }
}
