//! Validation of PriorityLevelConfigurations, as upstream's `pkg/apis/flowcontrol/validation`
//! does it for a flowcontrol/v1 request: the type (`Exempt` if and only if the name is
//! `exempt`) and the one of `exempt`/`limited` it allows, the limited level's shares (0 allowed
//! in v1), lendable and borrowing percentages and limit response, the queuing configuration's
//! queues, queue length and hand size (within the shuffle-sharding entropy), the status
//! conditions, and that the mandatory levels keep their fixed spec (`exempt` may change its
//! `spec.exempt`).

use crate::crd::schema::field::{self, Bad};
use crate::registry::flowcontrol::bootstrap::{EXEMPT, mandatory_level_spec, semantic};
use crate::registry::flowcontrol::flowschemas::validation::conditions_causes;
use crate::status::FieldCause;
use serde_json::Value;

/// The most queues a level may have (upstream's `priorityLevelConfigurationQueuingMaxQueues`).
const MAX_QUEUES: i64 = 10_000_000;
/// The hash bits shuffle sharding deals from (upstream's `shufflesharding.MaxHashBits`).
const MAX_HASH_BITS: i64 = 60;

/// The causes a PriorityLevelConfiguration is refused for (on create and update alike).
pub(crate) fn causes(obj: &Value) -> Vec<FieldCause> {
    let (name, spec) = super::super::name_and_spec(obj);
    let mut causes = spec_causes(name, spec);
    causes.extend(mandatory_causes(name, spec));
    causes.extend(conditions_causes(obj));
    causes
}

/// The causes a status update is refused for.
pub(crate) fn status_causes(obj: &Value) -> Vec<FieldCause> {
    conditions_causes(obj)
}

fn int(v: &Value, field: &str) -> Option<i64> {
    v.get(field).and_then(Value::as_i64)
}

fn present<'a>(v: &'a Value, field: &str) -> Option<&'a Value> {
    v.get(field).filter(|x| !x.is_null())
}

/// Upstream's `ValidateIfMandatoryPriorityLevelConfigurationObject`.
fn mandatory_causes(name: &str, spec: &Value) -> Vec<FieldCause> {
    let Some(fixed) = mandatory_level_spec(name) else {
        return Vec::new();
    };
    let mut have = spec.clone();
    let detail = if name == EXEMPT {
        // The admin may tune the exempt level's `exempt` field, nothing else.
        if let Some(map) = have.as_object_mut() {
            map.insert("exempt".into(), fixed["exempt"].clone());
        }
        format!("spec of '{name}' except the 'spec.exempt' field must equal the fixed value")
    } else {
        format!("spec of '{name}' must equal the fixed value")
    };
    if semantic(&have) == semantic(&fixed) {
        return Vec::new();
    }
    vec![FieldCause::invalid_shown("spec", &go_spec(spec), detail)]
}

/// Upstream's `ValidatePriorityLevelConfigurationSpec`.
fn spec_causes(name: &str, spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let kind = spec.get("type").and_then(Value::as_str).unwrap_or("");
    if (name == EXEMPT) != (kind == "Exempt") {
        causes.push(field::invalid(
            "spec.type",
            Bad::Str(kind),
            "type must be 'Exempt' if and only if name is 'exempt'",
        ));
    }
    match kind {
        "Exempt" => {
            if present(spec, "limited").is_some() {
                causes.push(field::forbidden(
                    "spec.limited",
                    "must be nil if the type is not Limited",
                ));
            }
            if let Some(exempt) = present(spec, "exempt") {
                causes.extend(shares_and_lending(exempt, "spec.exempt"));
            }
        }
        "Limited" => {
            if present(spec, "exempt").is_some() {
                causes.push(field::forbidden(
                    "spec.exempt",
                    "must be nil if the type is Limited",
                ));
            }
            match present(spec, "limited") {
                None => causes.push(field::required(
                    "spec.limited",
                    "must not be empty when type is Limited",
                )),
                Some(limited) => causes.extend(limited_causes(limited)),
            }
        }
        other => causes.push(field::not_supported(
            "spec.type",
            Bad::Str(other),
            &["Exempt", "Limited"],
        )),
    }
    causes
}

/// Shares that may not be negative and a lendable percentage between 0 and 100.
fn shares_and_lending(v: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    if let Some(shares) = int(v, "nominalConcurrencyShares")
        && shares < 0
    {
        causes.push(field::invalid(
            &format!("{path}.nominalConcurrencyShares"),
            Bad::Int(shares),
            "must be a non-negative integer",
        ));
    }
    causes.extend(lendable(v, path));
    causes
}

fn lendable(v: &Value, path: &str) -> Option<FieldCause> {
    let percent = int(v, "lendablePercent")?;
    (!(0..=100).contains(&percent)).then(|| {
        field::invalid(
            &format!("{path}.lendablePercent"),
            Bad::Int(percent),
            "must be between 0 and 100, inclusive",
        )
    })
}

/// Upstream's `ValidateLimitedPriorityLevelConfiguration` (a v1 request: zero shares allowed).
fn limited_causes(limited: &Value) -> Vec<FieldCause> {
    let path = "spec.limited";
    let mut causes = Vec::new();
    let shares = int(limited, "nominalConcurrencyShares").unwrap_or(0);
    if shares < 0 {
        causes.push(field::invalid(
            &format!("{path}.nominalConcurrencyShares"),
            Bad::Int(shares),
            "must be a non-negative integer",
        ));
    }
    causes.extend(limit_response_causes(
        limited.get("limitResponse").unwrap_or(&Value::Null),
        &format!("{path}.limitResponse"),
    ));
    causes.extend(lendable(limited, path));
    if let Some(borrowing) = int(limited, "borrowingLimitPercent")
        && borrowing < 0
    {
        causes.push(field::invalid(
            &format!("{path}.borrowingLimitPercent"),
            Bad::Int(borrowing),
            "if specified, must be a non-negative integer",
        ));
    }
    causes
}

/// Upstream's `ValidateLimitResponse`.
fn limit_response_causes(response: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let queuing_path = format!("{path}.queuing");
    match response.get("type").and_then(Value::as_str).unwrap_or("") {
        "Reject" => {
            if present(response, "queuing").is_some() {
                causes.push(field::forbidden(
                    &queuing_path,
                    "must be nil if limited.limitResponse.type is not Limited",
                ));
            }
        }
        "Queue" => match present(response, "queuing") {
            None => causes.push(field::required(
                &queuing_path,
                "must not be empty if limited.limitResponse.type is Limited",
            )),
            Some(queuing) => causes.extend(queuing_causes(queuing, &queuing_path)),
        },
        other => causes.push(field::not_supported(
            &format!("{path}.type"),
            Bad::Str(other),
            &["Queue", "Reject"],
        )),
    }
    causes
}

/// Bits of entropy shuffle sharding needs to deal `hand` cards from `deck` (upstream's
/// `shufflesharding.RequiredEntropyBits`).
fn required_entropy_bits(deck: i64, hand: i64) -> i64 {
    ((deck as f64).log2() * hand as f64).ceil() as i64
}

/// Upstream's `ValidatePriorityLevelQueuingConfiguration`.
fn queuing_causes(queuing: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let length = int(queuing, "queueLengthLimit").unwrap_or(0);
    if length <= 0 {
        causes.push(field::invalid(
            &format!("{path}.queueLengthLimit"),
            Bad::Int(length),
            "must be positive",
        ));
    }
    let queues = int(queuing, "queues").unwrap_or(0);
    let queues_path = format!("{path}.queues");
    if queues <= 0 {
        causes.push(field::invalid(
            &queues_path,
            Bad::Int(queues),
            "must be positive",
        ));
    } else if queues > MAX_QUEUES {
        causes.push(field::invalid(
            &queues_path,
            Bad::Int(queues),
            &format!("must not be greater than {MAX_QUEUES}"),
        ));
    }
    let hand = int(queuing, "handSize").unwrap_or(0);
    let hand_path = format!("{path}.handSize");
    if hand <= 0 {
        causes.push(field::invalid(
            &hand_path,
            Bad::Int(hand),
            "must be positive",
        ));
    } else if hand > queues {
        causes.push(field::invalid(
            &hand_path,
            Bad::Int(hand),
            &format!("should not be greater than queues ({queues})"),
        ));
    } else if required_entropy_bits(queues, hand) > MAX_HASH_BITS {
        causes.push(field::invalid(
            &hand_path,
            Bad::Int(hand),
            &format!(
                "required entropy bits of deckSize {queues} and handSize {hand} should not be greater than {MAX_HASH_BITS}"
            ),
        ));
    }
    causes
}

/// The spec as Go's `%#v` begins to print it (upstream prints the internal struct with pointer
/// addresses, so only its shape can be matched).
fn go_spec(spec: &Value) -> String {
    let pointer = |field: &str, kind: &str| match present(spec, field) {
        Some(_) => format!("&flowcontrol.{kind}{{...}}"),
        None => format!("(*flowcontrol.{kind})(nil)"),
    };
    format!(
        "flowcontrol.PriorityLevelConfigurationSpec{{Type:{}, Limited:{}, Exempt:{}}}",
        field::go_quote(spec.get("type").and_then(Value::as_str).unwrap_or("")),
        pointer("limited", "LimitedPriorityLevelConfiguration"),
        pointer("exempt", "ExemptPriorityLevelConfiguration"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::flowcontrol::messages;
    use serde_json::json;

    #[test]
    fn type_and_members() {
        let pl = json!({"metadata": {"name": "x"}, "spec": {"type": "Exempt", "limited": {}}});
        assert_eq!(
            messages(causes(&pl)),
            [
                r#"spec.type: Invalid value: "Exempt": type must be 'Exempt' if and only if name is 'exempt'"#,
                "spec.limited: Forbidden: must be nil if the type is not Limited",
            ]
        );
        let pl = json!({"metadata": {"name": "x"}, "spec": {"type": "Limited", "exempt": {}}});
        assert_eq!(
            messages(causes(&pl)),
            [
                "spec.exempt: Forbidden: must be nil if the type is Limited",
                "spec.limited: Required value: must not be empty when type is Limited",
            ]
        );
        let pl = json!({"metadata": {"name": "x"}, "spec": {"type": "Sometimes"}});
        assert_eq!(
            messages(causes(&pl)),
            [r#"spec.type: Unsupported value: "Sometimes": supported values: "Exempt", "Limited""#]
        );
    }

    #[test]
    fn limited_levels() {
        let pl = json!({"metadata": {"name": "x"}, "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": -1, "lendablePercent": 101, "borrowingLimitPercent": -2,
            "limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 129, "queueLengthLimit": 0}}}}});
        assert_eq!(
            messages(causes(&pl)),
            [
                "spec.limited.nominalConcurrencyShares: Invalid value: -1: must be a non-negative integer",
                "spec.limited.limitResponse.queuing.queueLengthLimit: Invalid value: 0: must be positive",
                "spec.limited.limitResponse.queuing.handSize: Invalid value: 129: should not be greater than queues (128)",
                "spec.limited.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive",
                "spec.limited.borrowingLimitPercent: Invalid value: -2: if specified, must be a non-negative integer",
            ]
        );
        let pl = json!({"metadata": {"name": "x"}, "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 0,
            "limitResponse": {"type": "Queue", "queuing": {"queues": 1000000, "handSize": 10, "queueLengthLimit": 5}}}}});
        assert_eq!(
            messages(causes(&pl)),
            [
                "spec.limited.limitResponse.queuing.handSize: Invalid value: 10: required entropy bits of deckSize 1000000 and handSize 10 should not be greater than 60"
            ]
        );
        let pl = json!({"metadata": {"name": "x"}, "spec": {"type": "Limited", "limited": {
            "limitResponse": {"type": "Reject", "queuing": {}}}}});
        assert_eq!(
            messages(causes(&pl)),
            [
                "spec.limited.limitResponse.queuing: Forbidden: must be nil if limited.limitResponse.type is not Limited"
            ]
        );
    }

    #[test]
    fn mandatory_levels() {
        let mut exempt =
            json!({"metadata": {"name": "exempt"}, "spec": mandatory_level_spec("exempt")});
        exempt["spec"]["exempt"] = json!({"nominalConcurrencyShares": 7, "lendablePercent": 10});
        assert!(causes(&exempt).is_empty());
        exempt["spec"]["exempt"]["nominalConcurrencyShares"] = json!(-1);
        assert_eq!(
            messages(causes(&exempt)),
            [
                "spec.exempt.nominalConcurrencyShares: Invalid value: -1: must be a non-negative integer"
            ]
        );
        let mut catch_all =
            json!({"metadata": {"name": "catch-all"}, "spec": mandatory_level_spec("catch-all")});
        assert!(causes(&catch_all).is_empty());
        catch_all["spec"]["limited"]["nominalConcurrencyShares"] = json!(50);
        let found = causes(&catch_all);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .ends_with(": spec of 'catch-all' must equal the fixed value")
        );
    }
}
