//! `/api/v1/stream`: a snapshot, then state deltas, as JSON text frames.
//!
//! Limits: the `Origin` must be the served origin or in the allow-list (a request
//! without `Origin`, from a non-browser client, is allowed); at most `ws_max_clients`
//! clients at once (more get 503); inbound messages and frames are capped at
//! `ws_max_message_bytes` (the stream is server to client, so clients only send control
//! frames); a ping every third of the idle timeout keeps a quiet but live client open.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use tokio::sync::broadcast;

use brain::Action;

use crate::api::StreamMessage;
use crate::auth::Authed;
use crate::error::{ApiError, ErrorBody};
use crate::http::{App, Hub};

/// A reserved stream slot; dropping it frees the slot (also when the upgrade never completes).
pub(crate) struct Slot(Arc<Hub>);

impl Slot {
    pub(crate) fn take(hub: &Arc<Hub>, max: usize) -> Option<Slot> {
        hub.ws_clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max as u64).then_some(n + 1))
            .ok()
            .map(|_| Slot(hub.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.ws_clients.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether the request's `Origin` may open the stream: absent, the origin the page was
/// served from (its host equals `Host`), or listed in `allowed`.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().map_err(|_| ApiError::Forbidden("Origin: not ASCII".into()))?.trim();
    let normalised = origin.trim_end_matches('/').to_ascii_lowercase();
    if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&normalised)) {
        return Ok(());
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(|h| h.trim().to_ascii_lowercase());
    let authority = normalised.strip_prefix("http://").or_else(|| normalised.strip_prefix("https://"));
    match (authority, host) {
        (Some(a), Some(h)) if a == h => Ok(()),
        _ => Err(ApiError::Forbidden(format!("Origin {origin:?} may not open the stream (not the served origin nor allowed)"))),
    }
}

/// WebSocket: a snapshot, then state deltas (JSON text frames).
#[utoipa::path(get, path = "/api/v1/stream", tag = "state",
    responses(
        (status = 101, description = "Switching protocols; then `StreamMessage` text frames", body = StreamMessage),
        (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody),
        (status = 401, description = "A credential that does not authenticate", body = ErrorBody),
        (status = 403, description = "Foreign `Origin`, or not allowed for this caller", body = ErrorBody),
        (status = 503, description = "Too many stream clients", body = ErrorBody),
    ))]
pub(crate) async fn stream(
    State(app): State<App>,
    Authed(caller): Authed,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    origin_allowed(&headers, &app.cfg.ws_allowed_origins)?;
    app.backend.authorize(&caller, Action::ReadLive)?;
    let ws = ws.map_err(|e| ApiError::Malformed(format!("not a WebSocket upgrade: {}", e.body_text())))?;
    let slot = Slot::take(&app.hub, app.cfg.ws_max_clients).ok_or_else(|| {
        ApiError::Overloaded(format!("{} stream clients are connected, the maximum; retry later", app.cfg.ws_max_clients))
    })?;
    let max = app.cfg.ws_max_message_bytes;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(16 << 10)
        .write_buffer_size(16 << 10)
        .on_upgrade(move |socket| serve_stream(app, socket, slot)))
}

async fn serve_stream(app: App, mut socket: WebSocket, _slot: Slot) {
    let mut rx = app.hub.tx.subscribe();
    let snapshot = |app: &App| serde_json::to_string(&StreamMessage::Snapshot(app.hub.live().as_ref().clone())).ok();
    if let Some(s) = snapshot(&app) {
        if socket.send(Message::Text(s.into())).await.is_err() {
            return;
        }
    }
    let mut ping = tokio::time::interval((app.cfg.idle_timeout / 3).max(std::time::Duration::from_millis(100)));
    ping.tick().await;
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let text: String = match msg {
                    Ok(t) => t.to_string(),
                    // A slow client missed deltas: resynchronise with a snapshot.
                    Err(broadcast::error::RecvError::Lagged(_)) => match snapshot(&app) { Some(s) => s, None => break },
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    // Over the size limit, a protocol error or a closed socket: drop the client.
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    _ => {}
                }
            }
        }
    }
}
