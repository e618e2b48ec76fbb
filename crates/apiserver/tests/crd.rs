//! CustomResourceDefinitions through kube-rs against an in-process kubeforge API server: the
//! CRD lifecycle (conditions, discovery, schema validation and pruning, several served versions,
//! deletion of the CRD's objects and then the CRD), and the status and scale subresources,
//! generation and finalizers of custom resources.

mod kube_support;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use kube::discovery::{Discovery, Scope};
use kube::{Api, Client, ResourceExt};
use kube_support::{api_err, eventually, start};
use serde_json::{Value, json};

const GROUP: &str = "example.com";
const CRD_NAME: &str = "widgets.example.com";

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "color": {"type": "string", "enum": ["red", "blue"]},
                    "shape": {"type": "string", "default": "round"},
                    "replicas": {"type": "integer"},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }
            },
            "status": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer"},
                    "selector": {"type": "string"},
                    "phase": {"type": "string"}
                }
            }
        }
    })
}

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": schema()},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector"
                        }
                    }
                },
                {
                    "name": "v1beta1", "served": true, "storage": false,
                    "schema": {"openAPIV3Schema": schema()},
                    "subresources": {"status": {}}
                }
            ],
            "conversion": {"strategy": "None"}
        }
    }))
    .expect("CRD")
}

fn widget_resource(version: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, version, "Widget"), "widgets")
}

fn widget(version: &str, name: &str, spec: Value) -> DynamicObject {
    DynamicObject::new(name, &widget_resource(version)).data(json!({ "spec": spec }))
}

fn condition_true(crd: &CustomResourceDefinition, type_: &str) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// Creates the Widget CRD and waits until it is Established and served.
async fn install(client: &Client) -> CustomResourceDefinition {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &widget_crd())
        .await
        .expect("create CRD");
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1"));
    eventually("the CRD to be established and served", || async {
        let crd = crds.get(CRD_NAME).await.ok()?;
        let ready = condition_true(&crd, "NamesAccepted") && condition_true(&crd, "Established");
        (ready && widgets.list(&ListParams::default()).await.is_ok()).then_some(crd)
    })
    .await
}

fn causes(status: kube::core::Status) -> Vec<(String, String)> {
    status
        .details
        .map(|d| d.causes)
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.field, c.reason))
        .collect()
}

#[tokio::test]
async fn crd_lifecycle() {
    let server = start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());

    // Before the CRD: not served.
    let v1: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1"));
    api_err(v1.list(&ListParams::default()).await, 404, "NotFound");

    let crd = install(&client).await;
    assert_eq!(
        crd.finalizers(),
        &["customresourcecleanup.apiextensions.k8s.io".to_string()]
    );
    let status = crd.status.expect("status");
    let accepted = status.accepted_names.expect("acceptedNames");
    assert_eq!(accepted.kind, "Widget");
    assert_eq!(accepted.plural, "widgets");
    assert_eq!(status.stored_versions, Some(vec!["v1".to_string()]));

    // Discovery (legacy and aggregated) finds the kind in both versions, with subresources.
    for aggregated in [false, true] {
        let discovery = Discovery::new(client.clone()).filter(&[GROUP]);
        let discovery = if aggregated {
            discovery.run_aggregated().await
        } else {
            discovery.run().await
        }
        .expect("discovery");
        let group = discovery.get(GROUP).expect("group discovered");
        assert_eq!(group.preferred_version_or_latest(), "v1");
        let (ar, caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk(GROUP, "v1", "Widget"))
            .expect("Widget v1 discovered");
        assert_eq!(ar.plural, "widgets");
        assert_eq!(caps.scope, Scope::Namespaced);
        let subresources: Vec<String> = caps
            .subresources
            .iter()
            .map(|(r, _)| r.plural.clone())
            .collect();
        assert!(
            subresources.iter().any(|s| s.ends_with("status"))
                && subresources.iter().any(|s| s.ends_with("scale")),
            "{subresources:?}"
        );
        discovery
            .resolve_gvk(&GroupVersionKind::gvk(GROUP, "v1beta1", "Widget"))
            .expect("Widget v1beta1 discovered");
    }

    // Create, with pruning of unknown fields (kept under preserve-unknown-fields).
    let created = v1
        .create(
            &PostParams::default(),
            &widget(
                "v1",
                "w1",
                json!({"size": 3, "color": "red", "bogus": true, "free": {"any": {"thing": 1}}}),
            ),
        )
        .await
        .expect("create widget");
    assert_eq!(created.data["spec"]["size"], 3);
    assert!(
        created.data["spec"].get("bogus").is_none(),
        "unknown field pruned"
    );
    assert_eq!(created.data["spec"]["free"]["any"]["thing"], 1);
    assert_eq!(
        created.data["spec"]["shape"], "round",
        "schema default applied"
    );
    assert_eq!(created.metadata.generation, Some(1));
    let got = v1.get("w1").await.expect("get");
    assert_eq!(
        got.types.as_ref().expect("types").api_version,
        "example.com/v1"
    );
    assert_eq!(got.data["spec"], created.data["spec"]);

    // Schema validation: 422 with field causes.
    let wrong_type = api_err(
        v1.create(
            &PostParams::default(),
            &widget("v1", "bad1", json!({"size": "big"})),
        )
        .await,
        422,
        "Invalid",
    );
    assert!(
        causes(wrong_type.clone())
            .iter()
            .any(|(f, r)| f == "spec.size" && r == "FieldValueTypeInvalid"),
        "{wrong_type:?}"
    );
    let missing = api_err(
        v1.create(
            &PostParams::default(),
            &widget("v1", "bad2", json!({"color": "red"})),
        )
        .await,
        422,
        "Invalid",
    );
    assert!(
        causes(missing.clone())
            .iter()
            .any(|(f, r)| f == "spec.size" && r == "FieldValueRequired"),
        "{missing:?}"
    );
    let several = api_err(
        v1.create(
            &PostParams::default(),
            &widget("v1", "bad3", json!({"size": 0, "color": "green"})),
        )
        .await,
        422,
        "Invalid",
    );
    let fields: Vec<String> = causes(several).into_iter().map(|(f, _)| f).collect();
    assert!(
        fields.contains(&"spec.size".to_string()) && fields.contains(&"spec.color".to_string()),
        "{fields:?}"
    );
    api_err(v1.get("bad1").await, 404, "NotFound");
    // Updates are validated too.
    api_err(
        v1.patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": "huge"}})),
        )
        .await,
        422,
        "Invalid",
    );

    // Patches: merge and JSON; strategic merge is not supported for custom resources.
    let merged = v1
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"color": "blue"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(merged.data["spec"]["color"], "blue");
    assert_eq!(merged.data["spec"]["size"], 3);
    let jp = serde_json::from_value(json!([{"op": "replace", "path": "/spec/size", "value": 4}]))
        .expect("json patch");
    let patched = v1
        .patch("w1", &PatchParams::default(), &Patch::Json::<()>(jp))
        .await
        .expect("json patch");
    assert_eq!(patched.data["spec"]["size"], 4);
    api_err(
        v1.patch(
            "w1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 5}})),
        )
        .await,
        415,
        "UnsupportedMediaType",
    );
    // Replace needs a resourceVersion for custom resources.
    let mut stale = patched.clone();
    stale.metadata.resource_version = created.metadata.resource_version.clone();
    api_err(
        v1.replace("w1", &PostParams::default(), &stale).await,
        409,
        "Conflict",
    );
    // "0" is no version: custom resources refuse an unconditional update, by PUT or patch.
    let mut zero = patched.clone();
    zero.metadata.resource_version = Some("0".into());
    for res in [
        v1.replace("w1", &PostParams::default(), &zero).await,
        v1.patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": "0"}})),
        )
        .await,
    ] {
        let status = api_err(res, 422, "Invalid");
        assert!(
            status.message.ends_with(
                "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
            ),
            "{}",
            status.message
        );
    }
    let mut fresh = v1.get("w1").await.expect("get");
    fresh.data["spec"]["size"] = json!(6);
    let replaced = v1
        .replace("w1", &PostParams::default(), &fresh)
        .await
        .expect("replace");
    assert_eq!(replaced.data["spec"]["size"], 6);

    // Several versions served, conversion None: same object, apiVersion rewritten.
    let v1beta1: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1beta1"));
    let beta = v1beta1.get("w1").await.expect("get v1beta1");
    assert_eq!(
        beta.types.as_ref().expect("types").api_version,
        "example.com/v1beta1"
    );
    assert_eq!(beta.data["spec"], replaced.data["spec"]);
    assert_eq!(beta.metadata.uid, replaced.metadata.uid);
    v1beta1
        .create(
            &PostParams::default(),
            &widget("v1beta1", "w2", json!({"size": 1})),
        )
        .await
        .expect("create through v1beta1");
    let listed = v1.list(&ListParams::default()).await.expect("list v1");
    assert_eq!(
        listed
            .items
            .iter()
            .map(|o| o.name_any())
            .collect::<Vec<_>>(),
        vec!["w1", "w2"]
    );
    let beta_list = v1beta1
        .list(&ListParams::default())
        .await
        .expect("list v1beta1");
    assert!(
        beta_list.items.iter().all(|o| o
            .types
            .as_ref()
            .is_some_and(|t| t.api_version == "example.com/v1beta1")),
        "{beta_list:?}"
    );

    // Deleting the CRD deletes its objects, then the CRD.
    crds.delete(CRD_NAME, &DeleteParams::default())
        .await
        .expect("delete CRD");
    // Gone from storage, then no longer served: the server stops serving a CRD's resources once
    // it has seen the CRD go (on etcd, a GET reads etcd itself and may see it first).
    eventually(
        "the CRD to be gone and its resources no longer served",
        || async {
            let gone =
                |r: Result<_, kube::Error>| matches!(r, Err(kube::Error::Api(s)) if s.code == 404);
            (gone(crds.get(CRD_NAME).await.map(|_| ()))
                && gone(v1.list(&ListParams::default()).await.map(|_| ())))
            .then_some(())
        },
    )
    .await;
    api_err(v1.list(&ListParams::default()).await, 404, "NotFound");
    // Recreating the CRD does not resurrect the objects.
    install(&client).await;
    assert!(
        v1.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn custom_resource_status_scale_and_generation() {
    let server = start().await;
    let client = server.client();
    install(&client).await;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1"));

    let mut body = widget("v1", "sc", json!({"size": 1, "replicas": 2}));
    body.data["status"] = json!({"phase": "ignored"});
    let created = api
        .create(&PostParams::default(), &body)
        .await
        .expect("create");
    assert!(created.data.get("status").is_none(), "create drops status");
    assert_eq!(created.metadata.generation, Some(1));

    // Metadata-only change: no generation bump.
    let labelled = api
        .patch(
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .expect("label");
    assert_eq!(labelled.metadata.generation, Some(1));
    // Spec change: bump.
    let grown = api
        .patch(
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .expect("spec change");
    assert_eq!(grown.metadata.generation, Some(2));

    // /status takes only status; it does not bump generation.
    let with_status = api
        .patch_status(
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 1, "selector": "app=sc", "phase": "Ready"}, "spec": {"size": 99}})),
        )
        .await
        .expect("patch status");
    assert_eq!(with_status.data["status"]["phase"], "Ready");
    assert_eq!(with_status.data["spec"]["size"], 2, "/status ignores spec");
    assert_eq!(with_status.metadata.generation, Some(2));
    // Status is validated against the schema on /status.
    api_err(
        api.patch_status(
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": "many"}})),
        )
        .await,
        422,
        "Invalid",
    );
    let mut replace = with_status.clone();
    replace.data["status"]["phase"] = json!("Replaced");
    replace.data["spec"]["size"] = json!(50);
    let replaced = api
        .replace_status("sc", &PostParams::default(), &replace)
        .await
        .expect("replace status");
    assert_eq!(replaced.data["status"]["phase"], "Replaced");
    assert_eq!(replaced.data["spec"]["size"], 2);

    // The main endpoint ignores status.
    let mut main = replaced.clone();
    main.data["status"]["phase"] = json!("Hacked");
    main.data["spec"]["size"] = json!(3);
    let after = api
        .replace("sc", &PostParams::default(), &main)
        .await
        .expect("replace");
    assert_eq!(after.data["status"]["phase"], "Replaced");
    assert_eq!(after.data["spec"]["size"], 3);
    assert_eq!(after.metadata.generation, Some(3));

    // Scale subresource from the CRD's paths.
    let scale = api.get_scale("sc").await.expect("get scale");
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(2));
    let scale_status = scale.status.expect("scale status");
    assert_eq!(scale_status.replicas, 1);
    assert_eq!(scale_status.selector.as_deref(), Some("app=sc"));
    let scaled = api
        .patch_scale(
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(7));
    let obj = api.get("sc").await.expect("get");
    assert_eq!(obj.data["spec"]["replicas"], 7);
    assert_eq!(obj.metadata.generation, Some(4));
    // v1beta1 declares no scale subresource.
    let beta: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1beta1"));
    api_err(beta.get_scale("sc").await, 404, "NotFound");
    beta.get_status("sc").await.expect("v1beta1 has status");
    server.shutdown().await;
}

#[tokio::test]
async fn crd_deletion_waits_for_custom_resource_finalizers() {
    let server = start().await;
    let client = server.client();
    install(&client).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1"));
    let mut held = widget("v1", "held", json!({"size": 1}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &held)
        .await
        .expect("create");
    api.create(
        &PostParams::default(),
        &widget("v1", "free", json!({"size": 1})),
    )
    .await
    .expect("create");

    crds.delete(CRD_NAME, &DeleteParams::default())
        .await
        .expect("delete CRD");
    // The free object goes, the held one is marked; the CRD waits, reporting Terminating.
    let marked = eventually("the held widget to be marked for deletion", || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        (list.items.len() == 1 && list.items[0].metadata.deletion_timestamp.is_some())
            .then(|| list.items[0].clone())
    })
    .await;
    assert_eq!(marked.name_any(), "held");
    let crd = eventually("the CRD to report Terminating", || async {
        let crd = crds.get(CRD_NAME).await.ok()?;
        condition_true(&crd, "Terminating").then_some(crd)
    })
    .await;
    assert!(crd.metadata.deletion_timestamp.is_some());
    // Adding a finalizer while deleting is refused.
    api_err(
        api.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}),
            ),
        )
        .await,
        422,
        "Invalid",
    );

    // Releasing the finalizer lets the object and then the CRD go.
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    eventually("the CRD to be gone", || async {
        match crds.get(CRD_NAME).await {
            Err(kube::Error::Api(s)) if s.code == 404 => Some(()),
            _ => None,
        }
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn cluster_scoped_custom_resources() {
    let server = start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    }))
    .expect("crd");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create CRD");
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, "v1", "Gadget"), "gadgets");
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    eventually("gadgets served", || async {
        api.list(&ListParams::default()).await.ok()
    })
    .await;
    let created = api
        .create(
            &PostParams::default(),
            &DynamicObject::new("g1", &ar).data(json!({"anything": {"goes": [1, 2]}})),
        )
        .await
        .expect("create");
    assert!(created.metadata.namespace.is_none());
    assert_eq!(created.data["anything"]["goes"], json!([1, 2]));
    let discovery = Discovery::new(client.clone())
        .filter(&[GROUP])
        .run()
        .await
        .expect("discovery");
    let (_, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(GROUP, "v1", "Gadget"))
        .expect("Gadget discovered");
    assert_eq!(caps.scope, Scope::Cluster);
    // The custom resource store does not set ReturnDeletedObject: a custom resource removed at
    // once is answered with a Status naming the resource and group.
    let answer = api
        .delete("g1", &DeleteParams::default())
        .await
        .expect("delete");
    let details = answer.right().expect("a Status").details.expect("details");
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("g1", GROUP, "gadgets")
    );
    api_err(api.get("g1").await, 404, "NotFound");

    // A second CRD claiming the same plural in the group is not accepted.
    let clash: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": GROUP, "scope": "Cluster", "names": {"plural": "gadgets", "kind": "Other"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object"}}}]}
    }))
    .expect("crd");
    api_err(
        crds.create(&PostParams::default(), &clash).await,
        409,
        "AlreadyExists",
    );
    // Invalid CRDs are refused with causes.
    let invalid: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "wrong.example.com"},
        "spec": {"group": GROUP, "scope": "Cluster", "names": {"plural": "things", "kind": "Thing"},
            "versions": [{"name": "v1", "served": true, "storage": false,
                "schema": {"openAPIV3Schema": {"type": "object"}}}]}
    }))
    .expect("crd");
    let err = api_err(
        crds.create(&PostParams::default(), &invalid).await,
        422,
        "Invalid",
    );
    let fields: Vec<String> = causes(err).into_iter().map(|(f, _)| f).collect();
    assert!(
        fields.contains(&"metadata.name".to_string())
            && fields.contains(&"spec.versions".to_string()),
        "{fields:?}"
    );
    server.shutdown().await;
}

/// kube-apiserver prunes objects as it decodes them from storage: a field dropped from a CRD's
/// schema disappears from the objects stored before, on get, list and watch alike. Pruning on
/// read never writes, so putting the field back into the schema shows the stored value again.
#[tokio::test]
async fn a_field_dropped_from_the_schema_disappears_from_stored_objects() {
    use futures::{StreamExt, TryStreamExt};
    use kube::api::WatchParams;
    use kube::core::WatchEvent;

    let server = start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    install(&client).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1"));
    widgets
        .create(
            &PostParams::default(),
            &widget("v1", "w", json!({"size": 1, "color": "red"})),
        )
        .await
        .expect("create");

    let set_color_schema = |color: Option<Value>| {
        let crds = crds.clone();
        async move {
            let mut crd =
                serde_json::to_value(crds.get(CRD_NAME).await.expect("crd")).expect("json");
            for v in 0..2 {
                let props = crd
                    .pointer_mut(&format!(
                        "/spec/versions/{v}/schema/openAPIV3Schema/properties/spec/properties"
                    ))
                    .and_then(Value::as_object_mut)
                    .expect("spec properties");
                match &color {
                    Some(s) => props.insert("color".into(), s.clone()),
                    None => props.remove("color"),
                };
            }
            crds.replace(
                CRD_NAME,
                &PostParams::default(),
                &serde_json::from_value(crd).expect("crd"),
            )
            .await
            .expect("replace the CRD");
        }
    };
    set_color_schema(None).await;
    eventually("color pruned on get", || async {
        let w = widgets.get("w").await.ok()?;
        w.data["spec"].get("color").is_none().then_some(())
    })
    .await;
    let listed = widgets.list(&ListParams::default()).await.expect("list");
    assert_eq!(
        listed.items[0].data["spec"],
        json!({"size": 1, "shape": "round"})
    );
    let mut events = widgets
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    match events.try_next().await.expect("event") {
        Some(WatchEvent::Added(w)) => {
            assert_eq!(w.data["spec"], json!({"size": 1, "shape": "round"}));
        }
        other => panic!("unexpected {other:?}"),
    }

    // Pruning on read never wrote the object: with the field back in the schema, the stored
    // value shows again.
    set_color_schema(Some(json!({"type": "string"}))).await;
    eventually("color served again", || async {
        let w = widgets.get("w").await.ok()?;
        (w.data["spec"]["color"] == "red").then_some(())
    })
    .await;
}

/// A client that sees `Established` (here through a watch, as kube-rs's `await_condition` and
/// kubectl's `wait --for=condition=Established` do) can use the resource at once: the server
/// serves a CRD's versions before it reports them established.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn established_means_served() {
    let server = start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for i in 0..25 {
        let mut crd = widget_crd();
        let plural = format!("gadgets{i}");
        crd.metadata.name = Some(format!("{plural}.{GROUP}"));
        crd.spec.names.plural = plural.clone();
        crd.spec.names.singular = Some(format!("gadget{i}"));
        crd.spec.names.kind = format!("Gadget{i}");
        crd.spec.names.short_names = None;
        crd.spec.versions.truncate(1);
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("create CRD");
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            kube::runtime::wait::await_condition(
                crds.clone(),
                &crd.name_any(),
                kube::runtime::conditions::is_crd_established(),
            ),
        )
        .await
        .expect("established in 30 s")
        .expect("watch");
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(GROUP, "v1", &format!("Gadget{i}")),
            &plural,
        );
        let gadgets: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), "default", &resource);
        let gadget = DynamicObject::new("first", &resource).data(json!({"spec": {"size": 1}}));
        gadgets
            .create(&PostParams::default(), &gadget)
            .await
            .unwrap_or_else(|e| {
                panic!("creating the first Gadget{i} right after Established: {e}")
            });
    }
    server.shutdown().await;
}

#[tokio::test]
async fn selectable_fields_are_field_labels_per_version() {
    let server = start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut crd = serde_json::to_value(widget_crd()).unwrap();
    crd["spec"]["versions"][0]["selectableFields"] =
        json!([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.size"}]);
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(crd).unwrap(),
    )
    .await
    .unwrap();
    let v1: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1"));
    let v1beta1: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v1beta1"));
    eventually("Widgets to be served", || async {
        v1.list(&ListParams::default()).await.ok()
    })
    .await;
    for (name, size, color) in [
        ("red-1", 1, Some("red")),
        ("blue-2", 2, Some("blue")),
        ("bare-2", 2, None),
    ] {
        let spec = match color {
            Some(c) => json!({"size": size, "color": c}),
            None => json!({"size": size}),
        };
        v1.create(&PostParams::default(), &widget("v1", name, spec))
            .await
            .unwrap();
    }
    let names = |list: kube::core::ObjectList<DynamicObject>| -> Vec<String> {
        list.items.iter().map(|w| w.name_any()).collect()
    };
    let select = |fields: &str| ListParams::default().fields(fields);
    assert_eq!(
        names(v1.list(&select("spec.color=red")).await.unwrap()),
        ["red-1"]
    );
    // Integers compare as their decimal text; an unset field as "".
    assert_eq!(
        names(v1.list(&select("spec.size=2")).await.unwrap()),
        ["bare-2", "blue-2"]
    );
    assert_eq!(
        names(v1.list(&select("spec.color=")).await.unwrap()),
        ["bare-2"]
    );
    assert_eq!(
        names(
            v1.list(&select("spec.color!=red,spec.size=2"))
                .await
                .unwrap()
        ),
        ["bare-2", "blue-2"]
    );
    // v1beta1 declares none: only metadata fields are selectable there.
    let s = api_err(
        v1beta1.list(&select("spec.color=red")).await,
        400,
        "BadRequest",
    );
    assert_eq!(s.message, "field label not supported: spec.color");
}

/// A CRD whose `spec.template` is an embedded resource, with `default` as its default.
fn template_crd(default: Option<Value>) -> CustomResourceDefinition {
    let mut template = json!({"type": "object", "x-kubernetes-embedded-resource": true,
        "x-kubernetes-preserve-unknown-fields": true});
    if let Some(d) = default {
        template["default"] = d;
    }
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "templates.example.com"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "templates", "singular": "template", "kind": "Template"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema":
                {"type": "object", "properties": {"spec": {"type": "object", "properties": {
                    "template": template}}}}}}]
        }
    }))
    .expect("CRD")
}

/// Embedded resources' metadata is ObjectMeta (the server's rules, lent to the schema crate):
/// decoded with unknown fields dropped, validated with path-segment names and a DNS-label
/// namespace, and checked in a CRD's defaults too (reported on the internal form's
/// `spec.validation`, as upstream does when every version has the same schema).
#[tokio::test]
async fn embedded_resources_metadata_follows_object_meta_rules() {
    let server = start().await;
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());

    let bad_default = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a/b"}});
    let status = api_err(
        crds.create(&PostParams::default(), &template_crd(Some(bad_default)))
            .await,
        422,
        "Invalid",
    );
    assert!(
        status.message.contains(
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[template].default.metadata.name: Invalid value: "a/b": may not contain '/'"#
        ),
        "{}",
        status.message
    );

    crds.create(&PostParams::default(), &template_crd(None))
        .await
        .expect("create CRD");
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, "v1", "Template"),
        "templates",
    );
    let templates: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let template = |name: &str, meta: Value| {
        DynamicObject::new(name, &resource).data(json!({"spec": {"template":
            {"apiVersion": "v1", "kind": "Pod", "metadata": meta}}}))
    };
    eventually("the Template CRD to be served", || async {
        templates.list(&ListParams::default()).await.ok()
    })
    .await;

    let created = templates
        .create(
            &PostParams::default(),
            &template("t", json!({"name": "p", "labels": {"a": "b"}, "bogus": 1})),
        )
        .await
        .expect("create");
    assert_eq!(
        created.data["spec"]["template"]["metadata"],
        json!({"name": "p", "labels": {"a": "b"}})
    );

    let status = api_err(
        templates
            .create(
                &PostParams::default(),
                &template("u", json!({"name": "a/b", "namespace": "Not_A_Label"})),
            )
            .await,
        422,
        "Invalid",
    );
    let message = status.message.clone();
    assert_eq!(
        causes(status),
        vec![
            (
                "spec.template.metadata.name".to_string(),
                "FieldValueInvalid".to_string()
            ),
            (
                "spec.template.metadata.namespace".to_string(),
                "FieldValueInvalid".to_string()
            ),
        ]
    );
    assert!(
        message
            .contains(r#"spec.template.metadata.name: Invalid value: "a/b": may not contain '/'"#),
        "{message}"
    );
}
