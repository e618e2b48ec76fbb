//! flowcontrol/v1's defaulting of FlowSchemas (upstream's `SetDefaults_FlowSchemaSpec`): a
//! schema without a matching precedence (or with 0) gets 1000.

use serde_json::{Value, json};

/// The matching precedence of a schema that names none.
pub(crate) const DEFAULT_MATCHING_PRECEDENCE: i64 = 1000;

/// Defaults a v1 FlowSchema in place.
pub(crate) fn set_defaults(obj: &mut Value) {
    let Some(obj) = obj.as_object_mut() else {
        return;
    };
    // The spec is a struct, not a pointer, upstream: an object without one is defaulted too.
    if obj.get("spec").is_none_or(Value::is_null) {
        obj.insert("spec".into(), json!({}));
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if spec
        .get("matchingPrecedence")
        .is_none_or(|v| v.is_null() || v.as_i64() == Some(0))
    {
        spec.insert(
            "matchingPrecedence".into(),
            json!(DEFAULT_MATCHING_PRECEDENCE),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_defaults_to_1000() {
        let mut fs = json!({"spec": {"priorityLevelConfiguration": {"name": "x"}}});
        set_defaults(&mut fs);
        assert_eq!(fs["spec"]["matchingPrecedence"], 1000);
        let mut given = json!({"spec": {"matchingPrecedence": 7}});
        set_defaults(&mut given);
        assert_eq!(given["spec"]["matchingPrecedence"], 7);
    }
}
