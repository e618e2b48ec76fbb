//! `/openapi.json`: an OpenAPI 3.0 description of the routes, their bodies and their errors,
//! for client generators and for people.

use crate::error::json_body;
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// The document.
pub fn document() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        })
    };
    let write_answers = |ok: &str, description: &str| {
        json!({
            ok: {
                "description": description,
                "content": {
                    "text/plain": {"schema": {"type": "string", "example": "Success!\n"}},
                    "application/json": {"schema": {"$ref": "#/components/schemas/Deployment"}},
                },
            },
            "400": error("the body is wrong; `field` names the field at fault"),
            "401": error("a bearer token is required and was missing or wrong"),
            "403": error("the namespace is outside the service's namespaces, or the API server refused the service"),
            "404": error("the Deployment or its namespace does not exist"),
            "409": error("it already exists (create), or kept changing under the update after the retries"),
            "422": error("the API server rejected the Deployment; its message is passed on"),
            "503": error("the API server is unreachable or overloaded"),
        })
    };
    let body = |schema: &str| {
        json!({
            "required": true,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
        })
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "kubeforge deployments-api",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Create, update, delete and read Kubernetes Deployments over HTTP. Writes answer `Success!` unless the client accepts application/json.",
        },
        "paths": {
            "/deployment/create": {"post": {
                "summary": "Create a Deployment",
                "operationId": "createDeployment",
                "requestBody": body("DeploymentRequest"),
                "responses": write_answers("201", "created"),
            }},
            "/deployment/update": {"put": {
                "summary": "Change a Deployment's image, replicas, and labels or ports when given (optimistic concurrency, retried on conflicts)",
                "operationId": "updateDeployment",
                "requestBody": body("DeploymentRequest"),
                "responses": write_answers("200", "updated"),
            }},
            "/deployment/delete": {"delete": {
                "summary": "Delete a Deployment (its ReplicaSets and Pods follow)",
                "operationId": "deleteDeployment",
                "requestBody": body("DeploymentRef"),
                "responses": write_answers("200", "deleted"),
            }},
            "/deployments": {"get": {
                "summary": "List Deployments with their status",
                "operationId": "listDeployments",
                "parameters": [{"name": "namespace", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "the Deployments", "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Deployment"}}},
                    }}}},
                    "400": error("the namespace is not a valid name"),
                    "401": error("a bearer token is required"),
                    "403": error("the namespace is outside the service's namespaces"),
                    "503": error("the API server is unreachable"),
                },
            }},
            "/deployments/{namespace}/{name}": {"get": {
                "summary": "Read one Deployment with its ready and available replicas",
                "operationId": "readDeployment",
                "parameters": [
                    {"name": "namespace", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "the Deployment", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Deployment"}}}},
                    "401": error("a bearer token is required"),
                    "403": error("the namespace is outside the service's namespaces"),
                    "404": error("no such Deployment"),
                    "503": error("the API server is unreachable"),
                },
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "DeploymentRef": {
                    "type": "object",
                    "required": ["namespace", "name"],
                    "additionalProperties": false,
                    "properties": {
                        "namespace": {"type": "string", "maxLength": 63},
                        "name": {"type": "string", "maxLength": 253},
                    },
                },
                "DeploymentRequest": {
                    "type": "object",
                    "required": ["namespace", "name", "image", "replicas"],
                    "additionalProperties": false,
                    "properties": {
                        "namespace": {"type": "string", "maxLength": 63},
                        "name": {"type": "string", "maxLength": 253},
                        "image": {"type": "string", "example": "nginx:1.27"},
                        "replicas": {"type": "integer", "format": "int32", "minimum": 0},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "default on create: {app: <name>}; the selector keeps the labels given at creation"},
                        "ports": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}},
                    },
                },
                "Deployment": {
                    "type": "object",
                    "properties": {
                        "namespace": {"type": "string"},
                        "name": {"type": "string"},
                        "image": {"type": "string"},
                        "replicas": {"type": "integer"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "ports": {"type": "array", "items": {"type": "integer"}},
                        "resourceVersion": {"type": "string"},
                        "status": {"type": "object", "properties": {
                            "replicas": {"type": "integer"},
                            "updatedReplicas": {"type": "integer"},
                            "readyReplicas": {"type": "integer"},
                            "availableReplicas": {"type": "integer"},
                            "observedGeneration": {"type": "integer"},
                            "generation": {"type": "integer"},
                        }},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["code", "reason", "message"],
                    "properties": {
                        "code": {"type": "integer"},
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                        "field": {"type": "string", "description": "400 only: the request field at fault (empty: the body as a whole)"},
                    },
                },
            },
        },
        "security": [{"bearer": []}],
    })
}

/// `GET /openapi.json`.
pub async fn serve() -> impl IntoResponse {
    json_body(&document())
}
