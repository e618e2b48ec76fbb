//! Decoding of `application/vnd.kubernetes.protobuf` request bodies.
//!
//! Since 1.32, kubectl (like every client-go based tool) sends built-in types
//! such as Namespaces, ConfigMaps, Secrets, Deployments or RBAC objects as
//! protobuf instead of JSON. The rest of the server works on JSON, so this
//! module turns such a body into exactly the JSON object the client would have
//! sent with `Content-Type: application/json`.
//!
//! # Wire format
//!
//! The body is the four magic bytes `k8s\0` followed by a protobuf encoded
//! `runtime.Unknown`: its `typeMeta` carries `apiVersion` and `kind`, and its
//! `raw` field holds the typed message (which itself has no `TypeMeta`).
//!
//! # JSON rules
//!
//! The output mirrors Go's `encoding/json` applied to the `k8s.io/api` types:
//!
//! * Go always writes non-pointer scalar fields to protobuf, so an empty
//!   string, `0` or `false` on the wire means "unset"; it is omitted when the
//!   Go field is `omitempty` and emitted otherwise.
//! * Pointer fields are emitted whenever they are present, even if zero.
//! * Non-pointer struct fields are always emitted (`omitempty` does not apply
//!   to structs), hence `"status": {}`, `"resources": {}`, `"strategy": {}`.
//! * Lists and maps without `omitempty` are `null` when empty (Go decodes them
//!   to `nil`), e.g. a PolicyRule's `verbs`.
//! * A zero `metav1.Time` is `null`, except `metadata.creationTimestamp`,
//!   which is omitted (`omitzero`, Kubernetes 1.34+).
//! * `[]byte` is standard padded base64, int-or-string is a JSON number or
//!   string, quantities are their string form.
//!
//! Every message is destructured exhaustively, so a new field in `k8s-pb`
//! is a compile error here rather than silently lost data. Fields outside the
//! supported subset (probes, affinity, security contexts, ...) make decoding
//! fail with [`ProtobufError::UnsupportedField`] instead of being dropped.

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps_v1;
use k8s_pb::api::authentication::v1 as authentication_v1;
use k8s_pb::api::authorization::v1 as authorization_v1;
use k8s_pb::api::coordination::v1 as coordination_v1;
use k8s_pb::api::core::v1 as core_v1;
use k8s_pb::api::policy::v1 as policy_v1;
use k8s_pb::api::policy::v1beta1 as policy_v1beta1;
use k8s_pb::api::rbac::v1 as rbac_v1;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Map, Value};

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The prefix of every Kubernetes protobuf body (`k8s` plus encoding byte 0).
const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a protobuf body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with the `k8s\0` prefix.
    #[error("body is not a Kubernetes protobuf message (missing the k8s\\0 prefix)")]
    MissingMagic,
    /// The body is not a valid encoding of the expected messages.
    #[error("malformed protobuf body: {0}")]
    Malformed(String),
    /// The body holds a type this module cannot decode.
    #[error("protobuf encoding of {kind} in {api_version} is not supported")]
    UnsupportedKind {
        /// The `apiVersion` named by the envelope.
        api_version: String,
        /// The `kind` named by the envelope.
        kind: String,
    },
    /// The object sets a field this module cannot convert to JSON.
    #[error("protobuf encoding of field {field} is not supported")]
    UnsupportedField {
        /// The field, as `GoType.jsonName`.
        field: &'static str,
    },
}

type Result<T, E = ProtobufError> = std::result::Result<T, E>;

/// A JSON object under construction.
type Object = Map<String, Value>;

/// Decodes a `application/vnd.kubernetes.protobuf` request body into the JSON
/// object the same request would have carried as `application/json`
/// (`kind` and `apiVersion` set).
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let payload = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    if payload.is_empty() {
        return Err(malformed("empty body"));
    }
    let Unknown {
        type_meta,
        raw,
        // Upstream ignores both; `raw` is always a plain protobuf message.
        content_encoding: _,
        content_type: _,
    } = decode_message(payload)?;
    let TypeMeta { api_version, kind } = type_meta.unwrap_or_default();
    let api_version = api_version.unwrap_or_default();
    let kind = kind.unwrap_or_default();
    if kind.is_empty() {
        return Err(malformed("envelope has no kind"));
    }
    if api_version.is_empty() {
        return Err(malformed("envelope has no apiVersion"));
    }
    let raw = raw.unwrap_or_default();
    let fields = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => namespace_fields(decode_message(&raw)?)?,
        ("v1", "ConfigMap") => config_map_fields(decode_message(&raw)?)?,
        ("v1", "Secret") => secret_fields(decode_message(&raw)?)?,
        ("v1", "ServiceAccount") => service_account_fields(decode_message(&raw)?)?,
        ("v1", "Service") => service_fields(decode_message(&raw)?)?,
        ("v1", "Pod") => pod_fields(decode_message(&raw)?)?,
        ("apps/v1", "Deployment") => deployment_fields(decode_message(&raw)?)?,
        ("rbac.authorization.k8s.io/v1", "Role") => role_fields(decode_message(&raw)?)?,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            cluster_role_fields(decode_message(&raw)?)?
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            role_binding_fields(decode_message(&raw)?)?
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            cluster_role_binding_fields(decode_message(&raw)?)?
        }
        ("coordination.k8s.io/v1", "Lease") => lease_fields(decode_message(&raw)?)?,
        ("policy/v1", "Eviction") => {
            let policy_v1::Eviction {
                metadata,
                delete_options,
            } = decode_message(&raw)?;
            eviction_fields(metadata, delete_options)?
        }
        ("policy/v1beta1", "Eviction") => {
            let policy_v1beta1::Eviction {
                metadata,
                delete_options,
            } = decode_message(&raw)?;
            eviction_fields(metadata, delete_options)?
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            self_subject_access_review_fields(decode_message(&raw)?)?
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            self_subject_rules_review_fields(decode_message(&raw)?)?
        }
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            self_subject_review_fields(decode_message(&raw)?)?
        }
        _ => return Err(ProtobufError::UnsupportedKind { api_version, kind }),
    };
    let mut object = Object::new();
    put(&mut object, "kind", Value::String(kind));
    put(&mut object, "apiVersion", Value::String(api_version));
    object.extend(fields);
    Ok(Value::Object(object))
}

// ---------------------------------------------------------------------------
// Top-level kinds: each returns the fields that follow `kind`/`apiVersion`.
// ---------------------------------------------------------------------------

fn namespace_fields(ns: core_v1::Namespace) -> Result<Object> {
    let core_v1::Namespace {
        metadata,
        spec,
        status,
    } = ns;
    let core_v1::NamespaceSpec { finalizers } = spec.unwrap_or_default();
    let core_v1::NamespaceStatus { phase, conditions } = status.unwrap_or_default();

    let mut spec = Object::new();
    put_strs(&mut spec, "finalizers", finalizers);
    let mut status = Object::new();
    put_str(&mut status, "phase", phase);
    put_list(
        &mut status,
        "conditions",
        conditions,
        namespace_condition_json,
    )?;

    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put(&mut o, "spec", Value::Object(spec));
    put(&mut o, "status", Value::Object(status));
    Ok(o)
}

fn config_map_fields(cm: core_v1::ConfigMap) -> Result<Object> {
    let core_v1::ConfigMap {
        metadata,
        immutable,
        data,
        binary_data,
    } = cm;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put_bool_ptr(&mut o, "immutable", immutable);
    put_str_map(&mut o, "data", data);
    put_bytes_map(&mut o, "binaryData", binary_data);
    Ok(o)
}

fn secret_fields(secret: core_v1::Secret) -> Result<Object> {
    let core_v1::Secret {
        metadata,
        immutable,
        data,
        string_data,
        r#type,
    } = secret;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put_bool_ptr(&mut o, "immutable", immutable);
    put_bytes_map(&mut o, "data", data);
    put_str_map(&mut o, "stringData", string_data);
    put_str(&mut o, "type", r#type);
    Ok(o)
}

fn service_account_fields(sa: core_v1::ServiceAccount) -> Result<Object> {
    let core_v1::ServiceAccount {
        metadata,
        secrets,
        image_pull_secrets,
        automount_service_account_token,
    } = sa;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put_list(&mut o, "secrets", secrets, object_reference_json)?;
    put_list(
        &mut o,
        "imagePullSecrets",
        image_pull_secrets,
        local_object_reference_json,
    )?;
    put_bool_ptr(
        &mut o,
        "automountServiceAccountToken",
        automount_service_account_token,
    );
    Ok(o)
}

fn service_fields(svc: core_v1::Service) -> Result<Object> {
    let core_v1::Service {
        metadata,
        spec,
        status,
    } = svc;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put(&mut o, "spec", service_spec_json(spec.unwrap_or_default())?);
    put(
        &mut o,
        "status",
        service_status_json(status.unwrap_or_default())?,
    );
    Ok(o)
}

fn pod_fields(pod: core_v1::Pod) -> Result<Object> {
    let core_v1::Pod {
        metadata,
        spec,
        status,
    } = pod;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put(&mut o, "spec", pod_spec_json(spec.unwrap_or_default())?);
    put(
        &mut o,
        "status",
        pod_status_json(status.unwrap_or_default())?,
    );
    Ok(o)
}

fn deployment_fields(deployment: apps_v1::Deployment) -> Result<Object> {
    let apps_v1::Deployment {
        metadata,
        spec,
        status,
    } = deployment;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put(
        &mut o,
        "spec",
        deployment_spec_json(spec.unwrap_or_default())?,
    );
    put(
        &mut o,
        "status",
        deployment_status_json(status.unwrap_or_default())?,
    );
    Ok(o)
}

fn role_fields(role: rbac_v1::Role) -> Result<Object> {
    let rbac_v1::Role { metadata, rules } = role;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put_list_always(&mut o, "rules", rules, policy_rule_json)?;
    Ok(o)
}

fn cluster_role_fields(role: rbac_v1::ClusterRole) -> Result<Object> {
    let rbac_v1::ClusterRole {
        metadata,
        rules,
        aggregation_rule,
    } = role;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put_list_always(&mut o, "rules", rules, policy_rule_json)?;
    put_ptr(
        &mut o,
        "aggregationRule",
        aggregation_rule,
        aggregation_rule_json,
    )?;
    Ok(o)
}

fn role_binding_fields(binding: rbac_v1::RoleBinding) -> Result<Object> {
    let rbac_v1::RoleBinding {
        metadata,
        subjects,
        role_ref,
    } = binding;
    binding_fields(metadata, subjects, role_ref)
}

fn cluster_role_binding_fields(binding: rbac_v1::ClusterRoleBinding) -> Result<Object> {
    let rbac_v1::ClusterRoleBinding {
        metadata,
        subjects,
        role_ref,
    } = binding;
    binding_fields(metadata, subjects, role_ref)
}

/// The fields shared by RoleBinding and ClusterRoleBinding.
fn binding_fields(
    metadata: Option<meta_v1::ObjectMeta>,
    subjects: Vec<rbac_v1::Subject>,
    role_ref: Option<rbac_v1::RoleRef>,
) -> Result<Object> {
    let rbac_v1::RoleRef {
        api_group,
        kind,
        name,
    } = role_ref.unwrap_or_default();
    let mut role_ref = Object::new();
    put_str_always(&mut role_ref, "apiGroup", api_group);
    put_str_always(&mut role_ref, "kind", kind);
    put_str_always(&mut role_ref, "name", name);

    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put_list(&mut o, "subjects", subjects, subject_json)?;
    put(&mut o, "roleRef", Value::Object(role_ref));
    Ok(o)
}

fn lease_fields(lease: coordination_v1::Lease) -> Result<Object> {
    let coordination_v1::Lease { metadata, spec } = lease;
    let coordination_v1::LeaseSpec {
        holder_identity,
        lease_duration_seconds,
        acquire_time,
        renew_time,
        lease_transitions,
        strategy,
        preferred_holder,
    } = spec.unwrap_or_default();
    let mut spec = Object::new();
    put_str_ptr(&mut spec, "holderIdentity", holder_identity);
    put_int_ptr(&mut spec, "leaseDurationSeconds", lease_duration_seconds);
    if let Some(t) = acquire_time {
        put(&mut spec, "acquireTime", micro_time_json(t)?);
    }
    if let Some(t) = renew_time {
        put(&mut spec, "renewTime", micro_time_json(t)?);
    }
    put_int_ptr(&mut spec, "leaseTransitions", lease_transitions);
    put_str_ptr(&mut spec, "strategy", strategy);
    put_str_ptr(&mut spec, "preferredHolder", preferred_holder);

    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put(&mut o, "spec", Value::Object(spec));
    Ok(o)
}

// ---------------------------------------------------------------------------
// policy: the Eviction `kubectl drain` posts to `pods/eviction`.
// ---------------------------------------------------------------------------

fn eviction_fields(
    metadata: Option<meta_v1::ObjectMeta>,
    delete_options: Option<meta_v1::DeleteOptions>,
) -> Result<Object> {
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    if let Some(options) = delete_options {
        put(&mut o, "deleteOptions", delete_options_json(options)?);
    }
    Ok(o)
}

fn delete_options_json(options: meta_v1::DeleteOptions) -> Result<Value> {
    let meta_v1::DeleteOptions {
        grace_period_seconds,
        preconditions,
        orphan_dependents,
        propagation_policy,
        dry_run,
        ignore_store_read_error_with_cluster_breaking_potential,
    } = options;
    let mut o = Object::new();
    put_int_ptr(&mut o, "gracePeriodSeconds", grace_period_seconds);
    if let Some(p) = preconditions {
        let meta_v1::Preconditions {
            uid,
            resource_version,
        } = p;
        let mut pre = Object::new();
        put_str_ptr(&mut pre, "uid", uid);
        put_str_ptr(&mut pre, "resourceVersion", resource_version);
        put(&mut o, "preconditions", Value::Object(pre));
    }
    put_bool_ptr(&mut o, "orphanDependents", orphan_dependents);
    put_str_ptr(&mut o, "propagationPolicy", propagation_policy);
    if !dry_run.is_empty() {
        put(
            &mut o,
            "dryRun",
            Value::Array(dry_run.into_iter().map(Value::String).collect()),
        );
    }
    put_bool_ptr(
        &mut o,
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        ignore_store_read_error_with_cluster_breaking_potential,
    );
    Ok(Value::Object(o))
}

// ---------------------------------------------------------------------------
// authorization.k8s.io/v1, authentication.k8s.io/v1: the self reviews kubectl sends
// (`kubectl auth can-i`, `kubectl auth whoami`). Their status is the server's answer, so a
// status in the request is ignored, as upstream.
// ---------------------------------------------------------------------------

fn self_subject_access_review_fields(
    review: authorization_v1::SelfSubjectAccessReview,
) -> Result<Object> {
    let authorization_v1::SelfSubjectAccessReview { metadata, spec, .. } = review;
    let authorization_v1::SelfSubjectAccessReviewSpec {
        resource_attributes,
        non_resource_attributes,
    } = spec.unwrap_or_default();
    let mut spec = Object::new();
    put_ptr(&mut spec, "resourceAttributes", resource_attributes, |a| {
        let authorization_v1::ResourceAttributes {
            namespace,
            verb,
            group,
            version,
            resource,
            subresource,
            name,
            field_selector,
            label_selector,
        } = a;
        reject("ResourceAttributes.fieldSelector", &field_selector)?;
        reject("ResourceAttributes.labelSelector", &label_selector)?;
        let mut o = Object::new();
        put_str(&mut o, "namespace", namespace);
        put_str(&mut o, "verb", verb);
        put_str(&mut o, "group", group);
        put_str(&mut o, "version", version);
        put_str(&mut o, "resource", resource);
        put_str(&mut o, "subresource", subresource);
        put_str(&mut o, "name", name);
        Ok(Value::Object(o))
    })?;
    put_ptr(
        &mut spec,
        "nonResourceAttributes",
        non_resource_attributes,
        |a| {
            let mut o = Object::new();
            put_str(&mut o, "path", a.path);
            put_str(&mut o, "verb", a.verb);
            Ok(Value::Object(o))
        },
    )?;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put(&mut o, "spec", Value::Object(spec));
    Ok(o)
}

fn self_subject_rules_review_fields(
    review: authorization_v1::SelfSubjectRulesReview,
) -> Result<Object> {
    let authorization_v1::SelfSubjectRulesReview { metadata, spec, .. } = review;
    let mut spec_o = Object::new();
    put_str(&mut spec_o, "namespace", spec.unwrap_or_default().namespace);
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put(&mut o, "spec", Value::Object(spec_o));
    Ok(o)
}

fn self_subject_review_fields(review: authentication_v1::SelfSubjectReview) -> Result<Object> {
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(review.metadata)?);
    Ok(o)
}

// ---------------------------------------------------------------------------
// meta/v1
// ---------------------------------------------------------------------------

/// Converts `metav1.ObjectMeta` (absent means the zero value).
fn meta_to_json(meta: Option<meta_v1::ObjectMeta>) -> Result<Value> {
    let meta_v1::ObjectMeta {
        name,
        generate_name,
        namespace,
        self_link,
        uid,
        resource_version,
        generation,
        creation_timestamp,
        deletion_timestamp,
        deletion_grace_period_seconds,
        labels,
        annotations,
        owner_references,
        finalizers,
        managed_fields,
    } = meta.unwrap_or_default();
    let mut o = Object::new();
    put_str(&mut o, "name", name);
    put_str(&mut o, "generateName", generate_name);
    put_str(&mut o, "namespace", namespace);
    put_str(&mut o, "selfLink", self_link);
    put_str(&mut o, "uid", uid);
    put_str(&mut o, "resourceVersion", resource_version);
    put_int(&mut o, "generation", generation);
    // `omitempty,omitzero`: a zero creation timestamp is left out entirely.
    let created = time_json(creation_timestamp)?;
    if !created.is_null() {
        put(&mut o, "creationTimestamp", created);
    }
    put_time_ptr(&mut o, "deletionTimestamp", deletion_timestamp)?;
    put_int_ptr(
        &mut o,
        "deletionGracePeriodSeconds",
        deletion_grace_period_seconds,
    );
    put_str_map(&mut o, "labels", labels);
    put_str_map(&mut o, "annotations", annotations);
    put_list(
        &mut o,
        "ownerReferences",
        owner_references,
        owner_reference_json,
    )?;
    put_strs(&mut o, "finalizers", finalizers);
    put_list(&mut o, "managedFields", managed_fields, managed_fields_json)?;
    Ok(Value::Object(o))
}

fn owner_reference_json(owner: meta_v1::OwnerReference) -> Result<Value> {
    let meta_v1::OwnerReference {
        api_version,
        kind,
        name,
        uid,
        controller,
        block_owner_deletion,
    } = owner;
    let mut o = Object::new();
    put_str_always(&mut o, "apiVersion", api_version);
    put_str_always(&mut o, "kind", kind);
    put_str_always(&mut o, "name", name);
    put_str_always(&mut o, "uid", uid);
    put_bool_ptr(&mut o, "controller", controller);
    put_bool_ptr(&mut o, "blockOwnerDeletion", block_owner_deletion);
    Ok(Value::Object(o))
}

fn managed_fields_json(entry: meta_v1::ManagedFieldsEntry) -> Result<Value> {
    let meta_v1::ManagedFieldsEntry {
        manager,
        operation,
        api_version,
        time,
        fields_type,
        fields_v1,
        subresource,
    } = entry;
    let mut o = Object::new();
    put_str(&mut o, "manager", manager);
    put_str(&mut o, "operation", operation);
    put_str(&mut o, "apiVersion", api_version);
    put_time_ptr(&mut o, "time", time)?;
    put_str(&mut o, "fieldsType", fields_type);
    put_ptr(&mut o, "fieldsV1", fields_v1, |fields| {
        // FieldsV1 marshals to its raw JSON bytes (or null when unset).
        match fields.raw {
            None => Ok(Value::Null),
            Some(raw) => serde_json::from_slice(&raw)
                .map_err(|e| malformed(format!("managedFields.fieldsV1: {e}"))),
        }
    })?;
    put_str(&mut o, "subresource", subresource);
    Ok(Value::Object(o))
}

fn label_selector_json(selector: meta_v1::LabelSelector) -> Result<Value> {
    let meta_v1::LabelSelector {
        match_labels,
        match_expressions,
    } = selector;
    let mut o = Object::new();
    put_str_map(&mut o, "matchLabels", match_labels);
    put_list(
        &mut o,
        "matchExpressions",
        match_expressions,
        |requirement| {
            let meta_v1::LabelSelectorRequirement {
                key,
                operator,
                values,
            } = requirement;
            let mut o = Object::new();
            put_str_always(&mut o, "key", key);
            put_str_always(&mut o, "operator", operator);
            put_strs(&mut o, "values", values);
            Ok(Value::Object(o))
        },
    )?;
    Ok(Value::Object(o))
}

fn condition_json(condition: meta_v1::Condition) -> Result<Value> {
    let meta_v1::Condition {
        r#type,
        status,
        observed_generation,
        last_transition_time,
        reason,
        message,
    } = condition;
    let mut o = Object::new();
    put_str_always(&mut o, "type", r#type);
    put_str_always(&mut o, "status", status);
    put_int(&mut o, "observedGeneration", observed_generation);
    put(
        &mut o,
        "lastTransitionTime",
        time_json(last_transition_time)?,
    );
    put_str_always(&mut o, "reason", reason);
    put_str_always(&mut o, "message", message);
    Ok(Value::Object(o))
}

// ---------------------------------------------------------------------------
// core/v1
// ---------------------------------------------------------------------------

fn namespace_condition_json(condition: core_v1::NamespaceCondition) -> Result<Value> {
    let core_v1::NamespaceCondition {
        r#type,
        status,
        last_transition_time,
        reason,
        message,
    } = condition;
    let mut o = Object::new();
    put_str_always(&mut o, "type", r#type);
    put_str_always(&mut o, "status", status);
    put(
        &mut o,
        "lastTransitionTime",
        time_json(last_transition_time)?,
    );
    put_str(&mut o, "reason", reason);
    put_str(&mut o, "message", message);
    Ok(Value::Object(o))
}

fn object_reference_json(reference: core_v1::ObjectReference) -> Result<Value> {
    let core_v1::ObjectReference {
        kind,
        namespace,
        name,
        uid,
        api_version,
        resource_version,
        field_path,
    } = reference;
    let mut o = Object::new();
    put_str(&mut o, "kind", kind);
    put_str(&mut o, "namespace", namespace);
    put_str(&mut o, "name", name);
    put_str(&mut o, "uid", uid);
    put_str(&mut o, "apiVersion", api_version);
    put_str(&mut o, "resourceVersion", resource_version);
    put_str(&mut o, "fieldPath", field_path);
    Ok(Value::Object(o))
}

fn local_object_reference_json(reference: core_v1::LocalObjectReference) -> Result<Value> {
    let mut o = Object::new();
    put_local_name(&mut o, Some(reference));
    Ok(Value::Object(o))
}

/// Puts the `name` of an inlined `LocalObjectReference`.
fn put_local_name(o: &mut Object, reference: Option<core_v1::LocalObjectReference>) {
    let core_v1::LocalObjectReference { name } = reference.unwrap_or_default();
    put_str(o, "name", name);
}

fn service_spec_json(spec: core_v1::ServiceSpec) -> Result<Value> {
    let core_v1::ServiceSpec {
        ports,
        selector,
        cluster_ip,
        cluster_ips,
        r#type,
        external_ips,
        session_affinity,
        load_balancer_ip,
        load_balancer_source_ranges,
        external_name,
        external_traffic_policy,
        health_check_node_port,
        publish_not_ready_addresses,
        session_affinity_config,
        ip_families,
        ip_family_policy,
        allocate_load_balancer_node_ports,
        load_balancer_class,
        internal_traffic_policy,
        traffic_distribution,
    } = spec;
    let mut o = Object::new();
    put_list(&mut o, "ports", ports, service_port_json)?;
    put_str_map(&mut o, "selector", selector);
    put_str(&mut o, "clusterIP", cluster_ip);
    put_strs(&mut o, "clusterIPs", cluster_ips);
    put_str(&mut o, "type", r#type);
    put_strs(&mut o, "externalIPs", external_ips);
    put_str(&mut o, "sessionAffinity", session_affinity);
    put_str(&mut o, "loadBalancerIP", load_balancer_ip);
    put_strs(
        &mut o,
        "loadBalancerSourceRanges",
        load_balancer_source_ranges,
    );
    put_str(&mut o, "externalName", external_name);
    put_str(&mut o, "externalTrafficPolicy", external_traffic_policy);
    put_int(&mut o, "healthCheckNodePort", health_check_node_port);
    put_bool(
        &mut o,
        "publishNotReadyAddresses",
        publish_not_ready_addresses,
    );
    put_ptr(
        &mut o,
        "sessionAffinityConfig",
        session_affinity_config,
        |config| {
            let core_v1::SessionAffinityConfig { client_ip } = config;
            let mut o = Object::new();
            put_ptr(&mut o, "clientIP", client_ip, |client_ip| {
                let core_v1::ClientIpConfig { timeout_seconds } = client_ip;
                let mut o = Object::new();
                put_int_ptr(&mut o, "timeoutSeconds", timeout_seconds);
                Ok(Value::Object(o))
            })?;
            Ok(Value::Object(o))
        },
    )?;
    put_strs(&mut o, "ipFamilies", ip_families);
    put_str_ptr(&mut o, "ipFamilyPolicy", ip_family_policy);
    put_bool_ptr(
        &mut o,
        "allocateLoadBalancerNodePorts",
        allocate_load_balancer_node_ports,
    );
    put_str_ptr(&mut o, "loadBalancerClass", load_balancer_class);
    put_str_ptr(&mut o, "internalTrafficPolicy", internal_traffic_policy);
    put_str_ptr(&mut o, "trafficDistribution", traffic_distribution);
    Ok(Value::Object(o))
}

fn service_port_json(port: core_v1::ServicePort) -> Result<Value> {
    let core_v1::ServicePort {
        name,
        protocol,
        app_protocol,
        port,
        target_port,
        node_port,
    } = port;
    let mut o = Object::new();
    put_str(&mut o, "name", name);
    put_str(&mut o, "protocol", protocol);
    put_str_ptr(&mut o, "appProtocol", app_protocol);
    put_int_always(&mut o, "port", port);
    put(&mut o, "targetPort", int_or_string_json(target_port)?);
    put_int(&mut o, "nodePort", node_port);
    Ok(Value::Object(o))
}

fn service_status_json(status: core_v1::ServiceStatus) -> Result<Value> {
    let core_v1::ServiceStatus {
        load_balancer,
        conditions,
    } = status;
    let core_v1::LoadBalancerStatus { ingress } = load_balancer.unwrap_or_default();
    let mut load_balancer = Object::new();
    put_list(&mut load_balancer, "ingress", ingress, |ingress| {
        let core_v1::LoadBalancerIngress {
            ip,
            hostname,
            ip_mode,
            ports,
        } = ingress;
        let mut o = Object::new();
        put_str(&mut o, "ip", ip);
        put_str(&mut o, "hostname", hostname);
        put_str_ptr(&mut o, "ipMode", ip_mode);
        put_list(&mut o, "ports", ports, |port| {
            let core_v1::PortStatus {
                port,
                protocol,
                error,
            } = port;
            let mut o = Object::new();
            put_int_always(&mut o, "port", port);
            put_str_always(&mut o, "protocol", protocol);
            put_str_ptr(&mut o, "error", error);
            Ok(Value::Object(o))
        })?;
        Ok(Value::Object(o))
    })?;
    let mut o = Object::new();
    put(&mut o, "loadBalancer", Value::Object(load_balancer));
    put_list(&mut o, "conditions", conditions, condition_json)?;
    Ok(Value::Object(o))
}

fn pod_template_json(template: core_v1::PodTemplateSpec) -> Result<Value> {
    let core_v1::PodTemplateSpec { metadata, spec } = template;
    let mut o = Object::new();
    put(&mut o, "metadata", meta_to_json(metadata)?);
    put(&mut o, "spec", pod_spec_json(spec.unwrap_or_default())?);
    Ok(Value::Object(o))
}

fn pod_spec_json(spec: core_v1::PodSpec) -> Result<Value> {
    let core_v1::PodSpec {
        volumes,
        init_containers,
        containers,
        ephemeral_containers,
        restart_policy,
        termination_grace_period_seconds,
        active_deadline_seconds,
        dns_policy,
        node_selector,
        service_account_name,
        service_account,
        automount_service_account_token,
        node_name,
        host_network,
        host_pid,
        host_ipc,
        share_process_namespace,
        security_context,
        image_pull_secrets,
        hostname,
        subdomain,
        affinity,
        scheduler_name,
        tolerations,
        host_aliases,
        priority_class_name,
        priority,
        dns_config,
        readiness_gates,
        runtime_class_name,
        enable_service_links,
        preemption_policy,
        overhead,
        topology_spread_constraints,
        set_hostname_as_fqdn,
        os,
        host_users,
        scheduling_gates,
        resource_claims,
        resources,
        hostname_override,
        workload_ref,
    } = spec;
    reject("PodSpec.ephemeralContainers", &ephemeral_containers)?;
    reject("PodSpec.securityContext", &security_context)?;
    reject("PodSpec.affinity", &affinity)?;
    reject(
        "PodSpec.topologySpreadConstraints",
        &topology_spread_constraints,
    )?;
    reject("PodSpec.resourceClaims", &resource_claims)?;
    reject("PodSpec.workloadRef", &workload_ref)?;

    let mut o = Object::new();
    put_list(&mut o, "volumes", volumes, volume_json)?;
    put_list(&mut o, "initContainers", init_containers, container_json)?;
    put_list_always(&mut o, "containers", containers, container_json)?;
    put_str(&mut o, "restartPolicy", restart_policy);
    put_int_ptr(
        &mut o,
        "terminationGracePeriodSeconds",
        termination_grace_period_seconds,
    );
    put_int_ptr(&mut o, "activeDeadlineSeconds", active_deadline_seconds);
    put_str(&mut o, "dnsPolicy", dns_policy);
    put_str_map(&mut o, "nodeSelector", node_selector);
    put_str(&mut o, "serviceAccountName", service_account_name);
    put_str(&mut o, "serviceAccount", service_account);
    put_bool_ptr(
        &mut o,
        "automountServiceAccountToken",
        automount_service_account_token,
    );
    put_str(&mut o, "nodeName", node_name);
    put_bool(&mut o, "hostNetwork", host_network);
    put_bool(&mut o, "hostPID", host_pid);
    put_bool(&mut o, "hostIPC", host_ipc);
    put_bool_ptr(&mut o, "shareProcessNamespace", share_process_namespace);
    put_list(
        &mut o,
        "imagePullSecrets",
        image_pull_secrets,
        local_object_reference_json,
    )?;
    put_str(&mut o, "hostname", hostname);
    put_str(&mut o, "subdomain", subdomain);
    put_str(&mut o, "schedulerName", scheduler_name);
    put_list(&mut o, "tolerations", tolerations, toleration_json)?;
    put_list(&mut o, "hostAliases", host_aliases, |alias| {
        let core_v1::HostAlias { ip, hostnames } = alias;
        let mut o = Object::new();
        put_str_always(&mut o, "ip", ip);
        put_strs(&mut o, "hostnames", hostnames);
        Ok(Value::Object(o))
    })?;
    put_str(&mut o, "priorityClassName", priority_class_name);
    put_int_ptr(&mut o, "priority", priority);
    put_ptr(&mut o, "dnsConfig", dns_config, dns_config_json)?;
    put_list(&mut o, "readinessGates", readiness_gates, |gate| {
        let core_v1::PodReadinessGate { condition_type } = gate;
        let mut o = Object::new();
        put_str_always(&mut o, "conditionType", condition_type);
        Ok(Value::Object(o))
    })?;
    put_str_ptr(&mut o, "runtimeClassName", runtime_class_name);
    put_bool_ptr(&mut o, "enableServiceLinks", enable_service_links);
    put_str_ptr(&mut o, "preemptionPolicy", preemption_policy);
    put_quantity_map(&mut o, "overhead", overhead)?;
    put_bool_ptr(&mut o, "setHostnameAsFQDN", set_hostname_as_fqdn);
    put_ptr(&mut o, "os", os, |os| {
        let core_v1::PodOs { name } = os;
        let mut o = Object::new();
        put_str_always(&mut o, "name", name);
        Ok(Value::Object(o))
    })?;
    put_bool_ptr(&mut o, "hostUsers", host_users);
    put_list(&mut o, "schedulingGates", scheduling_gates, |gate| {
        let core_v1::PodSchedulingGate { name } = gate;
        let mut o = Object::new();
        put_str_always(&mut o, "name", name);
        Ok(Value::Object(o))
    })?;
    put_ptr(&mut o, "resources", resources, resources_json)?;
    put_str_ptr(&mut o, "hostnameOverride", hostname_override);
    Ok(Value::Object(o))
}

fn dns_config_json(config: core_v1::PodDnsConfig) -> Result<Value> {
    let core_v1::PodDnsConfig {
        nameservers,
        searches,
        options,
    } = config;
    let mut o = Object::new();
    put_strs(&mut o, "nameservers", nameservers);
    put_strs(&mut o, "searches", searches);
    put_list(&mut o, "options", options, |option| {
        let core_v1::PodDnsConfigOption { name, value } = option;
        let mut o = Object::new();
        put_str(&mut o, "name", name);
        put_str_ptr(&mut o, "value", value);
        Ok(Value::Object(o))
    })?;
    Ok(Value::Object(o))
}

fn toleration_json(toleration: core_v1::Toleration) -> Result<Value> {
    let core_v1::Toleration {
        key,
        operator,
        value,
        effect,
        toleration_seconds,
    } = toleration;
    let mut o = Object::new();
    put_str(&mut o, "key", key);
    put_str(&mut o, "operator", operator);
    put_str(&mut o, "value", value);
    put_str(&mut o, "effect", effect);
    put_int_ptr(&mut o, "tolerationSeconds", toleration_seconds);
    Ok(Value::Object(o))
}

fn volume_json(volume: core_v1::Volume) -> Result<Value> {
    let core_v1::Volume {
        name,
        volume_source,
    } = volume;
    let core_v1::VolumeSource {
        host_path,
        empty_dir,
        gce_persistent_disk,
        aws_elastic_block_store,
        git_repo,
        secret,
        nfs,
        iscsi,
        glusterfs,
        persistent_volume_claim,
        rbd,
        flex_volume,
        cinder,
        cephfs,
        flocker,
        downward_api,
        fc,
        azure_file,
        config_map,
        vsphere_volume,
        quobyte,
        azure_disk,
        photon_persistent_disk,
        projected,
        portworx_volume,
        scale_io,
        storageos,
        csi,
        ephemeral,
        image,
    } = volume_source.unwrap_or_default();
    reject("VolumeSource.gcePersistentDisk", &gce_persistent_disk)?;
    reject(
        "VolumeSource.awsElasticBlockStore",
        &aws_elastic_block_store,
    )?;
    reject("VolumeSource.gitRepo", &git_repo)?;
    reject("VolumeSource.nfs", &nfs)?;
    reject("VolumeSource.iscsi", &iscsi)?;
    reject("VolumeSource.glusterfs", &glusterfs)?;
    reject("VolumeSource.rbd", &rbd)?;
    reject("VolumeSource.flexVolume", &flex_volume)?;
    reject("VolumeSource.cinder", &cinder)?;
    reject("VolumeSource.cephfs", &cephfs)?;
    reject("VolumeSource.flocker", &flocker)?;
    reject("VolumeSource.fc", &fc)?;
    reject("VolumeSource.azureFile", &azure_file)?;
    reject("VolumeSource.vsphereVolume", &vsphere_volume)?;
    reject("VolumeSource.quobyte", &quobyte)?;
    reject("VolumeSource.azureDisk", &azure_disk)?;
    reject("VolumeSource.photonPersistentDisk", &photon_persistent_disk)?;
    reject("VolumeSource.projected", &projected)?;
    reject("VolumeSource.portworxVolume", &portworx_volume)?;
    reject("VolumeSource.scaleIO", &scale_io)?;
    reject("VolumeSource.storageos", &storageos)?;
    reject("VolumeSource.csi", &csi)?;
    reject("VolumeSource.ephemeral", &ephemeral)?;
    reject("VolumeSource.image", &image)?;

    let mut o = Object::new();
    put_str_always(&mut o, "name", name);
    put_ptr(&mut o, "hostPath", host_path, |source| {
        let core_v1::HostPathVolumeSource { path, r#type } = source;
        let mut o = Object::new();
        put_str_always(&mut o, "path", path);
        put_str_ptr(&mut o, "type", r#type);
        Ok(Value::Object(o))
    })?;
    put_ptr(&mut o, "emptyDir", empty_dir, |source| {
        let core_v1::EmptyDirVolumeSource { medium, size_limit } = source;
        let mut o = Object::new();
        put_str(&mut o, "medium", medium);
        put_ptr(&mut o, "sizeLimit", size_limit, quantity_json)?;
        Ok(Value::Object(o))
    })?;
    put_ptr(&mut o, "secret", secret, |source| {
        let core_v1::SecretVolumeSource {
            secret_name,
            items,
            default_mode,
            optional,
        } = source;
        let mut o = Object::new();
        put_str(&mut o, "secretName", secret_name);
        put_list(&mut o, "items", items, key_to_path_json)?;
        put_int_ptr(&mut o, "defaultMode", default_mode);
        put_bool_ptr(&mut o, "optional", optional);
        Ok(Value::Object(o))
    })?;
    put_ptr(
        &mut o,
        "persistentVolumeClaim",
        persistent_volume_claim,
        |source| {
            let core_v1::PersistentVolumeClaimVolumeSource {
                claim_name,
                read_only,
            } = source;
            let mut o = Object::new();
            put_str_always(&mut o, "claimName", claim_name);
            put_bool(&mut o, "readOnly", read_only);
            Ok(Value::Object(o))
        },
    )?;
    put_ptr(&mut o, "downwardAPI", downward_api, |source| {
        let core_v1::DownwardAPIVolumeSource {
            items,
            default_mode,
        } = source;
        let mut o = Object::new();
        put_list(&mut o, "items", items, |file| {
            let core_v1::DownwardAPIVolumeFile {
                path,
                field_ref,
                resource_field_ref,
                mode,
            } = file;
            let mut o = Object::new();
            put_str_always(&mut o, "path", path);
            put_ptr(&mut o, "fieldRef", field_ref, object_field_selector_json)?;
            put_ptr(
                &mut o,
                "resourceFieldRef",
                resource_field_ref,
                resource_field_selector_json,
            )?;
            put_int_ptr(&mut o, "mode", mode);
            Ok(Value::Object(o))
        })?;
        put_int_ptr(&mut o, "defaultMode", default_mode);
        Ok(Value::Object(o))
    })?;
    put_ptr(&mut o, "configMap", config_map, |source| {
        let core_v1::ConfigMapVolumeSource {
            local_object_reference,
            items,
            default_mode,
            optional,
        } = source;
        let mut o = Object::new();
        put_local_name(&mut o, local_object_reference);
        put_list(&mut o, "items", items, key_to_path_json)?;
        put_int_ptr(&mut o, "defaultMode", default_mode);
        put_bool_ptr(&mut o, "optional", optional);
        Ok(Value::Object(o))
    })?;
    Ok(Value::Object(o))
}

fn key_to_path_json(item: core_v1::KeyToPath) -> Result<Value> {
    let core_v1::KeyToPath { key, path, mode } = item;
    let mut o = Object::new();
    put_str_always(&mut o, "key", key);
    put_str_always(&mut o, "path", path);
    put_int_ptr(&mut o, "mode", mode);
    Ok(Value::Object(o))
}

fn container_json(container: core_v1::Container) -> Result<Value> {
    let core_v1::Container {
        name,
        image,
        command,
        args,
        working_dir,
        ports,
        env_from,
        env,
        resources,
        resize_policy,
        restart_policy,
        restart_policy_rules,
        volume_mounts,
        volume_devices,
        liveness_probe,
        readiness_probe,
        startup_probe,
        lifecycle,
        termination_message_path,
        termination_message_policy,
        image_pull_policy,
        security_context,
        stdin,
        stdin_once,
        tty,
    } = container;
    reject("Container.restartPolicyRules", &restart_policy_rules)?;
    reject("Container.livenessProbe", &liveness_probe)?;
    reject("Container.readinessProbe", &readiness_probe)?;
    reject("Container.startupProbe", &startup_probe)?;
    reject("Container.lifecycle", &lifecycle)?;
    reject("Container.securityContext", &security_context)?;

    let mut o = Object::new();
    put_str_always(&mut o, "name", name);
    put_str(&mut o, "image", image);
    put_strs(&mut o, "command", command);
    put_strs(&mut o, "args", args);
    put_str(&mut o, "workingDir", working_dir);
    put_list(&mut o, "ports", ports, container_port_json)?;
    put_list(&mut o, "envFrom", env_from, env_from_json)?;
    put_list(&mut o, "env", env, env_var_json)?;
    put(
        &mut o,
        "resources",
        resources_json(resources.unwrap_or_default())?,
    );
    put_list(&mut o, "resizePolicy", resize_policy, |policy| {
        let core_v1::ContainerResizePolicy {
            resource_name,
            restart_policy,
        } = policy;
        let mut o = Object::new();
        put_str_always(&mut o, "resourceName", resource_name);
        put_str_always(&mut o, "restartPolicy", restart_policy);
        Ok(Value::Object(o))
    })?;
    put_str_ptr(&mut o, "restartPolicy", restart_policy);
    put_list(&mut o, "volumeMounts", volume_mounts, volume_mount_json)?;
    put_list(&mut o, "volumeDevices", volume_devices, |device| {
        let core_v1::VolumeDevice { name, device_path } = device;
        let mut o = Object::new();
        put_str_always(&mut o, "name", name);
        put_str_always(&mut o, "devicePath", device_path);
        Ok(Value::Object(o))
    })?;
    put_str(&mut o, "terminationMessagePath", termination_message_path);
    put_str(
        &mut o,
        "terminationMessagePolicy",
        termination_message_policy,
    );
    put_str(&mut o, "imagePullPolicy", image_pull_policy);
    put_bool(&mut o, "stdin", stdin);
    put_bool(&mut o, "stdinOnce", stdin_once);
    put_bool(&mut o, "tty", tty);
    Ok(Value::Object(o))
}

fn container_port_json(port: core_v1::ContainerPort) -> Result<Value> {
    let core_v1::ContainerPort {
        name,
        host_port,
        container_port,
        protocol,
        host_ip,
    } = port;
    let mut o = Object::new();
    put_str(&mut o, "name", name);
    put_int(&mut o, "hostPort", host_port);
    put_int_always(&mut o, "containerPort", container_port);
    put_str(&mut o, "protocol", protocol);
    put_str(&mut o, "hostIP", host_ip);
    Ok(Value::Object(o))
}

fn env_from_json(source: core_v1::EnvFromSource) -> Result<Value> {
    let core_v1::EnvFromSource {
        prefix,
        config_map_ref,
        secret_ref,
    } = source;
    let mut o = Object::new();
    put_str(&mut o, "prefix", prefix);
    put_ptr(&mut o, "configMapRef", config_map_ref, |source| {
        let core_v1::ConfigMapEnvSource {
            local_object_reference,
            optional,
        } = source;
        let mut o = Object::new();
        put_local_name(&mut o, local_object_reference);
        put_bool_ptr(&mut o, "optional", optional);
        Ok(Value::Object(o))
    })?;
    put_ptr(&mut o, "secretRef", secret_ref, |source| {
        let core_v1::SecretEnvSource {
            local_object_reference,
            optional,
        } = source;
        let mut o = Object::new();
        put_local_name(&mut o, local_object_reference);
        put_bool_ptr(&mut o, "optional", optional);
        Ok(Value::Object(o))
    })?;
    Ok(Value::Object(o))
}

fn env_var_json(var: core_v1::EnvVar) -> Result<Value> {
    let core_v1::EnvVar {
        name,
        value,
        value_from,
    } = var;
    let mut o = Object::new();
    put_str_always(&mut o, "name", name);
    put_str(&mut o, "value", value);
    put_ptr(&mut o, "valueFrom", value_from, env_var_source_json)?;
    Ok(Value::Object(o))
}

fn env_var_source_json(source: core_v1::EnvVarSource) -> Result<Value> {
    let core_v1::EnvVarSource {
        field_ref,
        resource_field_ref,
        config_map_key_ref,
        secret_key_ref,
        file_key_ref,
    } = source;
    reject("EnvVarSource.fileKeyRef", &file_key_ref)?;
    let mut o = Object::new();
    put_ptr(&mut o, "fieldRef", field_ref, object_field_selector_json)?;
    put_ptr(
        &mut o,
        "resourceFieldRef",
        resource_field_ref,
        resource_field_selector_json,
    )?;
    put_ptr(&mut o, "configMapKeyRef", config_map_key_ref, |selector| {
        let core_v1::ConfigMapKeySelector {
            local_object_reference,
            key,
            optional,
        } = selector;
        Ok(key_selector_json(local_object_reference, key, optional))
    })?;
    put_ptr(&mut o, "secretKeyRef", secret_key_ref, |selector| {
        let core_v1::SecretKeySelector {
            local_object_reference,
            key,
            optional,
        } = selector;
        Ok(key_selector_json(local_object_reference, key, optional))
    })?;
    Ok(Value::Object(o))
}

/// The JSON shared by `ConfigMapKeySelector` and `SecretKeySelector`.
fn key_selector_json(
    reference: Option<core_v1::LocalObjectReference>,
    key: Option<String>,
    optional: Option<bool>,
) -> Value {
    let mut o = Object::new();
    put_local_name(&mut o, reference);
    put_str_always(&mut o, "key", key);
    put_bool_ptr(&mut o, "optional", optional);
    Value::Object(o)
}

fn object_field_selector_json(selector: core_v1::ObjectFieldSelector) -> Result<Value> {
    let core_v1::ObjectFieldSelector {
        api_version,
        field_path,
    } = selector;
    let mut o = Object::new();
    put_str(&mut o, "apiVersion", api_version);
    put_str_always(&mut o, "fieldPath", field_path);
    Ok(Value::Object(o))
}

fn resource_field_selector_json(selector: core_v1::ResourceFieldSelector) -> Result<Value> {
    let core_v1::ResourceFieldSelector {
        container_name,
        resource,
        divisor,
    } = selector;
    let mut o = Object::new();
    put_str(&mut o, "containerName", container_name);
    put_str_always(&mut o, "resource", resource);
    put(
        &mut o,
        "divisor",
        quantity_json(divisor.unwrap_or_default())?,
    );
    Ok(Value::Object(o))
}

fn resources_json(resources: core_v1::ResourceRequirements) -> Result<Value> {
    let core_v1::ResourceRequirements {
        limits,
        requests,
        claims,
    } = resources;
    let mut o = Object::new();
    put_quantity_map(&mut o, "limits", limits)?;
    put_quantity_map(&mut o, "requests", requests)?;
    put_list(&mut o, "claims", claims, |claim| {
        let core_v1::ResourceClaim { name, request } = claim;
        let mut o = Object::new();
        put_str_always(&mut o, "name", name);
        put_str(&mut o, "request", request);
        Ok(Value::Object(o))
    })?;
    Ok(Value::Object(o))
}

fn volume_mount_json(mount: core_v1::VolumeMount) -> Result<Value> {
    let core_v1::VolumeMount {
        name,
        read_only,
        recursive_read_only,
        mount_path,
        sub_path,
        mount_propagation,
        sub_path_expr,
    } = mount;
    let mut o = Object::new();
    put_str_always(&mut o, "name", name);
    put_bool(&mut o, "readOnly", read_only);
    put_str_ptr(&mut o, "recursiveReadOnly", recursive_read_only);
    put_str_always(&mut o, "mountPath", mount_path);
    put_str(&mut o, "subPath", sub_path);
    put_str_ptr(&mut o, "mountPropagation", mount_propagation);
    put_str(&mut o, "subPathExpr", sub_path_expr);
    Ok(Value::Object(o))
}

fn pod_status_json(status: core_v1::PodStatus) -> Result<Value> {
    let core_v1::PodStatus {
        observed_generation,
        phase,
        conditions,
        message,
        reason,
        nominated_node_name,
        host_ip,
        host_ips,
        pod_ip,
        pod_ips,
        start_time,
        init_container_statuses,
        container_statuses,
        qos_class,
        ephemeral_container_statuses,
        resize,
        resource_claim_statuses,
        extended_resource_claim_status,
        allocated_resources,
        resources,
    } = status;
    reject("PodStatus.initContainerStatuses", &init_container_statuses)?;
    reject("PodStatus.containerStatuses", &container_statuses)?;
    reject(
        "PodStatus.ephemeralContainerStatuses",
        &ephemeral_container_statuses,
    )?;
    reject("PodStatus.resourceClaimStatuses", &resource_claim_statuses)?;
    reject(
        "PodStatus.extendedResourceClaimStatus",
        &extended_resource_claim_status,
    )?;

    let mut o = Object::new();
    put_int(&mut o, "observedGeneration", observed_generation);
    put_str(&mut o, "phase", phase);
    put_list(&mut o, "conditions", conditions, |condition| {
        let core_v1::PodCondition {
            r#type,
            observed_generation,
            status,
            last_probe_time,
            last_transition_time,
            reason,
            message,
        } = condition;
        let mut o = Object::new();
        put_str_always(&mut o, "type", r#type);
        put_int(&mut o, "observedGeneration", observed_generation);
        put_str_always(&mut o, "status", status);
        put(&mut o, "lastProbeTime", time_json(last_probe_time)?);
        put(
            &mut o,
            "lastTransitionTime",
            time_json(last_transition_time)?,
        );
        put_str(&mut o, "reason", reason);
        put_str(&mut o, "message", message);
        Ok(Value::Object(o))
    })?;
    put_str(&mut o, "message", message);
    put_str(&mut o, "reason", reason);
    put_str(&mut o, "nominatedNodeName", nominated_node_name);
    put_str(&mut o, "hostIP", host_ip);
    put_list(&mut o, "hostIPs", host_ips, |ip| {
        let core_v1::HostIp { ip } = ip;
        Ok(ip_json(ip))
    })?;
    put_str(&mut o, "podIP", pod_ip);
    put_list(&mut o, "podIPs", pod_ips, |ip| {
        let core_v1::PodIp { ip } = ip;
        Ok(ip_json(ip))
    })?;
    put_time_ptr(&mut o, "startTime", start_time)?;
    put_str(&mut o, "qosClass", qos_class);
    put_str(&mut o, "resize", resize);
    put_quantity_map(&mut o, "allocatedResources", allocated_resources)?;
    put_ptr(&mut o, "resources", resources, resources_json)?;
    Ok(Value::Object(o))
}

/// The JSON of `HostIP` and `PodIP`: `{"ip": ...}`.
fn ip_json(ip: Option<String>) -> Value {
    let mut o = Object::new();
    put_str_always(&mut o, "ip", ip);
    Value::Object(o)
}

// ---------------------------------------------------------------------------
// apps/v1
// ---------------------------------------------------------------------------

fn deployment_spec_json(spec: apps_v1::DeploymentSpec) -> Result<Value> {
    let apps_v1::DeploymentSpec {
        replicas,
        selector,
        template,
        strategy,
        min_ready_seconds,
        revision_history_limit,
        paused,
        progress_deadline_seconds,
    } = spec;
    let apps_v1::DeploymentStrategy {
        r#type,
        rolling_update,
    } = strategy.unwrap_or_default();
    let mut strategy = Object::new();
    put_str(&mut strategy, "type", r#type);
    put_ptr(&mut strategy, "rollingUpdate", rolling_update, |update| {
        let apps_v1::RollingUpdateDeployment {
            max_unavailable,
            max_surge,
        } = update;
        let mut o = Object::new();
        put_ptr(&mut o, "maxUnavailable", max_unavailable, |v| {
            int_or_string_json(Some(v))
        })?;
        put_ptr(&mut o, "maxSurge", max_surge, |v| {
            int_or_string_json(Some(v))
        })?;
        Ok(Value::Object(o))
    })?;

    let mut o = Object::new();
    put_int_ptr(&mut o, "replicas", replicas);
    // `*LabelSelector` without omitempty: null when absent.
    let selector = selector.map(label_selector_json).transpose()?;
    put(&mut o, "selector", selector.unwrap_or(Value::Null));
    put(
        &mut o,
        "template",
        pod_template_json(template.unwrap_or_default())?,
    );
    put(&mut o, "strategy", Value::Object(strategy));
    put_int(&mut o, "minReadySeconds", min_ready_seconds);
    put_int_ptr(&mut o, "revisionHistoryLimit", revision_history_limit);
    put_bool(&mut o, "paused", paused);
    put_int_ptr(&mut o, "progressDeadlineSeconds", progress_deadline_seconds);
    Ok(Value::Object(o))
}

fn deployment_status_json(status: apps_v1::DeploymentStatus) -> Result<Value> {
    let apps_v1::DeploymentStatus {
        observed_generation,
        replicas,
        updated_replicas,
        ready_replicas,
        available_replicas,
        unavailable_replicas,
        terminating_replicas,
        conditions,
        collision_count,
    } = status;
    let mut o = Object::new();
    put_int(&mut o, "observedGeneration", observed_generation);
    put_int(&mut o, "replicas", replicas);
    put_int(&mut o, "updatedReplicas", updated_replicas);
    put_int(&mut o, "readyReplicas", ready_replicas);
    put_int(&mut o, "availableReplicas", available_replicas);
    put_int(&mut o, "unavailableReplicas", unavailable_replicas);
    put_int_ptr(&mut o, "terminatingReplicas", terminating_replicas);
    put_list(&mut o, "conditions", conditions, |condition| {
        let apps_v1::DeploymentCondition {
            r#type,
            status,
            last_update_time,
            last_transition_time,
            reason,
            message,
        } = condition;
        let mut o = Object::new();
        put_str_always(&mut o, "type", r#type);
        put_str_always(&mut o, "status", status);
        put(&mut o, "lastUpdateTime", time_json(last_update_time)?);
        put(
            &mut o,
            "lastTransitionTime",
            time_json(last_transition_time)?,
        );
        put_str(&mut o, "reason", reason);
        put_str(&mut o, "message", message);
        Ok(Value::Object(o))
    })?;
    put_int_ptr(&mut o, "collisionCount", collision_count);
    Ok(Value::Object(o))
}

// ---------------------------------------------------------------------------
// rbac.authorization.k8s.io/v1
// ---------------------------------------------------------------------------

fn policy_rule_json(rule: rbac_v1::PolicyRule) -> Result<Value> {
    let rbac_v1::PolicyRule {
        verbs,
        api_groups,
        resources,
        resource_names,
        non_resource_ur_ls,
    } = rule;
    let mut o = Object::new();
    put_strs_always(&mut o, "verbs", verbs);
    put_strs(&mut o, "apiGroups", api_groups);
    put_strs(&mut o, "resources", resources);
    put_strs(&mut o, "resourceNames", resource_names);
    put_strs(&mut o, "nonResourceURLs", non_resource_ur_ls);
    Ok(Value::Object(o))
}

fn aggregation_rule_json(rule: rbac_v1::AggregationRule) -> Result<Value> {
    let rbac_v1::AggregationRule {
        cluster_role_selectors,
    } = rule;
    let mut o = Object::new();
    put_list(
        &mut o,
        "clusterRoleSelectors",
        cluster_role_selectors,
        label_selector_json,
    )?;
    Ok(Value::Object(o))
}

fn subject_json(subject: rbac_v1::Subject) -> Result<Value> {
    let rbac_v1::Subject {
        kind,
        api_group,
        name,
        namespace,
    } = subject;
    let mut o = Object::new();
    put_str_always(&mut o, "kind", kind);
    put_str(&mut o, "apiGroup", api_group);
    put_str_always(&mut o, "name", name);
    put_str(&mut o, "namespace", namespace);
    Ok(Value::Object(o))
}

// ---------------------------------------------------------------------------
// Scalar encodings
// ---------------------------------------------------------------------------

/// `intstr.IntOrString` (absent means the zero value, the integer 0).
fn int_or_string_json(value: Option<IntOrString>) -> Result<Value> {
    let IntOrString {
        r#type,
        int_val,
        str_val,
    } = value.unwrap_or_default();
    match r#type.unwrap_or(0) {
        0 => Ok(Value::from(int_val.unwrap_or(0))),
        1 => Ok(Value::String(str_val.unwrap_or_default())),
        other => Err(malformed(format!("IntOrString has unknown type {other}"))),
    }
}

/// `resource.Quantity`: its canonical string; a message without one is zero.
fn quantity_json(quantity: Quantity) -> Result<Value> {
    match quantity.string {
        None => Ok(Value::String("0".to_owned())),
        Some(s) if s.is_empty() => Err(malformed("empty quantity")),
        Some(s) => Ok(Value::String(s)),
    }
}

/// Seconds from the Unix epoch back to Go's zero `time.Time` (year 1).
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;
/// Nanoseconds in a second, wide enough for any protobuf timestamp.
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// `metav1.Time`: RFC 3339 with whole seconds, `null` for the zero time.
fn time_json(time: Option<meta_v1::Time>) -> Result<Value> {
    let Some(meta_v1::Time { seconds, nanos }) = time else {
        return Ok(Value::Null);
    };
    match instant(seconds, nanos.map(i64::from))? {
        None => Ok(Value::Null),
        Some((seconds, _)) => Ok(Value::String(format_rfc3339(seconds, None)?)),
    }
}

/// `metav1.MicroTime`: RFC 3339 with six fractional digits, `null` for zero.
fn micro_time_json(time: meta_v1::MicroTime) -> Result<Value> {
    let meta_v1::MicroTime { seconds, nanos } = time;
    // Go truncates the nanoseconds towards zero before normalising.
    let nanos = nanos.map(|n| i64::from(n) - i64::from(n) % 1000);
    match instant(seconds, nanos)? {
        None => Ok(Value::Null),
        Some((seconds, nanos)) => Ok(Value::String(format_rfc3339(seconds, Some(nanos / 1000))?)),
    }
}

/// Normalises a protobuf timestamp like Go's `time.Unix`; `None` for the zero
/// time (an empty message, or exactly 0001-01-01T00:00:00Z).
fn instant(seconds: Option<i64>, nanos: Option<i64>) -> Result<Option<(i64, u32)>> {
    if seconds.is_none() && nanos.is_none() {
        return Ok(None);
    }
    let total =
        i128::from(seconds.unwrap_or(0)) * NANOS_PER_SECOND + i128::from(nanos.unwrap_or(0));
    let seconds = i64::try_from(total.div_euclid(NANOS_PER_SECOND))
        .map_err(|_| malformed("timestamp out of range"))?;
    let nanos = u32::try_from(total.rem_euclid(NANOS_PER_SECOND))
        .map_err(|_| malformed("timestamp out of range"))?;
    if seconds == GO_ZERO_TIME_SECONDS && nanos == 0 {
        return Ok(None);
    }
    Ok(Some((seconds, nanos)))
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ss[.ffffff]Z`.
fn format_rfc3339(unix_seconds: i64, micros: Option<u32>) -> Result<String> {
    let days = unix_seconds.div_euclid(86_400);
    let second_of_day = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return Err(malformed("timestamp out of range"));
    }
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if let Some(micros) = micros {
        out.push_str(&format!(".{micros:06}"));
    }
    out.push('Z');
    Ok(out)
}

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let group = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        let sextet = |shift: u32| char::from(ALPHABET[((group >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

// ---------------------------------------------------------------------------
// Field helpers, named after the shape of the Go field:
//   put_x        value field with `omitempty` (left out when empty/zero)
//   put_x_always value field without `omitempty` (always written)
//   put_x_ptr    pointer field (written whenever present)
// ---------------------------------------------------------------------------

/// Builds a [`ProtobufError::Malformed`].
fn malformed(message: impl Into<String>) -> ProtobufError {
    ProtobufError::Malformed(message.into())
}

/// Decodes one protobuf message, mapping failures to [`ProtobufError::Malformed`].
fn decode_message<M: Message + Default>(bytes: &[u8]) -> Result<M> {
    M::decode(bytes).map_err(|e| malformed(e.to_string()))
}

/// Fails if a field this module does not convert is set.
fn reject<T: Default + PartialEq>(field: &'static str, value: &T) -> Result<()> {
    if *value == T::default() {
        Ok(())
    } else {
        Err(ProtobufError::UnsupportedField { field })
    }
}

/// Sets `key` to `value`.
fn put(o: &mut Object, key: &str, value: Value) {
    o.insert(key.to_owned(), value);
}

/// A `string` field with `omitempty`.
fn put_str(o: &mut Object, key: &str, value: Option<String>) {
    if let Some(s) = value.filter(|s| !s.is_empty()) {
        put(o, key, Value::String(s));
    }
}

/// A `string` field without `omitempty`.
fn put_str_always(o: &mut Object, key: &str, value: Option<String>) {
    put(o, key, Value::String(value.unwrap_or_default()));
}

/// A `*string` field.
fn put_str_ptr(o: &mut Object, key: &str, value: Option<String>) {
    if let Some(s) = value {
        put(o, key, Value::String(s));
    }
}

/// An integer field with `omitempty`.
fn put_int<T: Into<i64>>(o: &mut Object, key: &str, value: Option<T>) {
    let n = value.map_or(0, Into::into);
    if n != 0 {
        put(o, key, Value::from(n));
    }
}

/// An integer field without `omitempty`.
fn put_int_always<T: Into<i64>>(o: &mut Object, key: &str, value: Option<T>) {
    put(o, key, Value::from(value.map_or(0, Into::into)));
}

/// A pointer-to-integer field.
fn put_int_ptr<T: Into<i64>>(o: &mut Object, key: &str, value: Option<T>) {
    if let Some(n) = value {
        put(o, key, Value::from(n.into()));
    }
}

/// A `bool` field with `omitempty`.
fn put_bool(o: &mut Object, key: &str, value: Option<bool>) {
    if value == Some(true) {
        put(o, key, Value::Bool(true));
    }
}

/// A `*bool` field.
fn put_bool_ptr(o: &mut Object, key: &str, value: Option<bool>) {
    if let Some(b) = value {
        put(o, key, Value::Bool(b));
    }
}

/// A `[]string` field with `omitempty`.
fn put_strs(o: &mut Object, key: &str, values: Vec<String>) {
    if !values.is_empty() {
        put(o, key, Value::from(values));
    }
}

/// A `[]string` field without `omitempty` (`null` when empty).
fn put_strs_always(o: &mut Object, key: &str, values: Vec<String>) {
    if values.is_empty() {
        put(o, key, Value::Null);
    } else {
        put(o, key, Value::from(values));
    }
}

/// A `map[string]string` field with `omitempty`.
fn put_str_map(o: &mut Object, key: &str, map: BTreeMap<String, String>) {
    if !map.is_empty() {
        let map = map.into_iter().map(|(k, v)| (k, Value::String(v)));
        put(o, key, Value::Object(map.collect()));
    }
}

/// A `map[string][]byte` field with `omitempty`; values become base64.
fn put_bytes_map(o: &mut Object, key: &str, map: BTreeMap<String, Vec<u8>>) {
    if !map.is_empty() {
        let map = map
            .into_iter()
            .map(|(k, v)| (k, Value::String(base64_encode(&v))));
        put(o, key, Value::Object(map.collect()));
    }
}

/// A `ResourceList` (`map[string]Quantity`) field with `omitempty`.
fn put_quantity_map(o: &mut Object, key: &str, map: BTreeMap<String, Quantity>) -> Result<()> {
    if !map.is_empty() {
        let map = map
            .into_iter()
            .map(|(k, v)| Ok((k, quantity_json(v)?)))
            .collect::<Result<Object>>()?;
        put(o, key, Value::Object(map));
    }
    Ok(())
}

/// A `*metav1.Time` field.
fn put_time_ptr(o: &mut Object, key: &str, time: Option<meta_v1::Time>) -> Result<()> {
    if time.is_some() {
        put(o, key, time_json(time)?);
    }
    Ok(())
}

/// A pointer-to-struct field, converted by `convert` when present.
fn put_ptr<T>(
    o: &mut Object,
    key: &str,
    value: Option<T>,
    convert: impl FnOnce(T) -> Result<Value>,
) -> Result<()> {
    if let Some(value) = value {
        put(o, key, convert(value)?);
    }
    Ok(())
}

/// A list-of-structs field with `omitempty`.
fn put_list<T>(
    o: &mut Object,
    key: &str,
    items: Vec<T>,
    convert: impl FnMut(T) -> Result<Value>,
) -> Result<()> {
    if !items.is_empty() {
        put(o, key, list_json(items, convert)?);
    }
    Ok(())
}

/// A list-of-structs field without `omitempty` (`null` when empty).
fn put_list_always<T>(
    o: &mut Object,
    key: &str,
    items: Vec<T>,
    convert: impl FnMut(T) -> Result<Value>,
) -> Result<()> {
    let value = if items.is_empty() {
        Value::Null
    } else {
        list_json(items, convert)?
    };
    put(o, key, value);
    Ok(())
}

/// Converts every item of a list.
fn list_json<T>(items: Vec<T>, convert: impl FnMut(T) -> Result<Value>) -> Result<Value> {
    items
        .into_iter()
        .map(convert)
        .collect::<Result<Vec<_>>>()
        .map(Value::Array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Wraps a message the way client-go's protobuf serializer does.
    fn envelope(api_version: &str, kind: &str, message: &impl Message) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: s(api_version),
                kind: s(kind),
            }),
            raw: Some(message.encode_to_vec()),
            content_encoding: s(""),
            content_type: s(""),
        };
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        body
    }

    /// Compares serialized forms, so key order matters too.
    fn assert_json(actual: &Value, expected: &Value) {
        assert_eq!(
            serde_json::to_string_pretty(actual).unwrap(),
            serde_json::to_string_pretty(expected).unwrap()
        );
    }

    fn decode_ok(api_version: &str, kind: &str, message: &impl Message) -> Value {
        decode(&envelope(api_version, kind, message)).unwrap()
    }

    /// ObjectMeta as Go writes it: every string present (possibly empty) and
    /// a zero creation timestamp as an empty message.
    fn go_meta(name: &str, namespace: &str, labels: &[(&str, &str)]) -> meta_v1::ObjectMeta {
        meta_v1::ObjectMeta {
            name: s(name),
            generate_name: s(""),
            namespace: s(namespace),
            self_link: s(""),
            uid: s(""),
            resource_version: s(""),
            generation: Some(0),
            creation_timestamp: Some(meta_v1::Time::default()),
            labels: string_map(labels),
            ..Default::default()
        }
    }

    /// A container as Go writes it, with every scalar present.
    fn go_container(name: &str, image: &str) -> core_v1::Container {
        core_v1::Container {
            name: s(name),
            image: s(image),
            working_dir: s(""),
            resources: Some(core_v1::ResourceRequirements::default()),
            termination_message_path: s(""),
            termination_message_policy: s(""),
            image_pull_policy: s(""),
            stdin: Some(false),
            stdin_once: Some(false),
            tty: Some(false),
            ..Default::default()
        }
    }

    /// A PodSpec as Go writes it, with every scalar present.
    fn go_pod_spec(containers: Vec<core_v1::Container>) -> core_v1::PodSpec {
        core_v1::PodSpec {
            containers,
            restart_policy: s(""),
            dns_policy: s(""),
            service_account_name: s(""),
            service_account: s(""),
            node_name: s(""),
            host_network: Some(false),
            host_pid: Some(false),
            host_ipc: Some(false),
            hostname: s(""),
            subdomain: s(""),
            scheduler_name: s(""),
            priority_class_name: s(""),
            ..Default::default()
        }
    }

    #[test]
    fn eviction_as_kubectl_drain_sends_it() {
        let eviction = policy_v1::Eviction {
            metadata: Some(go_meta("web-1", "drain", &[])),
            delete_options: Some(meta_v1::DeleteOptions {
                grace_period_seconds: Some(30),
                preconditions: Some(meta_v1::Preconditions {
                    uid: s("u-1"),
                    resource_version: None,
                }),
                dry_run: vec!["All".into()],
                ..Default::default()
            }),
        };
        assert_json(
            &decode_ok("policy/v1", "Eviction", &eviction),
            &json!({
                "kind": "Eviction",
                "apiVersion": "policy/v1",
                "metadata": {"name": "web-1", "namespace": "drain"},
                "deleteOptions": {
                    "gracePeriodSeconds": 30,
                    "preconditions": {"uid": "u-1"},
                    "dryRun": ["All"]
                }
            }),
        );
        let bare = policy_v1beta1::Eviction {
            metadata: Some(go_meta("web-1", "drain", &[])),
            delete_options: None,
        };
        assert_json(
            &decode_ok("policy/v1beta1", "Eviction", &bare),
            &json!({
                "kind": "Eviction",
                "apiVersion": "policy/v1beta1",
                "metadata": {"name": "web-1", "namespace": "drain"}
            }),
        );
    }

    #[test]
    fn namespace_as_kubectl_sends_it() {
        let ns = core_v1::Namespace {
            metadata: Some(go_meta("demo", "", &[])),
            spec: Some(core_v1::NamespaceSpec::default()),
            status: Some(core_v1::NamespaceStatus {
                phase: s(""),
                conditions: vec![],
            }),
        };
        assert_json(
            &decode_ok("v1", "Namespace", &ns),
            &json!({
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {"name": "demo"},
                "spec": {},
                "status": {}
            }),
        );
    }

    #[test]
    fn config_map_with_data_and_binary_data() {
        let cm = core_v1::ConfigMap {
            metadata: Some(go_meta("settings", "default", &[("app", "web")])),
            immutable: Some(true),
            data: string_map(&[("b.conf", "x=1\n"), ("a", "")]),
            binary_data: [
                ("blob".to_owned(), vec![0, 1, 2, 0xfe, 0xff]),
                ("empty".to_owned(), vec![]),
            ]
            .into_iter()
            .collect(),
        };
        assert_json(
            &decode_ok("v1", "ConfigMap", &cm),
            &json!({
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {
                    "name": "settings",
                    "namespace": "default",
                    "labels": {"app": "web"}
                },
                "immutable": true,
                "data": {"a": "", "b.conf": "x=1\n"},
                "binaryData": {"blob": "AAEC/v8=", "empty": ""}
            }),
        );
    }

    #[test]
    fn secret_generic() {
        let secret = core_v1::Secret {
            metadata: Some(go_meta("creds", "prod", &[])),
            immutable: None,
            data: [
                ("password".to_owned(), b"s3cr3t!".to_vec()),
                ("user".to_owned(), b"admin".to_vec()),
            ]
            .into_iter()
            .collect(),
            string_data: BTreeMap::new(),
            r#type: s("Opaque"),
        };
        assert_json(
            &decode_ok("v1", "Secret", &secret),
            &json!({
                "kind": "Secret",
                "apiVersion": "v1",
                "metadata": {"name": "creds", "namespace": "prod"},
                "data": {"password": "czNjcjN0IQ==", "user": "YWRtaW4="},
                "type": "Opaque"
            }),
        );
    }

    #[test]
    fn service_account() {
        let sa = core_v1::ServiceAccount {
            metadata: Some(go_meta("robot", "default", &[])),
            image_pull_secrets: vec![core_v1::LocalObjectReference { name: s("regcred") }],
            automount_service_account_token: Some(false),
            ..Default::default()
        };
        assert_json(
            &decode_ok("v1", "ServiceAccount", &sa),
            &json!({
                "kind": "ServiceAccount",
                "apiVersion": "v1",
                "metadata": {"name": "robot", "namespace": "default"},
                "imagePullSecrets": [{"name": "regcred"}],
                "automountServiceAccountToken": false
            }),
        );
    }

    #[test]
    fn service_clusterip() {
        let port = |name: &str, port: i32, target: IntOrString| core_v1::ServicePort {
            name: s(name),
            protocol: s("TCP"),
            app_protocol: None,
            port: Some(port),
            target_port: Some(target),
            node_port: Some(0),
        };
        let svc = core_v1::Service {
            metadata: Some(go_meta("web", "default", &[("app", "web")])),
            spec: Some(core_v1::ServiceSpec {
                ports: vec![
                    port(
                        "80-8080",
                        80,
                        IntOrString {
                            r#type: Some(0),
                            int_val: Some(8080),
                            str_val: s(""),
                        },
                    ),
                    port(
                        "443-https",
                        443,
                        IntOrString {
                            r#type: Some(1),
                            int_val: Some(0),
                            str_val: s("https"),
                        },
                    ),
                ],
                selector: string_map(&[("app", "web")]),
                cluster_ip: s(""),
                r#type: s("ClusterIP"),
                session_affinity: s(""),
                load_balancer_ip: s(""),
                external_name: s(""),
                external_traffic_policy: s(""),
                health_check_node_port: Some(0),
                publish_not_ready_addresses: Some(false),
                ..Default::default()
            }),
            status: Some(core_v1::ServiceStatus {
                load_balancer: Some(core_v1::LoadBalancerStatus::default()),
                conditions: vec![],
            }),
        };
        assert_json(
            &decode_ok("v1", "Service", &svc),
            &json!({
                "kind": "Service",
                "apiVersion": "v1",
                "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                "spec": {
                    "ports": [
                        {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                        {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"}
                    ],
                    "selector": {"app": "web"},
                    "type": "ClusterIP"
                },
                "status": {"loadBalancer": {}}
            }),
        );
    }

    #[test]
    fn deployment_as_kubectl_creates_it() {
        let labels = [("app", "web")];
        let mut container = go_container("nginx", "nginx:1.27");
        container.ports = vec![core_v1::ContainerPort {
            name: s(""),
            host_port: Some(0),
            container_port: Some(80),
            protocol: s(""),
            host_ip: s(""),
        }];
        let deployment = apps_v1::Deployment {
            metadata: Some(go_meta("web", "default", &labels)),
            spec: Some(apps_v1::DeploymentSpec {
                replicas: Some(2),
                selector: Some(meta_v1::LabelSelector {
                    match_labels: string_map(&labels),
                    match_expressions: vec![],
                }),
                template: Some(core_v1::PodTemplateSpec {
                    metadata: Some(go_meta("", "", &labels)),
                    spec: Some(go_pod_spec(vec![container])),
                }),
                strategy: Some(apps_v1::DeploymentStrategy {
                    r#type: s(""),
                    rolling_update: None,
                }),
                min_ready_seconds: Some(0),
                revision_history_limit: None,
                paused: Some(false),
                progress_deadline_seconds: None,
            }),
            status: Some(apps_v1::DeploymentStatus {
                observed_generation: Some(0),
                replicas: Some(0),
                updated_replicas: Some(0),
                ready_replicas: Some(0),
                available_replicas: Some(0),
                unavailable_replicas: Some(0),
                ..Default::default()
            }),
        };
        assert_json(
            &decode_ok("apps/v1", "Deployment", &deployment),
            &json!({
                "kind": "Deployment",
                "apiVersion": "apps/v1",
                "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "containers": [{
                                "name": "nginx",
                                "image": "nginx:1.27",
                                "ports": [{"containerPort": 80}],
                                "resources": {}
                            }]
                        }
                    },
                    "strategy": {}
                },
                "status": {}
            }),
        );
    }

    #[test]
    fn deployment_with_everything_kubectl_can_set() {
        let mut container = go_container("app", "busybox");
        container.command = vec!["sh".to_owned(), "-c".to_owned()];
        container.args = vec!["sleep 3600".to_owned()];
        container.image_pull_policy = s("IfNotPresent");
        container.termination_message_path = s("/dev/termination-log");
        container.termination_message_policy = s("File");
        container.env = vec![
            core_v1::EnvVar {
                name: s("MODE"),
                value: s("prod"),
                value_from: None,
            },
            core_v1::EnvVar {
                name: s("POD"),
                value: s(""),
                value_from: Some(core_v1::EnvVarSource {
                    field_ref: Some(core_v1::ObjectFieldSelector {
                        api_version: s("v1"),
                        field_path: s("metadata.name"),
                    }),
                    ..Default::default()
                }),
            },
            core_v1::EnvVar {
                name: s("MEM"),
                value: s(""),
                value_from: Some(core_v1::EnvVarSource {
                    resource_field_ref: Some(core_v1::ResourceFieldSelector {
                        container_name: s(""),
                        resource: s("limits.memory"),
                        divisor: Some(Quantity::default()),
                    }),
                    ..Default::default()
                }),
            },
        ];
        let quantity = |q: &str| Quantity { string: s(q) };
        container.resources = Some(core_v1::ResourceRequirements {
            limits: [("memory".to_owned(), quantity("128Mi"))]
                .into_iter()
                .collect(),
            requests: [("cpu".to_owned(), quantity("100m"))].into_iter().collect(),
            claims: vec![],
        });
        let mut spec = go_pod_spec(vec![container]);
        spec.restart_policy = s("Always");
        spec.dns_policy = s("ClusterFirst");
        spec.termination_grace_period_seconds = Some(30);
        let int = |n: i32| IntOrString {
            r#type: Some(0),
            int_val: Some(n),
            str_val: s(""),
        };
        let deployment = apps_v1::Deployment {
            metadata: Some(meta_v1::ObjectMeta {
                uid: s("0b6c9c1e-7d0e-4a8e-9f5e-2f1d0c9b8a7f"),
                resource_version: s("42"),
                generation: Some(3),
                creation_timestamp: Some(meta_v1::Time {
                    seconds: Some(1_704_164_645),
                    nanos: Some(999_999_999),
                }),
                annotations: string_map(&[("note", "hi")]),
                finalizers: vec!["example.com/keep".to_owned()],
                owner_references: vec![meta_v1::OwnerReference {
                    api_version: s("v1"),
                    kind: s("ConfigMap"),
                    name: s("owner"),
                    uid: s("u-1"),
                    controller: Some(false),
                    block_owner_deletion: None,
                }],
                ..go_meta("", "", &[])
            }),
            spec: Some(apps_v1::DeploymentSpec {
                replicas: Some(0),
                selector: Some(meta_v1::LabelSelector {
                    match_labels: BTreeMap::new(),
                    match_expressions: vec![meta_v1::LabelSelectorRequirement {
                        key: s("tier"),
                        operator: s("In"),
                        values: vec!["web".to_owned(), "api".to_owned()],
                    }],
                }),
                template: Some(core_v1::PodTemplateSpec {
                    metadata: Some(go_meta("", "", &[("tier", "web")])),
                    spec: Some(spec),
                }),
                strategy: Some(apps_v1::DeploymentStrategy {
                    r#type: s("RollingUpdate"),
                    rolling_update: Some(apps_v1::RollingUpdateDeployment {
                        max_unavailable: Some(int(0)),
                        max_surge: Some(IntOrString {
                            r#type: Some(1),
                            int_val: Some(0),
                            str_val: s("25%"),
                        }),
                    }),
                }),
                min_ready_seconds: Some(5),
                revision_history_limit: Some(10),
                paused: Some(true),
                progress_deadline_seconds: Some(600),
            }),
            status: None,
        };
        assert_json(
            &decode_ok("apps/v1", "Deployment", &deployment),
            &json!({
                "kind": "Deployment",
                "apiVersion": "apps/v1",
                "metadata": {
                    "uid": "0b6c9c1e-7d0e-4a8e-9f5e-2f1d0c9b8a7f",
                    "resourceVersion": "42",
                    "generation": 3,
                    "creationTimestamp": "2024-01-02T03:04:05Z",
                    "annotations": {"note": "hi"},
                    "ownerReferences": [{
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "owner",
                        "uid": "u-1",
                        "controller": false
                    }],
                    "finalizers": ["example.com/keep"]
                },
                "spec": {
                    "replicas": 0,
                    "selector": {"matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["web", "api"]}
                    ]},
                    "template": {
                        "metadata": {"labels": {"tier": "web"}},
                        "spec": {
                            "containers": [{
                                "name": "app",
                                "image": "busybox",
                                "command": ["sh", "-c"],
                                "args": ["sleep 3600"],
                                "env": [
                                    {"name": "MODE", "value": "prod"},
                                    {"name": "POD", "valueFrom": {"fieldRef": {
                                        "apiVersion": "v1", "fieldPath": "metadata.name"
                                    }}},
                                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {
                                        "resource": "limits.memory", "divisor": "0"
                                    }}}
                                ],
                                "resources": {
                                    "limits": {"memory": "128Mi"},
                                    "requests": {"cpu": "100m"}
                                },
                                "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File",
                                "imagePullPolicy": "IfNotPresent"
                            }],
                            "restartPolicy": "Always",
                            "terminationGracePeriodSeconds": 30,
                            "dnsPolicy": "ClusterFirst"
                        }
                    },
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}
                    },
                    "minReadySeconds": 5,
                    "revisionHistoryLimit": 10,
                    "paused": true,
                    "progressDeadlineSeconds": 600
                },
                "status": {}
            }),
        );
    }

    #[test]
    fn deployment_without_selector_or_template() {
        let deployment = apps_v1::Deployment::default();
        assert_json(
            &decode_ok("apps/v1", "Deployment", &deployment),
            &json!({
                "kind": "Deployment",
                "apiVersion": "apps/v1",
                "metadata": {},
                "spec": {
                    "selector": null,
                    "template": {"metadata": {}, "spec": {"containers": null}},
                    "strategy": {}
                },
                "status": {}
            }),
        );
    }

    #[test]
    fn pod_as_kubectl_run_sends_it() {
        let mut container = go_container("shell", "alpine");
        container.stdin = Some(true);
        container.tty = Some(true);
        container.ports = vec![core_v1::ContainerPort {
            container_port: Some(8080),
            ..Default::default()
        }];
        let mut spec = go_pod_spec(vec![container]);
        spec.restart_policy = s("Never");
        spec.dns_policy = s("ClusterFirst");
        let pod = core_v1::Pod {
            metadata: Some(go_meta("shell", "", &[("run", "shell")])),
            spec: Some(spec),
            status: Some(core_v1::PodStatus {
                phase: s(""),
                message: s(""),
                reason: s(""),
                nominated_node_name: s(""),
                host_ip: s(""),
                pod_ip: s(""),
                qos_class: s(""),
                ..Default::default()
            }),
        };
        assert_json(
            &decode_ok("v1", "Pod", &pod),
            &json!({
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {"name": "shell", "labels": {"run": "shell"}},
                "spec": {
                    "containers": [{
                        "name": "shell",
                        "image": "alpine",
                        "ports": [{"containerPort": 8080}],
                        "resources": {},
                        "stdin": true,
                        "tty": true
                    }],
                    "restartPolicy": "Never",
                    "dnsPolicy": "ClusterFirst"
                },
                "status": {}
            }),
        );
    }

    #[test]
    fn role_and_cluster_roles() {
        let rule = rbac_v1::PolicyRule {
            verbs: vec!["get".to_owned(), "list".to_owned()],
            api_groups: vec![String::new()],
            resources: vec!["pods".to_owned()],
            resource_names: vec!["web".to_owned()],
            non_resource_ur_ls: vec![],
        };
        let role = rbac_v1::Role {
            metadata: Some(go_meta("reader", "default", &[])),
            rules: vec![rule],
        };
        assert_json(
            &decode_ok("rbac.authorization.k8s.io/v1", "Role", &role),
            &json!({
                "kind": "Role",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "reader", "namespace": "default"},
                "rules": [{
                    "verbs": ["get", "list"],
                    "apiGroups": [""],
                    "resources": ["pods"],
                    "resourceNames": ["web"]
                }]
            }),
        );

        let cluster_role = rbac_v1::ClusterRole {
            metadata: Some(go_meta("metrics", "", &[])),
            rules: vec![rbac_v1::PolicyRule {
                non_resource_ur_ls: vec!["/metrics".to_owned()],
                ..Default::default()
            }],
            aggregation_rule: None,
        };
        assert_json(
            &decode_ok("rbac.authorization.k8s.io/v1", "ClusterRole", &cluster_role),
            &json!({
                "kind": "ClusterRole",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "metrics"},
                "rules": [{"verbs": null, "nonResourceURLs": ["/metrics"]}]
            }),
        );

        let aggregated = rbac_v1::ClusterRole {
            metadata: Some(go_meta("monitoring", "", &[])),
            rules: vec![],
            aggregation_rule: Some(rbac_v1::AggregationRule {
                cluster_role_selectors: vec![meta_v1::LabelSelector {
                    match_labels: string_map(&[("rbac.example.com/aggregate", "true")]),
                    match_expressions: vec![],
                }],
            }),
        };
        assert_json(
            &decode_ok("rbac.authorization.k8s.io/v1", "ClusterRole", &aggregated),
            &json!({
                "kind": "ClusterRole",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "monitoring"},
                "rules": null,
                "aggregationRule": {"clusterRoleSelectors": [
                    {"matchLabels": {"rbac.example.com/aggregate": "true"}}
                ]}
            }),
        );
    }

    #[test]
    fn role_bindings() {
        let role_ref = rbac_v1::RoleRef {
            api_group: s("rbac.authorization.k8s.io"),
            kind: s("ClusterRole"),
            name: s("view"),
        };
        let subjects = vec![
            rbac_v1::Subject {
                kind: s("User"),
                api_group: s("rbac.authorization.k8s.io"),
                name: s("alice"),
                namespace: s(""),
            },
            rbac_v1::Subject {
                kind: s("ServiceAccount"),
                api_group: s(""),
                name: s("robot"),
                namespace: s("default"),
            },
        ];
        let expected_subjects = json!([
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
            {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}
        ]);
        let expected_role_ref =
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"});

        let binding = rbac_v1::RoleBinding {
            metadata: Some(go_meta("viewers", "default", &[])),
            subjects: subjects.clone(),
            role_ref: Some(role_ref.clone()),
        };
        assert_json(
            &decode_ok("rbac.authorization.k8s.io/v1", "RoleBinding", &binding),
            &json!({
                "kind": "RoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "viewers", "namespace": "default"},
                "subjects": expected_subjects,
                "roleRef": expected_role_ref
            }),
        );

        let cluster_binding = rbac_v1::ClusterRoleBinding {
            metadata: Some(go_meta("viewers", "", &[])),
            subjects: vec![],
            role_ref: Some(role_ref),
        };
        assert_json(
            &decode_ok(
                "rbac.authorization.k8s.io/v1",
                "ClusterRoleBinding",
                &cluster_binding,
            ),
            &json!({
                "kind": "ClusterRoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "viewers"},
                "roleRef": expected_role_ref
            }),
        );
    }

    #[test]
    fn lease_with_micro_times() {
        let lease = coordination_v1::Lease {
            metadata: Some(go_meta("leader", "kube-system", &[])),
            spec: Some(coordination_v1::LeaseSpec {
                holder_identity: s("node-1"),
                lease_duration_seconds: Some(15),
                acquire_time: Some(meta_v1::MicroTime {
                    seconds: Some(1_751_284_800),
                    nanos: Some(123_456_789),
                }),
                renew_time: Some(meta_v1::MicroTime {
                    seconds: Some(1_751_284_800),
                    nanos: Some(0),
                }),
                lease_transitions: Some(0),
                strategy: None,
                preferred_holder: None,
            }),
        };
        assert_json(
            &decode_ok("coordination.k8s.io/v1", "Lease", &lease),
            &json!({
                "kind": "Lease",
                "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"name": "leader", "namespace": "kube-system"},
                "spec": {
                    "holderIdentity": "node-1",
                    "leaseDurationSeconds": 15,
                    "acquireTime": "2025-06-30T12:00:00.123456Z",
                    "renewTime": "2025-06-30T12:00:00.000000Z",
                    "leaseTransitions": 0
                }
            }),
        );
    }

    #[test]
    fn timestamps() {
        let time = |seconds: Option<i64>, nanos: Option<i32>| {
            time_json(Some(meta_v1::Time { seconds, nanos })).unwrap()
        };
        assert_eq!(
            time(Some(1_704_164_645), Some(0)),
            json!("2024-01-02T03:04:05Z")
        );
        assert_eq!(time(Some(951_868_799), None), json!("2000-02-29T23:59:59Z"));
        assert_eq!(time(Some(0), Some(0)), json!("1970-01-01T00:00:00Z"));
        assert_eq!(time(Some(-1), None), json!("1969-12-31T23:59:59Z"));
        assert_eq!(
            time(Some(253_402_300_799), None),
            json!("9999-12-31T23:59:59Z")
        );
        // Out-of-range nanoseconds are carried into the seconds, as in Go.
        assert_eq!(time(Some(10), Some(-1)), json!("1970-01-01T00:00:09Z"));
        assert_eq!(
            time(Some(0), Some(2_000_000_000)),
            json!("1970-01-01T00:00:02Z")
        );
        // Go's zero time, in both of its encodings.
        assert_eq!(time(None, None), Value::Null);
        assert_eq!(time(Some(GO_ZERO_TIME_SECONDS), Some(0)), Value::Null);
        assert_eq!(time_json(None).unwrap(), Value::Null);
        // Years Go cannot print in RFC 3339 are rejected.
        for seconds in [253_402_300_800, i64::MAX, i64::MIN] {
            assert!(
                time_json(Some(meta_v1::Time {
                    seconds: Some(seconds),
                    nanos: Some(i32::MAX)
                }))
                .is_err()
            );
        }

        let micro = |seconds: i64, nanos: i32| {
            micro_time_json(meta_v1::MicroTime {
                seconds: Some(seconds),
                nanos: Some(nanos),
            })
            .unwrap()
        };
        assert_eq!(micro(0, 999), json!("1970-01-01T00:00:00.000000Z"));
        assert_eq!(micro(1, -1500), json!("1970-01-01T00:00:00.999999Z"));
        assert_eq!(
            micro_time_json(meta_v1::MicroTime::default()).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn deletion_timestamp_and_managed_fields() {
        let meta = meta_v1::ObjectMeta {
            deletion_timestamp: Some(meta_v1::Time {
                seconds: Some(1_704_164_645),
                nanos: Some(0),
            }),
            deletion_grace_period_seconds: Some(0),
            managed_fields: vec![meta_v1::ManagedFieldsEntry {
                manager: s("kubectl-create"),
                operation: s("Update"),
                api_version: s("v1"),
                time: Some(meta_v1::Time {
                    seconds: Some(1_704_164_645),
                    nanos: Some(0),
                }),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta_v1::FieldsV1 {
                    raw: Some(br#"{"f:data":{".":{},"f:a":{}}}"#.to_vec()),
                }),
                subresource: s(""),
            }],
            ..go_meta("x", "", &[])
        };
        assert_json(
            &meta_to_json(Some(meta)).unwrap(),
            &json!({
                "name": "x",
                "deletionTimestamp": "2024-01-02T03:04:05Z",
                "deletionGracePeriodSeconds": 0,
                "managedFields": [{
                    "manager": "kubectl-create",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2024-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {".": {}, "f:a": {}}}
                }]
            }),
        );
    }

    #[test]
    fn base64_matches_the_standard_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, output) in vectors {
            assert_eq!(base64_encode(input.as_bytes()), output);
        }
        assert_eq!(base64_encode(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn rejects_bodies_without_the_magic_prefix() {
        let cm = core_v1::ConfigMap::default();
        let body = envelope("v1", "ConfigMap", &cm);
        let without_magic = body.get(MAGIC.len()..).unwrap_or_default();
        assert!(matches!(
            decode(without_magic),
            Err(ProtobufError::MissingMagic)
        ));
        assert!(matches!(decode(b""), Err(ProtobufError::MissingMagic)));
        assert!(matches!(decode(b"k8s"), Err(ProtobufError::MissingMagic)));
        assert!(matches!(
            decode(br#"{"kind":"ConfigMap"}"#),
            Err(ProtobufError::MissingMagic)
        ));
        assert!(matches!(
            decode(b"k8s\x01\x0a\x00"),
            Err(ProtobufError::MissingMagic)
        ));
    }

    #[test]
    fn rejects_malformed_bodies() {
        assert!(matches!(decode(b"k8s\0"), Err(ProtobufError::Malformed(_))));
        // Garbage after the prefix: an invalid wire type.
        assert!(matches!(
            decode(b"k8s\0\xff\xff\xff\xff"),
            Err(ProtobufError::Malformed(_))
        ));
        // A length prefix pointing past the end.
        assert!(matches!(
            decode(b"k8s\0\x0a\x7f\x0a"),
            Err(ProtobufError::Malformed(_))
        ));

        let cm = core_v1::ConfigMap {
            metadata: Some(go_meta("settings", "default", &[("app", "web")])),
            data: string_map(&[("key", "value")]),
            ..Default::default()
        };
        let body = envelope("v1", "ConfigMap", &cm);
        // No truncation panics. Cutting at a field boundary still leaves a
        // valid (shorter) message, but cutting into the typed message, which
        // is followed by the two empty content strings, never decodes.
        let raw_end = body.len() - 4;
        let raw_start = raw_end - cm.encoded_len();
        for len in MAGIC.len()..body.len() {
            let result = decode(body.get(..len).unwrap_or_default());
            if (raw_start..raw_end).contains(&len) {
                assert!(result.is_err(), "truncated to {len} bytes");
            }
        }

        // A valid envelope around an invalid typed message.
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: s("v1"),
                kind: s("ConfigMap"),
            }),
            raw: Some(vec![0x0a, 0x05, 0x01]),
            ..Default::default()
        };
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        assert!(matches!(decode(&body), Err(ProtobufError::Malformed(_))));
    }

    #[test]
    fn rejects_envelopes_without_type_meta() {
        let cm = core_v1::ConfigMap::default();
        assert!(matches!(
            decode(&envelope("", "ConfigMap", &cm)),
            Err(ProtobufError::Malformed(_))
        ));
        assert!(matches!(
            decode(&envelope("v1", "", &cm)),
            Err(ProtobufError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_unknown_kinds() {
        let cm = core_v1::ConfigMap::default();
        let err = decode(&envelope("v1", "Frobnicator", &cm)).unwrap_err();
        assert!(matches!(
            err,
            ProtobufError::UnsupportedKind { ref api_version, ref kind }
                if api_version == "v1" && kind == "Frobnicator"
        ));
        // Right kind, wrong group/version.
        let err = decode(&envelope("apps/v1beta1", "Deployment", &cm)).unwrap_err();
        assert!(matches!(err, ProtobufError::UnsupportedKind { .. }));
    }

    #[test]
    fn rejects_fields_it_cannot_convert() {
        let mut container = go_container("app", "nginx");
        container.liveness_probe = Some(core_v1::Probe::default());
        let pod = core_v1::Pod {
            spec: Some(go_pod_spec(vec![container])),
            ..Default::default()
        };
        let err = decode(&envelope("v1", "Pod", &pod)).unwrap_err();
        assert!(matches!(
            err,
            ProtobufError::UnsupportedField {
                field: "Container.livenessProbe"
            }
        ));
    }

    #[test]
    fn rejects_invalid_scalars() {
        let bad_port = core_v1::Service {
            spec: Some(core_v1::ServiceSpec {
                ports: vec![core_v1::ServicePort {
                    target_port: Some(IntOrString {
                        r#type: Some(7),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(matches!(
            decode(&envelope("v1", "Service", &bad_port)),
            Err(ProtobufError::Malformed(_))
        ));

        let bad_quantity = core_v1::Pod {
            spec: Some(core_v1::PodSpec {
                overhead: [("cpu".to_owned(), Quantity { string: s("") })]
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(matches!(
            decode(&envelope("v1", "Pod", &bad_quantity)),
            Err(ProtobufError::Malformed(_))
        ));

        let bad_time = core_v1::Namespace {
            metadata: Some(meta_v1::ObjectMeta {
                creation_timestamp: Some(meta_v1::Time {
                    seconds: Some(i64::MAX),
                    nanos: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(matches!(
            decode(&envelope("v1", "Namespace", &bad_time)),
            Err(ProtobufError::Malformed(_))
        ));
    }

    #[test]
    fn random_mutations_never_panic() {
        let labels = [("app", "web")];
        let deployment = apps_v1::Deployment {
            metadata: Some(go_meta("web", "default", &labels)),
            spec: Some(apps_v1::DeploymentSpec {
                replicas: Some(1),
                selector: Some(meta_v1::LabelSelector {
                    match_labels: string_map(&labels),
                    match_expressions: vec![],
                }),
                template: Some(core_v1::PodTemplateSpec {
                    metadata: Some(go_meta("", "", &labels)),
                    spec: Some(go_pod_spec(vec![go_container("nginx", "nginx")])),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let body = envelope("apps/v1", "Deployment", &deployment);
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5000 {
            let mut mutated = body.clone();
            for _ in 0..1 + next() % 4 {
                let index = usize::try_from(next()).unwrap_or(0) % mutated.len();
                if let Some(byte) = mutated.get_mut(index) {
                    *byte = next().to_le_bytes()[0];
                }
            }
            let _ = decode(&mutated);
        }
    }
}
