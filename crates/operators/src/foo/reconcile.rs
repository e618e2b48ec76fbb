//! One sync of one Foo, in sample-controller's order, with its two fixes: status and the
//! `Synced` event only when something changed, and the old Deployment removed when
//! `deploymentName` changes.

use super::types::{Foo, FooStatus};
use crate::events::Events;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, Resource, ResourceExt};
use kubeforge_runtime::cache::Lister;
use kubeforge_runtime::client::{OwnerReferenceError, set_controller_reference};
use kubeforge_runtime::controller::{Action, ReconcileError, Request};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Event reason when the Deployment's name is taken by an object Foo does not control.
pub const ERR_RESOURCE_EXISTS: &str = "ErrResourceExists";
/// Event reason after a sync that changed something.
pub const SUCCESS_SYNCED: &str = "Synced";
/// Message of the `Synced` event.
pub const MESSAGE_RESOURCE_SYNCED: &str = "Foo synced successfully";

/// What one sync needs: a client for writes, listers for reads, a recorder for events.
#[derive(Clone)]
pub struct FooContext {
    /// Writes go to the API server.
    pub client: Client,
    /// Foos, read from the shared cache.
    pub foos: Lister<Foo>,
    /// Deployments, read from the shared cache.
    pub deployments: Lister<Deployment>,
    /// Events about Foos.
    pub events: Events,
}

/// Why a sync did not complete.
#[derive(Debug, thiserror::Error)]
pub enum FooError {
    /// The Foo names no Deployment (the schema forbids it; retrying cannot help).
    #[error("{0}: deployment name must be specified")]
    MissingDeploymentName(String),
    /// The Deployment's name is taken by an object this Foo does not control.
    #[error("Resource {0:?} already exists and is not managed by Foo")]
    ResourceExists(String),
    /// The Foo cannot own a Deployment (it has no uid: it was not read from a server).
    #[error(transparent)]
    Owner(#[from] OwnerReferenceError),
    /// The API server refused or failed a request.
    #[error(transparent)]
    Api(#[from] kube::Error),
}

impl FooError {
    /// Whether retrying can succeed (a terminal error is not requeued).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            FooError::MissingDeploymentName(_) | FooError::Owner(_)
        )
    }
}

/// What a sync changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The Deployment was created.
    pub created: bool,
    /// The Deployment's replicas were corrected.
    pub scaled: bool,
    /// Deployments this Foo owned under an earlier `deploymentName`, now deleted.
    pub removed: Vec<String>,
    /// The Foo's status was written.
    pub status_written: bool,
}

impl Changes {
    /// Whether anything was written.
    pub fn any(&self) -> bool {
        self.created || self.scaled || !self.removed.is_empty() || self.status_written
    }
}

/// The labels of the Deployment's selector and Pods: `{app: nginx, controller: <foo>}`.
pub fn deployment_labels(foo: &Foo) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app".to_string(), "nginx".to_string()),
        ("controller".to_string(), foo.name_any()),
    ])
}

/// The Deployment a Foo wants, as sample-controller's `newDeployment`: controlled by the Foo
/// (`controller` and `blockOwnerDeletion` set).
pub fn new_deployment(foo: &Foo) -> Result<Deployment, OwnerReferenceError> {
    let labels = deployment_labels(foo);
    let mut deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(foo.spec.deployment_name.clone()),
            namespace: foo.namespace(),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: foo.spec.replicas,
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
                    containers: vec![Container {
                        name: "nginx".to_string(),
                        image: Some("nginx:latest".to_string()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    };
    set_controller_reference(foo, &mut deployment)?;
    Ok(deployment)
}

/// Whether `foo` is the controller of `object`.
fn controlled_by<K: Resource>(object: &K, foo: &Foo) -> bool {
    let uid = foo.meta().uid.as_deref();
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == uid && r.kind == "Foo")
}

/// Brings the world in line with Foo `namespace/name` and reports what it changed.
///
/// A missing Foo is not an error (garbage collection removes its Deployments). On
/// [`FooError::ResourceExists`] a Warning event `ErrResourceExists` has been recorded; the caller
/// requeues with backoff, as sample-controller does.
pub async fn sync(ctx: &FooContext, namespace: &str, name: &str) -> Result<Changes, FooError> {
    let mut changes = Changes::default();
    let Some(foo) = ctx.foos.get(namespace, name) else {
        tracing::debug!(namespace, name, "foo no longer exists");
        return Ok(changes);
    };
    if foo.meta().deletion_timestamp.is_some() {
        return Ok(changes);
    }
    let deployment_name = foo.spec.deployment_name.as_str();
    if deployment_name.is_empty() {
        return Err(FooError::MissingDeploymentName(format!(
            "{namespace}/{name}"
        )));
    }
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), namespace);

    let deployment = match ctx.deployments.get(namespace, deployment_name) {
        Some(existing) => existing.as_ref().clone(),
        None => {
            let created = deployments
                .create(&PostParams::default(), &new_deployment(&foo)?)
                .await;
            match created {
                Ok(created) => {
                    changes.created = true;
                    created
                }
                // The cache was behind: read what is there and judge it below.
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    deployments.get(deployment_name).await?
                }
                Err(error) => return Err(error.into()),
            }
        }
    };

    if !controlled_by(&deployment, &foo) {
        let error = FooError::ResourceExists(deployment_name.to_string());
        ctx.events
            .warning(foo.as_ref(), ERR_RESOURCE_EXISTS, &error.to_string())
            .await;
        return Err(error);
    }

    let mut deployment = deployment;
    let current = deployment.spec.as_ref().and_then(|s| s.replicas);
    if let Some(wanted) = foo.spec.replicas
        && current != Some(wanted)
    {
        tracing::info!(namespace, name, ?current, wanted, "correcting replicas");
        let patch = serde_json::json!({"spec": {"replicas": wanted}});
        deployment = deployments
            .patch(
                deployment_name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        changes.scaled = true;
    }

    for old in ctx
        .deployments
        .namespaced(namespace)
        .list(&Default::default())
    {
        let old_name = old.name_any();
        if old_name != deployment_name && controlled_by(old.as_ref(), &foo) {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: old.meta().uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::background()
            };
            match deployments.delete(&old_name, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
                Err(error) => return Err(error.into()),
            }
            tracing::info!(
                namespace,
                name,
                deployment = old_name,
                "deleted the Deployment of an earlier deploymentName"
            );
            changes.removed.push(old_name);
        }
    }

    let available = deployment
        .status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    let status = FooStatus {
        available_replicas: available,
    };
    if foo.status.as_ref() != Some(&status) {
        let foos: Api<Foo> = Api::namespaced(ctx.client.clone(), namespace);
        let patch = serde_json::json!({"status": status});
        foos.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        changes.status_written = true;
    }

    if changes.any() {
        ctx.events
            .normal(foo.as_ref(), SUCCESS_SYNCED, MESSAGE_RESOURCE_SYNCED)
            .await;
    }
    Ok(changes)
}

/// The controller's reconcile: [`sync`], with an empty `deploymentName` terminal (retrying
/// cannot fix it) and every other error retried with back-off.
pub async fn reconcile(ctx: Arc<FooContext>, request: Request) -> Result<Action, ReconcileError> {
    let namespace = request.namespace.as_deref().unwrap_or_default();
    match sync(&ctx, namespace, &request.name).await {
        Ok(_) => Ok(Action::await_change()),
        Err(error) if error.is_terminal() => Err(ReconcileError::terminal(error)),
        Err(error) => Err(error.into()),
    }
}
