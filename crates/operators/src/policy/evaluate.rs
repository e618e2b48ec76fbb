//! Whether one pod passes one policy, and why not: the checks of the three kinds, compiled once
//! per reconcile from the policy's spec.

use super::image::ImageReference;
use super::quantity::Quantity;
use super::types::{ImageRequirements, ResourceRequirements};
use k8s_openapi::api::core::v1::{Container, Pod};
use std::collections::BTreeMap;

/// Why a pod fails a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One line per problem.
    pub reasons: Vec<String>,
    /// The containers concerned, in pod order (a HealthCheckPolicy's `annotate` value).
    pub containers: Vec<String>,
}

impl Failure {
    /// Records `reasons` about `container`, if there are any.
    fn add(&mut self, container: &Container, reasons: Vec<String>) {
        if !reasons.is_empty() {
            self.reasons.extend(reasons);
            self.containers.push(container.name.clone());
        }
    }
}

/// A spec the controller cannot enforce (reported as the `Ready` condition's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpec {
    /// `require.imageRegex` does not compile.
    #[error("spec.require.imageRegex does not compile: {0}")]
    ImageRegex(String),
    /// `podSelector` is not a valid label selector.
    #[error("spec.podSelector is invalid: {0}")]
    PodSelector(String),
}

/// A policy's check, ready to run on pods.
#[derive(Debug, Clone)]
pub enum Check {
    /// Every container has a liveness and a readiness probe.
    HealthChecks,
    /// Every image satisfies the requirements.
    Images {
        /// What is required.
        require: ImageRequirements,
        /// `require.imageRegex`, compiled.
        regex: Option<regex::Regex>,
    },
    /// Every container's resources satisfy the requirements.
    Resources(ResourceRequirements),
}

/// The regular-expression size limit for `imageRegex` (the API server's CEL limit).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Check {
    /// The check of a ContainerImagePolicy, its regex compiled.
    pub fn images(require: &ImageRequirements) -> Result<Check, InvalidSpec> {
        let regex = match require.image_regex.as_deref() {
            None | Some("") => None,
            Some(pattern) => Some(
                regex::RegexBuilder::new(pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| InvalidSpec::ImageRegex(e.to_string()))?,
            ),
        };
        Ok(Check::Images {
            require: require.clone(),
            regex,
        })
    }

    /// Runs the check on `pod`: `None` when it passes.
    pub fn evaluate(&self, pod: &Pod) -> Option<Failure> {
        let spec = pod.spec.as_ref()?;
        let mut failure = Failure {
            reasons: Vec::new(),
            containers: Vec::new(),
        };
        match self {
            Check::HealthChecks => {
                for container in &spec.containers {
                    let mut missing = Vec::new();
                    if container.liveness_probe.is_none() {
                        missing.push("livenessProbe");
                    }
                    if container.readiness_probe.is_none() {
                        missing.push("readinessProbe");
                    }
                    if !missing.is_empty() {
                        failure.reasons.push(format!(
                            "container {:?} has no {}",
                            container.name,
                            missing.join(" and no ")
                        ));
                        failure.containers.push(container.name.clone());
                    }
                }
            }
            Check::Images { require, regex } => {
                for container in spec
                    .init_containers
                    .iter()
                    .flatten()
                    .chain(&spec.containers)
                {
                    failure.add(
                        container,
                        image_problems(container, require, regex.as_ref()),
                    );
                }
            }
            Check::Resources(require) => {
                for container in spec
                    .init_containers
                    .iter()
                    .flatten()
                    .chain(&spec.containers)
                {
                    failure.add(container, resource_problems(container, require));
                }
            }
        }
        (!failure.reasons.is_empty()).then_some(failure)
    }
}

fn image_problems(
    container: &Container,
    require: &ImageRequirements,
    regex: Option<&regex::Regex>,
) -> Vec<String> {
    let name = &container.name;
    let image = container.image.as_deref().unwrap_or_default();
    let mut problems = Vec::new();
    let reference = match ImageReference::parse(image) {
        Ok(reference) => reference,
        Err(error) => return vec![format!("container {name:?}: {error}")],
    };
    if require.explicit_registry && reference.registry.is_none() {
        problems.push(format!(
            "container {name:?}: image {image:?} names no registry"
        ));
    }
    if let Some(regex) = regex
        && !regex.is_match(image)
    {
        problems.push(format!(
            "container {name:?}: image {image:?} does not match {:?}",
            regex.as_str()
        ));
    }
    if require.no_latest_tag {
        match (&reference.tag, &reference.digest) {
            (Some(tag), _) if tag == "latest" => problems.push(format!(
                "container {name:?}: image {image:?} uses the latest tag"
            )),
            (None, None) => problems.push(format!(
                "container {name:?}: image {image:?} has no tag (it means latest)"
            )),
            _ => {}
        }
    }
    problems
}

/// The resources every container must declare when limits or requests are required.
const REQUIRED_RESOURCES: [&str; 2] = ["cpu", "memory"];

fn resource_problems(container: &Container, require: &ResourceRequirements) -> Vec<String> {
    let name = &container.name;
    let empty = BTreeMap::new();
    let resources = container.resources.as_ref();
    let limits = resources.and_then(|r| r.limits.as_ref()).unwrap_or(&empty);
    let requests = resources
        .and_then(|r| r.requests.as_ref())
        .unwrap_or(&empty);
    let mut problems = Vec::new();
    for (required, declared, what) in [
        (require.limits, limits, "limit"),
        (require.requests, requests, "request"),
    ] {
        if !required {
            continue;
        }
        let missing: Vec<&str> = REQUIRED_RESOURCES
            .into_iter()
            .filter(|r| !declared.contains_key(*r))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "container {name:?} has no {} {what}",
                missing.join(" or ")
            ));
        }
    }
    if require.requests_lower_than_limits {
        for (resource, request) in requests {
            let Some(limit) = limits.get(resource) else {
                continue;
            };
            match (Quantity::parse(&request.0), Quantity::parse(&limit.0)) {
                (Ok(r), Ok(l)) if r < l => {}
                (Ok(_), Ok(_)) => problems.push(format!(
                    "container {name:?}: {resource} request {} is not lower than its limit {}",
                    request.0, limit.0
                )),
                (Err(error), _) | (_, Err(error)) => {
                    problems.push(format!("container {name:?}: {resource}: {error}"))
                }
            }
        }
    }
    problems
}
