//! `kubeforge up` as a user runs it: the binary as a child process (a free port, a temporary data
//! directory), the examples applied with kubectl, and the operators' outcomes read back with
//! kubectl — Foo's Deployment and status, Foo at its two versions through the conversion webhook,
//! the rule's copies in `default` and `another-test`.
//!
//! kubectl is `$KUBEFORGE_KUBECTL_DIR/kubectl.1.33` (default `/usr/lib/google-cloud-sdk/bin`); a
//! missing binary fails under `CI=true` and is skipped otherwise.

mod kubectl_support;

use anyhow::{Context, Result, anyhow, bail, ensure};
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

/// Where `up` runs the operators' leader elections: their generated Roles grant Leases there.
const LEASE_NAMESPACE: &str = kubeforge_operators::manifests::NAMESPACE;

/// Reads `up`'s audit log: the operators made their requests as their own ServiceAccounts (each
/// of them), and the API server refused none of them — their generated RBAC is enough.
fn operators_were_never_forbidden(audit_log: &Path) -> Result<()> {
    let log = std::fs::read_to_string(audit_log)?;
    let prefix = format!(
        "system:serviceaccount:{}:",
        kubeforge_operators::manifests::NAMESPACE
    );
    let mut seen = std::collections::BTreeSet::new();
    for line in log.lines() {
        let event: serde_json::Value = serde_json::from_str(line)?;
        let Some(user) = event["user"]["username"].as_str() else {
            continue;
        };
        let Some(account) = user.strip_prefix(&prefix) else {
            continue;
        };
        seen.insert(account.to_string());
        let code = event["responseStatus"]["code"].as_u64().unwrap_or_default();
        ensure!(
            code != 403,
            "{user} was forbidden {} {}: {}",
            event["verb"],
            event["requestURI"],
            event["responseStatus"]["message"]
        );
    }
    for operator in kubeforge_operators::OPERATORS {
        let account = kubeforge_operators::manifests::object_name(operator);
        ensure!(
            seen.contains(&account),
            "no request as {prefix}{account} in the audit log (seen: {seen:?})"
        );
    }
    Ok(())
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
        .arg("--audit-log-path")
        .arg(dir.join("audit.log"))
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
    let every_operator: Vec<_> = kubeforge_operators::OPERATORS.iter().collect();
    let names: Vec<_> = every_operator.iter().map(|o| o.name).collect();
    assert!(
        banner.contains(&format!("Operators running: {} (", names.join(", "))),
        "{banner}"
    );
    assert!(banner.contains(", webhooks https://127.0.0.1:"), "{banner}");
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
    // Foo's two versions through the conversion webhook `up` registered: the v1alpha1 example
    // read at v1, and the v1 example stored at v1alpha1 and run by the controller.
    const V1ALPHA1: &str = "foos.v1alpha1.samplecontroller.k8s.io";
    const V1: &str = "foos.v1.samplecontroller.k8s.io";
    let yaml = kubectl
        .run(&["get", V1, "example-foo", "-o", "yaml"])
        .await?;
    assert!(
        yaml.contains("apiVersion: samplecontroller.k8s.io/v1\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("spec:\n  deployment:\n    name: example-foo\n    replicas: 1\n"),
        "{yaml}"
    );
    kubectl
        .run(&[
            "apply",
            "-f",
            examples().join("foo-v1.yaml").to_str().unwrap(),
        ])
        .await?;
    let yaml = kubectl
        .run(&["get", V1ALPHA1, "example-foo-v1", "-o", "yaml"])
        .await?;
    assert!(
        yaml.contains("apiVersion: samplecontroller.k8s.io/v1alpha1\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("spec:\n  deploymentName: example-foo-v1\n  replicas: 2\n"),
        "{yaml}"
    );
    kubectl
        .until(
            &[
                "get",
                "deployment",
                "example-foo-v1",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
            "2",
        )
        .await?;
    // Listed at both versions, each in its own form.
    let names = kubectl
        .run(&[
            "get",
            V1,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.spec.deployment.name} {end}",
        ])
        .await?;
    assert_eq!(
        names.trim(),
        "example-foo=example-foo example-foo-v1=example-foo-v1"
    );
    let names = kubectl
        .run(&[
            "get",
            V1ALPHA1,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.spec.deploymentName} {end}",
        ])
        .await?;
    assert_eq!(
        names.trim(),
        "example-foo=example-foo example-foo-v1=example-foo-v1"
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

    // Network: the example's Deployment's pods get distinct addresses, counted in ALLOCATED;
    // bad specs are refused with kube-apiserver's messages.
    kubectl
        .run(&[
            "apply",
            "-f",
            examples().join("network.yaml").to_str().unwrap(),
        ])
        .await?;
    kubectl
        .until(
            &[
                "get",
                "network",
                "example-network",
                "-o",
                "jsonpath={.status.allocated}",
            ],
            "3",
        )
        .await?;
    let ips = kubectl
        .run(&[
            "get",
            "pods",
            "-l",
            "app=network-demo",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.annotations.samplecrd\.k8s\.io/ip}{"\n"}{end}"#,
        ])
        .await?;
    let mut ips: Vec<&str> = ips.lines().filter(|l| !l.is_empty()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(
        ips,
        ["192.168.0.3", "192.168.0.4", "192.168.0.5"],
        "{ips:?}"
    );
    let table = kubectl.run(&["get", "network", "example-network"]).await?;
    for column in [
        "CIDR",
        "GATEWAY",
        "ALLOCATED",
        "FREE",
        "AGE",
        "192.168.0.0/16",
    ] {
        assert!(table.contains(column), "{column} missing from {table}");
    }
    let bad = dir.path().join("bad-network.yaml");
    std::fs::write(
        &bad,
        "apiVersion: samplecrd.k8s.io/v1\nkind: Network\nmetadata:\n  name: bad\nspec:\n  cidr: 10.0.0.1/8\n  gateway: 10.0.0.0\n",
    )?;
    let refused = kubectl
        .run(&["create", "-f", bad.to_str().unwrap()])
        .await
        .expect_err("a non-canonical CIDR is refused");
    for want in [
        r#"spec.cidr: Invalid value: "10.0.0.1/8": must be in canonical form ("10.0.0.0/8")"#,
        "spec.gateway: Invalid value: must not be the network address of spec.cidr",
    ] {
        assert!(
            refused.to_string().contains(want),
            "{want} missing from {refused}"
        );
    }
    let immutable = kubectl
        .run(&[
            "patch",
            "network",
            "example-network",
            "--type=merge",
            "-p",
            r#"{"spec":{"cidr":"10.0.0.0/8","gateway":"10.0.0.1"}}"#,
        ])
        .await
        .expect_err("cidr is immutable");
    assert!(
        immutable
            .to_string()
            .contains(r#"spec.cidr: Invalid value: "10.0.0.0/8": field is immutable"#),
        "{immutable}"
    );
    // The operators' webhooks, served by `up` and called by the API server: a Foo without
    // replicas comes back defaulted, a rule targeting its own namespace and a Network
    // overlapping another are refused with the webhook's 422 message.
    let webhooks = dir.path().join("webhooks.yaml");
    std::fs::write(
        &webhooks,
        "apiVersion: samplecontroller.k8s.io/v1alpha1\nkind: Foo\nmetadata:\n  name: defaulted\nspec:\n  deploymentName: defaulted\n",
    )?;
    kubectl
        .run(&["apply", "-f", webhooks.to_str().unwrap()])
        .await?;
    let replicas = kubectl
        .run(&[
            "get",
            "foos.v1alpha1.samplecontroller.k8s.io",
            "defaulted",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .await?;
    assert_eq!(replicas, "1");
    std::fs::write(
        &webhooks,
        "apiVersion: k8s.tideland.dev/v1alpha1\nkind: ConfigurationDistributionRule\nmetadata:\n  name: into-itself\n  namespace: ns-codis-test\nspec:\n  mode: both\n  namespaces: [another-test, ns-codis-test]\n",
    )?;
    let refused = kubectl
        .run(&["apply", "-f", webhooks.to_str().unwrap()])
        .await
        .expect_err("a rule targeting its own namespace is refused");
    let want = r#"admission webhook "vconfigurationdistributionrule-v1alpha1.k8s.tideland.dev" denied the request: ConfigurationDistributionRule.k8s.tideland.dev "into-itself" is invalid: spec.namespaces[1]: Invalid value: "ns-codis-test": must not be the rule's own namespace, which holds the sources it distributes"#;
    assert!(
        refused.to_string().contains(want),
        "{want} missing from {refused}"
    );
    std::fs::write(
        &webhooks,
        "apiVersion: samplecrd.k8s.io/v1\nkind: Network\nmetadata:\n  name: overlapping\nspec:\n  cidr: 192.168.7.0/24\n  gateway: 192.168.7.1\n",
    )?;
    let refused = kubectl
        .run(&[
            "apply",
            "-f",
            webhooks.to_str().unwrap(),
            "--dry-run=server",
        ])
        .await
        .expect_err("an overlapping Network is refused");
    let want = r#"admission webhook "vnetwork-v1.samplecrd.k8s.io" denied the request: Network.samplecrd.k8s.io "overlapping" is invalid: spec.cidr: Invalid value: "192.168.7.0/24": overlaps Network "example-network" (192.168.0.0/16)"#;
    assert!(
        refused.to_string().contains(want),
        "{want} missing from {refused}"
    );

    // The pod policies: the pods without probes labelled, and the policies' FAILED column.
    kubectl
        .run(&[
            "apply",
            "-f",
            examples().join("policies.yaml").to_str().unwrap(),
        ])
        .await?;
    for (label, kind) in [
        ("health-check-missing", "hcp/health"),
        ("invalid-container-image", "cip/images"),
        ("resources-wrong", "rp/resources"),
    ] {
        kubectl
            .until(
                &[
                    "get",
                    "pods",
                    "-n",
                    "policy-demo",
                    "-l",
                    &format!("{label}=true"),
                    "-o",
                    "jsonpath={.items[*].metadata.labels.app}",
                ],
                "careless careless",
            )
            .await?;
        kubectl
            .until(
                &[
                    "get",
                    kind,
                    "-n",
                    "policy-demo",
                    "-o",
                    "jsonpath={.status.statistics.pods.failed}/{.status.statistics.pods.passed}",
                ],
                "2/1",
            )
            .await?;
    }
    let table = kubectl.run(&["get", "hcp", "-n", "policy-demo"]).await?;
    let mut rows = table.lines();
    let header: Vec<&str> = rows.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "ACTION", "FAILED", "PASSED", "LAST", "CHECKED", "AGE"
        ],
        "{table}"
    );
    let row: Vec<&str> = rows.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(row[..4], ["health", "label", "2", "1"], "{table}");
    let described = kubectl
        .run(&["describe", "pod", "-n", "policy-demo", "-l", "app=careless"])
        .await?;
    assert!(
        described.contains("FailedPolicy") && described.contains("fails HealthCheckPolicy"),
        "{described}"
    );

    // The service detector: the meetup's Pod and Service, found for each other.
    kubectl
        .run(&[
            "apply",
            "-f",
            examples().join("service-detector.yaml").to_str().unwrap(),
        ])
        .await?;
    kubectl
        .until(
            &[
                "get",
                "pod",
                "nginx",
                "-o",
                "jsonpath={.metadata.annotations.kubeforge\\.dev/services}",
            ],
            "nginx-service",
        )
        .await?;
    kubectl
        .until(
            &[
                "get",
                "service",
                "nginx-typo",
                "-o",
                "jsonpath={.metadata.annotations.kubeforge\\.dev/selected-pods}",
            ],
            "0",
        )
        .await?;

    // The manager's endpoints and its leader-election Lease.
    assert_eq!(http_get(&health_url).await?, "ok");
    let metrics = http_get(&metrics_url).await?;
    for controller in [
        "foo",
        "configurationdistributionrule",
        "healthcheckpolicy",
        "containerimagepolicy",
        "resourcespolicy",
    ] {
        let line = format!(
            "controller_runtime_reconcile_total{{controller=\"{controller}\",result=\"success\"}}"
        );
        assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
    }
    // Each operator runs under its own ServiceAccount and elects its leader on its own Lease, in
    // the namespace its generated Role grants Leases in.
    let leases: Vec<String> = every_operator
        .iter()
        .map(|operator| kubeforge_operators::runner::lease_name(&[operator]))
        .collect();
    for lease in &leases {
        kubectl
            .until(
                &["get", "lease", lease, "-n", LEASE_NAMESPACE, "-o", "name"],
                &format!("lease.coordination.k8s.io/{lease}"),
            )
            .await?;
    }

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
    operators_were_never_forbidden(&dir.path().join("audit.log"))?;

    let kubeconfig = dir.path().join("apiserver-kubeconfig");
    let mut server = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["apiserver", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
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
    ensure!(line.contains("https://"), "{line}");
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig)?,
        &Default::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    // The webhook configurations left with `up`: nothing serves them any more, and they fail
    // closed (a restarted `up` registers them again).
    use k8s_openapi::api::admissionregistration::v1::{
        MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
    };
    let mutating: kube::Api<MutatingWebhookConfiguration> = kube::Api::all(client.clone());
    let validating: kube::Api<ValidatingWebhookConfiguration> = kube::Api::all(client.clone());
    assert!(mutating.get_opt("kubeforge-foo").await?.is_none());
    for name in ["kubeforge-codis", "kubeforge-network"] {
        assert!(validating.get_opt(name).await?.is_none(), "{name} remains");
    }
    let api: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client, LEASE_NAMESPACE);
    for name in &leases {
        let lease = api.get(name).await?;
        let holder = lease
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        assert!(holder.is_empty(), "{name} is still held by {holder:?}");
    }
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
