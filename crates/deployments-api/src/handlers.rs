//! The routes. Writes answer `Success!` (plain text, as the talk does) unless the client accepts
//! `application/json`, then the Deployment's [`summary`]. Updates are optimistic: read, change,
//! write with the resourceVersion read; a 409 Conflict (someone wrote in between) starts over,
//! at most [`Settings::conflict_retries`](crate::Settings::conflict_retries) times.

use crate::AppState;
use crate::access::check_namespace;
use crate::deployment::{apply_update, new_deployment, summary};
use crate::error::{ApiError, json_body};
use crate::request::{DeploymentRequest, Operation, dns_label_problem};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Whether the client asked for JSON (`Accept: application/json`).
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            let media = media.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/json")
        })
}

/// A write's answer: `Success!` or `json`.
fn success(status: StatusCode, headers: &HeaderMap, json: Value) -> Response {
    if wants_json(headers) {
        (status, json_body(&json)).into_response()
    } else {
        (status, "Success!\n").into_response()
    }
}

fn deployments(state: &AppState, namespace: &str) -> Api<Deployment> {
    Api::namespaced(state.client.clone(), namespace)
}

/// `POST /deployment/create`: 201.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = DeploymentRequest::parse(&body, Operation::Create)?;
    check_namespace(&state, &request.namespace)?;
    let created = deployments(&state, &request.namespace)
        .create(&PostParams::default(), &new_deployment(&request))
        .await?;
    tracing::info!(
        namespace = request.namespace,
        name = request.name,
        "created"
    );
    Ok(success(StatusCode::CREATED, &headers, summary(&created)))
}

/// `PUT /deployment/update`: 200, after at most `conflict_retries` retries on conflicts.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = DeploymentRequest::parse(&body, Operation::Update)?;
    check_namespace(&state, &request.namespace)?;
    let api = deployments(&state, &request.namespace);
    let attempts = state.settings.conflict_retries + 1;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut deployment = api.get(&request.name).await?;
        apply_update(&mut deployment, &request);
        match api
            .replace(&request.name, &PostParams::default(), &deployment)
            .await
            .map_err(ApiError::from)
        {
            Ok(updated) => {
                tracing::info!(
                    namespace = request.namespace,
                    name = request.name,
                    attempt,
                    "updated"
                );
                return Ok(success(StatusCode::OK, &headers, summary(&updated)));
            }
            Err(conflict) if conflict.is_conflict() => {
                if attempt >= attempts {
                    return Err(ApiError::conflict_after(attempts, &conflict.message));
                }
                tracing::debug!(attempt, "conflict; reading again");
                tokio::time::sleep(state.settings.retry_step * attempt).await;
            }
            Err(other) => return Err(other),
        }
    }
}

/// `DELETE /deployment/delete`: 200; its ReplicaSets and Pods are deleted in the background.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = DeploymentRequest::parse(&body, Operation::Delete)?;
    check_namespace(&state, &request.namespace)?;
    deployments(&state, &request.namespace)
        .delete(&request.name, &DeleteParams::background())
        .await?;
    tracing::info!(
        namespace = request.namespace,
        name = request.name,
        "deleted"
    );
    Ok(success(
        StatusCode::OK,
        &headers,
        json!({"namespace": request.namespace, "name": request.name, "deleted": true}),
    ))
}

/// `GET /deployments[?namespace=]`: `{"items": [summary...]}`, sorted by namespace and name;
/// without a namespace, every namespace the service may see.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut items: Vec<Deployment> = match query.get("namespace").filter(|n| !n.is_empty()) {
        Some(namespace) => {
            if let Some(reason) = dns_label_problem(namespace) {
                return Err(ApiError::bad_request("namespace", reason));
            }
            check_namespace(&state, namespace)?;
            deployments(&state, namespace)
                .list(&ListParams::default())
                .await?
                .items
        }
        None => match &state.settings.namespaces {
            None => {
                Api::<Deployment>::all(state.client.clone())
                    .list(&ListParams::default())
                    .await?
                    .items
            }
            Some(allowed) => {
                let mut items = Vec::new();
                for namespace in allowed {
                    items.extend(
                        deployments(&state, namespace)
                            .list(&ListParams::default())
                            .await?
                            .items,
                    );
                }
                items
            }
        },
    };
    items.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    let items: Vec<Value> = items.iter().map(summary).collect();
    Ok(json_body(&json!({ "items": items })).into_response())
}

/// `GET /deployments/{namespace}/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if let Some(reason) = dns_label_problem(&namespace) {
        return Err(ApiError::bad_request("namespace", reason));
    }
    check_namespace(&state, &namespace)?;
    let deployment = deployments(&state, &namespace).get(&name).await?;
    Ok(json_body(&summary(&deployment)).into_response())
}

/// Any other path: a JSON 404.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::no_route(uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_is_chosen_by_the_accept_header() {
        let mut headers = HeaderMap::new();
        assert!(!wants_json(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wants_json(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/plain, Application/JSON;q=0.9"),
        );
        assert!(wants_json(&headers));
    }
}
