//! Several kubeforge API servers on one etcd, through real clients (kube-rs, kubectl): writers
//! on both servers lose no update, a watch on one sees the other's writes in order, an informer
//! survives its server's death by reconnecting to the other, the in-server controllers hand over
//! through their Lease, etcd restarted under load loses nothing acknowledged, and Services
//! created on both servers at once never share a cluster IP.
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
use kube_support::{configmap, eventually, namespace, raw};
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

/// `(namespace/name, data.value)` of a raw list's items named `cm-…` (the test's; not the
/// servers' own), in the order served.
fn raw_items(list: &serde_json::Value) -> Vec<(String, String)> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|o| {
                    o["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("cm-"))
                })
                .map(|o| {
                    (
                        format!(
                            "{}/{}",
                            o["metadata"]["namespace"].as_str().unwrap_or(""),
                            o["metadata"]["name"].as_str().unwrap_or("")
                        ),
                        o["data"]["value"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One GET over a fresh plain-HTTP connection, without any client's retries: `(code, body)`.
async fn bare_get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("response");
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").expect("a body");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = body.trim();
    // A chunked body: the JSON is between the chunk sizes.
    let json = &body[body.find('{').unwrap_or(0)..=body.rfind('}').unwrap_or(body.len() - 1)];
    (code, serde_json::from_str(json).expect("a JSON body"))
}

/// Every page of a list from `uri` (which ends with its query), following continue tokens.
async fn all_pages(client: &kube::Client, uri: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut items = Vec::new();
    let mut versions = Vec::new();
    let mut next = uri.to_string();
    loop {
        let (code, page) = raw(client, "GET", &next, None, None).await;
        assert_eq!(code, 200, "{page}");
        items.extend(raw_items(&page));
        versions.push(
            page["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
        match page["metadata"]["continue"].as_str() {
            Some(token) if !token.is_empty() => {
                let base = uri.split('?').next().unwrap_or(uri);
                next = format!("{base}?limit=2&continue={token}");
            }
            _ => return (items, versions),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_at_old_revisions_are_read_from_etcd_until_it_compacts_them() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let a = server(&etcd, "/registry").await;
    // Two namespaces where etcd's key order ("team-b/" before "team/") differs from ordering
    // by namespace then name: pages must still cover every object exactly once.
    for ns in ["team", "team-b"] {
        namespace(&a.client(), ns).await;
        let api: Api<ConfigMap> = Api::namespaced(a.client(), ns);
        for i in 0..3 {
            api.create(
                &PostParams::default(),
                &configmap(&format!("cm-{i}"), &[], "0"),
            )
            .await
            .expect("create");
        }
    }
    let on_a: Api<ConfigMap> = Api::all(a.client());
    let then = on_a
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a resourceVersion");
    // Afterwards every object changes and one goes.
    for ns in ["team", "team-b"] {
        let api: Api<ConfigMap> = Api::namespaced(a.client(), ns);
        for i in 0..3 {
            api.replace(
                &format!("cm-{i}"),
                &PostParams::default(),
                &configmap(&format!("cm-{i}"), &[], "1"),
            )
            .await
            .expect("update");
        }
    }
    Api::<ConfigMap>::namespaced(a.client(), "team")
        .delete("cm-0", &DeleteParams::default())
        .await
        .expect("delete");
    // B starts now: its cache begins after `then`, so only etcd holds that state.
    let b = server(&etcd, "/registry").await;
    let client = b.client();
    let old: Vec<(String, String)> = ["team-b", "team"]
        .iter()
        .flat_map(|ns| (0..3).map(move |i| (format!("{ns}/cm-{i}"), "0".to_string())))
        .collect();
    let (code, exact) = raw(
        &client,
        "GET",
        &format!("/api/v1/configmaps?resourceVersion={then}&resourceVersionMatch=Exact"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{exact}");
    assert_eq!(exact["metadata"]["resourceVersion"], then.as_str());
    assert_eq!(raw_items(&exact), old);
    // The legacy form with a limit reads exactly that revision too, page by page.
    let (paged, versions) = all_pages(
        &client,
        &format!("/api/v1/configmaps?resourceVersion={then}&limit=2"),
    )
    .await;
    assert_eq!(paged, old);
    assert!(versions.iter().all(|v| *v == then), "{versions:?}");
    // Pages of the latest state, in limits of 2, cover it exactly once.
    let (latest, versions) = all_pages(&client, "/api/v1/configmaps?limit=2").await;
    let now: Vec<(String, String)> = ["team-b/cm-0", "team-b/cm-1", "team-b/cm-2"]
        .into_iter()
        .chain(["team/cm-1", "team/cm-2"])
        .map(|k| (k.to_string(), "1".to_string()))
        .collect();
    assert_eq!(latest, now);
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");
    // A first page at the old revision, then etcd compacts it away.
    let (_, first) = raw(
        &client,
        "GET",
        &format!("/api/v1/configmaps?resourceVersion={then}&resourceVersionMatch=Exact&limit=2"),
        None,
        None,
    )
    .await;
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let mut kv = etcd.client().await.kv_client();
    let revision = kv
        .get("/registry", None)
        .await
        .expect("etcd answers")
        .header()
        .expect("a header")
        .revision();
    kv.compact(revision, None).await.expect("compact");
    let (code, gone) = raw(
        &client,
        "GET",
        &format!("/api/v1/configmaps?resourceVersion={then}&resourceVersionMatch=Exact"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 410, "{gone}");
    assert_eq!(gone["reason"], "Expired");
    assert_eq!(
        gone["message"],
        "The resourceVersion for the provided list is too old."
    );
    // The continue token's snapshot is gone: 410 with a token that continues at the latest
    // state after the same key (an inconsistent list the client may accept).
    let (code, expired) = raw(
        &client,
        "GET",
        &format!("/api/v1/configmaps?limit=2&continue={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 410, "{expired}");
    assert_eq!(expired["reason"], "Expired");
    assert!(
        expired["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token"),
        "{expired}"
    );
    let inconsistent = expired["metadata"]["continue"]
        .as_str()
        .expect("a token at the latest state");
    let (rest, _) = all_pages(
        &client,
        &format!("/api/v1/configmaps?limit=2&continue={inconsistent}"),
    )
    .await;
    assert_eq!(rest, now[2..].to_vec());
    // NotOlderThan a compacted revision is the latest state; a revision etcd has not reached
    // is 504 Too large resource version, as upstream's etcd3 store answers it.
    let (code, fresh) = raw(
        &client,
        "GET",
        &format!(
            "/api/v1/configmaps?resourceVersion={then}&resourceVersionMatch=NotOlderThan&limit=10"
        ),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{fresh}");
    assert_eq!(raw_items(&fresh), now);
    // (Over a bare connection: kube-rs retries 504s.)
    let future = revision + 1000;
    let (code, early) = bare_get(
        b.addr(),
        &format!(
            "/api/v1/configmaps?resourceVersion={future}&resourceVersionMatch=NotOlderThan&limit=10"
        ),
    )
    .await;
    assert_eq!(code, 504, "{early}");
    assert_eq!(early["reason"], "Timeout");
    assert!(
        early["message"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("Too large resource version: {future}, current: ")),
        "{early}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_reaches_etcd_over_mutual_tls() {
    let Some(etcd) = Etcd::start_tls().await else {
        return;
    };
    let tls = etcd.tls().expect("etcd on https");
    let mut config = etcd.config("/registry");
    config.ca_file = Some(tls.ca_file.clone());
    config.cert_file = Some(tls.client_cert_file.clone());
    config.key_file = Some(tls.client_key_file.clone());
    let server = kubeforge_apiserver::ApiServer::builder()
        .etcd(config.clone())
        .start()
        .await
        .expect("a server on etcd over TLS");
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let created = api
        .create(&PostParams::default(), &configmap("over-tls", &[], "0"))
        .await
        .expect("create");
    let rv = created.metadata.resource_version.clone().expect("rv");
    let mut events = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    api.replace(
        "over-tls",
        &PostParams::default(),
        &configmap("over-tls", &[], "1"),
    )
    .await
    .expect("update");
    match tokio::time::timeout(Duration::from_secs(10), events.try_next()).await {
        Ok(Ok(Some(WatchEvent::Modified(cm)))) => assert_eq!(value_of(&cm), 1),
        other => panic!("expected the update, got {other:?}"),
    }
    let listed = api.list(&ListParams::default()).await.expect("list");
    assert!(
        listed
            .items
            .iter()
            .any(|cm| cm.metadata.name.as_deref() == Some("over-tls") && value_of(cm) == 1)
    );
    // It is in etcd, which only a client with a certificate its CA signed can read.
    let mut kv = etcd.client().await.kv_client();
    let stored = kv
        .get("/registry/configmaps/default/over-tls", None)
        .await
        .expect("read over TLS");
    assert_eq!(stored.kvs().len(), 1);
    server.shutdown().await;

    // A CA that did not sign etcd's certificate: the server does not start, and says why.
    let other = kubeforge_apiserver::tls::pki::CertificateAuthority::generate().expect("a CA");
    let dir = tempfile::tempdir().expect("a directory");
    let wrong_ca = dir.path().join("other-ca.crt");
    std::fs::write(&wrong_ca, &other.pem.cert).expect("write");
    let mut wrong = config.clone();
    wrong.ca_file = Some(wrong_ca);
    let err = kubeforge_apiserver::ApiServer::builder()
        .etcd(wrong)
        .start()
        .await
        .expect_err("a CA that did not sign etcd's certificate is refused");
    let message = err.to_string();
    assert!(
        message.contains(&etcd.url()) && message.contains("certificate"),
        "{message}"
    );
    // Without a client certificate, etcd (--client-cert-auth) refuses the connection.
    let mut anonymous = config.clone();
    anonymous.cert_file = None;
    anonymous.key_file = None;
    let err = kubeforge_apiserver::ApiServer::builder()
        .etcd(anonymous)
        .start()
        .await
        .expect_err("etcd requires a client certificate");
    assert!(err.to_string().contains(&etcd.url()), "{err}");
    // A missing file is named.
    let mut missing = config;
    missing.ca_file = Some(dir.path().join("absent.crt"));
    let err = kubeforge_apiserver::ApiServer::builder()
        .etcd(missing)
        .start()
        .await
        .expect_err("a missing CA file");
    assert!(err.to_string().contains("absent.crt"), "{err}");
}

/// What a create and a `resourceVersion=0` list cost etcd, counted from etcd's own metrics: a
/// create is one transaction and no read (the existence check is the transaction's compare),
/// and a list at resourceVersion 0 is served from this server's cache as it is, with no round
/// trip to etcd, as upstream's watch cache serves "any" lists (informers' first lists and the
/// ResourceQuota admission plugin's read of the namespace's quotas, on every create, are such
/// lists). Measured once the server is quiet after its start; the only other requests in the
/// window are then the controllers' Lease renewals (every 2 s at most, each a read of etcd's
/// revision and a transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_is_one_transaction_and_an_any_list_no_request() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let server = server(&etcd, "/registry").await;
    let client = server.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("warm", &[], "0"))
        .await
        .expect("create");
    // The in-server controllers' first passes after start (each lists what it keeps) are
    // over once etcd has served no read for half a second.
    let reads =
        |m: &std::collections::BTreeMap<String, f64>| m.get("Range").copied().unwrap_or(0.0);
    let mut last = kube_support::etcd::grpc_requests(&etcd.url()).await;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = kube_support::etcd::grpc_requests(&etcd.url()).await;
        let quiet = reads(&now) == reads(&last);
        last = now;
        if quiet {
            break;
        }
    }
    const N: usize = 40;
    let before = kube_support::etcd::grpc_requests(&etcd.url()).await;
    let started = std::time::Instant::now();
    for i in 0..N {
        cms.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i}"), &[], "0"),
        )
        .await
        .expect("create");
        let listed = cms
            .list(&ListParams::default().match_any())
            .await
            .expect("list at resourceVersion 0");
        assert!(!listed.items.is_empty());
    }
    let after = kube_support::etcd::grpc_requests(&etcd.url()).await;
    let delta = |m: &str| after.get(m).unwrap_or(&0.0) - before.get(m).unwrap_or(&0.0);
    // Lease renewals in the window: at most one per started 2 s, plus one.
    let renewals = (started.elapsed().as_secs_f64() / 2.0).ceil() + 1.0;
    assert!(
        delta("Txn") >= N as f64 && delta("Txn") <= N as f64 + renewals,
        "{N} creates made {} transactions ({renewals} renewals allowed): {after:?}",
        delta("Txn")
    );
    assert!(
        delta("Range") <= renewals,
        "{N} creates and {N} lists at resourceVersion 0 made {} reads ({renewals} renewals allowed)",
        delta("Range")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_created_on_two_servers_never_share_a_cluster_ip() {
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::api::networking::v1::{IPAddress, ServiceCIDR};
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, b) = (
        server(&etcd, "/registry").await,
        server(&etcd, "/registry").await,
    );
    let pp = PostParams::default();
    // A range of six addresses, allocated from before the default one: every random pick on
    // both servers lands in it first, so they race for the same few addresses.
    let tiny: ServiceCIDR = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "a-tiny"}, "spec": {"cidrs": ["10.200.0.0/29"]}}),
    )
    .expect("servicecidr");
    Api::<ServiceCIDR>::all(a.client())
        .create(&pp, &tiny)
        .await
        .expect("a-tiny");
    let svc = |name: String, ip: Option<&str>| -> Service {
        let mut spec = serde_json::json!({"ports": [{"port": 80}]});
        if let Some(ip) = ip {
            spec["clusterIP"] = serde_json::json!(ip);
        }
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "spec": spec}))
            .expect("service")
    };
    // Both ask for one address at once: one gets it.
    let (on_a, on_b) = (
        Api::<Service>::namespaced(a.client(), "default"),
        Api::<Service>::namespaced(b.client(), "default"),
    );
    let (want_a, want_b) = (
        svc("want-a".into(), Some("10.96.0.10")),
        svc("want-b".into(), Some("10.96.0.10")),
    );
    let (ra, rb) = tokio::join!(on_a.create(&pp, &want_a), on_b.create(&pp, &want_b));
    let refused: Vec<_> = [ra, rb].into_iter().filter_map(Result::err).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .to_string()
            .contains("failed to allocate IP 10.96.0.10: provided IP is already allocated"),
        "{}",
        refused[0]
    );
    // Twelve Services without an address, six through each server, all at once.
    let creates = (0..12).map(|i| {
        let api = if i % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        let service = svc(format!("s{i}"), None);
        async move { api.create(&PostParams::default(), &service).await }
    });
    let created: Vec<Service> = futures::future::join_all(creates)
        .await
        .into_iter()
        .map(|r| r.expect("create"))
        .collect();
    let ips: Vec<String> = created
        .iter()
        .map(|s| {
            s.spec
                .as_ref()
                .and_then(|s| s.cluster_ip.clone())
                .expect("ip")
        })
        .collect();
    let distinct: std::collections::BTreeSet<&String> = ips.iter().collect();
    assert_eq!(distinct.len(), ips.len(), "{ips:?}");
    assert_eq!(
        ips.iter().filter(|ip| ip.starts_with("10.200.0.")).count(),
        6,
        "the tiny range is used up first: {ips:?}"
    );
    // Each address is recorded once, for its Service.
    let records = Api::<IPAddress>::all(b.client());
    for (service, ip) in created.iter().zip(&ips) {
        let record = records.get(ip).await.expect("IPAddress");
        assert_eq!(
            record.spec.map(|s| s.parent_ref.name),
            service.metadata.name.clone()
        );
    }
}
