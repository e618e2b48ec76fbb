//! NamespaceLifecycle (kube-apiserver's admission plugin of that name): nothing is created in a
//! namespace that does not exist or is being terminated, and the immortal namespaces
//! (`default`, `kube-system`, `kube-public`, `kube-node-lease`) cannot be deleted.

use super::{Operation, Plugin, Request};
use crate::registry::core::namespaces::SYSTEM_NAMESPACES;
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;

/// The plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct NamespaceLifecycle;

impl Plugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        "NamespaceLifecycle"
    }

    fn validate(
        &self,
        rest: &Rest,
        request: &Request<'_>,
        _obj: Option<&Value>,
    ) -> Result<(), ApiError> {
        let rt = request.rt;
        match request.operation {
            Operation::Delete if is_namespaces(rt) => {
                let name = request.name;
                if SYSTEM_NAMESPACES.contains(&name) {
                    return Err(ApiError::forbidden(
                        "",
                        "namespaces",
                        name,
                        format!(
                            "namespaces {name:?} is forbidden: this namespace may not be deleted"
                        ),
                    ));
                }
                Ok(())
            }
            Operation::Create if rt.namespaced => {
                let ns = request.namespace.unwrap_or("");
                let catalog = rest.catalog.snapshot();
                let Some(ns_type) = catalog.find("", "v1", "namespaces") else {
                    return Ok(());
                };
                match rest.store.get(&rest.key(&ns_type, None, ns)) {
                    None => Err(ApiError::not_found("", "namespaces", ns)),
                    Some(obj) if namespace_terminating(&obj.json) => Err(super::forbidden(
                        request,
                        format!(
                            "unable to create new content in namespace {ns} because it is being terminated"
                        ),
                    )),
                    Some(_) => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

fn is_namespaces(rt: &crate::resource::ResourceType) -> bool {
    rt.group.is_empty() && rt.plural == "namespaces"
}

/// Whether a stored namespace accepts no new content (being deleted, or `Terminating`). Every
/// create in a namespace asks, so only the two fields are read, not the whole object.
fn namespace_terminating(json: &[u8]) -> bool {
    // The stored JSON is the server's own serialization (no escaped letters): without either
    // word anywhere, there is nothing to parse.
    if let Ok(text) = std::str::from_utf8(json)
        && !text.contains("deletionTimestamp")
        && !text.contains("Terminating")
    {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Namespace {
        metadata: Option<Meta>,
        status: Option<Status>,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "deletionTimestamp")]
        deletion_timestamp: Option<serde::de::IgnoredAny>,
    }
    #[derive(serde::Deserialize)]
    struct Status {
        phase: Option<String>,
    }
    match serde_json::from_slice::<Namespace>(json) {
        Ok(ns) => {
            ns.metadata.is_some_and(|m| m.deletion_timestamp.is_some())
                || ns.status.and_then(|s| s.phase).as_deref() == Some("Terminating")
        }
        Err(_) => {
            let v: Value = serde_json::from_slice(json).unwrap_or(Value::Null);
            v.pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null())
                || v.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::namespace_terminating;

    #[test]
    fn reads_namespace_termination_without_full_parse() {
        let active =
            br#"{"metadata":{"name":"a","deletionTimestamp":null},"status":{"phase":"Active"}}"#;
        assert!(!namespace_terminating(active));
        assert!(!namespace_terminating(br#"{"metadata":{"name":"a"}}"#));
        // The words elsewhere only send it to the parser, which reads the two fields.
        assert!(!namespace_terminating(
            br#"{"metadata":{"name":"a","labels":{"note":"Terminating"}},"status":{"phase":"Active"}}"#
        ));
        assert!(namespace_terminating(
            br#"{"metadata":{"name":"a","deletionTimestamp":"2026-01-01T00:00:00Z"}}"#
        ));
        assert!(namespace_terminating(
            br#"{"metadata":{"name":"a"},"status":{"phase":"Terminating"}}"#
        ));
        // Odd shapes fall back to reading the whole object.
        assert!(namespace_terminating(
            br#"{"metadata":{"deletionTimestamp":"x"},"status":{"phase":7}}"#
        ));
    }
}
