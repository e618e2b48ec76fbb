//! Scale on the durable medium: 1,000,000 small ConfigMaps across 1,000 namespaces. The parent
//! process fills a redb data directory once (in-process creates); then each run is a fresh child
//! process (`--scale-once DIR`), so that its resident memory is the restarted server's alone. A
//! child measures restart to ready, VmRSS once ready, a LIST page of 500 across all namespaces
//! and in one namespace (kube-rs, typed), and a watch started from a recent resourceVersion until
//! its first event (and, to compare, to its response head, and a GET by the same client).

use super::*;

/// The flag that makes the bench binary run one measuring child.
pub(super) const SCALE_ONCE: &str = "--scale-once";

fn objects() -> usize {
    scale(1_000_000, 20_000)
}

fn namespaces() -> usize {
    scale(1_000, 20)
}

fn small_config_map(ns: &str, name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "scale"}},
        "data": {"key": "value"},
    })
}

/// Fills `dir` with the namespaces and ConfigMaps, in-process, 256 writes at a time.
async fn fill(dir: &Path) -> Res<()> {
    let server = start_server(Some(dir)).await?;
    populate_with(&server, "namespaces", namespaces(), 16, |i| {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("s-{i}")}})
    })
    .await?;
    let t = Instant::now();
    let (n, spaces) = (objects(), namespaces());
    populate_with(&server, "configmaps", n, 256, move |i| {
        small_config_map(&format!("s-{}", i % spaces), &format!("c-{i}"))
    })
    .await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  (filled {} ConfigMaps in {} namespaces durably in {secs:.0} s, {:.0}/s in-process)",
        thousands(n as u64),
        thousands(spaces as u64),
        n as f64 / secs
    );
    server.shutdown().await;
    Ok(())
}

/// Median of `runs` timings of `f`.
async fn timed<F, Fut>(runs: usize, mut f: F) -> Res<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Res<()>>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().await?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// One child run: restart on `dir` and measure; prints `SCALE ready rss page_all page_ns watch`.
pub(super) async fn scale_once(dir: &Path) -> Res<()> {
    let t0 = Instant::now();
    let server = start_server(Some(dir)).await?;
    let ready = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss = vm_rss_bytes()? as f64;
    let client = new_client(server.url())?;
    let all: Api<ConfigMap> = Api::all(client.clone());
    let one: Api<ConfigMap> = Api::namespaced(client.clone(), "s-7");
    let page = ListParams::default().limit(500);

    // Everything is there (besides the server's own ConfigMaps): the first page says how many
    // remain.
    let first = all.list(&page).await?;
    let remaining = first.metadata.remaining_item_count.unwrap_or(0) as usize;
    if first.items.len() + remaining < objects() {
        return Err(format!(
            "restarted with {} + {remaining} of {} ConfigMaps",
            first.items.len(),
            objects()
        )
        .into());
    }
    let page_all = timed(11, || async {
        let list = all.list(&page).await?;
        if list.items.len() != 500 {
            return Err(format!("a page of {}", list.items.len()).into());
        }
        Ok(())
    })
    .await?;
    let page_ns = timed(11, || async {
        one.list(&page).await?;
        Ok(())
    })
    .await?;

    // A watch from the resourceVersion just before a write: the time from asking to the event,
    // and to the response head; beside it, a GET of the same object by the same client (what
    // one request costs without a watch).
    let writer: Api<ConfigMap> = Api::namespaced(client.clone(), "s-0");
    let (mut watch, mut head, mut get) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..11 {
        // Unique across runs: every run restarts on the same data.
        let name = format!("w-{}-{i}", std::process::id());
        let rv = current_resource_version(&writer).await?;
        writer
            .create(&PostParams::default(), &config_map(&name))
            .await?;
        let t = Instant::now();
        writer.get(&name).await?;
        get.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let stream = writer
            .watch(&WatchParams::default().timeout(10), &rv)
            .await?;
        head.push(t.elapsed().as_secs_f64());
        let mut stream = std::pin::pin!(stream);
        match stream.next().await {
            Some(Ok(WatchEvent::Added(cm))) if cm.metadata.name.as_deref() == Some(&name) => {}
            other => return Err(format!("first watch event: {other:?}").into()),
        }
        watch.push(t.elapsed().as_secs_f64());
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (watch, head, get) = (median(watch), median(head), median(get));
    println!("SCALE {ready} {rss} {page_all} {page_ns} {watch} {head} {get}");
    server.shutdown().await;
    Ok(())
}

/// Fill once, then a fresh child process per run.
pub(super) async fn scenario_scale() -> Res<Report> {
    let mut report = Report::new("scale");
    let runs = scale(3, 1);
    let dir = tempfile::tempdir()?;
    fill(dir.path()).await?;
    let size = std::fs::metadata(dir.path().join("kubeforge.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    let mut figures: [Vec<f64>; 7] = Default::default();
    for _ in 0..runs {
        // shutdown() returns before the writer thread has closed the database file.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let line = child_result(&[SCALE_ONCE.as_ref(), dir.path().as_os_str()], "SCALE ")?;
        for (slot, v) in figures.iter_mut().zip(line.split_whitespace()) {
            slot.push(v.parse()?);
        }
    }
    let [ready, rss, page_all, page_ns, watch, head, get] = figures;
    let n = thousands(objects() as u64);
    report.add(
        format!(
            "restart to ready, {n} ConfigMaps durable ({} MB file)",
            size / 1_000_000
        ),
        Unit::Ms,
        &ready,
        Target::AtMost(3.0),
    );
    report.add(
        format!("VmRSS of the restarted server process, {n} ConfigMaps"),
        Unit::Bytes,
        &rss,
        Target::AtMost(1.5 * 1024.0 * 1024.0 * 1024.0),
    );
    report.add(
        "LIST page of 500 across all namespaces (kube-rs, typed)",
        Unit::Ms,
        &page_all,
        Target::AtMost(0.005),
    );
    report.add(
        "LIST page of 500 in one namespace of 1,000 (kube-rs, typed)",
        Unit::Ms,
        &page_ns,
        Target::None,
    );
    report.add(
        "watch from a recent resourceVersion: request to first event",
        Unit::Ms,
        &watch,
        Target::AtMost(0.001),
    );
    report.add(
        "watch from a recent resourceVersion: request to response head",
        Unit::Ms,
        &head,
        Target::None,
    );
    report.add(
        "GET of one ConfigMap by the same client (for comparison)",
        Unit::Ms,
        &get,
        Target::None,
    );
    Ok(report)
}
