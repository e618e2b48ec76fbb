//! Nothing half-written: a command renders every file into a staging directory next to its
//! destination (same file system), formats the Rust ones there, and only then moves them into
//! place. Everything that can fail — names, conflicts, rendering, rustfmt — fails before the
//! project is touched.

use anyhow::{Context, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Files to write, by path relative to the project's root.
#[derive(Debug, Default)]
pub struct Files {
    files: Vec<(PathBuf, String)>,
}

impl Files {
    /// Adds (or replaces) the file at `path`.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: String) {
        let path = path.into();
        self.files.retain(|(existing, _)| *existing != path);
        self.files.push((path, text));
    }

    /// The text of the file at `path`, if added.
    #[cfg(test)]
    pub fn text(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(existing, _)| existing == Path::new(path))
            .map(|(_, text)| text.as_str())
    }

    /// The paths, in the order added.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(path, _)| path.as_path())
    }

    /// Writes every file under `dir`, the Rust ones formatted.
    fn stage(&self, dir: &Path) -> anyhow::Result<()> {
        for (path, text) in &self.files {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let text = if path.extension().is_some_and(|ext| ext == "rs") {
                rustfmt(text).with_context(|| format!("formatting {}", path.display()))?
            } else {
                text.clone()
            };
            std::fs::write(&target, text)
                .with_context(|| format!("writing {}", target.display()))?;
        }
        Ok(())
    }

    /// Creates the project directory `dest` (absent or empty) holding exactly these files.
    pub fn create_project(&self, dest: &Path) -> anyhow::Result<()> {
        if dest.exists() {
            let empty = dest.is_dir() && std::fs::read_dir(dest)?.next().is_none();
            if !empty {
                bail!(
                    "{} already exists and is not an empty directory",
                    dest.display()
                );
            }
        }
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let staging = tempfile::Builder::new()
            .prefix(".kubeforge-new-")
            .tempdir_in(parent)
            .with_context(|| format!("creating a staging directory in {}", parent.display()))?;
        let root = staging.path().join("project");
        self.stage(&root)?;
        if dest.exists() {
            std::fs::remove_dir(dest)?;
        }
        std::fs::rename(&root, dest)
            .with_context(|| format!("moving the project to {}", dest.display()))?;
        Ok(())
    }

    /// Writes these files into the existing project at `root`, replacing files of the same path.
    pub fn update_project(&self, root: &Path) -> anyhow::Result<()> {
        let staging = tempfile::Builder::new()
            .prefix(".kubeforge-staging-")
            .tempdir_in(root)
            .with_context(|| format!("creating a staging directory in {}", root.display()))?;
        self.stage(staging.path())?;
        for (path, _) in &self.files {
            let target = root.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(staging.path().join(path), &target)
                .with_context(|| format!("writing {}", target.display()))?;
        }
        Ok(())
    }
}

/// `source` formatted by rustfmt as `cargo fmt` would (edition 2024; from standard input, so
/// `mod` declarations are not followed). Without rustfmt on the machine it stays as rendered,
/// which the templates keep close to formatted.
fn rustfmt(source: &str) -> anyhow::Result<String> {
    let child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("rustfmt not found: the generated Rust is not formatted (run `cargo fmt`)");
            return Ok(source.to_owned());
        }
        Err(error) => return Err(error).context("running rustfmt"),
    };
    let mut stdin = child.stdin.take().context("rustfmt's standard input")?;
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().context("running rustfmt")?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to rustfmt panicked"))?
        .context("writing to rustfmt")?;
    if !output.status.success() {
        bail!(
            "rustfmt refused the generated code (a kubeforge bug; nothing was written):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("rustfmt's output is not UTF-8")
}
