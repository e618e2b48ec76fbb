//! Several kubeforge API servers on one etcd, through real clients (kube-rs, kubectl): writers
//! on both servers lose no update, a watch on one sees the other's writes in order, an informer
//! survives its server's death by reconnecting to the other, the in-server controllers hand over
//! through their Lease, and etcd restarted under load loses nothing acknowledged.
//! Skips without an etcd binary outside CI (see `etcd_support/mod.rs`).

mod kube_support;
#[allow(unused)]
mod kubectl_support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube_support::etcd::{Etcd, server};
use kube_support::{configmap, eventually, namespace};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn value_of(cm: &ConfigMap) -> u64 {
    cm.data
        .as_ref()
        .and_then(|d| d.get("value"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_two_servers_lose_no_update() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, b) = (
        server(&etcd, "/registry").await,
        server(&etcd, "/registry").await,
    );
    let on_a: Api<ConfigMap> = Api::namespaced(a.client(), "default");
    on_a.create(&PostParams::default(), &configmap("counter", &[], "0"))
        .await
        .expect("create");
    let per_writer = 10;
    let mut writers = Vec::new();
    for w in 0..6 {
        let client = if w % 2 == 0 { a.client() } else { b.client() };
        writers.push(tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "default");
            let mut conflicts = 0;
            for _ in 0..per_writer {
                loop {
                    let mut cm = api.get("counter").await.expect("get");
                    let read = cm.metadata.resource_version.clone();
                    let n = value_of(&cm);
                    cm.data = Some(BTreeMap::from([("value".into(), (n + 1).to_string())]));
                    match api.replace("counter", &PostParams::default(), &cm).await {
                        Ok(_) => break,
                        Err(kube::Error::Api(s)) if s.code == 409 => {
                            // A real conflict: the counter moved on since it was read.
                            let now = api.get("counter").await.expect("get");
                            assert_ne!(
                                now.metadata.resource_version, read,
                                "a 409 without a change"
                            );
                            conflicts += 1;
                        }
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for w in writers {
        conflicts += w.await.expect("writer");
    }
    for s in [&a, &b] {
        let api: Api<ConfigMap> = Api::namespaced(s.client(), "default");
        let cm = api.get("counter").await.expect("get");
        assert_eq!(value_of(&cm), 6 * per_writer, "after {conflicts} conflicts");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_on_one_server_sees_the_others_writes_in_order() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, b) = (
        server(&etcd, "/registry").await,
        server(&etcd, "/registry").await,
    );
    let on_a: Api<ConfigMap> = Api::namespaced(a.client(), "default");
    let on_b: Api<ConfigMap> = Api::namespaced(b.client(), "default");
    let start = on_a
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a list resourceVersion");
    let mut stream = on_a
        .watch(&WatchParams::default().timeout(30), &start)
        .await
        .expect("watch")
        .boxed();
    let mut written = Vec::new();
    for i in 0..15 {
        let cm = on_b
            .create(
                &PostParams::default(),
                &configmap(&format!("cm-{i}"), &[], "0"),
            )
            .await
            .expect("create on B");
        written.push((
            "ADDED",
            cm.metadata.name.unwrap_or_default(),
            cm.metadata.resource_version.unwrap_or_default(),
        ));
    }
    let mut cm = on_b.get("cm-3").await.expect("get");
    cm.data = Some(BTreeMap::from([("value".into(), "1".into())]));
    let cm = on_b
        .replace("cm-3", &PostParams::default(), &cm)
        .await
        .expect("update on B");
    written.push((
        "MODIFIED",
        "cm-3".into(),
        cm.metadata.resource_version.unwrap_or_default(),
    ));
    on_b.delete("cm-5", &DeleteParams::default())
        .await
        .expect("delete on B");
    let mut seen = Vec::new();
    while seen.len() < written.len() + 1 {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .expect("an event in time")
            .expect("the watch goes on")
            .expect("the watch is open");
        match event {
            WatchEvent::Added(o) => seen.push((
                "ADDED",
                o.metadata.name.unwrap_or_default(),
                o.metadata.resource_version.unwrap_or_default(),
            )),
            WatchEvent::Modified(o) => seen.push((
                "MODIFIED",
                o.metadata.name.unwrap_or_default(),
                o.metadata.resource_version.unwrap_or_default(),
            )),
            WatchEvent::Deleted(o) => seen.push((
                "DELETED",
                o.metadata.name.unwrap_or_default(),
                o.metadata.resource_version.unwrap_or_default(),
            )),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(
        &seen[..written.len()],
        &written[..],
        "A sees B's writes as B acknowledged them, in order"
    );
    assert_eq!(
        (seen[written.len()].0, seen[written.len()].1.as_str()),
        ("DELETED", "cm-5")
    );
    let rvs: Vec<u64> = seen
        .iter()
        .map(|(_, _, rv)| rv.parse().unwrap_or(0))
        .collect();
    assert!(
        rvs.windows(2).all(|w| w[0] < w[1]),
        "increasing resourceVersions: {rvs:?}"
    );
}

/// A TCP proxy whose target can be switched: what a load balancer in front of several API
/// servers does when one of them dies.
async fn proxy(target: Arc<Mutex<SocketAddr>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = *target.lock().expect("target");
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

fn names(items: impl IntoIterator<Item = ConfigMap>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = items
        .into_iter()
        .map(|o| {
            (
                o.metadata.name.unwrap_or_default(),
                o.metadata.resource_version.unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_informer_stays_consistent_when_its_server_dies() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, b) = (
        server(&etcd, "/registry").await,
        server(&etcd, "/registry").await,
    );
    let target = Arc::new(Mutex::new(a.addr()));
    let front = proxy(target.clone()).await;
    let mut config = kube::Config::new(format!("http://{front}").parse().expect("url"));
    config.root_cert = Some(Vec::new());
    let client = kube::Client::try_from(config).expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let (store, writer) = reflector::store();
    let informer = tokio::spawn(
        reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .for_each(|_| async {}),
    );
    let on_b: Api<ConfigMap> = Api::namespaced(b.client(), "default");
    for i in 0..10 {
        on_b.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i}"), &[], "0"),
        )
        .await
        .expect("create on B");
    }
    let converged = |store: reflector::Store<ConfigMap>, api: Api<ConfigMap>| async move {
        eventually("the informer to hold what the server lists", || async {
            let want = names(api.list(&ListParams::default()).await.ok()?.items);
            let have = names(store.state().iter().map(|o| (**o).clone()));
            (want == have).then_some(())
        })
        .await
    };
    converged(store.clone(), on_b.clone()).await;
    // A dies; the informer's connections break and it reconnects, through the front, to B.
    *target.lock().expect("target") = b.addr();
    a.shutdown().await;
    for i in 0..5 {
        on_b.delete(&format!("cm-{i}"), &DeleteParams::default())
            .await
            .expect("delete on B");
        on_b.create(
            &PostParams::default(),
            &configmap(&format!("new-{i}"), &[], "1"),
        )
        .await
        .expect("create on B");
    }
    converged(store, on_b).await;
    informer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_writes_on_one_server_and_reads_and_watches_on_the_other() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let Some(binary) = kubectl_support::kubectl_binary("1.33") else {
        return;
    };
    let (a, b) = (
        server(&etcd, "/registry").await,
        server(&etcd, "/registry").await,
    );
    let on_a = kubectl_support::Kubectl::new(binary.clone(), &a).expect("kubectl A");
    let on_b = kubectl_support::Kubectl::new(binary, &b).expect("kubectl B");
    let manifest = on_a
        .manifest(
            "app.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  mode: one\n",
        )
        .expect("manifest");
    let applied = on_a.run(&["apply", "-f", &manifest]).await.expect("apply");
    assert!(applied.success, "{}", applied.stderr);
    let got = on_b
        .run(&["get", "configmap", "app", "-o", "jsonpath={.data.mode}"])
        .await
        .expect("get");
    assert_eq!(
        (got.success, got.stdout.as_str()),
        (true, "one"),
        "{}",
        got.stderr
    );

    let mut watching = on_b
        .spawn(&["get", "configmaps", "--watch", "-o", "name"])
        .expect("watch on B");
    let stdout = watching.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let created = on_a
        .run(&["create", "configmap", "later", "--from-literal=k=v"])
        .await
        .expect("create");
    assert!(created.success, "{}", created.stderr);
    let saw_later = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim() == "configmap/later" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        saw_later,
        Ok(true),
        "kubectl's watch on B shows the ConfigMap created on A"
    );
    let _ = watching.kill().await;

    let deleted = on_b
        .run(&["delete", "configmap", "app"])
        .await
        .expect("delete");
    assert!(deleted.success, "{}", deleted.stderr);
    let gone = on_a.run(&["get", "configmap", "app"]).await.expect("get");
    assert!(!gone.success);
    assert!(
        gone.stderr.contains("configmaps \"app\" not found"),
        "{}",
        gone.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_run_in_one_server_and_hand_over() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, b) = (
        server(&etcd, "/registry").await,
        server(&etcd, "/registry").await,
    );
    let leases: Api<Lease> = Api::namespaced(b.client(), "kube-system");
    let holder = eventually("a lease holder", || async {
        leases
            .get("kubeforge-controllers")
            .await
            .ok()?
            .spec?
            .holder_identity
    })
    .await;
    // The namespace lifecycle controller (in whichever server leads) finalizes a deletion.
    namespace(&b.client(), "doomed").await;
    let namespaces: Api<Namespace> = Api::all(b.client());
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete namespace");
    eventually("the namespace to be finalized", || async {
        matches!(namespaces.get("doomed").await, Err(kube::Error::Api(s)) if s.code == 404)
            .then_some(())
    })
    .await;
    // The holder stops; the other server takes the lease over once it expires and then runs
    // the controllers.
    // The holder's identity starts with its address.
    let (survivor, stopped) = if holder.starts_with(&format!("{}_", a.addr())) {
        (b, a)
    } else {
        assert!(holder.starts_with(&format!("{}_", b.addr())), "{holder}");
        (a, b)
    };
    stopped.shutdown().await;
    let leases: Api<Lease> = Api::namespaced(survivor.client(), "kube-system");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let lease = leases.get("kubeforge-controllers").await.expect("lease");
        let spec = lease.spec.unwrap_or_default();
        if spec.holder_identity.as_ref() != Some(&holder) {
            assert!(spec.lease_transitions.unwrap_or(0) >= 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease was not taken over"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    namespace(&survivor.client(), "doomed-too").await;
    let namespaces: Api<Namespace> = Api::all(survivor.client());
    namespaces
        .delete("doomed-too", &DeleteParams::default())
        .await
        .expect("delete namespace");
    eventually("the new holder to finalize the namespace", || async {
        matches!(namespaces.get("doomed-too").await, Err(kube::Error::Api(s)) if s.code == 404)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_restarted_under_load_loses_nothing_acknowledged() {
    let Some(mut etcd) = Etcd::start().await else {
        return;
    };
    let (a, b) = (
        server(&etcd, "/registry").await,
        server(&etcd, "/registry").await,
    );
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = if w % 2 == 0 { a.client() } else { b.client() };
        let (acknowledged, failures, stop) = (acknowledged.clone(), failures.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "default");
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let name = format!("w{w}-{i}");
                i += 1;
                match api
                    .create(&PostParams::default(), &configmap(&name, &[], "0"))
                    .await
                {
                    Ok(_) => acknowledged.lock().expect("lock").push(name),
                    // While etcd is down: 5xx answers (or a broken connection), as upstream.
                    Err(kube::Error::Api(s)) if s.code >= 500 => {
                        failures
                            .lock()
                            .expect("lock")
                            .push(format!("{} {}", s.code, s.message));
                    }
                    Err(kube::Error::Api(s)) => panic!("unexpected {s:?}"),
                    Err(e) => failures.lock().expect("lock").push(e.to_string()),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    etcd.restart().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.await.expect("writer");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(!acknowledged.is_empty());
    for s in [&a, &b] {
        let api: Api<ConfigMap> = Api::namespaced(s.client(), "default");
        let listed = eventually("a list after the restart", || async {
            api.list(&ListParams::default()).await.ok()
        })
        .await;
        let names: std::collections::HashSet<String> = listed
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|n| !names.contains(*n))
            .collect();
        assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    }
    eprintln!(
        "{} writes acknowledged, {} failed while etcd restarted",
        acknowledged.len(),
        failures.lock().expect("lock").len()
    );
}
