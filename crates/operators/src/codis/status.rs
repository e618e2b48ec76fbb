//! A rule's status from what one sync found: the copies in place, the problems, the generation
//! seen and a `Ready` condition whose transition time only moves when its status does.

use super::types::{Problem, RuleStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The condition type of a rule's readiness.
pub const READY: &str = "Ready";

/// The status a sync computed; `previous` supplies the unchanged transition time.
pub fn compute(
    previous: Option<&RuleStatus>,
    generation: Option<i64>,
    distributed: i32,
    mut problems: Vec<Problem>,
) -> RuleStatus {
    problems.sort();
    problems.dedup();
    let (status, reason, message) = if problems.is_empty() {
        (
            "True",
            "Distributed",
            format!("{distributed} copies in place"),
        )
    } else {
        (
            "False",
            "Problems",
            format!(
                "{} problem(s), {distributed} copies in place; see status.problems",
                problems.len()
            ),
        )
    };
    let old = previous.and_then(|s| s.conditions.iter().find(|c| c.type_ == READY));
    let last_transition_time = match old {
        Some(old) if old.status == status => old.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
    };
    RuleStatus {
        observed_generation: generation,
        distributed,
        problems,
        conditions: vec![Condition {
            type_: READY.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message,
            observed_generation: generation,
            last_transition_time,
        }],
    }
}

/// The problems of `current` that `previous` did not report (each gets one Warning event).
pub fn new_problems<'a>(previous: Option<&RuleStatus>, current: &'a [Problem]) -> Vec<&'a Problem> {
    current
        .iter()
        .filter(|p| {
            !previous.is_some_and(|s| {
                s.problems.iter().any(|q| {
                    q.namespace == p.namespace && q.object == p.object && q.reason == p.reason
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(ns: &str, reason: &str) -> Problem {
        Problem {
            namespace: ns.into(),
            object: None,
            reason: reason.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn ready_follows_problems_and_keeps_its_transition_time() {
        let first = compute(None, Some(1), 2, vec![]);
        assert_eq!(first.conditions[0].status, "True");
        let again = compute(Some(&first), Some(1), 2, vec![]);
        assert_eq!(first, again, "an unchanged world gives an identical status");
        let bad = compute(
            Some(&first),
            Some(2),
            1,
            vec![problem("b", "X"), problem("a", "Y")],
        );
        assert_eq!(bad.conditions[0].status, "False");
        assert_eq!(bad.problems[0].namespace, "a", "problems are sorted");
        assert_eq!(bad.observed_generation, Some(2));
        assert_eq!(new_problems(Some(&first), &bad.problems).len(), 2);
        assert!(new_problems(Some(&bad), &bad.problems).is_empty());
    }
}
