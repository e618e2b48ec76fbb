//! kubeforge-eventhorizon: a CloudEvents router configured by custom resources (seed 000,
//! acesso-io/eventhorizon), with live reload.
//!
//! | module | what it owns |
//! |---|---|
//! | [`types`] | the four CRDs (Singularity, CloudEventOutput, CloudEventHandler, CloudEventValidator) |
//! | [`settings`] | a Singularity's spec resolved: defaults, durations, retry backoff |
//! | [`ingest`] | the HTTP ingest (CloudEvents HTTP binding, batches, answers) |
//! | [`backlog`] | the bounded queue between ingest and delivery |
//! | [`delivery`] | the dispatcher: handlers per event, retries |
//! | [`encoder`] | the `labels` extension and the `map` encoder |
//! | [`validator`] | CloudEventValidators compiled (globs, regexes) |
//! | [`routes`] | the routing table swapped in on every change |
//! | [`output`] | outputs: fluentd (Forward protocol), stdout, http |
//! | [`forward`] | the Fluentd Forward protocol v1 on the wire |
//! | [`metrics`] | Prometheus metrics and status counters |
//! | [`engine`] | the data plane: listeners, queue, dispatcher, outputs, shutdown drain |
//! | [`controller`] | the control loop: resources → engine, statuses |

#![warn(missing_docs)]

pub mod backlog;
pub mod controller;
pub mod delivery;
pub mod encoder;
pub mod engine;
pub mod forward;
pub mod ingest;
pub mod metrics;
pub mod nats;
pub mod output;
pub mod routes;
pub mod settings;
pub mod types;
pub mod validator;

pub use engine::{Engine, EngineOptions};
pub use types::{CloudEventHandler, CloudEventOutput, CloudEventValidator, Singularity};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The name on the command line (`--operators eventhorizon`).
pub const NAME: &str = "eventhorizon";
/// The Singularity a process serves unless told otherwise.
pub const DEFAULT_SINGULARITY: &str = "kube-system/eventhorizon";
/// The variable naming the Singularity (`namespace/name`).
pub const NAME_ENV: &str = "EVENTHORIZON_NAME";
/// The variable naming the address listeners bind on (default `0.0.0.0`).
pub const BIND_ENV: &str = "EVENTHORIZON_BIND";

/// The four CRDs.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        Singularity::crd(),
        CloudEventOutput::crd(),
        CloudEventHandler::crd(),
        CloudEventValidator::crd(),
    ]
}

/// `(group, plural)` of the four kinds: the router reads them all and writes their statuses.
pub fn resources() -> Vec<(String, String)> {
    use kube::Resource;
    vec![
        (
            Singularity::group(&()).into(),
            Singularity::plural(&()).into(),
        ),
        (
            CloudEventOutput::group(&()).into(),
            CloudEventOutput::plural(&()).into(),
        ),
        (
            CloudEventHandler::group(&()).into(),
            CloudEventHandler::plural(&()).into(),
        ),
        (
            CloudEventValidator::group(&()).into(),
            CloudEventValidator::plural(&()).into(),
        ),
    ]
}
