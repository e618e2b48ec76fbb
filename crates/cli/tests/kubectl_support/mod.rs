//! The kubectl binary the CLI tests drive, shared by `up_operators.rs` and `run_deployed.rs`.

use std::path::PathBuf;

/// `$KUBEFORGE_KUBECTL_DIR/kubectl.1.33` (default `/usr/lib/google-cloud-sdk/bin`); a missing
/// binary fails under `CI=true` and is skipped (with a message) otherwise.
pub fn kubectl_binary() -> Option<PathBuf> {
    let dir = std::env::var_os("KUBEFORGE_KUBECTL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/google-cloud-sdk/bin"));
    let path = dir.join("kubectl.1.33");
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "kubectl 1.33 is required in CI but {} does not exist",
            path.display()
        );
    }
    eprintln!("SKIPPED: {} does not exist", path.display());
    None
}
