//! CEL rules: evaluation, messages, transition rules, ratcheting, libraries and cost — cases
//! modelled on apiextensions-apiserver's `schema/cel/validation_test.go`.

use super::super::{Schema, compile_node};
use super::*;
use serde_json::json;

fn object_with(field: Value) -> Value {
    json!({"type": "object", "properties": {"field": field}})
}

fn msgs(schema: &Value, obj: &Value, old: Option<&Value>) -> Vec<String> {
    let node = compile_node(schema, false);
    validate(&node, obj, old, RUNTIME_COST_BUDGET)
        .into_iter()
        .map(|c| c.message)
        .collect()
}

#[test]
fn failures_are_worded_like_upstream() {
    let s = object_with(json!({"type": "string", "x-kubernetes-validations": [
        {"rule": "self == 'x'"},
        {"rule": "self.size() < 3", "message": "too long"},
        {"rule": "self.startsWith('a')", "messageExpression": "'must start with a, not ' + self"},
    ]}));
    assert!(msgs(&s, &json!({"field": "x"}), None).len() == 1);
    assert_eq!(
        msgs(&s, &json!({"field": "yyyy"}), None),
        vec![
            r#"field: Invalid value: "yyyy": failed rule: self == 'x'"#,
            r#"field: Invalid value: "yyyy": too long"#,
            r#"field: Invalid value: "yyyy": must start with a, not yyyy"#,
        ]
    );
    // Objects and arrays are not shown (upstream omits them).
    let obj = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.min <= self.max", "message": "min must not exceed max"}]}}});
    assert_eq!(
        msgs(&obj, &json!({"spec": {"min": 5, "max": 1}}), None),
        vec!["spec: Invalid value: min must not exceed max"]
    );
}

#[test]
fn reasons_and_field_paths() {
    let s = json!({"type": "object", "properties": {"spec": {"type": "object",
    "properties": {"a": {"type": "string"}, "m": {"type": "object", "additionalProperties": {"type": "string"}}},
    "x-kubernetes-validations": [
        {"rule": "has(self.a)", "reason": "FieldValueRequired", "message": "a is needed", "fieldPath": ".a"},
        {"rule": "self.a != 'no'", "reason": "FieldValueForbidden", "message": "no is forbidden", "fieldPath": ".a"},
        {"rule": "!('k' in self.m)", "reason": "FieldValueDuplicate", "fieldPath": ".m['k']"},
        {"rule": "false", "reason": "FieldValueInvalid"}
    ]}}});
    assert_eq!(
        msgs(&s, &json!({"spec": {"m": {"k": "v"}}}), None),
        vec![
            "spec.a: Required value: a is needed",
            r#"spec: Invalid value: "object": no such key: a evaluating rule: no is forbidden"#,
            "spec.m[k]: Duplicate value",
            "spec: Invalid value: failed rule: false",
        ]
    );
    assert_eq!(
        msgs(&s, &json!({"spec": {"a": "no", "m": {}}}), None),
        vec![
            "spec.a: Forbidden: no is forbidden",
            "spec: Invalid value: failed rule: false"
        ]
    );
}

#[test]
fn transition_rules() {
    let s = object_with(
        json!({"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}),
    );
    assert!(
        msgs(&s, &json!({"field": "y"}), None).is_empty(),
        "no old value: skipped"
    );
    assert!(msgs(&s, &json!({"field": "x"}), Some(&json!({"field": "x"}))).is_empty());
    assert_eq!(
        msgs(&s, &json!({"field": "y"}), Some(&json!({"field": "x"}))),
        vec![r#"field: Invalid value: "y": failed rule: self == oldSelf"#]
    );
    // Correlated through a map list, by key.
    let list = object_with(
        json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k1", "k2"],
        "items": {"type": "object", "properties": {"k1": {"type": "string"}, "k2": {"type": "string"},
            "v1": {"type": "number", "x-kubernetes-validations": [{"rule": "self >= oldSelf"}]}}}}),
    );
    let old = json!({"field": [{"k1": "a", "k2": "b", "v1": 1.0}]});
    assert!(
        msgs(
            &list,
            &json!({"field": [{"k1": "a", "k2": "b", "v1": 1.2}]}),
            Some(&old)
        )
        .is_empty()
    );
    assert_eq!(
        msgs(
            &list,
            &json!({"field": [{"k1": "x", "k2": "y", "v1": 0.1}, {"k1": "a", "k2": "b", "v1": 0.9}]}),
            Some(&old)
        ),
        vec!["field[1].v1: Invalid value: 0.9: failed rule: self >= oldSelf"]
    );
    // optionalOldSelf: evaluated on create too.
    let opt = object_with(json!({"type": "integer", "x-kubernetes-validations": [
        {"rule": "!oldSelf.hasValue() || self >= oldSelf.value()", "optionalOldSelf": true, "message": "may only grow"}]}));
    assert!(msgs(&opt, &json!({"field": 1}), None).is_empty());
    assert_eq!(
        msgs(&opt, &json!({"field": 1}), Some(&json!({"field": 2}))),
        vec!["field: Invalid value: 1: may only grow"]
    );
}

#[test]
fn ratcheting_keeps_unchanged_failures_quiet() {
    let s = json!({"type": "object", "properties": {
        "a": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 2"}]},
        "b": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 2"}]}}});
    let old = json!({"a": "long", "b": "x"});
    assert_eq!(
        msgs(&s, &json!({"a": "long", "b": "yy"}), Some(&old)),
        vec![r#"b: Invalid value: "yy": failed rule: self.size() < 2"#]
    );
    assert_eq!(msgs(&s, &json!({"a": "long", "b": "x"}), None).len(), 1);
}

#[test]
fn root_rules_see_type_and_object_meta() {
    let schema = Schema::compile(
        Some(&json!({"type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.metadata.name.startsWith('p')", "message": "name must start with p"},
            {"rule": "self.kind == 'Thing' && self.apiVersion == 'ex.com/v1'"}],
        "properties": {"spec": {"type": "object"}}})),
        &crate::objectmeta::Unchecked,
    );
    let ok =
        json!({"apiVersion": "ex.com/v1", "kind": "Thing", "metadata": {"name": "p1"}, "spec": {}});
    assert!(schema.validate(&ok, vec![]).is_empty());
    let bad =
        json!({"apiVersion": "ex.com/v1", "kind": "Thing", "metadata": {"name": "q"}, "spec": {}});
    assert_eq!(
        schema
            .validate(&bad, vec![])
            .into_iter()
            .map(|c| c.message)
            .collect::<Vec<_>>(),
        vec!["<nil>: Invalid value: name must start with p"]
    );
}

#[test]
fn blocking_errors_skip_rules() {
    let schema = Schema::compile(
        Some(
            &json!({"type": "object", "properties": {"spec": {"type": "object",
        "required": ["x"], "properties": {"x": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "false"}]}}}),
        ),
        &crate::objectmeta::Unchecked,
    );
    assert_eq!(
        schema
            .validate(&json!({"spec": {}}), vec![])
            .into_iter()
            .map(|c| c.message)
            .collect::<Vec<_>>(),
        vec![
            "spec.x: Required value",
            "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ]
    );
}

#[test]
fn kubernetes_libraries_and_escaping() {
    let s = json!({"type": "object", "properties": {
        "mem": {"type": "string", "x-kubernetes-validations": [{"rule": "quantity(self).isLessThan(quantity('1Gi'))"}]},
        "url": {"type": "string", "x-kubernetes-validations": [{"rule": "isURL(self) && url(self).getScheme() == 'https'"}]},
        "ip": {"type": "string", "x-kubernetes-validations": [{"rule": "isIP(self) && ip(self).family() == 4"}]},
        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "!format.dns1123Label().validate(self).hasValue()"}]},
        "text": {"type": "string", "x-kubernetes-validations": [{"rule": "self.lowerAscii() == self && self.split(',').size() <= 2"}]},
        "my-field": {"type": "integer"},
        "namespace": {"type": "string"},
        "when": {"type": "string", "format": "date-time"},
        "every": {"type": "string", "format": "duration"},
        "n": {"type": "integer", "x-kubernetes-validations": [{"rule": "math.abs(self) < 10 && sets.contains([1, 2, 3], [self])"}]}
    }, "x-kubernetes-validations": [
        {"rule": "!has(self.__namespace__) || self.__namespace__ != 'kube-system'"},
        {"rule": "!has(self.my__dash__field) || self.my__dash__field > 0"},
        {"rule": "!has(self.when) || self.when > timestamp('2020-01-01T00:00:00Z')"},
        {"rule": "!has(self.every) || self.every <= duration('1h')"}
    ]});
    let good = json!({"mem": "512Mi", "url": "https://x.io/a", "ip": "10.0.0.1", "name": "ok-name",
        "text": "a,b", "my-field": 1, "namespace": "default", "when": "2024-01-01T00:00:00Z", "every": "30m", "n": 2});
    assert_eq!(msgs(&s, &good, None), Vec::<String>::new());
    let bad = json!({"mem": "2Gi", "url": "http://x.io", "ip": "::1", "name": "Bad_Name",
        "text": "A,b,c", "my-field": 0, "namespace": "kube-system", "when": "2019-01-01T00:00:00Z", "every": "2h", "n": 5});
    assert_eq!(msgs(&s, &bad, None).len(), 10, "{:?}", msgs(&s, &bad, None));
}

#[test]
fn compile_errors_read_like_cel_go() {
    let node = compile_node(
        &json!({"type": "object", "properties": {"foo": {"type": "integer"}, "s": {"type": "string"}}}),
        false,
    );
    let compile = |rule: &str| -> String {
        let rules = compile_rules(&[json!({"rule": rule})], &node);
        match &rules[0].program {
            Some(Err(e)) => e.clone(),
            other => format!("compiled: {}", other.is_some()),
        }
    };
    assert_eq!(
        compile("self.bar == 1"),
        "compilation failed: ERROR: <input>:1:5: undefined field 'bar'\n | self.bar == 1\n | ....^"
    );
    assert_eq!(
        compile("other > 1"),
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'other' (in container '')\n | other > 1\n | ^"
    );
    assert_eq!(
        compile("self.foo == 'a'"),
        "compilation failed: ERROR: <input>:1:10: found no matching overload for '_==_' applied to '(int, string)'\n | self.foo == 'a'\n | .........^"
    );
    assert_eq!(
        compile("self.foo + 1"),
        "cel expression must evaluate to a bool"
    );
    assert!(compile("self.foo >").starts_with(
        "compilation failed: ERROR: <input>:1:11: Syntax error: mismatched input '<EOF>' expecting"
    ));
    assert_eq!(
        compile("self.s.size() > 0 && self.all(k, k != 'x')"),
        "compiled: true"
    );
    let rules = compile_rules(
        &[json!({"rule": "self.foo > 0", "messageExpression": "self.foo"})],
        &node,
    );
    assert_eq!(
        rules[0]
            .message_program
            .as_ref()
            .and_then(|r| r.as_ref().err())
            .map(String::as_str),
        Some("messageExpression must evaluate to a string")
    );
}

#[test]
fn runtime_cost_limits() {
    let s = object_with(json!({"type": "array", "items": {"type": "integer"},
        "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, self.all(z, x + y + z > -1)))"}]}));
    let small = json!({"field": [1, 2, 3]});
    assert!(msgs(&s, &small, None).is_empty());
    let big = json!({"field": (0..200).collect::<Vec<i64>>()});
    assert_eq!(
        msgs(&s, &big, None),
        vec![
            r#"field: Invalid value: "array": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: self.all(x, self.all(y, self.all(z, x + y + z > -1)))"#
        ]
    );
}

#[test]
fn runtime_errors() {
    let s = object_with(
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
        "x-kubernetes-validations": [{"rule": "self.missing == 1"}, {"rule": "1 / (self.size() - self.size()) == 1"}]}),
    );
    assert_eq!(
        msgs(&s, &json!({"field": {}}), None),
        vec![
            r#"field: Invalid value: "object": no such key: missing evaluating rule: self.missing == 1"#,
            r#"field: Invalid value: "object": division by zero evaluating rule: 1 / (self.size() - self.size()) == 1"#,
        ]
    );
}

#[test]
fn numbers_compare_like_cel_go() {
    // cel-go's equality is heterogeneous: a double equals the integer literal of its value.
    let s = object_with(json!({"type": "number", "x-kubernetes-validations": [
        {"rule": "self == 1 || self > 1.5"}, {"rule": "self != 2"}]}));
    assert!(msgs(&s, &json!({"field": 1}), None).is_empty());
    assert!(msgs(&s, &json!({"field": 1.0}), None).is_empty());
    assert!(msgs(&s, &json!({"field": 3}), None).is_empty());
    assert_eq!(
        msgs(&s, &json!({"field": 2.0}), None),
        vec!["field: Invalid value: 2: failed rule: self != 2"]
    );
}

/// The failures of `rules` on `field` (typed by `schema`), or its compile error.
fn outcome(schema: Value, field: Value, rules: &[&str]) -> Vec<String> {
    let mut schema = schema;
    schema["x-kubernetes-validations"] = rules.iter().map(|r| json!({"rule": r})).collect();
    msgs(&object_with(schema), &json!({ "field": field }), None)
}

fn compile_error(schema: Value, rule: &str) -> String {
    let node = compile_node(&schema, false);
    match &compile_rules(&[json!({ "rule": rule })], &node)[0].program {
        Some(Err(e)) => e.clone(),
        other => format!("compiled: {}", other.is_some()),
    }
}

fn int_list() -> Value {
    json!({"type": "array", "items": {"type": "integer"}})
}

fn string_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

#[test]
fn two_variable_quantifiers_on_lists_and_maps() {
    let holds = [
        "self.all(i, v, i < v)",
        "self.exists(i, v, i == 2 && v == 3)",
        "!self.exists(i, v, i == v)",
        "!self.existsOne(i, v, v > 1)",
        "self.exists_one(i, v, i == 0)",
        "self.existsOne(i, v, v == 2)",
    ];
    assert_eq!(
        outcome(int_list(), json!([1, 2, 3]), &holds),
        Vec::<String>::new()
    );
    assert_eq!(
        outcome(int_list(), json!([1, 2, 3]), &["self.all(i, v, v < 3)"]),
        vec!["field: Invalid value: failed rule: self.all(i, v, v < 3)"]
    );
    let on_map = [
        "!self.all(k, v, k == v)",
        "self.exists(k, v, k != v && v == 'c')",
        "self.existsOne(k, v, k == v)",
        "self.all(k, v, k.size() == 1 && v.size() == 1)",
    ];
    assert_eq!(
        outcome(string_map(), json!({"a": "a", "b": "c"}), &on_map),
        Vec::<String>::new()
    );
    // Empty targets: all holds, exists and existsOne do not.
    let empty = [
        "self.all(k, v, false)",
        "!self.exists(k, v, true)",
        "!self.existsOne(k, v, true)",
    ];
    assert!(outcome(int_list(), json!([]), &empty).is_empty());
    assert!(outcome(string_map(), json!({}), &empty).is_empty());
}

#[test]
fn two_variable_transforms() {
    let on_list = [
        "self.transformList(i, v, v * 2) == [2, 4, 6]",
        "self.transformList(i, v, i % 2 == 0, v + i) == [1, 5]",
        "self.transformMap(i, v, v * 10) == {0: 10, 1: 20, 2: 30}",
        "self.transformMap(i, v, v > 1, i) == {1: 1, 2: 2}",
        "self.transformMapEntry(i, v, {string(v): i}) == {'1': 0, '2': 1, '3': 2}",
        "self.transformMapEntry(i, v, v != 2, {v: i}) == {1: 0, 3: 2}",
    ];
    assert_eq!(
        outcome(int_list(), json!([1, 2, 3]), &on_list),
        Vec::<String>::new()
    );
    let on_map = [
        "self.transformList(k, v, k) == ['a', 'b']",
        "self.transformList(k, v, v) == ['x', 'y']",
        "self.transformList(k, v, v == 'y', k + v) == ['by']",
        "self.transformMap(k, v, v + '!') == {'a': 'x!', 'b': 'y!'}",
        "self.transformMap(k, v, k == 'a', v) == {'a': 'x'}",
        "self.transformMapEntry(k, v, {v: k}) == {'x': 'a', 'y': 'b'}",
        "self.transformMapEntry(k, v, k != 'a', {v: k}) == {'y': 'b'}",
        "size(self.transformMap(k, v, v)) == 2",
    ];
    assert_eq!(
        outcome(string_map(), json!({"a": "x", "b": "y"}), &on_map),
        Vec::<String>::new()
    );
    let empty = [
        "self.transformList(k, v, v) == []",
        "self.transformMap(k, v, v) == {}",
        "self.transformMapEntry(k, v, {v: k}) == {}",
    ];
    assert!(outcome(int_list(), json!([]), &empty).is_empty());
    assert!(outcome(string_map(), json!({}), &empty).is_empty());
    // A duplicate key is cel-go's runtime error.
    let dup = "self.transformMapEntry(k, v, {v: k}).size() == 2";
    assert_eq!(
        outcome(string_map(), json!({"a": "same", "b": "same"}), &[dup]),
        vec![format!(
            r#"field: Invalid value: "object": insert failed: key same already exists evaluating rule: {dup}"#
        )]
    );
}

#[test]
fn two_variable_comprehensions_nest_and_shadow() {
    let rows = json!({"type": "array", "items": int_list()});
    let nested = [
        // Two-variable inside two-variable: each level has its own target and variables.
        "self.all(i, row, row.all(j, x, x == i * 10 + j))",
        // Inner variables shadow outer ones of the same name, and only inside.
        "self.all(i, row, row.all(i, x, x % 10 == i)) && self.exists(i, row, i == 1)",
        // One-variable macros inside, outer variables visible.
        "self.all(i, row, row.exists(x, x / 10 == i))",
        "self.transformList(i, row, row.transformList(j, x, x - i * 10)) == [[0, 1], [0, 1]]",
        // An iteration variable may shadow `self`.
        "self.all(i, self, self.size() == 2)",
    ];
    assert_eq!(
        outcome(rows, json!([[0, 1], [10, 11]]), &nested),
        Vec::<String>::new()
    );
    let lists = json!({"type": "object", "additionalProperties": int_list()});
    let mixed = [
        "self.all(k, vs, vs.all(v, v > 0) && k.startsWith('k'))",
        "self.exists(k, vs, self.exists(k2, ws, k != k2 && vs == ws))",
    ];
    assert_eq!(
        outcome(lists, json!({"k1": [1, 2], "k2": [1, 2]}), &mixed),
        Vec::<String>::new()
    );
}

#[test]
fn two_variable_comprehensions_are_typed_and_misuse_rejected() {
    assert_eq!(
        compile_error(int_list(), "self.all(1, v, true)"),
        "compilation failed: ERROR: <input>:1:10: argument must be a simple name\n | self.all(1, v, true)\n | .........^"
    );
    assert_eq!(
        compile_error(int_list(), "self.exists(i, i, true)"),
        "compilation failed: ERROR: <input>:1:16: duplicate variable name: i\n | self.exists(i, i, true)\n | ...............^"
    );
    assert_eq!(
        compile_error(
            int_list(),
            "self.transformList(__result__, v, v).size() > 0"
        ),
        "compilation failed: ERROR: <input>:1:20: iteration variable overwrites accumulator variable\n | self.transformList(__result__, v, v).size() > 0\n | ...................^"
    );
    // Errors point at the offending call's argument, past one-variable macros of the same name
    // and inside nested calls.
    assert!(
        compile_error(int_list(), "self.all(x, x > 0) && self.all(1, v, true)")
            .starts_with("compilation failed: ERROR: <input>:1:32: argument must be a simple name")
    );
    assert!(
        compile_error(int_list(), "self.all(i, r, [r].all(i, i, true))")
            .starts_with("compilation failed: ERROR: <input>:1:27: duplicate variable name: i")
    );
    // Index and element are typed from the schema.
    assert_eq!(
        compile_error(int_list(), "self.all(i, v, v == 'a')"),
        "compilation failed: ERROR: <input>:1:18: found no matching overload for '_==_' applied to '(int, string)'\n | self.all(i, v, v == 'a')\n | .................^"
    );
    assert_eq!(
        compile_error(string_map(), "self.all(k, v, k == 1)"),
        "compilation failed: ERROR: <input>:1:18: found no matching overload for '_==_' applied to '(string, int)'\n | self.all(k, v, k == 1)\n | .................^"
    );
    assert!(
        compile_error(json!({"type": "integer"}), "self.all(i, v, true)").contains(
            "expression of type 'int' cannot be range of a comprehension (must be list, map, or dynamic)"
        )
    );
    // Quantifiers are bools, transforms are not.
    assert_eq!(
        compile_error(int_list(), "self.transformList(i, v, v)"),
        "cel expression must evaluate to a bool"
    );
    assert_eq!(
        compile_error(int_list(), "self.transformMap(i, v, v > 0)"),
        "cel expression must evaluate to a bool"
    );
    // Other arities are not these macros (and `cel.bind` is not in kube-apiserver's CRD
    // environment).
    assert_eq!(
        compile_error(int_list(), "cel.bind(x, self, x.size() > 0)"),
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'cel' (in container '')\n | cel.bind(x, self, x.size() > 0)\n | ^\nERROR: <input>:1:10: undeclared reference to 'x' (in container '')\n | cel.bind(x, self, x.size() > 0)\n | .........^\nERROR: <input>:1:10: undeclared reference to 'x' (in container '')\n | cel.bind(x, self, x.size() > 0)\n | .........^"
    );
}

#[test]
fn two_variable_comprehension_costs() {
    let bounded =
        json!({"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 10}});
    let unbounded = json!({"type": "array", "items": {"type": "string"}});
    let rule = "self.all(i, x, self.exists(j, y, i != j && x == y))";
    let cost = |schema: &Value| {
        let node = compile_node(schema, false);
        compile_rules(&[json!({ "rule": rule })], &node)[0].max_cost
    };
    assert!(cost(&bounded) < 5_000, "{}", cost(&bounded));
    assert!(cost(&unbounded) > STATIC_ESTIMATED_COST_LIMIT);
    // At runtime the actual size counts.
    let s = json!({"type": "array", "items": {"type": "integer"}});
    let quadratic = "self.all(i, x, self.all(j, y, self.all(k, z, i + j + k + x + y + z > -1)))";
    assert!(outcome(s.clone(), json!([1, 2, 3]), &[quadratic]).is_empty());
    let big = json!((0..200).collect::<Vec<i64>>());
    assert_eq!(
        outcome(s, big, &[quadratic]),
        vec![format!(
            r#"field: Invalid value: "array": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: {quadratic}"#
        )]
    );
}

#[test]
fn message_construction_is_rejected_not_evaluated() {
    // The interpreter cannot evaluate `Foo{...}`; kube-apiserver declares no message types.
    assert_eq!(
        compile_error(int_list(), "self == Foo{a: 1}"),
        "compilation failed: ERROR: <input>:1:9: undeclared reference to 'Foo' (in container '')\n | self == Foo{a: 1}\n | ........^"
    );
    assert!(
        compile_error(
            int_list(),
            "self.all(i, v, v == google.protobuf.Int64Value{value: 1})"
        )
        .contains("undeclared reference to 'google.protobuf.Int64Value'")
    );
    // A messageExpression is checked the same way.
    let node = compile_node(&int_list(), false);
    let rules = compile_rules(
        &[json!({"rule": "false", "messageExpression": "string(Foo{})"})],
        &node,
    );
    assert!(
        matches!(&rules[0].message_program, Some(Err(e)) if e.contains("undeclared reference to 'Foo'"))
    );
}

#[test]
fn list_extensions_kube_apiserver_1_33_does_not_declare() {
    // cel-go's ext.Lists arrives in kube-apiserver's CRD environment with 1.34/1.35.
    assert_eq!(
        compile_error(int_list(), "self.sort() == self"),
        "compilation failed: ERROR: <input>:1:10: undeclared reference to 'sort' (in container '')\n | self.sort() == self\n | .........^"
    );
    assert_eq!(
        compile_error(int_list(), "self.sortBy(x, -x)[0] > 0"),
        "compilation failed: ERROR: <input>:1:12: undeclared reference to 'sortBy' (in container '')\n | self.sortBy(x, -x)[0] > 0\n | ...........^\nERROR: <input>:1:13: undeclared reference to 'x' (in container '')\n | self.sortBy(x, -x)[0] > 0\n | ............^\nERROR: <input>:1:13: undeclared reference to 'x' (in container '')\n | self.sortBy(x, -x)[0] > 0\n | ............^"
    );
    for rule in [
        "self.slice(0, 1).size() == 1",
        "[self].flatten().size() > 0",
        "self.distinct() == self",
        "self.reverse() == self",
        "'abc'.reverse() == 'cba'",
    ] {
        assert!(
            compile_error(int_list(), rule).contains("undeclared reference to '"),
            "{rule}"
        );
    }
    assert_eq!(
        compile_error(int_list(), "lists.range(2) == [0, 1]"),
        "compilation failed: ERROR: <input>:1:1: undeclared reference to 'lists' (in container '')\n | lists.range(2) == [0, 1]\n | ^\nERROR: <input>:1:12: undeclared reference to 'range' (in container '')\n | lists.range(2) == [0, 1]\n | ...........^"
    );
    // What kube-apiserver's Kubernetes list library and optional types do declare.
    assert_eq!(
        compile_error(
            int_list(),
            "self.isSorted() && self.sum() > 0 && self.min() <= self.max() && self.indexOf(1) >= 0 && self.first().hasValue()"
        ),
        "compiled: true"
    );
}

#[test]
fn the_authorizer_library_is_not_declared_for_crd_rules() {
    // Its functions exist in admission expressions only: a CRD rule naming one does not compile.
    assert_eq!(
        compile_error(int_list(), "self.all(x, x.check('get'))"),
        "compilation failed: ERROR: <input>:1:20: undeclared reference to 'check' (in container '')\n | self.all(x, x.check('get'))\n | ...................^"
    );
    let error = compile_error(int_list(), "self.path('/x').check('get').allowed()");
    for (function, column) in [("path", 10), ("check", 22), ("allowed", 37)] {
        assert!(
            error.contains(&format!(
                "ERROR: <input>:1:{column}: undeclared reference to '{function}' (in container '')"
            )),
            "{error}"
        );
    }
}

/// Rules assembled from the pieces the macro rewrite, the checker and the interpreter handle
/// specially (macros of every arity, message construction, shadowing, bad arguments) never panic:
/// each compiles or is rejected with a compile error, and evaluating what compiles yields causes
/// with messages.
#[test]
fn arbitrary_rules_never_panic() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    const PIECES: &[&str] = &[
        "self",
        "self.items",
        "self.labels",
        "self.n",
        ".",
        "all",
        "exists",
        "existsOne",
        "exists_one",
        "transformList",
        "transformMap",
        "transformMapEntry",
        "map",
        "filter",
        "sortBy",
        "cel.bind",
        "(",
        ")",
        "k",
        "v",
        "x",
        ",",
        "{",
        "}",
        "[",
        "]",
        "1",
        "'a'",
        "==",
        "!=",
        "+",
        "?",
        ":",
        "&&",
        "||",
        "!",
        "Foo",
        "Foo{a: 1}",
        "has(",
        "size(",
        "__result__",
        "@result",
        "{k: v}",
        "[k]",
        "null",
        "-",
        " ",
    ];
    let schema = json!({"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "integer"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "n": {"type": "integer"},
        "any": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    }});
    let node = compile_node(&schema, false);
    let object =
        json!({"items": [1, 2, 2], "labels": {"a": "x", "b": "x"}, "n": 3, "any": {"z": [1]}});
    let pieces =
        proptest::collection::vec(proptest::sample::select(PIECES), 1..24).prop_map(|p| p.concat());
    // Well-formed macro calls with arbitrary variables and bodies.
    let calls = (
        proptest::sample::select(
            &[
                "self.items",
                "self.labels",
                "self.n",
                "self.any",
                "[]",
                "{}",
            ][..],
        ),
        proptest::sample::select(
            &[
                "all",
                "exists",
                "existsOne",
                "transformList",
                "transformMap",
                "transformMapEntry",
            ][..],
        ),
        proptest::sample::select(&["k", "v", "self", "__result__", "1", "k.v"][..]),
        proptest::sample::select(&["k", "v", "self", "x"][..]),
        proptest::collection::vec(
            proptest::sample::select(
                &[
                    "k == v",
                    "v",
                    "{v: k}",
                    "k",
                    "v > 1",
                    "self.all(k, v, k == v)",
                    "Foo{}",
                    "true",
                ][..],
            ),
            1..3,
        ),
    )
        .prop_map(|(t, m, a, b, rest)| format!("{t}.{m}({a}, {b}, {}) == true", rest.join(", ")));
    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop_oneof![pieces, calls], |rule| {
            let rules = compile_rules(&[json!({ "rule": rule })], &node);
            if let Some(Err(e)) = &rules[0].program {
                prop_assert!(
                    e.starts_with("compilation failed: ") || e.starts_with("cel expression must"),
                    "{rule}: {e}"
                );
            }
            let mut s = schema.clone();
            s["x-kubernetes-validations"] = json!([{ "rule": rule }]);
            let node = compile_node(&s, false);
            for cause in validate(&node, &object, Some(&object), RUNTIME_COST_BUDGET) {
                prop_assert!(!cause.message.is_empty(), "{rule}");
            }
            Ok(())
        })
        .expect("no rule panics or is misreported");
}
