//! `kubeforge up` as a user runs it: the binary as a child process (a free port, a temporary data
//! directory), the examples applied with kubectl, and the operators' outcomes read back with
//! kubectl — Foo's Deployment and status, the rule's copies in `default` and `another-test`.
//!
//! kubectl is `$KUBEFORGE_KUBECTL_DIR/kubectl.1.33` (default `/usr/lib/google-cloud-sdk/bin`); a
//! missing binary fails under `CI=true` and is skipped otherwise.

mod kubectl_support;

use anyhow::{Context, Result, anyhow, bail};
use kubectl_support::kubectl_binary;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PATIENCE: Duration = Duration::from_secs(60);

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Kubectl {
    /// Runs kubectl; its stdout on success, an error with stderr otherwise.
    async fn run(&self, args: &[&str]) -> Result<String> {
        let output = tokio::time::timeout(
            PATIENCE,
            Command::new(&self.binary)
                .args(args)
                .env("KUBECONFIG", &self.kubeconfig)
                .env("HOME", &self.home)
                .stdin(Stdio::null())
                .output(),
        )
        .await
        .context("kubectl timed out")??;
        if !output.status.success() {
            bail!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Polls `kubectl args` until its output is `want` (trimmed).
    async fn until(&self, args: &[&str], want: &str) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.run(args).await {
                Ok(out) if out.trim() == want => return Ok(()),
                Ok(out) => last = out,
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(anyhow!(
            "kubectl {} never printed {want:?}; last: {last}",
            args.join(" ")
        ))
    }
}

/// The body of a plain HTTP GET of `url` (`http://host:port/path`).
async fn http_get(url: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("not http: {url}"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("bad response: {response}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET {url}: {head}");
    }
    Ok(body.trim().to_string())
}

/// Starts `kubeforge up` and waits for its getting-started block.
async fn up(dir: &Path) -> Result<(Child, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .args(["--health-addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr"))?)
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await? {
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Press Ctrl-C") {
                return Ok::<_, anyhow::Error>(true);
            }
        }
        Ok(false)
    };
    let started = tokio::time::timeout(PATIENCE, read)
        .await
        .context("up did not start")??;
    if !started {
        let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
        bail!("kubeforge up exited:\n{banner}\n{stderr}");
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, banner))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_the_operators_for_kubectl() -> Result<()> {
    let Some(binary) = kubectl_binary() else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let (mut child, banner) = up(dir.path()).await?;
    assert!(
        banner.contains("kubectl apply -f examples/foo.yaml"),
        "{banner}"
    );
    assert!(
        banner.contains("Operators running: foo, codis, eventhorizon ("),
        "{banner}"
    );
    let url_after = |label: &str| -> Result<String> {
        let start = banner
            .find(label)
            .ok_or_else(|| anyhow!("no {label} in {banner}"))?
            + label.len();
        let rest = &banner[start..];
        let end = rest.find([',', ')']).unwrap_or(rest.len());
        Ok(rest[..end].to_string())
    };
    let metrics_url = url_after("metrics ")?;
    let health_url = url_after("health ")?;
    let kubectl = Kubectl {
        binary,
        kubeconfig: dir.path().join("kubeconfig"),
        home: dir.path().to_path_buf(),
    };

    kubectl
        .run(&["apply", "-f", examples().join("foo.yaml").to_str().unwrap()])
        .await?;
    kubectl
        .run(&[
            "apply",
            "-f",
            examples().join("codis.yaml").to_str().unwrap(),
        ])
        .await?;

    // Foo: its Deployment, owned by it, and its status from the simulated Pods.
    kubectl
        .until(
            &[
                "get",
                "deployment",
                "example-foo",
                "-o",
                "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
            ],
            "Foo/example-foo",
        )
        .await?;
    kubectl
        .until(
            &[
                "get",
                "foo",
                "example-foo",
                "-o",
                "jsonpath={.status.availableReplicas}",
            ],
            "1",
        )
        .await?;
    let table = kubectl.run(&["get", "foo", "example-foo"]).await?;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("DEPLOYMENT") && table.contains("AVAILABLE"),
        "{table}"
    );

    // The rule: copies in both targets, counted in the status, Ready.
    for ns in ["default", "another-test"] {
        kubectl
            .until(
                &[
                    "get",
                    "configmap",
                    "cm-codis-test",
                    "-n",
                    ns,
                    "-o",
                    "jsonpath={.data.greeting}",
                ],
                "hello from ns-codis-test",
            )
            .await?;
    }
    kubectl
        .until(
            &[
                "get",
                "rule",
                "rule-codis-test",
                "-n",
                "ns-codis-test",
                "-o",
                "jsonpath={.status.distributed}",
            ],
            "2",
        )
        .await?;
    kubectl
        .until(
            &[
                "wait",
                "--for=condition=Ready",
                "cdr/rule-codis-test",
                "-n",
                "ns-codis-test",
                "--timeout=30s",
                "-o",
                "name",
            ],
            "configurationdistributionrule.k8s.tideland.dev/rule-codis-test",
        )
        .await?;

    // The manager's endpoints and its leader-election Lease.
    assert_eq!(http_get(&health_url).await?, "ok");
    let metrics = http_get(&metrics_url).await?;
    for controller in ["foo", "configurationdistributionrule"] {
        let line = format!(
            "controller_runtime_reconcile_total{{controller=\"{controller}\",result=\"success\"}}"
        );
        assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
    }
    kubectl
        .until(
            &[
                "get",
                "lease",
                "kubeforge-foo-codis-eventhorizon",
                "-n",
                "default",
                "-o",
                "name",
            ],
            "lease.coordination.k8s.io/kubeforge-foo-codis-eventhorizon",
        )
        .await?;

    // Unlabelling the source removes the copies.
    kubectl
        .run(&[
            "label",
            "configmap",
            "cm-codis-test",
            "-n",
            "ns-codis-test",
            "rule-",
        ])
        .await?;
    kubectl
        .until(
            &[
                "get",
                "configmap",
                "-n",
                "another-test",
                "-o",
                "name",
                "--field-selector",
                "metadata.name=cm-codis-test",
            ],
            "",
        )
        .await?;

    // SIGTERM: a clean exit, with the Lease released so a restarted `up` need not wait it out.
    let pid = child.id().ok_or_else(|| anyhow!("up already exited"))?;
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?;
    assert!(killed.success());
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .context("up did not stop on SIGTERM")??;
    assert!(status.success(), "up exited with {status}");

    let mut server = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["apiserver", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = server.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let line = tokio::time::timeout(PATIENCE, BufReader::new(stdout).lines().next_line())
        .await
        .context("apiserver did not start")??
        .ok_or_else(|| anyhow!("apiserver exited"))?;
    let url = line.split_whitespace().last().unwrap_or_default();
    let client = kube::Client::try_from(kube::Config::new(url.parse()?))?;
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client, "default");
    let lease = leases.get("kubeforge-foo-codis-eventhorizon").await?;
    let holder = lease
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap_or_default();
    assert!(holder.is_empty(), "the lease is still held by {holder:?}");
    server.start_kill()?;
    server.wait().await?;
    Ok(())
}

/// A TCP Forward receiver that keeps every byte it is sent (the example asks for no acks).
async fn forward_sink() -> Result<(u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>)> {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let bytes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = bytes.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    Ok((port, bytes))
}

/// `curl` a CloudEvent to `port`; returns the HTTP status. Retries while nothing listens (the
/// router stops while `up` renews a lost lease on a loaded machine, as any client would).
async fn curl(port: u16, args: &[&str]) -> Result<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = curl_once(port, args).await?;
        if status != "000" || Instant::now() > deadline {
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn curl_once(port: u16, args: &[&str]) -> Result<String> {
    let output = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args(args)
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .await
        .context("running curl")?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_routes_cloudevents_configured_with_kubectl() -> Result<()> {
    let Some(binary) = kubectl_binary() else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let (mut child, _) = up(dir.path()).await?;
    let kubectl = Kubectl {
        binary,
        kubeconfig: dir.path().join("kubeconfig"),
        home: dir.path().to_path_buf(),
    };
    // The example, on free ports, without acks.
    let free = || -> Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    };
    let (ingest, metrics) = (free()?, free()?);
    let (fluentd, received) = forward_sink().await?;
    let example = std::fs::read_to_string(examples().join("eventhorizon.yaml"))?
        .replace("port: 1257", &format!("port: {ingest}"))
        .replace("port: 1258", &format!("port: {metrics}"))
        .replace("port: 24224", &format!("port: {fluentd}"))
        .replace("requestAck: true", "requestAck: false");
    let path = dir.path().join("eventhorizon.yaml");
    std::fs::write(&path, example)?;
    kubectl
        .run(&["apply", "-f", path.to_str().unwrap()])
        .await?;
    kubectl
        .until(
            &[
                "get",
                "s",
                "eventhorizon",
                "-n",
                "kube-system",
                "-o",
                "jsonpath={.status.conditions[0].reason}",
            ],
            "Listening",
        )
        .await?;

    let binary_mode = curl(
        ingest,
        &[
            "-H",
            "ce-specversion: 1.0",
            "-H",
            "ce-id: curl-binary",
            "-H",
            "ce-type: com.example.created",
            "-H",
            "ce-source: /demo",
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"hello":"binary"}"#,
        ],
    )
    .await?;
    if binary_mode != "202" {
        let status = kubectl.run(&["get", "s", "-A", "-o", "yaml"]).await?;
        let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
        panic!("curl answered {binary_mode} on port {ingest}\n{status}\n{stderr}");
    }
    let structured = curl(ingest, &[
        "-H", "content-type: application/cloudevents+json", "-d",
        r#"{"specversion":"1.0","id":"curl-structured","type":"com.example.created","source":"/demo","data":{"hello":"structured"}}"#,
    ]).await?;
    assert_eq!(structured, "202");
    let denied = curl(
        ingest,
        &[
            "-H",
            "ce-specversion: 1.0",
            "-H",
            "ce-id: curl-denied",
            "-H",
            "ce-type: org.other",
            "-H",
            "ce-source: /demo",
        ],
    )
    .await?;
    assert_eq!(denied, "400", "the example's validator refuses other types");

    // Both reach the Forward receiver (and stdout): 2 events × 2 handlers delivered.
    kubectl
        .until(
            &[
                "get",
                "s",
                "eventhorizon",
                "-n",
                "kube-system",
                "-o",
                "jsonpath={.status.delivered}/{.status.rejected}",
            ],
            "4/1",
        )
        .await?;
    let bytes = received.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("curl-binary") && text.contains("curl-structured"),
        "{text}"
    );
    assert!(
        text.contains("eventhorizon") && text.contains("payments"),
        "tag and labels: {text}"
    );
    kubectl
        .until(
            &[
                "get",
                "ceh",
                "to-fluentd",
                "-o",
                "jsonpath={.status.outputResolved}",
            ],
            "true",
        )
        .await?;
    let scraped = http_get(&format!("http://127.0.0.1:{metrics}/metrics")).await?;
    assert!(
        scraped.contains("events_received_total{type=\"com.example.created\"} 2"),
        "{scraped}"
    );
    child.kill().await?;
    Ok(())
}
