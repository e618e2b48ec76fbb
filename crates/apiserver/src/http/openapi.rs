//! `/openapi/v2` and `/openapi/v3`: documents built from the catalog, cached per catalog
//! generation so they are rebuilt only when CRDs change.

use crate::openapi::{OpenApiKind, OpenApiModel};
use crate::resource::SchemaSource;
use crate::rest::Rest;
use crate::status::ApiError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

struct Built {
    generation: u64,
    model: OpenApiModel,
    v2_json: Bytes,
    v2_protobuf: Bytes,
    v3_root: Bytes,
    v3_docs: Mutex<HashMap<(String, String), Bytes>>,
}

/// OpenAPI documents, cached per catalog generation.
#[derive(Default)]
pub struct OpenApiCache {
    built: Mutex<Option<Arc<Built>>>,
}

fn build(rest: &Rest) -> Built {
    let resources = rest.catalog.snapshot();
    let mut model = OpenApiModel::new();
    for rt in resources.all() {
        match &rt.schema {
            SchemaSource::Builtin(register) => register(&mut model, rt),
            SchemaSource::Custom(schema) => {
                let mut subresources = Vec::new();
                if rt.status {
                    subresources.push("status".to_string());
                }
                if rt.scale.is_some() {
                    subresources.push("scale".to_string());
                }
                model.add_custom(
                    OpenApiKind {
                        group: rt.group.clone(),
                        version: rt.version.clone(),
                        kind: rt.kind.clone(),
                        plural: rt.plural.clone(),
                        namespaced: rt.namespaced,
                        subresources,
                        schema_name: String::new(),
                    },
                    schema.as_ref(),
                );
            }
        }
    }
    Built {
        generation: resources.generation(),
        v2_json: Bytes::from(serde_json::to_vec(&model.v2_json()).unwrap_or_default()),
        v2_protobuf: Bytes::from(model.v2_protobuf()),
        v3_root: Bytes::from(serde_json::to_vec(&model.v3_root()).unwrap_or_default()),
        v3_docs: Mutex::new(HashMap::new()),
        model,
    }
}

fn ok(content_type: &str, body: Bytes) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    if let Ok(h) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, h);
    }
    resp
}

impl OpenApiCache {
    fn current(&self, rest: &Rest) -> Arc<Built> {
        let generation = rest.catalog.snapshot().generation();
        let mut guard = self.built.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(b) if b.generation == generation => b.clone(),
            _ => {
                let b = Arc::new(build(rest));
                *guard = Some(b.clone());
                b
            }
        }
    }

    /// `/openapi/v2`: protobuf when asked for (kubectl 1.27/1.28), JSON otherwise.
    pub fn v2(&self, rest: &Rest, accept: &str) -> Result<Response, ApiError> {
        let built = self.current(rest);
        if accept.contains("protobuf") {
            Ok(ok(V2_PROTOBUF, built.v2_protobuf.clone()))
        } else {
            Ok(ok("application/json", built.v2_json.clone()))
        }
    }

    /// `/openapi/v3`.
    pub fn v3_root(&self, rest: &Rest) -> Result<Response, ApiError> {
        Ok(ok("application/json", self.current(rest).v3_root.clone()))
    }

    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{g}/{v}`.
    pub fn v3_document(
        &self,
        rest: &Rest,
        group: &str,
        version: &str,
    ) -> Result<Response, ApiError> {
        let built = self.current(rest);
        let key = (group.to_string(), version.to_string());
        let mut docs = built.v3_docs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(doc) = docs.get(&key) {
            return Ok(ok("application/json", doc.clone()));
        }
        let doc = built
            .model
            .v3_document(group, version)
            .ok_or_else(ApiError::not_found_path)?;
        let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
        docs.insert(key, bytes.clone());
        Ok(ok("application/json", bytes))
    }
}
