//! A request turned into a Deployment (create), a Deployment changed by a request (update), and a
//! Deployment summarised for clients (what the GET routes and JSON answers show).
//!
//! The Deployment runs one container, `app`, with the request's image and ports. Its selector is
//! fixed at creation (the request's labels, or `app: <name>`): apps/v1 does not allow changing it,
//! so an update's labels go on the Deployment and its Pod template, merged over the selector's.

use crate::request::DeploymentRequest;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The name of the Deployment's container.
pub const CONTAINER: &str = "app";

fn container_ports(ports: &[i32]) -> Vec<ContainerPort> {
    ports
        .iter()
        .map(|port| ContainerPort {
            container_port: *port,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        })
        .collect()
}

/// The Deployment `request` creates.
pub fn new_deployment(request: &DeploymentRequest) -> Deployment {
    let labels = request
        .labels
        .clone()
        .unwrap_or_else(|| BTreeMap::from([("app".to_string(), request.name.clone())]));
    Deployment {
        metadata: ObjectMeta {
            name: Some(request.name.clone()),
            namespace: Some(request.namespace.clone()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: request.replicas,
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
                        name: CONTAINER.to_string(),
                        image: request.image.clone(),
                        ports: request
                            .ports
                            .as_deref()
                            .filter(|p| !p.is_empty())
                            .map(container_ports),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// Changes `deployment` as `request` asks: image and replicas; labels and ports when given.
pub fn apply_update(deployment: &mut Deployment, request: &DeploymentRequest) {
    let spec = deployment.spec.get_or_insert_with(DeploymentSpec::default);
    spec.replicas = request.replicas;
    if let Some(labels) = &request.labels {
        let mut template_labels = spec.selector.match_labels.clone().unwrap_or_default();
        template_labels.extend(labels.clone());
        deployment.metadata.labels = Some(labels.clone());
        spec.template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .labels = Some(template_labels);
    }
    let pod = spec.template.spec.get_or_insert_with(PodSpec::default);
    if pod.containers.is_empty() {
        pod.containers.push(Container {
            name: CONTAINER.to_string(),
            ..Container::default()
        });
    }
    let index = pod
        .containers
        .iter()
        .position(|c| c.name == CONTAINER)
        .unwrap_or(0);
    let container = &mut pod.containers[index];
    container.image = request.image.clone();
    if let Some(ports) = &request.ports {
        container.ports = (!ports.is_empty()).then(|| container_ports(ports));
    }
}

/// What clients see of a Deployment: its request fields and its rollout status.
pub fn summary(deployment: &Deployment) -> Value {
    let spec = deployment.spec.clone().unwrap_or_default();
    let container = spec
        .template
        .spec
        .as_ref()
        .and_then(|pod| {
            pod.containers
                .iter()
                .find(|c| c.name == CONTAINER)
                .or(pod.containers.first())
        })
        .cloned()
        .unwrap_or_default();
    let status = deployment.status.clone().unwrap_or_default();
    let ports: Vec<i32> = container
        .ports
        .unwrap_or_default()
        .iter()
        .map(|p| p.container_port)
        .collect();
    json!({
        "namespace": deployment.metadata.namespace,
        "name": deployment.metadata.name,
        "image": container.image,
        "replicas": spec.replicas.unwrap_or(1),
        "labels": deployment.metadata.labels.clone().unwrap_or_default(),
        "ports": ports,
        "resourceVersion": deployment.metadata.resource_version,
        "status": {
            "replicas": status.replicas.unwrap_or(0),
            "updatedReplicas": status.updated_replicas.unwrap_or(0),
            "readyReplicas": status.ready_replicas.unwrap_or(0),
            "availableReplicas": status.available_replicas.unwrap_or(0),
            "observedGeneration": status.observed_generation.unwrap_or(0),
            "generation": deployment.metadata.generation.unwrap_or(0),
        },
    })
}
