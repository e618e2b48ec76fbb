//! kube-rs against an in-process kubeforge API server: CRUD on typed and dynamic objects, the
//! three patch formats, API errors, optimistic concurrency, label and field selectors,
//! pagination, the status and scale subresources, finalizers, generateName, generation,
//! dryRun and the namespace rules.
//!
//! Every test starts its own in-memory server and talks to it over HTTP with a `kube::Client`,
//! exactly as a controller would talk to a real cluster.

mod kube_support;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, Pod, PodSpec, PodStatus, PodTemplateSpec, Secret,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch,
    PatchParams, PostParams,
};
use kube::discovery::{Discovery, Scope};
use kube::{Api, Client, ResourceExt};
use kube_support::{api_err, configmap, eventually, names, namespace, start};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

fn deployment(name: &str, replicas: i32) -> Deployment {
    let labels = BTreeMap::from([("app".to_string(), name.to_string())]);
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![
                        Container {
                            name: "app".into(),
                            image: Some("nginx:1.25".into()),
                            ..Container::default()
                        },
                        Container {
                            name: "sidecar".into(),
                            image: Some("busybox:1".into()),
                            ..Container::default()
                        },
                    ],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn pod(name: &str, node: Option<&str>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: node.map(str::to_string),
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

#[tokio::test]
async fn configmap_crud_with_every_patch_format() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();

    let created = api
        .create(&pp, &configmap("cm1", &[("app", "a")], "one"))
        .await
        .expect("create");
    assert_eq!(created.name_any(), "cm1");
    assert_eq!(created.namespace().as_deref(), Some("default"));
    let uid = created.uid().expect("uid");
    assert_eq!(uid.len(), 36, "uid is a UUID: {uid}");
    assert!(created.metadata.creation_timestamp.is_some());
    let rv1: u64 = created
        .resource_version()
        .expect("rv")
        .parse()
        .expect("numeric rv");

    let got = api.get("cm1").await.expect("get");
    assert_eq!(got.uid().as_deref(), Some(uid.as_str()));
    assert_eq!(got.data, created.data);

    let listed = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(names(&listed.items), vec!["cm1"]);
    let list_rv: u64 = listed
        .metadata
        .resource_version
        .as_deref()
        .expect("list rv")
        .parse()
        .expect("numeric");
    assert!(list_rv >= rv1);

    // replace
    let mut changed = got.clone();
    changed
        .data
        .get_or_insert_with(BTreeMap::new)
        .insert("value".into(), "two".into());
    let replaced = api.replace("cm1", &pp, &changed).await.expect("replace");
    assert_eq!(replaced.data.as_ref().expect("data")["value"], "two");
    let rv2: u64 = replaced.resource_version().expect("rv").parse().expect("n");
    assert!(rv2 > rv1, "resourceVersion grows: {rv1} -> {rv2}");
    assert_eq!(replaced.uid(), created.uid());

    // merge patch
    let merged = api
        .patch(
            "cm1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "web"}}, "data": {"extra": "x"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(merged.labels()["app"], "a");
    assert_eq!(merged.labels()["tier"], "web");
    assert_eq!(merged.data.as_ref().expect("data")["extra"], "x");
    assert_eq!(merged.data.as_ref().expect("data")["value"], "two");

    // JSON patch (RFC 6902), including a failing test op
    let json_patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/data/value", "value": "three"},
        {"op": "remove", "path": "/data/extra"},
        {"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}}
    ]))
    .expect("json patch");
    let patched = api
        .patch(
            "cm1",
            &PatchParams::default(),
            &Patch::Json::<()>(json_patch),
        )
        .await
        .expect("json patch");
    assert_eq!(
        patched.data,
        Some(BTreeMap::from([("value".to_string(), "three".to_string())]))
    );
    assert_eq!(patched.annotations()["note"], "hi");
    let failing = serde_json::from_value(json!([
        {"op": "test", "path": "/data/value", "value": "nope"}
    ]))
    .expect("json patch");
    api_err(
        api.patch("cm1", &PatchParams::default(), &Patch::Json::<()>(failing))
            .await,
        422,
        "Invalid",
    );

    // strategic merge patch: null deletes a key
    let strategic = api
        .patch(
            "cm1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"tier": null}}, "data": {"s": "y"}})),
        )
        .await
        .expect("strategic patch");
    assert!(!strategic.labels().contains_key("tier"));
    assert_eq!(strategic.data.as_ref().expect("data")["s"], "y");
    assert_eq!(strategic.data.as_ref().expect("data")["value"], "three");

    // errors
    let exists = api_err(
        api.create(&pp, &configmap("cm1", &[], "dup")).await,
        409,
        "AlreadyExists",
    );
    assert!(exists.is_already_exists());
    let details = exists.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("cm1", "configmaps")
    );
    let missing = api_err(api.get("nope").await, 404, "NotFound");
    assert!(missing.is_not_found());
    assert_eq!(missing.message, "configmaps \"nope\" not found");
    api_err(
        api.patch(
            "nope",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {}})),
        )
        .await,
        404,
        "NotFound",
    );
    api_err(
        api.replace("nope", &pp, &configmap("nope", &[], "x")).await,
        404,
        "NotFound",
    );

    // delete
    let deleted = api
        .delete("cm1", &DeleteParams::default())
        .await
        .expect("delete");
    // Removed at once (no finalizers): a Status, as kube-apiserver answers for ConfigMaps.
    let status = deleted
        .right()
        .expect("a Status for an object removed at once");
    assert_eq!(status.details.expect("details").kind, "configmaps");
    api_err(api.get("cm1").await, 404, "NotFound");
    api_err(
        api.delete("cm1", &DeleteParams::default()).await,
        404,
        "NotFound",
    );
    assert!(
        api.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn namespace_and_secret_crud() {
    let server = start().await;
    let client = server.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespace(&client, "team-a").await;
    let ns = namespaces.get("team-a").await.expect("get ns");
    assert_eq!(
        ns.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Active"),
        "a new namespace is Active"
    );
    assert_eq!(ns.labels()["kubernetes.io/metadata.name"], "team-a");
    let all = names(
        &namespaces
            .list(&ListParams::default())
            .await
            .expect("list")
            .items,
    );
    for want in ["default", "kube-public", "kube-system", "team-a"] {
        assert!(all.contains(&want.to_string()), "{want} in {all:?}");
    }
    let labelled = namespaces
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
        )
        .await
        .expect("label ns");
    assert_eq!(labelled.labels()["team"], "a");
    assert_eq!(
        namespaces
            .list(&ListParams::default().labels("team=a"))
            .await
            .expect("list")
            .items
            .len(),
        1
    );

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-a");
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("creds".into()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            "password".to_string(),
            ByteString(b"s3cret\0bytes".to_vec()),
        )])),
        string_data: Some(BTreeMap::from([("user".to_string(), "admin".to_string())])),
        ..Secret::default()
    };
    let created = secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
    let data = created.data.clone().expect("data");
    assert_eq!(data["password"].0, b"s3cret\0bytes");
    assert_eq!(
        data.get("user").map(|b| b.0.as_slice()),
        Some(b"admin".as_slice()),
        "stringData is merged into data"
    );
    assert!(created.string_data.is_none(), "stringData is not stored");
    let got = secrets.get("creds").await.expect("get secret");
    assert_eq!(got.data, created.data);
    let mut changed = got.clone();
    changed.data.as_mut().expect("data").remove("user");
    let replaced = secrets
        .replace("creds", &PostParams::default(), &changed)
        .await
        .expect("replace secret");
    assert_eq!(replaced.data.as_ref().expect("data").len(), 1);
    let patched = secrets
        .patch(
            "creds",
            &PatchParams::default(),
            &Patch::Strategic(json!({"data": {"token": "dG9rZW4="}})),
        )
        .await
        .expect("patch secret");
    assert_eq!(patched.data.as_ref().expect("data")["token"].0, b"token");
    let by_type = secrets
        .list(&ListParams::default().fields("type=Opaque"))
        .await
        .expect("field selector type");
    assert_eq!(names(&by_type.items), vec!["creds"]);
    secrets
        .delete("creds", &DeleteParams::default())
        .await
        .expect("delete secret");
    api_err(secrets.get("creds").await, 404, "NotFound");

    // Namespace deletion: the namespace goes away (cascade is out of scope here).
    namespaces
        .delete("team-a", &DeleteParams::default())
        .await
        .expect("delete ns");
    eventually("namespace deleted", || async {
        match namespaces.get("team-a").await {
            Err(kube::Error::Api(s)) if s.code == 404 => Some(()),
            _ => None,
        }
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn deployment_crud_strategic_patch_and_generation() {
    let server = start().await;
    let api: Api<Deployment> = Api::namespaced(server.client(), "default");
    let created = api
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.status.is_none(), "status is dropped on create");

    // strategic merge by container name keeps the other container
    let patched = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "nginx:1.27"}
            ]}}}})),
        )
        .await
        .expect("strategic patch");
    let containers = &patched
        .spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .as_ref()
        .expect("pod spec")
        .containers;
    assert_eq!(
        containers
            .iter()
            .map(|c| (c.name.as_str(), c.image.as_deref().unwrap_or("")))
            .collect::<Vec<_>>(),
        vec![("app", "nginx:1.27"), ("sidecar", "busybox:1")]
    );
    assert_eq!(patched.metadata.generation, Some(2), "spec change bumps");

    // merge patch replaces lists wholesale
    let merged = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "only", "image": "alpine"}
            ]}}}})),
        )
        .await
        .expect("merge patch");
    let pod_spec = merged.spec.as_ref().expect("spec").template.spec.clone();
    assert_eq!(pod_spec.expect("pod spec").containers.len(), 1);
    assert_eq!(merged.metadata.generation, Some(3));

    // metadata-only changes do not bump generation
    let labelled = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}, "annotations": {"a": "b"}}})),
        )
        .await
        .expect("label");
    assert_eq!(labelled.metadata.generation, Some(3));
    assert!(
        labelled.resource_version() != merged.resource_version(),
        "metadata change is still a write"
    );

    // replace with spec change
    let mut d = labelled.clone();
    d.spec.as_mut().expect("spec").replicas = Some(5);
    let replaced = api
        .replace("web", &PostParams::default(), &d)
        .await
        .expect("replace");
    assert_eq!(replaced.metadata.generation, Some(4));
    assert_eq!(replaced.spec.expect("spec").replicas, Some(5));

    // a no-op patch changes nothing
    let noop = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("noop");
    assert_eq!(noop.resource_version(), replaced.metadata.resource_version);

    api.delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    api_err(api.get("web").await, 404, "NotFound");
    server.shutdown().await;
}

#[tokio::test]
async fn dynamic_objects_via_api_resource_and_discovery() {
    let server = start().await;
    let client = server.client();

    // From a GVK directly.
    let gvk = GroupVersionKind::gvk("", "v1", "ConfigMap");
    let ar = ApiResource::from_gvk(&gvk);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let obj = DynamicObject::new("dyn", &ar).data(json!({"data": {"k": "v"}}));
    let created = api
        .create(&PostParams::default(), &obj)
        .await
        .expect("create");
    assert_eq!(created.types.as_ref().expect("types").kind, "ConfigMap");
    assert_eq!(created.data["data"]["k"], "v");
    let got = api.get("dyn").await.expect("get");
    assert_eq!(got.metadata.uid, created.metadata.uid);
    let mut changed = got.clone();
    changed.data["data"]["k"] = json!("w");
    let replaced = api
        .replace("dyn", &PostParams::default(), &changed)
        .await
        .expect("replace");
    assert_eq!(replaced.data["data"]["k"], "w");
    let merged = api
        .patch(
            "dyn",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"m": "1"}})),
        )
        .await
        .expect("merge");
    assert_eq!(merged.data["data"]["m"], "1");
    let json_patch =
        serde_json::from_value(json!([{"op": "remove", "path": "/data/m"}])).expect("json patch");
    let patched = api
        .patch(
            "dyn",
            &PatchParams::default(),
            &Patch::Json::<()>(json_patch),
        )
        .await
        .expect("json patch");
    assert!(patched.data["data"].get("m").is_none());
    let strategic = api
        .patch(
            "dyn",
            &PatchParams::default(),
            &Patch::Strategic(json!({"data": {"s": "2"}})),
        )
        .await
        .expect("strategic");
    assert_eq!(strategic.data["data"]["s"], "2");

    // Through discovery (legacy and aggregated), for a namespaced group resource.
    for aggregated in [false, true] {
        let discovery = Discovery::new(client.clone());
        let discovery = if aggregated {
            discovery.run_aggregated().await
        } else {
            discovery.run().await
        }
        .expect("discovery");
        let (ar, caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
            .expect("deployments are discovered");
        assert_eq!(ar.plural, "deployments");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(
            caps.subresources
                .iter()
                .any(|(sr, _)| sr.plural == "deployments/scale" || sr.plural == "scale"),
            "scale subresource listed: {:?}",
            caps.subresources
                .iter()
                .map(|(r, _)| r.plural.clone())
                .collect::<Vec<_>>()
        );
        let (ns_ar, ns_caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
            .expect("namespaces");
        assert_eq!(ns_ar.plural, "namespaces");
        assert_eq!(ns_caps.scope, Scope::Cluster);
    }
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, _) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .expect("deployments");
    let deployments: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let body: DynamicObject =
        serde_json::from_value(serde_json::to_value(deployment("dyn-deploy", 1)).expect("json"))
            .expect("dynamic");
    let body = DynamicObject {
        types: Some(kube::api::TypeMeta {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
        }),
        ..body
    };
    let created = deployments
        .create(&PostParams::default(), &body)
        .await
        .expect("create dynamic deployment");
    assert_eq!(created.metadata.generation, Some(1));
    let list = deployments
        .list(&ListParams::default())
        .await
        .expect("list");
    assert_eq!(names(&list.items), vec!["dyn-deploy"]);
    deployments
        .delete("dyn-deploy", &DeleteParams::default())
        .await
        .expect("delete");
    api.delete("dyn", &DeleteParams::default())
        .await
        .expect("delete");
    api_err(api.get("dyn").await, 404, "NotFound");
    server.shutdown().await;
}

#[tokio::test]
async fn stale_replace_conflicts_then_succeeds_after_reread() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();
    let original = api
        .create(&pp, &configmap("occ", &[], "0"))
        .await
        .expect("create");

    let mut first = original.clone();
    first.data = Some(BTreeMap::from([("value".into(), "1".into())]));
    api.replace("occ", &pp, &first)
        .await
        .expect("first writer wins");

    let mut second = original.clone();
    second.data = Some(BTreeMap::from([("value".into(), "2".into())]));
    let conflict = api_err(api.replace("occ", &pp, &second).await, 409, "Conflict");
    assert!(conflict.is_conflict());
    assert!(
        conflict
            .message
            .contains("the object has been modified; please apply your changes to the latest version and try again"),
        "{}",
        conflict.message
    );
    // A patch carrying a stale resourceVersion is a conflict too.
    api_err(
        api.patch(
            "occ",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": original.resource_version()}, "data": {"value": "p"}})),
        )
        .await,
        409,
        "Conflict",
    );
    // Delete with a stale precondition, too.
    api_err(
        api.delete(
            "occ",
            &DeleteParams::default().preconditions(kube::api::Preconditions {
                resource_version: original.resource_version(),
                uid: None,
            }),
        )
        .await,
        409,
        "Conflict",
    );

    let mut fresh = api.get("occ").await.expect("re-read");
    assert_eq!(fresh.data.as_ref().expect("data")["value"], "1");
    fresh.data = Some(BTreeMap::from([("value".into(), "2".into())]));
    let ok = api
        .replace("occ", &pp, &fresh)
        .await
        .expect("replace after re-read");
    assert_eq!(ok.data.expect("data")["value"], "2");

    // Without a resourceVersion the update is unconditional.
    let mut blind = configmap("occ", &[], "3");
    blind.metadata.resource_version = None;
    api.replace("occ", &pp, &blind)
        .await
        .expect("unconditional replace");
    assert_eq!(
        api.get("occ").await.expect("get").data.expect("data")["value"],
        "3"
    );
    server.shutdown().await;
}

/// As kube-apiserver's store: `metadata.resourceVersion: "0"` is no version at all, so a PUT or
/// patch carrying it (a Node exported with rv "0", then `kubectl replace`d) is unconditional.
#[tokio::test]
async fn resource_version_zero_is_an_unconditional_update() {
    let server = start().await;
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(server.client());
    let pp = PostParams::default();
    let node: k8s_openapi::api::core::v1::Node =
        serde_json::from_value(json!({"metadata": {"name": "n1", "labels": {"a": "1"}}}))
            .expect("node");
    let created = nodes.create(&pp, &node).await.expect("create node");
    // Someone else writes first: the exported copy is stale in every sense but its version.
    nodes
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"b": "2"}}})),
        )
        .await
        .expect("label");
    let mut exported = created.clone();
    exported.metadata.resource_version = Some("0".into());
    exported.metadata.labels = Some(BTreeMap::from([("a".into(), "replaced".into())]));
    let replaced = nodes
        .replace("n1", &pp, &exported)
        .await
        .expect("rv 0 replaces unconditionally");
    assert_eq!(
        replaced.metadata.labels,
        Some(BTreeMap::from([("a".into(), "replaced".into())]))
    );
    assert_ne!(replaced.resource_version().as_deref(), Some("0"));

    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    cms.create(&pp, &configmap("zero", &[], "0"))
        .await
        .expect("create cm");
    let patched = cms
        .patch(
            "zero",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": "0"}, "data": {"value": "p"}})),
        )
        .await
        .expect("a patch setting rv 0 is unconditional too");
    assert_eq!(patched.data.expect("data")["value"], "p");
    // Any other version is still a precondition.
    let mut stale = configmap("zero", &[], "s");
    stale.metadata.resource_version = Some("1".into());
    api_err(cms.replace("zero", &pp, &stale).await, 409, "Conflict");
    server.shutdown().await;
}

#[tokio::test]
async fn label_selectors() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();
    for (name, labels) in [
        ("a", vec![("app", "web"), ("tier", "front")]),
        ("b", vec![("app", "web"), ("tier", "back")]),
        ("c", vec![("app", "db")]),
        ("d", vec![]),
    ] {
        api.create(&pp, &configmap(name, &labels, name))
            .await
            .expect("create");
    }
    for (selector, want) in [
        ("app=web", vec!["a", "b"]),
        ("app==web", vec!["a", "b"]),
        ("app!=web", vec!["c", "d"]),
        ("app in (web,db)", vec!["a", "b", "c"]),
        ("app notin (web)", vec!["c", "d"]),
        ("tier", vec!["a", "b"]),
        ("!tier", vec!["c", "d"]),
        ("app=web,tier!=front", vec!["b"]),
        ("app in (web),!tier", vec![]),
        ("", vec!["a", "b", "c", "d"]),
    ] {
        let list = api
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"));
        assert_eq!(names(&list.items), want, "selector {selector:?}");
    }
    for bad in ["app in (web", "app=(x)", "-bad=x", "a b c"] {
        let err = api_err(
            api.list(&ListParams::default().labels(bad)).await,
            400,
            "BadRequest",
        );
        assert!(!err.message.is_empty(), "{bad}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn field_selectors() {
    let server = start().await;
    let client = server.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for name in ["one", "two"] {
        cms.create(&PostParams::default(), &configmap(name, &[], name))
            .await
            .expect("create");
    }
    let one = cms
        .list(&ListParams::default().fields("metadata.name=one"))
        .await
        .expect("by name");
    assert_eq!(names(&one.items), vec!["one"]);
    let not_one = cms
        .list(&ListParams::default().fields("metadata.name!=one"))
        .await
        .expect("by name !=");
    assert_eq!(names(&not_one.items), vec!["two"]);
    let in_ns = Api::<ConfigMap>::all(client.clone())
        .list(&ListParams::default().fields("metadata.namespace=default"))
        .await
        .expect("by namespace");
    assert_eq!(names(&in_ns.items), vec!["one", "two"]);

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("p1", Some("node-a")))
        .await
        .expect("p1");
    pods.create(&PostParams::default(), &pod("p2", Some("node-b")))
        .await
        .expect("p2");
    pods.create(&PostParams::default(), &pod("p3", None))
        .await
        .expect("p3");
    let mut running = pods.get_status("p2").await.expect("status");
    running.status = Some(PodStatus {
        phase: Some("Running".into()),
        ..PodStatus::default()
    });
    pods.replace_status("p2", &PostParams::default(), &running)
        .await
        .expect("replace status");
    for (selector, want) in [
        ("spec.nodeName=node-a", vec!["p1"]),
        ("spec.nodeName=", vec!["p3"]),
        ("spec.nodeName!=node-a", vec!["p2", "p3"]),
        ("status.phase=Running", vec!["p2"]),
        ("status.phase=Pending", vec!["p1", "p3"]),
        ("status.phase!=Running,spec.nodeName=node-a", vec!["p1"]),
        ("metadata.name=p3,status.phase=Pending", vec!["p3"]),
    ] {
        let list = pods
            .list(&ListParams::default().fields(selector))
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"));
        assert_eq!(names(&list.items), want, "selector {selector:?}");
    }
    let err = api_err(
        pods.list(&ListParams::default().fields("spec.bogus=x"))
            .await,
        400,
        "BadRequest",
    );
    assert!(
        err.message
            .contains("field label not supported: spec.bogus"),
        "{}",
        err.message
    );
    api_err(
        cms.list(&ListParams::default().fields("status.phase=Running"))
            .await,
        400,
        "BadRequest",
    );
    api_err(
        cms.list(&ListParams::default().fields("nonsense")).await,
        400,
        "BadRequest",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn pagination_is_consistent_and_complete() {
    let server = start().await;
    let client = server.client();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let initial: BTreeSet<String> = (0..23).map(|i| format!("cm-{i:02}")).collect();
    for name in &initial {
        api.create(&pp, &configmap(name, &[("page", "yes")], name))
            .await
            .expect("create");
    }
    // Noise that the label selector filters out.
    for i in 0..5 {
        api.create(&pp, &configmap(&format!("other-{i}"), &[], "x"))
            .await
            .expect("create");
    }

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut list_rv = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().labels("page=yes").limit(5);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.expect("page");
        pages += 1;
        assert!(page.items.len() <= 5);
        let rv = page.metadata.resource_version.clone();
        if let Some(first) = &list_rv {
            assert_eq!(Some(first), rv.as_ref(), "every page is the same snapshot");
        } else {
            list_rv = rv;
        }
        seen.extend(page.items.iter().map(|o| o.name_any()));
        // Writes between pages must not show up in (or disturb) this list.
        api.create(
            &pp,
            &configmap(&format!("cm-new-{pages}"), &[("page", "yes")], "n"),
        )
        .await
        .expect("create between pages");
        if pages == 2 {
            api.delete("cm-22", &DeleteParams::default())
                .await
                .expect("delete between pages");
        }
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(t) => {
                // As kube-apiserver over etcd: no count when a selector filters the list
                // (the storage would count objects that do not match).
                assert_eq!(page.metadata.remaining_item_count, None);
                token = Some(t);
            }
            None => break,
        }
    }
    assert_eq!(pages, 5);
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates: {seen:?}");
    assert_eq!(unique, initial, "exactly the snapshot, once each");

    // A fresh list sees the writes made in between.
    let now = api
        .list(&ListParams::default().labels("page=yes"))
        .await
        .expect("list");
    assert_eq!(now.items.len(), initial.len() - 1 + pages);

    // limit without more items gives no token
    let all = api
        .list(&ListParams::default().labels("page=yes").limit(500))
        .await
        .expect("list");
    assert!(all.metadata.continue_.is_none_or(|t| t.is_empty()));
    server.shutdown().await;
}

#[tokio::test]
async fn pagination_without_selectors_counts_what_remains() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();
    for i in 0..12 {
        api.create(&pp, &configmap(&format!("cm-{i:02}"), &[], "v"))
            .await
            .expect("create");
    }
    let mut token: Option<String> = None;
    let mut counts = Vec::new();
    let mut names = Vec::new();
    loop {
        let mut lp = ListParams::default().limit(5);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.expect("page");
        names.extend(page.items.iter().map(|o| o.name_any()));
        counts.push(page.metadata.remaining_item_count);
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(counts, [Some(7), Some(2), None]);
    let expected: Vec<String> = (0..12).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, expected, "every object once, in key order");
    server.shutdown().await;
}

#[tokio::test]
async fn remaining_counts_are_the_snapshots_across_namespaces_and_writes() {
    let server = start().await;
    let client = server.client();
    let pp = PostParams::default();
    for ns in ["pa", "pb", "pc"] {
        namespace(&client, ns).await;
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        for i in 0..5 {
            api.create(&pp, &configmap(&format!("cm-{i}"), &[], "v"))
                .await
                .expect("create");
        }
    }
    let all: Api<ConfigMap> = Api::all(client.clone());
    let first = all
        .list(&ListParams::default().limit(4))
        .await
        .expect("first page");
    let rv = first.metadata.resource_version.clone().expect("rv");
    // The snapshot every page is read at, listed whole at exactly that version.
    let snapshot: Vec<(String, String)> = all
        .list(
            &ListParams::default()
                .at(&rv)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await
        .expect("snapshot")
        .items
        .iter()
        .map(|o| (o.namespace().unwrap_or_default(), o.name_any()))
        .collect();
    let mut page = first;
    let mut seen = Vec::new();
    let mut round = 0;
    loop {
        seen.extend(
            page.items
                .iter()
                .map(|o| (o.namespace().unwrap_or_default(), o.name_any())),
        );
        let Some(token) = page.metadata.continue_.clone().filter(|t| !t.is_empty()) else {
            assert_eq!(page.metadata.remaining_item_count, None);
            break;
        };
        let last = seen.last().cloned().expect("a full page");
        let after = snapshot.iter().filter(|k| **k > last).count() as i64;
        assert_eq!(
            page.metadata.remaining_item_count,
            Some(after),
            "after {last:?}"
        );
        // Writes between pages, before and after the position, in every namespace: the
        // count stays the snapshot's.
        round += 1;
        for ns in ["pa", "pb", "pc"] {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            api.create(&pp, &configmap(&format!("new-{round}"), &[], "v"))
                .await
                .expect("create between pages");
            let _ = api
                .delete(&format!("cm-{round}"), &DeleteParams::default())
                .await;
        }
        page = all
            .list(&ListParams::default().limit(4).continue_token(&token))
            .await
            .expect("page");
        assert_eq!(page.metadata.resource_version.as_deref(), Some(rv.as_str()));
    }
    assert_eq!(
        seen, snapshot,
        "every object of the snapshot once, in key order"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_continue_token_never_reaches_into_another_namespace() {
    use base64::Engine;
    let server = start().await;
    let client = server.client();
    namespace(&client, "aaa").await;
    namespace(&client, "zzz").await;
    let pp = PostParams::default();
    let in_aaa: Api<ConfigMap> = Api::namespaced(client.clone(), "aaa");
    in_aaa
        .create(&pp, &configmap("secret-plans", &[], "x"))
        .await
        .expect("create");
    let in_zzz: Api<ConfigMap> = Api::namespaced(client.clone(), "zzz");
    in_zzz
        .create(&pp, &configmap("mine", &[], "x"))
        .await
        .expect("create");
    let rv: u64 = in_zzz
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv")
        .parse()
        .expect("number");
    let in_default: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // Crafted tokens: a key in an earlier and in a later namespace than the one listed.
    for (ns, expected) in [("aaa", vec!["mine"]), ("zzzz", vec![])] {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"rv": rv, "ns": ns, "name": ""}).to_string());
        let page = in_zzz
            .list(&ListParams::default().limit(10).continue_token(&token))
            .await
            .expect("list with a crafted token");
        assert_eq!(names(&page.items), expected, "token into {ns}");
        let page = in_default
            .list(&ListParams::default().limit(10).continue_token(&token))
            .await
            .expect("list with a crafted token");
        assert!(
            page.items
                .iter()
                .all(|o| o.namespace().as_deref() == Some("default")),
            "token into {ns} leaked {:?}",
            names(&page.items)
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn expired_continue_token_is_gone() {
    let server = kubeforge_apiserver::ApiServer::builder()
        .in_memory()
        .history(8)
        .start()
        .await
        .expect("start");
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();
    for i in 0..6 {
        api.create(&pp, &configmap(&format!("cm-{i}"), &[], "x"))
            .await
            .expect("create");
    }
    let first = api
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    let token = first.metadata.continue_.expect("token");
    // A continuation right away works.
    api.list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("fresh token works");
    for i in 0..20 {
        api.patch(
            "cm-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": i.to_string()}})),
        )
        .await
        .expect("write");
    }
    let gone = api_err(
        api.list(&ListParams::default().limit(2).continue_token(&token))
            .await,
        410,
        "Expired",
    );
    assert!(
        gone.message.contains("continue parameter is too old"),
        "{}",
        gone.message
    );
    // A malformed token is a bad request.
    api_err(
        api.list(&ListParams::default().limit(2).continue_token("garbage!"))
            .await,
        400,
        "BadRequest",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn status_subresource_on_deployments() {
    let server = start().await;
    let api: Api<Deployment> = Api::namespaced(server.client(), "default");
    let mut body = deployment("st", 1);
    body.status = Some(DeploymentStatus {
        replicas: Some(99),
        ..DeploymentStatus::default()
    });
    let created = api
        .create(&PostParams::default(), &body)
        .await
        .expect("create");
    assert!(created.status.is_none(), "create drops status");

    // /status takes only status
    let mut with_status = created.clone();
    with_status.status = Some(DeploymentStatus {
        replicas: Some(1),
        ready_replicas: Some(1),
        observed_generation: Some(1),
        ..DeploymentStatus::default()
    });
    with_status.spec.as_mut().expect("spec").replicas = Some(7);
    with_status.metadata.labels = Some(BTreeMap::from([("ignored".into(), "yes".into())]));
    let after_status = api
        .replace_status("st", &PostParams::default(), &with_status)
        .await
        .expect("replace status");
    assert_eq!(
        after_status.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1)
    );
    assert_eq!(
        after_status.spec.as_ref().and_then(|s| s.replicas),
        Some(1),
        "/status ignores spec"
    );
    assert!(
        !after_status.labels().contains_key("ignored"),
        "/status ignores labels"
    );
    assert_eq!(after_status.metadata.generation, Some(1));

    // the main endpoint ignores status
    let mut main = after_status.clone();
    main.status.as_mut().expect("status").ready_replicas = Some(42);
    main.spec.as_mut().expect("spec").replicas = Some(3);
    let after_main = api
        .replace("st", &PostParams::default(), &main)
        .await
        .expect("replace");
    assert_eq!(after_main.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(
        after_main.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1),
        "main endpoint keeps the old status"
    );
    assert_eq!(after_main.metadata.generation, Some(2));
    let merged_main = api
        .patch(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 5}})),
        )
        .await
        .expect("patch main with status");
    assert_eq!(
        merged_main.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1)
    );

    // patch_status
    let patched = api
        .patch_status(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"availableReplicas": 1}, "spec": {"replicas": 9}})),
        )
        .await
        .expect("patch status");
    assert_eq!(
        patched.status.as_ref().and_then(|s| s.available_replicas),
        Some(1)
    );
    assert_eq!(patched.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let got = api.get_status("st").await.expect("get status");
    assert_eq!(got.status, patched.status);
    server.shutdown().await;
}

#[tokio::test]
async fn scale_subresource_on_deployments() {
    let server = start().await;
    let api: Api<Deployment> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &deployment("sc", 2))
        .await
        .expect("create");
    let scale = api.get_scale("sc").await.expect("get scale");
    assert_eq!(scale.metadata.name.as_deref(), Some("sc"));
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(
        scale
            .status
            .as_ref()
            .and_then(|s| s.selector.clone())
            .as_deref(),
        Some("app=sc")
    );
    let scaled = api
        .patch_scale(
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(scaled.spec.as_ref().and_then(|s| s.replicas), Some(5));
    let d = api.get("sc").await.expect("get");
    assert_eq!(d.spec.as_ref().and_then(|s| s.replicas), Some(5));
    assert_eq!(d.metadata.generation, Some(2), "scaling changes spec");

    let mut replace = api.get_scale("sc").await.expect("get scale");
    replace.spec.as_mut().expect("spec").replicas = Some(1);
    let replaced = api
        .replace_scale("sc", &PostParams::default(), &replace)
        .await
        .expect("replace scale");
    assert_eq!(replaced.spec.and_then(|s| s.replicas), Some(1));
    // A stale Scale is a conflict.
    api_err(
        api.replace_scale("sc", &PostParams::default(), &replace)
            .await,
        409,
        "Conflict",
    );
    api_err(
        api.patch_scale(
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": -1}})),
        )
        .await,
        422,
        "Invalid",
    );
    api_err(api.get_scale("missing").await, 404, "NotFound");
    server.shutdown().await;
}

#[tokio::test]
async fn finalizers_hold_deletion() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let mut cm = configmap("fin", &[], "x");
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &cm)
        .await
        .expect("create");

    let deleted = api
        .delete("fin", &DeleteParams::default())
        .await
        .expect("delete");
    let marked = deleted
        .left()
        .expect("object returned while finalizers remain");
    assert!(marked.metadata.deletion_timestamp.is_some());
    let still = api.get("fin").await.expect("still there");
    assert!(still.metadata.deletion_timestamp.is_some());
    assert_eq!(
        still.finalizers(),
        &["example.com/hold".to_string()],
        "finalizers kept"
    );
    // Deleting again changes nothing.
    let again = api
        .delete("fin", &DeleteParams::default())
        .await
        .expect("delete again")
        .left()
        .expect("object");
    assert_eq!(
        again.metadata.deletion_timestamp,
        still.metadata.deletion_timestamp
    );

    // No new finalizers while deleting.
    let err = api_err(
        api.patch(
            "fin",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
            ),
        )
        .await,
        422,
        "Invalid",
    );
    let causes = err.details.expect("details").causes;
    assert!(
        causes.iter().any(|c| c.field == "metadata.finalizers"),
        "{causes:?}"
    );
    // Other updates are still allowed while deleting.
    api.patch(
        "fin",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"still": "here"}}})),
    )
    .await
    .expect("label while deleting");

    // Removing the last finalizer deletes the object.
    api.patch(
        "fin",
        &PatchParams::default(),
        &Patch::Json::<()>(
            serde_json::from_value(json!([{"op": "remove", "path": "/metadata/finalizers"}]))
                .expect("patch"),
        ),
    )
    .await
    .expect("remove finalizer");
    api_err(api.get("fin").await, 404, "NotFound");

    // Deployments: deletionTimestamp bumps generation once.
    let deployments: Api<Deployment> = Api::namespaced(server.client(), "default");
    let mut d = deployment("dfin", 1);
    d.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    deployments
        .delete("dfin", &DeleteParams::default())
        .await
        .expect("delete");
    let marked = deployments.get("dfin").await.expect("get");
    assert_eq!(marked.metadata.generation, Some(2));
    deployments
        .patch(
            "dfin",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("remove finalizer");
    api_err(deployments.get("dfin").await, 404, "NotFound");
    server.shutdown().await;
}

#[tokio::test]
async fn generate_name_and_dry_run() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let mut template = configmap("", &[], "g");
    template.metadata.name = None;
    template.metadata.generate_name = Some("gen-".into());
    let mut generated = BTreeSet::new();
    for _ in 0..5 {
        let created = api
            .create(&PostParams::default(), &template)
            .await
            .expect("create with generateName");
        let name = created.name_any();
        assert!(name.starts_with("gen-"), "{name}");
        assert_eq!(name.len(), "gen-".len() + 5, "{name}");
        assert_eq!(created.metadata.generate_name.as_deref(), Some("gen-"));
        generated.insert(name);
    }
    assert_eq!(generated.len(), 5, "distinct names");
    let listed: BTreeSet<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|o| o.name_any())
        .collect();
    assert_eq!(listed, generated);
    // Neither name nor generateName: invalid.
    let mut nameless = configmap("", &[], "x");
    nameless.metadata.name = None;
    api_err(
        api.create(&PostParams::default(), &nameless).await,
        422,
        "Invalid",
    );

    // dryRun=All creates, changes and deletes nothing.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let would_be = api
        .create(&dry, &configmap("dry", &[], "x"))
        .await
        .expect("dry-run create");
    assert_eq!(would_be.name_any(), "dry");
    assert!(would_be.uid().is_some());
    api_err(api.get("dry").await, 404, "NotFound");
    let mut dry_gen = template.clone();
    dry_gen.metadata.generate_name = Some("drygen-".into());
    let would_gen = api.create(&dry, &dry_gen).await.expect("dry generate");
    assert!(would_gen.name_any().starts_with("drygen-"));
    assert_eq!(
        api.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        5
    );

    let real = api
        .create(&PostParams::default(), &configmap("real", &[], "1"))
        .await
        .expect("create");
    let dry_patch = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    let patched = api
        .patch(
            "real",
            &dry_patch,
            &Patch::Merge(json!({"data": {"value": "2"}})),
        )
        .await
        .expect("dry-run patch");
    assert_eq!(patched.data.as_ref().expect("data")["value"], "2");
    let mut replaced = real.clone();
    replaced.data = Some(BTreeMap::from([("value".into(), "3".into())]));
    api.replace("real", &dry, &replaced)
        .await
        .expect("dry-run replace");
    let dry_delete = DeleteParams {
        dry_run: true,
        ..DeleteParams::default()
    };
    api.delete("real", &dry_delete)
        .await
        .expect("dry-run delete");
    let after = api.get("real").await.expect("still there");
    assert_eq!(after.data.as_ref().expect("data")["value"], "1");
    assert_eq!(after.resource_version(), real.resource_version());
    server.shutdown().await;
}

#[tokio::test]
async fn namespace_rules() {
    let server = start().await;
    let client: Client = server.client();
    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "does-not-exist");
    let err = api_err(
        missing
            .create(&PostParams::default(), &configmap("x", &[], "x"))
            .await,
        404,
        "NotFound",
    );
    assert_eq!(err.message, "namespaces \"does-not-exist\" not found");
    // Reading from a missing namespace is just empty / not found.
    assert!(
        missing
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );

    let namespaces: Api<Namespace> = Api::all(client.clone());
    for system in ["default", "kube-system", "kube-public"] {
        let err = api_err(
            namespaces.delete(system, &DeleteParams::default()).await,
            403,
            "Forbidden",
        );
        assert!(err.is_forbidden());
        namespaces.get(system).await.expect("still there");
    }
    // An object in a namespace other than the URL's is refused.
    let mut wrong = configmap("w", &[], "x");
    wrong.metadata.namespace = Some("kube-system".into());
    api_err(
        Api::<ConfigMap>::namespaced(client.clone(), "default")
            .create(&PostParams::default(), &wrong)
            .await,
        400,
        "BadRequest",
    );
    // Invalid names are 422 with a metadata.name cause.
    let err = api_err(
        Api::<ConfigMap>::namespaced(client.clone(), "default")
            .create(&PostParams::default(), &configmap("Not_Valid", &[], "x"))
            .await,
        422,
        "Invalid",
    );
    let causes = err.details.expect("details").causes;
    assert!(
        causes.iter().any(|c| c.field == "metadata.name"),
        "{causes:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn apply_get_opt_and_delete_collection() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    assert!(api.get_opt("absent").await.expect("get_opt").is_none());

    // Server-side apply as kube-rs controllers use it: creates, then updates.
    let ssa = PatchParams::apply("kube-test").force();
    let applied = api
        .patch(
            "applied",
            &ssa,
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "applied", "labels": {"sweep": "yes"}},
                "data": {"a": "1"}
            })),
        )
        .await
        .expect("apply creates");
    assert_eq!(applied.data.as_ref().expect("data")["a"], "1");
    let managers: Vec<String> = applied
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(managers.contains(&"kube-test".to_string()), "{managers:?}");
    let reapplied = api
        .patch(
            "applied",
            &ssa,
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "applied", "labels": {"sweep": "yes"}},
                "data": {"a": "2"}
            })),
        )
        .await
        .expect("apply updates");
    assert_eq!(reapplied.data.as_ref().expect("data")["a"], "2");
    assert_eq!(reapplied.uid(), applied.uid());
    assert!(api.get_opt("applied").await.expect("get_opt").is_some());

    for i in 0..3 {
        api.create(
            &PostParams::default(),
            &configmap(&format!("sweep-{i}"), &[("sweep", "yes")], "x"),
        )
        .await
        .expect("create");
    }
    api.create(&PostParams::default(), &configmap("keep", &[], "x"))
        .await
        .expect("create");
    let deleted = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("sweep=yes"),
        )
        .await
        .expect("delete collection");
    let deleted = deleted.left().expect("a list of deleted objects");
    assert_eq!(
        names(&deleted.items),
        vec!["applied", "sweep-0", "sweep-1", "sweep-2"]
    );
    assert_eq!(
        names(&api.list(&ListParams::default()).await.expect("list").items),
        vec!["keep"]
    );
    server.shutdown().await;
}

/// core/v1 and events.k8s.io/v1 Events are one resource: what kube-rs's `Recorder` writes
/// (events.k8s.io/v1) is listed as core/v1 Events with the `involvedObject.*` field selectors
/// `kubectl describe` uses, and core/v1 Events are listed through events.k8s.io/v1 with
/// `regarding.*` selectors, each in its own form.
#[tokio::test]
async fn events_are_one_resource_across_both_apis() {
    use k8s_openapi::api::core::v1::{Event as CoreEvent, ObjectReference};
    use k8s_openapi::api::events::v1::Event as EventsV1;
    use kube::runtime::events::{Event, EventType, Recorder};

    let server = start().await;
    let client = server.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = cms
        .create(&PostParams::default(), &configmap("watched", &[], "v"))
        .await
        .expect("create");
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        name: Some("watched".into()),
        namespace: Some("default".into()),
        uid: cm.metadata.uid.clone(),
        ..ObjectReference::default()
    };
    let recorder = Recorder::new(client.clone(), "rec-controller".into());
    let event = Event {
        type_: EventType::Warning,
        reason: "Drifted".into(),
        note: Some("the value drifted".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &reference).await.expect("publish");

    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let uid = cm.metadata.uid.clone().unwrap_or_default();
    let describe_selector = format!(
        "involvedObject.name=watched,involvedObject.namespace=default,involvedObject.kind=ConfigMap,involvedObject.uid={uid}"
    );
    let listed = core
        .list(&ListParams::default().fields(&describe_selector))
        .await
        .expect("core list");
    assert_eq!(listed.items.len(), 1, "{listed:?}");
    let e = &listed.items[0];
    assert_eq!(e.message.as_deref(), Some("the value drifted"));
    assert_eq!(e.reason.as_deref(), Some("Drifted"));
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    assert_eq!(e.reporting_component.as_deref(), Some("rec-controller"));
    assert_eq!(e.involved_object.uid.as_deref(), Some(uid.as_str()));
    assert!(e.event_time.is_some());

    // A core/v1 Event, as client-go's legacy recorder writes it.
    let legacy: CoreEvent = serde_json::from_value(json!({
        "metadata": {"name": "watched.legacy"},
        "involvedObject": {"apiVersion": "v1", "kind": "ConfigMap", "name": "watched",
                           "namespace": "default", "uid": uid},
        "reason": "Synced", "message": "synced it", "type": "Normal",
        "source": {"component": "legacy-controller"}, "count": 3,
        "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:05:00Z",
    }))
    .expect("event");
    core.create(&PostParams::default(), &legacy)
        .await
        .expect("create core event");
    let by_source = core
        .list(&ListParams::default().fields("source=legacy-controller"))
        .await
        .expect("list by source");
    assert_eq!(names(&by_source.items), ["watched.legacy"]);

    let v1: Api<EventsV1> = Api::namespaced(client.clone(), "default");
    let listed = v1
        .list(&ListParams::default().fields("regarding.name=watched"))
        .await
        .expect("events.k8s.io list");
    assert_eq!(listed.items.len(), 2, "{listed:?}");
    let converted = v1
        .get("watched.legacy")
        .await
        .expect("get through events.k8s.io");
    assert_eq!(converted.note.as_deref(), Some("synced it"));
    assert_eq!(converted.deprecated_count, Some(3));
    assert_eq!(
        converted
            .deprecated_source
            .as_ref()
            .and_then(|s| s.component.as_deref()),
        Some("legacy-controller")
    );
    assert_eq!(
        converted.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("watched")
    );
    let by_controller = v1
        .list(&ListParams::default().fields("reportingController=rec-controller"))
        .await
        .expect("list by controller");
    assert_eq!(by_controller.items.len(), 1);

    // The recorder's second publish patches a series onto its event (events.k8s.io merge patch).
    recorder
        .publish(&event, &reference)
        .await
        .expect("publish again");
    let series = core
        .list(&ListParams::default().fields("reason=Drifted"))
        .await
        .expect("list");
    assert_eq!(
        series.items[0].series.as_ref().and_then(|s| s.count),
        Some(2),
        "{series:?}"
    );

    // Deleting through one API deletes it from both.
    v1.delete("watched.legacy", &DeleteParams::default())
        .await
        .expect("delete through events.k8s.io");
    assert!(core.get_opt("watched.legacy").await.expect("get").is_none());
    server.shutdown().await;
}

/// NodePort and LoadBalancer Services get node ports from 30000-32767, kept across updates that
/// leave them out; node ports are validated as kube-apiserver validates them.
#[tokio::test]
async fn services_get_node_ports() {
    use k8s_openapi::api::core::v1::Service;
    let server = start().await;
    let api: Api<Service> = Api::namespaced(server.client(), "default");
    let svc = |name: &str, type_: &str, node_port: Option<i32>| -> Service {
        let mut port = json!({"name": "http", "port": 80});
        if let Some(n) = node_port {
            port["nodePort"] = json!(n);
        }
        serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"type": type_, "ports": [port, {"name": "dns", "port": 53, "protocol": "UDP"}]}}))
        .expect("service")
    };
    let node_ports = |s: &Service| -> Vec<i32> {
        s.spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .map(|ps| ps.iter().filter_map(|p| p.node_port).collect())
            .unwrap_or_default()
    };
    let created = api
        .create(&PostParams::default(), &svc("np", "NodePort", None))
        .await
        .expect("create");
    let ports = node_ports(&created);
    assert_eq!(ports.len(), 2, "{created:?}");
    assert!(
        ports.iter().all(|n| (30000..=32767).contains(n)),
        "{ports:?}"
    );
    assert_ne!(ports[0], ports[1]);
    assert_eq!(
        created
            .spec
            .as_ref()
            .and_then(|s| s.external_traffic_policy.as_deref()),
        Some("Cluster")
    );
    // A replace that leaves the node ports out keeps them.
    let mut again = svc("np", "NodePort", None);
    again.metadata.resource_version = created.metadata.resource_version.clone();
    let replaced = api
        .replace("np", &PostParams::default(), &again)
        .await
        .expect("replace");
    assert_eq!(node_ports(&replaced), ports);

    let lb = api
        .create(
            &PostParams::default(),
            &svc("lb", "LoadBalancer", Some(30080)),
        )
        .await
        .expect("load balancer");
    assert_eq!(node_ports(&lb)[0], 30080);
    assert_eq!(node_ports(&lb).len(), 2);

    let s = api_err(
        api.create(&PostParams::default(), &svc("low", "NodePort", Some(80)))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        s.message,
        r#"Service "low" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"#
    );
    let s = api_err(
        api.create(
            &PostParams::default(),
            &svc("cip", "ClusterIP", Some(30001)),
        )
        .await,
        422,
        "Invalid",
    );
    assert_eq!(
        s.message,
        r#"Service "cip" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"#
    );
    // Plain ClusterIP Services get none.
    let plain = api
        .create(&PostParams::default(), &svc("plain", "ClusterIP", None))
        .await
        .expect("clusterip");
    assert!(node_ports(&plain).is_empty());
}

/// Per ReplicaSet image: (revision, revision-history, desired-replicas, max-replicas).
async fn revisions(
    api: &Api<k8s_openapi::api::apps::v1::ReplicaSet>,
) -> BTreeMap<String, [String; 4]> {
    let list = api.list(&ListParams::default()).await.expect("list rs");
    list.items
        .iter()
        .map(|rs| {
            let image = rs
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .and_then(|t| t.spec.as_ref())
                .and_then(|s| s.containers[0].image.clone())
                .unwrap_or_default();
            let a = |k: &str| {
                rs.annotations()
                    .get(&format!("deployment.kubernetes.io/{k}"))
                    .cloned()
                    .unwrap_or_default()
            };
            (
                image,
                [
                    a("revision"),
                    a("revision-history"),
                    a("desired-replicas"),
                    a("max-replicas"),
                ],
            )
        })
        .collect()
}

/// Waits until Deployment `web` is at `revision` with its one replica updated and available.
async fn rolled_out(api: &Api<Deployment>, revision: &str) {
    eventually(&format!("revision {revision} rolled out"), || async {
        let d = api.get("web").await.ok()?;
        let status = d.status.clone()?;
        (d.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str)
            == Some(revision)
            && status.updated_replicas == Some(1)
            && status.available_replicas == Some(1)
            && status.replicas == Some(1))
        .then_some(())
    })
    .await;
}

/// What `kubectl rollout undo --to-revision=N` sends: the ReplicaSet's template without its
/// `pod-template-hash` label, and the Deployment's annotations.
async fn undo_to(
    deployments: &Api<Deployment>,
    replicasets: &Api<k8s_openapi::api::apps::v1::ReplicaSet>,
    revision: &str,
) {
    let list = replicasets
        .list(&ListParams::default())
        .await
        .expect("list rs");
    let rs = list
        .items
        .iter()
        .find(|rs| {
            rs.annotations()
                .get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some(revision)
        })
        .expect("revision's ReplicaSet");
    let mut template =
        serde_json::to_value(&rs.spec.as_ref().expect("spec").template).expect("template");
    template["metadata"]["labels"]
        .as_object_mut()
        .expect("labels")
        .remove("pod-template-hash");
    let d = deployments.get("web").await.expect("get deployment");
    let patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": d.annotations()},
    ]))
    .expect("json patch");
    deployments
        .patch("web", &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .expect("rollback patch");
}

/// The simulated deployment controller keeps revisions as upstream's: a rollback reuses the
/// ReplicaSet of the template it brings back (its revision raised to the next, the earlier one
/// in `revision-history`), ReplicaSets carry `desired-replicas` and `max-replicas` (replicas
/// + maxSurge, 25% rounded up), the Deployment's revision is the new ReplicaSet's, and old
/// ReplicaSets beyond `revisionHistoryLimit` are deleted once the rollout completes.
#[tokio::test]
async fn deployment_rollback_reuses_its_replica_set_and_keeps_revisions() {
    let server = kubeforge_apiserver::ApiServer::builder()
        .in_memory()
        .simulate_workloads(true)
        .start()
        .await
        .expect("server starts");
    let deployments: Api<Deployment> = Api::namespaced(server.client(), "default");
    let replicasets: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        Api::namespaced(server.client(), "default");
    let mut d = deployment("web", 1);
    d.spec
        .as_mut()
        .expect("spec")
        .template
        .spec
        .as_mut()
        .expect("pod spec")
        .containers
        .truncate(1);
    d.spec
        .as_mut()
        .expect("spec")
        .template
        .spec
        .as_mut()
        .expect("pod spec")
        .containers[0]
        .image = Some("nginx:1".into());
    deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    rolled_out(&deployments, "1").await;
    let set_image = |image: &'static str| {
        let deployments = deployments.clone();
        async move {
            deployments
                .patch(
                    "web",
                    &PatchParams::default(),
                    &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                        {"name": "app", "image": image}]}}}})),
                )
                .await
                .expect("set image");
        }
    };
    set_image("nginx:2").await;
    rolled_out(&deployments, "2").await;
    set_image("nginx:3").await;
    rolled_out(&deployments, "3").await;
    let row = |rev: &str, history: &str| {
        [
            rev.to_string(),
            history.to_string(),
            "1".to_string(),
            "2".to_string(),
        ]
    };
    assert_eq!(
        revisions(&replicasets).await,
        BTreeMap::from([
            ("nginx:1".to_string(), row("1", "")),
            ("nginx:2".to_string(), row("2", "")),
            ("nginx:3".to_string(), row("3", "")),
        ])
    );

    // `rollout undo`: back to revision 2's ReplicaSet, which becomes revision 4.
    undo_to(&deployments, &replicasets, "2").await;
    rolled_out(&deployments, "4").await;
    assert_eq!(
        revisions(&replicasets).await,
        BTreeMap::from([
            ("nginx:1".to_string(), row("1", "")),
            ("nginx:2".to_string(), row("4", "2")),
            ("nginx:3".to_string(), row("3", "")),
        ])
    );
    // `rollout undo --to-revision=1`, then back to 4: the history grows.
    undo_to(&deployments, &replicasets, "1").await;
    rolled_out(&deployments, "5").await;
    undo_to(&deployments, &replicasets, "4").await;
    rolled_out(&deployments, "6").await;
    assert_eq!(
        revisions(&replicasets).await,
        BTreeMap::from([
            ("nginx:1".to_string(), row("5", "1")),
            ("nginx:2".to_string(), row("6", "2,4")),
            ("nginx:3".to_string(), row("3", "")),
        ])
    );

    // revisionHistoryLimit 1: of the old ReplicaSets only the latest revision stays.
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"revisionHistoryLimit": 1}})),
        )
        .await
        .expect("limit");
    eventually("old ReplicaSets cleaned up", || async {
        let r = revisions(&replicasets).await;
        (r.len() == 2).then_some(r)
    })
    .await;
    assert_eq!(
        revisions(&replicasets)
            .await
            .into_iter()
            .map(|(image, [rev, ..])| (image, rev))
            .collect::<Vec<_>>(),
        vec![
            ("nginx:1".to_string(), "5".to_string()),
            ("nginx:2".to_string(), "6".to_string())
        ]
    );
    server.shutdown().await;
}

/// The kubeconfig of a plain-HTTP server skips TLS verification (`@kubernetes/client-node`
/// refuses an `http://` server otherwise), and kube-rs still reaches the server through it.
#[tokio::test]
async fn kubeconfig_for_plain_http_skips_tls_verification() {
    let server = start().await;
    let kubeconfig: kube::config::Kubeconfig =
        serde_json::from_value(server.kubeconfig().clone()).expect("a kubeconfig");
    let cluster = kubeconfig.clusters[0].cluster.as_ref().expect("a cluster");
    assert!(
        cluster
            .server
            .as_deref()
            .is_some_and(|s| s.starts_with("http://"))
    );
    assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("kube-rs reads it");
    assert!(config.accept_invalid_certs);
    let client = Client::try_from(config).expect("a client");
    let namespaces: Api<Namespace> = Api::all(client);
    let list = namespaces
        .list(&ListParams::default())
        .await
        .expect("list through the kubeconfig");
    assert!(list.items.iter().any(|n| n.name_any() == "default"));
}
