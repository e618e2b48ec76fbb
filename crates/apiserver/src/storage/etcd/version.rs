//! Whether the etcd cluster's watch progress reports can be trusted for consistent reads from
//! the cache, decided from each endpoint's version as kube-apiserver decides it (its
//! `RequestWatchProgress` support check, which turns `ConsistentListFromCache` off).
//!
//! A consistent read from the cache asks etcd for its revision and waits until the cache has
//! reached it, through events or a progress report. Before 3.4.25 and 3.5.8 etcd could report
//! progress past events it had not sent yet (etcd#15220), and before 3.4.31 and 3.5.13 a
//! requested progress report could go to the wrong watch or not come at all (etcd#17507): with
//! such an etcd, consistent lists are read from etcd itself.

use super::{EtcdConfig, REQUEST_TIMEOUT};
use etcd_client::{Client, ConnectOptions};

/// Whether etcd `version` (`3.4.23`, `3.5.13`, …) reports watch progress correctly: 3.4.31 and
/// later 3.4 releases, 3.5.13 and later, and every release after 3.5. An unreadable version is
/// taken as one that does not.
pub fn reports_progress_reliably(version: &str) -> bool {
    let mut parts = version
        .split(['-', '+'])
        .next()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u64>().ok());
    let (Some(Some(major)), Some(Some(minor)), Some(Some(patch))) =
        (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    match (major, minor) {
        (3, 4) => patch >= 31,
        (3, 5) => patch >= 13,
        (3, m) => m > 5,
        (m, _) => m > 3,
    }
}

/// Asks every endpoint of `config` for its version: true when each answers with one that
/// reports progress reliably. An endpoint that does not answer counts as one that does not
/// (kube-apiserver keeps the feature off until every endpoint has been checked).
pub async fn cluster_reports_progress_reliably(
    config: &EtcdConfig,
    options: &ConnectOptions,
) -> bool {
    for endpoint in &config.endpoints {
        let version = async {
            let mut client = Client::connect([endpoint], Some(options.clone()))
                .await
                .ok()?;
            let status = tokio::time::timeout(REQUEST_TIMEOUT, client.status())
                .await
                .ok()?
                .ok()?;
            Some(status.version().to_string())
        }
        .await;
        match version {
            Some(v) if reports_progress_reliably(&v) => {}
            Some(v) => {
                tracing::info!(
                    endpoint,
                    version = v,
                    "etcd reports watch progress unreliably before 3.4.31 and 3.5.13: consistent lists are read from etcd"
                );
                return false;
            }
            None => {
                tracing::warn!(
                    endpoint,
                    "etcd's version could not be read: consistent lists are read from etcd"
                );
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_reliable_from_3_4_31_and_3_5_13() {
        for (version, reliable) in [
            ("3.4.23", false),
            ("3.4.30", false),
            ("3.4.31", true),
            ("3.4.37", true),
            ("3.5.0", false),
            ("3.5.1", false),
            ("3.5.12", false),
            ("3.5.13", true),
            ("3.5.21", true),
            ("3.6.0", true),
            ("3.6.0-rc.1", true),
            ("4.0.0", true),
            ("3.3.27", false),
            ("2.3.8", false),
            ("", false),
            ("three", false),
        ] {
            assert_eq!(reports_progress_reliably(version), reliable, "{version}");
        }
    }
}
