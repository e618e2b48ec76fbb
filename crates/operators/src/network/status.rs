//! A network's status from what a sync found: the addresses held and left, and its `Ready`,
//! `Overlapping` and `Exhausted` conditions, whose transition times only move when their status
//! does.

use super::types::NetworkStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The condition type of a network's readiness.
pub const READY: &str = "Ready";
/// The condition type saying another Network of the namespace overlaps this one.
pub const OVERLAPPING: &str = "Overlapping";
/// The condition type saying no address is left.
pub const EXHAUSTED: &str = "Exhausted";

/// What a sync found, in the terms of the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    /// Addresses pods hold.
    pub allocated: u128,
    /// Addresses the pool has in all.
    pub capacity: u128,
    /// Pods that wanted an address and got none.
    pub unplaced: usize,
    /// Other Networks of the namespace whose CIDR overlaps this one (sorted).
    pub overlapping: Vec<String>,
    /// `Some(why)` when the spec cannot be used (a Network stored before its CRD validated it).
    pub invalid: Option<String>,
    /// Whether the network is being deleted.
    pub deleting: bool,
}

fn condition(
    previous: Option<&NetworkStatus>,
    generation: Option<i64>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let old = previous.and_then(|s| s.conditions.iter().find(|c| c.type_ == type_));
    let last_transition_time = match old {
        Some(old) if old.status == status => old.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
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

fn saturating_i64(n: u128) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The status a sync computed; `previous` supplies unchanged transition times.
pub fn compute(
    previous: Option<&NetworkStatus>,
    generation: Option<i64>,
    found: &Findings,
) -> NetworkStatus {
    let free = found.capacity.saturating_sub(found.allocated);
    let (ready, reason, message) = if let Some(why) = &found.invalid {
        (false, "InvalidSpec", why.clone())
    } else if found.deleting {
        (
            false,
            "Terminating",
            format!(
                "deletion waits until the {} pod(s) holding addresses release them",
                found.allocated
            ),
        )
    } else {
        (
            true,
            "Allocating",
            format!("{} address(es) allocated, {free} free", found.allocated),
        )
    };
    let overlapping = condition(
        previous,
        generation,
        OVERLAPPING,
        !found.overlapping.is_empty(),
        if found.overlapping.is_empty() {
            "NoOverlap"
        } else {
            "CIDROverlap"
        },
        if found.overlapping.is_empty() {
            "no other Network of the namespace overlaps this one".to_string()
        } else {
            format!("overlaps Network(s) {}", found.overlapping.join(", "))
        },
    );
    let exhausted = free == 0 || found.unplaced > 0;
    let exhausted = condition(
        previous,
        generation,
        EXHAUSTED,
        exhausted,
        if exhausted {
            "NoFreeAddress"
        } else {
            "AddressesFree"
        },
        if found.unplaced > 0 {
            format!("{} pod(s) are waiting for an address", found.unplaced)
        } else if exhausted {
            "every address is allocated".to_string()
        } else {
            format!("{free} address(es) free")
        },
    );
    NetworkStatus {
        observed_generation: generation,
        allocated: saturating_i64(found.allocated),
        free: saturating_i64(free),
        conditions: vec![
            condition(previous, generation, READY, ready, reason, message),
            overlapping,
            exhausted,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(allocated: u128, capacity: u128) -> Findings {
        Findings {
            allocated,
            capacity,
            unplaced: 0,
            overlapping: vec![],
            invalid: None,
            deleting: false,
        }
    }

    #[test]
    fn conditions_follow_the_findings_and_keep_their_transition_times() {
        let first = compute(None, Some(1), &found(1, 3));
        assert_eq!((first.allocated, first.free), (1, 2));
        assert_eq!(first.conditions[0].status, "True");
        assert_eq!(first.conditions[2].status, "False");
        assert_eq!(first, compute(Some(&first), Some(1), &found(1, 3)));
        let full = compute(Some(&first), Some(1), &found(3, 3));
        assert_eq!(full.conditions[2].status, "True");
        let mut deleting = found(2, 3);
        deleting.deleting = true;
        deleting.overlapping = vec!["b".into()];
        let status = compute(Some(&full), Some(2), &deleting);
        assert_eq!(status.conditions[0].reason, "Terminating");
        assert!(status.conditions[0].message.contains("2 pod(s)"));
        assert_eq!(status.conditions[1].status, "True");
        assert_eq!(
            compute(None, None, &found(0, u128::MAX)).free,
            i64::MAX,
            "saturates"
        );
    }
}
