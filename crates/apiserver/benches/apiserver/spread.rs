//! What open watches cost the writes they do not concern: creates in `default` with no other
//! watch open, and with 1,000 watches open on 1,000 other namespaces (each proven live by one
//! event of its own before the measurement). Measured: sequential creates (the one watcher of
//! `default` timed from the create's acknowledgement to its event), creates at 16 in-process
//! writers, and the process's CPU per create. A store that wakes every watcher on every commit
//! pays for the idle watches on each write; one that pushes each event to the watchers of its
//! resource and namespace does not.

use super::*;

/// Starts `count` raw watches, one per namespace `w-<i>`, and one on `default`; returns the
/// receivers of the first event name each sees (idle ones) and of `default`'s events.
async fn open_watches(
    server: &ApiServer,
    count: usize,
    rv: &str,
) -> Res<(
    mpsc::UnboundedReceiver<(String, Instant)>,
    mpsc::UnboundedReceiver<(String, Instant)>,
    Vec<tokio::task::JoinHandle<()>>,
)> {
    let (idle_tx, idle_rx) = mpsc::unbounded_channel();
    let (default_tx, default_rx) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for i in 0..count {
        let (tx, rv, addr) = (idle_tx.clone(), rv.to_string(), server.addr());
        tasks.push(tokio::spawn(async move {
            let _ = raw_watch(addr, &format!("w-{i}"), &rv, tx).await;
        }));
    }
    let (rv, addr) = (rv.to_string(), server.addr());
    tasks.push(tokio::spawn(async move {
        let _ = raw_watch(addr, "default", &rv, default_tx).await;
    }));
    Ok((idle_rx, default_rx, tasks))
}

/// The scenario: one child process, both configurations per run.
pub(crate) async fn scenario_spread() -> Res<Report> {
    let mut report = Report::new("spread");
    let others = scale(1000, 100);
    let sequential = scale(300, 50);
    let concurrent = scale(5000, 500);
    let runs = scale(3, 1);
    let mut samples: Vec<(String, Vec<f64>)> = Vec::new();
    let mut add = |key: String, value: f64| match samples.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => v.push(value),
        None => samples.push((key, vec![value])),
    };
    for _ in 0..runs {
        for idle in [0, others] {
            let server = start_server(None).await?;
            populate_with(&server, "namespaces", idle, 64, |i| {
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("w-{i}")}})
            })
            .await?;
            let writer: Api<ConfigMap> = Api::namespaced(new_client(server.url())?, "default");
            let rv = current_resource_version(&writer).await?;
            let (mut idle_rx, mut default_rx, tasks) = open_watches(&server, idle, &rv).await?;
            // Every idle watch live: one object in each namespace, each seen.
            populate_with(&server, "configmaps", idle, 64, |i| {
                let mut cm = config_map_json(&format!("live-{i}"));
                cm["metadata"]["namespace"] = json!(format!("w-{i}"));
                cm
            })
            .await?;
            for seen in 0..idle {
                tokio::time::timeout(Duration::from_secs(60), idle_rx.recv())
                    .await
                    .map_err(|_| format!("only {seen} of {idle} idle watches are live"))?
                    .ok_or("idle watches stopped")?;
            }
            let label = format!("{idle} idle watches");
            // Sequential creates: latency from acknowledgement to `default`'s watcher.
            let mut from_ack = Vec::with_capacity(sequential);
            let cpu0 = cpu_seconds()?;
            let t0 = Instant::now();
            for i in 0..sequential {
                let name = format!("seq-{i}");
                writer
                    .create(&PostParams::default(), &config_map(&name))
                    .await?;
                let acked = Instant::now();
                loop {
                    let (seen, at) =
                        tokio::time::timeout(Duration::from_secs(30), default_rx.recv())
                            .await
                            .map_err(|_| format!("the watcher of default never saw {name}"))?
                            .ok_or("the watcher of default stopped")?;
                    if seen == name {
                        from_ack.push(at.saturating_duration_since(acked).as_secs_f64());
                        break;
                    }
                }
            }
            let seq_s = t0.elapsed().as_secs_f64();
            let seq_cpu = cpu_seconds()? - cpu0;
            from_ack.sort_by(f64::total_cmp);
            add(
                format!("sequential creates, {label}|creates/s"),
                sequential as f64 / seq_s,
            );
            add(
                format!("sequential creates, {label}|ack → event p50"),
                sorted_quantile_f(&from_ack, 0.5),
            );
            add(
                format!("sequential creates, {label}|ack → event p99"),
                sorted_quantile_f(&from_ack, 0.99),
            );
            add(
                format!("sequential creates, {label}|CPU per create"),
                seq_cpu / sequential as f64,
            );
            // Concurrent creates in process (no HTTP client in the way).
            let cpu0 = cpu_seconds()?;
            let t0 = Instant::now();
            populate(&server, "par-", concurrent, 16).await?;
            let par_s = t0.elapsed().as_secs_f64();
            let par_cpu = cpu_seconds()? - cpu0;
            add(
                format!("16 in-process writers, {label}|creates/s"),
                concurrent as f64 / par_s,
            );
            add(
                format!("16 in-process writers, {label}|CPU per create"),
                par_cpu / concurrent as f64,
            );
            for t in tasks {
                t.abort();
            }
            server.shutdown().await;
        }
    }
    for (key, v) in samples {
        let (how, figure) = key.split_once('|').unwrap_or((&key, ""));
        let unit = if figure == "creates/s" {
            Unit::PerSec
        } else {
            Unit::Ms
        };
        report.add(format!("{how}: {figure}"), unit, &v, Target::None);
    }
    Ok(report)
}

/// The `q` quantile of sorted seconds.
fn sorted_quantile_f(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
