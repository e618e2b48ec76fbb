//! The control loop: one controller on this process's Singularity that also wakes for every
//! CloudEventOutput, CloudEventHandler and CloudEventValidator change. Each reconcile rebuilds
//! the whole configuration from the informers' caches (level-based: the result does not depend
//! on which change woke it), applies it to the [`Engine`], and writes each resource's status
//! only when it changed. It requeues itself every [`STATUS_FLUSH`] to publish the counters.

use crate::engine::{Applied, Engine};
use crate::routes::{Route, Routes};
use crate::settings::Settings;
use crate::types::*;
use crate::validator::{self, Validator};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::Api;
use kube::{Client, Resource, ResourceExt};
use kubeforge_runtime::cache::{InformerScope, Lister};
use kubeforge_runtime::client::update_status;
use kubeforge_runtime::controller::{
    Action, Controller, ReconcileError, Request, RunnableController,
};
use kubeforge_runtime::manager::Manager;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// The controller's name.
pub const CONTROLLER_NAME: &str = "eventhorizon";
/// How often counters are published to the Singularity's status, at most.
pub const STATUS_FLUSH: Duration = Duration::from_secs(5);
/// The condition every status carries.
pub const READY: &str = "Ready";

/// What a reconcile reads and drives.
pub struct Context {
    /// The data plane.
    pub engine: Arc<Engine>,
    /// This process's Singularity.
    pub namespace: String,
    /// Its name.
    pub name: String,
    client: Client,
    singularities: Lister<Singularity>,
    outputs: Lister<CloudEventOutput>,
    handlers: Lister<CloudEventHandler>,
    validators: Lister<CloudEventValidator>,
    /// When counters were last published: a status write wakes the controller again (it
    /// watches Singularities), so counters are published at most every [`STATUS_FLUSH`].
    counters_flushed: std::sync::Mutex<Option<tokio::time::Instant>>,
}

/// Splits `namespace/name`.
pub fn parse_name(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns.to_string(), name.to_string()))
        }
        _ => Err(format!(
            "{text:?} is not a Singularity reference; want namespace/name"
        )),
    }
}

/// Builds the controller for Singularity `namespace/name` on `manager`, driving `engine`.
pub fn controller(
    manager: &Manager,
    engine: Arc<Engine>,
    namespace: &str,
    name: &str,
) -> RunnableController {
    let factory = manager.factory();
    let ctx = Arc::new(Context {
        engine,
        namespace: namespace.to_string(),
        name: name.to_string(),
        client: manager.client(),
        counters_flushed: std::sync::Mutex::new(None),
        singularities: factory
            .informer::<Singularity>(InformerScope::all())
            .lister(),
        outputs: factory
            .informer::<CloudEventOutput>(InformerScope::all())
            .lister(),
        handlers: factory
            .informer::<CloudEventHandler>(InformerScope::all())
            .lister(),
        validators: factory
            .informer::<CloudEventValidator>(InformerScope::all())
            .lister(),
    });
    let own = Request::namespaced(namespace, name);
    let (o1, o2, o3, o4) = (own.clone(), own.clone(), own.clone(), own);
    Controller::<Singularity>::new(CONTROLLER_NAME)
        .watches(move |_: &CloudEventOutput| vec![o1.clone()])
        .watches(move |_: &CloudEventHandler| vec![o2.clone()])
        .watches(move |_: &CloudEventValidator| vec![o3.clone()])
        // Every Singularity's change matters to handler statuses (which subjects exist).
        .watches(move |_: &Singularity| vec![o4.clone()])
        .build(reconcile, ctx)
}

fn condition(
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    existing: &[Condition],
) -> Vec<Condition> {
    let status = if ok { "True" } else { "False" };
    let previous = existing.iter().find(|c| c.type_ == READY);
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
    };
    vec![Condition {
        type_: READY.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    }]
}

async fn write_status<K, S>(api: Api<K>, obj: &K, current: Option<&S>, desired: S)
where
    K: Resource<DynamicType = ()>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug
        + HasStatus<S>,
    S: PartialEq + Clone,
{
    if current == Some(&desired) {
        return;
    }
    let name = obj.name_any();
    if let Err(error) = update_status(&api, &name, |o| o.set_status(desired.clone())).await {
        tracing::warn!(%error, name, "could not write status");
    }
}

/// Access to a resource's status for [`write_status`].
pub trait HasStatus<S> {
    /// Replaces the status.
    fn set_status(&mut self, status: S);
}

macro_rules! has_status {
    ($kind:ty, $status:ty) => {
        impl HasStatus<$status> for $kind {
            fn set_status(&mut self, status: $status) {
                self.status = Some(status);
            }
        }
    };
}
has_status!(Singularity, SingularityStatus);
has_status!(CloudEventOutput, CloudEventOutputStatus);
has_status!(CloudEventHandler, CloudEventHandlerStatus);
has_status!(CloudEventValidator, CloudEventValidatorStatus);

/// One reconcile of the whole configuration.
pub async fn reconcile(ctx: Arc<Context>, _request: Request) -> Result<Action, ReconcileError> {
    let own_key = format!("{}/{}", ctx.namespace, ctx.name);
    let own = ctx.singularities.get(&ctx.namespace, &ctx.name);
    let everything = kube::core::Selector::default();

    // Outputs.
    let mut outputs = ctx.outputs.list(&everything);
    outputs.sort_by_key(|o| o.name_any());
    let specs: Vec<(String, CloudEventOutputSpec)> = outputs
        .iter()
        .map(|o| (o.name_any(), o.spec.clone()))
        .collect();
    let built = ctx.engine.sync_outputs(&specs);

    // Handlers that apply to this Singularity.
    let mut handlers = ctx.handlers.list(&everything);
    handlers.sort_by_key(|h| h.name_any());
    let routes: Vec<Route> = handlers
        .iter()
        .filter(|h| h.spec.subjects.contains(&own_key))
        .map(|h| Route {
            handler: h.name_any(),
            labels: h.spec.labels.clone(),
            encoder: h.spec.encoder,
            output_name: h.spec.output.clone(),
            output: built
                .get(&h.spec.output)
                .and_then(|r| r.as_ref().ok())
                .cloned(),
        })
        .collect();

    // Validators.
    let mut validators = Vec::new();
    let mut validator_errors = Vec::new();
    for v in ctx.validators.list(&everything) {
        match Validator::new(&v.name_any(), &v.spec) {
            Ok(compiled) => validators.push(compiled),
            Err(e) => validator_errors.push((v.clone(), e)),
        }
    }
    validator::order(&mut validators);

    // Settings and listeners.
    let settings = own.as_ref().map(|s| Settings::from_spec(&s.spec));
    let running = settings.clone().and_then(Result::ok);
    let applied = ctx
        .engine
        .apply(running, Routes { routes, validators })
        .await;

    // Statuses.
    if let Some(own) = &own {
        let status = singularity_status(&ctx, own, settings.as_ref(), &applied);
        write_status(
            Api::namespaced(ctx.client.clone(), &ctx.namespace),
            own.as_ref(),
            own.status.as_ref(),
            status,
        )
        .await;
    }
    for output in &outputs {
        let name = output.name_any();
        let current = output.status.clone().unwrap_or_default();
        let (connected, last_error, ready) = match built.get(&name) {
            Some(Ok(live)) => {
                let (connected, error) = live.health.get();
                (connected, error, Ok(()))
            }
            Some(Err(e)) => (false, current.last_error.clone(), Err(e.clone())),
            None => (false, None, Err("not built".to_string())),
        };
        let conditions = match &ready {
            Ok(()) => condition(
                true,
                "Valid",
                "the output is in use".into(),
                output.metadata.generation,
                &current.conditions,
            ),
            Err(e) => condition(
                false,
                "InvalidSpec",
                e.clone(),
                output.metadata.generation,
                &current.conditions,
            ),
        };
        let desired = CloudEventOutputStatus {
            connected,
            last_error,
            conditions,
        };
        write_status(
            Api::all(ctx.client.clone()),
            output.as_ref(),
            output.status.as_ref(),
            desired,
        )
        .await;
    }
    for handler in &handlers {
        let current = handler.status.clone().unwrap_or_default();
        let applies_to: Vec<String> = handler
            .spec
            .subjects
            .iter()
            .filter(|s| {
                parse_name(s).is_ok_and(|(ns, name)| ctx.singularities.get(&ns, &name).is_some())
            })
            .cloned()
            .collect();
        let resolved = matches!(built.get(&handler.spec.output), Some(Ok(_)));
        let message = match built.get(&handler.spec.output) {
            Some(Ok(_)) => format!("output {} resolved", handler.spec.output),
            Some(Err(e)) => format!("output {} is invalid: {e}", handler.spec.output),
            None => format!("CloudEventOutput {} does not exist", handler.spec.output),
        };
        let desired = CloudEventHandlerStatus {
            applies_to,
            output_resolved: resolved,
            conditions: condition(
                resolved,
                if resolved {
                    "OutputResolved"
                } else {
                    "OutputMissing"
                },
                message,
                handler.metadata.generation,
                &current.conditions,
            ),
        };
        write_status(
            Api::all(ctx.client.clone()),
            handler.as_ref(),
            handler.status.as_ref(),
            desired,
        )
        .await;
    }
    for v in ctx.validators.list(&everything) {
        let current = v.status.clone().unwrap_or_default();
        let error = validator_errors
            .iter()
            .find(|(bad, _)| bad.name_any() == v.name_any())
            .map(|(_, e)| e.clone());
        let desired = CloudEventValidatorStatus {
            conditions: condition(
                error.is_none(),
                if error.is_none() {
                    "Valid"
                } else {
                    "InvalidPattern"
                },
                error.unwrap_or_else(|| "every pattern compiles".into()),
                v.metadata.generation,
                &current.conditions,
            ),
        };
        write_status(
            Api::all(ctx.client.clone()),
            v.as_ref(),
            v.status.as_ref(),
            desired,
        )
        .await;
    }
    Ok(Action::requeue_after(STATUS_FLUSH))
}

fn singularity_status(
    ctx: &Context,
    own: &Singularity,
    settings: Option<&Result<Settings, String>>,
    applied: &Applied,
) -> SingularityStatus {
    let current = own.status.clone().unwrap_or_default();
    let mut counters = ctx.engine.core().metrics.totals.snapshot();
    let published = [
        current.received,
        current.delivered,
        current.dropped,
        current.failed,
        current.rejected,
    ];
    {
        let mut flushed = ctx
            .counters_flushed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = flushed.is_none_or(|at| at.elapsed() >= STATUS_FLUSH);
        if counters != published {
            if due {
                *flushed = Some(tokio::time::Instant::now());
            } else {
                counters = published;
            }
        }
    }
    let [received, delivered, dropped, failed, rejected] = counters;
    // The HTTP address, or with the NATS transport the server and subject read.
    let listening = match settings {
        Some(Ok(s)) if s.nats.is_some() => applied.subscribed.clone(),
        _ => applied.ingest.map(|a| a.to_string()),
    };
    let (ok, reason, message) = match settings {
        Some(Err(e)) => (false, "Unsupported", e.clone()),
        _ if !applied.errors.is_empty() => (false, "BindFailed", applied.errors.join("; ")),
        _ if listening.is_none() => (false, "NotListening", "ingest is stopped".to_string()),
        _ => (
            true,
            "Listening",
            format!(
                "receiving CloudEvents on {}",
                listening.clone().unwrap_or_default()
            ),
        ),
    };
    SingularityStatus {
        listening,
        metrics: applied.metrics.map(|a| a.to_string()),
        received,
        delivered,
        dropped,
        failed,
        rejected,
        conditions: condition(
            ok,
            reason,
            message,
            own.metadata.generation,
            &current.conditions,
        ),
    }
}
