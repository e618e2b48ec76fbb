//! Scale on the durable medium: 1,000,000 small ConfigMaps across 1,000 namespaces. The parent
//! process fills a redb data directory once (in-process creates); then each run is a fresh child
//! process (`--scale-once DIR`), so that its resident memory is the restarted server's alone. A
//! child measures restart to ready, VmRSS once ready, a LIST page of 500 across all namespaces
//! and in one namespace (kube-rs, typed), and a watch started from a recent resourceVersion until
//! its first event (and, to compare, to its response head, and a GET by the same client); then,
//! once those are done (several seconds after ready, when the background controllers have read
//! the collection), VmRSS again, the peak (VmHWM) and the process's CPU time.
//!
//! `KUBEFORGE_BENCH_SCALE_DIR=DIR` keeps the data directory: filled when it holds no database,
//! reused as is otherwise (the fill takes minutes). `KUBEFORGE_BENCH_BASELINE=BIN` names another
//! build of this bench (say, of main): each run then restarts that binary's server on the same
//! data right before this one's, and both are reported, old first.
//! `KUBEFORGE_BENCH_SCALE_PHASES=1` first times the phases of the load apart (see [`PHASES`]).

use super::*;

/// The flag that makes the bench binary run one measuring child.
pub(super) const SCALE_ONCE: &str = "--scale-once";

/// The flag that makes the bench binary time one phase of a load (`--scale-phase DIR PHASE`).
pub(super) const SCALE_PHASE: &str = "--scale-phase";

/// The phases of a restart's load that `KUBEFORGE_BENCH_SCALE_PHASES=1` times apart, each in a
/// fresh process on the same (OS-cached) file: redb's iteration alone with the server's cache
/// and with redb's default one, the load as it was (one thread inserting each object into the
/// index), and the load as the server does it now.
const PHASES: [&str; 4] = ["iterate-32MiB", "iterate-1GiB", "load-one-thread", "load"];

/// Times `phase` (one of [`PHASES`]) on the database in `dir`; prints `PHASE seconds objects`.
pub(super) fn scale_phase(dir: &Path, phase: &str) -> Res<()> {
    use kubeforge_apiserver::storage::{Index, RedbStorage, Storage, StoredObject};
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
    let path = dir.join("kubeforge.redb");
    let t = Instant::now();
    let count = match phase {
        "iterate-32MiB" | "iterate-1GiB" | "load-one-thread" => {
            let cache = if phase == "iterate-1GiB" {
                1 << 30
            } else {
                32 << 20
            };
            let db = redb::Database::builder()
                .set_cache_size(cache)
                .open(&path)?;
            let txn = db.begin_read()?;
            let table = txn.open_table(OBJECTS)?;
            let mut index = Index::new();
            let (mut count, mut bytes) = (0usize, 0usize);
            for entry in table.iter()? {
                let (key, value) = entry?;
                let (key, value) = (key.value(), value.value());
                count += 1;
                bytes += key.len() + value.len();
                if phase == "load-one-thread" {
                    // As `RedbStorage::load` did before reading from both ends.
                    let (resource, namespace, name) =
                        kubeforge_apiserver::storage::ObjectKey::split(key).ok_or("bad key")?;
                    let (rv, json) = value.split_first_chunk::<8>().ok_or("bad value")?;
                    let object = StoredObject::new(
                        u64::from_be_bytes(*rv),
                        bytes::Bytes::copy_from_slice(json),
                    );
                    index.insert_at(resource, namespace, name, Arc::new(object));
                }
            }
            std::hint::black_box((bytes, &index));
            count
        }
        "load" => {
            let loaded = RedbStorage::open(dir)?.load()?;
            loaded.objects.counts().map(|(_, n)| n).sum()
        }
        other => return Err(format!("unknown phase {other:?}").into()),
    };
    println!("PHASE {} {count}", t.elapsed().as_secs_f64());
    Ok(())
}

/// Times each of [`PHASES`] in fresh processes, `runs` rounds, phases in turn.
fn phase_rows(report: &mut Report, dir: &Path, runs: usize) -> Res<()> {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); PHASES.len()];
    for _ in 0..runs {
        for (phase, out) in PHASES.iter().zip(times.iter_mut()) {
            let args = [SCALE_PHASE.as_ref(), dir.as_os_str(), phase.as_ref()];
            let line = child_result(&args, "PHASE ")?;
            let secs = line.split_whitespace().next().ok_or("no figure")?;
            out.push(secs.parse()?);
        }
    }
    for (phase, samples) in PHASES.iter().zip(times) {
        report.add(
            format!("load phase: {phase}"),
            Unit::Ms,
            &samples,
            Target::None,
        );
    }
    Ok(())
}

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

/// One child run: restart on `dir` and measure; prints `SCALE ready rss page_all page_ns watch
/// head get rss_after hwm cpu`.
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
    // Once the background controllers' first reading of the collection is surely over.
    let settle = Duration::from_secs(5).saturating_sub(t0.elapsed());
    tokio::time::sleep(settle).await;
    let rss_after = vm_rss_bytes()? as f64;
    let hwm = vm_status_bytes("VmHWM:")? as f64;
    let cpu = cpu_seconds()?;
    println!(
        "SCALE {ready} {rss} {page_all} {page_ns} {watch} {head} {get} {rss_after} {hwm} {cpu}"
    );
    server.shutdown().await;
    Ok(())
}

/// How many figures a child prints (a baseline built before the later ones prints the first 7).
const FIGURES: usize = 10;

/// One child's figures, parsed; the ones it did not print are NaN.
fn parse_figures(line: &str) -> Res<[f64; FIGURES]> {
    let mut out = [f64::NAN; FIGURES];
    for (slot, v) in out.iter_mut().zip(line.split_whitespace()) {
        *slot = v.parse()?;
    }
    Ok(out)
}

/// Fill once (or reuse a filled directory), then a fresh child process per run, of the baseline
/// binary and of this one in turn.
pub(super) async fn scenario_scale() -> Res<Report> {
    let mut report = Report::new("scale");
    let runs = scale(3, 1);
    let (_temp, dir) = match std::env::var_os("KUBEFORGE_BENCH_SCALE_DIR") {
        Some(d) => (None, std::path::PathBuf::from(d)),
        None => {
            let t = tempfile::tempdir()?;
            let d = t.path().to_path_buf();
            (Some(t), d)
        }
    };
    if dir.join("kubeforge.redb").exists() {
        println!("  (reusing the filled data directory {})", dir.display());
    } else {
        fill(&dir).await?;
    }
    let size = std::fs::metadata(dir.join("kubeforge.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    if std::env::var_os("KUBEFORGE_BENCH_SCALE_PHASES").is_some_and(|v| v != "0") {
        phase_rows(&mut report, &dir, runs)?;
    }
    let baseline = std::env::var_os("KUBEFORGE_BENCH_BASELINE").map(std::path::PathBuf::from);
    let this = std::env::current_exe()?;
    let binaries: Vec<(&str, std::path::PathBuf)> = match baseline {
        Some(old) => vec![("old", old), ("new", this)],
        None => vec![("", this)],
    };
    let mut figures: Vec<Vec<[f64; FIGURES]>> = vec![Vec::new(); binaries.len()];
    for _ in 0..runs {
        for ((_, exe), out) in binaries.iter().zip(figures.iter_mut()) {
            // shutdown() returns before the writer thread has closed the database file.
            tokio::time::sleep(Duration::from_millis(1000)).await;
            let args = [SCALE_ONCE.as_ref(), dir.as_os_str()];
            let line = child_result_of(exe, &args, "SCALE ")?;
            out.push(parse_figures(&line)?);
        }
    }
    for ((label, _), runs) in binaries.iter().zip(figures) {
        let column =
            |i: usize| -> Vec<f64> { runs.iter().map(|f| f[i]).filter(|v| !v.is_nan()).collect() };
        let tag = if label.is_empty() {
            String::new()
        } else {
            format!("[{label}] ")
        };
        add_rows(&mut report, &tag, size, column);
    }
    Ok(report)
}

/// The rows of one binary's runs (`column(i)`: figure `i` of every run), each named after `tag`.
fn add_rows(report: &mut Report, tag: &str, size: u64, column: impl Fn(usize) -> Vec<f64>) {
    let [
        ready,
        rss,
        page_all,
        page_ns,
        watch,
        head,
        get,
        rss_after,
        hwm,
        cpu,
    ] = std::array::from_fn(column);
    let n = thousands(objects() as u64);
    report.add(
        format!(
            "{tag}restart to ready, {n} ConfigMaps durable ({} MB file)",
            size / 1_000_000
        ),
        Unit::Ms,
        &ready,
        Target::AtMost(3.0),
    );
    report.add(
        format!("{tag}VmRSS of the restarted server process, {n} ConfigMaps"),
        Unit::Bytes,
        &rss,
        Target::AtMost(1.5 * 1024.0 * 1024.0 * 1024.0),
    );
    report.add(
        format!("{tag}LIST page of 500 across all namespaces (kube-rs, typed)"),
        Unit::Ms,
        &page_all,
        Target::AtMost(0.005),
    );
    report.add(
        format!("{tag}LIST page of 500 in one namespace of 1,000 (kube-rs, typed)"),
        Unit::Ms,
        &page_ns,
        Target::None,
    );
    report.add(
        format!("{tag}watch from a recent resourceVersion: request to first event"),
        Unit::Ms,
        &watch,
        Target::AtMost(0.001),
    );
    report.add(
        format!("{tag}watch from a recent resourceVersion: request to response head"),
        Unit::Ms,
        &head,
        Target::None,
    );
    report.add(
        format!("{tag}GET of one ConfigMap by the same client (for comparison)"),
        Unit::Ms,
        &get,
        Target::None,
    );
    if rss_after.is_empty() {
        return;
    }
    report.add(
        format!("{tag}VmRSS 5 s after start (background reads done)"),
        Unit::Bytes,
        &rss_after,
        Target::AtMost(1.5 * 1024.0 * 1024.0 * 1024.0),
    );
    report.add(
        format!("{tag}peak VmRSS (VmHWM) by then"),
        Unit::Bytes,
        &hwm,
        Target::None,
    );
    report.add(
        format!("{tag}CPU time of the child by then (user + system)"),
        Unit::Ms,
        &cpu,
        Target::None,
    );
}
