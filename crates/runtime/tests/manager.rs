//! The manager against an in-process kubeforge API server: leader election fails over
//! between two managers (standby leads after the lease expires, never two leaders at once,
//! by recorded leading intervals; a leader keeps renewing while its controllers drain on
//! shutdown), shutdown does not wait for an unreachable API server, a leader whose lease is
//! taken stops its controllers, metrics and probes answer over HTTP (readyz 503 before the
//! caches sync, 200 after). Short lease durations keep the wall time low.

mod common;

use common::{black_hole, eventually, gate, namespace};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubeforge_apiserver::ApiServer;
use kubeforge_runtime::controller::{Action, Controller, ReconcileError, Request};
use kubeforge_runtime::manager::{LeaderElectionConfig, Manager};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

const LEASE: Duration = Duration::from_secs(2);
const RENEW: Duration = Duration::from_millis(1500);
const RETRY: Duration = Duration::from_millis(250);
/// A generous bound for hand-overs on a loaded machine: they take about LEASE + RETRY.
const LIVENESS: Duration = LEASE
    .saturating_add(RETRY.saturating_mul(3))
    .saturating_add(Duration::from_secs(2));

type Log = Arc<Mutex<Vec<(String, String)>>>;

/// A manager named `id` whose controller logs (id, request) per reconcile.
fn manager(client: Client, id: &str, log: Log, release: bool) -> Manager {
    let election = LeaderElectionConfig::new("test-lease", "default", id)
        .durations(LEASE, RENEW, RETRY)
        .release_on_cancel(release);
    let mut manager = Manager::builder(client)
        .leader_election(election)
        .graceful_shutdown_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let ctx = Arc::new((id.to_string(), log));
    manager.add(Controller::<ConfigMap>::new("log").build(
        |ctx: Arc<(String, Log)>, req: Request| async move {
            ctx.1.lock().unwrap().push((ctx.0.clone(), req.to_string()));
            Ok::<_, ReconcileError>(Action::await_change())
        },
        ctx,
    ));
    manager
}

/// Leading intervals [start, end); `None`: still leading.
type Intervals = Arc<Mutex<Vec<(Instant, Option<Instant>)>>>;

/// Records the leading intervals [start, end) of a manager from its status.
fn record_intervals(mut status: watch::Receiver<bool>) -> Intervals {
    let intervals: Intervals = Arc::default();
    let out = intervals.clone();
    tokio::spawn(async move {
        loop {
            let leading = *status.borrow_and_update();
            {
                let mut v = out.lock().unwrap();
                match (leading, v.last_mut()) {
                    (true, Some((_, None))) => {}
                    (true, _) => v.push((Instant::now(), None)),
                    (false, Some((_, end @ None))) => *end = Some(Instant::now()),
                    (false, _) => {}
                }
            }
            if status.changed().await.is_err() {
                return;
            }
        }
    });
    intervals
}

fn leading(intervals: &Intervals) -> bool {
    intervals
        .lock()
        .unwrap()
        .last()
        .is_some_and(|(_, end)| end.is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_fails_over_and_never_has_two_leaders() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "one"}})).unwrap(),
    )
    .await
    .unwrap();
    let log: Log = Arc::default();

    let a = manager(client.clone(), "a", log.clone(), false);
    let a_intervals = record_intervals(a.leader_status());
    let (stop_a, a_stopped) = oneshot::channel::<()>();
    let a_task = tokio::spawn(a.run(async {
        let _ = a_stopped.await;
    }));
    eventually("a leads", || async { leading(&a_intervals) }).await;

    let b = manager(client.clone(), "b", log.clone(), false);
    let b_intervals = record_intervals(b.leader_status());
    let (stop_b, b_stopped) = oneshot::channel::<()>();
    let b_task = tokio::spawn(b.run(async {
        let _ = b_stopped.await;
    }));
    eventually("a reconciled", || async {
        log.lock().unwrap().iter().any(|(id, _)| id == "a")
    })
    .await;
    // B stays standby for longer than a lease while A renews.
    tokio::time::sleep(LEASE + RETRY * 2).await;
    assert!(!leading(&b_intervals), "b leads while a renews");
    assert!(
        log.lock().unwrap().iter().all(|(id, _)| id == "a"),
        "b reconciled as standby"
    );

    // A stops without releasing: B must wait out the lease, then lead.
    stop_a.send(()).unwrap();
    a_task.await.unwrap().unwrap();
    eventually("a's stop recorded", || async { !leading(&a_intervals) }).await;
    let a_end = a_intervals.lock().unwrap().last().unwrap().1.unwrap();
    eventually("b leads", || async { leading(&b_intervals) }).await;
    let b_start = b_intervals.lock().unwrap()[0].0;
    assert!(b_start >= a_end, "b started leading before a stopped");
    let took = b_start - a_end;
    assert!(took <= LIVENESS, "failover took {took:?}");
    eventually("b reconciled (caches were warm)", || async {
        log.lock().unwrap().iter().any(|(id, _)| id == "b")
    })
    .await;

    // A comes back as standby; B shuts down without releasing the lease (built with
    // release = false): A takes over once the lease has expired.
    let a2 = manager(client.clone(), "a", log.clone(), false);
    let a2_intervals = record_intervals(a2.leader_status());
    let (stop_a2, a2_stopped) = oneshot::channel::<()>();
    let a2_task = tokio::spawn(a2.run(async {
        let _ = a2_stopped.await;
    }));
    tokio::time::sleep(RETRY * 2).await;
    assert!(!leading(&a2_intervals));
    drop(stop_b);
    b_task.await.unwrap().unwrap();
    eventually("a leads again", || async { leading(&a2_intervals) }).await;
    stop_a2.send(()).unwrap();
    a2_task.await.unwrap().unwrap();
    eventually("every stop recorded", || async {
        !leading(&a2_intervals) && !leading(&b_intervals)
    })
    .await;

    // Never two leaders: the recorded intervals are disjoint.
    let mut all: Vec<(Instant, Instant)> = [&a_intervals, &b_intervals, &a2_intervals]
        .iter()
        .flat_map(|i| i.lock().unwrap().clone())
        .map(|(s, e)| (s, e.expect("every manager stopped leading")))
        .collect();
    all.sort();
    assert_eq!(all.len(), 3);
    for pair in all.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping leadership: {all:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_on_cancel_hands_over_at_once_and_a_lost_lease_stops_controllers() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    let log: Log = Arc::default();
    let a = manager(client.clone(), "a", log.clone(), true);
    let a_intervals = record_intervals(a.leader_status());
    let (stop_a, a_stopped) = oneshot::channel::<()>();
    let a_task = tokio::spawn(a.run(async {
        let _ = a_stopped.await;
    }));
    eventually("a leads", || async { leading(&a_intervals) }).await;

    // Someone else takes the lease (a newer holder with a long lease): A cannot renew and
    // stops leading within the renew deadline.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let taken = Instant::now();
    leases
        .patch(
            "test-lease",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"holderIdentity": "intruder", "leaseDurationSeconds": 3600}}),
            ),
        )
        .await
        .unwrap();
    eventually("a stops leading", || async { !leading(&a_intervals) }).await;
    assert!(taken.elapsed() <= LIVENESS, "{:?}", taken.elapsed());

    // The intruder releases (holder cleared): A leads again.
    leases
        .patch(
            "test-lease",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"holderIdentity": null, "leaseDurationSeconds": 1}})),
        )
        .await
        .unwrap();
    eventually("a leads again", || async { leading(&a_intervals) }).await;

    // A shuts down releasing the lease; B takes it within about one retry period.
    let b = manager(client.clone(), "b", log.clone(), true);
    let b_intervals = record_intervals(b.leader_status());
    let (stop_b, b_stopped) = oneshot::channel::<()>();
    let b_task = tokio::spawn(b.run(async {
        let _ = b_stopped.await;
    }));
    tokio::time::sleep(RETRY * 2).await;
    stop_a.send(()).unwrap();
    a_task.await.unwrap().unwrap();
    eventually("a's stop recorded", || async { !leading(&a_intervals) }).await;
    let a_end = a_intervals.lock().unwrap().last().unwrap().1.unwrap();
    eventually("b leads", || async { leading(&b_intervals) }).await;
    let took = b_intervals.lock().unwrap()[0].0 - a_end;
    assert!(took < LEASE, "released lease took {took:?} to change hands");
    stop_b.send(()).unwrap();
    b_task.await.unwrap().unwrap();
}

/// When reconciles ran: (manager id, started, finished).
type Runs = Arc<Mutex<Vec<(String, Instant, Option<Instant>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_leader_keeps_renewing_so_no_standby_leads_before_it_stopped() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    namespace(&client, "app").await;
    Api::<ConfigMap>::namespaced(client.clone(), "app")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "slow"}})).unwrap(),
        )
        .await
        .unwrap();
    // A's reconcile outlasts what the lease covers without renewals (LEASE - RENEW, even
    // LEASE); the graceful shutdown timeout lets it finish.
    let reconcile_time = LEASE + Duration::from_secs(1);
    let runs: Runs = Arc::default();
    let slow_manager = |id: &str| {
        let election = LeaderElectionConfig::new("drain-lease", "default", id)
            .durations(LEASE, RENEW, RETRY)
            .release_on_cancel(false);
        let mut manager = Manager::builder(client.clone())
            .leader_election(election)
            .graceful_shutdown_timeout(reconcile_time * 3)
            .build()
            .unwrap();
        let ctx = Arc::new((id.to_string(), runs.clone()));
        manager.add(Controller::<ConfigMap>::new("slow").build(
            move |ctx: Arc<(String, Runs)>, _req: Request| async move {
                let i = {
                    let mut runs = ctx.1.lock().unwrap();
                    runs.push((ctx.0.clone(), Instant::now(), None));
                    runs.len() - 1
                };
                if ctx.0 == "a" {
                    tokio::time::sleep(reconcile_time).await;
                }
                ctx.1.lock().unwrap()[i].2 = Some(Instant::now());
                Ok::<_, ReconcileError>(Action::await_change())
            },
            ctx,
        ));
        manager
    };

    let a = slow_manager("a");
    let a_intervals = record_intervals(a.leader_status());
    let (stop_a, a_stopped) = oneshot::channel::<()>();
    let a_task = tokio::spawn(a.run(async {
        let _ = a_stopped.await;
    }));
    eventually("a reconciles", || async {
        runs.lock().unwrap().iter().any(|(id, _, _)| id == "a")
    })
    .await;
    let b = slow_manager("b");
    let b_intervals = record_intervals(b.leader_status());
    let (stop_b, b_stopped) = oneshot::channel::<()>();
    let b_task = tokio::spawn(b.run(async {
        let _ = b_stopped.await;
    }));

    // A shuts down with its reconcile in flight: B campaigns all through A's drain.
    stop_a.send(()).unwrap();
    a_task.await.unwrap().unwrap();
    eventually("a's stop recorded", || async { !leading(&a_intervals) }).await;
    let a_end = a_intervals.lock().unwrap().last().unwrap().1.unwrap();
    let a_finished = runs.lock().unwrap()[0]
        .2
        .expect("a's reconcile finished within the graceful timeout (not aborted)");
    eventually("b leads", || async { leading(&b_intervals) }).await;
    let b_start = b_intervals.lock().unwrap()[0].0;
    assert!(
        b_start >= a_finished && b_start >= a_end,
        "b led {:?} before a's controllers stopped",
        a_end.max(a_finished) - b_start
    );
    eventually("b reconciles", || async {
        runs.lock().unwrap().iter().any(|(id, _, _)| id == "b")
    })
    .await;
    let b_reconciled = runs
        .lock()
        .unwrap()
        .iter()
        .find(|(id, _, _)| id == "b")
        .unwrap()
        .1;
    assert!(
        b_reconciled >= a_finished,
        "reconciles of a and b overlapped"
    );
    stop_b.send(()).unwrap();
    b_task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_an_unreachable_api_server() {
    let url = black_hole().await;
    let client = Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let election = LeaderElectionConfig::new("test-lease", "default", "a")
        .durations(LEASE, RENEW, RETRY)
        .release_on_cancel(true);
    let mut manager = Manager::builder(client)
        .leader_election(election)
        .graceful_shutdown_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    manager.add(Controller::<ConfigMap>::new("unreached").build(
        |_: Arc<()>, _req: Request| async move { Ok::<_, ReconcileError>(Action::await_change()) },
        Arc::new(()),
    ));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async {
        let _ = stopped.await;
    }));
    // The campaign's first request hangs (kube's read timeout is minutes long).
    tokio::time::sleep(RETRY * 2).await;
    stop.send(()).unwrap();
    // Shutdown is bounded by the release timeout (RENEW) and the graceful timeout; a hung
    // campaign or release would take kube's read timeout (295 s).
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("shutdown waited for the unreachable API server")
        .unwrap()
        .unwrap();
}

/// GET `path` over plain HTTP/1.0; answers (status, body).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_probes_answer_over_http() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    namespace(&server.client(), "app").await;
    let (url, open) = gate(server.addr()).await;
    let client = Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let mut manager = Manager::builder(client)
        .metrics_addr("127.0.0.1:0".parse().unwrap())
        .health_addr("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let log: Log = Arc::default();
    let ctx = Arc::new(log.clone());
    manager.add(Controller::<ConfigMap>::new("probed").build(
        |log: Arc<Log>, req: Request| async move {
            log.lock().unwrap().push(("m".into(), req.to_string()));
            Ok::<_, ReconcileError>(Action::await_change())
        },
        ctx,
    ));
    let metrics_addr = manager.metrics_local_addr().unwrap();
    let health_addr = manager.health_local_addr().unwrap();
    assert_ne!(metrics_addr, health_addr);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(manager.run(async {
        let _ = stopped.await;
    }));

    // The API server is unreachable: alive, not ready.
    eventually("healthz up", || async {
        TcpStream::connect(health_addr).await.is_ok()
    })
    .await;
    assert_eq!(http_get(health_addr, "/healthz").await, (200, "ok".into()));
    assert_eq!(http_get(health_addr, "/readyz").await.0, 503);

    open.send_replace(true);
    Api::<ConfigMap>::namespaced(server.client(), "app")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "m"}})).unwrap(),
        )
        .await
        .unwrap();
    eventually("readyz 200 once synced", || async {
        http_get(health_addr, "/readyz").await.0 == 200
    })
    .await;
    eventually("reconciled", || async { !log.lock().unwrap().is_empty() }).await;
    let (status, body) = http_get(metrics_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(
            "controller_runtime_reconcile_total{controller=\"probed\",result=\"success\"}"
        ),
        "{body}"
    );
    assert!(
        body.contains("workqueue_adds_total{name=\"probed\",controller=\"probed\"}"),
        "{body}"
    );
    assert!(body.contains("# EOF"));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("graceful shutdown is bounded")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(metrics_addr).await.is_err(),
        "metrics still served after shutdown"
    );
}
