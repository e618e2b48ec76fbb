//! A throwaway etcd for the tests that run kubeforge on etcd: a real `etcd` process on free
//! loopback ports with its own data directory, stopped when dropped.
//!
//! The binary is `$KUBEFORGE_ETCD` or `etcd` on PATH (Debian's `etcd-server`; `.ci/run`
//! installs it). Without it the tests skip with a message, except in CI (`CI=true`), where a
//! missing etcd fails them.
#![allow(dead_code)]

use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::storage::EtcdConfig;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running etcd.
pub struct Etcd {
    child: Option<Child>,
    binary: PathBuf,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    tls: Option<Tls>,
}

/// etcd serving https with client-certificate authentication: the files it was started with,
/// and a client identity its CA signed.
pub struct Tls {
    /// The CA that signed etcd's serving certificate and the client's (PEM file).
    pub ca_file: PathBuf,
    /// A client certificate the CA signed (PEM file).
    pub client_cert_file: PathBuf,
    /// Its key (PEM file).
    pub client_key_file: PathBuf,
    server_cert_file: PathBuf,
    server_key_file: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KUBEFORGE_ETCD") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|candidate| candidate.is_file())
}

impl Etcd {
    /// Starts etcd, or answers None (after saying why) when there is no etcd binary outside CI.
    pub async fn start() -> Option<Etcd> {
        Etcd::start_with(false).await
    }

    /// Starts etcd on https with `--client-cert-auth`: a fresh CA signs its serving certificate
    /// (for 127.0.0.1) and a client certificate (see [`Etcd::tls`]).
    pub async fn start_tls() -> Option<Etcd> {
        Etcd::start_with(true).await
    }

    async fn start_with(tls: bool) -> Option<Etcd> {
        let Some(binary) = binary() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "no etcd binary (install Debian's etcd-server or set KUBEFORGE_ETCD): the etcd tests must run in CI"
                );
            }
            eprintln!(
                "SKIPPED: no etcd binary found (install Debian's etcd-server, or set KUBEFORGE_ETCD to one)"
            );
            return None;
        };
        let mut etcd = Etcd {
            child: None,
            binary,
            dir: tempfile::tempdir().expect("a temporary directory"),
            client_port: free_port(),
            peer_port: free_port(),
            tls: None,
        };
        if tls {
            etcd.tls = Some(etcd.certificates());
        }
        etcd.launch().await;
        Some(etcd)
    }

    fn certificates(&self) -> Tls {
        use kubeforge_apiserver::tls::pki::CertificateAuthority;
        let ca = CertificateAuthority::generate().expect("a CA");
        let serving = ca
            .issue_serving(&["127.0.0.1".to_string()])
            .expect("a serving certificate");
        let client = ca
            .issue_client(
                "kube-apiserver-etcd-client",
                None,
                Duration::from_secs(3600),
            )
            .expect("a client certificate");
        let write = |name: &str, pem: &str| {
            let path = self.dir.path().join(name);
            std::fs::write(&path, pem).expect("a certificate file");
            path
        };
        Tls {
            ca_file: write("ca.crt", &ca.pem.cert),
            client_cert_file: write("client.crt", &client.cert),
            client_key_file: write("client.key", &client.key),
            server_cert_file: write("server.crt", &serving.cert),
            server_key_file: write("server.key", &serving.key),
        }
    }

    /// The certificates of an etcd started with [`Etcd::start_tls`].
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// Client options that reach this etcd (its CA and client certificate when on https).
    fn connect_options(&self) -> Option<etcd_client::ConnectOptions> {
        let tls = self.tls.as_ref()?;
        let read = |p: &PathBuf| std::fs::read(p).expect("a certificate file");
        Some(
            etcd_client::ConnectOptions::new().with_tls(
                etcd_client::TlsOptions::new()
                    .ca_certificate(etcd_client::Certificate::from_pem(read(&tls.ca_file)))
                    .identity(etcd_client::Identity::from_pem(
                        read(&tls.client_cert_file),
                        read(&tls.client_key_file),
                    )),
            ),
        )
    }

    async fn launch(&mut self) {
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.path().join("etcd.log")).expect("a log file");
        let mut command = Command::new(&self.binary);
        if let Some(tls) = &self.tls {
            command
                .arg(format!("--cert-file={}", tls.server_cert_file.display()))
                .arg(format!("--key-file={}", tls.server_key_file.display()))
                .arg(format!("--trusted-ca-file={}", tls.ca_file.display()))
                .arg("--client-cert-auth");
        }
        let child = command
            .arg("--name=kubeforge-test")
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=kubeforge-test={peer}"))
            // Tests write a lot and fsync every write: etcd's own quota is not what they test.
            .arg("--quota-backend-bytes=4294967296")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
        // Ready when a client request succeeds.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Ok(mut c)) = tokio::time::timeout(
                Duration::from_secs(1),
                etcd_client::Client::connect([client.as_str()], self.connect_options()),
            )
            .await
                && let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), c.status()).await
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "etcd did not become ready; its log: {}",
                std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The etcd process's id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The client URL.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// A configuration for kubeforge under `prefix` (compaction off unless asked for).
    pub fn config(&self, prefix: &str) -> EtcdConfig {
        let mut config = EtcdConfig::new([self.url()]);
        config.prefix = prefix.to_string();
        config.compaction_interval = Duration::ZERO;
        config
    }

    /// A client of this etcd.
    pub async fn client(&self) -> etcd_client::Client {
        etcd_client::Client::connect([self.url()], self.connect_options())
            .await
            .expect("etcd client")
    }

    /// Kills etcd (SIGKILL: nothing is flushed that etcd had not made durable).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same data and ports.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The etcd that every server of this test process shares when `KUBEFORGE_TEST_STORAGE=etcd`
/// (each server under its own prefix): started once, on a thread that lives as long as the
/// process, and killed by the kernel when the process ends (`PR_SET_PDEATHSIG`). Its data
/// directory is named after the process; those of processes that are gone are removed first.
pub fn process_wide() -> Option<&'static str> {
    static URL: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let Some(binary) = binary() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("KUBEFORGE_TEST_STORAGE=etcd but there is no etcd binary");
            }
            eprintln!("SKIPPED: KUBEFORGE_TEST_STORAGE=etcd but no etcd binary found");
            return None;
        };
        let tmp = std::env::temp_dir();
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("kubeforge-test-etcd-")
                    && !std::path::Path::new(&format!("/proc/{pid}")).exists()
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = tmp.join(format!("kubeforge-test-etcd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (client_port, peer_port) = (free_port(), free_port());
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let (tx, rx) = std::sync::mpsc::channel();
        let url = client.clone();
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt;
            let mut cmd = Command::new(binary);
            cmd.arg("--name=kubeforge-test")
                .arg(format!("--data-dir={}", dir.join("data").display()))
                .arg(format!("--listen-client-urls={client}"))
                .arg(format!("--advertise-client-urls={client}"))
                .arg(format!("--listen-peer-urls={peer}"))
                .arg(format!("--initial-advertise-peer-urls={peer}"))
                .arg(format!("--initial-cluster=kubeforge-test={peer}"))
                .arg("--quota-backend-bytes=4294967296")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death signal.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd.spawn();
            let _ = tx.send(child.is_ok());
            // The parent-death signal is sent when this thread ends: it never does.
            let _keep = child;
            loop {
                std::thread::park();
            }
        });
        if rx.recv() != Ok(true) {
            panic!("etcd did not start");
        }
        Some(url)
    })
    .as_deref()
}

/// Whether this test run puts its servers on etcd (`KUBEFORGE_TEST_STORAGE=etcd`).
pub fn requested() -> bool {
    std::env::var("KUBEFORGE_TEST_STORAGE").is_ok_and(|v| v == "etcd")
}

/// With `KUBEFORGE_TEST_STORAGE=etcd`, a configuration on the process-wide etcd under a prefix
/// of its own (see [`process_wide_config`]); None otherwise.
pub async fn requested_config() -> Option<EtcdConfig> {
    if !requested() {
        return None;
    }
    process_wide_config().await
}

/// A configuration for one more server on the process-wide etcd (see [`process_wide`]), under
/// a prefix of its own, once etcd answers; None without etcd outside CI.
pub async fn process_wide_config() -> Option<EtcdConfig> {
    let url = process_wide()?;
    let mut config = EtcdConfig::new([url]);
    config.prefix = format!("/test-{}", uuid::Uuid::new_v4());
    config.compaction_interval = Duration::ZERO;
    // The first server waits for etcd to be ready.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Ok(mut c)) = tokio::time::timeout(
            Duration::from_secs(1),
            etcd_client::Client::connect([url], None),
        )
        .await
            && let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), c.status()).await
        {
            return Some(config);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the process-wide etcd at {url} did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An API server on `etcd` under `prefix`.
pub async fn server(etcd: &Etcd, prefix: &str) -> ApiServer {
    ApiServer::builder()
        .etcd(etcd.config(prefix))
        .start()
        .await
        .expect("server starts on etcd")
}

/// etcd's handled gRPC requests so far, by method (from its `/metrics`), for tests and
/// benchmarks that count what an operation costs etcd. Empty when etcd cannot be reached.
pub async fn grpc_requests(url: &str) -> std::collections::BTreeMap<String, f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut counts = std::collections::BTreeMap::new();
    let Some(addr) = url.strip_prefix("http://") else {
        return counts;
    };
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return counts;
    };
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut buf = Vec::new();
    if stream.write_all(req.as_bytes()).await.is_err()
        || stream.read_to_end(&mut buf).await.is_err()
    {
        return counts;
    }
    for line in String::from_utf8_lossy(&buf).lines() {
        let Some(rest) = line.strip_prefix("grpc_server_handled_total{") else {
            continue;
        };
        let method = rest
            .split("grpc_method=\"")
            .nth(1)
            .and_then(|m| m.split('"').next())
            .unwrap_or("?");
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *counts.entry(method.to_string()).or_default() += value;
    }
    counts
}
