//! The storage engine on etcd, below the HTTP layer: several stores (as several API servers)
//! sharing one etcd. Atomic writes under preconditions, one resourceVersion order for every
//! store, watches that resume and answer 410 after compaction, and snapshots at a revision.
//! Skips without an etcd binary outside CI (see `etcd_support`).

mod etcd_support;

use etcd_support::Etcd;
use kubeforge_apiserver::storage::etcd::compaction;
use kubeforge_apiserver::storage::{Encoded, EtcdConfig};
use kubeforge_apiserver::storage::{
    EtcdStorage, EventType, ObjectKey, ReadAt, Store, StoreConfig, StoreError, StoredEvent,
    WatchCursor, WriteOp,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn resource() -> Arc<str> {
    Arc::from("/configmaps")
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(resource(), "default", name)
}

fn value(name: &str, data: &str) -> Encoded {
    Encoded::new(&json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"value": data},
    }))
}

async fn store(config: &EtcdConfig) -> Store {
    let etcd = EtcdStorage::connect(config, [resource()])
        .await
        .expect("connects to etcd");
    Store::open_shared(Arc::new(etcd), StoreConfig::default())
        .await
        .expect("loads from etcd")
}

async fn create(store: &Store, name: &str) -> u64 {
    store
        .write(WriteOp::Create {
            key: key(name),
            value: value(name, "0"),
        })
        .await
        .expect("create")
        .resource_version
}

/// The next events of `cursor`, until `n` have arrived.
async fn next_events(cursor: &mut WatchCursor, n: usize) -> Vec<Arc<StoredEvent>> {
    let mut out = Vec::new();
    while out.len() < n {
        let batch = tokio::time::timeout(Duration::from_secs(10), cursor.next())
            .await
            .expect("events in time")
            .expect("the watch goes on");
        out.extend(batch);
    }
    out
}

#[tokio::test]
async fn writes_are_atomic_under_preconditions_across_stores() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let config = etcd.config("/registry");
    let (a, b) = (store(&config).await, store(&config).await);

    let rv1 = create(&a, "cm").await;
    // B sees A's write, stamped with etcd's revision, and cannot create it again.
    assert_eq!(
        b.write(WriteOp::Create {
            key: key("cm"),
            value: value("cm", "again"),
        })
        .await
        .err(),
        Some(StoreError::AlreadyExists)
    );
    assert_eq!(b.get(&key("cm")).map(|o| o.resource_version), Some(rv1));

    let updated = b
        .write(WriteOp::Update {
            key: key("cm"),
            value: value("cm", "1"),
            expected: Some(rv1),
        })
        .await
        .expect("update from the current version");
    let rv2 = updated.resource_version;
    assert!(rv2 > rv1);
    assert_eq!(
        updated.value()["metadata"]["resourceVersion"],
        rv2.to_string()
    );
    // A's update based on the old version is a conflict naming the current one, and afterwards
    // A's cache holds the state that beat it (so a retry reads it).
    assert_eq!(
        a.write(WriteOp::Update {
            key: key("cm"),
            value: value("cm", "lost"),
            expected: Some(rv1),
        })
        .await
        .err(),
        Some(StoreError::Conflict { current: rv2 })
    );
    let seen = a.get(&key("cm")).expect("A has it");
    assert_eq!(seen.resource_version, rv2);
    assert_eq!(seen.value()["data"]["value"], "1");

    // Deletion under a stale precondition changes nothing; under the current one it removes.
    assert_eq!(
        a.write(WriteOp::Delete {
            key: key("cm"),
            expected: Some(rv1),
        })
        .await
        .err(),
        Some(StoreError::Conflict { current: rv2 })
    );
    let deleted = a
        .write(WriteOp::Delete {
            key: key("cm"),
            expected: Some(rv2),
        })
        .await
        .expect("delete");
    assert!(deleted.resource_version > rv2);
    assert_eq!(deleted.value()["data"]["value"], "1");
    assert_eq!(
        b.write(WriteOp::Delete {
            key: key("cm"),
            expected: None,
        })
        .await
        .err(),
        Some(StoreError::NotFound)
    );
    assert_eq!(
        b.write(WriteOp::Update {
            key: key("cm"),
            value: value("cm", "x"),
            expected: None,
        })
        .await
        .err(),
        Some(StoreError::NotFound)
    );

    // The object lives where kube-apiserver keeps ConfigMaps, without a resourceVersion inside.
    let mut client = etcd.client().await;
    create(&a, "inspect").await;
    let got = client
        .get("/registry/configmaps/default/inspect", None)
        .await
        .expect("etcd get");
    let stored: serde_json::Value =
        serde_json::from_slice(got.kvs()[0].value()).expect("JSON in etcd");
    assert_eq!(stored["metadata"]["name"], "inspect");
    assert!(stored["metadata"].get("resourceVersion").is_none());
}

#[tokio::test]
async fn concurrent_increments_lose_no_update() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let config = etcd.config("/registry");
    let stores = [store(&config).await, store(&config).await];
    create(&stores[0], "counter").await;
    // A read on the other store is consistent after a sync (as every GET and LIST is).
    stores[1].sync().await.expect("consistent read");
    // Eight writers on two stores increment one counter with read-modify-write under the read
    // version; every conflict is retried. No increment may be lost.
    let per_writer = 15;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = stores[w % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..per_writer {
                loop {
                    let current = store.get(&key("counter")).expect("counter");
                    let n: u64 = current.value()["data"]["value"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .expect("a number");
                    match store
                        .write(WriteOp::Update {
                            key: key("counter"),
                            value: value("counter", &(n + 1).to_string()),
                            expected: Some(current.resource_version),
                        })
                        .await
                    {
                        Ok(_) => break,
                        Err(StoreError::Conflict { current: newer }) => {
                            // A real conflict: the counter did move on.
                            assert!(newer > current.resource_version);
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
    for t in tasks {
        conflicts += t.await.expect("writer");
    }
    let total = 8 * per_writer;
    for s in &stores {
        s.sync().await.expect("consistent read");
        let n = s.get(&key("counter")).expect("counter").value()["data"]["value"].clone();
        assert_eq!(
            n,
            json!(total.to_string()),
            "conflicts retried: {conflicts}"
        );
    }
}

#[tokio::test]
async fn every_store_sees_every_write_in_one_order() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let config = etcd.config("/registry");
    let (a, b) = (store(&config).await, store(&config).await);
    let from = a.resource_version();
    let mut on_a = a.watch(Some(resource()), from).expect("watch on A");
    let mut on_b = b
        .watch(Some(resource()), b.resource_version())
        .expect("watch on B");
    let mut writes = Vec::new();
    for i in 0..40 {
        let (s, name) = if i % 2 == 0 { (&a, "a") } else { (&b, "b") };
        let s = s.clone();
        writes.push(tokio::spawn(async move {
            create(&s, &format!("{name}-{i}")).await
        }));
    }
    let mut rvs = Vec::new();
    for w in writes {
        rvs.push(w.await.expect("writer"));
    }
    rvs.sort_unstable();
    rvs.dedup();
    assert_eq!(
        rvs.len(),
        40,
        "two stores never hand out the same resourceVersion"
    );
    let seen_a: Vec<u64> = next_events(&mut on_a, 40)
        .await
        .iter()
        .map(|e| e.resource_version())
        .collect();
    let seen_b: Vec<u64> = next_events(&mut on_b, 40)
        .await
        .iter()
        .map(|e| e.resource_version())
        .collect();
    assert_eq!(seen_a, rvs, "A sees every write in revision order");
    assert_eq!(seen_b, rvs, "B sees the same order");
}

#[tokio::test]
async fn watches_resume_and_are_gone_after_compaction() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let config = etcd.config("/registry");
    let (a, b) = (store(&config).await, store(&config).await);
    let rv1 = create(&a, "one").await;
    let rv2 = create(&b, "two").await;
    let rv3 = a
        .write(WriteOp::Delete {
            key: key("one"),
            expected: None,
        })
        .await
        .expect("delete")
        .resource_version;
    // Resuming on B from after the first write yields exactly the rest, with their types.
    let mut resumed = b.watch(Some(resource()), rv1).expect("resume");
    let events = next_events(&mut resumed, 2).await;
    let got: Vec<(EventType, u64)> = events
        .iter()
        .map(|e| (e.event_type, e.resource_version()))
        .collect();
    assert_eq!(
        got,
        vec![(EventType::Added, rv2), (EventType::Deleted, rv3)]
    );
    assert_eq!(
        events[1].prev.as_ref().map(|p| p.resource_version),
        Some(rv1)
    );

    // Two compaction rounds: the second compacts what the first observed (after rv3).
    let client = etcd.client().await;
    let marker = "/registry/compact_rev_key";
    let (version, observed) = compaction::compact(&client, marker, 0, 0)
        .await
        .expect("first round");
    create(&a, "three").await;
    compaction::compact(&client, marker, version, observed)
        .await
        .expect("second round compacts");
    assert!(observed as u64 > rv3);
    // Both stores learn of it from the marker and answer 410 for what etcd no longer has.
    for s in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match s.watch(Some(resource()), rv1) {
                Err(StoreError::TooOld { requested, .. }) => {
                    assert_eq!(requested, rv1);
                    break;
                }
                _ if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => panic!("expected 410 after compaction, got {other:?}"),
            }
        }
        assert!(matches!(
            s.list(&resource(), None, ReadAt::Exact(rv2)).await,
            Err(StoreError::TooOld { .. })
        ));
        // From the compacted revision on, watching still works.
        assert!(s.watch(Some(resource()), observed as u64).is_ok());
    }
    // etcd itself agrees.
    let mut kv = client.kv_client();
    assert!(
        kv.get(
            "/registry/configmaps/default/two",
            Some(etcd_client::GetOptions::new().with_revision(rv2 as i64))
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn a_list_at_a_revision_is_one_snapshot_while_writes_go_on() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let config = etcd.config("/registry");
    let (a, b) = (store(&config).await, store(&config).await);
    for i in 0..30 {
        create(&a, &format!("cm-{i:02}")).await;
    }
    b.sync().await.expect("consistent");
    let snapshot = b
        .list(&resource(), Some("default"), ReadAt::Latest)
        .await
        .expect("list");
    let at = snapshot.resource_version;
    assert_eq!(snapshot.items.len(), 30);
    // Meanwhile A deletes some, updates others and adds more.
    for i in 0..10 {
        a.write(WriteOp::Delete {
            key: key(&format!("cm-{i:02}")),
            expected: None,
        })
        .await
        .expect("delete");
        a.write(WriteOp::Update {
            key: key(&format!("cm-{:02}", i + 10)),
            value: value("x", "changed"),
            expected: None,
        })
        .await
        .expect("update");
        create(&a, &format!("new-{i}")).await;
    }
    // Pages of 7 at the snapshot's revision, on the other store, give back exactly the
    // snapshot.
    let mut paged = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let mut page = Vec::new();
        let rv = b
            .scan(
                &resource(),
                Some("default"),
                ReadAt::Exact(at),
                after.as_ref().map(|(n, m)| (n.as_str(), m.as_str())),
                |ns, name, obj| {
                    page.push((ns.to_string(), name.to_string(), obj.resource_version));
                    page.len() < 7
                },
            )
            .await
            .expect("page");
        assert_eq!(rv, at);
        let Some((ns, name, _)) = page.last().cloned() else {
            break;
        };
        after = Some((ns, name));
        paged.extend(page);
    }
    let expected: Vec<(String, String, u64)> = snapshot
        .items
        .iter()
        .map(|(k, o)| (k.namespace.clone(), k.name.clone(), o.resource_version))
        .collect();
    assert_eq!(paged, expected);
}

#[tokio::test]
async fn a_store_follows_writes_made_while_etcd_restarts() {
    let Some(mut etcd) = Etcd::start().await else {
        return;
    };
    let config = etcd.config("/registry");
    let (a, b) = (store(&config).await, store(&config).await);
    create(&a, "before").await;
    etcd.restart().await;
    // The first writes after the restart may fail while the client reconnects; then they work.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let rv = loop {
        match a
            .write(WriteOp::Create {
                key: key("after"),
                value: value("after", "0"),
            })
            .await
        {
            Ok(o) => break o.resource_version,
            Err(StoreError::Unavailable(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("after the restart: {e}"),
        }
    };
    // B's feed resumed: it sees the write (and what came before survived).
    b.wait_for(rv, Duration::from_secs(15))
        .await
        .expect("B catches up");
    assert!(b.get(&key("after")).is_some());
    assert!(b.get(&key("before")).is_some());
}
