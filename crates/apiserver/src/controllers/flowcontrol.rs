//! API Priority and Fairness configuration, as kube-apiserver keeps it:
//!
//! * the config producer (upstream's `pkg/registry/flowcontrol/ensurer`, run by every
//!   kube-apiserver): the bootstrap PriorityLevelConfigurations and FlowSchemas
//!   (`registry/flowcontrol/bootstrap.rs`) are created when missing (a deleted one comes back);
//!   a mandatory one is always put back to its bootstrap spec and annotated
//!   `apf.kubernetes.io/autoupdate-spec: "true"`; a suggested one is put back only while that
//!   annotation says true (without a readable annotation: while its generation is 1, i.e. nobody
//!   changed it), and the annotation is set to what was decided; an object that carries the
//!   annotation as true but is no longer part of the bootstrap configuration is deleted.
//! * the config consumer's status (upstream's `apf_controller.go`): each FlowSchema's `Dangling`
//!   condition, True (`NotFound`) when the priority level it names does not exist, False
//!   (`Found`) otherwise, written by server-side apply of the status as
//!   `api-priority-and-fairness-config-consumer-v1` when it differs. The mandatory levels
//!   count as existing even while deleted, as upstream imagines them.
//!
//! Upstream's producer runs once a minute; this one also runs on every change of either kind, so
//! a deleted or edited object is restored at once.

use super::changes::Changes;
use crate::registry::flowcontrol::bootstrap::{
    AUTO_UPDATE_ANNOTATION, CATCH_ALL, EXEMPT, mandatory_levels, mandatory_schemas, semantic,
    suggested_levels, suggested_schemas,
};
use crate::resource::ResourceType;
use crate::rest::{DeleteOptions, ListOptions, PatchType, Rest, WriteOptions};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The field manager of the producer's writes (upstream's).
pub(crate) const PRODUCER: &str = "api-priority-and-fairness-config-producer-v1";
/// The field manager of the consumer's status writes (upstream's).
pub(crate) const CONSUMER: &str = "api-priority-and-fairness-config-consumer-v1";

/// How often the configuration is checked without a change (upstream's producer period).
const PERIOD: Duration = Duration::from_secs(60);

/// The two served types.
struct Types {
    schemas: Arc<ResourceType>,
    levels: Arc<ResourceType>,
}

fn types(rest: &Rest) -> Option<Types> {
    let resources = rest.catalog.snapshot();
    Some(Types {
        schemas: resources.find("flowcontrol.apiserver.k8s.io", "v1", "flowschemas")?,
        levels: resources.find(
            "flowcontrol.apiserver.k8s.io",
            "v1",
            "prioritylevelconfigurations",
        )?,
    })
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let Some(t) = types(&rest) else {
        return;
    };
    let mut schemas = Changes::new(&rest, Some(t.schemas.storage_key.clone()));
    let mut levels = Changes::new(&rest, Some(t.levels.storage_key.clone()));
    loop {
        tokio::select! {
            change = schemas.next() => if change.is_none() { return },
            change = levels.next() => if change.is_none() { return },
            () = tokio::time::sleep(PERIOD) => {}
        }
        sync_with(&rest, &t).await;
    }
}

/// Ensures the bootstrap configuration and the FlowSchemas' status once (the server's start does
/// this, so that a started server has them, as kube-apiserver's post-start hook does).
pub(crate) async fn sync(rest: &Rest) {
    if let Some(t) = types(rest) {
        sync_with(rest, &t).await;
    }
}

async fn sync_with(rest: &Rest, t: &Types) {
    // Upstream's order: the suggested objects, then the mandatory ones, then the leftovers.
    let groups = [
        (&t.levels, suggested_levels(), false),
        (&t.schemas, suggested_schemas(), false),
        (&t.levels, mandatory_levels(), true),
        (&t.schemas, mandatory_schemas(), true),
    ];
    for (rt, boots, mandatory) in groups {
        let current = by_name(rest, rt).await;
        let writes = boots
            .into_iter()
            .map(|boot| ensure_one(rest, rt, current.get(name_of(&boot)), boot, mandatory));
        futures::future::join_all(writes).await;
    }
    remove_unwanted(
        rest,
        &t.levels,
        &[mandatory_levels(), suggested_levels()].concat(),
    )
    .await;
    remove_unwanted(
        rest,
        &t.schemas,
        &[mandatory_schemas(), suggested_schemas()].concat(),
    )
    .await;
    maintain_dangling(rest, t).await;
}

fn name_of(v: &Value) -> &str {
    super::str_at(v, "/metadata/name")
}

/// Every object of `rt` by name.
async fn by_name(rest: &Rest, rt: &ResourceType) -> BTreeMap<String, Value> {
    let Ok(list) = rest.list(rt, None, &ListOptions::default()).await else {
        return BTreeMap::new();
    };
    list.items
        .iter()
        .map(|o| {
            let v = o.value();
            (name_of(&v).to_string(), v)
        })
        .collect()
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The object's auto-update annotation, parsed.
fn auto_update(obj: &Value) -> Option<bool> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(AUTO_UPDATE_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(parse_bool)
}

/// Upstream's `shouldUpdateSpec`: the annotation decides; without a readable one, an object
/// nobody changed (generation 1) is kept up to date.
fn should_update_spec(obj: &Value) -> bool {
    auto_update(obj)
        .unwrap_or_else(|| obj.pointer("/metadata/generation").and_then(Value::as_i64) == Some(1))
}

/// Whether `current`'s spec is the bootstrap one (upstream's `*SpecEqualish`: the exempt
/// level's `exempt` field is the operator's to tune).
fn spec_equalish(boot: &Value, current: &Value) -> bool {
    let mut expected = boot["spec"].clone();
    let actual = current.get("spec").unwrap_or(&Value::Null);
    if current["kind"] == "PriorityLevelConfiguration" && name_of(boot) == EXEMPT {
        let Some(exempt) = actual.get("exempt").filter(|e| e.is_object()) else {
            return false;
        };
        for field in ["nominalConcurrencyShares", "lendablePercent"] {
            expected["exempt"][field] = exempt.get(field).cloned().unwrap_or(Value::Null);
        }
    }
    semantic(&expected) == semantic(actual)
}

/// Upstream's `EnsureConfiguration` for one bootstrap object.
async fn ensure_one(
    rest: &Rest,
    rt: &ResourceType,
    current: Option<&Value>,
    boot: Value,
    mandatory: bool,
) {
    let name = name_of(&boot).to_string();
    let opts = super::write_options(PRODUCER);
    let Some(current) = current else {
        // A missing configuration object is always (re)created.
        if let Err(e) = rest.create(rt, None, boot, &opts).await
            && e.code != 409
        {
            tracing::warn!(name, error = %e, "creating an APF bootstrap object");
        }
        return;
    };
    let auto = mandatory || should_update_spec(current);
    let update_annotation = auto_update(current) != Some(auto);
    let spec_changed = auto && !spec_equalish(&boot, current);
    if !update_annotation && !spec_changed {
        return;
    }
    let mut revised = current.clone();
    if update_annotation {
        let meta = &mut revised["metadata"];
        if !meta.get("annotations").is_some_and(Value::is_object) {
            meta["annotations"] = json!({});
        }
        meta["annotations"][AUTO_UPDATE_ANNOTATION] = json!(auto.to_string());
    }
    if spec_changed {
        revised["spec"] = boot["spec"].clone();
    }
    // Conditional on the version read: a concurrent change brings another pass.
    if let Err(e) = rest.update(rt, None, &name, revised, &opts, None).await {
        tracing::debug!(name, error = %e, "updating an APF bootstrap object");
    }
}

/// Upstream's `RemoveUnwantedObjects`: what says it is auto-updated but is no longer part of the
/// bootstrap configuration goes.
async fn remove_unwanted(rest: &Rest, rt: &ResourceType, boots: &[Value]) {
    let wanted: BTreeSet<&str> = boots.iter().map(name_of).collect();
    for (name, obj) in by_name(rest, rt).await {
        if wanted.contains(name.as_str()) || auto_update(&obj) != Some(true) {
            continue;
        }
        if let Err(e) = rest
            .delete(rt, None, &name, &DeleteOptions::default())
            .await
            && e.code != 404
        {
            tracing::debug!(name, error = %e, "deleting an unwanted APF object");
        }
    }
}

/// The `Dangling` condition `schema` should have, given the levels that exist.
fn desired_condition(
    schema: &Value,
    levels: &BTreeSet<String>,
) -> (&'static str, &'static str, String) {
    let level = super::str_at(schema, "/spec/priorityLevelConfiguration/name");
    if levels.contains(level) {
        (
            "False",
            "Found",
            format!(
                "This FlowSchema references the PriorityLevelConfiguration object named {level:?} and it exists"
            ),
        )
    } else {
        (
            "True",
            "NotFound",
            format!(
                "This FlowSchema references the PriorityLevelConfiguration object named {level:?} but there is no such object"
            ),
        )
    }
}

/// Writes each FlowSchema's `Dangling` condition where it differs from what it should be.
async fn maintain_dangling(rest: &Rest, t: &Types) {
    let mut levels: BTreeSet<String> = by_name(rest, &t.levels).await.into_keys().collect();
    // Upstream imagines the mandatory levels while they are missing.
    levels.insert(EXEMPT.to_string());
    levels.insert(CATCH_ALL.to_string());
    let schemas = by_name(rest, &t.schemas).await;
    let writes = schemas.iter().filter_map(|(name, schema)| {
        let (status, reason, message) = desired_condition(schema, &levels);
        let current = schema
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Dangling");
        if let Some(c) = current
            && c["status"] == status
            && c["reason"] == reason
            && c["message"] == message.as_str()
        {
            return None;
        }
        let body = json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": name},
            "status": {"conditions": [{
                "type": "Dangling",
                "status": status,
                "lastTransitionTime": crate::rest::now(),
                "reason": reason,
                "message": message,
            }]},
        });
        let opts = WriteOptions {
            force: true,
            ..super::write_options(CONSUMER)
        };
        Some(async move {
            let bytes = body.to_string().into_bytes();
            let result = rest
                .patch(
                    &t.schemas,
                    None,
                    name,
                    PatchType::Apply,
                    &bytes,
                    &opts,
                    Some("status"),
                )
                .await;
            if let Err(e) = result
                && e.code != 404
            {
                tracing::debug!(name, error = %e, "writing a FlowSchema's Dangling condition");
            }
        })
    });
    futures::future::join_all(writes).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(objects: Vec<Value>, name: &str) -> Value {
        objects
            .into_iter()
            .find(|o| name_of(o) == name)
            .unwrap_or(Value::Null)
    }

    #[test]
    fn spec_updates_follow_the_annotation_then_the_generation() {
        let mut obj =
            json!({"metadata": {"generation": 3, "annotations": {AUTO_UPDATE_ANNOTATION: "True"}}});
        assert!(should_update_spec(&obj));
        obj["metadata"]["annotations"][AUTO_UPDATE_ANNOTATION] = json!("0");
        assert!(!should_update_spec(&obj));
        obj["metadata"]["annotations"][AUTO_UPDATE_ANNOTATION] = json!("maybe");
        assert!(!should_update_spec(&obj));
        obj["metadata"]["generation"] = json!(1);
        assert!(should_update_spec(&obj));
    }

    #[test]
    fn the_exempt_levels_shares_are_the_operators() {
        let boot = named(mandatory_levels(), EXEMPT);
        let mut current = boot.clone();
        current["spec"]["exempt"]["nominalConcurrencyShares"] = json!(10);
        assert!(spec_equalish(&boot, &current));
        current["spec"]["exempt"] = Value::Null;
        assert!(!spec_equalish(&boot, &current));
        let boot = named(mandatory_levels(), CATCH_ALL);
        let mut current = boot.clone();
        current["spec"]["limited"]["lendablePercent"] = json!(10);
        assert!(!spec_equalish(&boot, &current));
    }

    #[test]
    fn dangling_reasons_and_messages() {
        let levels: BTreeSet<String> = ["a".to_string()].into();
        let schema = |level: &str| json!({"spec": {"priorityLevelConfiguration": {"name": level}}});
        assert_eq!(
            desired_condition(&schema("a"), &levels),
            (
                "False",
                "Found",
                r#"This FlowSchema references the PriorityLevelConfiguration object named "a" and it exists"#.to_string()
            )
        );
        assert_eq!(
            desired_condition(&schema("b"), &levels).2,
            r#"This FlowSchema references the PriorityLevelConfiguration object named "b" but there is no such object"#
        );
    }
}
