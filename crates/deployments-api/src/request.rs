//! The JSON body of the write routes, `{namespace, name, image, replicas, labels?, ports?}`,
//! checked field by field so a bad body is answered with the field at fault and why (400).
//!
//! Only what the service itself needs is checked here: the shape of each field, and namespace
//! and name as Kubernetes names (they address the object). Everything else about the object
//! (label syntax, image format) is the API server's to judge; its verdict comes back as a 422.

use crate::error::ApiError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Which route a body is for: they differ in what they require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /deployment/create`: everything but labels and ports is required.
    Create,
    /// `PUT /deployment/update`: as create; labels and ports, when given, replace the old ones.
    Update,
    /// `DELETE /deployment/delete`: namespace and name only.
    Delete,
}

/// A validated request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRequest {
    /// The Deployment's namespace.
    pub namespace: String,
    /// The Deployment's name.
    pub name: String,
    /// The container image (not set for delete).
    pub image: Option<String>,
    /// The number of Pods (not set for delete).
    pub replicas: Option<i32>,
    /// Labels of the Deployment and its Pods (`None`: `app: <name>` on create, unchanged on update).
    pub labels: Option<BTreeMap<String, String>>,
    /// Container ports (`None`: none on create, unchanged on update).
    pub ports: Option<Vec<i32>>,
}

const FIELDS: &[&str] = &["namespace", "name", "image", "replicas", "labels", "ports"];

impl DeploymentRequest {
    /// Parses and checks `body` for `operation`.
    pub fn parse(body: &[u8], operation: Operation) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request("", format!("the body is not valid JSON: {e}")))?;
        let Value::Object(fields) = value else {
            return Err(ApiError::bad_request(
                "",
                "the body must be a JSON object {namespace, name, image, replicas, labels?, ports?}",
            ));
        };
        for key in fields.keys() {
            if !FIELDS.contains(&key.as_str()) {
                return Err(ApiError::bad_request(key, "unknown field"));
            }
            if operation == Operation::Delete && !matches!(key.as_str(), "namespace" | "name") {
                return Err(ApiError::bad_request(
                    key,
                    "delete takes only namespace and name",
                ));
            }
        }
        let namespace = required_string(&fields, "namespace")?;
        if let Some(reason) = dns_label_problem(&namespace) {
            return Err(ApiError::bad_request("namespace", reason));
        }
        let name = required_string(&fields, "name")?;
        if let Some(reason) = dns_subdomain_problem(&name) {
            return Err(ApiError::bad_request("name", reason));
        }
        if operation == Operation::Delete {
            return Ok(DeploymentRequest {
                namespace,
                name,
                image: None,
                replicas: None,
                labels: None,
                ports: None,
            });
        }
        let image = required_string(&fields, "image")?;
        if image.trim() != image {
            return Err(ApiError::bad_request(
                "image",
                "must not have leading or trailing whitespace",
            ));
        }
        let replicas = match fields.get("replicas") {
            None => return Err(ApiError::bad_request("replicas", "required")),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "replicas",
                        format!("must be an integer from 0 to {}, got {v}", i32::MAX),
                    )
                })?,
        };
        let labels = match fields.get("labels") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => {
                let mut labels = BTreeMap::new();
                for (key, value) in map {
                    let Value::String(value) = value else {
                        return Err(ApiError::bad_request(
                            format!("labels.{key}"),
                            format!("must be a string, got {value}"),
                        ));
                    };
                    labels.insert(key.clone(), value.clone());
                }
                if labels.is_empty() {
                    return Err(ApiError::bad_request(
                        "labels",
                        "must not be empty (the Deployment selects its Pods by them)",
                    ));
                }
                Some(labels)
            }
            Some(other) => {
                return Err(ApiError::bad_request(
                    "labels",
                    format!("must be an object of strings, got {other}"),
                ));
            }
        };
        let ports = match fields.get("ports") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut ports = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let port = item
                        .as_i64()
                        .filter(|p| (1..=65535).contains(p))
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                format!("ports[{i}]"),
                                format!("must be a port number from 1 to 65535, got {item}"),
                            )
                        })? as i32;
                    if ports.contains(&port) {
                        return Err(ApiError::bad_request(
                            format!("ports[{i}]"),
                            format!("duplicate port {port}"),
                        ));
                    }
                    ports.push(port);
                }
                Some(ports)
            }
            Some(other) => {
                return Err(ApiError::bad_request(
                    "ports",
                    format!("must be an array of port numbers, got {other}"),
                ));
            }
        };
        Ok(DeploymentRequest {
            namespace,
            name,
            image: Some(image),
            replicas: Some(replicas),
            labels,
            ports,
        })
    }
}

fn required_string(fields: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match fields.get(field) {
        None | Some(Value::Null) => Err(ApiError::bad_request(field, "required")),
        Some(Value::String(s)) if s.is_empty() => {
            Err(ApiError::bad_request(field, "must not be empty"))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(ApiError::bad_request(
            field,
            format!("must be a string, got {other}"),
        )),
    }
}

/// Why `s` is not an RFC 1123 label (a namespace name), if it is not.
pub fn dns_label_problem(s: &str) -> Option<String> {
    if s.len() > 63 {
        return Some(format!("must be at most 63 characters, got {}", s.len()));
    }
    label_problem(s)
}

/// Why `s` is not an RFC 1123 subdomain (a Deployment name), if it is not.
pub fn dns_subdomain_problem(s: &str) -> Option<String> {
    if s.len() > 253 {
        return Some(format!("must be at most 253 characters, got {}", s.len()));
    }
    s.split('.').find_map(label_problem)
}

fn label_problem(s: &str) -> Option<String> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = !s.is_empty()
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum);
    (!ok).then(|| {
        format!(
            "{s:?} must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(body: &str, operation: Operation) -> String {
        DeploymentRequest::parse(body.as_bytes(), operation)
            .unwrap_err()
            .field
            .unwrap_or_default()
    }

    #[test]
    fn a_full_body_parses() {
        let request = DeploymentRequest::parse(
            br#"{"namespace":"default","name":"web","image":"nginx:1.27","replicas":2,
                "labels":{"app":"web"},"ports":[80,443]}"#,
            Operation::Create,
        )
        .unwrap();
        assert_eq!(request.replicas, Some(2));
        assert_eq!(request.ports, Some(vec![80, 443]));
        assert_eq!(request.labels.unwrap()["app"], "web");
    }

    #[test]
    fn each_bad_field_is_named() {
        let create = Operation::Create;
        assert_eq!(field_of("[]", create), "");
        assert_eq!(field_of("{", create), "");
        assert_eq!(field_of(r#"{"name":"a"}"#, create), "namespace");
        assert_eq!(
            field_of(r#"{"namespace":"Bad","name":"a"}"#, create),
            "namespace"
        );
        assert_eq!(field_of(r#"{"namespace":"d","name":""}"#, create), "name");
        assert_eq!(
            field_of(r#"{"namespace":"d","name":"a_b"}"#, create),
            "name"
        );
        assert_eq!(field_of(r#"{"namespace":"d","name":"a"}"#, create), "image");
        assert_eq!(
            field_of(r#"{"namespace":"d","name":"a","image":"x"}"#, create),
            "replicas"
        );
        assert_eq!(
            field_of(
                r#"{"namespace":"d","name":"a","image":"x","replicas":-1}"#,
                create
            ),
            "replicas"
        );
        assert_eq!(
            field_of(
                r#"{"namespace":"d","name":"a","image":"x","replicas":"2"}"#,
                create
            ),
            "replicas"
        );
        assert_eq!(
            field_of(
                r#"{"namespace":"d","name":"a","image":"x","replicas":1,"labels":{"a":1}}"#,
                create
            ),
            "labels.a"
        );
        assert_eq!(
            field_of(
                r#"{"namespace":"d","name":"a","image":"x","replicas":1,"ports":[80,0]}"#,
                create
            ),
            "ports[1]"
        );
        assert_eq!(
            field_of(r#"{"namespace":"d","name":"a","replica":1}"#, create),
            "replica"
        );
        assert_eq!(
            field_of(
                r#"{"namespace":"d","name":"a","image":"x"}"#,
                Operation::Delete
            ),
            "image"
        );
    }
}
