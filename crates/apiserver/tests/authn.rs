//! TLS and authentication, judged by real clients: every installed kubectl (1.27 … 1.33) and
//! kube-rs against a server started with [`ApiServerBuilder::tls`] and a token file.
//!
//! Per kubectl version: the administrator's client certificate from the written kubeconfig
//! (`auth whoami` says `kubernetes-admin` in `system:masters`); a token-file user; `create token`
//! and the token used (`auth whoami` shows the ServiceAccount); a CA that did not sign the
//! server's certificate fails; an expired, a forged (signed by another key), an audience-
//! mismatched token and the token of a deleted ServiceAccount get 401 `Unauthorized`.
//! kube-rs: the builder's `client()`, the written kubeconfig, and an in-cluster-like config (a
//! token file and the CA file, as a Pod has them); TokenRequest validation and Pod binding,
//! TokenReview answers, the issuer's OIDC discovery and JWKS (a token verifies with the
//! published key), and `kube-root-ca.crt`.

mod kube_support;

#[path = "kubectl_support/mod.rs"]
mod kubectl_support;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kubectl_support::{Kubectl, kubectl_binary, kubectl_versions};
use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::auth::authn::service_account::{Claims, KubernetesClaims, ObjectRef};
use kubeforge_apiserver::tls::TlsOptions;
use serde_json::json;
use std::path::Path;

/// A TLS server whose certificates live in `dir`, with the token file `jane` (uid 1001, groups
/// devs and ops) can use.
async fn tls_server(dir: &Path) -> Result<ApiServer> {
    let tokens = dir.join("tokens.csv");
    std::fs::write(&tokens, "jane-token,jane,1001,\"devs,ops\"\n")?;
    Ok(kube_support::on_test_storage(
        ApiServer::builder()
            .tls(TlsOptions::in_dir(dir.join("pki")))
            .token_auth_file(&tokens),
    )
    .await
    .start()
    .await?)
}

/// A ServiceAccount token's claims for `sa` signed by the PEM key `key` (ES256), as a test
/// makes an expired or forged one.
fn sign(key_pem: &str, claims: &Claims) -> Result<String> {
    let key = jsonwebtoken::EncodingKey::from_ec_pem(key_pem.as_bytes())?;
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        claims,
        &key,
    )?)
}

fn claims(namespace: &str, name: &str, uid: &str, aud: &str, from: i64, to: i64) -> Claims {
    Claims {
        aud: vec![aud.to_string()],
        exp: to,
        iat: from,
        iss: "https://kubernetes.default.svc.cluster.local".into(),
        jti: "test".into(),
        nbf: from,
        sub: format!("system:serviceaccount:{namespace}:{name}"),
        kubernetes: KubernetesClaims {
            namespace: namespace.into(),
            pod: None,
            secret: None,
            serviceaccount: ObjectRef {
                name: name.into(),
                uid: uid.into(),
            },
        },
    }
}

kubectl_versions!();

/// `auth whoami -o json` with `extra` arguments first (kubectl 1.27 asks for the alpha and beta
/// APIs only, so it creates the v1 review from a manifest instead).
async fn whoami(k: &Kubectl, extra: &[String]) -> Result<serde_json::Value> {
    let mut args: Vec<String> = extra.to_vec();
    if k.minor() < 28 {
        let file = k.manifest(
            "review.yaml",
            "apiVersion: authentication.k8s.io/v1\nkind: SelfSubjectReview\n",
        )?;
        args.extend(["create", "-f", &file, "-o", "json"].map(String::from));
    } else {
        args.extend(["auth", "whoami", "-o", "json"].map(String::from));
    }
    let out = k
        .ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await?;
    Ok(serde_json::from_str(&out)?)
}

async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    if let Err(e) = scenarios(binary).await {
        panic!("kubectl {version}: {e:#}");
    }
}

async fn scenarios(binary: std::path::PathBuf) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = tls_server(dir.path()).await?;
    ensure!(server.url().starts_with("https://"), "{}", server.url());
    let k = Kubectl::new(binary, &server)?;
    let url = server.url().to_string();
    let ca = dir.path().join("pki/ca.crt");
    let ca = ca.to_str().context("path")?;

    // The administrator: the kubeconfig's client certificate.
    let who = whoami(&k, &[]).await?;
    ensure!(
        who["status"]["userInfo"]["username"] == "kubernetes-admin"
            && who["status"]["userInfo"]["groups"]
                == json!(["system:masters", "system:authenticated"]),
        "admin: {who}"
    );
    k.ok(&["get", "namespaces"]).await?;

    // A token-file user.
    let as_token = |token: String| {
        vec![
            "--kubeconfig=/dev/null".to_string(),
            format!("--server={url}"),
            format!("--certificate-authority={ca}"),
            format!("--token={token}"),
        ]
    };
    let run_as = |token: &str, args: &[&str]| {
        let mut all = as_token(token.to_string());
        all.extend(args.iter().map(|s| s.to_string()));
        all
    };
    let out = whoami(&k, &as_token("jane-token".into())).await?;
    ensure!(
        out["status"]["userInfo"]
            == json!({"username": "jane", "uid": "1001",
                "groups": ["devs", "ops", "system:authenticated"]}),
        "jane: {out}"
    );

    // `create token`, then the token used.
    k.ok(&["create", "serviceaccount", "bot"]).await?;
    let token = k
        .ok(&["create", "token", "bot", "--duration", "15m"])
        .await?;
    let token = token.trim().to_string();
    let out = whoami(&k, &as_token(token.clone())).await?;
    let info = &out["status"]["userInfo"];
    ensure!(
        info["username"] == "system:serviceaccount:default:bot"
            && info["groups"]
                == json!([
                    "system:serviceaccounts",
                    "system:serviceaccounts:default",
                    "system:authenticated"
                ]),
        "bot: {out}"
    );

    // A CA that did not sign the server's certificate.
    let other = tempfile::tempdir()?;
    kubeforge_apiserver::tls::pki::CertificateAuthority::load_or_create(other.path())?;
    let wrong_ca = other.path().join("ca.crt");
    let out = k
        .fails(&[
            "--kubeconfig=/dev/null",
            &format!("--server={url}"),
            &format!("--certificate-authority={}", wrong_ca.display()),
            "--token=jane-token",
            "get",
            "namespaces",
        ])
        .await?;
    ensure!(out.contains("certificate"), "wrong CA: {out}");

    // Tokens the server must refuse with 401.
    let sa: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
    let uid = sa
        .get("bot")
        .await?
        .metadata
        .uid
        .context("the ServiceAccount has a uid")?;
    let key = std::fs::read_to_string(dir.path().join("pki/sa.key"))?;
    let now = jiff::Timestamp::now().as_second();
    let issuer = "https://kubernetes.default.svc.cluster.local";
    let expired = sign(
        &key,
        &claims("default", "bot", &uid, issuer, now - 7200, now - 3600),
    )?;
    let forged_key = rcgen::KeyPair::generate()?.serialize_pem();
    let forged = sign(
        &forged_key,
        &claims("default", "bot", &uid, issuer, now, now + 3600),
    )?;
    let elsewhere = sign(
        &key,
        &claims(
            "default",
            "bot",
            &uid,
            "https://example.com",
            now,
            now + 3600,
        ),
    )?;
    let wrong_uid = sign(
        &key,
        &claims("default", "bot", "nope", issuer, now, now + 3600),
    )?;
    for (what, bad) in [
        ("expired", &expired),
        ("forged", &forged),
        ("audience", &elsewhere),
        ("uid", &wrong_uid),
        ("garbage", &"not-a-token".to_string()),
    ] {
        let args = run_as(bad, &["get", "configmaps"]);
        let err = k
            .fails(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        ensure!(
            err.contains("Unauthorized"),
            "{what} token: expected Unauthorized, got {err}"
        );
    }
    // The issued token stops working once its ServiceAccount is gone.
    k.ok(&["delete", "serviceaccount", "bot"]).await?;
    let args = run_as(&token, &["get", "configmaps"]);
    let err = k
        .fails(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await?;
    ensure!(err.contains("Unauthorized"), "deleted account: {err}");
    server.shutdown().await;
    Ok(())
}

/// The 401 body is kube-apiserver's, and a bad token is refused before routing.
#[tokio::test]
async fn bad_credentials_get_kube_apiservers_401() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = tls_server(dir.path()).await?;
    let mut config = kube::Config::from_custom_kubeconfig(
        serde_json::from_value(server.kubeconfig().clone())?,
        &Default::default(),
    )
    .await?;
    config.auth_info = kube::config::AuthInfo {
        token: Some("wrong".to_string().into()),
        ..Default::default()
    };
    let client = kube::Client::try_from(config)?;
    let err = client
        .request_text(
            axum::http::Request::get("/no/such/path")
                .body(Vec::new())
                .context("request")?,
        )
        .await
        .expect_err("refused");
    let kube::Error::Api(status) = err else {
        anyhow::bail!("expected an API error, got {err}");
    };
    ensure!(
        status.code == 401 && status.reason == "Unauthorized" && status.message == "Unauthorized",
        "{status:?}"
    );
    server.shutdown().await;
    Ok(())
}

/// kube-rs: the builder's client, the written kubeconfig, and an in-cluster-like config (a
/// ServiceAccount token file and the CA file).
#[tokio::test]
async fn kube_rs_over_tls() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = tls_server(dir.path()).await?;
    let namespaces: Api<Namespace> = Api::all(server.client());
    namespaces.get("default").await?;

    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path)?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&path)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    let who: Api<ServiceAccount> = Api::namespaced(client, "default");
    who.get("default").await?;

    // As a Pod of ServiceAccount `default/reader` has it: a token file and the CA.
    let sa: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
    sa.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "reader"}}))?,
    )
    .await?;
    let token: k8s_openapi::api::authentication::v1::TokenRequest = sa
        .create_token_request(
            "reader",
            &PostParams::default(),
            &serde_json::from_value(json!({"spec": {"audiences": []}}))?,
        )
        .await?;
    let token = token.status.context("status")?.token;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token)?;
    let incluster = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server.url(),
            "certificate-authority": dir.path().join("pki/ca.crt")}}],
        "users": [{"name": "u", "user": {"tokenFile": token_file}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    });
    let config = kube::Config::from_custom_kubeconfig(
        serde_json::from_value(incluster)?,
        &Default::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let me = kube::Api::<k8s_openapi::api::authentication::v1::SelfSubjectReview>::all(client)
        .create(&PostParams::default(), &Default::default())
        .await?;
    let user = me.status.and_then(|s| s.user_info).context("userInfo")?;
    ensure!(
        user.username.as_deref() == Some("system:serviceaccount:default:reader"),
        "{user:?}"
    );
    server.shutdown().await;
    Ok(())
}

/// Without TLS (the embedding default), a request without credentials is the administrator and
/// one with a token is its owner.
#[tokio::test]
async fn plain_http_keeps_the_local_administrator() -> Result<()> {
    let server = kube_support::on_test_storage(ApiServer::builder())
        .await
        .start()
        .await?;
    ensure!(server.url().starts_with("http://"), "{}", server.url());
    let me =
        kube::Api::<k8s_openapi::api::authentication::v1::SelfSubjectReview>::all(server.client())
            .create(&PostParams::default(), &Default::default())
            .await?;
    let user = me.status.and_then(|s| s.user_info).context("userInfo")?;
    ensure!(
        user.username.as_deref() == Some("system:unsecured"),
        "{user:?}"
    );
    server.shutdown().await;
    Ok(())
}

/// TokenRequest's validation and bindings, TokenReview's answers, the issuer's discovery
/// documents (a token verifies with the published key), and the published root CA.
#[tokio::test]
async fn token_requests_reviews_and_discovery() -> Result<()> {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenReview};
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    let dir = tempfile::tempdir()?;
    let server = tls_server(dir.path()).await?;
    let client = server.client();
    let sa: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    sa.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "bot"}}))?,
    )
    .await?;
    let request = |spec: serde_json::Value| -> Result<TokenRequest> {
        Ok(serde_json::from_value(json!({"spec": spec}))?)
    };
    let err = sa
        .create_token_request(
            "bot",
            &PostParams::default(),
            &request(json!({"audiences": [], "expirationSeconds": 60}))?,
        )
        .await
        .expect_err("too short");
    let kube::Error::Api(status) = err else {
        anyhow::bail!("{err}");
    };
    ensure!(
        status.code == 422
            && status.message
                == "TokenRequest.authentication.k8s.io \"bot\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
        "{status:?}"
    );

    // Bound to a Pod: valid while the Pod exists.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
        )?,
    )
    .await?;
    let bound = sa
        .create_token_request(
            "bot",
            &PostParams::default(),
            &request(json!({"audiences": [], "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}}))?,
        )
        .await?;
    let token = bound.status.context("status")?.token;
    let reviews: Api<TokenReview> = Api::all(client.clone());
    let review = |token: &str, audiences: serde_json::Value| -> Result<TokenReview> {
        Ok(serde_json::from_value(
            json!({"spec": {"token": token, "audiences": audiences}}),
        )?)
    };
    let answer = reviews
        .create(&PostParams::default(), &review(&token, json!([]))?)
        .await?
        .status
        .context("status")?;
    let user = answer.user.clone().context("user")?;
    ensure!(
        answer.authenticated == Some(true)
            && user.username.as_deref() == Some("system:serviceaccount:default:bot")
            && user.extra.unwrap_or_default()["authentication.kubernetes.io/pod-name"] == ["p"],
        "{answer:?}"
    );
    let elsewhere = reviews
        .create(
            &PostParams::default(),
            &review(&token, json!(["https://example.com"]))?,
        )
        .await?
        .status
        .context("status")?;
    ensure!(
        elsewhere.authenticated != Some(true)
            && elsewhere
                .error
                .as_deref()
                .is_some_and(|e| e.contains("audiences")),
        "{elsewhere:?}"
    );
    pods.delete("p", &kube::api::DeleteParams::default().grace_period(0))
        .await?;
    let gone = reviews
        .create(&PostParams::default(), &review(&token, json!([]))?)
        .await?
        .status
        .context("status")?;
    ensure!(
        gone.authenticated != Some(true)
            && gone.error.as_deref() == Some("[invalid bearer token, pods \"p\" not found]"),
        "{gone:?}"
    );

    // The issuer's discovery documents; the token's signature checks out with the JWKS key.
    let discovery: serde_json::Value = serde_json::from_str(
        &client
            .request_text(
                axum::http::Request::get("/.well-known/openid-configuration").body(Vec::new())?,
            )
            .await?,
    )?;
    ensure!(
        discovery["issuer"] == "https://kubernetes.default.svc.cluster.local",
        "{discovery}"
    );
    let jwks: serde_json::Value = serde_json::from_str(
        &client
            .request_text(axum::http::Request::get("/openid/v1/jwks").body(Vec::new())?)
            .await?,
    )?;
    let key = &jwks["keys"][0];
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        key["x"].as_str().context("x")?,
        key["y"].as_str().context("y")?,
    )?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["https://kubernetes.default.svc.cluster.local"]);
    let decoded = jsonwebtoken::decode::<Claims>(&token, &decoding, &validation)?;
    ensure!(
        decoded
            .claims
            .kubernetes
            .pod
            .as_ref()
            .map(|p| p.name.as_str())
            == Some("p")
            && decoded.header.kid.as_deref() == key["kid"].as_str(),
        "{:?}",
        decoded.claims
    );

    // Every namespace has the cluster CA.
    let root: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let ca = root.get("kube-root-ca.crt").await?.data.unwrap_or_default();
    ensure!(
        ca.get("ca.crt").map(String::as_str)
            == Some(std::fs::read_to_string(dir.path().join("pki/ca.crt"))?.as_str()),
        "kube-root-ca.crt: {ca:?}"
    );
    server.shutdown().await;
    Ok(())
}
