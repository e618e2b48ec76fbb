//! Status conditions (`metav1.Condition`) kept as apimachinery's `meta.SetStatusCondition` keeps
//! them: one condition per type, and `lastTransitionTime` moved only when the status changes,
//! so a reconcile that finds nothing new writes an identical status (and the status helpers in
//! [`client`](crate::client) then skip the write).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// Sets `condition` in `conditions`: adds it when its type is new, otherwise updates status,
/// reason, message and observedGeneration in place, taking the new `lastTransitionTime` only
/// when the status changed. Returns whether anything changed.
///
/// ```
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
/// use k8s_openapi::jiff::Timestamp;
/// use kubeforge_runtime::conditions::{is_status_condition_true, set_status_condition};
///
/// let mut conditions = Vec::new();
/// let ready = Condition {
///     type_: "Ready".into(),
///     status: "True".into(),
///     reason: "Reconciled".into(),
///     message: "all resources are up to date".into(),
///     observed_generation: Some(1),
///     last_transition_time: Time(Timestamp::now()),
/// };
/// assert!(set_status_condition(&mut conditions, ready.clone()));
/// assert!(!set_status_condition(&mut conditions, ready));
/// assert!(is_status_condition_true(&conditions, "Ready"));
/// ```
pub fn set_status_condition(conditions: &mut Vec<Condition>, condition: Condition) -> bool {
    let Some(existing) = conditions.iter_mut().find(|c| c.type_ == condition.type_) else {
        conditions.push(condition);
        return true;
    };
    let mut changed = false;
    if existing.status != condition.status {
        existing.status = condition.status;
        existing.last_transition_time = condition.last_transition_time;
        changed = true;
    }
    if existing.reason != condition.reason {
        existing.reason = condition.reason;
        changed = true;
    }
    if existing.message != condition.message {
        existing.message = condition.message;
        changed = true;
    }
    if existing.observed_generation != condition.observed_generation {
        existing.observed_generation = condition.observed_generation;
        changed = true;
    }
    changed
}

/// The condition of type `type_`, if present.
pub fn find_status_condition<'a>(
    conditions: &'a [Condition],
    type_: &str,
) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of type `type_` is present with status `True`.
pub fn is_status_condition_true(conditions: &[Condition], type_: &str) -> bool {
    find_status_condition(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn condition(status: &str, reason: &str) -> Condition {
        Condition {
            type_: "Ready".into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: Time(Timestamp::now()),
        }
    }

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let mut conditions = Vec::new();
        assert!(set_status_condition(
            &mut conditions,
            condition("False", "Pending")
        ));
        let first = conditions[0].last_transition_time.clone();

        // Same status, new reason: updated, transition time kept.
        assert!(set_status_condition(
            &mut conditions,
            condition("False", "Waiting")
        ));
        assert_eq!(conditions[0].reason, "Waiting");
        assert_eq!(conditions[0].last_transition_time, first);

        // The status changes: the new transition time is taken.
        let at = Time(Timestamp::from_second(1_700_000_000).unwrap());
        let mut ready = condition("True", "Reconciled");
        ready.last_transition_time = at.clone();
        assert!(set_status_condition(&mut conditions, ready.clone()));
        assert_eq!(conditions[0].last_transition_time, at);
        assert!(!set_status_condition(&mut conditions, ready));
        assert_eq!(conditions.len(), 1);
        assert!(is_status_condition_true(&conditions, "Ready"));
        assert!(find_status_condition(&conditions, "Degraded").is_none());
    }
}
