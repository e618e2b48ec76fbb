//! `kubectl auth` and `--as`: RBAC for impersonated users and the access reviews, run by every
//! kubectl version as part of the suite in `kubectl.rs`. kubectl ≥ 1.32 sends the reviews as
//! protobuf; older versions as JSON.

use super::*;

const RBAC: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: authz}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: cm-reader, namespace: authz}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: authz}
"#;

const SA: &str = "--as=system:serviceaccount:authz:reader";

/// `kubectl auth can-i`, `auth can-i --list`, `auth whoami` and a forbidden `get`.
pub async fn auth(k: &Kubectl) -> Result<()> {
    let ns = "authz";
    k.namespace(ns).await?;
    k.ok(&["create", "configmap", "settings", "-n", ns]).await?;
    // `can-i` exits 1 and prints "no" when the answer is no.
    let out = k
        .run(&["auth", "can-i", "list", "configmaps", "-n", ns, SA])
        .await?;
    expect_eq(out.stdout.trim(), "no", "can-i before the binding")?;
    expect_eq(out.code, Some(1), "can-i's exit code for no")?;
    k.rejects(
        &["get", "configmaps", "-n", ns, SA],
        &[r#"configmaps is forbidden: User "system:serviceaccount:authz:reader" cannot list resource "configmaps" in API group "" in the namespace "authz""#],
    )
    .await?;

    k.apply("rbac.yaml", RBAC).await?;
    let yes = k
        .ok(&["auth", "can-i", "list", "configmaps", "-n", ns, SA])
        .await?;
    expect_eq(yes.trim(), "yes", "can-i after the binding")?;
    let out = k
        .ok(&["get", "configmaps", "-n", ns, SA, "-o", "name"])
        .await?;
    expect_line(&out, "configmap/settings")?;
    let out = k
        .run(&["auth", "can-i", "delete", "configmaps", "-n", ns, SA])
        .await?;
    expect_eq(out.stdout.trim(), "no", "can-i delete")?;
    k.rejects(
        &["delete", "configmap", "settings", "-n", ns, SA],
        &[r#"configmaps "settings" is forbidden: User "system:serviceaccount:authz:reader" cannot delete resource "configmaps" in API group "" in the namespace "authz""#],
    )
    .await?;

    let list = k.ok(&["auth", "can-i", "--list", "-n", ns, SA]).await?;
    let configmaps = list
        .lines()
        .find(|l| l.starts_with("configmaps "))
        .ok_or_else(|| anyhow!("no configmaps rule in:\n{list}"))?;
    ensure!(
        configmaps.contains("[get list watch]"),
        "configmaps rule: {configmaps}"
    );
    ensure!(
        list.lines()
            .any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")),
        "the basic-user rules are missing:\n{list}"
    );

    // The local administrator may do everything.
    let yes = k.ok(&["auth", "can-i", "*", "*"]).await?;
    expect_eq(yes.trim(), "yes", "can-i as the administrator")?;
    // kubectl 1.27 asks for authentication.k8s.io/v1alpha1 or v1beta1, which kube-apiserver
    // 1.33 does not serve either (v1 is GA since 1.28): it fails the same way there.
    if k.binary.to_string_lossy().ends_with("kubectl.1.27") {
        let out = k.run(&["auth", "whoami", SA]).await?;
        ensure!(
            out.stderr
                .contains("the selfsubjectreviews API is not enabled"),
            "kubectl 1.27 whoami: {}",
            out.stderr
        );
        return Ok(());
    }
    let me = k.ok(&["auth", "whoami", "-o", "json", SA]).await?;
    let me: Value = serde_json::from_str(&me)?;
    expect_eq(
        me["status"]["userInfo"]["username"].as_str(),
        Some("system:serviceaccount:authz:reader"),
        "whoami",
    )?;
    expect_eq(
        me["status"]["userInfo"]["groups"].clone(),
        serde_json::json!([
            "system:serviceaccounts",
            "system:serviceaccounts:authz",
            "system:authenticated"
        ]),
        "whoami groups",
    )?;
    Ok(())
}
