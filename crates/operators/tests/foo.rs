//! The Foo operator end to end: an in-process API server with simulated workloads, the Foo CRD
//! installed, the operator running, and outcomes read back through the API.

// `foo` is sample-controller's kind, not a placeholder.
#![allow(clippy::disallowed_names)]

mod common;

use common::{Env, code, events_about, eventually, occurrences};
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubeforge_operators::foo::{Foo, FooSpec};
use std::time::Duration;

fn foo(name: &str, deployment: &str, replicas: Option<i32>) -> Foo {
    Foo::new(
        name,
        FooSpec {
            deployment_name: deployment.to_string(),
            replicas,
        },
    )
}

async fn available(foos: &Api<Foo>, name: &str, want: i32) -> anyhow::Result<Foo> {
    eventually(
        &format!("foo {name} reports {want} available replicas"),
        || async {
            let foo = foos.get(name).await?;
            Ok((foo.status.as_ref().map(|s| s.available_replicas) == Some(want)).then_some(foo))
        },
    )
    .await
}

#[tokio::test]
async fn foo_create_makes_an_owned_deployment_and_reports_available_replicas() -> anyhow::Result<()>
{
    let env = Env::start("foo").await?;
    let foos: Api<Foo> = Api::namespaced(env.client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let created = foos
        .create(
            &PostParams::default(),
            &foo("example-foo", "example-foo", Some(2)),
        )
        .await?;

    let foo = available(&foos, "example-foo", 2).await?;
    let deployment = deployments.get("example-foo").await?;
    let owner = &deployment.owner_references()[0];
    assert_eq!(owner.kind, "Foo");
    assert_eq!(owner.api_version, "samplecontroller.k8s.io/v1alpha1");
    assert_eq!(owner.uid, created.uid().unwrap());
    assert_eq!(owner.controller, Some(true));
    assert_eq!(owner.block_owner_deletion, Some(true));
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let labels = spec.selector.match_labels.as_ref().unwrap();
    assert_eq!(labels.get("app").map(String::as_str), Some("nginx"));
    assert_eq!(
        labels.get("controller").map(String::as_str),
        Some("example-foo")
    );
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.containers.len(), 1);
    assert_eq!(pod.containers[0].name, "nginx");
    assert_eq!(pod.containers[0].image.as_deref(), Some("nginx:latest"));
    assert_eq!(
        spec.template.metadata.as_ref().unwrap().labels.as_ref(),
        Some(labels)
    );

    let synced = eventually("a Synced event", || async {
        let events = events_about(&env.client, &foo, "Synced").await?;
        Ok((!events.is_empty()).then_some(events))
    })
    .await?;
    assert_eq!(synced[0].type_.as_deref(), Some("Normal"));
    assert_eq!(synced[0].note.as_deref(), Some("Foo synced successfully"));
    env.stop().await
}

#[tokio::test]
async fn foo_steady_state_writes_no_status_and_no_synced_event() -> anyhow::Result<()> {
    let env = Env::start("foo").await?;
    let foos: Api<Foo> = Api::namespaced(env.client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    foos.create(&PostParams::default(), &foo("steady", "steady", Some(1)))
        .await?;
    let converged = available(&foos, "steady", 1).await?;
    // Let the last Synced event be written, then take the counts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let synced = occurrences(&env.client, &converged, "Synced").await?;
    let version = foos.get("steady").await?.resource_version();

    // A change of the owned Deployment that alters nothing the Foo cares about makes the
    // controller sync again; the original would write status and emit Synced each time.
    for i in 0..3 {
        let patch = serde_json::json!({"metadata": {"annotations": {"touch": i.to_string()}}});
        deployments
            .patch("steady", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(foos.get("steady").await?.resource_version(), version);
    assert_eq!(
        occurrences(&env.client, &converged, "Synced").await?,
        synced
    );
    env.stop().await
}

#[tokio::test]
async fn foo_foreign_deployment_is_reported_and_retried() -> anyhow::Result<()> {
    let env = Env::start("foo").await?;
    let foos: Api<Foo> = Api::namespaced(env.client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let foreign: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "taken", "labels": {"owner": "someone-else"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "other"}},
            "template": {
                "metadata": {"labels": {"app": "other"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))?;
    deployments.create(&PostParams::default(), &foreign).await?;
    let created = foos
        .create(&PostParams::default(), &foo("claimer", "taken", Some(3)))
        .await?;

    let warning = eventually("an ErrResourceExists warning", || async {
        let events = events_about(&env.client, &created, "ErrResourceExists").await?;
        Ok(events.into_iter().next())
    })
    .await?;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert_eq!(
        warning.note.as_deref(),
        Some("Resource \"taken\" already exists and is not managed by Foo")
    );
    let untouched = deployments.get("taken").await?;
    assert!(untouched.owner_references().is_empty());
    assert_eq!(untouched.spec.as_ref().unwrap().replicas, Some(1));

    // Once the name is free, the backed-off retry creates the Foo's own Deployment.
    deployments
        .delete("taken", &DeleteParams::default())
        .await?;
    eventually("the Foo's own Deployment", || async {
        Ok(match deployments.get_opt("taken").await? {
            Some(d)
                if d.owner_references()
                    .iter()
                    .any(|r| Some(&r.uid) == created.uid().as_ref()) =>
            {
                Some(())
            }
            _ => None,
        })
    })
    .await?;
    available(&foos, "claimer", 3).await?;
    env.stop().await
}

#[tokio::test]
async fn foo_scale_follows_the_spec_and_drift_is_corrected() -> anyhow::Result<()> {
    let env = Env::start("foo").await?;
    let foos: Api<Foo> = Api::namespaced(env.client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    foos.create(&PostParams::default(), &foo("scaled", "scaled", Some(1)))
        .await?;
    available(&foos, "scaled", 1).await?;

    let patch = serde_json::json!({"spec": {"replicas": 4}});
    foos.patch("scaled", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    available(&foos, "scaled", 4).await?;
    assert_eq!(
        deployments.get("scaled").await?.spec.unwrap().replicas,
        Some(4)
    );

    // Someone scales the Deployment behind the Foo's back: the Foo wins.
    let drift = serde_json::json!({"spec": {"replicas": 7}});
    deployments
        .patch("scaled", &PatchParams::default(), &Patch::Merge(&drift))
        .await?;
    eventually("replicas corrected back to 4", || async {
        let d = deployments.get("scaled").await?;
        Ok((d.spec.and_then(|s| s.replicas) == Some(4)).then_some(()))
    })
    .await?;
    available(&foos, "scaled", 4).await?;
    env.stop().await
}

#[tokio::test]
async fn foo_deployment_name_change_deletes_the_old_deployment() -> anyhow::Result<()> {
    let env = Env::start("foo").await?;
    let foos: Api<Foo> = Api::namespaced(env.client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    foos.create(&PostParams::default(), &foo("renamed", "first", Some(2)))
        .await?;
    available(&foos, "renamed", 2).await?;

    let patch = serde_json::json!({"spec": {"deploymentName": "second"}});
    foos.patch("renamed", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    eventually("the old Deployment gone and the new one there", || async {
        let old = deployments.get_opt("first").await?;
        let new = deployments.get_opt("second").await?;
        Ok((old.is_none() && new.is_some()).then_some(()))
    })
    .await?;
    available(&foos, "renamed", 2).await?;
    env.stop().await
}

#[tokio::test]
async fn foo_deletion_garbage_collects_the_deployment() -> anyhow::Result<()> {
    let env = Env::start("foo").await?;
    let foos: Api<Foo> = Api::namespaced(env.client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    foos.create(&PostParams::default(), &foo("doomed", "doomed", Some(1)))
        .await?;
    available(&foos, "doomed", 1).await?;
    foos.delete("doomed", &DeleteParams::default()).await?;
    eventually("the Deployment collected", || async {
        Ok(deployments.get_opt("doomed").await?.is_none().then_some(()))
    })
    .await?;
    // Nothing recreates it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(deployments.get_opt("doomed").await?.is_none());
    env.stop().await
}

#[tokio::test]
async fn foo_invalid_specs_are_rejected_by_the_schema() -> anyhow::Result<()> {
    let env = Env::start("foo").await?;
    let foos: Api<Foo> = Api::namespaced(env.client.clone(), "default");
    let pp = PostParams::default();
    for (bad, expect) in [
        (
            serde_json::json!({"deploymentName": "x", "replicas": 0}),
            "spec.replicas",
        ),
        (
            serde_json::json!({"deploymentName": "x", "replicas": 11}),
            "spec.replicas",
        ),
        (
            serde_json::json!({"deploymentName": "Not_A_Name"}),
            "spec.deploymentName",
        ),
        (
            serde_json::json!({"deploymentName": ""}),
            "spec.deploymentName",
        ),
        (serde_json::json!({"replicas": 1}), "spec.deploymentName"),
    ] {
        let object: Foo = serde_json::from_value(serde_json::json!({
            "apiVersion": "samplecontroller.k8s.io/v1alpha1",
            "kind": "Foo",
            "metadata": {"name": "bad"},
            "spec": {"deploymentName": "placeholder"}
        }))?;
        // Send the raw spec: the typed FooSpec cannot express a missing deploymentName.
        let mut body = serde_json::to_value(&object)?;
        body["spec"] = bad.clone();
        let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
            env.client.clone(),
            "default",
            &kube::api::ApiResource::erase::<Foo>(&()),
        );
        let result = raw.create(&pp, &serde_json::from_value(body)?).await;
        assert_eq!(code(&result), 422, "{bad} must be rejected: {result:?}");
        let message = result.unwrap_err().to_string();
        assert!(message.contains(expect), "{bad}: {message}");
    }
    assert!(foos.list(&Default::default()).await?.items.is_empty());
    env.stop().await
}
