//! The kubectl runner shared by the kubectl suites (`kubectl.rs`, `crd_schema.rs`): finding the
//! versioned binaries, one test per installed version, and a [`Kubectl`] wired to one in-process
//! server with its own `HOME`, `--cache-dir`, kubeconfig and manifest directory, so kubectl's
//! discovery and OpenAPI disk cache never leak between servers that happen to reuse a port.
//!
//! Binaries are looked up as `$KUBEFORGE_KUBECTL_DIR/kubectl.1.NN` (default
//! `/usr/lib/google-cloud-sdk/bin`). A missing binary fails the test when `CI=true` and is skipped
//! with a message otherwise.
#![allow(dead_code)]

use anyhow::{Context, Result, anyhow, ensure};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Where the versioned kubectl binaries are installed unless `KUBEFORGE_KUBECTL_DIR` says otherwise.
pub const DEFAULT_KUBECTL_DIR: &str = "/usr/lib/google-cloud-sdk/bin";
/// The longest any single kubectl invocation may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for something to happen in the background (a watch line, a deletion).
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// One `#[tokio::test]` per kubectl version, each calling the including file's
/// `suite(version)`.
macro_rules! kubectl_versions {
    () => {
        kubectl_versions! {
            kubectl_1_27 => "1.27",
            kubectl_1_28 => "1.28",
            kubectl_1_29 => "1.29",
            kubectl_1_30 => "1.30",
            kubectl_1_31 => "1.31",
            kubectl_1_32 => "1.32",
            kubectl_1_33 => "1.33",
        }
    };
    ($($test:ident => $version:literal),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            suite($version).await;
        }
    )*};
}
pub(crate) use kubectl_versions;

/// The kubectl binary for `version`; `None` (after saying so) when it is missing outside CI.
pub fn kubectl_binary(version: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("KUBEFORGE_KUBECTL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_KUBECTL_DIR));
    let path = dir.join(format!("kubectl.{version}"));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "kubectl {version} is required in CI but {} does not exist",
            path.display()
        );
    }
    eprintln!(
        "SKIPPED kubectl {version}: {} does not exist (install it or set KUBEFORGE_KUBECTL_DIR)",
        path.display()
    );
    None
}

/// What a finished kubectl run printed.
pub struct Output {
    pub success: bool,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The kubeconfig of the server kubectl writes through (and reads through, unless split).
const KUBECONFIG: &str = "kubeconfig";

/// The kubeconfig of the server a split [`Kubectl`] reads and watches through.
const READER_KUBECONFIG: &str = "kubeconfig-reader";

/// kubectl's flags that take their value as the next argument, as the scenarios use them.
const VALUED_FLAGS: &[&str] = &[
    "-n",
    "--namespace",
    "-o",
    "--output",
    "-l",
    "--selector",
    "--context",
];

/// Whether a kubectl command only reads: `get` (and `get --watch`), `describe`, `wait`,
/// `explain`, `api-resources`, `api-versions`, `events`, `rollout status|history`.
pub fn reads(args: &[&str]) -> bool {
    let mut positional = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg.starts_with('-') {
            if VALUED_FLAGS.contains(arg) {
                rest.next();
            }
            continue;
        }
        positional.push(*arg);
        if positional.len() == 2 {
            break;
        }
    }
    match positional.as_slice() {
        [verb, ..]
            if [
                "get",
                "describe",
                "wait",
                "explain",
                "api-resources",
                "api-versions",
                "events",
            ]
            .contains(verb) =>
        {
            true
        }
        ["rollout", sub, ..] => ["status", "history"].contains(sub),
        _ => false,
    }
}

/// One kubectl binary wired to one server, with its own home, cache and manifest directory.
pub struct Kubectl {
    pub binary: PathBuf,
    /// `HOME`, the `--cache-dir`, the kubeconfig and the manifests.
    pub home: tempfile::TempDir,
    /// For test setup only (namespaces, polling), never for what is under test.
    pub client: kube::Client,
}

impl Kubectl {
    /// The minor version of the binary (`kubectl.1.32` → 32); 0 when its name has none.
    pub fn minor(&self) -> u32 {
        self.binary
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.rsplit('.').next())
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// kubectl `binary` talking to `server`.
    pub fn new(binary: PathBuf, server: &ApiServer) -> Result<Self> {
        let home = tempfile::tempdir()?;
        server.write_kubeconfig(home.path().join(KUBECONFIG))?;
        Ok(Kubectl {
            binary,
            home,
            client: server.client(),
        })
    }

    /// kubectl `binary` writing through `writer` and reading and watching through `reader`
    /// (two API servers sharing one etcd): every command whose verb only reads ([`reads`]) goes
    /// to `reader`, every other one to `writer`.
    pub fn split(binary: PathBuf, writer: &ApiServer, reader: &ApiServer) -> Result<Self> {
        let kubectl = Kubectl::new(binary, writer)?;
        reader.write_kubeconfig(kubectl.home.path().join(READER_KUBECONFIG))?;
        Ok(kubectl)
    }

    /// The kubeconfig a command uses: the reader's for a read when there is a reader.
    fn kubeconfig(&self, args: &[&str]) -> PathBuf {
        let reader = self.home.path().join(READER_KUBECONFIG);
        if reads(args) && reader.is_file() {
            reader
        } else {
            self.home.path().join(KUBECONFIG)
        }
    }

    /// A kubectl command with a clean environment pointing at this server.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_with_env(args, &[])
    }

    /// A kubectl command with a clean environment plus `env`.
    pub fn command_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let home = self.home.path();
        let mut cmd = Command::new(&self.binary);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("KUBECONFIG", self.kubeconfig(args))
            .envs(env.iter().copied())
            .current_dir(home)
            .arg("--cache-dir")
            .arg(home.join("cache"))
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs kubectl to completion (bounded by [`CALL_TIMEOUT`]).
    pub async fn run(&self, args: &[&str]) -> Result<Output> {
        self.run_with_env(args, &[]).await
    }

    /// Runs kubectl with extra environment variables to completion.
    pub async fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        let child = self
            .command_with_env(args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let out = tokio::time::timeout(CALL_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| {
                anyhow!(
                    "`kubectl {}` still running after {CALL_TIMEOUT:?}",
                    args.join(" ")
                )
            })??;
        Ok(Output {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs kubectl, requiring success; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> Result<String> {
        let out = self.run(args).await?;
        ensure!(
            out.success,
            "`kubectl {}` failed:\n{}{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
        Ok(out.stdout)
    }

    /// Runs kubectl, requiring failure; returns stderr.
    pub async fn fails(&self, args: &[&str]) -> Result<String> {
        let out = self.run(args).await?;
        ensure!(
            !out.success,
            "`kubectl {}` succeeded but should have failed:\n{}{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
        Ok(out.stderr)
    }

    /// Runs kubectl expecting failure; fails unless stderr contains every `expected` line.
    pub async fn rejects(&self, args: &[&str], expected: &[&str]) -> Result<()> {
        let stderr = self.fails(args).await?;
        for e in expected {
            ensure!(
                stderr.contains(e),
                "`kubectl {}`: expected\n  {e}\nin:\n{stderr}",
                args.join(" "),
            );
        }
        Ok(())
    }

    /// `kubectl <args> -o json`, parsed.
    pub async fn json(&self, args: &[&str]) -> Result<Value> {
        let out = self.ok(&[args, &["-o", "json"]].concat()).await?;
        serde_json::from_str(&out).with_context(|| format!("parsing JSON output:\n{out}"))
    }

    /// `kubectl <args> -o jsonpath=<path>`.
    pub async fn jsonpath(&self, args: &[&str], path: &str) -> Result<String> {
        let output = format!("jsonpath={path}");
        self.ok(&[args, &["-o", &output]].concat()).await
    }

    /// Starts kubectl in the background with stdout piped (killed when dropped).
    pub fn spawn(&self, args: &[&str]) -> Result<Child> {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))
    }

    /// Writes a manifest into kubectl's working directory and returns its file name.
    pub fn manifest(&self, name: &str, text: &str) -> Result<String> {
        std::fs::write(self.home.path().join(name), text)?;
        Ok(name.to_string())
    }

    /// Writes a manifest and `kubectl apply -f`s it; returns stdout.
    pub async fn apply(&self, name: &str, text: &str) -> Result<String> {
        let file = self.manifest(name, text)?;
        self.ok(&["apply", "-f", &file]).await
    }

    /// Applies CRD manifest `text` (written as `file`) and waits until each of `crds` (their
    /// names) is Established; returns what `kubectl wait` printed.
    pub async fn create_crds(&self, file: &str, text: &str, crds: &[&str]) -> Result<String> {
        self.apply(file, text).await?;
        let crds: Vec<String> = crds.iter().map(|c| format!("crd/{c}")).collect();
        let mut args = vec!["wait", "--for=condition=Established", "--timeout=30s"];
        args.extend(crds.iter().map(String::as_str));
        self.ok(&args).await
    }

    /// Creates namespace `name` (setup, through the kube client).
    pub async fn namespace(&self, name: &str) -> Result<()> {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(())
    }
}

/// Fails unless some line of `out`, trimmed, equals `expected`.
pub fn expect_line(out: &str, expected: &str) -> Result<()> {
    ensure!(
        out.lines().any(|l| l.trim() == expected),
        "expected a line `{expected}` in:\n{out}"
    );
    Ok(())
}

/// Fails unless `actual == expected`, showing both.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(actual: T, expected: T, what: &str) -> Result<()> {
    ensure!(
        actual == expected,
        "{what}: expected {expected:?}, got {actual:?}"
    );
    Ok(())
}

/// The NAME column of human-readable `get` output, checking the header.
pub fn name_column(out: &str) -> Result<Vec<String>> {
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| anyhow!("no output"))?;
    ensure!(
        header.split_whitespace().next() == Some("NAME"),
        "expected a NAME header in:\n{out}"
    );
    Ok(lines
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// The non-empty lines of `-o name` output.
pub fn names(out: &str) -> Vec<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads lines from a background kubectl until one satisfies `want`, bounded by
/// [`EVENT_TIMEOUT`]; returns that line.
pub async fn wait_for_line(
    lines: &mut Lines<BufReader<ChildStdout>>,
    what: &str,
    want: impl Fn(&[&str]) -> bool,
) -> Result<String> {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .map_err(|_| anyhow!("no line with {what} within {EVENT_TIMEOUT:?}; saw:\n{seen}"))??
            .ok_or_else(|| anyhow!("kubectl exited before printing {what}; saw:\n{seen}"))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        if want(&words) {
            return Ok(line);
        }
        seen.push_str(&line);
        seen.push('\n');
    }
}

/// The standard output lines of a background kubectl.
pub fn stdout_lines(child: &mut Child) -> Result<Lines<BufReader<ChildStdout>>> {
    let stdout = child.stdout.take().context("stdout not piped")?;
    Ok(BufReader::new(stdout).lines())
}

/// A cell expected in a human-readable table.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// Exactly this text.
    Is(&'a str),
    /// An age as kubectl renders it (`0s`, `5m`, `3d4h`, ...).
    Age,
    /// An RFC 3339 timestamp to the second (`CREATED AT`).
    Timestamp,
    /// Anything that is not empty and not `<none>`.
    Some,
}

impl Cell<'_> {
    fn matches(&self, cell: &str) -> bool {
        match self {
            Cell::Is(text) => cell == *text,
            Cell::Age => is_age(cell),
            Cell::Timestamp => {
                cell.len() == "2006-01-02T15:04:05Z".len()
                    && cell.ends_with('Z')
                    && cell.parse::<jiff::Timestamp>().is_ok()
            }
            Cell::Some => !cell.is_empty() && cell != "<none>",
        }
    }
}

/// Whether `cell` is an age as kubectl renders durations (`duration.HumanDuration`): one or two
/// number-unit pairs of `s`, `m`, `h`, `d`, `y`.
pub fn is_age(cell: &str) -> bool {
    let mut rest = cell;
    let mut pairs = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let Some(unit) = rest[digits..].chars().next() else {
            return false;
        };
        if digits == 0 || !"smhdy".contains(unit) {
            return false;
        }
        rest = &rest[digits + 1..];
        pairs += 1;
    }
    (1..=2).contains(&pairs)
}

/// Human-readable `get` output split into columns at the header's column starts (kubectl aligns
/// cells with the headers; a header may hold one space, like `LAST SEEN`).
pub struct Table {
    /// The header names.
    pub header: Vec<String>,
    /// Every row's cells, trimmed.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Parses `out`; fails on empty output.
    pub fn parse(out: &str) -> Result<Table> {
        let mut lines = out.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or_else(|| anyhow!("no output"))?;
        let bytes = header.as_bytes();
        let starts: Vec<usize> = (0..bytes.len())
            .filter(|&i| {
                bytes[i] != b' '
                    && (i == 0 || (i >= 2 && bytes[i - 1] == b' ' && bytes[i - 2] == b' '))
            })
            .collect();
        let split = |line: &str| -> Vec<String> {
            starts
                .iter()
                .enumerate()
                .map(|(n, &from)| {
                    let to = starts
                        .get(n + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    line.get(from.min(to)..to).unwrap_or("").trim().to_string()
                })
                .collect()
        };
        Ok(Table {
            header: split(header),
            rows: lines.map(split).collect(),
        })
    }

    /// Fails unless the header is `header` and some row matches `row` cell by cell.
    pub fn expect(&self, header: &[&str], row: &[Cell<'_>]) -> Result<()> {
        ensure!(
            self.header == header,
            "header: expected {header:?}, got {:?}",
            self.header
        );
        ensure!(
            self.rows.iter().any(|r| r.len() == row.len()
                && r.iter().zip(row).all(|(cell, want)| want.matches(cell))),
            "no row matches {row:?} in {:?}",
            self.rows
        );
        Ok(())
    }
}

/// Fails unless `kubectl` output `out` is a table with `header` and a row matching `row`.
pub fn expect_table(out: &str, header: &[&str], row: &[Cell<'_>]) -> Result<()> {
    Table::parse(out)
        .and_then(|t| t.expect(header, row))
        .with_context(|| format!("in:\n{out}"))
}
