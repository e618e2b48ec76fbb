//! Table tests of strategic merge patch. The first table uses a test type shaped like the one
//! apimachinery's `strategicpatch` tests use (`mergingList` merged by `name`, `mergingIntList`
//! merged as a set, non-merging lists, a `retainKeysMap`), with cases written after reading
//! those tests; the second checks built-in types kubectl patches.

use super::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use serde_json::json;

/// The test type, nested `depth` levels deep through its lists.
fn item(depth: u32) -> Value {
    let inner = if depth == 0 {
        json!({"deduced": true})
    } else {
        item(depth - 1)
    };
    let scalar = json!({"scalar": true});
    json!({"map": {"fields": {
        "name": scalar, "value": scalar, "other": scalar,
        "simpleMap": {"map": {"elem": scalar}},
        "mergingList": {"list": {"type": "map", "keys": ["name"], "elem": inner}},
        "nonMergingList": {"list": {"elem": inner}},
        "mergingIntList": {"list": {"type": "set", "elem": scalar}},
        "nonMergingIntList": {"list": {"elem": scalar}},
        "mergeItemPtr": {"list": {"type": "map", "keys": ["name"], "elem": inner}},
        "retainKeysMap": {"map": {"fields": {
            "name": scalar, "value": scalar, "other": scalar,
            "simpleMap": {"map": {"elem": scalar}},
            "mergingList": {"list": {"type": "map", "keys": ["name"], "elem": inner}},
            "nonMergingList": {"list": {"elem": inner}},
            "mergingIntList": {"list": {"type": "set", "elem": scalar}}
        }}},
        "retainKeysMergingList": {"list": {"type": "map", "keys": ["name"], "elem": {"map": {"fields": {
            "name": scalar, "value": scalar, "other": scalar
        }}}}}
    }}})
}

fn yaml(s: &str) -> Value {
    let v: Value = serde_norway::from_str(s).expect("test YAML");
    if v.is_null() { json!({}) } else { v }
}

/// (description, current object, patch, result or the start of the error message)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Result<&'static str, &'static str>,
);

const CASES: &[Case] = &[
    (
        "add a field to a map in a merging list",
        "mergingList: [{name: '1', value: '1'}, {name: '2', value: '2'}]",
        "mergingList: [{name: '1', other: a}]",
        Ok("mergingList: [{name: '1', value: '1', other: a}, {name: '2', value: '2'}]"),
    ),
    (
        "a new item of a merging list comes before the server's items",
        "mergingList: [{name: '1'}, {name: '2'}]",
        "mergingList: [{name: '3', value: '3'}]",
        Ok("mergingList: [{name: '3', value: '3'}, {name: '1'}, {name: '2'}]"),
    ),
    (
        "patch items take the patch's order",
        "mergingList: [{name: a, value: '1'}, {name: b}, {name: c}]",
        "mergingList: [{name: c, value: '3'}, {name: a, value: '2'}]",
        Ok("mergingList: [{name: b}, {name: c, value: '3'}, {name: a, value: '2'}]"),
    ),
    (
        "add an item and preserve order with $setElementOrder",
        "mergingList: [{name: '1', other: a}, {name: '2', value: '2', other: b}]",
        "{$setElementOrder/mergingList: [{name: '3'}, {name: '1'}, {name: '2'}], mergingList: [{name: '3', value: '3'}]}",
        Ok(
            "mergingList: [{name: '3', value: '3'}, {name: '1', other: a}, {name: '2', value: '2', other: b}]",
        ),
    ),
    (
        "$setElementOrder reorders and keeps server-only items after",
        "mergingList: [{name: '1', other: a}, {name: '3', value: '3'}, {name: '4', value: '4'}, {name: '2', value: '2'}, {name: '9'}]",
        "$setElementOrder/mergingList: [{name: '4'}, {name: '2'}, {name: '3'}, {name: '1'}]",
        Ok(
            "mergingList: [{name: '4', value: '4'}, {name: '2', value: '2'}, {name: '3', value: '3'}, {name: '1', other: a}, {name: '9'}]",
        ),
    ),
    (
        "$setElementOrder naming an item absent from the list",
        "mergingList: [{name: '1'}, {name: '3'}]",
        "{$setElementOrder/mergingList: [{name: '3'}, {name: '2'}, {name: '1'}], mergingList: [{name: '3', value: '3'}, {name: '1', value: '1'}]}",
        Ok("mergingList: [{name: '3', value: '3'}, {name: '1', value: '1'}]"),
    ),
    (
        "$setElementOrder on an int list",
        "mergingIntList: [1, 3]",
        "$setElementOrder/mergingIntList: [3, 2, 1]",
        Ok("mergingIntList: [3, 1]"),
    ),
    (
        "$setElementOrder must agree with the patch list",
        "mergingList: [{name: '1'}, {name: '3'}, {name: '2'}]",
        "{$setElementOrder/mergingList: [{name: '1'}, {name: '2'}, {name: '3'}], mergingList: [{name: '3', value: '3'}, {name: '1', value: '1'}]}",
        Err("The order in patch list"),
    ),
    (
        "$setElementOrder must agree with the patch int list",
        "mergingIntList: [1, 3, 2]",
        "{$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3, 1]}",
        Err("The order in patch list"),
    ),
    (
        "delete and reorder in one list, reorder in another",
        "{mergingList: [{name: a, value: a}, {name: b, value: b}], mergeItemPtr: [{name: c, value: c}, {name: d, value: d}]}",
        "{$setElementOrder/mergingList: [{name: b}], $setElementOrder/mergeItemPtr: [{name: d}, {name: c}], mergingList: [{$patch: delete, name: a}]}",
        Ok(
            "{mergingList: [{name: b, value: b}], mergeItemPtr: [{name: d, value: d}, {name: c, value: c}]}",
        ),
    ),
    (
        "a patch item without its merge key",
        "mergingList: [{name: '1', value: a}]",
        "mergingList: [{value: b}]",
        Err("map: {\"value\":\"b\"} does not contain declared merge key: name"),
    ),
    (
        "merge lists of scalars as sets",
        "mergingIntList: [1, 2, 4]",
        "{$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3]}",
        Ok("mergingIntList: [1, 2, 3, 4]"),
    ),
    (
        "a merged scalar already present is not duplicated",
        "mergingIntList: [1, 2]",
        "mergingIntList: [2, 3]",
        Ok("mergingIntList: [1, 2, 3]"),
    ),
    (
        "non-merging scalar lists are replaced",
        "nonMergingIntList: [1, 2]",
        "nonMergingIntList: [3]",
        Ok("nonMergingIntList: [3]"),
    ),
    (
        "$deleteFromPrimitiveList deletes from a merging list",
        "mergingIntList: [1, 2, 3]",
        "$deleteFromPrimitiveList/mergingIntList: [2]",
        Ok("mergingIntList: [1, 3]"),
    ),
    (
        "$deleteFromPrimitiveList deletes from a non-merging list",
        "nonMergingIntList: [1, 2, 3]",
        "$deleteFromPrimitiveList/nonMergingIntList: [2]",
        Ok("nonMergingIntList: [1, 3]"),
    ),
    (
        "$deleteFromPrimitiveList of an absent item adds nothing",
        "mergingIntList: [1, 2]",
        "$deleteFromPrimitiveList/mergingIntList: [3]",
        Ok("mergingIntList: [1, 2]"),
    ),
    (
        "$deleteFromPrimitiveList on an absent list adds no list",
        "foo: [bar]",
        "$deleteFromPrimitiveList/mergingIntList: [3]",
        Ok("foo: [bar]"),
    ),
    (
        "delete items of a scalar list with $setElementOrder",
        "mergingIntList: [1, 2, 3, 4]",
        "{$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}",
        Ok("mergingIntList: [1, 2, 4]"),
    ),
    (
        "deleting a duplicated scalar deletes every copy",
        "mergingIntList: [1, 2, 3, 3, 4]",
        "{$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}",
        Ok("mergingIntList: [1, 2, 4]"),
    ),
    (
        "add and delete scalars in one patch",
        "mergingIntList: [1, 2, 3]",
        "{$setElementOrder/mergingIntList: [1, 2, 4], $deleteFromPrimitiveList/mergingIntList: [3], mergingIntList: [4]}",
        Ok("mergingIntList: [1, 2, 4]"),
    ),
    (
        "$patch: delete removes an item by key",
        "mergingList: [{name: '1'}, {name: '2', value: '2'}]",
        "mergingList: [{name: '1', $patch: delete}]",
        Ok("mergingList: [{name: '2', value: '2'}]"),
    ),
    (
        "$patch: delete of a missing item changes nothing",
        "mergingList: [{name: '1'}]",
        "mergingList: [{name: '3', $patch: delete}]",
        Ok("mergingList: [{name: '1'}]"),
    ),
    (
        "$patch: delete needs the merge key",
        "mergingList: [{name: '1'}]",
        "mergingList: [{$patch: delete, value: x}]",
        Err(
            "map: {\"$patch\":\"delete\",\"value\":\"x\"} does not contain declared merge key: name",
        ),
    ),
    (
        "a $patch: replace item replaces the whole list",
        "mergingList: [{name: '1'}, {name: '2'}]",
        "mergingList: [{name: '3', value: '3'}, {$patch: replace}]",
        Ok("mergingList: [{name: '3', value: '3'}]"),
    ),
    (
        "$patch: merge in a list is not supported",
        "mergingList: [{name: '1'}]",
        "mergingList: [{$patch: merge}]",
        Err("merging lists cannot yet be specified in the patch"),
    ),
    (
        "an unknown $patch directive",
        "simpleMap: {a: '1'}",
        "simpleMap: {$patch: shuffle}",
        Err("unknown patch type"),
    ),
    (
        "$patch: replace on a map replaces it",
        "simpleMap: {a: '1', b: '2'}",
        "simpleMap: {c: '3', $patch: replace}",
        Ok("simpleMap: {c: '3'}"),
    ),
    (
        "$patch: delete on a map empties it",
        "{simpleMap: {a: '1'}, value: v}",
        "simpleMap: {$patch: delete}",
        Ok("{simpleMap: {}, value: v}"),
    ),
    (
        "null deletes a field; a null for an absent field adds nothing",
        "{value: '1', other: '2'}",
        "{value: null, name: null, simpleMap: {a: null, b: x}}",
        Ok("{other: '2', simpleMap: {b: x}}"),
    ),
    (
        "a value of another type replaces the field",
        "value: {a: 1}",
        "value: x",
        Ok("value: x"),
    ),
    (
        "a new list drops directive items",
        "{}",
        "mergingList: [{name: a}, {name: b, $patch: delete}]",
        Ok("mergingList: [{name: a}]"),
    ),
    (
        "replace a non-merging list nested in a merging list",
        "mergingList: [{name: '1', nonMergingList: [{name: '1'}, {name: '2'}]}, {name: '2'}]",
        "mergingList: [{name: '1', nonMergingList: [{name: '3'}]}]",
        Ok("mergingList: [{name: '1', nonMergingList: [{name: '3'}]}, {name: '2'}]"),
    ),
    (
        "merge a merging list nested in a merging list",
        "mergingList: [{name: '1', mergingList: [{name: '1', value: '1'}, {name: '2'}]}]",
        "mergingList: [{name: '1', mergingList: [{name: '1', value: '2'}, {name: '3', $patch: delete}]}]",
        Ok("mergingList: [{name: '1', mergingList: [{name: '1', value: '2'}, {name: '2'}]}]"),
    ),
    (
        "$retainKeys clears the fields it does not list",
        "retainKeysMap: {value: foo}",
        "retainKeysMap: {$retainKeys: [other], other: bar}",
        Ok("retainKeysMap: {other: bar}"),
    ),
    (
        "$retainKeys switches a discriminated union",
        "retainKeysMap: {name: type1, value: foo}",
        "retainKeysMap: {$retainKeys: [name, other], name: type2, other: bar}",
        Ok("retainKeysMap: {name: type2, other: bar}"),
    ),
    (
        "$retainKeys must list every field the patch sets",
        "retainKeysMap: {name: foo}",
        "retainKeysMap: {$retainKeys: [name], value: x}",
        Err("invalid patch format of retainKeys"),
    ),
    (
        "$retainKeys must be a list",
        "retainKeysMap: {name: foo}",
        "retainKeysMap: {$retainKeys: name}",
        Err("invalid patch format of retainKeys"),
    ),
    (
        "$retainKeys keeps a merging list and merges into it",
        "retainKeysMap: {name: foo, value: v, mergingList: [{name: a}]}",
        "retainKeysMap: {$retainKeys: [mergingList, name], mergingList: [{name: b}]}",
        Ok("retainKeysMap: {name: foo, mergingList: [{name: b}, {name: a}]}"),
    ),
    (
        "$retainKeys keeps a merging int list and deletes from it",
        "retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}",
        "retainKeysMap: {$retainKeys: [mergingIntList, name], $deleteFromPrimitiveList/mergingIntList: [2]}",
        Ok("retainKeysMap: {name: foo, mergingIntList: [1, 3]}"),
    ),
    (
        "$retainKeys in list items",
        "retainKeysMergingList: [{name: a, value: v, other: o}, {name: b, value: w}]",
        "retainKeysMergingList: [{name: a, $retainKeys: [name, other], other: o2}]",
        Ok("retainKeysMergingList: [{name: a, other: o2}, {name: b, value: w}]"),
    ),
    (
        "lists of lists are not merged",
        "mergingIntList: [[1]]",
        "mergingIntList: [[2]]",
        Err("lists of lists are not supported"),
    ),
    (
        "a $deleteFromPrimitiveList without a list name",
        "{}",
        "$deleteFromPrimitiveList/: [1]",
        Err("invalid patch format of primitive list"),
    ),
];

#[test]
fn strategic_merge_table() {
    let schema = Schema::from_description(&item(3));
    for (description, current, patch, want) in CASES {
        let mut doc = yaml(current);
        let result = strategic_merge(&schema, &mut doc, &yaml(patch));
        match (result, want) {
            (Ok(()), Ok(want)) => assert_eq!(doc, yaml(want), "{description}"),
            (Err(e), Err(prefix)) => assert!(
                e.message.starts_with(prefix),
                "{description}: {e:?} does not start with {prefix:?}"
            ),
            (Ok(()), Err(prefix)) => panic!("{description}: expected {prefix:?}, got {doc}"),
            (Err(e), Ok(_)) => panic!("{description}: {e:?}"),
        }
    }
}

#[test]
fn built_in_types_merge_by_their_upstream_keys() {
    let pod = Schema::builtin::<Pod>();
    let mut doc = json!({
        "metadata": {"finalizers": ["f1", "f2"], "labels": {"keep": "1", "drop": "2"}},
        "spec": {
            "containers": [
                {"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "args": ["1", "2"]},
                {"name": "b", "image": "y"}
            ],
            "tolerations": [{"key": "k1"}, {"key": "k2"}],
            "volumes": [{"name": "v", "emptyDir": {}}]
        }
    });
    let patch = json!({
        "metadata": {"finalizers": ["f3"], "$deleteFromPrimitiveList/finalizers": ["f1"], "labels": {"drop": null}},
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "c"}],
            "containers": [
                {"name": "a", "ports": [{"containerPort": 80, "name": "http"}],
                 "env": [{"name": "A", "$patch": "delete"}, {"name": "C", "value": "3"}], "args": ["3"]},
                {"name": "b", "$patch": "delete"},
                {"name": "c", "image": "z"}
            ],
            "tolerations": [{"key": "k3"}],
            "volumes": [{"name": "v", "configMap": {"name": "cm"}, "$retainKeys": ["configMap", "name"]}]
        }
    });
    strategic_merge(&pod, &mut doc, &patch).expect("patch");
    assert_eq!(doc["metadata"]["finalizers"], json!(["f3", "f2"]));
    assert_eq!(doc["metadata"]["labels"], json!({"keep": "1"}));
    assert_eq!(
        doc["spec"]["containers"],
        json!([
            {"name": "a", "image": "x",
             "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
             "env": [{"name": "C", "value": "3"}, {"name": "B", "value": "2"}], "args": ["3"]},
            {"name": "c", "image": "z"}
        ])
    );
    assert_eq!(doc["spec"]["tolerations"], json!([{"key": "k3"}]));
    assert_eq!(
        doc["spec"]["volumes"],
        json!([{"name": "v", "configMap": {"name": "cm"}}])
    );

    let svc = Schema::builtin::<Service>();
    let mut doc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}], "selector": {"a": "1"}}});
    strategic_merge(
        &svc,
        &mut doc,
        &json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}], "selector": {"b": "2"}}}),
    )
    .expect("patch");
    assert_eq!(
        doc["spec"],
        json!({"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}], "selector": {"a": "1", "b": "2"}})
    );

    let deploy = Schema::builtin::<Deployment>();
    let mut doc = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "replicas": 1}});
    strategic_merge(
        &deploy,
        &mut doc,
        &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}, "replicas": 3}}),
    )
    .expect("patch");
    assert_eq!(
        doc,
        json!({"spec": {"strategy": {"type": "Recreate"}, "replicas": 3}})
    );
    strategic_merge(
        &deploy,
        &mut doc,
        &json!({"spec": {"strategy": {"$patch": "replace", "type": "RollingUpdate"}}}),
    )
    .expect("patch");
    assert_eq!(doc["spec"]["strategy"], json!({"type": "RollingUpdate"}));
    // kubectl scale and set image patches.
    let mut doc = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:1"}, {"name": "side", "image": "b:1"}]}}}});
    strategic_merge(
        &deploy,
        &mut doc,
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}),
    )
    .expect("patch");
    assert_eq!(
        doc["spec"]["template"]["spec"]["containers"],
        json!([{"name": "app", "image": "nginx:2"}, {"name": "side", "image": "b:1"}])
    );
}

#[test]
fn new_list_items_come_before_server_only_items() {
    let pod = Schema::builtin::<Pod>();
    let mut doc = json!({"spec": {"containers": [{"name": "nginx"}, {"name": "log"}]}});
    strategic_merge(
        &pod,
        &mut doc,
        &json!({"spec": {"containers": [{"name": "sidecar"}]}}),
    )
    .expect("patch");
    assert_eq!(
        doc["spec"]["containers"],
        json!([{"name": "sidecar"}, {"name": "nginx"}, {"name": "log"}])
    );
    let mut doc = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}, {"name": "c"}],
        "containers": [{"name": "c"}]}});
    strategic_merge(&pod, &mut doc, &patch).expect("patch");
    assert_eq!(
        doc["spec"]["containers"],
        json!([{"name": "b"}, {"name": "a"}, {"name": "c"}])
    );
}
