//! The audit log: one audit.k8s.io/v1 `Event` per request, as JSON lines at the `Metadata`
//! level (who, what, on which object, the answer's code, when, and authorization's decision and
//! reason), like kube-apiserver's log backend (`--audit-log-path`, `--audit-log-maxsize`,
//! `--audit-log-maxbackup`). Unlike kube-apiserver, which audits nothing without a policy
//! file, every request is audited (as a policy of `level: Metadata` for everything would).
//!
//! The request only builds its event and hands it to a channel; a writer thread appends the
//! lines through a buffer (flushed whenever the channel is drained) and rotates the file by
//! size as lumberjack does for kube-apiserver: the full file is renamed to
//! `<name>-<UTC time>.<ext>` and only the newest `max_backups` renamed files are kept.
//! Watches are logged when their response starts (`ResponseStarted`), not when they end.

use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where and how the audit log is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// The log file; `-` writes to standard output.
    pub path: PathBuf,
    /// The size in megabytes at which the file is rotated (0: 100, lumberjack's default).
    pub max_size_mb: u64,
    /// How many rotated files are kept (0: all).
    pub max_backups: usize,
}

impl AuditConfig {
    /// Audit to `path` with kube-apiserver's defaults (rotate at 100 MB, keep every backup).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AuditConfig {
            path: path.into(),
            max_size_mb: 0,
            max_backups: 0,
        }
    }
}

/// The sending end of the audit log (cheap to share).
#[derive(Clone, Debug)]
pub struct AuditLog {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
}

/// Events waiting for the writer before requests wait for it (kube-apiserver's blocking mode).
const QUEUE: usize = 8192;

impl AuditLog {
    /// Opens (appends to) the log and starts its writer thread.
    pub fn open(config: AuditConfig) -> std::io::Result<Self> {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        let writer = Writer::open(config)?;
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || writer.run(rx))?;
        Ok(AuditLog { tx })
    }

    /// Queues one event.
    pub async fn record(&self, event: &Value) {
        let mut line = serde_json::to_vec(event).unwrap_or_default();
        line.push(b'\n');
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(tokio::sync::mpsc::error::TrySendError::Full(line)) => {
                let _ = self.tx.send(line).await;
            }
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

enum Sink {
    Stdout,
    File(std::io::BufWriter<std::fs::File>),
}

struct Writer {
    config: AuditConfig,
    sink: Sink,
    size: u64,
}

impl Writer {
    fn open(config: AuditConfig) -> std::io::Result<Self> {
        if config.path == Path::new("-") {
            return Ok(Writer {
                config,
                sink: Sink::Stdout,
                size: 0,
            });
        }
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.path)?;
        let size = file.metadata()?.len();
        Ok(Writer {
            config,
            sink: Sink::File(std::io::BufWriter::new(file)),
            size,
        })
    }

    fn max_bytes(&self) -> u64 {
        let mb = if self.config.max_size_mb == 0 {
            100
        } else {
            self.config.max_size_mb
        };
        mb * 1024 * 1024
    }

    fn run(mut self, mut rx: tokio::sync::mpsc::Receiver<Vec<u8>>) {
        while let Some(line) = rx.blocking_recv() {
            self.write(&line);
            while let Ok(line) = rx.try_recv() {
                self.write(&line);
            }
            let flushed = match &mut self.sink {
                Sink::Stdout => std::io::stdout().flush(),
                Sink::File(f) => f.flush(),
            };
            if let Err(e) = flushed {
                tracing::warn!(error = %e, "writing the audit log");
            }
        }
    }

    fn write(&mut self, line: &[u8]) {
        if let Sink::File(_) = self.sink
            && self.size > 0
            && self.size + line.len() as u64 > self.max_bytes()
            && let Err(e) = self.rotate()
        {
            tracing::warn!(error = %e, "rotating the audit log");
        }
        let written = match &mut self.sink {
            Sink::Stdout => std::io::stdout().write_all(line),
            Sink::File(f) => f.write_all(line),
        };
        match written {
            Ok(()) => self.size += line.len() as u64,
            Err(e) => tracing::warn!(error = %e, "writing the audit log"),
        }
    }

    /// Renames the full file aside, starts a new one, and removes the oldest backups.
    fn rotate(&mut self) -> std::io::Result<()> {
        if let Sink::File(f) = &mut self.sink {
            f.flush()?;
        }
        let path = self.config.path.clone();
        let (stem, ext) = stem_and_ext(&path);
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H-%M-%S%.3f");
        let backup = path.with_file_name(format!("{stem}-{stamp}{ext}"));
        std::fs::rename(&path, &backup)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        self.sink = Sink::File(std::io::BufWriter::new(file));
        self.size = 0;
        if self.config.max_backups > 0 {
            let mut backups = backups(&path)?;
            // Their names sort by time.
            backups.sort();
            let excess = backups.len().saturating_sub(self.config.max_backups);
            for old in &backups[..excess] {
                std::fs::remove_file(old)?;
            }
        }
        Ok(())
    }
}

/// `audit.log` → (`audit`, `.log`).
fn stem_and_ext(path: &Path) -> (String, String) {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (stem, ext)
}

/// The rotated files of the log at `path`.
fn backups(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let (stem, ext) = stem_and_ext(path);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("{stem}-");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(&ext) && entry.path() != path {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// A timestamp as audit events carry them: RFC 3339, microseconds, UTC.
pub fn micro_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// An audit event's `user`/`impersonatedUser`.
pub fn user_value(user: &crate::auth::user::UserInfo) -> Value {
    let mut u = Map::new();
    u.insert("username".into(), json!(user.name));
    if !user.uid.is_empty() {
        u.insert("uid".into(), json!(user.uid));
    }
    if !user.groups.is_empty() {
        u.insert("groups".into(), json!(user.groups));
    }
    if !user.extra.is_empty() {
        u.insert("extra".into(), json!(user.extra));
    }
    Value::Object(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_newest_backups() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("audit.log");
        let mut w = Writer::open(AuditConfig {
            path: path.clone(),
            max_size_mb: 1,
            max_backups: 2,
        })
        .expect("open");
        let line = vec![b'x'; 400 * 1024];
        for _ in 0..10 {
            w.write(&line);
            // Distinct backup names (millisecond stamps).
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        if let Sink::File(f) = &mut w.sink {
            f.flush().expect("flush");
        }
        let backups = backups(&path).expect("backups");
        assert_eq!(backups.len(), 2, "{backups:?}");
        for b in &backups {
            let len = std::fs::metadata(b).expect("backup").len();
            assert!(len <= 1024 * 1024 && len > 0, "{len}");
        }
        assert!(std::fs::metadata(&path).expect("log").len() <= 1024 * 1024);
    }
}
