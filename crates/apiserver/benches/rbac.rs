//! What one RBAC decision costs with 1,000 RoleBindings in the store (prints a table; nothing
//! passes or fails).
//!
//! ```text
//! cargo bench -p kubeforge-apiserver --bench rbac
//! ```
//!
//! An in-memory server gets 1,000 RoleBindings (10 namespaces × 100, each binding one user to
//! `view`, `edit` or a Role of its own) and 100 ClusterRoleBindings, then one thread asks
//! `Rest::rbac` (the cache every request's authorization reads) the same questions over and
//! over: an allowed `get` through a RoleBinding, an allowed one through a group's
//! ClusterRoleBinding, a refused `delete`, a non-resource URL, and a ServiceAccount. Each
//! decision includes the check that the cache is current (one read of the store's committed
//! resourceVersion). Figures: the median of 7 runs of 100,000 decisions each, in ns per
//! decision. `KUBEFORGE_BENCH_QUICK=1` shrinks the runs.
//!
//! A second table is a request's whole identity check: authentication of its bearer token
//! (`Authenticator::authenticate` on the request's headers, as the HTTP layer calls it) plus the
//! authorization decision (`auth::check`, the call the request path makes), for a static token
//! (`--token-auth-file`) and for a ServiceAccount token (an ES256 JWT the server signed, checked
//! against the stored ServiceAccount's uid), each bound by one of the 1,000 RoleBindings. The
//! same token on every request is what a client does (its signature is verified once, then
//! remembered); a last row gives a token's first use, when the signature is verified.

use axum::http::{HeaderMap, HeaderValue, header};
use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::auth::attributes::{Attributes, ResourceAttributes};
use kubeforge_apiserver::auth::authn::Connection;
use kubeforge_apiserver::auth::authn::service_account::ObjectRef;
use kubeforge_apiserver::auth::user::UserInfo;
use kubeforge_apiserver::rest::{Rest, WriteOptions};
use serde_json::json;
use std::time::Instant;

fn quick() -> bool {
    std::env::var("KUBEFORGE_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// A request's identity check as the HTTP layer makes it: its bearer token authenticated, then
/// the authorization decision (which must allow it).
async fn identify(rest: &Rest, headers: &HeaderMap, conn: &Connection, attrs: &Attributes) {
    let user = rest
        .authenticator
        .authenticate(rest, headers, conn)
        .expect("authenticated");
    std::hint::black_box(kubeforge_apiserver::auth::check(rest, &user, attrs).await)
        .expect("allowed");
}

fn get(verb: &str, resource: &str, namespace: &str, name: &str) -> Attributes {
    Attributes::Resource(ResourceAttributes {
        verb: verb.into(),
        group: String::new(),
        version: "v1".into(),
        resource: resource.into(),
        subresource: String::new(),
        namespace: namespace.into(),
        name: name.into(),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // A static token for `user-42` (bound to `view` in every namespace by `b-42`).
    let token_file = tempfile::NamedTempFile::new().expect("token file");
    std::fs::write(
        token_file.path(),
        "static-token-of-user-42,user-42,uid-42,\"developers\"\n",
    )
    .expect("token file");
    let server = ApiServer::builder()
        .in_memory()
        .token_auth_file(token_file.path())
        .start()
        .await
        .expect("server");
    let rest = server.rest();
    let types = rest.catalog.snapshot();
    let find = |plural: &str| {
        types
            .find("rbac.authorization.k8s.io", "v1", plural)
            .expect("rbac type")
    };
    let (ns_type, roles, bindings, cluster_bindings) = (
        types.find("", "v1", "namespaces").expect("namespaces"),
        find("roles"),
        find("rolebindings"),
        find("clusterrolebindings"),
    );
    let opts = WriteOptions::default();
    for n in 0..10 {
        let ns = format!("ns-{n}");
        rest.create(
            &ns_type,
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            &opts,
        )
        .await
        .expect("namespace");
        rest.create(
            &roles,
            Some(&ns),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "reader", "namespace": ns},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["one"]}]}),
            &opts,
        )
        .await
        .expect("role");
        for b in 0..100 {
            let (kind, role) = match b % 3 {
                0 => ("ClusterRole", "view"),
                1 => ("ClusterRole", "edit"),
                _ => ("Role", "reader"),
            };
            rest.create(
                &bindings,
                Some(&ns),
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": format!("b-{b}"), "namespace": ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
                    "subjects": [
                        {"kind": "User", "name": format!("user-{b}")},
                        {"kind": "ServiceAccount", "name": format!("sa-{b}"), "namespace": ns}]}),
                &opts,
            )
            .await
            .expect("rolebinding");
        }
    }
    for b in 0..100 {
        rest.create(
            &cluster_bindings,
            None,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": format!("crb-{b}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "Group", "name": format!("team-{b}")}]}),
            &opts,
        )
        .await
        .expect("clusterrolebinding");
    }
    let count = rest.rbac.read(|p| p.binding_count()).await;
    println!(
        "bindings in the policy: {count} (RoleBindings and ClusterRoleBindings, bootstrap included)"
    );

    let user = UserInfo::new("user-42", vec![]);
    let grouped = UserInfo::new("carol", vec!["team-7".into()]);
    let sa = UserInfo::new("system:serviceaccount:ns-3:sa-50", vec![]);
    let cases: Vec<(&str, &UserInfo, Attributes, bool)> = vec![
        (
            "allowed via RoleBinding (view)",
            &user,
            get("get", "configmaps", "ns-5", "c"),
            true,
        ),
        (
            "allowed via group ClusterRoleBinding",
            &grouped,
            get("list", "pods", "ns-1", ""),
            true,
        ),
        (
            "refused (delete, no rule)",
            &user,
            get("delete", "configmaps", "ns-5", "c"),
            false,
        ),
        (
            "non-resource /version",
            &user,
            Attributes::NonResource {
                verb: "get".into(),
                path: "/version".into(),
            },
            true,
        ),
        (
            "ServiceAccount via Role with resourceNames",
            &sa,
            get("get", "secrets", "ns-3", "one"),
            true,
        ),
    ];
    let (runs, n) = if quick() { (3, 10_000) } else { (7, 100_000) };
    println!("{:<46} {:>12}", "decision", "ns/decision");
    for (label, who, attrs, expect) in &cases {
        let d = rest.rbac.authorize(who, attrs).await;
        assert_eq!(d.allowed, *expect, "{label}: {d:?}");
        let mut figures = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(rest.rbac.authorize(who, attrs).await);
            }
            figures.push(start.elapsed().as_nanos() as f64 / n as f64);
        }
        figures.sort_by(f64::total_cmp);
        println!("{label:<46} {:>12.0}", figures[figures.len() / 2]);
    }

    // A ServiceAccount `ns-5/sa-42` (bound to `view` by `ns-5/b-42`) and a token for it.
    let accounts = types
        .find("", "v1", "serviceaccounts")
        .expect("serviceaccounts");
    let account = rest
        .create(
            &accounts,
            Some("ns-5"),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa-42", "namespace": "ns-5"}}),
            &opts,
        )
        .await
        .expect("serviceaccount");
    let uid = account.object["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    let tokens = &rest.authenticator.service_accounts;
    // The account's claims, valid for `seconds`.
    let claims_for = |seconds: i64| {
        tokens.claims(
            "ns-5",
            ObjectRef {
                name: "sa-42".into(),
                uid: uid.clone(),
            },
            Vec::new(),
            seconds,
            None,
        )
    };
    let claims = claims_for(3600);
    let sa_token = tokens.sign(&claims).expect("token");
    let bearer = |token: &str| {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
        h
    };
    let requests = [
        (
            "static token (token file) + RoleBinding (view)",
            bearer("static-token-of-user-42"),
        ),
        (
            "ServiceAccount token (ES256) + RoleBinding (view)",
            bearer(&sa_token),
        ),
    ];
    let conn = Connection::tls(None);
    let attrs = get("get", "configmaps", "ns-5", "c");
    println!();
    println!(
        "{:<52} {:>12}",
        "authentication + authorization", "ns/request"
    );
    for (label, headers) in &requests {
        let user = rest
            .authenticator
            .authenticate(rest, headers, &conn)
            .expect("authenticated");
        kubeforge_apiserver::auth::check(rest, &user, &attrs)
            .await
            .expect("allowed");
        let n = n / 10;
        let mut figures = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            for _ in 0..n {
                identify(rest, headers, &conn, &attrs).await;
            }
            figures.push(start.elapsed().as_nanos() as f64 / n as f64);
        }
        figures.sort_by(f64::total_cmp);
        println!("{label:<52} {:>12.0}", figures[figures.len() / 2]);
    }

    // A ServiceAccount token's first use: each request presents a token never seen before
    // (distinct expiries make distinct JWTs), so its ES256 signature is verified; the tokens are
    // signed before the clock starts and stay below the verified-token cache's capacity.
    let fresh = 200;
    let mut batches: Vec<Vec<HeaderMap>> = (0..runs)
        .map(|r| {
            (0..fresh)
                .map(|i| {
                    let claims = claims_for(3600 + (r * fresh + i) as i64);
                    bearer(&tokens.sign(&claims).expect("token"))
                })
                .collect()
        })
        .collect();
    let mut figures = Vec::new();
    for batch in batches.drain(..) {
        let start = Instant::now();
        for headers in &batch {
            identify(rest, headers, &conn, &attrs).await;
        }
        figures.push(start.elapsed().as_nanos() as f64 / fresh as f64);
    }
    figures.sort_by(f64::total_cmp);
    println!(
        "{:<52} {:>12.0}",
        "ServiceAccount token, first use (signature verified)",
        figures[figures.len() / 2]
    );
}
