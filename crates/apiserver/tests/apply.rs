//! Server-side apply through kube-rs (and kubectl) against an in-process kubeforge API server:
//! field managers applying to a ConfigMap, a Deployment, a Deployment's `/status` and a custom
//! resource whose schema has a list-map; ownership in managedFields, 409 conflicts with
//! `FieldManagerConflict` causes, `force`, removal of fields an applier stopped applying, and
//! apply after other writes.

mod kube_support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Api, Client, ResourceExt};
use kube_support::{api_err, eventually, start};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn apply(manager: &str) -> PatchParams {
    PatchParams::apply(manager)
}

fn force(manager: &str) -> PatchParams {
    PatchParams::apply(manager).force()
}

/// `manager/operation[/subresource]` → fieldsV1 of every managedFields entry.
fn managed<K: kube::Resource>(obj: &K) -> BTreeMap<String, Value> {
    obj.meta()
        .managed_fields
        .iter()
        .flatten()
        .map(|e| {
            let mut id = format!(
                "{}/{}",
                e.manager.clone().unwrap_or_default(),
                e.operation.clone().unwrap_or_default()
            );
            if let Some(sub) = &e.subresource {
                id = format!("{id}/{sub}");
            }
            (
                id,
                e.fields_v1
                    .as_ref()
                    .map(|f| f.0.clone())
                    .unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// `(field, reason, message)` of a Status's causes.
fn causes(s: &kube::core::Status) -> Vec<(String, String, String)> {
    s.details
        .iter()
        .flat_map(|d| d.causes.iter())
        .map(|c| (c.field.clone(), c.reason.clone(), c.message.clone()))
        .collect()
}

fn cm(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": data})
}

#[tokio::test]
async fn configmap_ownership_conflicts_force_and_removal() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");

    // Apply to a missing object creates it; the applier owns exactly what it applied.
    let mut first = cm(json!({"a": "1", "shared": "x"}));
    first["metadata"]["labels"] = json!({"app": "demo"});
    let created = api
        .patch("settings", &apply("alpha"), &Patch::Apply(&first))
        .await
        .expect("apply creates");
    assert_eq!(
        managed(&created),
        BTreeMap::from([(
            "alpha/Apply".to_string(),
            json!({"f:data": {"f:a": {}, "f:shared": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
        )])
    );

    // A second manager applying the same value shares it.
    let shared = api
        .patch(
            "settings",
            &apply("beta"),
            &Patch::Apply(cm(json!({"shared": "x", "b": "2"}))),
        )
        .await
        .expect("shared apply");
    assert_eq!(
        managed(&shared)["beta/Apply"],
        json!({"f:data": {"f:b": {}, "f:shared": {}}})
    );
    assert_eq!(
        shared.data.as_ref().map(|d| d.len()),
        Some(3),
        "{:?}",
        shared.data
    );

    // A different value for alpha's field conflicts.
    let status = api_err(
        api.patch(
            "settings",
            &apply("beta"),
            &Patch::Apply(cm(json!({"shared": "x", "b": "2", "a": "9"}))),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "alpha": .data.a"#
    );
    assert_eq!(
        causes(&status),
        vec![(
            ".data.a".to_string(),
            "FieldManagerConflict".to_string(),
            r#"conflict with "alpha""#.to_string()
        )]
    );
    assert_eq!(
        api.get("settings").await.expect("get").data.expect("data")["a"],
        "1"
    );

    // Forced, the field changes hands.
    let forced = api
        .patch(
            "settings",
            &force("beta"),
            &Patch::Apply(cm(json!({"shared": "x", "b": "2", "a": "9"}))),
        )
        .await
        .expect("forced apply");
    assert_eq!(forced.data.as_ref().expect("data")["a"], "9");
    let fields = managed(&forced);
    assert_eq!(
        fields["alpha/Apply"],
        json!({"f:data": {"f:shared": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
    );
    assert_eq!(
        fields["beta/Apply"],
        json!({"f:data": {"f:a": {}, "f:b": {}, "f:shared": {}}})
    );

    // alpha stops applying its label (removed) and keeps `shared`.
    let after = api
        .patch(
            "settings",
            &apply("alpha"),
            &Patch::Apply(cm(json!({"shared": "x"}))),
        )
        .await
        .expect("alpha reapplies");
    assert!(after.labels().is_empty(), "{:?}", after.labels());
    // beta stops applying `a` (removed: nobody else owns it) and `shared` (kept: alpha owns it).
    let after = api
        .patch(
            "settings",
            &apply("beta"),
            &Patch::Apply(cm(json!({"b": "2"}))),
        )
        .await
        .expect("beta reapplies");
    assert_eq!(
        after.data,
        Some(BTreeMap::from([
            ("b".to_string(), "2".to_string()),
            ("shared".to_string(), "x".to_string())
        ]))
    );

    // An update by another manager takes the field it changes; applying the old value then
    // conflicts with it.
    let edited = api
        .patch(
            "settings",
            &PatchParams {
                field_manager: Some("editor".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"data": {"b": "3"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        managed(&edited)["editor/Update"],
        json!({"f:data": {"f:b": {}}})
    );
    assert!(!managed(&edited).contains_key("beta/Apply"));
    let status = api_err(
        api.patch(
            "settings",
            &apply("beta"),
            &Patch::Apply(cm(json!({"b": "2"}))),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "editor" using v1: .data.b"#
    );
    // Re-applying what is there is a no-op that does not bump the resourceVersion.
    let before = api.get("settings").await.expect("get");
    let again = api
        .patch(
            "settings",
            &apply("alpha"),
            &Patch::Apply(cm(json!({"shared": "x"}))),
        )
        .await
        .expect("no-op apply");
    assert_eq!(again.resource_version(), before.resource_version());
}

#[tokio::test]
async fn apply_after_create_conflicts_like_kubectl_server_side() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let created: ConfigMap = serde_json::from_value(cm(json!({"key": "one"}))).expect("cm");
    api.create(
        &PostParams {
            field_manager: Some("kubectl-client-side-apply".into()),
            ..PostParams::default()
        },
        &created,
    )
    .await
    .expect("create");
    let status = api_err(
        api.patch(
            "settings",
            &apply("kubectl"),
            &Patch::Apply(cm(json!({"key": "two"}))),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.key"#
    );
    let applied = api
        .patch(
            "settings",
            &force("kubectl"),
            &Patch::Apply(cm(json!({"key": "two"}))),
        )
        .await
        .expect("forced");
    assert_eq!(applied.data.expect("data")["key"], "two");

    // Apply patches need the apiVersion and kind of the URL (upstream's version check comes
    // first, so its message is the one a wrong version gets), and may not carry managedFields.
    let status = api_err(
        api.patch(
            "settings",
            &apply("kubectl"),
            &Patch::Apply(
                json!({"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "settings"}}),
            ),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_eq!(status.message, "invalid object type: /v2, Kind=ConfigMap");
    api_err(
        api.patch(
            "settings",
            &apply("kubectl"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "managedFields": [{"manager": "x"}]}})),
        )
        .await,
        400,
        "BadRequest",
    );
}

fn by(manager: &str) -> PatchParams {
    PatchParams {
        field_manager: Some(manager.into()),
        ..PatchParams::default()
    }
}

/// managedFields a client sends are upstream's: a list of one empty entry (or an empty list)
/// resets them and updates stop tracking until the next apply (which first gives the existing
/// fields to `before-first-apply`); a list that decodes replaces them; one that does not is
/// ignored without failing the request; on create, the creator takes every field it sets.
#[tokio::test]
async fn managed_fields_sent_by_the_client_replace_or_reset_them() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    api.patch(
        "settings",
        &apply("alpha"),
        &Patch::Apply(cm(json!({"a": "1"}))),
    )
    .await
    .expect("apply");
    let edited = api
        .patch(
            "settings",
            &by("editor"),
            &Patch::Merge(json!({"data": {"b": "2"}})),
        )
        .await
        .expect("edit");
    assert_eq!(
        managed(&edited).keys().collect::<Vec<_>>(),
        vec!["alpha/Apply", "editor/Update"]
    );

    // Reset with `[{}]` (a merge patch here): no entries, and later updates are not tracked.
    let reset = api
        .patch(
            "settings",
            &by("editor"),
            &Patch::Merge(json!({"metadata": {"managedFields": [{}]}})),
        )
        .await
        .expect("reset");
    assert_eq!(reset.metadata.managed_fields, None);
    let untracked = api
        .patch(
            "settings",
            &by("editor"),
            &Patch::Merge(json!({"data": {"b": "3"}})),
        )
        .await
        .expect("edit after reset");
    assert_eq!(untracked.metadata.managed_fields, None);
    // The next apply finds the existing fields owned by `before-first-apply`.
    let status = api_err(
        api.patch(
            "settings",
            &apply("alpha"),
            &Patch::Apply(cm(json!({"a": "9"}))),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a"#
    );
    let applied = api
        .patch(
            "settings",
            &force("alpha"),
            &Patch::Apply(cm(json!({"a": "9"}))),
        )
        .await
        .expect("forced apply");
    assert_eq!(
        managed(&applied),
        BTreeMap::from([
            ("alpha/Apply".to_string(), json!({"f:data": {"f:a": {}}})),
            (
                "before-first-apply/Update".to_string(),
                json!({"f:data": {".": {}, "f:b": {}}})
            ),
        ])
    );

    // A list that decodes replaces the entries (a JSON patch, as kubectl's migration sends).
    let entry = json!({"manager": "gamma", "operation": "Apply", "apiVersion": "v1",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}});
    let replaced = api
        .patch(
            "settings",
            &by("migrator"),
            &Patch::<Value>::Json(
                serde_json::from_value(json!([
                    {"op": "replace", "path": "/metadata/managedFields", "value": [entry]},
                    {"op": "replace", "path": "/metadata/resourceVersion",
                     "value": applied.resource_version()},
                ]))
                .expect("json patch"),
            ),
        )
        .await
        .expect("replace managedFields");
    assert_eq!(
        serde_json::to_value(&replaced.metadata.managed_fields).expect("json"),
        json!([entry])
    );
    assert_ne!(replaced.resource_version(), applied.resource_version());
    // gamma now owns b: another applier changing it conflicts with gamma.
    let status = api_err(
        api.patch(
            "settings",
            &apply("delta"),
            &Patch::Apply(cm(json!({"b": "4"}))),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "gamma": .data.b"#
    );

    // Entries that do not decode are ignored (the stored ones stay); the write succeeds.
    let mut put = api.get("settings").await.expect("get");
    put.metadata.managed_fields = Some(
        serde_json::from_value(
            json!([{"manager": "x", "operation": "Apply", "apiVersion": "v1",
            "time": "2019-07-08T09:31:18Z", "fieldsType": "", "fieldsV1": {}}]),
        )
        .expect("entries"),
    );
    put.data
        .get_or_insert_with(BTreeMap::new)
        .insert("c".into(), "5".into());
    let kept = api
        .replace("settings", &PostParams::default(), &put)
        .await
        .expect("update with invalid managedFields");
    let fields = managed(&kept);
    assert_eq!(
        fields["gamma/Apply"],
        json!({"f:data": {"f:a": {}, "f:b": {}}})
    );
    assert!(!fields.contains_key("x/Apply"), "{fields:?}");

    // On create, the creator takes every field it sets from the entries sent; what they own
    // beyond the object stays theirs.
    let created = api
        .create(
            &PostParams {
                field_manager: Some("creator".into()),
                ..PostParams::default()
            },
            &serde_json::from_value(json!({"metadata": {"name": "fresh", "managedFields": [
                {"manager": "ghost", "operation": "Update", "apiVersion": "v1",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}, "f:gone": {}}}}]},
                "data": {"a": "1"}}))
            .expect("cm"),
        )
        .await
        .expect("create with managedFields");
    assert_eq!(
        managed(&created),
        BTreeMap::from([
            (
                "creator/Update".to_string(),
                json!({"f:data": {".": {}, "f:a": {}}})
            ),
            (
                "ghost/Update".to_string(),
                json!({"f:data": {"f:gone": {}}})
            ),
        ])
    );
}

/// `kubectl apply --server-side` after client-side `kubectl apply`, as kube-apiserver answers it:
/// conflicts with client-side apply's manager on fields the last-applied annotation lists with
/// their live value are not conflicts for the manager `kubectl` (other managers, and fields
/// changed since, still conflict), the annotation follows what `kubectl` applies, and once
/// kubectl's migration moved client-side apply's fields to it, a field dropped from the
/// configuration is removed.
#[tokio::test]
async fn kubectl_server_side_apply_after_client_side_apply() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let config = |data: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "csa", "namespace": "default"}, "data": data})
    };
    // What client-side apply creates: the annotation holds the configuration.
    let mut first = config(json!({"key": "one", "legacy": "x", "other": "o"}));
    first["metadata"]["annotations"] = json!({
        "kubectl.kubernetes.io/last-applied-configuration":
            "{\"apiVersion\":\"v1\",\"data\":{\"key\":\"one\",\"legacy\":\"x\",\"other\":\"o\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"csa\",\"namespace\":\"default\"}}\n"
    });
    api.create(
        &PostParams {
            field_manager: Some("kubectl-client-side-apply".into()),
            ..PostParams::default()
        },
        &serde_json::from_value(first).expect("cm"),
    )
    .await
    .expect("create");
    // Someone else changes `other`: it no longer has its last-applied value.
    api.patch(
        "csa",
        &by("kubectl-client-side-apply"),
        &Patch::Merge(json!({"data": {"other": "changed"}})),
    )
    .await
    .expect("edit");

    // Another manager conflicts with client-side apply's fields.
    let status = api_err(
        api.patch(
            "csa",
            &apply("team"),
            &Patch::Apply(config(json!({"key": "two"}))),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.key"#
    );
    // kubectl does not conflict on `key` (last applied as it is), but on `other` it does.
    let status = api_err(
        api.patch(
            "csa",
            &apply("kubectl"),
            &Patch::Apply(config(
                json!({"key": "two", "legacy": "x", "other": "mine"}),
            )),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.other"#
    );
    let applied = api
        .patch(
            "csa",
            &apply("kubectl"),
            &Patch::Apply(config(
                json!({"key": "two", "legacy": "x", "other": "changed"}),
            )),
        )
        .await
        .expect("kubectl applies over client-side apply");
    assert_eq!(applied.data.as_ref().expect("data")["key"], "two");
    assert_eq!(
        applied.annotations()["kubectl.kubernetes.io/last-applied-configuration"],
        "{\"apiVersion\":\"v1\",\"data\":{\"key\":\"two\",\"legacy\":\"x\",\"other\":\"changed\"},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"csa\",\"namespace\":\"default\"}}\n"
    );

    // Without migration, a dropped field stays: client-side apply's manager still owns it.
    let kept = api
        .patch(
            "csa",
            &apply("kubectl"),
            &Patch::Apply(config(json!({"key": "two", "other": "changed"}))),
        )
        .await
        .expect("apply without legacy");
    assert_eq!(kept.data.as_ref().expect("data")["legacy"], "x");
    // kubectl's migration (csaupgrade): client-side apply's entry merged into kubectl's.
    let mut entries = serde_json::to_value(&kept.metadata.managed_fields).expect("json");
    let list = entries.as_array_mut().expect("entries");
    let csa = list
        .iter()
        .position(|e| e["manager"] == "kubectl-client-side-apply")
        .expect("csa entry");
    let csa = list.remove(csa);
    let ssa = list
        .iter_mut()
        .find(|e| e["manager"] == "kubectl" && e["operation"] == "Apply")
        .expect("ssa entry");
    let mut union = ssa["fieldsV1"].clone();
    merge_fields(&mut union, &csa["fieldsV1"]);
    ssa["fieldsV1"] = union;
    api.patch(
        "csa",
        &by("kubectl"),
        &Patch::<Value>::Json(
            serde_json::from_value(json!([
                {"op": "replace", "path": "/metadata/managedFields", "value": entries},
                {"op": "replace", "path": "/metadata/resourceVersion", "value": kept.resource_version()},
            ]))
            .expect("json patch"),
        ),
    )
    .await
    .expect("migration");
    let removed = api
        .patch(
            "csa",
            &apply("kubectl"),
            &Patch::Apply(config(json!({"key": "two", "other": "changed"}))),
        )
        .await
        .expect("apply after migration");
    assert_eq!(
        removed.data,
        Some(BTreeMap::from([
            ("key".to_string(), "two".to_string()),
            ("other".to_string(), "changed".to_string()),
        ]))
    );
    assert!(!managed(&removed).contains_key("kubectl-client-side-apply/Update"));
}

/// Unions two `fieldsV1` tries (what csaupgrade does with two entries' sets).
fn merge_fields(into: &mut Value, from: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in b {
            merge_fields(a.entry(k.clone()).or_insert_with(|| json!({})), v);
        }
    }
}

fn deployment(image: &str, labels: Value, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

#[tokio::test]
async fn deployment_containers_merge_by_name_between_managers() {
    let server = start().await;
    let api: Api<Deployment> = Api::namespaced(server.client(), "default");
    api.patch(
        "web",
        &apply("owner"),
        &Patch::Apply(deployment(
            "nginx:1",
            json!({"app": "web", "tier": "front"}),
            2,
        )),
    )
    .await
    .expect("owner creates");

    // An injector adds a sidecar and an env var to the app container.
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "INJECTED", "value": "1"}]},
            {"name": "proxy", "image": "envoy:1"}
        ]}}}
    });
    let injected = api
        .patch("web", &apply("injector"), &Patch::Apply(&sidecar))
        .await
        .expect("injector applies");
    let containers = &injected
        .spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers;
    assert_eq!(
        containers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec!["app", "proxy"]
    );
    assert_eq!(containers[0].image.as_deref(), Some("nginx:1"));
    assert_eq!(
        managed(&injected)["injector/Apply"]["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({
            "k:{\"name\":\"app\"}": {".": {}, "f:env": {"k:{\"name\":\"INJECTED\"}": {".": {}, "f:name": {}, "f:value": {}}}, "f:name": {}},
            "k:{\"name\":\"proxy\"}": {".": {}, "f:image": {}, "f:name": {}}
        })
    );
    assert_eq!(
        managed(&injected)["owner/Apply"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]
            ["f:ports"],
        json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
    );

    // The owner rolls out a new image and drops a label: no conflict, the sidecar stays.
    let rolled = api
        .patch(
            "web",
            &apply("owner"),
            &Patch::Apply(deployment("nginx:2", json!({"app": "web"}), 2)),
        )
        .await
        .expect("owner updates");
    let spec = rolled.spec.as_ref().expect("spec");
    let containers = &spec.template.spec.as_ref().expect("pod").containers;
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0].image.as_deref(), Some("nginx:2"));
    assert_eq!(
        containers[0].env.as_ref().map(|e| e[0].name.as_str()),
        Some("INJECTED")
    );
    assert_eq!(
        rolled.labels().keys().collect::<Vec<_>>(),
        vec!["app"],
        "the dropped label is removed"
    );
    assert!(rolled.metadata.generation.unwrap_or(0) >= 2);

    // An autoscaler changing the owner's replicas conflicts; forced, it takes them.
    let scale = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 5}});
    let status = api_err(
        api.patch("web", &apply("autoscaler"), &Patch::Apply(&scale))
            .await,
        409,
        "Conflict",
    );
    assert_eq!(
        causes(&status),
        vec![(
            ".spec.replicas".to_string(),
            "FieldManagerConflict".to_string(),
            r#"conflict with "owner""#.to_string()
        )]
    );
    let scaled = api
        .patch("web", &force("autoscaler"), &Patch::Apply(&scale))
        .await
        .expect("forced");
    assert_eq!(scaled.spec.as_ref().and_then(|s| s.replicas), Some(5));
    assert!(
        managed(&scaled)["owner/Apply"]["f:spec"]
            .get("f:replicas")
            .is_none(),
        "{:?}",
        managed(&scaled)
    );
    // The owner re-applying its old replicas now conflicts with the autoscaler.
    let status = api_err(
        api.patch(
            "web",
            &apply("owner"),
            &Patch::Apply(deployment("nginx:2", json!({"app": "web"}), 2)),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "autoscaler": .spec.replicas"#
    );

    // The injector withdraws the sidecar: it goes, the owner's container stays.
    let withdrawn = api
        .patch(
            "web",
            &apply("injector"),
            &Patch::Apply(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}),
            ),
        )
        .await
        .expect("injector withdraws");
    let containers = &withdrawn
        .spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers;
    assert_eq!(
        containers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec!["app"]
    );
    assert!(containers[0].env.is_none(), "{:?}", containers[0].env);
    assert!(!managed(&withdrawn).contains_key("injector/Apply"));
}

#[tokio::test]
async fn status_apply_from_two_controllers() {
    let server = start().await;
    let api: Api<Deployment> = Api::namespaced(server.client(), "default");
    api.patch(
        "web",
        &apply("owner"),
        &Patch::Apply(deployment("nginx:1", json!({"app": "web"}), 1)),
    )
    .await
    .expect("create");
    let status = |body: Value| {
        let mut obj =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
        obj["status"] = body;
        obj
    };
    let c1 = api
        .patch_status(
            "web",
            &force("c1"),
            &Patch::Apply(status(json!({"observedGeneration": 1, "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}))),
        )
        .await
        .expect("c1 status");
    assert_eq!(
        c1.status.as_ref().and_then(|s| s.observed_generation),
        Some(1)
    );
    assert_eq!(
        managed(&c1)["c1/Apply/status"],
        json!({"f:status": {"f:conditions": {"k:{\"type\":\"Available\"}": {".": {}, "f:reason": {}, "f:status": {}, "f:type": {}}},
            "f:observedGeneration": {}}})
    );
    // The spec is untouched by a status apply, and its generation too.
    assert_eq!(c1.spec.as_ref().and_then(|s| s.replicas), Some(1));
    assert_eq!(c1.metadata.generation, Some(1));

    let c2 = api
        .patch_status(
            "web",
            &apply("c2"),
            &Patch::Apply(status(json!({"conditions": [
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}))),
        )
        .await
        .expect("c2 status");
    let types: Vec<String> = c2
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| c.type_.clone())
        .collect();
    assert_eq!(types, vec!["Available", "Progressing"]);

    let conflict = api_err(
        api.patch_status(
            "web",
            &apply("c2"),
            &Patch::Apply(status(json!({"observedGeneration": 7}))),
        )
        .await,
        409,
        "Conflict",
    );
    assert_eq!(
        causes(&conflict),
        vec![(
            ".status.observedGeneration".to_string(),
            "FieldManagerConflict".to_string(),
            r#"conflict with "c1" with subresource "status""#.to_string()
        )]
    );
    // c1 stops reporting Available: its condition goes, c2's stays.
    let dropped = api
        .patch_status(
            "web",
            &force("c1"),
            &Patch::Apply(status(json!({"observedGeneration": 1}))),
        )
        .await
        .expect("c1 drops its condition");
    let types: Vec<String> = dropped
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| c.type_.clone())
        .collect();
    assert_eq!(types, vec!["Progressing"]);
    // A status in a main-endpoint apply is ignored.
    let mut with_status = deployment("nginx:1", json!({"app": "web"}), 1);
    with_status["status"] = json!({"observedGeneration": 99});
    let main = api
        .patch("web", &apply("owner"), &Patch::Apply(&with_status))
        .await
        .expect("main apply");
    assert_eq!(
        main.status.as_ref().and_then(|s| s.observed_generation),
        Some(1)
    );
    assert!(managed(&main)["owner/Apply"].get("f:status").is_none());
}

const GROUP: &str = "apply.example.com";

fn gadget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("gadgets.{GROUP}")},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer"},
                            "ports": {
                                "type": "array",
                                "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["name"],
                                "items": {"type": "object", "required": ["name"], "properties": {
                                    "name": {"type": "string"},
                                    "port": {"type": "integer"}
                                }}
                            },
                            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                            "args": {"type": "array", "items": {"type": "string"}}
                        }},
                        "status": {"type": "object", "properties": {
                            "phase": {"type": "string"},
                            "ready": {"type": "boolean"}
                        }}
                    }
                }}
            }]
        }
    }))
    .expect("CRD")
}

fn gadget(spec: Value) -> Value {
    json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Gadget", "metadata": {"name": "g"}, "spec": spec})
}

async fn install(client: &Client) -> Api<DynamicObject> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &gadget_crd())
        .await
        .expect("create CRD");
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, "v1", "Gadget"), "gadgets");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    eventually("the CRD to be served", || async {
        api.list(&ListParams::default()).await.ok().map(|_| ())
    })
    .await;
    api
}

#[tokio::test]
async fn custom_resource_list_map_from_its_schema() {
    let server = start().await;
    let api = install(&server.client()).await;

    let a = api
        .patch(
            "g",
            &apply("a"),
            &Patch::Apply(gadget(
                json!({"size": 1, "ports": [{"name": "http", "port": 80}],
                "tags": ["x"], "args": ["--a"]}),
            )),
        )
        .await
        .expect("a creates");
    assert_eq!(
        managed(&a)["a/Apply"],
        json!({"f:spec": {"f:args": {}, "f:ports": {"k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}},
            "f:size": {}, "f:tags": {"v:\"x\"": {}}}})
    );
    // b adds a port and a tag: list-map and set items merge.
    let b = api
        .patch(
            "g",
            &apply("b"),
            &Patch::Apply(gadget(
                json!({"ports": [{"name": "metrics", "port": 9090}], "tags": ["y"]}),
            )),
        )
        .await
        .expect("b merges");
    assert_eq!(
        b.data["spec"]["ports"],
        json!([{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}])
    );
    assert_eq!(b.data["spec"]["tags"], json!(["x", "y"]));
    // Changing a's port, or its atomic args, conflicts.
    let status = api_err(
        api.patch(
            "g",
            &apply("b"),
            &Patch::Apply(gadget(
                json!({"ports": [{"name": "metrics", "port": 9090}, {"name": "http", "port": 8080}],
                "tags": ["y"], "args": ["--b"]}),
            )),
        )
        .await,
        409,
        "Conflict",
    );
    let mut fields: Vec<String> = causes(&status).into_iter().map(|c| c.0).collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![".spec.args", r#".spec.ports[name="http"].port"#]
    );
    assert!(
        status
            .message
            .starts_with("Apply failed with 2 conflicts: conflicts with \"a\":"),
        "{}",
        status.message
    );
    // a drops its port: it goes; b's stays.
    let dropped = api
        .patch(
            "g",
            &apply("a"),
            &Patch::Apply(gadget(json!({"size": 1, "tags": ["x"], "args": ["--a"]}))),
        )
        .await
        .expect("a drops http");
    assert_eq!(
        dropped.data["spec"]["ports"],
        json!([{"name": "metrics", "port": 9090}])
    );
    // Status through /status, scoped to the status.
    let with_status = api
        .patch_status(
            "g",
            &apply("ctl"),
            &Patch::Apply(
                json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Gadget",
                "metadata": {"name": "g"}, "status": {"phase": "Ready", "ready": true}}),
            ),
        )
        .await
        .expect("status apply");
    assert_eq!(with_status.data["status"]["phase"], "Ready");
    assert_eq!(
        managed(&with_status)["ctl/Apply/status"],
        json!({"f:status": {"f:phase": {}, "f:ready": {}}})
    );
}
