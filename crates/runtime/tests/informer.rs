//! Informers, indexes, listers and the shared informer factory against an in-process kubeforge
//! API server: consistency through adds/updates/deletes, a forced 410 relist, a durable restart
//! with deletions while the server was down, one watch shared by two handlers, late handlers,
//! resync.
//!
//! Deterministic: every wait polls a condition with a deadline; nothing sleeps blindly.

mod common;

use common::counting_client;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::{Expression, Selector};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use kubeforge_apiserver::ApiServer;
use kubeforge_runtime::cache::{
    DeleteEvent, HandlerFuncs, Informer, InformerScope, NAMESPACE_INDEX, SharedInformerFactory,
    object_key,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Helpers

/// Polls `cond` every 20 ms until it holds; fails after [`DEADLINE`].
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn synced<K>(informer: &Informer<K>)
where
    K: kube::Resource + Clone + Send + Sync + 'static,
{
    let ok = tokio::time::timeout(DEADLINE, informer.wait_for_sync())
        .await
        .expect("informer synced in time");
    assert!(ok, "informer stopped before it synced");
}

async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name}
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

fn config_map(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    cm.data = Some(BTreeMap::from([("k".to_string(), "v".to_string())]));
    cm
}

async fn create(api: &Api<ConfigMap>, name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    api.create(&PostParams::default(), &config_map(name, labels))
        .await
        .unwrap()
}

async fn relabel(api: &Api<ConfigMap>, name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut cm = api.get(name).await.unwrap();
    cm.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    api.replace(name, &PostParams::default(), &cm)
        .await
        .unwrap()
}

async fn delete(api: &Api<ConfigMap>, name: &str) {
    api.delete(name, &DeleteParams::default()).await.unwrap();
}

/// name -> resourceVersion, as the server lists them.
async fn server_state(api: &Api<ConfigMap>) -> BTreeMap<String, String> {
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|o| (o.name_any(), o.resource_version().unwrap_or_default()))
        .collect()
}

/// name -> resourceVersion, as the cache holds them.
fn cache_state(informer: &Informer<ConfigMap>) -> BTreeMap<String, String> {
    informer
        .store()
        .list()
        .iter()
        .map(|o| (o.name_any(), o.resource_version().unwrap_or_default()))
        .collect()
}

/// Waits until the cache holds exactly what the server lists (names and resourceVersions).
async fn converged(informer: &Informer<ConfigMap>, api: &Api<ConfigMap>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let server = server_state(api).await;
        let cache = cache_state(informer);
        if server == cache {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "cache never converged:\n server {server:?}\n cache  {cache:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a handler was told, by object name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Add(String),
    Update {
        name: String,
        old_rv: String,
        new_rv: String,
        same_object: bool,
    },
    Delete(String),
    Tombstone(String),
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn push(&self, s: Seen) {
        self.0.lock().unwrap().push(s);
    }
    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
    fn has(&self, s: &Seen) -> bool {
        self.0.lock().unwrap().contains(s)
    }
    fn count(&self, f: impl Fn(&Seen) -> bool) -> usize {
        self.0.lock().unwrap().iter().filter(|s| f(s)).count()
    }
}

fn recorder<K: kube::Resource + Send + Sync + 'static>() -> (HandlerFuncs<K>, Log) {
    let log = Log::default();
    let (a, u, d) = (log.clone(), log.clone(), log.clone());
    let handler = HandlerFuncs::new()
        .on_add(move |o: Arc<K>| a.push(Seen::Add(o.name_any())))
        .on_update(move |old: Arc<K>, new: Arc<K>| {
            u.push(Seen::Update {
                name: new.name_any(),
                old_rv: old.resource_version().unwrap_or_default(),
                new_rv: new.resource_version().unwrap_or_default(),
                same_object: Arc::ptr_eq(&old, &new),
            })
        })
        .on_delete(move |ev: DeleteEvent<K>| match ev {
            DeleteEvent::Final(o) => d.push(Seen::Delete(o.name_any())),
            DeleteEvent::Tombstone { last_known, .. } => {
                d.push(Seen::Tombstone(last_known.name_any()))
            }
        });
    (handler, log)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn names<K: kube::Resource>(objs: &[Arc<K>]) -> Vec<String> {
    sorted(objs.iter().map(|o| o.name_any()).collect())
}

fn app_index(cm: &ConfigMap) -> Vec<String> {
    cm.labels().get("app").cloned().into_iter().collect()
}

/// A TCP proxy in front of the API server that can cut every connection and refuse new ones:
/// the informer's watch goes down while the server keeps running.
struct Proxy {
    url: String,
    state: Arc<Mutex<(bool, Vec<AbortHandle>)>>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Arc<Mutex<(bool, Vec<AbortHandle>)>> = Arc::default();
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    // Checked and recorded under the lock `cut` takes: no connection slips by.
                    let mut s = state.lock().unwrap();
                    if s.0 {
                        continue; // refused: dropped at once
                    }
                    let conn = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    s.1.push(conn.abort_handle());
                }
            }
        })
        .abort_handle();
        Proxy { url, state, accept }
    }

    fn client(&self) -> Client {
        Client::try_from(kube::Config::new(self.url.parse().unwrap())).unwrap()
    }

    /// Cuts every open connection and refuses new ones.
    fn cut(&self) {
        let mut s = self.state.lock().unwrap();
        s.0 = true;
        for conn in s.1.drain(..) {
            conn.abort();
        }
    }

    fn restore(&self) {
        self.state.lock().unwrap().0 = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informer_and_indexes_follow_adds_updates_deletes() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    create(&api, "a", &[("app", "web")]).await;
    create(&api, "b", &[("app", "db")]).await;

    let informer = Informer::new(api.clone(), watcher::Config::default());
    informer.store().add_indexer("app", app_index).unwrap();
    let (handler, log) = recorder();
    let registration = informer.add_event_handler(handler);
    informer.start();
    synced(&informer).await;
    assert!(
        tokio::time::timeout(DEADLINE, registration.wait_for_sync())
            .await
            .unwrap()
    );
    assert_eq!(
        sorted(informer.store().list_keys()),
        ["app/a".to_string(), "app/b".to_string()]
    );
    assert!(log.has(&Seen::Add("a".into())) && log.has(&Seen::Add("b".into())));

    let c = create(&api, "c", &[("app", "web")]).await;
    let a2 = relabel(&api, "a", &[("app", "db")]).await;
    delete(&api, "b").await;
    converged(&informer, &api).await;
    eventually("the delete of b", || log.has(&Seen::Delete("b".into()))).await;

    let store = informer.store();
    assert_eq!(store.index_keys("app", "web").unwrap(), ["app/c"]);
    assert_eq!(store.index_keys("app", "db").unwrap(), ["app/a"]);
    assert_eq!(sorted(store.list_index_func_values("app")), ["db", "web"]);
    assert_eq!(
        sorted(store.index_keys(NAMESPACE_INDEX, "app").unwrap()),
        ["app/a", "app/c"]
    );
    assert!(log.has(&Seen::Add("c".into())));
    assert!(log.all().iter().any(|s| matches!(s,
        Seen::Update { name, new_rv, .. } if name == "a" && Some(new_rv) == a2.metadata.resource_version.as_ref())));
    assert_eq!(
        store.get_by_key("app/c").unwrap().resource_version(),
        c.resource_version()
    );
    assert_eq!(log.count(|s| matches!(s, Seen::Tombstone(_))), 0);
    informer.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_410_relist_delivers_tombstones_for_missed_deletions() {
    // A history of 20 events: more writes than that while the watch is down make its
    // resourceVersion too old, so resuming gets 410 Gone and the watcher relists.
    let server = ApiServer::builder()
        .in_memory()
        .history(20)
        .start()
        .await
        .unwrap();
    let client = server.client();
    namespace(&client, "t").await;
    namespace(&client, "noise").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "t");
    for name in ["a", "b", "c"] {
        create(&api, name, &[("app", "web")]).await;
    }

    let proxy = Proxy::start(server.addr()).await;
    let informer = Informer::new(
        Api::<ConfigMap>::namespaced(proxy.client(), "t"),
        watcher::Config::default(),
    );
    informer.store().add_indexer("app", app_index).unwrap();
    let (handler, log) = recorder();
    informer.add_event_handler(handler);
    informer.start();
    synced(&informer).await;

    proxy.cut();
    delete(&api, "a").await;
    delete(&api, "b").await;
    relabel(&api, "c", &[("app", "db")]).await;
    create(&api, "d", &[("app", "web")]).await;
    let noise: Api<ConfigMap> = Api::namespaced(client.clone(), "noise");
    for i in 0..30 {
        create(&noise, &format!("n{i}"), &[]).await;
    }
    proxy.restore();

    converged(&informer, &api).await;
    eventually("tombstones for a and b", || {
        log.has(&Seen::Tombstone("a".into())) && log.has(&Seen::Tombstone("b".into()))
    })
    .await;
    // The deletions were missed, not watched.
    assert!(!log.has(&Seen::Delete("a".into())) && !log.has(&Seen::Delete("b".into())));
    assert!(log.has(&Seen::Add("d".into())));
    let store = informer.store();
    assert_eq!(store.index_keys("app", "web").unwrap(), ["t/d"]);
    assert_eq!(store.index_keys("app", "db").unwrap(), ["t/c"]);
    assert_eq!(
        sorted(store.index_keys(NAMESPACE_INDEX, "t").unwrap()),
        ["t/c", "t/d"]
    );
    informer.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_restart_with_deletions_while_down_delivers_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let first = ApiServer::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let addr = first.addr();
    let client = first.client(); // stays pointed at `addr` across the restart
    namespace(&client, "t").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "t");
    for name in ["a", "b", "c", "e"] {
        create(&api, name, &[("app", "web")]).await;
    }
    let informer = Informer::new(api.clone(), watcher::Config::default());
    let (handler, log) = recorder();
    informer.add_event_handler(handler);
    informer.start();
    synced(&informer).await;
    first.shutdown().await;

    // While the server at `addr` is down, another server on the same data deletes and writes.
    let offline = ApiServer::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let offline_api: Api<ConfigMap> = Api::namespaced(offline.client(), "t");
    delete(&offline_api, "a").await;
    delete(&offline_api, "b").await;
    relabel(&offline_api, "c", &[("app", "db")]).await;
    create(&offline_api, "d", &[("app", "web")]).await;
    offline.shutdown().await;

    let restarted = ApiServer::builder()
        .data_dir(dir.path())
        .listen(addr)
        .start()
        .await
        .unwrap();
    converged(&informer, &api).await;
    eventually("tombstones for a and b", || {
        log.has(&Seen::Tombstone("a".into())) && log.has(&Seen::Tombstone("b".into()))
    })
    .await;
    assert!(log.has(&Seen::Add("d".into())));
    assert_eq!(log.count(|s| matches!(s, Seen::Tombstone(_))), 2);
    assert_eq!(sorted(informer.store().list_keys()), ["t/c", "t/d", "t/e"]);
    informer.shutdown().await;
    restarted.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_factory_serves_two_handlers_with_one_watch() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    namespace(&server.client(), "f").await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "f");
    create(&api, "a", &[("app", "web")]).await;

    let (client, requests) = counting_client(&server);
    let factory = SharedInformerFactory::new(client);
    let first = factory.informer::<ConfigMap>(InformerScope::namespace("f"));
    let second = factory.informer::<ConfigMap>(InformerScope::namespace("f"));
    assert!(Arc::ptr_eq(&first.store(), &second.store()));
    let (h1, log1) = recorder();
    let (h2, log2) = recorder();
    first.add_event_handler(h1);
    second.add_event_handler(h2);
    factory.start();
    assert!(
        tokio::time::timeout(DEADLINE, factory.wait_for_cache_sync())
            .await
            .unwrap()
    );
    for name in ["b", "c"] {
        create(&api, name, &[("app", "db")]).await;
    }
    for log in [&log1, &log2] {
        eventually("both handlers see three adds", || {
            log.count(|s| matches!(s, Seen::Add(_))) == 3
        })
        .await;
    }
    // Listers from either handle read the same cached objects.
    let from_first = first.lister().get("f", "b").unwrap();
    let from_second = second.lister().get("f", "b").unwrap();
    assert!(Arc::ptr_eq(&from_first, &from_second));

    assert_eq!(factory.watch_count(), 1);
    let configmap_requests: Vec<String> = requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.starts_with("/api/v1/namespaces/f/configmaps"))
        .cloned()
        .collect();
    let watches = configmap_requests
        .iter()
        .filter(|r| r.contains("watch=true"))
        .count();
    assert_eq!(watches, 1, "requests: {configmap_requests:?}");
    assert_eq!(
        configmap_requests.len() - watches,
        1,
        "one LIST: {configmap_requests:?}"
    );

    // Another selector is another watch, started at once because the factory runs.
    let web = factory.informer::<ConfigMap>(InformerScope::namespace("f").labels("app=web"));
    synced(&web).await;
    assert_eq!(factory.watch_count(), 2);
    assert_eq!(names(&web.store().list()), ["a"]);
    factory.shutdown().await;
    assert!(first.is_stopped() && web.is_stopped());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_handler_receives_synthetic_adds_and_has_its_own_sync() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    namespace(&server.client(), "late").await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "late");
    for name in ["a", "b", "c"] {
        create(&api, name, &[]).await;
    }
    let factory = SharedInformerFactory::new(server.client());
    let informer = factory.informer::<ConfigMap>(InformerScope::namespace("late"));
    factory.start();
    assert!(factory.wait_for_cache_sync().await);

    let (handler, log) = recorder();
    let registration = informer.add_event_handler(handler);
    assert!(
        tokio::time::timeout(DEADLINE, registration.wait_for_sync())
            .await
            .unwrap()
    );
    // Synced means handled: the three adds are in the log already, and nothing else.
    let added: Vec<String> = log
        .all()
        .into_iter()
        .map(|s| match s {
            Seen::Add(name) => name,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(sorted(added), ["a", "b", "c"]);
    create(&api, "d", &[]).await;
    eventually("the live add of d", || log.has(&Seen::Add("d".into()))).await;
    assert_eq!(log.all().len(), 4);
    factory.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_redelivers_every_cached_object() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    namespace(&server.client(), "rs").await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "rs");
    for name in ["a", "b"] {
        create(&api, name, &[]).await;
    }
    let factory =
        SharedInformerFactory::new(server.client()).with_resync_period(Duration::from_millis(200));
    let informer = factory.informer::<ConfigMap>(InformerScope::namespace("rs"));
    let (handler, log) = recorder();
    informer.add_event_handler(handler);
    let (quiet, quiet_log) = recorder();
    informer.add_event_handler_with_resync(quiet, Duration::ZERO);
    factory.start();
    assert!(factory.wait_for_cache_sync().await);
    let resyncs_of = |name: &str| {
        log.count(|s| {
            matches!(s, Seen::Update { name: n, old_rv, new_rv, same_object: true }
                if n == name && old_rv == new_rv)
        })
    };
    eventually("two resyncs of each object", || {
        resyncs_of("a") >= 2 && resyncs_of("b") >= 2
    })
    .await;
    assert_eq!(
        quiet_log.count(|s| matches!(s, Seen::Update { .. })),
        0,
        "a handler with resync off is not resynced"
    );
    factory.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listers_and_custom_indexes_answer() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    for ns in ["x", "y"] {
        namespace(&client, ns).await;
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        create(&api, "web-1", &[("app", "web"), ("tier", "front")]).await;
        create(&api, "web-2", &[("app", "web")]).await;
        create(&api, "db", &[("app", "db")]).await;
    }
    let factory = SharedInformerFactory::new(client.clone());
    let informer = factory.informer::<ConfigMap>(InformerScope::all());
    factory.start();
    assert!(factory.wait_for_cache_sync().await);
    let lister = informer.lister();

    let web: Selector = Expression::Equal("app".into(), "web".into()).into();
    let front: Selector = [("app", "web"), ("tier", "front")].into_iter().collect();
    let not_db: Selector = Expression::NotEqual("app".into(), "db".into()).into();
    assert_eq!(lister.list(&web).len(), 4);
    assert_eq!(lister.list(&front).len(), 2);
    assert_eq!(
        names(&lister.namespaced("x").list(&not_db)),
        ["web-1", "web-2"]
    );
    assert_eq!(
        names(&lister.namespaced("y").list(&Selector::default())),
        ["db", "web-1", "web-2"]
    );
    assert!(lister.namespaced("z").list(&Selector::default()).is_empty());
    assert_eq!(lister.get("x", "db").unwrap().labels()["app"], "db");
    assert_eq!(
        lister
            .namespaced("y")
            .get("web-2")
            .unwrap()
            .namespace()
            .as_deref(),
        Some("y")
    );
    assert!(lister.get("x", "missing").is_none());
    // The namespace index answers for the cluster-wide informer too.
    assert_eq!(
        names(&lister.by_index(NAMESPACE_INDEX, "y").unwrap()),
        ["db", "web-1", "web-2"]
    );

    // A custom index added after the cache is full is built over it, then kept current.
    let store = informer.store();
    store.add_indexer("app", app_index).unwrap();
    assert_eq!(
        sorted(store.index_keys("app", "web").unwrap()),
        ["x/web-1", "x/web-2", "y/web-1", "y/web-2"]
    );
    assert_eq!(sorted(store.list_index_func_values("app")), ["db", "web"]);
    let api_x: Api<ConfigMap> = Api::namespaced(client.clone(), "x");
    relabel(&api_x, "db", &[("app", "cache")]).await;
    eventually("x/db moves to app=cache", || {
        store.index_keys("app", "cache").unwrap() == ["x/db"]
    })
    .await;
    assert_eq!(names(&lister.by_index("app", "db").unwrap()), ["db"]);
    assert_eq!(
        lister.by_index("app", "db").unwrap()[0]
            .namespace()
            .as_deref(),
        Some("y")
    );
    assert!(lister.by_index("no-such-index", "x").is_err());
    for obj in lister.list(&Selector::default()) {
        assert!(store.get_by_key(&object_key(&*obj)).is_some());
    }
    factory.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_and_cluster_scoped_informers() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "dyn").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "dyn");
    create(&api, "a", &[("app", "web")]).await;

    let factory = SharedInformerFactory::new(client.clone());
    let ar = ApiResource::erase::<ConfigMap>(&());
    let dynamic = factory.dynamic_informer(&ar, InformerScope::namespace("dyn"));
    let (handler, log) = recorder::<DynamicObject>();
    dynamic.add_event_handler(handler);
    let namespaces = factory.informer::<Namespace>(InformerScope::all());
    factory.start();
    assert!(factory.wait_for_cache_sync().await);
    assert_eq!(factory.watch_count(), 2);

    let a = dynamic.lister().get("dyn", "a").unwrap();
    assert_eq!(a.data["data"]["k"], "v");
    assert!(namespaces.lister().get("", "dyn").is_some());
    assert!(namespaces.lister().get("", "default").is_some());

    delete(&api, "a").await;
    eventually("the dynamic delete", || log.has(&Seen::Delete("a".into()))).await;
    assert!(dynamic.store().is_empty());
    namespace(&client, "later").await;
    eventually("the new namespace", || {
        namespaces.lister().get("", "later").is_some()
    })
    .await;
    let all: BTreeSet<String> = namespaces
        .store()
        .list()
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert!(all.contains("kube-system"));
    factory.shutdown().await;
    server.shutdown().await;
}
