//! Crash safety of the durable store, end to end through the `kubeforge` binary.
//!
//! The binary runs as a child process with a temporary `--data-dir`. Several concurrent writers
//! create, replace, patch and delete ConfigMaps over HTTP and record every write the server
//! acknowledged; the child is then SIGKILLed in the middle of the stream and restarted on the same
//! directory. After each restart:
//!
//! - every acknowledged create/update is there, with exactly that content and resourceVersion,
//!   unless a later write of the same object was in flight at the kill, in which case the object
//!   is in either the acknowledged state or the state the in-flight write would have produced;
//! - every acknowledged delete stays deleted;
//! - no object exists that no writer ever wrote;
//! - the list resourceVersion is at least every resourceVersion seen before the crash, and every
//!   write acknowledged afterwards gets a resourceVersion above all of them.
//!
//! The kill/restart cycle is repeated several times on the same directory.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use rand::Rng;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How many kill/restart cycles one run does.
const CYCLES: usize = 3;
/// How many writers run concurrently.
const WRITERS: usize = 8;
/// How many ConfigMaps each writer owns (each object has exactly one writer).
const NAMES_PER_WRITER: usize = 6;
const NAMESPACE: &str = "default";

/// A running `kubeforge apiserver` child.
struct Server {
    child: Child,
    client: kube::Client,
    /// Kept open so the child never writes to a closed pipe.
    _stdout: Lines<BufReader<ChildStdout>>,
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let start = text.len().saturating_sub(4000);
    text.get(start..).unwrap_or(&text).to_string()
}

/// Starts the binary on a free port over `dir` and waits until `/version` answers.
async fn start(dir: &Path, log: &Path) -> anyhow::Result<Server> {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let kubeconfig = dir.join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["apiserver", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    // "kubeforge API server listening on https://127.0.0.1:PORT", once the kubeconfig (CA and
    // administrator's certificate) is written.
    let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
        .await
        .map_err(|_| anyhow::anyhow!("server did not start in time:\n{}", log_tail(log)))??
        .ok_or_else(|| anyhow::anyhow!("server exited on start:\n{}", log_tail(log)))?;
    let url = line
        .split_whitespace()
        .last()
        .filter(|u| u.starts_with("https://"))
        .ok_or_else(|| anyhow::anyhow!("unexpected first line {line:?}"))?;
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig)?,
        &Default::default(),
    )
    .await?;
    anyhow::ensure!(config.cluster_url.to_string().starts_with(url), "{url}");
    let client = kube::Client::try_from(config)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.apiserver_version().await {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => {
                anyhow::bail!("/version never answered: {e}\n{}", log_tail(log))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    Ok(Server {
        child,
        client,
        _stdout: lines,
    })
}

/// What an object is known to look like.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    Absent,
    Present {
        rv: u64,
        data: BTreeMap<String, String>,
    },
}

/// What an in-flight (unacknowledged) write would leave behind.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Absent,
    Present(BTreeMap<String, String>),
}

/// One object and its writer's knowledge of it.
#[derive(Debug)]
struct Slot {
    name: String,
    known: Known,
    in_flight: Option<Outcome>,
}

/// One writer's objects and counters; moves into the writer task and back out each cycle.
#[derive(Debug)]
struct Writer {
    id: usize,
    seq: u64,
    slots: Vec<Slot>,
    /// The highest resourceVersion this writer saw acknowledged.
    max_rv: u64,
}

fn content(id: usize, seq: u64) -> BTreeMap<String, String> {
    let pad = "x".repeat(usize::try_from(seq * 37 % 1500).unwrap_or(0));
    BTreeMap::from([
        ("v".to_string(), format!("{id}-{seq}")),
        ("pad".to_string(), pad),
    ])
}

fn config_map(name: &str, rv: Option<u64>, data: &BTreeMap<String, String>) -> ConfigMap {
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data,
    });
    if let Some(rv) = rv {
        v["metadata"]["resourceVersion"] = json!(rv.to_string());
    }
    serde_json::from_value(v).expect("a ConfigMap")
}

fn rv_of(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_deref()
        .and_then(|s| s.parse().ok())
        .expect("a numeric resourceVersion")
}

fn known_of(cm: &ConfigMap) -> Known {
    Known::Present {
        rv: rv_of(cm),
        data: cm.data.clone().unwrap_or_default(),
    }
}

/// Writes until the server goes away; every acknowledged write is recorded, the one in flight
/// when the connection breaks is left in `in_flight`. Every acknowledged resourceVersion must be
/// above `floor` and above the writer's previous one.
async fn run_writer(
    api: Api<ConfigMap>,
    mut w: Writer,
    floor: u64,
    acks: Arc<AtomicUsize>,
) -> Writer {
    let mut last_rv = floor;
    loop {
        let (k, roll) = {
            let mut rng = rand::rng();
            (
                rng.random_range(0..w.slots.len()),
                rng.random_range(0..100u32),
            )
        };
        w.seq += 1;
        let data = content(w.id, w.seq);
        let slot = &mut w.slots[k];
        let name = slot.name.clone();
        let result = match &slot.known {
            Known::Absent => {
                slot.in_flight = Some(Outcome::Present(data.clone()));
                api.create(&PostParams::default(), &config_map(&name, None, &data))
                    .await
                    .map(Some)
            }
            Known::Present { rv, .. } if roll < 40 => {
                slot.in_flight = Some(Outcome::Present(data.clone()));
                api.replace(
                    &name,
                    &PostParams::default(),
                    &config_map(&name, Some(*rv), &data),
                )
                .await
                .map(Some)
            }
            Known::Present { .. } if roll < 70 => {
                slot.in_flight = Some(Outcome::Present(data.clone()));
                // A merge patch replaces both keys.
                api.patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"data": data})),
                )
                .await
                .map(Some)
            }
            Known::Present { .. } => {
                slot.in_flight = Some(Outcome::Absent);
                api.delete(&name, &DeleteParams::default())
                    .await
                    .map(|either| either.left())
            }
        };
        match result {
            Ok(obj) => {
                if matches!(slot.in_flight, Some(Outcome::Absent)) {
                    // A deleted ConfigMap is answered with a Status (as kube-apiserver answers
                    // it), which carries no resourceVersion.
                    slot.known = Known::Absent;
                } else {
                    let obj = obj.expect("the written ConfigMap is returned");
                    let rv = rv_of(&obj);
                    assert!(
                        rv > last_rv,
                        "writer {}: acknowledged resourceVersion {rv} is not above {last_rv}",
                        w.id
                    );
                    last_rv = rv;
                    w.max_rv = w.max_rv.max(rv);
                    slot.known = known_of(&obj);
                    if let Known::Present { data: got, .. } = &slot.known {
                        assert_eq!(got, &data, "the server acknowledged other content");
                    }
                }
                slot.in_flight = None;
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Err(kube::Error::Api(status)) => {
                panic!(
                    "writer {}: unexpected API error on {name}: {status:?}",
                    w.id
                )
            }
            // The server is gone (killed): the write may or may not have been committed.
            Err(_) => return w,
        }
    }
}

/// Checks the restarted server's state against what the writers recorded; resolves in-flight
/// writes to what actually happened. Returns the list's resourceVersion.
async fn verify(api: &Api<ConfigMap>, writers: &mut [Writer], max_seen: u64) -> u64 {
    let list = api.list(&ListParams::default()).await.expect("list");
    let list_rv: u64 = list
        .metadata
        .resource_version
        .as_deref()
        .and_then(|s| s.parse().ok())
        .expect("list resourceVersion");
    assert!(
        list_rv >= max_seen,
        "after restart the list resourceVersion {list_rv} is below {max_seen}, seen before the crash"
    );
    let mut actual: HashMap<String, Known> = HashMap::new();
    for cm in &list.items {
        let name = cm.metadata.name.clone().expect("name");
        if name == "kube-root-ca.crt" {
            // The root CA publisher's, in every namespace of a TLS server.
            continue;
        }
        let known = known_of(cm);
        if let Known::Present { rv, .. } = &known {
            assert!(
                *rv <= list_rv,
                "{name} has resourceVersion {rv} > list {list_rv}"
            );
        }
        actual.insert(name, known);
    }
    let mut in_flight = 0;
    for w in writers.iter_mut() {
        for slot in &mut w.slots {
            let got = actual.remove(&slot.name).unwrap_or(Known::Absent);
            match slot.in_flight.take() {
                None => assert_eq!(
                    got, slot.known,
                    "{}: acknowledged state lost or changed across the crash",
                    slot.name
                ),
                Some(outcome) => {
                    in_flight += 1;
                    let as_in_flight = match (&outcome, &got) {
                        (Outcome::Absent, Known::Absent) => true,
                        (Outcome::Present(want), Known::Present { rv, data }) => {
                            data == want
                                && match &slot.known {
                                    Known::Present { rv: before, .. } => rv > before,
                                    Known::Absent => true,
                                }
                        }
                        _ => false,
                    };
                    assert!(
                        got == slot.known || as_in_flight,
                        "{}: after the crash it is {got:?}; acknowledged was {:?}, in flight {outcome:?}",
                        slot.name,
                        slot.known
                    );
                }
            }
            slot.known = got;
        }
    }
    assert!(
        actual.is_empty(),
        "objects nobody wrote appeared: {:?}",
        actual.keys().collect::<Vec<_>>()
    );
    assert!(
        in_flight <= WRITERS,
        "at most one write per writer in flight"
    );
    list_rv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|id| Writer {
            id,
            seq: 0,
            slots: (0..NAMES_PER_WRITER)
                .map(|k| Slot {
                    name: format!("w{id}-{k}"),
                    known: Known::Absent,
                    in_flight: None,
                })
                .collect(),
            max_rv: 0,
        })
        .collect();
    // The highest resourceVersion any response showed so far.
    let mut max_seen = 0u64;
    let mut total_acks = 0usize;
    for cycle in 0..=CYCLES {
        let mut server = start(&dir, &log).await.expect("start the server");
        let api: Api<ConfigMap> = Api::namespaced(server.client.clone(), NAMESPACE);
        let floor = if cycle == 0 {
            0
        } else {
            verify(&api, &mut writers, max_seen).await
        };
        max_seen = max_seen.max(floor);
        if cycle == CYCLES {
            // One more acknowledged write after the last restart gets a higher resourceVersion.
            let cm = api
                .create(
                    &PostParams::default(),
                    &config_map("after-last-crash", None, &content(99, 1)),
                )
                .await
                .expect("create after the last restart");
            assert!(rv_of(&cm) > max_seen, "{} <= {max_seen}", rv_of(&cm));
            server.child.start_kill().expect("stop");
            let _ = server.child.wait().await;
            break;
        }
        let acks = Arc::new(AtomicUsize::new(0));
        let target = rand::rng().random_range(150..400);
        let tasks: Vec<_> = writers
            .drain(..)
            .map(|w| tokio::spawn(run_writer(api.clone(), w, floor, acks.clone())))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while acks.load(Ordering::SeqCst) < target {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "the server exited on its own ({status}):\n{}",
                    log_tail(&log)
                );
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {target} writes acknowledged in time",
                acks.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // SIGKILL: no shutdown path runs, requests are cut mid-stream.
        server.child.start_kill().expect("SIGKILL");
        let status = server.child.wait().await.expect("wait for the child");
        assert!(!status.success(), "the child was killed, not stopped");
        for task in tasks {
            let w = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("writers notice the server is gone")
                .expect("writer task");
            max_seen = max_seen.max(w.max_rv);
            writers.push(w);
        }
        writers.sort_by_key(|w| w.id);
        total_acks += acks.load(Ordering::SeqCst);
    }
    assert!(total_acks >= 150 * CYCLES);
    eprintln!(
        "crash test: {CYCLES} SIGKILL cycles, {total_acks} acknowledged writes, max resourceVersion {max_seen}, {:?}",
        started.elapsed()
    );
}
