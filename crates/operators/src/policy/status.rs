//! A policy's status from one check of its pods: counts, the first failing pods, the `Ready` and
//! `Conflict` conditions (transition times move only when their status does), and `lastChecked`,
//! which moves only when something else in the status changed or the periodic recheck is due, so
//! an unchanged world writes nothing.

use super::types::{FailingPod, PodCounts, PolicyStatus, Statistics};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// Condition type: the policy is enforced as its spec says.
pub const READY: &str = "Ready";
/// Condition type: another policy of the kind in the namespace claims the same key.
pub const CONFLICT: &str = "Conflict";
/// At most this many failing pods are listed in the status (the counts cover all of them).
pub const MAX_FAILING: usize = 50;
/// How often a policy rechecks its pods (and refreshes `lastChecked`) when nothing changes.
pub const RECHECK: Duration = Duration::from_secs(300);

/// Why a policy is not `Ready`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// The spec cannot be enforced.
    InvalidSpec(String),
    /// Another policy claims the key; this one does not act.
    Conflict(String),
    /// Some writes failed.
    WriteFailed(String),
}

/// What one check found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Pods in scope that fail.
    pub failed: i64,
    /// Pods in scope that pass.
    pub passed: i64,
    /// Every failing pod and why.
    pub failing: Vec<FailingPod>,
    /// Failing pods whose key someone else set (left alone).
    pub blocked: usize,
    /// Why the policy is not `Ready`, if it is not.
    pub problem: Option<NotReady>,
    /// The policy this one conflicts with (`Kind/name`), if any.
    pub conflict_with: Option<String>,
}

fn condition(
    previous: Option<&PolicyStatus>,
    generation: Option<i64>,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
) -> Condition {
    let old = previous.and_then(|s| s.conditions.iter().find(|c| c.type_ == type_));
    let last_transition_time = match old {
        Some(old) if old.status == status => old.last_transition_time.clone(),
        _ => Time(Timestamp::now()),
    };
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// The status `outcome` gives; `previous` supplies unchanged times.
pub fn compute(
    previous: Option<&PolicyStatus>,
    generation: Option<i64>,
    mut outcome: Outcome,
) -> PolicyStatus {
    outcome.failing.sort();
    outcome.failing.truncate(MAX_FAILING);
    let (status, reason, message) = match &outcome.problem {
        None => {
            let mut message = format!(
                "{} of {} pods fail",
                outcome.failed,
                outcome.failed + outcome.passed
            );
            if outcome.blocked > 0 {
                message.push_str(&format!(
                    "; {} of them already carry the key, set by someone else, and are left alone",
                    outcome.blocked
                ));
            }
            ("True", "Enforced", message)
        }
        Some(NotReady::InvalidSpec(m)) => ("False", "InvalidSpec", m.clone()),
        Some(NotReady::Conflict(m)) => ("False", "Conflict", m.clone()),
        Some(NotReady::WriteFailed(m)) => ("False", "WriteFailed", m.clone()),
    };
    let ready = condition(previous, generation, READY, status, reason, message);
    let conflict = match &outcome.conflict_with {
        Some(other) => condition(
            previous,
            generation,
            CONFLICT,
            "True",
            "KeyClaimed",
            format!(
                "{other} sets the same key in this namespace and is older; this policy leaves its pods alone"
            ),
        ),
        None => condition(
            previous,
            generation,
            CONFLICT,
            "False",
            "NoConflict",
            "no other policy of this kind in the namespace sets the same key".to_string(),
        ),
    };
    let mut status = PolicyStatus {
        observed_generation: generation,
        statistics: Statistics {
            pods: PodCounts {
                failed: outcome.failed,
                passed: outcome.passed,
            },
        },
        failing: outcome.failing,
        last_checked: previous.and_then(|s| s.last_checked.clone()),
        conditions: vec![ready, conflict],
    };
    let stale = status.last_checked.as_ref().is_none_or(|t| {
        Timestamp::now().duration_since(t.0)
            >= SignedDuration::try_from(RECHECK).unwrap_or_default()
    });
    if previous != Some(&status) || stale {
        status.last_checked = Some(Time(Timestamp::now()));
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_outcome_gives_an_identical_status() {
        let outcome = || Outcome {
            failed: 1,
            passed: 2,
            failing: vec![FailingPod {
                pod: "a".into(),
                reasons: vec!["x".into()],
            }],
            ..Outcome::default()
        };
        let first = compute(None, Some(1), outcome());
        assert!(first.last_checked.is_some());
        assert_eq!(first.conditions[0].status, "True");
        let again = compute(Some(&first), Some(1), outcome());
        assert_eq!(first, again);
        let changed = compute(
            Some(&first),
            Some(2),
            Outcome {
                conflict_with: Some("HealthCheckPolicy/other".into()),
                problem: Some(NotReady::Conflict("c".into())),
                ..outcome()
            },
        );
        assert_eq!(changed.conditions[0].reason, "Conflict");
        assert_eq!(changed.conditions[1].status, "True");
    }
}
