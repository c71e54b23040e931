//! The NGSI-LD routes under `/ngsi-ld/v1`. Each handler hands the request (caller,
//! `NGSILD-Tenant`, `Link`, `Content-Type`, `Accept`, query string, body) to one call of
//! the [`ngsi::Ngsi`] capability, which authorises through `Brain::authorize`, and turns
//! its answer into HTTP. Errors are the spec's ProblemDetails; nothing here decides access.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ngsi::batch::Kind;
use ngsi::{Ngsi, NgsiError, Out, Req};

use crate::auth::Authed;
use crate::http::App;

/// The routes, nested under `/ngsi-ld/v1` by the router.
pub(crate) fn routes() -> Router<App> {
    use axum::routing::MethodRouter;
    let table: Vec<(&str, MethodRouter<App>)> = vec![
        ("/entities", get(query_entities).post(create_entity).delete(purge).put(no_entity_id).patch(no_entity_id)),
        ("/entities/{id}", get(retrieve_entity).delete(delete_entity).put(replace_entity).patch(merge_entity)),
        ("/entities/{id}/attrs", post(append_attrs).patch(update_attrs)),
        ("/entities/{id}/attrs/{attr}", axum::routing::patch(patch_attr).put(replace_attr).delete(delete_attr)),
        ("/entityOperations/{op}", post(batch)),
        ("/subscriptions", get(query_subs).post(create_sub)),
        ("/subscriptions/{id}", get(retrieve_sub).patch(update_sub).delete(delete_sub)),
        ("/types", get(types)),
        ("/types/{t}", get(type_info)),
        ("/attributes", get(attributes)),
        ("/attributes/{a}", get(attribute_info)),
        ("/temporal/entities", get(temporal_query).post(temporal_create)),
        ("/temporal/entities/{id}", get(temporal_retrieve).delete(temporal_delete)),
        ("/temporal/entities/{id}/attrs", post(temporal_append)),
        ("/temporal/entityOperations/query", post(temporal_query_post)),
        ("/temporal/entities/{id}/attrs/{attr}", axum::routing::delete(temporal_delete_attr)),
        (
            "/temporal/entities/{id}/attrs/{attr}/{instance}",
            axum::routing::patch(temporal_patch_instance).delete(temporal_delete_instance),
        ),
        ("/csourceRegistrations", get(query_regs).post(create_reg)),
        ("/csourceRegistrations/{id}", get(retrieve_reg).patch(update_reg).delete(delete_reg)),
        ("/csourceSubscriptions", get(query_csr_subs).post(csr_subs_unsupported)),
        ("/csourceSubscriptions/{id}", get(csr_sub).patch(csr_sub).delete(csr_sub)),
        ("/jsonldContexts", get(list_contexts).post(add_context)),
        ("/jsonldContexts/{id}", get(serve_context).delete(delete_context)),
    ];
    let mut r = Router::new();
    // Clients write collection URLs with and without a trailing slash.
    for (path, m) in table {
        r = r.route(path, m.clone()).route(&format!("{path}/"), m);
    }
    r.fallback(not_found)
}

async fn not_found() -> Response {
    to_response(Out::error(&NgsiError::not_found("no such NGSI-LD resource")))
}

fn hdr(h: &HeaderMap, name: &str) -> Option<String> {
    let v: Vec<&str> = h.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    (!v.is_empty()).then(|| v.join(","))
}

fn to_response(out: Out) -> Response {
    let status = StatusCode::from_u16(out.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = match &out.body {
        Some(b) => {
            let text = serde_json::to_string(b).unwrap_or_default();
            let mut r = Response::new(Body::from(text));
            if let Ok(v) = HeaderValue::from_str(&out.content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        None => Response::new(Body::empty()),
    };
    *r.status_mut() = status;
    for (k, v) in &out.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

/// Read the request, run `f` on the blocking pool, answer.
async fn run(
    app: App,
    caller: brain::Caller,
    req: Request,
    f: impl FnOnce(&Ngsi, &Req, &[u8]) -> Result<Out, NgsiError> + Send + 'static,
) -> Response {
    let Some(svc) = app.backend.ngsi() else {
        return to_response(Out::error(&NgsiError::OperationNotSupported("the NGSI-LD capability is not running".into())));
    };
    let h = req.headers().clone();
    let r = Req {
        caller,
        tenant: hdr(&h, "ngsild-tenant"),
        link: hdr(&h, "link"),
        content_type: hdr(&h, "content-type"),
        accept: hdr(&h, "accept"),
        query: req.uri().query().map(str::to_string),
    };
    let limit = app.cfg.max_body_bytes;
    let body: Bytes = match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, to_response(Out::error(&NgsiError::bad(format!("body over {limit} bytes")))))
                .into_response()
        }
    };
    let svc: Arc<Ngsi> = svc;
    let out = tokio::task::spawn_blocking(move || match f(&svc, &r, &body) {
        Ok(o) => o,
        Err(e) => Out::error(&e),
    })
    .await
    .unwrap_or_else(|_| Out::error(&NgsiError::Unavailable("the call failed".into())));
    to_response(out)
}

macro_rules! h0 {
    ($name:ident, |$n:ident, $r:ident, $b:ident| $body:expr) => {
        async fn $name(State(app): State<App>, Authed(caller): Authed, req: Request) -> Response {
            run(app, caller, req, move |$n, $r, $b| {
                let _ = &$b;
                $body
            })
            .await
        }
    };
}
macro_rules! h1 {
    ($name:ident, |$n:ident, $r:ident, $b:ident, $p:ident| $body:expr) => {
        async fn $name(State(app): State<App>, Authed(caller): Authed, Path($p): Path<String>, req: Request) -> Response {
            run(app, caller, req, move |$n, $r, $b| {
                let _ = &$b;
                $body
            })
            .await
        }
    };
}
macro_rules! h2 {
    ($name:ident, |$n:ident, $r:ident, $b:ident, $p:ident, $q:ident| $body:expr) => {
        async fn $name(
            State(app): State<App>,
            Authed(caller): Authed,
            Path(($p, $q)): Path<(String, String)>,
            req: Request,
        ) -> Response {
            run(app, caller, req, move |$n, $r, $b| {
                let _ = &$b;
                $body
            })
            .await
        }
    };
}

macro_rules! h3 {
    ($name:ident, |$n:ident, $r:ident, $b:ident, $p:ident, $q:ident, $s:ident| $body:expr) => {
        async fn $name(
            State(app): State<App>,
            Authed(caller): Authed,
            Path(($p, $q, $s)): Path<(String, String, String)>,
            req: Request,
        ) -> Response {
            run(app, caller, req, move |$n, $r, $b| {
                let _ = &$b;
                $body
            })
            .await
        }
    };
}

h0!(no_entity_id, |n, r, b| {
    let _ = n;
    let _ = r;
    Err(NgsiError::bad("an entity id is needed in the path: /entities/{id}"))
});
h0!(query_entities, |n, r, b| n.query_entities(r));
h0!(create_entity, |n, r, b| n.create_entity(r, b));
h0!(purge, |n, r, b| n.purge_entities(r));
h1!(retrieve_entity, |n, r, b, id| n.retrieve_entity(r, &id));
h1!(delete_entity, |n, r, b, id| n.delete_entity(r, &id));
h1!(replace_entity, |n, r, b, id| n.replace_entity(r, &id, b));
h1!(merge_entity, |n, r, b, id| n.merge_entity(r, &id, b));
h1!(append_attrs, |n, r, b, id| n.append_attrs(r, &id, b));
h1!(update_attrs, |n, r, b, id| n.update_attrs(r, &id, b));
h2!(patch_attr, |n, r, b, id, a| n.patch_attr(r, &id, &a, b));
h2!(replace_attr, |n, r, b, id, a| n.replace_attr(r, &id, &a, b));
h2!(delete_attr, |n, r, b, id, a| n.delete_attr(r, &id, &a));
h1!(batch, |n, r, b, op| match op.as_str() {
    "create" => n.batch_write(r, b, Kind::Create),
    "upsert" => n.batch_write(r, b, Kind::Upsert),
    "update" => n.batch_write(r, b, Kind::Update),
    "merge" => n.batch_write(r, b, Kind::Merge),
    "delete" => n.batch_delete(r, b),
    "query" => n.batch_query(r, b),
    other => Err(NgsiError::not_found(format!("no entity operation {other:?}"))),
});
h0!(query_subs, |n, r, b| n.query_subscriptions(r));
h0!(create_sub, |n, r, b| n.create_subscription(r, b));
h1!(retrieve_sub, |n, r, b, id| n.retrieve_subscription(r, &id));
h1!(update_sub, |n, r, b, id| n.update_subscription(r, &id, b));
h1!(delete_sub, |n, r, b, id| n.delete_subscription(r, &id));
h0!(types, |n, r, b| n.types(r));
h1!(type_info, |n, r, b, t| n.type_info(r, &t));
h0!(attributes, |n, r, b| n.attributes(r));
h1!(attribute_info, |n, r, b, a| n.attribute_info(r, &a));
h0!(temporal_query, |n, r, b| n.temporal_query(r));
h1!(temporal_retrieve, |n, r, b, id| n.temporal_retrieve(r, &id));
h0!(temporal_query_post, |n, r, b| n.temporal_query_post(r, b));
h0!(temporal_create, |n, r, b| n.temporal_create(r, b));
h1!(temporal_delete, |n, r, b, id| n.temporal_delete(r, &id));
h1!(temporal_append, |n, r, b, id| n.temporal_append(r, &id, b));
h2!(temporal_delete_attr, |n, r, b, id, a| n.temporal_delete_attr(r, &id, &a));
h3!(temporal_patch_instance, |n, r, b, id, a, i| n.temporal_patch_instance(r, &id, &a, &i, b));
h3!(temporal_delete_instance, |n, r, b, id, a, i| n.temporal_delete_instance(r, &id, &a, &i));
h0!(list_contexts, |n, r, b| n.list_contexts(r));
h0!(add_context, |n, r, b| n.add_context(r, b));
h1!(serve_context, |n, r, b, id| n.serve_context(r, &id));
h1!(delete_context, |n, r, b, id| n.delete_context(r, &id));
h0!(query_regs, |n, r, b| n.query_regs(r));
h0!(create_reg, |n, r, b| n.create_reg(r, b));
h1!(retrieve_reg, |n, r, b, id| n.retrieve_reg(r, &id));
h1!(update_reg, |n, r, b, id| n.update_reg(r, &id, b));
h1!(delete_reg, |n, r, b, id| n.delete_reg(r, &id));
h0!(query_csr_subs, |n, r, b| n.query_csr_subs(r));
h0!(csr_subs_unsupported, |n, r, b| n.csr_subs_unsupported(r));
h1!(csr_sub, |n, r, b, id| n.csr_sub(r, &id));
