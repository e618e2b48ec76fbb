//! Controllers and client helpers against an in-process kubeforge API server: a for/owns
//! controller converges (child created, recreated after deletion, corrected after drift), a
//! controller converges while another writer causes conflicts, predicates filter, errors are
//! retried with back-off, terminal errors are not, panics are reported, one shared watch
//! serves two controllers, create_or_update / create_or_patch report what they did,
//! set_controller_reference refuses a second controller, finalizer cleanup runs before the
//! deletion completes, events are aggregated.
//!
//! Every wait polls a condition with a deadline.

mod common;

use common::{counting_client, eventually, gate, namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use kubeforge_apiserver::ApiServer;
use kubeforge_runtime::cache::{InformerScope, SharedInformerFactory};
use kubeforge_runtime::client::{
    OperationResult, OwnerReferenceError, create_or_patch, create_or_update, is_conflict,
    set_controller_reference, update_status,
};
use kubeforge_runtime::controller::{
    Action, Controller, ControllerMetrics, ReconcileError, Request, predicates,
};
use kubeforge_runtime::events::{EventType, Recorder};
use kubeforge_runtime::finalizer::{Event as FinalizerEvent, finalizer};
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    }))
    .unwrap()
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

/// A standalone controller run that stops when the sender is dropped or fired.
fn spawn_run(
    controller: kubeforge_runtime::controller::RunnableController,
    factory: SharedInformerFactory,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        controller
            .run(&factory, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (stop, task)
}

fn metrics_text(registry: &Registry) -> String {
    let mut text = String::new();
    encode(&mut text, registry).unwrap();
    text
}

/// The value of the sample line starting with `prefix` (`name{labels}`), or 0.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------

struct ChildContext {
    client: Client,
    deployments: kubeforge_runtime::cache::Lister<Deployment>,
    results: Mutex<Vec<OperationResult>>,
}

/// Each Deployment owns a ConfigMap `<name>-config` whose `replicas` key mirrors its spec.
async fn reconcile_child(ctx: Arc<ChildContext>, req: Request) -> Result<Action, ReconcileError> {
    let ns = req.namespace.as_deref().unwrap();
    let Some(owner) = ctx.deployments.get(ns, &req.name) else {
        return Ok(Action::await_change()); // deleted: the GC removes the child
    };
    let replicas = owner.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
    let mut refused = None;
    let (_, result) = create_or_update(&api, &format!("{}-config", req.name), |cm| {
        cm.data = Some(BTreeMap::from([(
            "replicas".to_string(),
            replicas.to_string(),
        )]));
        refused = set_controller_reference(&*owner, cm).err();
    })
    .await?;
    if let Some(e) = refused {
        return Err(ReconcileError::terminal(e));
    }
    ctx.results.lock().unwrap().push(result);
    Ok(Action::await_change())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_owns_controller_creates_recreates_and_corrects_its_child() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    let factory = SharedInformerFactory::new(client.clone());
    let ctx = Arc::new(ChildContext {
        client: client.clone(),
        deployments: factory
            .informer::<Deployment>(InformerScope::all())
            .lister(),
        results: Mutex::default(),
    });
    let controller = Controller::<Deployment>::new("child")
        .owns::<ConfigMap>()
        .concurrency(2)
        .build(reconcile_child, ctx.clone());
    let (stop, task) = spawn_run(controller, factory.clone());

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "app");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    let owner = deployments
        .create(&PostParams::default(), &deployment("web", 3))
        .await
        .unwrap();
    let replicas_of = |cm: Option<ConfigMap>| {
        cm.and_then(|c| c.data)
            .and_then(|d| d.get("replicas").cloned())
    };
    eventually("child created", || async {
        replicas_of(cms.get_opt("web-config").await.unwrap()).as_deref() == Some("3")
    })
    .await;
    let child = cms.get("web-config").await.unwrap();
    let owner_ref = &child.owner_references()[0];
    assert_eq!(
        (owner_ref.kind.as_str(), owner_ref.uid.as_str()),
        ("Deployment", owner.uid().unwrap().as_str())
    );
    assert_eq!(owner_ref.controller, Some(true));

    // Child deleted -> recreated (a new object).
    cms.delete("web-config", &DeleteParams::default())
        .await
        .unwrap();
    let old_uid = child.uid();
    eventually("child recreated", || async {
        cms.get_opt("web-config")
            .await
            .unwrap()
            .is_some_and(|c| c.uid() != old_uid)
    })
    .await;

    // Child drifted -> corrected.
    cms.patch(
        "web-config",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"replicas": "99"}})),
    )
    .await
    .unwrap();
    eventually("drift corrected", || async {
        replicas_of(cms.get_opt("web-config").await.unwrap()).as_deref() == Some("3")
    })
    .await;

    // Owner changed -> child follows.
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    eventually("child follows the owner", || async {
        replicas_of(cms.get_opt("web-config").await.unwrap()).as_deref() == Some("5")
    })
    .await;
    let results = ctx.results.lock().unwrap().clone();
    assert!(results.contains(&OperationResult::Created));
    assert!(results.contains(&OperationResult::Updated));
    drop(stop);
    task.await.unwrap();
    factory.shutdown().await;
}

// ---------------------------------------------------------------------------------------------

struct MirrorContext {
    client: Client,
    conflicts: AtomicUsize,
}

/// Copies the label `tick` into the annotation `mirrored-tick` (read, pause, replace: another
/// writer's change in the pause makes the write conflict), then records the observed
/// generation in the status with `update_status`.
async fn reconcile_mirror(ctx: Arc<MirrorContext>, req: Request) -> Result<Action, ReconcileError> {
    let api: Api<Deployment> =
        Api::namespaced(ctx.client.clone(), req.namespace.as_deref().unwrap());
    let Some(mut d) = api.get_opt(&req.name).await? else {
        return Ok(Action::await_change());
    };
    let tick = d.labels().get("tick").cloned().unwrap_or_default();
    if d.annotations().get("mirrored-tick") != Some(&tick) {
        tokio::time::sleep(Duration::from_millis(15)).await;
        d.annotations_mut().insert("mirrored-tick".into(), tick);
        if let Err(e) = api.replace(&req.name, &PostParams::default(), &d).await {
            if is_conflict(&e) {
                ctx.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            return Err(e.into());
        }
    }
    update_status(&api, &req.name, |d| {
        d.status.get_or_insert_default().observed_generation = d.metadata.generation;
    })
    .await?;
    Ok(Action::await_change())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_converges_while_another_writer_causes_conflicts() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    let factory = SharedInformerFactory::new(client.clone());
    let ctx = Arc::new(MirrorContext {
        client: client.clone(),
        conflicts: AtomicUsize::new(0),
    });
    let controller = Controller::<Deployment>::new("mirror").build(reconcile_mirror, ctx.clone());
    let (stop, task) = spawn_run(controller, factory.clone());
    let api: Api<Deployment> = Api::namespaced(client.clone(), "app");
    api.create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();

    // The other writer: 60 label changes, 10 ms apart, plus spec changes.
    for i in 0..60 {
        let patch = json!({"metadata": {"labels": {"tick": i.to_string()}}, "spec": {"replicas": i % 3 + 1}});
        api.patch("web", &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eventually("converged on the last tick and generation", || async {
        let d = api.get("web").await.unwrap();
        d.annotations().get("mirrored-tick").map(String::as_str) == Some("59")
            && d.status.as_ref().and_then(|s| s.observed_generation) == d.metadata.generation
    })
    .await;
    assert!(
        ctx.conflicts.load(Ordering::Relaxed) > 0,
        "the other writer caused no conflict: the test proves nothing"
    );
    drop(stop);
    task.await.unwrap();
    factory.shutdown().await;
}

// ---------------------------------------------------------------------------------------------

type Log = Arc<Mutex<Vec<String>>>;

async fn record(log: Log, req: Request) -> Result<Action, ReconcileError> {
    log.lock().unwrap().push(req.name.clone());
    Ok(Action::await_change())
}

fn times(log: &Log, name: &str) -> usize {
    log.lock().unwrap().iter().filter(|n| *n == name).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predicates_filter_events() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    let factory = SharedInformerFactory::new(client.clone());
    let log: Log = Arc::default();
    let controller = Controller::<Deployment>::new("generations")
        .with_event_filter(predicates::generation_changed())
        .build(record, log.clone());
    let (stop, task) = spawn_run(controller, factory.clone());
    let api: Api<Deployment> = Api::namespaced(client.clone(), "app");
    for name in ["a", "b"] {
        api.create(&PostParams::default(), &deployment(name, 1))
            .await
            .unwrap();
    }
    eventually("both reconciled once", || async {
        times(&log, "a") == 1 && times(&log, "b") == 1
    })
    .await;
    // A label-only change of `a` (generation unchanged), then a spec change of `b`. One
    // worker, FIFO queue, events in order: had `a` passed the filter it would be reconciled
    // before `b`'s second reconcile.
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .unwrap();
    eventually("b reconciled after its spec change", || async {
        times(&log, "b") == 2
    })
    .await;
    assert_eq!(
        times(&log, "a"),
        1,
        "a label-only change passed generation_changed"
    );

    // The combination passes label changes too.
    drop(stop);
    task.await.unwrap();
    let log2: Log = Arc::default();
    let controller = Controller::<Deployment>::new("generations-or-labels")
        .with_event_filter(predicates::generation_changed().or(predicates::labels_changed()))
        .build(record, log2.clone());
    let (stop, task) = spawn_run(controller, factory.clone());
    eventually("initial adds", || async {
        times(&log2, "a") == 1 && times(&log2, "b") == 1
    })
    .await;
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"x": "z"}}})),
    )
    .await
    .unwrap();
    eventually("label change reconciled", || async {
        times(&log2, "a") == 2
    })
    .await;
    drop(stop);
    task.await.unwrap();
    factory.shutdown().await;
}

// ---------------------------------------------------------------------------------------------

/// An API server with namespace `app`, a factory on it, and controller metrics in a registry.
async fn metered_setup() -> (
    ApiServer,
    Client,
    SharedInformerFactory,
    Registry,
    ControllerMetrics,
) {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    let factory = SharedInformerFactory::new(client.clone());
    let mut registry = Registry::default();
    let metrics = ControllerMetrics::new(&mut registry);
    (server, client, factory, registry, metrics)
}

struct Failing {
    attempts: Mutex<HashMap<String, Vec<Instant>>>,
}

/// `transient`: fails 4 times then succeeds; `terminal`: a terminal error; `panics`: panics
/// once then succeeds; anything else: requeued after 50 ms once.
async fn reconcile_failing(ctx: Arc<Failing>, req: Request) -> Result<Action, ReconcileError> {
    let n = {
        let mut attempts = ctx.attempts.lock().unwrap();
        let list = attempts.entry(req.name.clone()).or_default();
        list.push(Instant::now());
        list.len()
    };
    match req.name.as_str() {
        "transient" if n <= 4 => Err(ReconcileError::msg(format!("not yet ({n})"))),
        "terminal" => Err(ReconcileError::terminal("cannot ever work")),
        "panics" if n == 1 => panic!("reconcile exploded"),
        "later" if n == 1 => Ok(Action::requeue_after(Duration::from_millis(50))),
        _ => Ok(Action::await_change()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_retried_with_backoff_terminal_errors_are_not_and_panics_are_reported() {
    let (_server, client, factory, registry, metrics) = metered_setup().await;
    let ctx = Arc::new(Failing {
        attempts: Mutex::default(),
    });
    let controller = Controller::<ConfigMap>::new("failing")
        .metrics(&metrics)
        .concurrency(3)
        .build(reconcile_failing, ctx.clone());
    let (stop, task) = spawn_run(controller, factory.clone());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    for name in ["terminal", "panics", "later", "transient"] {
        api.create(&PostParams::default(), &config_map(name))
            .await
            .unwrap();
    }
    let attempts = |name: &str| {
        ctx.attempts
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default()
    };
    eventually("transient succeeded on its 5th attempt", || async {
        attempts("transient").len() == 5
    })
    .await;
    eventually("panics retried", || async { attempts("panics").len() == 2 }).await;
    eventually("later requeued", || async { attempts("later").len() == 2 }).await;

    // The metrics of the last reconcile are recorded just after it returned.
    eventually("every success counted", || async {
        sample(
            &metrics_text(&registry),
            "controller_runtime_reconcile_total{controller=\"failing\",result=\"success\"}",
        ) == 3.0
    })
    .await;

    // Back-off: 5, 10, 20, 40 ms (client-go's per-item exponential), each gap at least that.
    let t = attempts("transient");
    for (i, pair) in t.windows(2).enumerate() {
        let want = Duration::from_millis(5 << i);
        assert!(
            pair[1] - pair[0] >= want,
            "retry {i} after {:?} < {want:?}",
            pair[1] - pair[0]
        );
    }
    let l = attempts("later");
    assert!(l[1] - l[0] >= Duration::from_millis(50));
    // The terminal error was not retried, though the transient one was retried 4 times
    // after it (one worker would have had ample time to retry it too).
    assert_eq!(attempts("terminal").len(), 1);

    let text = metrics_text(&registry);
    assert_eq!(
        sample(
            &text,
            "controller_runtime_reconcile_panics_total{controller=\"failing\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "controller_runtime_terminal_reconcile_errors_total{controller=\"failing\"}"
        ),
        1.0
    );
    // 4 transient + 1 terminal + 1 panic.
    assert_eq!(
        sample(
            &text,
            "controller_runtime_reconcile_errors_total{controller=\"failing\"}"
        ),
        6.0
    );
    assert_eq!(
        sample(
            &text,
            "controller_runtime_reconcile_total{controller=\"failing\",result=\"error\"}"
        ),
        6.0
    );
    assert_eq!(
        sample(
            &text,
            "controller_runtime_reconcile_total{controller=\"failing\",result=\"requeue_after\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "controller_runtime_reconcile_total{controller=\"failing\",result=\"success\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(
            &text,
            "controller_runtime_max_concurrent_reconciles{controller=\"failing\"}"
        ),
        3.0
    );
    assert!(
        sample(
            &text,
            "workqueue_retries_total{name=\"failing\",controller=\"failing\"}"
        ) >= 6.0
    );
    assert!(
        text.contains(
            "controller_runtime_reconcile_time_seconds_bucket{le=\"0.005\",controller=\"failing\"}"
        ) || text.contains(
            "controller_runtime_reconcile_time_seconds_bucket{controller=\"failing\",le=\"0.005\"}"
        )
    );
    drop(stop);
    task.await.unwrap();
    factory.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_run_leaves_no_active_workers() {
    let (_server, client, factory, registry, metrics) = metered_setup().await;
    let controller = Controller::<ConfigMap>::new("stuck")
        .metrics(&metrics)
        .build(
            |_: Arc<()>, _req: Request| async move {
                std::future::pending::<()>().await;
                Ok::<_, ReconcileError>(Action::await_change())
            },
            Arc::new(()),
        );
    let (_stop, task) = spawn_run(controller, factory.clone());
    Api::<ConfigMap>::namespaced(client, "app")
        .create(&PostParams::default(), &config_map("stuck"))
        .await
        .unwrap();
    let active = || {
        sample(
            &metrics_text(&registry),
            "controller_runtime_active_workers{controller=\"stuck\"}",
        )
    };
    eventually("a worker reconciling", || async { active() == 1.0 }).await;
    // What a bounded shutdown does once its bound passed: drop the run with the reconcile
    // in flight.
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    eventually("the aborted worker no longer counted", || async {
        active() == 0.0
    })
    .await;
    factory.shutdown().await;
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_factory_serves_two_controllers_with_one_watch() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    namespace(&server.client(), "app").await;
    let (client, requests) = counting_client(&server);
    let factory = SharedInformerFactory::new(client.clone());
    let (log1, log2): (Log, Log) = Default::default();
    let one = Controller::<ConfigMap>::new("one").build(record, log1.clone());
    let two = Controller::<ConfigMap>::new("two").build(record, log2.clone());
    let (stop1, task1) = spawn_run(one, factory.clone());
    let (stop2, task2) = spawn_run(two, factory.clone());
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "app");
    for name in ["x", "y"] {
        api.create(&PostParams::default(), &config_map(name))
            .await
            .unwrap();
    }
    eventually("both controllers reconciled both", || async {
        ["x", "y"]
            .iter()
            .all(|n| times(&log1, n) >= 1 && times(&log2, n) >= 1)
    })
    .await;
    let watches = requests
        .lock()
        .unwrap()
        .iter()
        .filter(|u| u.contains("/configmaps") && u.contains("watch=true"))
        .count();
    assert_eq!(watches, 1, "{:?}", requests.lock().unwrap());
    assert_eq!(factory.watch_count(), 1);
    drop((stop1, stop2));
    task1.await.unwrap();
    task2.await.unwrap();
    factory.shutdown().await;
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_or_update_and_create_or_patch_report_what_they_did() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let (client, requests) = counting_client(&server);
    namespace(&client, "app").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    let set = |v: &'static str| {
        move |cm: &mut ConfigMap| {
            cm.data
                .get_or_insert_default()
                .insert("k".to_string(), v.to_string());
        }
    };
    let (cm, r) = create_or_update(&api, "c", set("1")).await.unwrap();
    assert_eq!(r, OperationResult::Created);
    assert_eq!(cm.data.unwrap()["k"], "1");
    let (_, r) = create_or_update(&api, "c", set("2")).await.unwrap();
    assert_eq!(r, OperationResult::Updated);
    let writes_before = requests.lock().unwrap().len();
    let (cm, r) = create_or_update(&api, "c", set("2")).await.unwrap();
    assert_eq!(r, OperationResult::Unchanged);
    assert_eq!(cm.data.unwrap()["k"], "2");
    assert_eq!(
        requests.lock().unwrap().len(),
        writes_before + 1,
        "Unchanged sent only a GET"
    );

    let (_, r) = create_or_patch(&api, "p", set("1")).await.unwrap();
    assert_eq!(r, OperationResult::Created);
    let (cm, r) = create_or_patch(&api, "p", set("2")).await.unwrap();
    assert_eq!(r, OperationResult::Updated);
    assert_eq!(cm.data.unwrap()["k"], "2");
    let (_, r) = create_or_patch(&api, "p", set("2")).await.unwrap();
    assert_eq!(r, OperationResult::Unchanged);

    // Renaming inside mutate is refused and nothing is written.
    let err = create_or_update(&api, "c", |cm: &mut ConfigMap| {
        cm.metadata.name = Some("other".into())
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("name or namespace"), "{err}");
    assert!(api.get_opt("other").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_controller_reference_refuses_a_second_controller() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "app");
    let first = deployments
        .create(&PostParams::default(), &deployment("first", 1))
        .await
        .unwrap();
    let second = deployments
        .create(&PostParams::default(), &deployment("second", 1))
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    let mut cm = config_map("owned");
    cm.metadata.namespace = Some("app".into());
    set_controller_reference(&first, &mut cm).unwrap();
    // The same owner again: idempotent.
    set_controller_reference(&first, &mut cm).unwrap();
    assert_eq!(cm.owner_references().len(), 1);
    let mut stored = cms.create(&PostParams::default(), &cm).await.unwrap();
    let err = set_controller_reference(&second, &mut stored).unwrap_err();
    assert!(matches!(err, OwnerReferenceError::AlreadyOwned(_)));
    assert!(err.to_string().contains("Deployment first"), "{err}");
    assert_eq!(stored.owner_references().len(), 1);

    // A namespaced owner cannot own an object in another namespace.
    let mut elsewhere = config_map("elsewhere");
    elsewhere.metadata.namespace = Some("default".into());
    assert!(matches!(
        set_controller_reference(&first, &mut elsewhere),
        Err(OwnerReferenceError::CrossNamespace { .. })
    ));
    // The stored reference is what the GC uses: deleting the owner deletes the child.
    deployments
        .delete("first", &DeleteParams::background())
        .await
        .unwrap();
    eventually("child garbage-collected", || async {
        cms.get_opt("owned").await.unwrap().is_none()
    })
    .await;
}

// ---------------------------------------------------------------------------------------------

struct Finalizing {
    client: Client,
    /// Whether the object still existed (deleting) when cleanup ran.
    cleaned: Mutex<Vec<(String, bool)>>,
}

async fn reconcile_finalizing(
    ctx: Arc<Finalizing>,
    req: Request,
) -> Result<Action, ReconcileError> {
    let api: Api<ConfigMap> =
        Api::namespaced(ctx.client.clone(), req.namespace.as_deref().unwrap());
    let Some(cm) = api.get_opt(&req.name).await? else {
        return Ok(Action::await_change());
    };
    let ctx2 = ctx.clone();
    let api2 = api.clone();
    finalizer(
        &api,
        "example.com/cleanup",
        Arc::new(cm),
        |event| async move {
            if let FinalizerEvent::Cleanup(cm) = event {
                let still_there = api2
                    .get_opt(&cm.name_any())
                    .await?
                    .is_some_and(|c| c.metadata.deletion_timestamp.is_some());
                ctx2.cleaned
                    .lock()
                    .unwrap()
                    .push((cm.name_any(), still_there));
            }
            Ok(Action::await_change())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizer_cleanup_runs_before_deletion_completes() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    let factory = SharedInformerFactory::new(client.clone());
    let ctx = Arc::new(Finalizing {
        client: client.clone(),
        cleaned: Mutex::default(),
    });
    let controller =
        Controller::<ConfigMap>::new("finalizing").build(reconcile_finalizing, ctx.clone());
    let (stop, task) = spawn_run(controller, factory.clone());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    api.create(&PostParams::default(), &config_map("f"))
        .await
        .unwrap();
    eventually("finalizer added", || async {
        api.get("f").await.unwrap().finalizers() == ["example.com/cleanup"]
    })
    .await;
    api.delete("f", &DeleteParams::default()).await.unwrap();
    eventually("deletion completed", || async {
        api.get_opt("f").await.unwrap().is_none()
    })
    .await;
    assert_eq!(*ctx.cleaned.lock().unwrap(), vec![("f".to_string(), true)]);
    drop(stop);
    task.await.unwrap();
    factory.shutdown().await;
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_events_are_aggregated_into_a_series() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let (client, requests) = counting_client(&server);
    namespace(&client, "app").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    let cm = cms
        .create(&PostParams::default(), &config_map("e"))
        .await
        .unwrap();
    let reference = cm.object_ref(&());
    let recorder = Recorder::new(client.clone(), "example.com/test-controller", "test-1");
    let events: Api<Event> = Api::namespaced(client.clone(), "app");
    let writes = || {
        requests
            .lock()
            .unwrap()
            .iter()
            .filter(|u| u.contains("/events"))
            .count()
    };

    recorder
        .publish(&reference, EventType::Normal, "Synced", "all good")
        .await
        .unwrap();
    recorder
        .publish(&reference, EventType::Normal, "Synced", "all good")
        .await
        .unwrap();
    let list = events.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(list[0].reason.as_deref(), Some("Synced"));
    assert_eq!(
        list[0].reporting_controller.as_deref(),
        Some("example.com/test-controller")
    );
    let after_two = writes();

    // A resync loop publishing the same event: no writes until the series is flushed.
    for _ in 0..20 {
        recorder
            .publish(&reference, EventType::Normal, "Synced", "all good")
            .await
            .unwrap();
    }
    assert_eq!(
        writes(),
        after_two,
        "repeats within the update interval were written"
    );
    recorder.flush().await.unwrap();
    let list = events.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].series.as_ref().map(|s| s.count), Some(22));

    // Another message is another event.
    recorder
        .publish(&reference, EventType::Warning, "Failed", "disk full")
        .await
        .unwrap();
    assert_eq!(
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_keeps_the_counts_and_writes_the_other_series() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    namespace(&server.client(), "app").await;
    let (url, open) = gate(server.addr()).await;
    open.send_replace(true);
    let client = Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let cm = Api::<ConfigMap>::namespaced(server.client(), "app")
        .create(&PostParams::default(), &config_map("f"))
        .await
        .unwrap();
    let good = cm.object_ref(&());
    // An object in a namespace that does not exist: its Event can never be written.
    let mut bad = good.clone();
    bad.namespace = Some("nowhere".into());
    let recorder = Recorder::new(client, "example.com/test-controller", "test-1");
    let events: Api<Event> = Api::namespaced(server.client(), "app");
    let count = || async {
        let list = events.list(&ListParams::default()).await.unwrap().items;
        assert_eq!(list.len(), 1, "{list:?}");
        list[0].series.as_ref().map(|s| s.count)
    };
    for _ in 0..3 {
        recorder
            .publish(&good, EventType::Normal, "Synced", "ok")
            .await
            .unwrap();
        let _ = recorder
            .publish(&bad, EventType::Normal, "Synced", "ok")
            .await;
    }
    assert_eq!(count().await, Some(2), "the third occurrence is pending");

    // The API server is unreachable: the flush fails, the counts stay pending.
    open.send_replace(false);
    assert!(recorder.flush().await.is_err());
    open.send_replace(true);
    // The bad series fails again, the good one is written all the same.
    assert!(recorder.flush().await.is_err());
    assert_eq!(count().await, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_recreated_concurrently_is_patched() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    namespace(&server.client(), "app").await;
    let events: Api<Event> = Api::namespaced(server.client(), "app");
    // Between the recorder's series patch (404: the Event expired) and its recreation,
    // another write recreates the Event with an older count.
    let armed = Arc::new(Mutex::new(None::<Event>));
    let last_request = Arc::new(Mutex::new(String::new()));
    let layer = tower::ServiceBuilder::new()
        .map_request({
            let last_request = last_request.clone();
            move |req: http::Request<kube::client::Body>| {
                *last_request.lock().unwrap() = format!("{} {}", req.method(), req.uri());
                req
            }
        })
        .then({
            let (armed, events, last_request) = (armed.clone(), events.clone(), last_request);
            move |res: Result<http::Response<_>, _>| {
                let (armed, events, last_request) =
                    (armed.clone(), events.clone(), last_request.clone());
                async move {
                    let patch_missed = last_request.lock().unwrap().starts_with("PATCH")
                        && res.as_ref().is_ok_and(|r| r.status() == 404);
                    let rival = armed.lock().unwrap().take().filter(|_| patch_missed);
                    if let Some(rival) = rival {
                        events.create(&PostParams::default(), &rival).await.unwrap();
                    }
                    res
                }
            }
        });
    let config = kube::Config::new(server.url().parse().unwrap());
    let client = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&layer)
        .build();
    let cm = Api::<ConfigMap>::namespaced(server.client(), "app")
        .create(&PostParams::default(), &config_map("r"))
        .await
        .unwrap();
    let reference = cm.object_ref(&());
    let recorder = Recorder::new(client, "example.com/test-controller", "test-1");
    for _ in 0..3 {
        recorder
            .publish(&reference, EventType::Normal, "Synced", "ok")
            .await
            .unwrap();
    }
    let mut event = events.list(&ListParams::default()).await.unwrap().items[0].clone();
    assert_eq!(event.series.as_ref().map(|s| s.count), Some(2));
    events
        .delete(&event.name_any(), &DeleteParams::default())
        .await
        .unwrap();
    event.metadata.resource_version = None;
    event.metadata.uid = None;
    event.metadata.creation_timestamp = None;
    event.metadata.managed_fields = None;
    *armed.lock().unwrap() = Some(event);

    recorder.flush().await.unwrap();
    assert!(armed.lock().unwrap().is_none(), "the race was not staged");
    let list = events.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].series.as_ref().map(|s| s.count), Some(3));
}
