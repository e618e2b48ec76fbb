//! kube-runtime's `watcher` and `reflector` against an in-process kubeforge API server: the
//! store converges with the server, survives a 410 (relist) and a restart of the durable
//! backend on the same port and directory; bookmarks, streaming lists and raw watches behave as
//! kube-apiserver's do.

mod kube_support;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use kube_support::{configmap, eventually, namespace, start};
use kubeforge_apiserver::ApiServer;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// `namespace/name` → (resourceVersion, data) of every object.
type Snapshot = BTreeMap<String, (String, Option<BTreeMap<String, String>>)>;

fn snapshot<'a>(items: impl IntoIterator<Item = &'a ConfigMap>) -> Snapshot {
    items
        .into_iter()
        .map(|o| {
            (
                format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()),
                (o.resource_version().unwrap_or_default(), o.data.clone()),
            )
        })
        .collect()
}

async fn server_snapshot(api: &Api<ConfigMap>, labels: &str) -> Snapshot {
    let list = api
        .list(&ListParams::default().labels(labels))
        .await
        .expect("list");
    snapshot(&list.items)
}

/// Waits until the reflector's store holds exactly what the server lists.
async fn converge(store: &Store<ConfigMap>, api: &Api<ConfigMap>, labels: &str) -> Snapshot {
    eventually("the reflector store to equal the server's list", || async {
        let want = server_snapshot(api, labels).await;
        let have = snapshot(store.state().iter().map(|o| o.as_ref()));
        (want == have).then_some(want)
    })
    .await
}

#[derive(Default)]
struct Counters {
    inits: AtomicUsize,
    init_dones: AtomicUsize,
    gone: AtomicUsize,
    errors: AtomicUsize,
}

/// Runs a reflector in the background (with kube's default backoff), counting what it sees.
fn spawn_reflector(
    api: Api<ConfigMap>,
    config: watcher::Config,
) -> (Store<ConfigMap>, Arc<Counters>, tokio::task::JoinHandle<()>) {
    let (reader, writer) = reflector::store();
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    let stream = reflector(writer, watcher(api, config)).default_backoff();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            count(&c, &item);
        }
    });
    (reader, counters, task)
}

fn count(c: &Counters, item: &Result<Event<ConfigMap>, watcher::Error>) {
    match item {
        Ok(Event::Init) => {
            c.inits.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Event::InitDone) => {
            c.init_dones.fetch_add(1, Ordering::SeqCst);
        }
        Ok(_) => {}
        Err(watcher::Error::WatchError(s)) if s.code == 410 => {
            c.gone.fetch_add(1, Ordering::SeqCst);
        }
        Err(_) => {
            c.errors.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn reflector_converges_with_the_server() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "other").await;
    let default: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let other: Api<ConfigMap> = Api::namespaced(client.clone(), "other");
    let all: Api<ConfigMap> = Api::all(client.clone());
    let pp = PostParams::default();
    for i in 0..5 {
        default
            .create(&pp, &configmap(&format!("pre-{i}"), &[("app", "web")], "0"))
            .await
            .expect("create");
    }

    // page size 2 makes the initial list paginate.
    let (store, counters, task) =
        spawn_reflector(all.clone(), watcher::Config::default().page_size(2));
    let (web, _, web_task) =
        spawn_reflector(all.clone(), watcher::Config::default().labels("app=web"));
    store.wait_until_ready().await.expect("ready");
    assert_eq!(converge(&store, &all, "").await.len(), 5);

    for i in 0..10 {
        let api = if i % 2 == 0 { &default } else { &other };
        api.create(&pp, &configmap(&format!("new-{i}"), &[("app", "web")], "1"))
            .await
            .expect("create");
    }
    default
        .patch(
            "pre-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "changed"}})),
        )
        .await
        .expect("update");
    default
        .delete("pre-1", &DeleteParams::default())
        .await
        .expect("delete");
    // Relabel out of the selector: the labelled reflector must drop it.
    default
        .patch(
            "pre-2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
        )
        .await
        .expect("relabel");
    other
        .delete("new-1", &DeleteParams::default())
        .await
        .expect("delete");
    let state = converge(&store, &all, "").await;
    assert_eq!(state.len(), 13);
    assert_eq!(
        state["default/pre-0"].1.as_ref().expect("data")["value"],
        "changed"
    );
    let web_state = converge(&web, &all, "app=web").await;
    assert!(!web_state.contains_key("default/pre-2"));
    assert_eq!(web_state.len(), 12);
    // Relabel back in: it reappears.
    default
        .patch(
            "pre-2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
        )
        .await
        .expect("relabel");
    assert!(
        converge(&web, &all, "app=web")
            .await
            .contains_key("default/pre-2")
    );

    // A metadata-only reflector with "any" list semantics converges as well.
    let (meta_store, meta_writer) = reflector::store();
    let meta_stream = reflector(
        meta_writer,
        watcher(
            Api::<PartialObjectMeta<ConfigMap>>::all(client.clone()),
            watcher::Config::default().any_semantic(),
        ),
    );
    let meta_task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(meta_stream);
        while stream.next().await.is_some() {}
    });
    meta_store.wait_until_ready().await.expect("ready");
    default
        .create(&pp, &configmap("meta-only", &[], "0"))
        .await
        .expect("create");
    eventually("the metadata store to equal the server's list", || async {
        let want: BTreeMap<String, String> = server_snapshot(&all, "")
            .await
            .into_iter()
            .map(|(k, (rv, _))| (k, rv))
            .collect();
        let have: BTreeMap<String, String> = meta_store
            .state()
            .iter()
            .map(|o| {
                (
                    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()),
                    o.resource_version().unwrap_or_default(),
                )
            })
            .collect();
        (want == have).then_some(())
    })
    .await;
    meta_task.abort();

    assert_eq!(counters.inits.load(Ordering::SeqCst), 1, "no relist needed");
    assert_eq!(counters.errors.load(Ordering::SeqCst), 0);
    task.abort();
    web_task.abort();
    server.shutdown().await;
}

#[tokio::test]
async fn reflector_relists_after_410() {
    let server = ApiServer::builder()
        .in_memory()
        .history(16)
        .start()
        .await
        .expect("start");
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();
    for i in 0..4 {
        api.create(
            &pp,
            &configmap(&format!("w-{i}"), &[("app", "watched")], "0"),
        )
        .await
        .expect("create");
    }
    let (reader, writer) = reflector::store();
    let counters = Counters::default();
    let stream = reflector(
        writer,
        watcher(
            api.clone(),
            watcher::Config::default().labels("app=watched"),
        ),
    );
    let mut stream = std::pin::pin!(stream);
    // Drive the initial list; the stream is lazy, so after InitDone no watch is open yet.
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("initial list in time")
            .expect("stream continues");
        count(&counters, &item);
        if matches!(item, Ok(Event::InitDone)) {
            break;
        }
    }
    assert_eq!(reader.state().len(), 4);

    // While the watcher is not looking: change watched objects, then push its resourceVersion
    // out of the 16-event history with writes it does not select.
    api.delete("w-0", &DeleteParams::default())
        .await
        .expect("delete");
    api.patch(
        "w-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"value": "missed"}})),
    )
    .await
    .expect("update");
    api.create(&pp, &configmap("w-new", &[("app", "watched")], "0"))
        .await
        .expect("create");
    api.create(&pp, &configmap("noise", &[("app", "noise")], "0"))
        .await
        .expect("create");
    for i in 0..40 {
        api.patch(
            "noise",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": i.to_string()}})),
        )
        .await
        .expect("noise");
    }

    // Resume: the watch from the stale resourceVersion answers 410, the watcher relists.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let want = server_snapshot(&api, "app=watched").await;
        let have = snapshot(reader.state().iter().map(|o| o.as_ref()));
        if want == have && counters.init_dones.load(Ordering::SeqCst) >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "store did not converge after 410: have {have:?}, want {want:?}"
        );
        if let Ok(Some(item)) =
            tokio::time::timeout(Duration::from_millis(100), stream.next()).await
        {
            count(&counters, &item);
        }
    }
    assert_eq!(counters.gone.load(Ordering::SeqCst), 1, "one 410");
    assert_eq!(counters.inits.load(Ordering::SeqCst), 2, "one relist");
    assert_eq!(counters.errors.load(Ordering::SeqCst), 0);
    let state = snapshot(reader.state().iter().map(|o| o.as_ref()));
    assert!(!state.contains_key("default/w-0"));
    assert!(state.contains_key("default/w-new"));
    assert_eq!(
        state["default/w-1"].1.as_ref().expect("data")["value"],
        "missed"
    );

    // After the relist the watch is live again.
    api.create(&pp, &configmap("w-after", &[("app", "watched")], "0"))
        .await
        .expect("create");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reader
        .get(&reflector::ObjectRef::new("w-after").within("default"))
        .is_none()
    {
        assert!(tokio::time::Instant::now() < deadline, "live after relist");
        if let Ok(Some(item)) =
            tokio::time::timeout(Duration::from_millis(100), stream.next()).await
        {
            count(&counters, &item);
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn raw_watch_from_a_compacted_resource_version_is_gone() {
    let server = ApiServer::builder()
        .in_memory()
        .history(4)
        .start()
        .await
        .expect("start");
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let first = api
        .create(&PostParams::default(), &configmap("c", &[], "0"))
        .await
        .expect("create");
    let old_rv = first.resource_version().expect("rv");
    for i in 0..10 {
        api.patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": i.to_string()}})),
        )
        .await
        .expect("write");
    }
    let mut events = api
        .watch(&WatchParams::default(), &old_rv)
        .await
        .expect("watch starts")
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event")
        .expect("stream item")
        .expect("decodes");
    match first {
        WatchEvent::Error(s) => {
            assert_eq!((s.code, s.reason.as_str()), (410, "Expired"), "{s:?}");
            assert!(s.message.starts_with("too old resource version"), "{s:?}");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn watch_by_name_sees_deletion() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &configmap("target", &[], "0"))
        .await
        .expect("create");
    api.create(&PostParams::default(), &configmap("bystander", &[], "0"))
        .await
        .expect("create");
    // kubectl delete/wait: LIST with a name selector, then WATCH from the list's version.
    let list = api
        .list(&ListParams::default().fields("metadata.name=target"))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    let rv = list.metadata.resource_version.expect("rv");
    let mut events = api
        .watch(
            &WatchParams::default()
                .fields("metadata.name=target")
                .disable_bookmarks(),
            &rv,
        )
        .await
        .expect("watch")
        .boxed();
    api.patch(
        "bystander",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"value": "1"}})),
    )
    .await
    .expect("noise");
    api.patch(
        "target",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"value": "1"}})),
    )
    .await
    .expect("update");
    api.delete("target", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("event in time")
            .expect("item")
            .expect("decodes");
        match ev {
            WatchEvent::Modified(o) => seen.push(("MODIFIED", o.name_any())),
            WatchEvent::Deleted(o) => {
                assert!(o.resource_version().is_some());
                seen.push(("DELETED", o.name_any()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        vec![
            ("MODIFIED", "target".to_string()),
            ("DELETED", "target".to_string())
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bookmarks_arrive_when_allowed() {
    let server = ApiServer::builder()
        .in_memory()
        .bookmark_interval(Duration::from_millis(100))
        .start()
        .await
        .expect("start");
    let client = server.client();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &configmap("b", &[], "0"))
        .await
        .expect("create");
    let start_rv: u64 = created.resource_version().expect("rv").parse().expect("n");

    let mut events = api
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    let mut added = false;
    let mut last_bookmark = 0u64;
    // Unrelated writes advance the bookmark's resourceVersion (nothing of this kind missed).
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let mut unrelated_rv = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "bookmarks in time");
        let ev = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("event in time")
            .expect("item")
            .expect("decodes");
        match ev {
            WatchEvent::Added(o) => {
                assert_eq!(o.name_any(), "b");
                added = true;
            }
            WatchEvent::Bookmark(b) => {
                assert!(added, "initial events come first");
                assert_eq!(b.types.kind, "ConfigMap");
                assert_eq!(b.types.api_version, "v1");
                let rv: u64 = b.metadata.resource_version.parse().expect("numeric");
                assert!(
                    rv >= start_rv && rv >= last_bookmark,
                    "bookmarks never go back"
                );
                last_bookmark = rv;
                if unrelated_rv == 0 {
                    let s = secrets
                        .create(
                            &PostParams::default(),
                            &serde_json::from_value(
                                json!({"metadata": {"name": "s"}, "stringData": {"a": "b"}}),
                            )
                            .expect("secret"),
                        )
                        .await
                        .expect("create secret");
                    unrelated_rv = s.resource_version().expect("rv").parse().expect("n");
                } else if rv >= unrelated_rv {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    // Without allowWatchBookmarks there are none.
    let mut quiet = api
        .watch(&WatchParams::default().disable_bookmarks(), "0")
        .await
        .expect("watch")
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), quiet.next())
        .await
        .expect("initial event")
        .expect("item")
        .expect("decodes");
    assert!(matches!(first, WatchEvent::Added(_)), "{first:?}");
    let more = tokio::time::timeout(Duration::from_millis(400), quiet.next()).await;
    assert!(
        more.is_err(),
        "no bookmark without allowWatchBookmarks: {more:?}"
    );
    server.shutdown().await;
}

/// The next watcher event, within 5 s, failing on errors.
async fn next_event<S>(events: &mut S) -> Event<ConfigMap>
where
    S: Stream<Item = Result<Event<ConfigMap>, watcher::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("event in time")
        .expect("stream continues")
        .expect("no watcher error")
}

#[tokio::test]
async fn streaming_lists_deliver_initial_state_then_changes() {
    let server = start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();
    for i in 0..3 {
        api.create(&pp, &configmap(&format!("s-{i}"), &[], "0"))
            .await
            .expect("create");
    }

    // Raw: ADDED for each object, then a BOOKMARK marking the end of the initial events.
    let mut raw = api
        .watch(&WatchParams::default().initial_events(), "0")
        .await
        .expect("watch")
        .boxed();
    let mut initial = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), raw.next())
            .await
            .expect("event")
            .expect("item")
            .expect("decodes");
        match ev {
            WatchEvent::Added(o) => initial.push(o.name_any()),
            WatchEvent::Bookmark(b) => {
                assert_eq!(
                    b.metadata
                        .annotations
                        .get("k8s.io/initial-events-end")
                        .map(String::as_str),
                    Some("true")
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, vec!["s-0", "s-1", "s-2"]);

    // kube-runtime's watcher with streaming lists.
    let mut events = watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    assert!(matches!(next_event(&mut events).await, Event::Init));
    let mut applied = Vec::new();
    loop {
        match next_event(&mut events).await {
            Event::InitApply(o) => applied.push(o.name_any()),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    applied.sort();
    assert_eq!(applied, vec!["s-0", "s-1", "s-2"]);
    api.create(&pp, &configmap("s-3", &[], "0"))
        .await
        .expect("create");
    match next_event(&mut events).await {
        Event::Apply(o) => assert_eq!(o.name_any(), "s-3"),
        other => panic!("unexpected {other:?}"),
    }
    api.delete("s-0", &DeleteParams::default())
        .await
        .expect("delete");
    match next_event(&mut events).await {
        Event::Delete(o) => assert_eq!(o.name_any(), "s-0"),
        other => panic!("unexpected {other:?}"),
    }

    // And a reflector on streaming lists converges.
    let (store, counters, task) =
        spawn_reflector(api.clone(), watcher::Config::default().streaming_lists());
    store.wait_until_ready().await.expect("ready");
    api.patch(
        "s-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"value": "x"}})),
    )
    .await
    .expect("update");
    converge(&store, &api, "").await;
    assert_eq!(counters.errors.load(Ordering::SeqCst), 0);
    task.abort();
    server.shutdown().await;
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test]
async fn reflector_survives_a_durable_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let durable = || ApiServer::builder().data_dir(dir.path()).listen(addr);
    let first = durable().start().await.expect("start");
    let client = first.client();
    namespace(&client, "durable").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "durable");
    let pp = PostParams::default();
    for i in 0..5 {
        api.create(&pp, &configmap(&format!("d-{i}"), &[], "0"))
            .await
            .expect("create");
    }
    let (store, counters, task) = spawn_reflector(api.clone(), watcher::Config::default());
    store.wait_until_ready().await.expect("ready");
    let before = converge(&store, &api, "").await;
    assert_eq!(before.len(), 5);
    let last_rv: u64 = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv")
        .parse()
        .expect("n");

    first.shutdown().await;
    let second = durable().start().await.expect("restart on the same port");
    // The same client (same URL) keeps working.
    let after_restart = server_snapshot(&api, "").await;
    assert_eq!(
        after_restart, before,
        "objects survive the restart unchanged"
    );
    api.create(&pp, &configmap("d-new", &[], "1"))
        .await
        .expect("create after restart");
    let updated = api
        .patch(
            "d-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "after"}})),
        )
        .await
        .expect("update after restart");
    let rv: u64 = updated.resource_version().expect("rv").parse().expect("n");
    assert!(
        rv > last_rv,
        "resourceVersions keep growing: {last_rv} -> {rv}"
    );
    api.delete("d-1", &DeleteParams::default())
        .await
        .expect("delete after restart");

    let state = converge(&store, &api, "").await;
    assert_eq!(state.len(), 5);
    assert_eq!(
        state["durable/d-0"].1.as_ref().expect("data")["value"],
        "after"
    );
    assert!(counters.init_dones.load(Ordering::SeqCst) >= 1);
    task.abort();
    second.shutdown().await;
}

/// The next object a metadata watcher reports as touched, within 10 s.
async fn next_touched<S>(events: &mut S) -> PartialObjectMeta<ConfigMap>
where
    S: Stream<Item = Result<PartialObjectMeta<ConfigMap>, watcher::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10s")
        .expect("the stream goes on")
        .expect("no watch error")
}

/// kube-rs's metadata-only API (`Api::get_metadata`, `list_metadata`, and a `watcher` over
/// `Api<PartialObjectMeta<K>>`, what `metadata_watcher` became; they ask for
/// `as=PartialObjectMetadata(List)`): objects come back as PartialObjectMetadata with their
/// metadata, and the watcher sees creation, relabelling and deletion.
#[tokio::test]
async fn metadata_watcher_and_metadata_api() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "meta").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "meta");
    let pp = PostParams::default();
    api.create(&pp, &configmap("m-1", &[("app", "one")], "payload"))
        .await
        .expect("create");

    let meta = api.get_metadata("m-1").await.expect("get_metadata");
    assert_eq!(
        meta.types
            .as_ref()
            .map(|t| (t.api_version.as_str(), t.kind.as_str())),
        Some(("meta.k8s.io/v1", "PartialObjectMetadata")),
        "{meta:?}"
    );
    assert_eq!(meta.labels().get("app").map(String::as_str), Some("one"));
    assert!(meta.uid().is_some() && meta.resource_version().is_some());
    let list = api
        .list_metadata(&ListParams::default().labels("app=one"))
        .await
        .expect("list_metadata");
    assert_eq!(
        list.types.kind, "PartialObjectMetadataList",
        "list kind: {:?}",
        list.types
    );
    assert_eq!(
        list.items.iter().map(|o| o.name_any()).collect::<Vec<_>>(),
        ["m-1"]
    );

    let meta_api: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(client.clone(), "meta");
    let mut events = Box::pin(watcher(meta_api, watcher::Config::default()).touched_objects());
    let first = next_touched(&mut events).await;
    assert_eq!(first.name_any(), "m-1");
    api.create(&pp, &configmap("m-2", &[], "payload"))
        .await
        .expect("create");
    let created = next_touched(&mut events).await;
    assert_eq!(created.name_any(), "m-2");
    api.patch(
        "m-2",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "two"}}})),
    )
    .await
    .expect("relabel");
    let relabelled = next_touched(&mut events).await;
    assert_eq!(
        (
            relabelled.name_any(),
            relabelled.labels().get("app").cloned()
        ),
        ("m-2".to_string(), Some("two".to_string()))
    );
    api.delete("m-2", &DeleteParams::default())
        .await
        .expect("delete");
    let deleted = next_touched(&mut events).await;
    assert_eq!(deleted.name_any(), "m-2");
    assert!(
        api.get_metadata_opt("m-2").await.expect("get").is_none(),
        "m-2 is gone"
    );
    server.shutdown().await;
}

/// The in-server controllers' spine (`controllers::changes`): a resync first, then the changes
/// in order; a resync again when the history no longer reaches the controller's position (as a
/// 410 makes a reflector relist); nothing once the store has closed.
#[tokio::test]
async fn the_controllers_spine_resyncs_after_falling_out_of_the_history() {
    use kubeforge_apiserver::controllers::changes::{Change, Changes};
    let server = ApiServer::builder()
        .in_memory()
        .history(16)
        .start()
        .await
        .expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let key = server
        .rest()
        .catalog
        .snapshot()
        .find("", "v1", "configmaps")
        .expect("configmaps")
        .storage_key
        .clone();
    let mut changes = Changes::new(server.rest(), Some(key));
    let first = changes.next().await.expect("a first step");
    assert!(matches!(first, Change::Resync { .. }), "{first:?}");

    api.create(&PostParams::default(), &configmap("one", &[], "v"))
        .await
        .expect("create");
    match changes.next().await.expect("a step") {
        Change::Events(events) => {
            let names: Vec<&str> = events.iter().map(|e| e.key.name.as_str()).collect();
            assert_eq!(names, ["one"]);
        }
        other => panic!("expected the create, got {other:?}"),
    }

    // More writes than the history keeps and than a watcher's channel holds (1,024 events),
    // while the controller is not looking: the dispatcher drops it, and the history no longer
    // reaches back to where it stands. (Fewer than the channel holds are simply delivered.)
    for i in 0..1100 {
        api.create(
            &PostParams::default(),
            &configmap(&format!("burst-{i}"), &[], "v"),
        )
        .await
        .expect("create");
    }
    let step = changes.next().await.expect("a step");
    let Change::Resync { from } = step else {
        panic!("expected a resync after falling out of the history, got {step:?}");
    };
    let listed = api.list(&ListParams::default()).await.expect("list");
    assert!(
        listed
            .metadata
            .resource_version
            .unwrap_or_default()
            .parse::<u64>()
            .unwrap_or(0)
            >= from,
        "the resync's revision is not ahead of the list"
    );
    api.create(&PostParams::default(), &configmap("after", &[], "v"))
        .await
        .expect("create");
    match changes.next().await.expect("a step") {
        Change::Events(events) => {
            assert_eq!(events.last().map(|e| e.key.name.as_str()), Some("after"));
        }
        other => panic!("expected the create after the resync, got {other:?}"),
    }

    server.shutdown().await;
    assert!(
        changes.next().await.is_none(),
        "the spine ends with the store"
    );
}

/// A watcher that falls further behind than its channel holds, but not out of the history, is
/// dropped by the dispatcher and catches up from the history: every event once, in order, and
/// no resync. A watcher of another namespace is not disturbed by any of it.
#[tokio::test]
async fn a_watcher_behind_its_channel_catches_up_from_the_history() {
    use kubeforge_apiserver::controllers::changes::{Change, Changes};
    let server = ApiServer::builder()
        .in_memory()
        .start()
        .await
        .expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let key = server
        .rest()
        .catalog
        .snapshot()
        .find("", "v1", "configmaps")
        .expect("configmaps")
        .storage_key
        .clone();
    let mut changes = Changes::new(server.rest(), Some(key));
    assert!(matches!(changes.next().await, Some(Change::Resync { .. })));
    let others: Api<ConfigMap> = Api::namespaced(server.client(), "kube-system");
    let other_watch = others
        .watch(&WatchParams::default().timeout(60), "0")
        .await
        .expect("watch kube-system");
    let mut other_watch = Box::pin(other_watch);

    let writes = 1100;
    let mut tasks = Vec::new();
    for chunk in 0..4 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            for i in (chunk..writes).step_by(4) {
                api.create(
                    &PostParams::default(),
                    &configmap(&format!("behind-{i}"), &[], "v"),
                )
                .await
                .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let mut seen = Vec::new();
    let mut last_rv = 0;
    while seen.len() < writes {
        match changes.next().await.expect("a step") {
            Change::Events(events) => {
                for e in events {
                    assert!(e.resource_version() > last_rv, "events out of order");
                    last_rv = e.resource_version();
                    seen.push(e.key.name.clone());
                }
            }
            other => panic!("caught up from the history without a resync expected, got {other:?}"),
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), writes, "each event exactly once");

    // The other namespace's watch saw none of it, and still sees its own.
    others
        .create(&PostParams::default(), &configmap("mine", &[], "v"))
        .await
        .expect("create in kube-system");
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), other_watch.next())
            .await
            .expect("kube-system's watch is alive")
            .expect("an event")
            .expect("decodes");
        if let WatchEvent::Added(cm) = ev {
            let name = cm.metadata.name.unwrap_or_default();
            assert!(
                !name.starts_with("behind-"),
                "{name} leaked into kube-system"
            );
            if name == "mine" {
                break;
            }
        }
    }
    server.shutdown().await;
}
