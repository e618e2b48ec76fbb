//! Leader election on a `coordination.k8s.io/v1` Lease (client-go's `leaderelection` with a
//! `LeaseLock`), so that of several replicas of a manager only one runs its controllers.
//!
//! What this guarantees:
//! - A candidate takes the Lease when it does not exist, has no holder (released), or its
//!   holder has not renewed it for `leaseDurationSeconds` *as measured on the candidate's
//!   clock since the candidate last saw the record change* (client-go's observed time: no
//!   dependence on clock agreement between machines). Every write carries the
//!   resourceVersion read, so of two candidates racing for the Lease one gets 409 Conflict.
//! - The leader renews every `retry_period`; if it could not renew for `renew_deadline` it
//!   stops leading. Because `renew_deadline < lease_duration`, it stops before any other
//!   candidate may take over: there are never two leaders, provided the leader's stop (its
//!   controllers' shutdown) ends before its last renewal can expire (the manager bounds it
//!   so, and keeps renewing while its controllers drain on shutdown).
//! - With `release_on_cancel`, a leader shutting down clears the holder so a standby takes
//!   over within one `retry_period` instead of waiting out the lease.
//!
//! Why not kube-lease-manager: its lease loop has one duration and a grace period rather
//! than client-go's renew deadline and observed-time expiry, which are what the
//! two-leaders-never argument above rests on; the loop is a hundred lines on kube's
//! `Api<Lease>`.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use rand::Rng;
use std::time::Duration;
use tokio::time::Instant;

/// Where and how to elect a leader. The defaults are controller-runtime's: lease duration
/// 15 s, renew deadline 10 s, retry period 2 s, no release on shutdown.
///
/// ```
/// use kubeforge_runtime::manager::LeaderElectionConfig;
/// use std::time::Duration;
///
/// let config = LeaderElectionConfig::new("widget-controller", "kube-system", "pod-a")
///     .release_on_cancel(true);
/// assert_eq!(config.lease_duration, Duration::from_secs(15));
/// ```
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// This candidate's identity (unique among candidates; usually the pod name).
    pub identity: String,
    /// How long a lease holds after its last renewal before others may take it (whole
    /// seconds are written to the Lease; at least 1 s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew (jittered by up to 20% when acquiring).
    pub retry_period: Duration,
    /// Clear the holder when the manager shuts down, so a standby takes over at once.
    pub release_on_cancel: bool,
}

impl LeaderElectionConfig {
    /// Election on Lease `namespace/lease_name` as `identity`, with the default durations.
    pub fn new(lease_name: &str, namespace: &str, identity: &str) -> Self {
        LeaderElectionConfig {
            lease_name: lease_name.to_owned(),
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            release_on_cancel: false,
        }
    }

    /// Sets the three durations.
    #[must_use]
    pub fn durations(
        mut self,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Self {
        self.lease_duration = lease_duration;
        self.renew_deadline = renew_deadline;
        self.retry_period = retry_period;
        self
    }

    /// Sets [`release_on_cancel`](Self::release_on_cancel).
    #[must_use]
    pub fn release_on_cancel(mut self, release: bool) -> Self {
        self.release_on_cancel = release;
        self
    }

    /// Checks client-go's constraints: lease duration > renew deadline > 1.2 × retry period,
    /// lease duration at least 1 s, non-empty names.
    pub fn validate(&self) -> Result<(), String> {
        if self.lease_name.is_empty() || self.namespace.is_empty() || self.identity.is_empty() {
            return Err("lease name, namespace and identity must not be empty".into());
        }
        if self.lease_duration < Duration::from_secs(1) {
            return Err("lease duration must be at least 1s".into());
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(format!(
                "lease duration ({:?}) must be greater than renew deadline ({:?})",
                self.lease_duration, self.renew_deadline
            ));
        }
        if self.renew_deadline <= self.retry_period.mul_f64(1.2) {
            return Err(format!(
                "renew deadline ({:?}) must be greater than 1.2 x retry period ({:?})",
                self.renew_deadline, self.retry_period
            ));
        }
        if self.retry_period.is_zero() {
            return Err("retry period must be positive".into());
        }
        Ok(())
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs_f64().ceil() as u64).unwrap_or(i32::MAX)
    }
}

/// One candidate's view of the Lease.
pub(crate) struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    /// The record last seen, and when (on this machine's clock) it was first seen.
    observed: Option<(LeaseSpec, Instant)>,
    leading: bool,
}

impl LeaderElector {
    pub(crate) fn new(client: Client, config: LeaderElectionConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            leading: false,
        }
    }

    pub(crate) fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    /// The retry period, jittered by up to 20% (client-go's `JitterFactor` 1.2), for
    /// candidates so they do not retry in lockstep.
    pub(crate) fn jittered_retry(&self) -> Duration {
        self.config
            .retry_period
            .mul_f64(1.0 + rand::rng().random_range(0.0..0.2))
    }

    fn observe(&mut self, spec: &LeaseSpec) {
        if self.observed.as_ref().is_none_or(|(seen, _)| seen != spec) {
            self.observed = Some((spec.clone(), Instant::now()));
        }
    }

    fn own_spec(&self, previous: Option<&LeaseSpec>) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        let renewing = previous
            .is_some_and(|p| p.holder_identity.as_deref() == Some(self.config.identity.as_str()));
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.lease_seconds()),
            acquire_time: if renewing {
                previous.and_then(|p| p.acquire_time.clone())
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: match previous {
                None => Some(0),
                Some(p) if renewing => p.lease_transitions,
                Some(p) => Some(p.lease_transitions.unwrap_or(0) + 1),
            },
            ..LeaseSpec::default()
        }
    }

    /// One attempt to acquire or renew (client-go's `tryAcquireOrRenew`): whether this
    /// candidate holds the lease afterwards. Conflicts and races answer `false`.
    pub(crate) async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let name = self.config.lease_name.clone();
        let Some(lease) = self.api.get_opt(&name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.own_spec(None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(&created.spec.unwrap_or_default());
                    Ok(true)
                }
                Err(kube::Error::Api(s)) if s.is_already_exists() || s.is_conflict() => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        self.observe(&spec);
        let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
        if let Some(holder) = holder
            && holder != self.config.identity
        {
            let duration = spec
                .lease_duration_seconds
                .map(|s| Duration::from_secs(u64::try_from(s.max(0)).unwrap_or(0)))
                .unwrap_or(self.config.lease_duration);
            let seen_at = self
                .observed
                .as_ref()
                .map(|(_, at)| *at)
                .unwrap_or_else(Instant::now);
            if seen_at + duration > Instant::now() {
                return Ok(false);
            }
        }
        let mut updated = lease.clone();
        updated.spec = Some(self.own_spec(Some(&spec)));
        match self
            .api
            .replace(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(stored) => {
                self.observe(&stored.spec.unwrap_or_default());
                self.leading = true;
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Marks the candidate as not leading (after it gave up).
    pub(crate) fn stopped_leading(&mut self) {
        self.leading = false;
    }

    /// Clears the holder if this candidate still holds the lease (client-go's `release`):
    /// holder empty, lease duration 1 s.
    pub(crate) async fn release(&mut self) -> Result<(), kube::Error> {
        let name = self.config.lease_name.clone();
        let Some(mut lease) = self.api.get_opt(&name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.leading = false;
                tracing::info!(lease = %lease.name_any(), "released leader lease");
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.is_conflict() => Ok(()),
            Err(e) => Err(e),
        }
    }
}
