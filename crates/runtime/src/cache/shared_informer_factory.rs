//! One informer per watched thing, shared by every handler and lister that asks for it
//! (client-go's `SharedInformerFactory`).
//!
//! What this guarantees:
//! - At most one informer, hence one kube-rs `watcher` (one list/watch loop against the server),
//!   per (object type, resource path including the namespace, label selector, field selector):
//!   asking again returns the same informer. [`SharedInformerFactory::watch_count`] reports how
//!   many the factory has started.
//! - Once the factory has started, an informer asked for later starts at once (client-go needs a
//!   second `Start` call for that; forgetting it is a classic bug, so this factory does not
//!   require it).
//! - `shutdown` stops every informer and waits for their handlers to drain what was queued.

use super::informer::Informer;
use super::synced::{InformerSynced, wait_for_cache_sync};
use futures::future::BoxFuture;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::{ClusterResourceScope, DynamicResourceScope, NamespaceResourceScope};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::runtime::Handle;

/// What an informer watches beyond its type: a namespace (or all) and selectors.
///
/// ```
/// use kubeforge_runtime::cache::InformerScope;
///
/// let everywhere = InformerScope::all();
/// let web_in_default = InformerScope::namespace("default").labels("app=web");
/// let on_node = InformerScope::all().fields("spec.nodeName=node-1");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct InformerScope {
    namespace: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
}

impl InformerScope {
    /// Every namespace (or a cluster-scoped kind).
    pub fn all() -> Self {
        Self::default()
    }

    /// One namespace. Ignored for cluster-scoped built-in kinds; do not use it for cluster-scoped
    /// [`DynamicObject`] kinds.
    pub fn namespace(namespace: &str) -> Self {
        InformerScope {
            namespace: Some(namespace.to_string()),
            ..Self::default()
        }
    }

    /// Only objects matching this label selector (`app=web,tier!=db`).
    #[must_use]
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Only objects matching this field selector (`metadata.name=x`).
    #[must_use]
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for kube::core::NamespaceResourceScope {}
    impl Sealed for kube::core::ClusterResourceScope {}
    impl Sealed for kube::core::DynamicResourceScope {}
}

/// How to build the [`Api`] of a kind with this scope for an [`InformerScope`]; implemented for
/// the three scopes a `kube::Resource` can have (namespaced, cluster, dynamic).
pub trait ScopedApi: sealed::Sealed + Sized {
    /// The `Api` over every namespace, or over `namespace` when the kind can have one.
    fn api<K: Resource<Scope = Self>>(
        client: Client,
        dyntype: &K::DynamicType,
        namespace: Option<&str>,
    ) -> Api<K>;
}

impl ScopedApi for NamespaceResourceScope {
    fn api<K: Resource<Scope = Self>>(
        client: Client,
        dyntype: &K::DynamicType,
        namespace: Option<&str>,
    ) -> Api<K> {
        let api = Api::all_with(client, dyntype);
        match namespace {
            Some(ns) => api.constrain(ns),
            None => api,
        }
    }
}

impl ScopedApi for DynamicResourceScope {
    fn api<K: Resource<Scope = Self>>(
        client: Client,
        dyntype: &K::DynamicType,
        namespace: Option<&str>,
    ) -> Api<K> {
        let api = Api::all_with(client, dyntype);
        match namespace {
            Some(ns) => api.constrain(ns),
            None => api,
        }
    }
}

impl ScopedApi for ClusterResourceScope {
    fn api<K: Resource<Scope = Self>>(
        client: Client,
        dyntype: &K::DynamicType,
        _namespace: Option<&str>,
    ) -> Api<K> {
        Api::all_with(client, dyntype)
    }
}

/// Identifies one shared informer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct InformerKey {
    object_type: TypeId,
    resource_url: String,
    label_selector: Option<String>,
    field_selector: Option<String>,
}

/// The type-erased controls of an informer.
trait Control: Send + Sync {
    fn start_on(&self, runtime: &Handle) -> bool;
    fn shutdown(&self) -> BoxFuture<'static, ()>;
    fn synced(&self) -> InformerSynced;
}

impl<K> Control for Informer<K>
where
    K: Resource + Clone + Send + Sync + 'static,
{
    fn start_on(&self, runtime: &Handle) -> bool {
        Informer::start_on(self, runtime)
    }
    fn shutdown(&self) -> BoxFuture<'static, ()> {
        let informer = self.clone();
        Box::pin(async move { informer.shutdown().await })
    }
    fn synced(&self) -> InformerSynced {
        Informer::synced(self)
    }
}

struct Entry {
    informer: Box<dyn Any + Send + Sync>,
    control: Arc<dyn Control>,
}

struct State {
    resync: Duration,
    watcher_config: watcher::Config,
    informers: HashMap<InformerKey, Entry>,
    /// Set by `start`; informers created afterwards start on it.
    runtime: Option<Handle>,
    shut_down: bool,
}

/// Creates and shares informers: one watch per (type, namespace, selectors), any number of
/// handlers and listers on each.
///
/// ```no_run
/// # async fn demo(client: kube::Client) {
/// use k8s_openapi::api::apps::v1::Deployment;
/// use k8s_openapi::api::core::v1::Pod;
/// use kubeforge_runtime::cache::{HandlerFuncs, InformerScope, SharedInformerFactory};
/// use std::time::Duration;
///
/// let factory = SharedInformerFactory::new(client).with_resync_period(Duration::from_secs(600));
/// let pods = factory.informer::<Pod>(InformerScope::all());
/// pods.add_event_handler(HandlerFuncs::new().on_add(|_pod| { /* enqueue */ }));
/// // Another controller asking for Pods gets the same informer (and the same watch).
/// let same = factory.informer::<Pod>(InformerScope::all());
/// let deployments = factory.informer::<Deployment>(InformerScope::namespace("default")).lister();
/// factory.start();
/// assert!(factory.wait_for_cache_sync().await);
/// assert_eq!(factory.watch_count(), 2);
/// factory.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct SharedInformerFactory {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    state: Mutex<State>,
    watches_started: AtomicUsize,
}

impl fmt::Debug for SharedInformerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedInformerFactory")
            .field("informers", &self.state().informers.len())
            .field("watch_count", &self.watch_count())
            .finish_non_exhaustive()
    }
}

impl SharedInformerFactory {
    /// A factory whose informers talk through `client`, without resync, with kube-rs's default
    /// watcher configuration (pages of 500, bookmarks on).
    pub fn new(client: Client) -> Self {
        SharedInformerFactory {
            inner: Arc::new(Inner {
                client,
                state: Mutex::new(State {
                    resync: Duration::ZERO,
                    watcher_config: watcher::Config::default(),
                    informers: HashMap::new(),
                    runtime: None,
                    shut_down: false,
                }),
                watches_started: AtomicUsize::new(0),
            }),
        }
    }

    /// The default resync period of the informers it creates from now on (zero: none).
    #[must_use]
    pub fn with_resync_period(self, period: Duration) -> Self {
        self.state().resync = period;
        self
    }

    /// The watcher configuration the informers it creates from now on start from (page size,
    /// timeout, list semantic, streaming lists); the selectors come from each [`InformerScope`].
    #[must_use]
    pub fn with_watcher_config(self, config: watcher::Config) -> Self {
        self.state().watcher_config = config;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The shared informer of `K` for `scope`, created on first use.
    pub fn informer<K>(&self, scope: InformerScope) -> Informer<K>
    where
        K: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
        K::DynamicType: Default,
        K::Scope: ScopedApi,
    {
        let api = <K::Scope as ScopedApi>::api::<K>(
            self.inner.client.clone(),
            &K::DynamicType::default(),
            scope.namespace.as_deref(),
        );
        self.informer_for(api, scope)
    }

    /// The shared informer of the kind `resource` (only known at runtime) for `scope`.
    ///
    /// ```no_run
    /// # fn demo(factory: kubeforge_runtime::cache::SharedInformerFactory) {
    /// use kube::api::{ApiResource, GroupVersionKind};
    /// use kubeforge_runtime::cache::InformerScope;
    ///
    /// let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    /// let widgets = factory.dynamic_informer(&ar, InformerScope::all());
    /// # }
    /// ```
    pub fn dynamic_informer(
        &self,
        resource: &ApiResource,
        scope: InformerScope,
    ) -> Informer<DynamicObject> {
        let api = DynamicResourceScope::api::<DynamicObject>(
            self.inner.client.clone(),
            resource,
            scope.namespace.as_deref(),
        );
        self.informer_for(api, scope)
    }

    fn informer_for<K>(&self, api: Api<K>, scope: InformerScope) -> Informer<K>
    where
        K: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
    {
        let key = InformerKey {
            object_type: TypeId::of::<K>(),
            resource_url: api.resource_url().to_string(),
            label_selector: scope.label_selector.clone(),
            field_selector: scope.field_selector.clone(),
        };
        let mut state = self.state();
        if let Some(entry) = state.informers.get(&key)
            && let Some(informer) = entry.informer.downcast_ref::<Informer<K>>()
        {
            return informer.clone();
        }
        let mut config = state.watcher_config.clone();
        config.label_selector = scope.label_selector;
        config.field_selector = scope.field_selector;
        let informer = Informer::new(api, config).with_resync_period(state.resync);
        if state.shut_down {
            // Nothing starts after shutdown; the informer answers as stopped.
            informer.request_stop();
            return informer;
        }
        if let Some(runtime) = &state.runtime
            && informer.start_on(runtime)
        {
            self.inner.watches_started.fetch_add(1, Ordering::Relaxed);
        }
        state.informers.insert(
            key,
            Entry {
                informer: Box::new(informer.clone()),
                control: Arc::new(informer.clone()),
            },
        );
        informer
    }

    /// Starts every informer created so far, and every one created from now on, on the current
    /// Tokio runtime. Idempotent.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(&self) {
        let runtime = Handle::current();
        let mut state = self.state();
        if state.shut_down {
            return;
        }
        state.runtime.get_or_insert(runtime.clone());
        for entry in state.informers.values() {
            if entry.control.start_on(&runtime) {
                self.inner.watches_started.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many informers (each one kube-rs `watcher`: one list/watch loop) this factory has
    /// started.
    pub fn watch_count(&self) -> usize {
        self.inner.watches_started.load(Ordering::Relaxed)
    }

    /// Waits until every informer created so far has synced (`true`), or one stopped before it
    /// synced (`false`). Bound it with `tokio::time::timeout`.
    pub async fn wait_for_cache_sync(&self) -> bool {
        let synced: Vec<InformerSynced> = self
            .state()
            .informers
            .values()
            .map(|e| e.control.synced())
            .collect();
        wait_for_cache_sync(&synced).await
    }

    /// Stops every informer, waits for their handlers to drain, and refuses to start more.
    pub async fn shutdown(&self) {
        let controls: Vec<Arc<dyn Control>> = {
            let mut state = self.state();
            state.shut_down = true;
            state
                .informers
                .values()
                .map(|e| e.control.clone())
                .collect()
        };
        for control in controls {
            control.shutdown().await;
        }
    }
}
