//! The HTTP front end: one axum fallback handler parses the path, negotiates content and hands
//! the request to the generic [`Rest`] path. No route is specific to a resource.

mod discovery;
pub mod filters;
pub mod metrics;
mod negotiate;
mod openapi;
mod params;
pub mod path;
mod render;
pub mod serve;

use crate::auth::{self, attributes::Attributes, user::UserInfo};
use crate::rest::{DeleteAnswer, PatchType, Rest, Written, encode_json_line};
use crate::status::ApiError;
use crate::table::IncludeObject;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use negotiate::{MAX_BODY, Media, Output, choose_output, content_type, decode_body};
use params::Params;
use path::{ResourcePath, Target};
use render::View;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub use openapi::OpenApiCache;

/// What every request handler shares.
pub struct AppState {
    /// The generic request path.
    pub rest: Rest,
    /// `host:port` clients reach the server at (for `/api`).
    pub server_address: String,
    /// Cached OpenAPI documents.
    pub openapi: OpenApiCache,
    /// Panic recovery, in-flight limits and request deadlines.
    pub filters: filters::Filters,
    /// What `/metrics` serves.
    pub metrics: metrics::Metrics,
    /// Where requests are audited, when they are.
    pub audit: Option<crate::audit::AuditLog>,
}

/// The address a connection comes from, put on each of its requests (the audit log's
/// `sourceIPs`).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Who one request is from and what authorization decided about it (each unset when the
/// request did not get that far): what its audit event records.
#[derive(Default)]
struct Authorized(
    std::sync::OnceLock<(Attributes, auth::rbac::Decision)>,
    std::sync::OnceLock<Identity>,
);

/// The authenticated user of a request and, when it impersonates someone, whom.
struct Identity {
    requester: UserInfo,
    impersonated: Option<UserInfo>,
}

impl Authorized {
    /// Decides whether `user` may do `attrs`, remembers it, and refuses with the 403.
    async fn check(
        &self,
        state: &AppState,
        user: &UserInfo,
        attrs: Attributes,
    ) -> Result<(), ApiError> {
        let decision = auth::decide(&state.rest, user, &attrs).await;
        let refused =
            (!decision.allowed).then(|| attrs.forbidden_because(&user.name, &decision.reason));
        let _ = self.0.set((attrs, decision));
        refused.map_or(Ok(()), Err)
    }
}

/// The router: everything goes through [`handle`].
pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

async fn handle(
    State(state): State<Arc<AppState>>,
    connection: Option<axum::Extension<auth::authn::Connection>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerAddr>>,
    body: Body,
) -> Response {
    let connection = connection.map(|c| c.0).unwrap_or_default();
    let start = std::time::Instant::now();
    let received = chrono::Utc::now();
    let target = path::parse(uri.path()).map(|target| match target {
        Target::Resource(rp) => {
            let resources = state.rest.catalog.snapshot();
            let exists = |r: &str| resources.find(&rp.group, &rp.version, r).is_some();
            Target::Resource(rp.as_namespace_subresource(exists).unwrap_or(rp))
        }
        other => other,
    });
    let authorized = Authorized::default();
    let handler = dispatch(
        &state,
        (&connection, &authorized),
        &method,
        &uri,
        &headers,
        body,
        target.as_ref(),
    );
    let mut failure = None;
    let response = match state.filters.run(&method, &uri, handler).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) | Err(e) => {
            let r = error_response(&e);
            failure = Some(e);
            r
        }
    };
    if let Some(audit) = &state.audit {
        let event = audit_event(AuditedRequest {
            method: &method,
            uri: &uri,
            headers: &headers,
            peer: peer.map(|p| p.0.0),
            target: target.as_ref(),
            authorized: authorized.0.get(),
            identity: authorized.1.get(),
            code: response.status().as_u16(),
            failure: failure.as_ref(),
            received,
            admission: response.extensions().get::<AdmissionAuditAnnotations>(),
        });
        audit.record(&event).await;
    }
    let elapsed = start.elapsed();
    let code = response.status().as_u16();
    let served = match &target {
        // A failed request may name a resource that is not served (a 404, or a 403 from
        // authorization, which comes before routing): such requests are not recorded, which
        // keeps the metrics' label values to what the catalog has served.
        Some(Target::Resource(rp)) if code >= 400 => state
            .rest
            .catalog
            .snapshot()
            .find(&rp.group, &rp.version, &rp.resource)
            .is_some(),
        _ => true,
    };
    state.metrics.record(
        &method,
        &uri,
        &headers,
        target.as_ref(),
        served,
        code,
        elapsed,
    );
    tracing::debug!(%method, %uri, status = code, elapsed_us = elapsed.as_micros() as u64, "request");
    response
}

/// One finished request, as its audit event describes it.
struct AuditedRequest<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    peer: Option<std::net::SocketAddr>,
    target: Option<&'a Target>,
    authorized: Option<&'a (Attributes, auth::rbac::Decision)>,
    identity: Option<&'a Identity>,
    code: u16,
    failure: Option<&'a ApiError>,
    received: chrono::DateTime<chrono::Utc>,
    /// What admission added to the request's audit event.
    admission: Option<&'a AdmissionAuditAnnotations>,
}

/// The audit annotations admission added to a write (webhooks' and policies'), carried by the
/// write's response to its audit event.
#[derive(Debug, Clone)]
struct AdmissionAuditAnnotations(std::collections::BTreeMap<String, String>);

/// `response` with the audit annotations of the write it answers.
fn with_audit_annotations(
    mut response: Response,
    annotations: std::collections::BTreeMap<String, String>,
) -> Response {
    if !annotations.is_empty() {
        response
            .extensions_mut()
            .insert(AdmissionAuditAnnotations(annotations));
    }
    response
}

/// The audit.k8s.io/v1 `Event` (level Metadata) of a request.
fn audit_event(r: AuditedRequest<'_>) -> Value {
    use crate::audit::{micro_time, user_value};
    let attrs = r.authorized.map(|(a, _)| a);
    let verb = match attrs {
        Some(Attributes::Resource(a)) => a.verb.clone(),
        Some(Attributes::NonResource { verb, .. }) => verb.clone(),
        None => r.method.as_str().to_ascii_lowercase(),
    };
    let mut event = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": uuid::Uuid::new_v4().to_string(),
        "stage": if verb == "watch" { "ResponseStarted" } else { "ResponseComplete" },
        "requestURI": r.uri.path_and_query().map(|p| p.as_str()).unwrap_or(r.uri.path()),
        "verb": verb,
        // A request refused by authentication has no user: upstream records the empty one.
        "user": r.identity.map_or_else(|| json!({}), |i| user_value(&i.requester)),
        "sourceIPs": r.peer.map(|p| vec![p.ip().to_string()]).unwrap_or_default(),
    });
    if let Some(user) = r.identity.and_then(|i| i.impersonated.as_ref()) {
        event["impersonatedUser"] = user_value(user);
    }
    if let Some(ua) = r
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        event["userAgent"] = json!(ua);
    }
    if let Some(Target::Resource(rp)) = r.target {
        let mut object = Map::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                object.insert(k.into(), json!(v));
            }
        };
        put("resource", &rp.resource);
        put("namespace", rp.namespace.as_deref().unwrap_or(""));
        put("name", rp.name.as_deref().unwrap_or(""));
        put("apiGroup", &rp.group);
        put("apiVersion", &rp.version);
        put("subresource", rp.subresource.as_deref().unwrap_or(""));
        event["objectRef"] = Value::Object(object);
    }
    event["responseStatus"] = match r.failure {
        Some(e) => json!({"metadata": {}, "status": "Failure", "message": e.message,
            "reason": e.reason, "code": r.code}),
        None => json!({"metadata": {}, "code": r.code}),
    };
    event["requestReceivedTimestamp"] = json!(micro_time(r.received));
    event["stageTimestamp"] = json!(micro_time(chrono::Utc::now()));
    if let Some((_, d)) = r.authorized {
        event["annotations"] = json!({
            "authorization.k8s.io/decision": if d.allowed { "allow" } else { "forbid" },
            "authorization.k8s.io/reason": d.reason,
        });
    }
    if let Some(AdmissionAuditAnnotations(admission)) = r.admission {
        if !event["annotations"].is_object() {
            event["annotations"] = json!({});
        }
        for (key, value) in admission {
            event["annotations"][key] = json!(value);
        }
    }
    event
}

/// Renders an error as a `Status` response, with the warnings and audit annotations admission
/// gave before refusing.
pub fn error_response(err: &ApiError) -> Response {
    let body = serde_json::to_vec(&err.to_status()).unwrap_or_default();
    let mut resp = (
        err.status_code(),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Some(secs) = err.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    match &err.admission {
        Some(notes) => {
            add_warnings(&mut resp, &notes.warnings);
            with_audit_annotations(resp, notes.audit_annotations.clone())
        }
        None => resp,
    }
}

/// Renders `value` in the negotiated encoding, with `Warning` headers.
fn respond(status: StatusCode, value: &Value, output: Output, warnings: &[String]) -> Response {
    let (ct, body) = match output.media {
        Media::Yaml => (
            "application/yaml",
            serde_norway::to_string(value)
                .map(String::into_bytes)
                .unwrap_or_default(),
        ),
        Media::Protobuf => match crate::protobuf::encode(value) {
            Ok(body) => (crate::protobuf::CONTENT_TYPE, body),
            // Only objects of a kind with an encoding are negotiated to protobuf; should one
            // still fail, JSON (which every client-go client accepts too) beats no answer.
            Err(e) => {
                tracing::warn!(error = %e, "protobuf response fell back to JSON");
                (
                    "application/json",
                    serde_json::to_vec(value).unwrap_or_default(),
                )
            }
        },
        Media::Json => {
            // Sized for a typical object up front: growing from serde_json's default of 128
            // bytes costs several copies per response.
            let mut body = Vec::with_capacity(1024);
            match serde_json::to_writer(&mut body, value) {
                Ok(()) => ("application/json", body),
                Err(_) => ("application/json", Vec::new()),
            }
        }
    };
    let mut resp = (status, [(header::CONTENT_TYPE, ct)], body).into_response();
    add_warnings(&mut resp, warnings);
    resp
}

/// Adds a `Warning` header (`299 - "<text>"`) per warning.
fn add_warnings(resp: &mut Response, warnings: &[String]) {
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(h) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, h);
        }
    }
}

fn bytes_response(bytes: Bytes) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY))
}

/// Bodies from this size on are decoded where blocking is allowed: decoding a large YAML or
/// protobuf body takes long enough to stall the other requests of a runtime thread.
const DECODE_OFF_THREAD: usize = 64 * 1024;

/// Reads and decodes an object body that should be a `kind`.
async fn read_object(ct: &str, body: Body, kind: &str) -> Result<Value, ApiError> {
    let bytes = read_body(body).await?;
    off_thread(bytes.len(), || decode_body(ct, &bytes)).map_err(|e| unrecognized(e, kind, &bytes))
}

/// A body that could not be decoded at all, as kube-apiserver's `transformDecodeError` reports
/// it when the body names no kind: `the object provided is unrecognized (must be of type
/// Namespace): <decode error> (<the body's first 30 bytes>)`.
fn unrecognized(mut err: ApiError, kind: &str, body: &[u8]) -> ApiError {
    if err.code != 400 {
        return err;
    }
    if body.is_empty() {
        err.message =
            "couldn't get version/kind; json parse error: unexpected end of JSON input".into();
    }
    err.message = format!(
        "the object provided is unrecognized (must be of type {kind}): {} ({})",
        err.message,
        summarize(body)
    );
    err
}

/// apimachinery's `summarizeData(body, 30)`: a JSON object's first 30 bytes as text, anything
/// else in hex, ` ...` when cut.
fn summarize(body: &[u8]) -> String {
    const MAX: usize = 30;
    let head = &body[..body.len().min(MAX)];
    let more = if body.len() > MAX { " ..." } else { "" };
    match body.first() {
        None => "<empty>".into(),
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(head)),
        Some(_) => {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}{more}")
        }
    }
}

/// Runs CPU-heavy work of `size` bytes of input so that it does not hold up the runtime thread
/// it is called on: on a multi-threaded runtime, the thread's other tasks move to another
/// thread while it runs (`block_in_place`); small inputs and single-threaded runtimes (tests)
/// run it in place.
pub(crate) fn off_thread<T>(size: usize, work: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if size >= DECODE_OFF_THREAD && multi_thread {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// Authenticates, authorizes and serves one request; `(connection, authorized)` are where it
/// came in and the record of who it is from and what was decided.
async fn dispatch(
    state: &AppState,
    (connection, authorized): (&auth::authn::Connection, &Authorized),
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    target: Option<&Target>,
) -> Result<Response, ApiError> {
    // Authentication comes first, as in kube-apiserver's filter chain: bad credentials get a
    // 401 whatever the path.
    let requester = state
        .rest
        .authenticator
        .authenticate(&state.rest, headers, connection)?;
    let user = auth::impersonation::acting_as(&state.rest, requester.clone(), headers).await?;
    let impersonated = headers
        .contains_key("impersonate-user")
        .then(|| user.clone());
    let _ = authorized.1.set(Identity {
        requester,
        impersonated,
    });
    let target = target.ok_or_else(ApiError::not_found_path)?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !matches!(target, Target::Resource(_)) {
        authorized
            .check(state, &user, Attributes::of_path(method, uri.path()))
            .await?;
    }
    let resources = state.rest.catalog.snapshot();
    let only_get = |resp: Value| -> Result<Response, ApiError> {
        if *method != Method::GET {
            return Err(ApiError::method_not_allowed_here());
        }
        Ok(respond(StatusCode::OK, &resp, Output::JSON, &[]))
    };
    match target {
        Target::Version => only_get(version()),
        Target::Health => Ok((StatusCode::OK, "ok").into_response()),
        Target::OpenIdConfiguration => only_get(
            state
                .rest
                .authenticator
                .service_accounts
                .openid_configuration(&state.server_address),
        ),
        Target::Jwks => {
            let mut resp = only_get(state.rest.authenticator.service_accounts.jwks())?;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            Ok(resp)
        }
        Target::Metrics => {
            if *method != Method::GET {
                return Err(ApiError::method_not_allowed_here());
            }
            let text = state.metrics.render(state);
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
                text,
            )
                .into_response())
        }
        Target::CoreGroups | Target::Groups => {
            let core = *target == Target::CoreGroups;
            if let Some(v) = discovery::wants_aggregated(accept) {
                let doc = discovery::aggregated(&resources, core, v);
                let ct = format!(
                    "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
                );
                let mut resp = only_get(doc)?;
                if let Ok(h) = HeaderValue::from_str(&ct) {
                    resp.headers_mut().insert(header::CONTENT_TYPE, h);
                }
                resp.headers_mut()
                    .insert(header::VARY, HeaderValue::from_static("Accept"));
                return Ok(resp);
            }
            if core {
                only_get(discovery::core_versions(&state.server_address))
            } else {
                only_get(discovery::group_list(&resources))
            }
        }
        Target::Group(g) => {
            only_get(discovery::group(&resources, g).ok_or_else(ApiError::not_found_path)?)
        }
        Target::ResourceList { group, version } => only_get(
            discovery::resource_list(&resources, group, version)
                .ok_or_else(ApiError::not_found_path)?,
        ),
        Target::OpenApiV2 => state.openapi.v2(&state.rest, accept),
        Target::OpenApiV3Root => state.openapi.v3_root(&state.rest),
        Target::OpenApiV3 { group, version } => {
            state.openapi.v3_document(&state.rest, group, version)
        }
        Target::Resource(rp) => {
            resource(state, (&user, authorized), method, uri, headers, body, rp).await
        }
    }
}

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": concat!("v1.33.0+kubeforge.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "kubeforge",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
    })
}

async fn resource(
    state: &AppState,
    (user, authorized): (&UserInfo, &Authorized),
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    rp: &ResourcePath,
) -> Result<Response, ApiError> {
    let params = Params::for_request(method, uri.query());
    // Authorization comes before routing, as in kube-apiserver's filter chain: a user who may
    // not list a resource learns nothing about whether it exists.
    let attrs = Attributes::of_resource(method, rp, params.is_watch()?);
    authorized.check(state, user, attrs).await?;
    let resources = state.rest.catalog.snapshot();
    let rt = resources
        .find(&rp.group, &rp.version, &rp.resource)
        .ok_or_else(ApiError::not_found_path)?;
    if rp.namespace.is_some() && !rt.namespaced {
        return Err(ApiError::not_found_path());
    }
    if rt.namespaced && rp.namespace.is_none() {
        // Across all namespaces a namespaced resource is only listed and watched: there is no
        // route for one object, and creating or deleting a collection needs a namespace.
        if rp.name.is_some() {
            return Err(ApiError::not_found_path());
        }
        if *method != Method::GET {
            return Err(ApiError::method_not_allowed_here());
        }
    }
    let output = choose_output(
        headers,
        crate::protobuf::supports(&rt.api_version(), &rt.kind),
    )?;
    if let Some(answer) = rt.answer {
        if *method != Method::POST || rp.name.is_some() {
            return Err(ApiError::method_not_allowed_here());
        }
        let value = read_object(&content_type(headers), body, &rt.kind).await?;
        let review = crate::resource::Review {
            rest: &state.rest,
            user,
            rt: &rt,
            namespace: rp.namespace.as_deref(),
            object: rt.strategy.decode(value)?.value,
        };
        let answer = answer(review).await?;
        return Ok(respond(StatusCode::CREATED, &answer, output, &[]));
    }
    if rt.read_only && *method != Method::GET {
        return Err(ApiError::method_not_allowed_here());
    }
    let include =
        IncludeObject::parse(params.get("includeObject")).map_err(ApiError::bad_request)?;
    let view = View {
        output,
        include,
        rt: &rt,
    };
    let rest = &state.rest;
    let ns = rp.namespace.as_deref();
    let ct = content_type(headers);
    // Options of a write, with the user admission reports.
    let write_options =
        || -> Result<crate::rest::WriteOptions, ApiError> { Ok(params.write(headers)?.by(user)) };
    let delete_options = |body: Option<&Value>| -> Result<crate::rest::DeleteOptions, ApiError> {
        let mut opts = params.delete(body)?;
        opts.user = Some(Arc::new(user.clone()));
        Ok(opts)
    };
    let written = |w: Written| {
        let status = if w.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(with_audit_annotations(
            respond(status, &view.object(w.object), output, &w.warnings),
            w.audit_annotations,
        ))
    };
    match (&rp.name, rp.subresource.as_deref()) {
        (None, _) => match *method {
            Method::GET if params.is_watch()? => {
                watch(
                    state,
                    rt.clone(),
                    rp.namespace.clone(),
                    &params,
                    output,
                    include,
                )
                .await
            }
            Method::GET => list(state, &view, ns, &params).await,
            Method::POST => {
                let opts = write_options()?;
                let value = read_object(&ct, body, &rt.kind).await?;
                written(rest.create(&rt, ns, value, &opts).await?)
            }
            Method::DELETE => {
                let bytes = read_body(body).await?;
                let del_body = if bytes.is_empty() {
                    None
                } else {
                    Some(decode_body(&ct, &bytes)?)
                };
                let opts = delete_options(del_body.as_ref())?;
                let deleted = rest
                    .delete_collection(&rt, ns, &params.list()?, &opts)
                    .await?;
                Ok(respond(
                    StatusCode::OK,
                    &view.list(deleted, json!({})),
                    output,
                    &[],
                ))
            }
            _ => Err(ApiError::method_not_allowed_here()),
        },
        (Some(name), None) => match *method {
            Method::GET => {
                let obj = rest.get_consistent(&rt, ns, name).await?;
                if view.is_plain_json() && !crate::rest::rewrites_on_read(&rt) {
                    return Ok(bytes_response(obj.json.clone()));
                }
                let v = rest.served(&rt, obj.value()).await?;
                Ok(respond(StatusCode::OK, &view.object(v), output, &[]))
            }
            Method::PUT => {
                let opts = write_options()?;
                let value = read_object(&ct, body, &rt.kind).await?;
                written(rest.update(&rt, ns, name, value, &opts, None).await?)
            }
            Method::PATCH => {
                let patch_type = PatchType::for_resource(&rt, &ct)?;
                let opts = write_options()?;
                let bytes = read_body(body).await?;
                written(
                    rest.patch(&rt, ns, name, patch_type, &bytes, &opts, None)
                        .await?,
                )
            }
            Method::DELETE => {
                let bytes = read_body(body).await?;
                let del_body = if bytes.is_empty() {
                    None
                } else {
                    Some(decode_body(&ct, &bytes)?)
                };
                let opts = delete_options(del_body.as_ref())?;
                let deleted = rest.delete(&rt, ns, name, &opts).await?;
                let warnings = deleted.effects.warnings.clone();
                let annotations = deleted.effects.audit_annotations.clone();
                let body = match deleted.answer(&rt) {
                    DeleteAnswer::Object(object) => view.object(object),
                    DeleteAnswer::Status(status) => status,
                };
                Ok(with_audit_annotations(
                    respond(StatusCode::OK, &body, output, &warnings),
                    annotations,
                ))
            }
            _ => Err(ApiError::method_not_allowed_here()),
        },
        // `status`, and the subresources of the object's own kind that answer like it.
        (Some(name), Some(sub))
            if (sub == "status" && rt.status)
                || rt.strategy.object_subresources().contains(&sub) =>
        {
            match *method {
                // As upstream's StatusREST, the resource's table convertor prints it.
                Method::GET => Ok(respond(
                    StatusCode::OK,
                    &view.object({
                        let obj = rest.get_consistent(&rt, ns, name).await?;
                        rest.served(&rt, obj.value()).await?
                    }),
                    output,
                    &[],
                )),
                Method::PUT => {
                    let opts = write_options()?;
                    let value = read_object(&ct, body, &rt.kind).await?;
                    written(rest.update(&rt, ns, name, value, &opts, Some(sub)).await?)
                }
                Method::PATCH => {
                    let patch_type = PatchType::for_resource(&rt, &ct)?;
                    let opts = write_options()?;
                    let bytes = read_body(body).await?;
                    written(
                        rest.patch(&rt, ns, name, patch_type, &bytes, &opts, Some(sub))
                            .await?,
                    )
                }
                _ => Err(ApiError::method_not_allowed_here()),
            }
        }
        (Some(name), Some("scale")) if rt.scale.is_some() => match *method {
            Method::GET => Ok(respond(
                StatusCode::OK,
                &rest.get_scale(&rt, ns, name).await?,
                output,
                &[],
            )),
            Method::PUT => {
                let opts = write_options()?;
                let value = read_object(&ct, body, "Scale").await?;
                if value.get("spec").is_none_or(|s| !s.is_object()) {
                    return Err(ApiError::bad_request(
                        "a Scale object with spec.replicas is required",
                    ));
                }
                let w = rest
                    .write_scale(&rt, ns, name, &opts, |_| Ok(value.clone()))
                    .await?;
                Ok(respond(StatusCode::OK, &w.object, output, &w.warnings))
            }
            Method::PATCH => {
                let patch_type = PatchType::for_resource(&rt, &ct)?;
                let opts = write_options()?;
                let bytes = read_body(body).await?;
                let w = rest
                    .write_scale(&rt, ns, name, &opts, |scale| {
                        crate::rest::patch_value(scale, patch_type, &bytes)
                    })
                    .await?;
                Ok(respond(StatusCode::OK, &w.object, output, &w.warnings))
            }
            _ => Err(ApiError::method_not_allowed_here()),
        },
        (Some(name), Some(sub)) if rt.strategy.replace_subresources().contains(&sub) => {
            match *method {
                Method::PUT => {
                    let opts = write_options()?;
                    let value = read_object(&ct, body, &rt.kind).await?;
                    written(rest.update(&rt, ns, name, value, &opts, Some(sub)).await?)
                }
                _ => Err(ApiError::method_not_allowed_here()),
            }
        }
        (Some(name), Some(sub))
            if rt
                .strategy
                .create_subresources()
                .iter()
                .any(|s| s.name == sub) =>
        {
            match *method {
                Method::POST => {
                    let opts = write_options()?;
                    let (_, _, kind) = rt
                        .strategy
                        .create_subresources()
                        .iter()
                        .find(|s| s.name == sub)
                        .map_or(("", "", ""), |s| s.kind);
                    let value = read_object(&ct, body, kind).await?;
                    let (code, answer, warnings) = rest
                        .create_subresource(&rt, ns, name, sub, value, &opts)
                        .await?;
                    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::CREATED);
                    Ok(respond(status, &answer, output, &warnings))
                }
                _ => Err(ApiError::method_not_allowed_here()),
            }
        }
        (Some(_), Some(_)) => Err(ApiError::not_found_path()),
    }
}

async fn list(
    state: &AppState,
    view: &View<'_>,
    ns: Option<&str>,
    params: &Params,
) -> Result<Response, ApiError> {
    let rt = view.rt;
    let opts = params.list()?;
    let result = state.rest.list(rt, ns, &opts).await?;
    let mut meta = json!({"resourceVersion": result.resource_version.to_string()});
    if let Some(c) = &result.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(r) = result.remaining {
        meta["remainingItemCount"] = json!(r);
    }
    if view.is_plain_json() && !crate::rest::rewrites_on_read(rt) {
        let head = json!({"kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": meta});
        let mut out = serde_json::to_vec(&head).unwrap_or_default();
        // Sized once: the items are most of the body.
        let items: usize = result.items.iter().map(|o| o.json.len() + 1).sum();
        out.reserve(items + 16);
        out.pop();
        out.extend_from_slice(b",\"items\":[");
        for (i, item) in result.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&item.json);
        }
        out.extend_from_slice(b"]}");
        return Ok(bytes_response(Bytes::from(out)));
    }
    if view.is_plain_protobuf() && !crate::rest::rewrites_on_read(rt) {
        let items = result.items.iter().map(|o| o.value());
        match crate::protobuf::encode_list(&rt.api_version(), &rt.list_kind, &meta, items) {
            Ok(body) => {
                return Ok((
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, crate::protobuf::CONTENT_TYPE)],
                    body,
                )
                    .into_response());
            }
            // As for one object: should it fail, the general path answers (JSON at worst).
            Err(e) => tracing::warn!(error = %e, "protobuf list fell back to the general path"),
        }
    }
    let items = state
        .rest
        .served_items(rt, result.items.iter().map(|o| o.value()).collect())
        .await?;
    Ok(respond(
        StatusCode::OK,
        &view.list(items, meta),
        view.output,
        &[],
    ))
}

/// One watch event in the negotiated stream encoding: a JSON line, or a length-prefixed
/// protobuf frame.
fn watch_frame(event_type: &str, object: &Value, output: Output) -> Bytes {
    if output.media == Media::Protobuf {
        match crate::protobuf::encode(object) {
            Ok(body) => return Bytes::from(crate::protobuf::watch_frame(event_type, &body)),
            // The stream's type is promised; an object that cannot be encoded goes out as
            // JSON inside the frame (as upstream's RawExtension may hold JSON).
            Err(e) => {
                tracing::warn!(error = %e, "watch event not encodable as protobuf");
                let body = serde_json::to_vec(object).unwrap_or_default();
                return Bytes::from(crate::protobuf::watch_frame(event_type, &body));
            }
        }
    }
    let mut line =
        serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

async fn watch(
    state: &AppState,
    rt: Arc<crate::resource::ResourceType>,
    namespace: Option<String>,
    params: &Params,
    output: Output,
    include: IncludeObject,
) -> Result<Response, ApiError> {
    let opts = params.watch()?;
    let rx = state.rest.watch(rt.clone(), namespace, opts).await?;
    let counted = Arc::new(state.metrics.watch(&rt.group, &rt.version, &rt.kind));
    let stream = futures::stream::unfold((rx, true), move |(mut rx, first)| {
        let rt = rt.clone();
        let counted = counted.clone();
        async move {
            let event = rx.recv().await?;
            counted.event();
            let view = View {
                output,
                include,
                rt: &rt,
            };
            let shared = event
                .source
                .as_ref()
                .filter(|_| view.is_plain_protobuf())
                .and_then(|source| {
                    source
                        .protobuf
                        .get_or_init(|| {
                            let obj: Value = serde_json::from_slice(&event.object).ok()?;
                            crate::protobuf::encode(&obj).ok().map(Bytes::from)
                        })
                        .clone()
                });
            let (line, still_first) = if view.is_plain_json() {
                // An event sent as stored, with its own type: one line for every JSON watch.
                let line = match &event.source {
                    Some(source) if source.event_type.as_str() == event.event_type => source
                        .json_line
                        .get_or_init(|| encode_json_line(&event))
                        .clone(),
                    _ => encode_json_line(&event),
                };
                (line, first)
            } else if let Some(body) = shared {
                // Encoded once for every protobuf watch of this event.
                let frame = crate::protobuf::watch_frame(event.event_type, &body);
                (Bytes::from(frame), false)
            } else {
                let obj: Value = serde_json::from_slice(&event.object).unwrap_or(Value::Null);
                let shown = view.watch_object(event.event_type, obj, first);
                let consumed = !matches!(event.event_type, "ERROR" | "BOOKMARK");
                (
                    watch_frame(event.event_type, &shown, output),
                    first && !consumed,
                )
            };
            Some((
                Ok::<Bytes, std::convert::Infallible>(line),
                (rx, still_first),
            ))
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let content_type = match output.media {
        Media::Protobuf => crate::protobuf::WATCH_CONTENT_TYPE,
        // As upstream, a watch is JSON lines when YAML was asked for.
        Media::Json | Media::Yaml => "application/json",
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}
