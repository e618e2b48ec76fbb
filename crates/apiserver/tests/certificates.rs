//! CertificateSigningRequests end to end, against a TLS server, with kubectl 1.27 and 1.33: a
//! request records its requestor, `kubectl certificate approve` has the
//! `kubernetes.io/kube-apiserver-client` signer issue a certificate that the server then
//! accepts (`auth whoami` as the certificate's subject), `deny`, upstream's refusals
//! (`system:masters` through that signer, a server-auth usage failed by the signer, a request
//! that is no PEM CSR, a duration under ten minutes), and the CertificateApproval check: a user
//! who may update `certificatesigningrequests/approval` still needs `approve` on the signer;
//! `approval` answers GET and PATCH as well as PUT (`kubectl patch --subresource=approval`).

mod kube_support;

#[path = "kubectl_support/mod.rs"]
mod kubectl_support;

use anyhow::{Context, Result, ensure};
use base64::Engine as _;
use kubectl_support::{Kubectl, kubectl_binary, kubectl_versions};
use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::tls::TlsOptions;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

kubectl_versions! {
    kubectl_1_27 => "1.27",
    kubectl_1_33 => "1.33",
}

async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    if let Err(e) = scenarios(binary).await {
        panic!("kubectl {version}: {e:#}");
    }
}

/// A key (PEM) and a PKCS#10 request (PEM) for `cn` in `groups`.
fn request(cn: &str, groups: &[&str]) -> Result<(String, String)> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for group in groups {
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, *group);
    }
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let csr = params.serialize_request(&key)?;
    Ok((key.serialize_pem(), csr.pem()?))
}

fn manifest(name: &str, csr_pem: &str, usages: &[&str], seconds: i64) -> String {
    json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": base64::engine::general_purpose::STANDARD.encode(csr_pem),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": usages, "expirationSeconds": seconds}})
    .to_string()
}

/// Polls request `name` until `jsonpath` says something, and returns it.
/// Submits a client-auth request for `name` (pending).
async fn submit(k: &Kubectl, name: &str) -> Result<()> {
    let (_, csr) = request(name, &[])?;
    let file = k.manifest(
        &format!("{name}.json"),
        &manifest(name, &csr, &["client auth"], 3600),
    )?;
    k.ok(&["apply", "-f", &file]).await?;
    Ok(())
}

async fn wait_for(k: &Kubectl, name: &str, jsonpath: &str) -> Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = k.jsonpath(&["get", "csr", name], jsonpath).await?;
        if !got.is_empty() {
            return Ok(got);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "csr {name}: nothing at {jsonpath}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenarios(binary: std::path::PathBuf) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "jane-token,jane,1001,\"devs,ops\"\n")?;
    let server = kube_support::on_test_storage(
        ApiServer::builder()
            .tls(TlsOptions::in_dir(dir.path().join("pki")))
            .token_auth_file(&tokens),
    )
    .await
    .start()
    .await?;
    let k = Kubectl::new(binary, &server)?;
    let url = server.url().to_string();
    let ca = dir.path().join("pki/ca.crt");
    let ca = ca.to_str().context("path")?.to_string();
    let as_jane = |args: &[&str]| {
        let mut all: Vec<String> = vec![
            "--kubeconfig=/dev/null".into(),
            format!("--server={url}"),
            format!("--certificate-authority={ca}"),
            "--token=jane-token".into(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        all
    };

    // Approved, the request is signed, and its certificate authenticates its subject.
    let (key, csr) = request("alice", &["dev"])?;
    let file = k.manifest(
        "alice.json",
        &manifest("alice", &csr, &["client auth"], 3600),
    )?;
    k.ok(&["apply", "-f", &file]).await?;
    let row = k.ok(&["get", "csr", "alice", "--no-headers"]).await?;
    ensure!(
        row.split_whitespace().collect::<Vec<_>>()[2..]
            == [
                "kubernetes.io/kube-apiserver-client",
                "kubernetes-admin",
                "60m",
                "Pending"
            ],
        "row: {row}"
    );
    let out = k.ok(&["certificate", "approve", "alice"]).await?;
    ensure!(out.contains("approved"), "{out}");
    let issued = wait_for(&k, "alice", "{.status.certificate}").await?;
    let certificate = base64::engine::general_purpose::STANDARD.decode(issued.trim())?;
    let (cert_file, key_file) = (dir.path().join("alice.crt"), dir.path().join("alice.key"));
    std::fs::write(&cert_file, &certificate)?;
    std::fs::write(&key_file, key)?;
    let mut args: Vec<String> = vec![
        "--kubeconfig=/dev/null".into(),
        format!("--server={url}"),
        format!("--certificate-authority={ca}"),
        format!("--client-certificate={}", cert_file.display()),
        format!("--client-key={}", key_file.display()),
    ];
    if k.minor() < 28 {
        // kubectl 1.27's `auth whoami` asks for v1alpha1/v1beta1 only: create the v1 review.
        let review = k.manifest(
            "review.yaml",
            "apiVersion: authentication.k8s.io/v1\nkind: SelfSubjectReview\n",
        )?;
        args.extend(["create", "-f", &review, "-o", "json"].map(String::from));
    } else {
        args.extend(["auth", "whoami", "-o", "json"].map(String::from));
    }
    let who = k
        .ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await?;
    let who: Value = serde_json::from_str(&who)?;
    ensure!(
        who["status"]["userInfo"]["username"] == "alice"
            && who["status"]["userInfo"]["groups"] == json!(["dev", "system:authenticated"]),
        "whoami: {who}"
    );
    let condition = k.ok(&["get", "csr", "alice", "--no-headers"]).await?;
    ensure!(condition.contains("Approved,Issued"), "{condition}");

    // Denied.
    submit(&k, "bob").await?;
    k.ok(&["certificate", "deny", "bob"]).await?;
    ensure!(
        k.jsonpath(&["get", "csr", "bob"], "{.status.conditions[0].type}")
            .await?
            == "Denied"
    );

    // Refusals in upstream's words.
    let (_, csr) = request("root", &["system:masters"])?;
    k.rejects(
        &["apply", "-f", &k.manifest("root.json", &manifest("root", &csr, &["client auth"], 3600))?],
        &["certificatesigningrequests.certificates.k8s.io \"root\" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"],
    )
    .await?;
    let (_, csr) = request("web", &[])?;
    k.ok(&[
        "apply",
        "-f",
        &k.manifest("web.json", &manifest("web", &csr, &["server auth"], 3600))?,
    ])
    .await?;
    k.ok(&["certificate", "approve", "web"]).await?;
    let failed = wait_for(
        &k,
        "web",
        "{.status.conditions[?(@.type==\"Failed\")].message}",
    )
    .await?;
    ensure!(
        failed == "invalid usage for client certificate: server auth",
        "{failed}"
    );
    let junk = json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "junk"},
        "spec": {"request": "aGk=", "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"], "expirationSeconds": 60}});
    k.rejects(
        &["apply", "-f", &k.manifest("junk.json", &junk.to_string())?],
        &[
            "spec.request: Invalid value: []byte{0x68, 0x69}: PEM block type must be CERTIFICATE REQUEST",
            "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)",
        ],
    )
    .await?;

    // `approval` answers GET and PATCH too, and discovery says so.
    let got: Value = serde_json::from_str(
        &k.ok(&[
            "get",
            "--raw",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/alice/approval",
        ])
        .await?,
    )?;
    ensure!(
        got["kind"] == "CertificateSigningRequest" && got["metadata"]["name"] == "alice",
        "GET approval: {got}"
    );
    let list: Value = serde_json::from_str(
        &k.ok(&["get", "--raw", "/apis/certificates.k8s.io/v1"])
            .await?,
    )?;
    let approval = list["resources"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|r| r["name"] == "certificatesigningrequests/approval")
        })
        .context("approval listed")?;
    ensure!(
        approval["verbs"] == json!(["get", "patch", "update"]),
        "{approval}"
    );
    submit(&k, "carol").await?;
    let row = k.ok(&["get", "csr", "carol", "--no-headers"]).await?;
    ensure!(row.trim_end().ends_with("Pending"), "row: {row}");
    if k.minor() < 33 {
        // kubectl 1.27's `patch --subresource` takes `status` and `scale` only.
        k.ok(&["certificate", "deny", "carol"]).await?;
    } else {
        k.ok(&[
        "patch",
        "csr",
        "carol",
        "--subresource=approval",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Denied","status":"True","reason":"ByPatch","message":"no"}]}}"#,
    ])
    .await?;
    }
    let row = k.ok(&["get", "csr", "carol", "--no-headers"]).await?;
    ensure!(row.trim_end().ends_with("Denied"), "row: {row}");

    // jane's own request records her; she may update approvals but not approve for the signer.
    k.ok(&[
        "create",
        "clusterrole",
        "csr-approver",
        "--verb=get,list,create,update",
        "--resource=certificatesigningrequests,certificatesigningrequests/approval",
    ])
    .await?;
    k.ok(&[
        "create",
        "clusterrolebinding",
        "jane-csr",
        "--clusterrole=csr-approver",
        "--user=jane",
    ])
    .await?;
    let (_, csr) = request("jane", &[])?;
    let file = k.manifest("jane.json", &manifest("jane", &csr, &["client auth"], 3600))?;
    let args = as_jane(&["apply", "-f", &file]);
    k.ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await?;
    let spec: Value = serde_json::from_str(&k.jsonpath(&["get", "csr", "jane"], "{.spec}").await?)?;
    ensure!(
        spec["username"] == "jane"
            && spec["uid"] == "1001"
            && spec["groups"] == json!(["devs", "ops", "system:authenticated"]),
        "jane's request: {spec}"
    );
    let args = as_jane(&["certificate", "approve", "jane"]);
    k.rejects(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &["user not permitted to approve requests with signerName \"kubernetes.io/kube-apiserver-client\""],
    )
    .await?;
    // kubectl cannot `create clusterrole` for `signers` (not a served resource): a manifest.
    let signer_role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "client-signer-approver"},
        "rules": [{"apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
            "resourceNames": ["kubernetes.io/kube-apiserver-client"], "verbs": ["approve"]}]});
    k.ok(&[
        "apply",
        "-f",
        &k.manifest("signer-role.json", &signer_role.to_string())?,
    ])
    .await?;
    k.ok(&[
        "create",
        "clusterrolebinding",
        "jane-signer",
        "--clusterrole=client-signer-approver",
        "--user=jane",
    ])
    .await?;
    let args = as_jane(&["certificate", "approve", "jane"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        // The authorizer's view catches up with the new binding.
        let out = k
            .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        if out.success {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "jane still refused: {}",
            out.stderr
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for(&k, "jane", "{.status.certificate}").await?;
    check_no_certificate_without_signing(&k, dir.path()).await
}

/// An administrator may write `status.certificate` (they may `sign`), but only PEM
/// certificates, and only once.
async fn check_no_certificate_without_signing(k: &Kubectl, dir: &Path) -> Result<()> {
    let mut bob: Value = serde_json::from_str(&k.ok(&["get", "csr", "bob", "-o", "json"]).await?)?;
    bob["status"]["certificate"] = json!(base64::engine::general_purpose::STANDARD.encode("junk"));
    let file = dir.join("bob-status.json");
    std::fs::write(&file, bob.to_string())?;
    let out = k
        .run(&[
            "replace",
            "--subresource=status",
            "-f",
            file.to_str().context("path")?,
        ])
        .await?;
    // kubectl 1.27 has no --subresource for replace; 1.33 reaches the server.
    if out.success || out.stderr.contains("unknown flag") {
        ensure!(!out.success, "a junk certificate was stored");
        return Ok(());
    }
    ensure!(
        out.stderr
            .contains("must contain at least one CERTIFICATE PEM block"),
        "{}",
        out.stderr
    );
    Ok(())
}
