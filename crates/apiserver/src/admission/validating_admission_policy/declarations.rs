//! The types upstream declares for a policy's CEL variables (plugin `cel/compile.go` and
//! `composition.go`), shared by the policy's validation on write and its `status.typeChecking`:
//!
//! - `request`: `kubernetes.AdmissionRequest` (`kind`, `resource`, `subResource`,
//!   `requestKind`, `requestResource`, `requestSubResource`, `name`, `namespace`, `operation`,
//!   `userInfo`, `dryRun`, `options`), so `request.nosuchfield` is `undefined field`;
//! - `variables`: `kubernetes.variables`, one field per variable typed by its expression,
//!   declared as the variables are compiled in order (a variable sees those before it; one
//!   that does not compile is `dyn`), so `variables.undefinedVar` is `undefined field`.

use crate::crd::schema::cel::check::Ty;
use crate::crd::schema::cel::expression::Expression;
use serde_json::Value;
use std::collections::HashMap;

/// `BuildRequestType`: the AdmissionRequest as policies see it (no `uid`, `object` or
/// `oldObject`, which are variables of their own).
pub fn request_ty() -> Ty<'static> {
    let string = |name: &str| (name.to_string(), Ty::String);
    let gvk = Ty::record(
        "kubernetes.GroupVersionKind",
        vec![string("group"), string("version"), string("kind")],
    );
    let gvr = Ty::record(
        "kubernetes.GroupVersionResource",
        vec![string("group"), string("version"), string("resource")],
    );
    let strings = || Ty::List(Box::new(Ty::String));
    let user_info = Ty::record(
        "kubernetes.UserInfo",
        vec![
            string("username"),
            string("uid"),
            ("groups".into(), strings()),
            ("extra".into(), Ty::Map(Box::new(strings()))),
        ],
    );
    Ty::record(
        "kubernetes.AdmissionRequest",
        vec![
            ("kind".into(), gvk.clone()),
            ("resource".into(), gvr.clone()),
            string("subResource"),
            ("requestKind".into(), gvk),
            ("requestResource".into(), gvr),
            string("requestSubResource"),
            string("name"),
            string("namespace"),
            string("operation"),
            ("userInfo".into(), user_info),
            ("dryRun".into(), Ty::Bool),
            ("options".into(), Ty::Dyn),
        ],
    )
}

/// The name of the variables' record type.
const VARIABLES_TYPE: &str = "kubernetes.variables";

/// The `variables` a policy's expressions see: `vars` are the other variables (without
/// `variables`); each of `variables` (the policy's `spec.variables`) is compiled with those
/// before it and gets the type it evaluates to. Calls `each` with every variable's index and
/// its compile result.
pub fn variables_ty<'a>(
    variables: &[Value],
    vars: &HashMap<String, Ty<'a>>,
    mut each: impl FnMut(usize, &Result<Ty<'a>, String>),
) -> Ty<'a> {
    let mut fields: Vec<(String, Ty<'a>)> = Vec::new();
    for (i, variable) in variables.iter().enumerate() {
        let name = variable.get("name").and_then(Value::as_str).unwrap_or("");
        let src = variable
            .get("expression")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut scope = vars.clone();
        scope.insert(
            "variables".into(),
            Ty::record(VARIABLES_TYPE, fields.clone()),
        );
        let result = Expression::output_type(src, scope);
        each(i, &result);
        let ty = result.unwrap_or(Ty::Dyn);
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = ty,
            None => fields.push((name.to_string(), ty)),
        }
    }
    Ty::record(VARIABLES_TYPE, fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> HashMap<String, Ty<'static>> {
        HashMap::from([
            ("object".to_string(), Ty::Dyn),
            ("request".to_string(), request_ty()),
        ])
    }

    #[test]
    fn request_fields_are_typed() {
        let ok = Expression::output_type("request.userInfo.groups[0]", vars()).unwrap();
        assert_eq!(ok.name(), "string");
        let err = Expression::output_type("request.nosuchfield == 'a'", vars()).unwrap_err();
        assert!(err.contains("undefined field 'nosuchfield'"), "{err}");
        let err = Expression::output_type("request.kind.nosuch", vars()).unwrap_err();
        assert!(err.contains("undefined field 'nosuch'"), "{err}");
    }

    #[test]
    fn variables_see_the_ones_before_them() {
        let variables = [
            json!({"name": "a", "expression": "request.name"}),
            json!({"name": "b", "expression": "variables.a.size() > 1"}),
            json!({"name": "c", "expression": "variables.d"}),
        ];
        let mut results = Vec::new();
        let ty = variables_ty(&variables, &vars(), |i, r| {
            results.push((i, r.as_ref().map(Ty::name).map_err(Clone::clone)))
        });
        assert_eq!(results[0].1, Ok("string".to_string()));
        assert_eq!(results[1].1, Ok("bool".to_string()));
        let err = results[2].1.clone().unwrap_err();
        assert!(err.contains("undefined field 'd'"), "{err}");
        let mut scope = vars();
        scope.insert("variables".into(), ty);
        assert_eq!(
            Expression::output_type("variables.b", scope.clone())
                .unwrap()
                .name(),
            "bool"
        );
        let err = Expression::output_type("variables.undefinedVar", scope).unwrap_err();
        assert!(err.contains("undefined field 'undefinedVar'"), "{err}");
    }
}
