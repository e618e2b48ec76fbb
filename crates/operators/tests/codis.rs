//! The ConfigurationDistributionRule operator end to end against an in-process API server.

mod common;

use common::{Env, code, events_about, eventually};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kubeforge_operators::codis::{
    ConfigurationDistributionRule, FINALIZER, MANAGED_BY, MANAGED_BY_LABEL, Mode, RULE_ANNOTATION,
    RuleSpec, RuleStatus, SOURCE_ANNOTATION,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const SOURCE_NS: &str = "ns-codis-test";

fn rule(name: &str, mode: Mode, selector: &str, targets: &[&str]) -> ConfigurationDistributionRule {
    ConfigurationDistributionRule::new(
        name,
        RuleSpec {
            mode,
            selector: selector.to_string(),
            namespaces: targets.iter().map(|t| t.to_string()).collect(),
        },
    )
}

fn config_map(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        },
        "data": data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
    }))
    .unwrap()
}

fn secret(name: &str, labels: &[(&str, &str)], value: &str) -> Secret {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        },
        "stringData": {"token": value},
    }))
    .unwrap()
}

/// An environment with the codis operator and namespaces `ns-codis-test`, `default`, plus `extra`.
async fn env_with(extra: &[&str]) -> anyhow::Result<Env> {
    let env = Env::start("codis").await?;
    env.namespace(SOURCE_NS).await?;
    for ns in extra {
        env.namespace(ns).await?;
    }
    Ok(env)
}

fn cms(env: &Env, ns: &str) -> Api<ConfigMap> {
    Api::namespaced(env.client.clone(), ns)
}

fn secrets(env: &Env, ns: &str) -> Api<Secret> {
    Api::namespaced(env.client.clone(), ns)
}

fn rules(env: &Env, ns: &str) -> Api<ConfigurationDistributionRule> {
    Api::namespaced(env.client.clone(), ns)
}

async fn data_of(
    api: &Api<ConfigMap>,
    name: &str,
) -> anyhow::Result<Option<BTreeMap<String, String>>> {
    Ok(api
        .get_opt(name)
        .await?
        .map(|cm| cm.data.unwrap_or_default()))
}

/// Waits until ConfigMap `name` in `ns` has `data` (or is absent, for `None`).
async fn config_map_is(
    env: &Env,
    ns: &str,
    name: &str,
    data: Option<&[(&str, &str)]>,
) -> anyhow::Result<()> {
    let want = data.map(|d| {
        d.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    });
    let api = cms(env, ns);
    eventually(&format!("configmap {ns}/{name} to be {want:?}"), || async {
        Ok((data_of(&api, name).await? == want).then_some(()))
    })
    .await
}

/// Waits until the rule's status satisfies `check`, returning it.
async fn status_where(
    env: &Env,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&RuleStatus, i64) -> bool,
) -> anyhow::Result<RuleStatus> {
    let api = rules(env, ns);
    eventually(what, || async {
        let rule = api.get(name).await?;
        let generation = rule.metadata.generation.unwrap_or_default();
        Ok(rule.status.filter(|s| check(s, generation)))
    })
    .await
}

fn ready(status: &RuleStatus) -> Option<&str> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}

#[tokio::test]
async fn rule_creation_distributes_pre_existing_sources() -> anyhow::Result<()> {
    let env = env_with(&["another-test"]).await?;
    let pp = PostParams::default();
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map(
                "cm-codis-test",
                &[("rule", "testing")],
                &[("greeting", "hello")],
            ),
        )
        .await?;
    secrets(&env, SOURCE_NS)
        .create(
            &pp,
            &secret("secret-codis-test", &[("rule", "testing")], "s3cr3t"),
        )
        .await?;
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("not-selected", &[("rule", "other")], &[("k", "v")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(
            &pp,
            &rule(
                "rule-codis-test",
                Mode::Both,
                "testing",
                &["default", "another-test"],
            ),
        )
        .await?;

    let status = status_where(
        &env,
        SOURCE_NS,
        "rule-codis-test",
        "4 copies, Ready",
        |s, g| s.distributed == 4 && ready(s) == Some("True") && s.observed_generation == Some(g),
    )
    .await?;
    assert!(status.problems.is_empty());
    for ns in ["default", "another-test"] {
        let copy = cms(&env, ns).get("cm-codis-test").await?;
        assert_eq!(
            copy.data
                .as_ref()
                .unwrap()
                .get("greeting")
                .map(String::as_str),
            Some("hello")
        );
        assert_eq!(
            copy.labels().get(MANAGED_BY_LABEL).map(String::as_str),
            Some(MANAGED_BY)
        );
        assert_eq!(
            copy.annotations().get(RULE_ANNOTATION).map(String::as_str),
            Some("ns-codis-test/rule-codis-test")
        );
        assert_eq!(
            copy.annotations()
                .get(SOURCE_ANNOTATION)
                .map(String::as_str),
            Some("ns-codis-test/cm-codis-test")
        );
        assert!(
            copy.owner_references().is_empty(),
            "no cross-namespace ownerReferences"
        );
        let secret = secrets(&env, ns).get("secret-codis-test").await?;
        let token = secret.data.unwrap().get("token").unwrap().0.clone();
        assert_eq!(token, b"s3cr3t");
        assert!(cms(&env, ns).get_opt("not-selected").await?.is_none());
    }
    let rule = rules(&env, SOURCE_NS).get("rule-codis-test").await?;
    assert!(rule.finalizers().iter().any(|f| f == FINALIZER));
    env.stop().await
}

#[tokio::test]
async fn rule_source_update_reaches_every_copy() -> anyhow::Result<()> {
    let env = env_with(&["another-test"]).await?;
    let pp = PostParams::default();
    let sources = cms(&env, SOURCE_NS);
    sources
        .create(
            &pp,
            &config_map("cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(
            &pp,
            &rule(
                "r",
                Mode::Configmap,
                "testing",
                &["default", "another-test"],
            ),
        )
        .await?;
    config_map_is(&env, "another-test", "cm", Some(&[("v", "1")])).await?;

    let patch = json!({"data": {"v": "2", "w": "new"}});
    sources
        .patch("cm", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    for ns in ["default", "another-test"] {
        config_map_is(&env, ns, "cm", Some(&[("v", "2"), ("w", "new")])).await?;
    }
    // A copy edited by hand is put back.
    let tamper = json!({"data": {"v": "tampered"}});
    cms(&env, "default")
        .patch("cm", &PatchParams::default(), &Patch::Merge(&tamper))
        .await?;
    config_map_is(&env, "default", "cm", Some(&[("v", "2"), ("w", "new")])).await?;
    // A copy deleted by hand is created again.
    cms(&env, "default")
        .delete("cm", &DeleteParams::default())
        .await?;
    config_map_is(&env, "default", "cm", Some(&[("v", "2"), ("w", "new")])).await?;
    env.stop().await
}

#[tokio::test]
async fn rule_source_deletion_deletes_the_copies() -> anyhow::Result<()> {
    let env = env_with(&["another-test"]).await?;
    let pp = PostParams::default();
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(
            &pp,
            &rule("r", Mode::Both, "testing", &["default", "another-test"]),
        )
        .await?;
    config_map_is(&env, "another-test", "cm", Some(&[("v", "1")])).await?;
    cms(&env, SOURCE_NS)
        .delete("cm", &DeleteParams::default())
        .await?;
    for ns in ["default", "another-test"] {
        config_map_is(&env, ns, "cm", None).await?;
    }
    status_where(&env, SOURCE_NS, "r", "0 distributed", |s, _| {
        s.distributed == 0
    })
    .await?;
    env.stop().await
}

#[tokio::test]
async fn rule_unlabelled_source_loses_its_copies() -> anyhow::Result<()> {
    let env = env_with(&[]).await?;
    let pp = PostParams::default();
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(&pp, &rule("r", Mode::Configmap, "testing", &["default"]))
        .await?;
    config_map_is(&env, "default", "cm", Some(&[("v", "1")])).await?;
    let unlabel = json!({"metadata": {"labels": {"rule": null}}});
    cms(&env, SOURCE_NS)
        .patch("cm", &PatchParams::default(), &Patch::Merge(&unlabel))
        .await?;
    config_map_is(&env, "default", "cm", None).await?;
    // Relabelled to another selector: still not ours.
    let relabel = json!({"metadata": {"labels": {"rule": "other"}}});
    cms(&env, SOURCE_NS)
        .patch("cm", &PatchParams::default(), &Patch::Merge(&relabel))
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(cms(&env, "default").get_opt("cm").await?.is_none());
    env.stop().await
}

#[tokio::test]
async fn rule_mode_change_removes_the_other_kind() -> anyhow::Result<()> {
    let env = env_with(&[]).await?;
    let pp = PostParams::default();
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("both-cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    secrets(&env, SOURCE_NS)
        .create(&pp, &secret("both-secret", &[("rule", "testing")], "x"))
        .await?;
    rules(&env, SOURCE_NS)
        .create(&pp, &rule("r", Mode::Both, "testing", &["default"]))
        .await?;
    status_where(&env, SOURCE_NS, "r", "2 distributed", |s, _| {
        s.distributed == 2
    })
    .await?;

    let to_secret = json!({"spec": {"mode": "secret"}});
    rules(&env, SOURCE_NS)
        .patch("r", &PatchParams::default(), &Patch::Merge(&to_secret))
        .await?;
    config_map_is(&env, "default", "both-cm", None).await?;
    assert!(
        secrets(&env, "default")
            .get_opt("both-secret")
            .await?
            .is_some()
    );
    status_where(
        &env,
        SOURCE_NS,
        "r",
        "1 distributed at generation 2",
        |s, g| s.distributed == 1 && s.observed_generation == Some(g) && g == 2,
    )
    .await?;

    let to_configmap = json!({"spec": {"mode": "configmap"}});
    rules(&env, SOURCE_NS)
        .patch("r", &PatchParams::default(), &Patch::Merge(&to_configmap))
        .await?;
    config_map_is(&env, "default", "both-cm", Some(&[("v", "1")])).await?;
    let secrets_default = secrets(&env, "default");
    eventually("the secret copy deleted", || async {
        Ok(secrets_default
            .get_opt("both-secret")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    env.stop().await
}

#[tokio::test]
async fn rule_namespace_removed_from_the_list_loses_its_copies() -> anyhow::Result<()> {
    let env = env_with(&["another-test"]).await?;
    let pp = PostParams::default();
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(
            &pp,
            &rule("r", Mode::Both, "testing", &["default", "another-test"]),
        )
        .await?;
    config_map_is(&env, "another-test", "cm", Some(&[("v", "1")])).await?;
    let shrink = json!({"spec": {"namespaces": ["default"]}});
    rules(&env, SOURCE_NS)
        .patch("r", &PatchParams::default(), &Patch::Merge(&shrink))
        .await?;
    config_map_is(&env, "another-test", "cm", None).await?;
    assert!(cms(&env, "default").get_opt("cm").await?.is_some());
    status_where(&env, SOURCE_NS, "r", "1 distributed", |s, _| {
        s.distributed == 1
    })
    .await?;
    env.stop().await
}

#[tokio::test]
async fn rule_namespace_created_later_receives_its_copies() -> anyhow::Result<()> {
    let env = env_with(&[]).await?;
    let pp = PostParams::default();
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(
            &pp,
            &rule("r", Mode::Both, "testing", &["default", "later"]),
        )
        .await?;
    let waiting = status_where(
        &env,
        SOURCE_NS,
        "r",
        "a NamespaceNotFound problem",
        |s, _| {
            s.problems
                .iter()
                .any(|p| p.namespace == "later" && p.reason == "NamespaceNotFound")
        },
    )
    .await?;
    assert_eq!(ready(&waiting), Some("False"));
    assert_eq!(waiting.distributed, 1);

    env.namespace("later").await?;
    config_map_is(&env, "later", "cm", Some(&[("v", "1")])).await?;
    let done = status_where(&env, SOURCE_NS, "r", "Ready with 2 copies", |s, _| {
        ready(s) == Some("True") && s.distributed == 2
    })
    .await?;
    assert!(done.problems.is_empty());
    env.stop().await
}

#[tokio::test]
async fn rule_reports_its_own_namespace_and_terminating_targets() -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let env = env_with(&["doomed"]).await?;
    let pp = PostParams::default();
    // A finalizer on another object keeps `doomed` Terminating once it is deleted.
    let mut blocker = config_map("blocker", &[], &[]);
    blocker.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms(&env, "doomed").create(&pp, &blocker).await?;
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(
            &pp,
            &rule(
                "r",
                Mode::Configmap,
                "testing",
                &[SOURCE_NS, "doomed", "default"],
            ),
        )
        .await?;
    let first = status_where(
        &env,
        SOURCE_NS,
        "r",
        "2 copies and SameNamespace",
        |s, _| s.distributed == 2 && s.problems.iter().any(|p| p.reason == "SameNamespace"),
    )
    .await?;
    assert_eq!(ready(&first), Some("False"));
    assert_eq!(first.problems.len(), 1, "{:?}", first.problems);
    assert_eq!(first.problems[0].namespace, SOURCE_NS);
    config_map_is(&env, "doomed", "cm", Some(&[("v", "1")])).await?;
    // The source itself is never rewritten as a copy of itself.
    let source = cms(&env, SOURCE_NS).get("cm").await?;
    assert!(!source.labels().contains_key(MANAGED_BY_LABEL));

    Api::<Namespace>::all(env.client.clone())
        .delete("doomed", &DeleteParams::default())
        .await?;
    let terminating = status_where(
        &env,
        SOURCE_NS,
        "r",
        "a NamespaceTerminating problem",
        |s, _| {
            s.problems
                .iter()
                .any(|p| p.namespace == "doomed" && p.reason == "NamespaceTerminating")
        },
    )
    .await?;
    assert_eq!(ready(&terminating), Some("False"));
    // The namespace's deletion removes the copy; the rule does not recreate it there.
    config_map_is(&env, "doomed", "cm", None).await?;
    status_where(&env, SOURCE_NS, "r", "1 copy left", |s, _| {
        s.distributed == 1
    })
    .await?;
    assert!(cms(&env, "default").get_opt("cm").await?.is_some());

    // Once the namespace is gone, the problem says so.
    cms(&env, "doomed")
        .patch(
            "blocker",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await?;
    status_where(
        &env,
        SOURCE_NS,
        "r",
        "a NamespaceNotFound problem",
        |s, _| {
            s.problems
                .iter()
                .any(|p| p.namespace == "doomed" && p.reason == "NamespaceNotFound")
        },
    )
    .await?;
    env.stop().await
}

#[tokio::test]
async fn rule_deletion_cleans_up_every_copy() -> anyhow::Result<()> {
    let env = env_with(&["another-test"]).await?;
    let pp = PostParams::default();
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    secrets(&env, SOURCE_NS)
        .create(&pp, &secret("s", &[("rule", "testing")], "x"))
        .await?;
    rules(&env, SOURCE_NS)
        .create(
            &pp,
            &rule("r", Mode::Both, "testing", &["default", "another-test"]),
        )
        .await?;
    status_where(&env, SOURCE_NS, "r", "4 distributed", |s, _| {
        s.distributed == 4
    })
    .await?;

    rules(&env, SOURCE_NS)
        .delete("r", &DeleteParams::default())
        .await?;
    let rules_api = rules(&env, SOURCE_NS);
    eventually("the rule gone (finalizer released)", || async {
        Ok(rules_api.get_opt("r").await?.is_none().then_some(()))
    })
    .await?;
    for ns in ["default", "another-test"] {
        assert!(
            cms(&env, ns).get_opt("cm").await?.is_none(),
            "configmap copy in {ns}"
        );
        assert!(
            secrets(&env, ns).get_opt("s").await?.is_none(),
            "secret copy in {ns}"
        );
    }
    // The sources are untouched.
    assert!(cms(&env, SOURCE_NS).get_opt("cm").await?.is_some());
    assert!(secrets(&env, SOURCE_NS).get_opt("s").await?.is_some());
    env.stop().await
}

#[tokio::test]
async fn rule_never_overwrites_an_unmanaged_object_in_a_target() -> anyhow::Result<()> {
    let env = env_with(&["another-test"]).await?;
    let pp = PostParams::default();
    cms(&env, "another-test")
        .create(&pp, &config_map("cm", &[], &[("mine", "keep")]))
        .await?;
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("cm", &[("rule", "testing")], &[("v", "1")]),
        )
        .await?;
    let created = rules(&env, SOURCE_NS)
        .create(
            &pp,
            &rule("r", Mode::Both, "testing", &["default", "another-test"]),
        )
        .await?;
    let status = status_where(&env, SOURCE_NS, "r", "a NotManaged problem", |s, _| {
        s.problems.iter().any(|p| p.reason == "NotManaged")
    })
    .await?;
    let problem = &status.problems[0];
    assert_eq!(problem.namespace, "another-test");
    assert_eq!(problem.object.as_deref(), Some("ConfigMap/cm"));
    assert_eq!(ready(&status), Some("False"));
    assert_eq!(
        status.distributed, 1,
        "the other target still gets its copy"
    );
    let warning = eventually("a NotManaged warning", || async {
        Ok(events_about(&env.client, &created, "NotManaged")
            .await?
            .into_iter()
            .next())
    })
    .await?;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert!(warning.note.unwrap().contains("another-test/cm"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    config_map_is(&env, "another-test", "cm", Some(&[("mine", "keep")])).await?;

    // When the owner of the object removes it, the rule takes the name.
    cms(&env, "another-test")
        .delete("cm", &DeleteParams::default())
        .await?;
    config_map_is(&env, "another-test", "cm", Some(&[("v", "1")])).await?;
    status_where(&env, SOURCE_NS, "r", "Ready", |s, _| {
        ready(s) == Some("True")
    })
    .await?;
    // Deleting the rule leaves nothing behind, and would never have deleted the user's object.
    env.stop().await
}

#[tokio::test]
async fn rule_two_rules_on_one_target_report_the_conflict() -> anyhow::Result<()> {
    let env = env_with(&["team-b", "shared"]).await?;
    let pp = PostParams::default();
    cms(&env, SOURCE_NS)
        .create(
            &pp,
            &config_map("settings", &[("rule", "testing")], &[("from", "a")]),
        )
        .await?;
    cms(&env, "team-b")
        .create(
            &pp,
            &config_map("settings", &[("rule", "testing")], &[("from", "b")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(&pp, &rule("a", Mode::Configmap, "testing", &["shared"]))
        .await?;
    config_map_is(&env, "shared", "settings", Some(&[("from", "a")])).await?;
    rules(&env, "team-b")
        .create(&pp, &rule("b", Mode::Configmap, "testing", &["shared"]))
        .await?;
    let status = status_where(
        &env,
        "team-b",
        "b",
        "a ClaimedByOtherRule problem",
        |s, _| s.problems.iter().any(|p| p.reason == "ClaimedByOtherRule"),
    )
    .await?;
    assert!(status.problems[0].message.contains("ns-codis-test/a"));
    assert_eq!(ready(&status), Some("False"));

    // No fight: the copy stays the winner's and is not rewritten.
    let before = cms(&env, "shared")
        .get("settings")
        .await?
        .resource_version();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = cms(&env, "shared").get("settings").await?;
    assert_eq!(after.resource_version(), before);
    assert_eq!(
        after.data.unwrap().get("from").map(String::as_str),
        Some("a")
    );
    let a = status_where(&env, SOURCE_NS, "a", "rule a Ready", |s, _| {
        ready(s) == Some("True")
    })
    .await?;
    assert_eq!(a.distributed, 1);

    // Rule a deleted: its copy goes, and rule b takes over.
    rules(&env, SOURCE_NS)
        .delete("a", &DeleteParams::default())
        .await?;
    config_map_is(&env, "shared", "settings", Some(&[("from", "b")])).await?;
    status_where(&env, "team-b", "b", "rule b Ready", |s, _| {
        ready(s) == Some("True")
    })
    .await?;
    env.stop().await
}

#[tokio::test]
async fn rule_invalid_specs_are_rejected_by_the_schema() -> anyhow::Result<()> {
    let env = env_with(&[]).await?;
    let raw: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        SOURCE_NS,
        &kube::api::ApiResource::erase::<ConfigurationDistributionRule>(&()),
    );
    for (spec, expect) in [
        (
            json!({"mode": "all", "selector": "x", "namespaces": ["a"]}),
            "spec.mode",
        ),
        (json!({"selector": "x", "namespaces": ["a"]}), "spec.mode"),
        (
            json!({"mode": "both", "selector": "not a label value", "namespaces": ["a"]}),
            "spec.selector",
        ),
        (
            json!({"mode": "both", "selector": "x", "namespaces": []}),
            "spec.namespaces",
        ),
        (
            json!({"mode": "both", "selector": "x", "namespaces": ["Not_A_Namespace"]}),
            "spec.namespaces[0]",
        ),
        (json!({"mode": "both", "selector": "x"}), "spec.namespaces"),
    ] {
        let body = json!({
            "apiVersion": "k8s.tideland.dev/v1alpha1",
            "kind": "ConfigurationDistributionRule",
            "metadata": {"name": "bad"},
            "spec": spec,
        });
        let result = raw
            .create(&PostParams::default(), &serde_json::from_value(body)?)
            .await;
        assert_eq!(code(&result), 422, "{spec} must be rejected: {result:?}");
        let message = result.unwrap_err().to_string();
        assert!(message.contains(expect), "{spec}: {message}");
    }
    assert!(
        rules(&env, SOURCE_NS)
            .list(&Default::default())
            .await?
            .items
            .is_empty()
    );
    // An empty selector is valid: it means every object, labelled or not.
    cms(&env, SOURCE_NS)
        .create(
            &PostParams::default(),
            &config_map("unlabelled", &[], &[("v", "1")]),
        )
        .await?;
    rules(&env, SOURCE_NS)
        .create(
            &PostParams::default(),
            &rule("everything", Mode::Both, "", &["default"]),
        )
        .await?;
    config_map_is(&env, "default", "unlabelled", Some(&[("v", "1")])).await?;
    env.stop().await
}
