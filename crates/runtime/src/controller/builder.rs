//! [`Controller`]: the builder that says what a controller watches and how it reconciles
//! (controller-runtime's `builder`), read as a sentence:
//! `Controller::<Foo>::new("foo").owns::<ConfigMap>().build(reconcile, ctx)`.

use super::error::ReconcileError;
use super::metrics::ControllerMetrics;
use super::predicate::Predicate;
use super::request::{Action, Request};
use super::runner::{ReconcileFn, RunnableController, RunnerConfig};
use super::source::{Source, Watch, map_controller_owner, map_self};
use crate::cache::{InformerScope, ScopedApi};
use crate::workqueue::RateLimiter;
use futures::FutureExt;
use kube::Resource;
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Makes a fresh rate limiter for each run of a controller.
pub(crate) type RateLimiterFactory = Arc<dyn Fn() -> Box<dyn RateLimiter<Request>> + Send + Sync>;

/// Builds a controller that reconciles objects of kind `K`.
///
/// ```no_run
/// use k8s_openapi::api::apps::v1::Deployment;
/// use k8s_openapi::api::core::v1::{ConfigMap, Secret};
/// use kubeforge_runtime::controller::{predicates, Action, Controller, ReconcileError, Request};
/// use std::sync::Arc;
///
/// struct Context { /* clients, listers, recorder */ }
///
/// async fn reconcile(ctx: Arc<Context>, request: Request) -> Result<Action, ReconcileError> {
///     // read `request` from a lister, converge its children, update its status
///     Ok(Action::await_change())
/// }
///
/// # async fn demo(factory: kubeforge_runtime::cache::SharedInformerFactory) {
/// let controller = Controller::<Deployment>::new("deployment-config")
///     .owns::<ConfigMap>()
///     // Secrets named like a Deployment reconcile it:
///     .watches(|s: &Secret| vec![Request::for_object(s)])
///     .with_event_filter(predicates::generation_changed().or(predicates::labels_changed()))
///     .concurrency(4)
///     .build(reconcile, Arc::new(Context {}));
/// controller.run(&factory, std::future::pending()).await.unwrap();
/// # }
/// ```
pub struct Controller<K> {
    name: String,
    scope: InformerScope,
    sources: Vec<Arc<dyn Source>>,
    filter: Option<Predicate>,
    concurrency: usize,
    metrics: Option<ControllerMetrics>,
    rate_limiter: Option<RateLimiterFactory>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> fmt::Debug for Controller<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controller")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("watches", &(self.sources.len() + 1))
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl<K> Controller<K>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default,
    K::Scope: ScopedApi,
{
    /// A controller named `name` (it labels logs, metrics and the work queue) for objects of
    /// kind `K` in every namespace, with one worker and no predicates.
    pub fn new(name: &str) -> Self {
        Controller {
            name: name.to_owned(),
            scope: InformerScope::all(),
            sources: Vec::new(),
            filter: None,
            concurrency: 1,
            metrics: None,
            rate_limiter: None,
            _kind: PhantomData,
        }
    }

    /// Watch `K` only in `scope` (a namespace, selectors). Sources added with
    /// [`owns`](Self::owns) and [`watches`](Self::watches) keep their own scope.
    #[must_use]
    pub fn scope(mut self, scope: InformerScope) -> Self {
        self.scope = scope;
        self
    }

    /// Also reconcile the controlling owner of every `C` whose owner is a `K` (found by its
    /// `ownerReferences` entry with `controller: true`), in every namespace.
    #[must_use]
    pub fn owns<C>(self) -> Self
    where
        C: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
        C::DynamicType: Default,
        C::Scope: ScopedApi,
    {
        self.owns_in::<C>(InformerScope::all())
    }

    /// [`owns`](Self::owns), watching `C` only in `scope`.
    #[must_use]
    pub fn owns_in<C>(mut self, scope: InformerScope) -> Self
    where
        C: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
        C::DynamicType: Default,
        C::Scope: ScopedApi,
    {
        self.sources
            .push(Arc::new(Watch::new(scope, map_controller_owner::<K, C>())));
        self
    }

    /// Also reconcile the requests `map` returns for every change of a `W`, in every
    /// namespace (controller-runtime's `Watches` with `EnqueueRequestsFromMapFunc`).
    #[must_use]
    pub fn watches<W, F>(self, map: F) -> Self
    where
        W: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
        W::DynamicType: Default,
        W::Scope: ScopedApi,
        F: Fn(&W) -> Vec<Request> + Send + Sync + 'static,
    {
        self.watches_in(InformerScope::all(), map)
    }

    /// [`watches`](Self::watches), watching `W` only in `scope`.
    #[must_use]
    pub fn watches_in<W, F>(mut self, scope: InformerScope, map: F) -> Self
    where
        W: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
        W::DynamicType: Default,
        W::Scope: ScopedApi,
        F: Fn(&W) -> Vec<Request> + Send + Sync + 'static,
    {
        self.sources
            .push(Arc::new(Watch::new(scope, Arc::new(map))));
        self
    }

    /// Enqueue only events that pass `predicate`, for every source. Called again, both must
    /// pass.
    #[must_use]
    pub fn with_event_filter(mut self, predicate: Predicate) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(predicate),
            None => predicate,
        });
        self
    }

    /// [`watches`](Self::watches), batched: each request is reconciled `period` after the first
    /// change of a `W` that caused it, and further changes meanwhile join that wait, so a burst
    /// of changes (a controller's own writes streaming back, a rollout) costs one reconcile per
    /// period instead of one per change (kube-rs's `debounce`, for one source). For controllers
    /// whose reconcile reads many objects (a policy over every Pod of its namespace).
    #[must_use]
    pub fn watches_batched<W, F>(mut self, period: Duration, map: F) -> Self
    where
        W: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
        W::DynamicType: Default,
        W::Scope: ScopedApi,
        F: Fn(&W) -> Vec<Request> + Send + Sync + 'static,
    {
        self.sources.push(Arc::new(
            Watch::new(InformerScope::all(), Arc::new(map)).batched(period),
        ));
        self
    }

    /// Reconcile up to `workers` objects at once (never one object twice at once). Zero is
    /// taken as one.
    #[must_use]
    pub fn concurrency(mut self, workers: usize) -> Self {
        self.concurrency = workers.max(1);
        self
    }

    /// Record metrics in these families (a [`Manager`](crate::manager::Manager) sets its own).
    #[must_use]
    pub fn metrics(mut self, metrics: &ControllerMetrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }

    /// Retry failed reconciles with delays from the limiters `make` returns (one per run)
    /// instead of [`default_controller_rate_limiter`](crate::workqueue::default_controller_rate_limiter).
    #[must_use]
    pub fn rate_limiter<R>(mut self, make: impl Fn() -> R + Send + Sync + 'static) -> Self
    where
        R: RateLimiter<Request> + 'static,
    {
        self.rate_limiter = Some(Arc::new(move || Box::new(make())));
        self
    }

    /// The controller, reconciling with `reconcile(ctx, request)`.
    pub fn build<C, F, Fut>(self, reconcile: F, ctx: Arc<C>) -> RunnableController
    where
        C: Send + Sync + 'static,
        F: Fn(Arc<C>, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, ReconcileError>> + Send + 'static,
    {
        let reconcile: ReconcileFn =
            Arc::new(move |request| reconcile(ctx.clone(), request).boxed());
        let mut sources: Vec<Arc<dyn Source>> =
            vec![Arc::new(Watch::new(self.scope, map_self::<K>()))];
        sources.extend(self.sources);
        RunnableController::new(RunnerConfig {
            name: self.name,
            sources,
            filter: self.filter,
            concurrency: self.concurrency,
            metrics: self.metrics,
            rate_limiter: self.rate_limiter,
            reconcile,
        })
    }
}
