//! flowcontrol/v1's defaulting of PriorityLevelConfigurations (upstream's `SetDefaults_*` of
//! `pkg/apis/flowcontrol/v1`): a limited level without `nominalConcurrencyShares` gets 30 (an
//! explicit 0 stays 0: in v1 the field is a pointer, and only nil is defaulted), a missing
//! `lendablePercent` 0, an exempt level's shares and lendable percent 0, and a queuing
//! configuration's zero fields 64 queues, a hand of 8 and a queue length limit of 50.

use serde_json::{Map, Value, json};

/// The nominal concurrency shares of a limited level that names none.
pub(crate) const DEFAULT_NOMINAL_CONCURRENCY_SHARES: i64 = 30;
/// The queues of a queuing level that names none.
pub(crate) const DEFAULT_QUEUES: i64 = 64;
/// The hand size of a queuing level that names none.
pub(crate) const DEFAULT_HAND_SIZE: i64 = 8;
/// The queue length limit of a queuing level that names none.
pub(crate) const DEFAULT_QUEUE_LENGTH_LIMIT: i64 = 50;

/// Sets `field` to `value` where it is absent or null (a nil pointer).
fn default_nil(map: &mut Map<String, Value>, field: &str, value: i64) {
    if map.get(field).is_none_or(Value::is_null) {
        map.insert(field.into(), json!(value));
    }
}

/// Sets `field` to `value` where it is absent, null or 0 (a Go integer's zero value).
fn default_zero(map: &mut Map<String, Value>, field: &str, value: i64) {
    if map
        .get(field)
        .is_none_or(|v| v.is_null() || v.as_i64() == Some(0))
    {
        map.insert(field.into(), json!(value));
    }
}

/// Defaults a v1 PriorityLevelConfiguration in place.
pub(crate) fn set_defaults(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(exempt) = spec.get_mut("exempt").and_then(Value::as_object_mut) {
        default_nil(exempt, "nominalConcurrencyShares", 0);
        default_nil(exempt, "lendablePercent", 0);
    }
    if let Some(limited) = spec.get_mut("limited").and_then(Value::as_object_mut) {
        default_nil(
            limited,
            "nominalConcurrencyShares",
            DEFAULT_NOMINAL_CONCURRENCY_SHARES,
        );
        default_nil(limited, "lendablePercent", 0);
        if let Some(queuing) = limited
            .get_mut("limitResponse")
            .and_then(|r| r.get_mut("queuing"))
            .and_then(Value::as_object_mut)
        {
            default_zero(queuing, "handSize", DEFAULT_HAND_SIZE);
            default_zero(queuing, "queues", DEFAULT_QUEUES);
            default_zero(queuing, "queueLengthLimit", DEFAULT_QUEUE_LENGTH_LIMIT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_levels_get_shares_only_when_nil() {
        let mut unset = json!({"spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {"queues": 0}}}}});
        set_defaults(&mut unset);
        assert_eq!(
            unset["spec"]["limited"],
            json!({"nominalConcurrencyShares": 30, "lendablePercent": 0,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50}}})
        );
        let mut zero = json!({"spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 0, "limitResponse": {"type": "Reject"}}}});
        set_defaults(&mut zero);
        assert_eq!(zero["spec"]["limited"]["nominalConcurrencyShares"], 0);
        let mut exempt = json!({"spec": {"type": "Exempt", "exempt": {}}});
        set_defaults(&mut exempt);
        assert_eq!(
            exempt["spec"]["exempt"],
            json!({"nominalConcurrencyShares": 0, "lendablePercent": 0})
        );
    }
}
