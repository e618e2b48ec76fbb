//! Table tests of server-side apply: sequences of applies and updates by several managers, and
//! the object and ownership they leave. The cases follow the situations upstream's
//! structured-merge-diff (`merge/*_test.go`) and managedfields tests exercise, written anew.

use super::*;
use crate::rest::managed_fields::{self, Write};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

/// A schema with a list-map `list` keyed by name (items with a nested list-map `sub` keyed by
/// `k` and `proto`, `proto` defaulting to TCP), a set `tags`, an atomic list `args`, an atomic
/// struct `selector`, a struct `spec` and a map `labels`.
fn schema() -> Schema {
    Schema::from_description(&json!({"map": {"fields": {
        "list": {"list": {"type": "map", "keys": ["name"], "elem": {"map": {"fields": {
            "name": {"scalar": true}, "value": {"scalar": true},
            "sub": {"list": {"type": "map", "keys": ["k", "proto"],
                "elem": {"map": {"fields": {"k": {"scalar": true}, "proto": {"scalar": true}, "v": {"scalar": true}},
                                 "defaults": {"proto": "TCP"}}}}}
        }}}}},
        "tags": {"list": {"type": "set", "elem": {"scalar": true}}},
        "args": {"list": {"elem": {"scalar": true}}},
        "selector": {"map": {"atomic": true, "elem": {"scalar": true}}},
        "spec": {"map": {"fields": {"a": {"scalar": true}, "b": {"scalar": true},
            "inner": {"map": {"fields": {"x": {"scalar": true}, "y": {"scalar": true}}}}}}},
        "labels": {"map": {"elem": {"scalar": true}}}
    }}}))
}

enum Op {
    /// An apply; `conflicts` are the expected conflicts as `manager path` (none: success).
    Apply {
        manager: &'static str,
        object: Value,
        force: bool,
        conflicts: &'static [&'static str],
    },
    /// An update setting the whole object.
    Update {
        manager: &'static str,
        object: Value,
    },
}

fn apply_op(manager: &'static str, object: Value) -> Op {
    Op::Apply {
        manager,
        object,
        force: false,
        conflicts: &[],
    }
}

fn force_op(manager: &'static str, object: Value) -> Op {
    Op::Apply {
        manager,
        object,
        force: true,
        conflicts: &[],
    }
}

fn conflict_op(manager: &'static str, object: Value, conflicts: &'static [&'static str]) -> Op {
    Op::Apply {
        manager,
        object,
        force: false,
        conflicts,
    }
}

fn update_op(manager: &'static str, object: Value) -> Op {
    Op::Update { manager, object }
}

struct Case {
    name: &'static str,
    ops: Vec<Op>,
    /// The object at the end, without managedFields.
    object: Value,
    /// `(manager, operation, fieldsV1)` of every entry at the end, in any order.
    managed: Vec<(&'static str, &'static str, Value)>,
}

fn run(schema: &Schema, ops: &[Op], name: &str) -> Value {
    let mut live = json!({});
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Apply {
                manager,
                object,
                force,
                conflicts,
            } => {
                let who = Applier {
                    manager,
                    api_version: "v1",
                    subresource: None,
                    scope: Scope::All,
                    force: *force,
                    time: "2024-01-01T00:00:00Z",
                };
                match apply(schema, &live, object, &who) {
                    Ok(new) => {
                        assert!(
                            conflicts.is_empty(),
                            "{name}: op {i}: expected conflicts {conflicts:?}, applied"
                        );
                        live = new;
                    }
                    Err(ApplyError::Conflicts(got)) => {
                        let got: Vec<String> = got
                            .iter()
                            .map(|c| format!("{} {}", c.manager, c.path))
                            .collect();
                        assert_eq!(got, *conflicts, "{name}: op {i}: conflicts");
                    }
                    Err(e) => panic!("{name}: op {i}: {e:?}"),
                }
            }
            Op::Update { manager, object } => {
                let old = live.get("metadata").map(|_| &live);
                let mf = managed_fields::record(
                    old,
                    object,
                    &Write {
                        manager,
                        api_version: "v1",
                        time: "2024-01-01T00:00:00Z",
                        subresource: None,
                        schema,
                        status_subresource: false,
                    },
                );
                live = object.clone();
                if let Some(mf) = mf {
                    meta_mut(&mut live).insert("managedFields".into(), mf);
                }
            }
        }
    }
    live
}

fn body_of(live: &Value) -> Value {
    let mut b = live.clone();
    if let Some(m) = b.as_object_mut() {
        m.shift_remove("metadata");
    }
    b
}

fn check(schema: &Schema, case: &Case) {
    let live = run(schema, &case.ops, case.name);
    assert_eq!(body_of(&live), case.object, "{}: object", case.name);
    let mut got: Vec<(String, String, Value)> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or("").to_string(),
                e["operation"].as_str().unwrap_or("").to_string(),
                e["fieldsV1"].clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut want: Vec<(String, String, Value)> = case
        .managed
        .iter()
        .map(|(m, o, f)| (m.to_string(), o.to_string(), f.clone()))
        .collect();
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(got, want, "{}: managedFields", case.name);
}

#[test]
fn ownership_conflicts_force_and_removal() {
    let s = schema();
    let cases = vec![
        Case {
            name: "apply owns exactly its fields",
            ops: vec![apply_op(
                "a",
                json!({"spec": {"a": 1}, "labels": {"x": "1"}}),
            )],
            object: json!({"spec": {"a": 1}, "labels": {"x": "1"}}),
            managed: vec![(
                "a",
                "Apply",
                json!({"f:labels": {"f:x": {}}, "f:spec": {"f:a": {}}}),
            )],
        },
        Case {
            name: "the same value shares ownership",
            ops: vec![
                apply_op("a", json!({"spec": {"a": 1}})),
                apply_op("b", json!({"spec": {"a": 1, "b": 2}})),
            ],
            object: json!({"spec": {"a": 1, "b": 2}}),
            managed: vec![
                ("a", "Apply", json!({"f:spec": {"f:a": {}}})),
                ("b", "Apply", json!({"f:spec": {"f:a": {}, "f:b": {}}})),
            ],
        },
        Case {
            name: "a different value conflicts and changes nothing",
            ops: vec![
                apply_op("a", json!({"spec": {"a": 1}})),
                conflict_op("b", json!({"spec": {"a": 2, "b": 2}}), &[r#""a" .spec.a"#]),
            ],
            object: json!({"spec": {"a": 1}}),
            managed: vec![("a", "Apply", json!({"f:spec": {"f:a": {}}}))],
        },
        Case {
            name: "force takes ownership; the loser's empty entry goes",
            ops: vec![
                apply_op("a", json!({"spec": {"a": 1}})),
                force_op("b", json!({"spec": {"a": 2}})),
            ],
            object: json!({"spec": {"a": 2}}),
            managed: vec![("b", "Apply", json!({"f:spec": {"f:a": {}}}))],
        },
        Case {
            name: "force takes only the conflicting fields",
            ops: vec![
                apply_op("a", json!({"spec": {"a": 1, "b": 1}})),
                force_op("b", json!({"spec": {"a": 2, "b": 1}})),
            ],
            object: json!({"spec": {"a": 2, "b": 1}}),
            managed: vec![
                ("a", "Apply", json!({"f:spec": {"f:b": {}}})),
                ("b", "Apply", json!({"f:spec": {"f:a": {}, "f:b": {}}})),
            ],
        },
        Case {
            name: "a dropped field is removed",
            ops: vec![
                apply_op(
                    "a",
                    json!({"spec": {"a": 1, "b": 2}, "labels": {"x": "1", "y": "2"}}),
                ),
                apply_op("a", json!({"spec": {"a": 1}, "labels": {"x": "1"}})),
            ],
            object: json!({"spec": {"a": 1}, "labels": {"x": "1"}}),
            managed: vec![(
                "a",
                "Apply",
                json!({"f:labels": {"f:x": {}}, "f:spec": {"f:a": {}}}),
            )],
        },
        Case {
            name: "a dropped field another applier owns stays",
            ops: vec![
                apply_op("a", json!({"spec": {"a": 1, "b": 2}})),
                apply_op("b", json!({"spec": {"b": 2}})),
                apply_op("a", json!({"spec": {"a": 1}})),
            ],
            object: json!({"spec": {"a": 1, "b": 2}}),
            managed: vec![
                ("a", "Apply", json!({"f:spec": {"f:a": {}}})),
                ("b", "Apply", json!({"f:spec": {"f:b": {}}})),
            ],
        },
        Case {
            name: "a field an updater took is not removed by the applier",
            ops: vec![
                apply_op("a", json!({"spec": {"a": 1, "b": 2}})),
                update_op("u", json!({"metadata": {}, "spec": {"a": 1, "b": 3}})),
                apply_op("a", json!({"spec": {"a": 1}})),
            ],
            object: json!({"spec": {"a": 1, "b": 3}}),
            managed: vec![
                ("a", "Apply", json!({"f:spec": {"f:a": {}}})),
                ("u", "Update", json!({"f:spec": {"f:b": {}}})),
            ],
        },
        Case {
            name: "nested structs dropped entirely",
            ops: vec![
                apply_op("a", json!({"spec": {"a": 1, "inner": {"x": 1, "y": 2}}})),
                apply_op("a", json!({"spec": {"a": 1}})),
            ],
            object: json!({"spec": {"a": 1}}),
            managed: vec![("a", "Apply", json!({"f:spec": {"f:a": {}}}))],
        },
        Case {
            name: "nested struct shared with another applier keeps its fields",
            ops: vec![
                apply_op("a", json!({"spec": {"inner": {"x": 1, "y": 2}}})),
                apply_op("b", json!({"spec": {"inner": {"y": 2}}})),
                apply_op("a", json!({"spec": {"a": 1}})),
            ],
            object: json!({"spec": {"inner": {"y": 2}, "a": 1}}),
            managed: vec![
                ("a", "Apply", json!({"f:spec": {"f:a": {}}})),
                ("b", "Apply", json!({"f:spec": {"f:inner": {"f:y": {}}}})),
            ],
        },
        Case {
            name: "an update after an apply takes the changed field",
            ops: vec![
                apply_op("a", json!({"spec": {"a": 1, "b": 1}})),
                update_op("u", json!({"metadata": {}, "spec": {"a": 2, "b": 1}})),
                conflict_op(
                    "a",
                    json!({"spec": {"a": 1, "b": 1}}),
                    &[r#""u" using v1 .spec.a"#],
                ),
            ],
            object: json!({"spec": {"a": 2, "b": 1}}),
            managed: vec![
                ("a", "Apply", json!({"f:spec": {"f:b": {}}})),
                ("u", "Update", json!({"f:spec": {"f:a": {}}})),
            ],
        },
        Case {
            name: "an apply over an update: same value shared, then forced",
            ops: vec![
                update_op("u", json!({"metadata": {}, "spec": {"a": 1}})),
                apply_op("a", json!({"spec": {"a": 1}})),
                force_op("a", json!({"spec": {"a": 3}})),
            ],
            object: json!({"spec": {"a": 3}}),
            // The updater created `.spec` and still owns the struct itself.
            managed: vec![
                ("a", "Apply", json!({"f:spec": {"f:a": {}}})),
                ("u", "Update", json!({"f:spec": {}})),
            ],
        },
        Case {
            name: "several conflicts with several managers",
            ops: vec![
                apply_op("b", json!({"spec": {"a": 1}})),
                update_op(
                    "a",
                    json!({"metadata": {}, "spec": {"a": 1, "b": 1}, "labels": {"l": "1"}}),
                ),
                conflict_op(
                    "c",
                    json!({"spec": {"a": 2, "b": 2}, "labels": {"l": "2"}}),
                    &[
                        r#""a" using v1 .labels.l"#,
                        r#""a" using v1 .spec.b"#,
                        r#""b" .spec.a"#,
                    ],
                ),
            ],
            object: json!({"spec": {"a": 1, "b": 1}, "labels": {"l": "1"}}),
            managed: vec![
                (
                    "a",
                    "Update",
                    json!({"f:labels": {".": {}, "f:l": {}}, "f:spec": {"f:b": {}}}),
                ),
                ("b", "Apply", json!({"f:spec": {"f:a": {}}})),
            ],
        },
    ];
    for case in &cases {
        check(&s, case);
    }
}

#[test]
fn lists_sets_and_atomics() {
    let s = schema();
    let cases = vec![
        Case {
            name: "list-map items merge by key; a dropped item goes",
            ops: vec![
                apply_op(
                    "a",
                    json!({"list": [{"name": "x", "value": 1}, {"name": "y"}]}),
                ),
                apply_op("b", json!({"list": [{"name": "z"}]})),
                apply_op("a", json!({"list": [{"name": "x", "value": 1}]})),
            ],
            object: json!({"list": [{"name": "x", "value": 1}, {"name": "z"}]}),
            managed: vec![
                (
                    "a",
                    "Apply",
                    json!({"f:list": {"k:{\"name\":\"x\"}": {".": {}, "f:name": {}, "f:value": {}}}}),
                ),
                (
                    "b",
                    "Apply",
                    json!({"f:list": {"k:{\"name\":\"z\"}": {".": {}, "f:name": {}}}}),
                ),
            ],
        },
        Case {
            name: "the same item from two appliers is shared",
            ops: vec![
                apply_op("a", json!({"list": [{"name": "x", "value": 0}]})),
                apply_op("b", json!({"list": [{"name": "x", "value": 0}]})),
                apply_op("a", json!({"list": []})),
            ],
            object: json!({"list": [{"name": "x", "value": 0}]}),
            managed: vec![(
                "b",
                "Apply",
                json!({"f:list": {"k:{\"name\":\"x\"}": {".": {}, "f:name": {}, "f:value": {}}}}),
            )],
        },
        Case {
            name: "a field inside an item conflicts",
            ops: vec![
                apply_op("a", json!({"list": [{"name": "x", "value": 0}]})),
                conflict_op(
                    "b",
                    json!({"list": [{"name": "x", "value": 1}]}),
                    &[r#""a" .list[name="x"].value"#],
                ),
            ],
            object: json!({"list": [{"name": "x", "value": 0}]}),
            managed: vec![(
                "a",
                "Apply",
                json!({"f:list": {"k:{\"name\":\"x\"}": {".": {}, "f:name": {}, "f:value": {}}}}),
            )],
        },
        Case {
            name: "multi-key items match through key defaults",
            ops: vec![
                apply_op(
                    "a",
                    json!({"list": [{"name": "x", "sub": [{"k": 1, "v": 1}]}]}),
                ),
                conflict_op(
                    "b",
                    json!({"list": [{"name": "x", "sub": [{"k": 1, "proto": "TCP", "v": 2}]}]}),
                    &[r#""a" .list[name="x"].sub[k=1,proto="TCP"].v"#],
                ),
                apply_op(
                    "b",
                    json!({"list": [{"name": "x", "sub": [{"k": 1, "proto": "UDP", "v": 2}]}]}),
                ),
            ],
            object: json!({"list": [{"name": "x", "sub": [{"k": 1, "v": 1}, {"k": 1, "proto": "UDP", "v": 2}]}]}),
            managed: vec![
                (
                    "a",
                    "Apply",
                    json!({"f:list": {"k:{\"name\":\"x\"}": {".": {}, "f:name": {}, "f:sub": {
                        "k:{\"k\":1,\"proto\":\"TCP\"}": {".": {}, "f:k": {}, "f:v": {}}}}}}),
                ),
                (
                    "b",
                    "Apply",
                    json!({"f:list": {"k:{\"name\":\"x\"}": {".": {}, "f:name": {}, "f:sub": {
                        "k:{\"k\":1,\"proto\":\"UDP\"}": {".": {}, "f:k": {}, "f:proto": {}, "f:v": {}}}}}}),
                ),
            ],
        },
        Case {
            name: "sets merge by value and drop only the applier's items",
            ops: vec![
                apply_op("a", json!({"tags": ["x", "y"]})),
                apply_op("b", json!({"tags": ["z", "y"]})),
                apply_op("a", json!({"tags": ["x"]})),
            ],
            object: json!({"tags": ["x", "z", "y"]}),
            managed: vec![
                ("a", "Apply", json!({"f:tags": {"v:\"x\"": {}}})),
                (
                    "b",
                    "Apply",
                    json!({"f:tags": {"v:\"y\"": {}, "v:\"z\"": {}}}),
                ),
            ],
        },
        Case {
            name: "atomic lists are one field: replaced, conflicting, forced",
            ops: vec![
                apply_op("a", json!({"args": ["1", "2"]})),
                conflict_op("b", json!({"args": ["1"]}), &[r#""a" .args"#]),
                force_op("b", json!({"args": ["1"]})),
            ],
            object: json!({"args": ["1"]}),
            managed: vec![("b", "Apply", json!({"f:args": {}}))],
        },
        Case {
            name: "atomic structs are one field",
            ops: vec![
                apply_op("a", json!({"selector": {"k": "v"}})),
                apply_op("b", json!({"selector": {"k": "v"}})),
                conflict_op(
                    "b",
                    json!({"selector": {"k": "v", "l": "w"}}),
                    &[r#""a" .selector"#],
                ),
                apply_op("a", json!({"spec": {"a": 1}})),
            ],
            object: json!({"selector": {"k": "v"}, "spec": {"a": 1}}),
            managed: vec![
                ("a", "Apply", json!({"f:spec": {"f:a": {}}})),
                ("b", "Apply", json!({"f:selector": {}})),
            ],
        },
        Case {
            name: "an updater's item field keeps the item an applier drops",
            ops: vec![
                apply_op("a", json!({"list": [{"name": "x", "value": 1}]})),
                update_op(
                    "u",
                    json!({"metadata": {}, "list": [{"name": "x", "value": 1, "sub": [{"k": 1}]}]}),
                ),
                apply_op("a", json!({"list": [{"name": "w"}]})),
            ],
            object: json!({"list": [{"name": "x", "sub": [{"k": 1}]}, {"name": "w"}]}),
            managed: vec![
                (
                    "a",
                    "Apply",
                    json!({"f:list": {"k:{\"name\":\"w\"}": {".": {}, "f:name": {}}}}),
                ),
                (
                    "u",
                    "Update",
                    json!({"f:list": {"k:{\"name\":\"x\"}": {"f:sub": {".": {},
                        "k:{\"k\":1,\"proto\":\"TCP\"}": {".": {}, "f:k": {}}}}}}),
                ),
            ],
        },
    ];
    for case in &cases {
        check(&s, case);
    }
}

#[test]
fn shape_errors_are_bad_requests() {
    let s = schema();
    let who = Applier {
        manager: "a",
        api_version: "v1",
        subresource: None,
        scope: Scope::All,
        force: false,
        time: "t",
    };
    let err = apply(&s, &json!({}), &json!({"list": [{"value": 1}]}), &who).expect_err("keys");
    let e = apply_error(err);
    assert_eq!(e.code, 400);
    assert!(
        e.message.contains(
            ".list: element 0: associative list with keys has an element that omits all key fields"
        ),
        "{}",
        e.message
    );
    let err = apply(
        &s,
        &json!({}),
        &json!({"list": [{"name": "a"}, {"name": "a"}]}),
        &who,
    )
    .expect_err("duplicates");
    assert_eq!(apply_error(err).code, 400);
}

#[test]
fn conflict_errors_read_like_upstream() {
    let cm = Schema::builtin::<ConfigMap>();
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
        "data": {"key": "one"}});
    let mf = managed_fields::record(
        None,
        &live,
        &Write {
            manager: "kubectl-client-side-apply",
            api_version: "v1",
            time: "2024-01-01T00:00:00Z",
            subresource: None,
            schema: &cm,
            status_subresource: false,
        },
    );
    let mut live = live;
    live["metadata"]["managedFields"] = mf.expect("entries");
    let who = Applier {
        manager: "kubectl",
        api_version: "v1",
        subresource: None,
        scope: Scope::All,
        force: false,
        time: "2024-01-01T00:00:01Z",
    };
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"key": "two"}});
    let Err(ApplyError::Conflicts(c)) = apply(&cm, &live, &config, &who) else {
        panic!("expected a conflict")
    };
    let e = conflict_error(&c);
    assert_eq!((e.code, e.reason), (409, "Conflict"));
    assert_eq!(
        e.message,
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.key"#
    );
    assert_eq!(
        e.causes,
        vec![FieldCause {
            reason: "FieldManagerConflict",
            field: ".data.key".into(),
            message: r#"conflict with "kubectl-client-side-apply" using v1"#.into(),
        }]
    );
    let status = e.to_status();
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldManagerConflict"
    );
    assert!(status["details"].get("name").is_none());

    let two = conflict_error(&[
        Conflict {
            manager: r#""a""#.into(),
            path: Path::fields(&["spec", "x"]),
        },
        Conflict {
            manager: r#""a""#.into(),
            path: Path::fields(&["spec", "y"]),
        },
        Conflict {
            manager: r#""b" using v1"#.into(),
            path: Path::fields(&["data"]),
        },
    ]);
    assert_eq!(
        two.message,
        "Apply failed with 3 conflicts: conflicts with \"a\":\n- .spec.x\n- .spec.y\nconflicts with \"b\" using v1:\n- .data"
    );

    // Forced: ownership moves, the old owner's entry goes, the value changes.
    let forced = apply(&cm, &live, &config, &Applier { force: true, ..who }).expect("forced");
    assert_eq!(forced["data"]["key"], "two");
    let mf = forced["metadata"]["managedFields"].as_array().expect("mf");
    assert_eq!(mf.len(), 2);
    assert_eq!(mf[0]["manager"], "kubectl");
    assert_eq!(mf[0]["operation"], "Apply");
    assert_eq!(mf[0]["fieldsV1"], json!({"f:data": {"f:key": {}}}));
    assert!(mf[0].get("subresource").is_none());
    assert_eq!(mf[1]["manager"], "kubectl-client-side-apply");
    assert_eq!(mf[1]["fieldsV1"], json!({"f:data": {}}));
}

#[test]
fn deployments_merge_containers_by_name_and_status_by_scope() {
    let d = Schema::builtin::<Deployment>();
    let base = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                    {"name": "app", "image": image, "ports": [{"containerPort": 80}]}]}}}})
    };
    let who = |m: &'static str| Applier {
        manager: m,
        api_version: "apps/v1",
        subresource: None,
        scope: Scope::NoStatus,
        force: false,
        time: "2024-01-01T00:00:00Z",
    };
    let live = apply(&d, &json!({}), &base("nginx:1"), &who("owner")).expect("create");
    let fields = &live["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(fields["f:spec"]["f:selector"], json!({}));
    assert_eq!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}, "f:ports": {
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}})
    );
    assert_eq!(
        fields["f:metadata"],
        json!({"f:labels": {"f:app": {}}}),
        "name is not owned"
    );
    // A sidecar injector adds a container and an env var to the app container.
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "INJECTED", "value": "1"}]},
            {"name": "proxy", "image": "envoy"}]}}}});
    let live = apply(&d, &live, &sidecar, &who("injector")).expect("sidecar");
    let containers = &live["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().map(Vec::len), Some(2));
    assert_eq!(containers[0]["image"], "nginx:1");
    assert_eq!(containers[0]["env"][0]["name"], "INJECTED");
    assert_eq!(containers[1]["name"], "proxy");
    // The owner changes its image: no conflict, the injected parts stay.
    let live = apply(&d, &live, &base("nginx:2"), &who("owner")).expect("image");
    let containers = &live["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(containers[0]["env"][0]["value"], "1");
    assert_eq!(containers[1]["image"], "envoy");
    // Changing the image the owner set conflicts for the injector.
    let steal = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "evil"}]}}}});
    let Err(ApplyError::Conflicts(c)) = apply(&d, &live, &steal, &who("injector")) else {
        panic!("expected a conflict")
    };
    assert_eq!(
        c.iter()
            .map(|c| format!("{} {}", c.manager, c.path))
            .collect::<Vec<_>>(),
        vec![r#""owner" .spec.template.spec.containers[name="app"].image"#]
    );
    // Status in a main-endpoint apply is ignored; through /status two controllers share
    // conditions by type.
    let mut with_status = base("nginx:2");
    with_status["status"] = json!({"replicas": 5});
    let live = apply(&d, &live, &with_status, &who("owner")).expect("no status");
    assert!(live.get("status").is_none());
    let status_who = |m: &'static str| Applier {
        subresource: Some("status"),
        scope: Scope::StatusOnly,
        ..who(m)
    };
    let s1 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 9},
        "status": {"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]}});
    let live = apply(&d, &live, &s1, &status_who("c1")).expect("c1");
    assert_eq!(
        live["spec"]["replicas"], 1,
        "spec untouched through /status"
    );
    let s2 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "status": {"conditions": [{"type": "Progressing", "status": "True"}]}});
    let live = apply(&d, &live, &s2, &status_who("c2")).expect("c2");
    assert_eq!(
        live["status"]["conditions"],
        json!([{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}])
    );
    let c1 = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["manager"] == "c1")
        .expect("c1 entry");
    assert_eq!(c1["subresource"], "status");
    assert_eq!(
        c1["fieldsV1"],
        json!({"f:status": {"f:conditions": {"k:{\"type\":\"Available\"}": {".": {}, "f:status": {}, "f:type": {}}}, "f:replicas": {}}})
    );
    let s3 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "status": {"replicas": 2}});
    let Err(ApplyError::Conflicts(c)) = apply(&d, &live, &s3, &status_who("c2")) else {
        panic!("expected a conflict")
    };
    assert_eq!(
        format!("{} {}", c[0].manager, c[0].path),
        r#""c1" with subresource "status" .status.replicas"#
    );
    // c1 stops reporting Available: its condition goes, c2's stays.
    let s1b = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "status": {"replicas": 1}});
    let live = apply(&d, &live, &s1b, &status_who("c1")).expect("c1 again");
    assert_eq!(
        live["status"]["conditions"],
        json!([{"type": "Progressing", "status": "True"}])
    );
}

#[test]
fn undeclared_fields_and_system_metadata_are_not_owned() {
    let cm = Schema::builtin::<ConfigMap>();
    let who = Applier {
        manager: "m",
        api_version: "v1",
        subresource: None,
        scope: Scope::All,
        force: false,
        time: "t",
    };
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "d", "finalizers": ["x"], "resourceVersion": "5"},
        "data": {"k": "v"}, "bogus": {"a": 1}});
    let out = apply(&cm, &json!({}), &config, &who).expect("apply");
    assert_eq!(
        out["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {"f:k": {}}, "f:metadata": {"f:finalizers": {"v:\"x\"": {}}}})
    );
}

#[test]
fn last_applied_is_written_as_go_encodes_it() {
    assert_eq!(
        super::go_json(&json!({"z": 1, "a": {"y": "<a&b>", "b": [true, null]}, "m": "\u{2028}"})),
        "{\"a\":{\"b\":[true,null],\"y\":\"\\u003ca\\u0026b\\u003e\"},\"m\":\"\\u2028\",\"z\":1}\n"
    );
    // Only kubectl's applies rewrite it, and only where there is one.
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "annotations": {(LAST_APPLIED): "old", "x": "y"}}});
    let mut applied = json!({"metadata": {"annotations": {(LAST_APPLIED): "old"}}});
    super::update_last_applied("someone", &mut applied, &config);
    assert_eq!(
        applied["metadata"]["annotations"][super::LAST_APPLIED],
        "old"
    );
    super::update_last_applied("kubectl", &mut applied, &config);
    assert_eq!(
        applied["metadata"]["annotations"][super::LAST_APPLIED],
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{\"x\":\"y\"},\"name\":\"a\"}}\n"
    );
    let mut without = json!({"metadata": {"name": "a"}});
    super::update_last_applied("kubectl", &mut without, &config);
    assert_eq!(without, json!({"metadata": {"name": "a"}}));
}
