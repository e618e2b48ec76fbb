//! `kubeforge new`, `kubeforge create api` and `kubeforge create webhook`, end to end: scaffold a
//! project with two APIs in two groups and webhooks for one into a temp dir, depending on this
//! checkout by path; check it is formatted and clippy-clean; run its own tests (each starts an
//! API server in process, the webhook test its webhook server too); and apply what its
//! `manifests` command prints — first `kubectl apply --dry-run=server`, then for real, then its
//! samples — against an in-process server.
//!
//! The project builds in the workspace's target dir with the workspace's profile, so the
//! dependency graph compiled for this workspace is reused rather than rebuilt.

mod kubectl_support;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kubectl_support::kubectl_binary;
use kubeforge_apiserver::ApiServer;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The workspace's root and target dir (`CARGO_TARGET_TMPDIR` is `<target>/tmp`).
fn workspace() -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target tmp dir is in the target dir")
        .to_path_buf();
    (root.canonicalize().expect("the workspace root"), target)
}

fn kubeforge(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running kubeforge")
}

fn succeeds(what: &str, output: Output) -> Result<Output> {
    if !output.status.success() {
        bail!(
            "{what} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// `cargo ARGS` in the generated project, in the workspace's target dir.
fn cargo(project: &Path, target: &Path, args: &[&str]) -> Result<Output> {
    let started = Instant::now();
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .context("running cargo")?;
    eprintln!("cargo {}: {:.1?}", args.join(" "), started.elapsed());
    succeeds(&format!("cargo {}", args.join(" ")), output)
}

/// Every file under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn bad_names_and_existing_apis_are_refused_and_nothing_is_written() -> Result<()> {
    let (root, _) = workspace();
    let tmp = tempfile::tempdir()?;
    let refused = kubeforge(tmp.path(), &["new", "Guest_Book"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("invalid project name \"Guest_Book\": must be a DNS-1123 label"),
        "{stderr}"
    );
    assert!(tree(tmp.path()).is_empty(), "{:?}", tree(tmp.path()));

    let path = tmp.path().join("guestbook");
    let path_arg = path.to_str().unwrap();
    let root_arg = root.to_str().unwrap();
    succeeds(
        "new",
        kubeforge(
            tmp.path(),
            &[
                "new",
                "guestbook",
                "--path",
                path_arg,
                "--kubeforge-path",
                root_arg,
            ],
        ),
    )?;
    let before = tree(&path);
    for (args, message) in [
        (
            vec!["--group", "Crew", "--version", "v1", "--kind", "Captain"],
            "invalid group \"Crew\"",
        ),
        (
            vec!["--group", "crew", "--version", "1", "--kind", "Captain"],
            "invalid version \"1\"",
        ),
        (
            vec!["--group", "crew", "--version", "v1", "--kind", "captain"],
            "invalid kind \"captain\": must be UpperCamelCase",
        ),
        (
            vec!["--group", "crew", "--version", "v1", "--kind", "Type"],
            "invalid kind \"Type\"",
        ),
    ] {
        let output = kubeforge(&path, &[&["create", "api"][..], &args].concat());
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(tree(&path), before, "{args:?} wrote files");
    }

    let captain = [
        "create",
        "api",
        "--group",
        "crew",
        "--version",
        "v1",
        "--kind",
        "Captain",
    ];
    succeeds("create api", kubeforge(&path, &captain))?;
    let after = tree(&path);
    let project = std::fs::read_to_string(path.join("PROJECT"))?;
    let again = kubeforge(&path, &captain);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("the API crew.example.com/v1, Kind=Captain already exists in this project (see PROJECT); pass --force"),
        "{stderr}"
    );
    assert_eq!(tree(&path), after);
    // --force scaffolds again: the same files, the same record.
    std::fs::write(path.join("src/controller/captain.rs"), "edited")?;
    succeeds(
        "create api --force",
        kubeforge(&path, &[&captain[..], &["--force"]].concat()),
    )?;
    assert_eq!(tree(&path), after);
    assert_eq!(std::fs::read_to_string(path.join("PROJECT"))?, project);
    assert!(
        std::fs::read_to_string(path.join("src/controller/captain.rs"))?
            .contains("pub fn controller")
    );
    // Outside a project, `create api` says where it looked.
    let outside = kubeforge(tmp.path(), &captain);
    assert!(String::from_utf8_lossy(&outside.stderr).contains("no PROJECT file in"));

    // Webhooks: for a kind the project created, with at least one of the two, once.
    let webhook = |kind: &str, flags: &[&str]| {
        let gvk = ["--group", "crew", "--version", "v1", "--kind", kind];
        kubeforge(&path, &[&["create", "webhook"][..], &gvk, flags].concat())
    };
    for (kind, flags, message) in [
        (
            "Admiral",
            &["--defaulting"][..],
            "no API found for crew.example.com/v1, Kind Admiral: run `kubeforge create api` first",
        ),
        (
            "Captain",
            &[][..],
            "kubeforge create webhook requires at least one of --defaulting, \
             --programmatic-validation and --conversion to be true",
        ),
    ] {
        let output = webhook(kind, flags);
        assert!(!output.status.success(), "{kind} {flags:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{kind} {flags:?}: {stderr}");
        assert_eq!(tree(&path), after, "{kind} {flags:?} wrote files");
    }
    succeeds("create webhook", webhook("Captain", &["--defaulting"]))?;
    let with_webhook = tree(&path);
    for file in ["src/webhook/captain.rs", "tests/captain_webhook.rs"] {
        assert!(with_webhook.contains(&file.to_owned()), "{file}");
    }
    assert!(std::fs::read_to_string(path.join("PROJECT"))?.contains("    defaulting: true\n"));
    let again = webhook("Captain", &["--defaulting"]);
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("defaulting webhook already exists for this resource; pass --force")
    );
    let validation = webhook("Captain", &["--programmatic-validation"]);
    assert!(
        String::from_utf8_lossy(&validation.stderr)
            .contains("captain.rs already exists; pass --force")
    );
    assert_eq!(tree(&path), with_webhook);
    succeeds(
        "create webhook --force",
        webhook("Captain", &["--programmatic-validation", "--force"]),
    )?;
    assert!(
        std::fs::read_to_string(path.join("PROJECT"))?
            .contains("  webhooks:\n    defaulting: true\n    validation: true\n")
    );

    // Conversion: between versions of the kind that exist, v1 the hub.
    let with_webhooks = tree(&path);
    let only = webhook("Captain", &["--conversion", "--force"]);
    assert!(
        String::from_utf8_lossy(&only.stderr).contains(
            "crew.example.com/v1, Kind Captain is the only version of its kind: a conversion \
             webhook converts between versions"
        ),
        "{only:?}"
    );
    assert_eq!(tree(&path), with_webhooks);
    let v2 = [
        "create",
        "api",
        "--group",
        "crew",
        "--version",
        "v2",
        "--kind",
        "Captain",
        "--controller=false",
    ];
    succeeds("create api v2", kubeforge(&path, &v2))?;
    let with_v2 = tree(&path);
    let missing = webhook("Captain", &["--conversion", "--spoke", "v3", "--force"]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains(
            "no API found for crew.example.com/v3, Kind Captain: a spoke version must exist"
        ),
        "{missing:?}"
    );
    let unasked = webhook("Captain", &["--spoke", "v2"]);
    assert!(!unasked.status.success(), "--spoke without --conversion");
    assert_eq!(tree(&path), with_v2);
    succeeds(
        "create webhook --conversion",
        webhook("Captain", &["--conversion", "--spoke", "v2", "--force"]),
    )?;
    let record = std::fs::read_to_string(path.join("PROJECT"))?;
    assert!(
        record.contains("    validation: true\n    conversion: true\n    spoke:\n    - v2\n"),
        "{record}"
    );
    let with_conversion = tree(&path);
    for file in [
        "src/api/crew_v2/captain_conversion.rs",
        "tests/captain_conversion.rs",
        "tests/captain_webhook.rs",
    ] {
        assert!(with_conversion.contains(&file.to_owned()), "{file}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaffolded_project_builds_passes_its_tests_and_deploys() -> Result<()> {
    let (root, target) = workspace();
    let tmp = tempfile::tempdir()?;
    let project = tmp.path().join("guestbook");
    let started = Instant::now();
    succeeds(
        "new",
        kubeforge(
            tmp.path(),
            &[
                "new",
                "guestbook",
                "--domain",
                "example.com",
                "--path",
                project.to_str().unwrap(),
                "--kubeforge-path",
                root.to_str().unwrap(),
            ],
        ),
    )?;
    succeeds(
        "create api Captain",
        kubeforge(
            &project,
            &[
                "create",
                "api",
                "--group",
                "crew",
                "--version",
                "v1",
                "--kind",
                "Captain",
            ],
        ),
    )?;
    succeeds(
        "create api Frigate",
        kubeforge(
            &project,
            &[
                "create",
                "api",
                "--group",
                "ship",
                "--version",
                "v1beta1",
                "--kind",
                "Frigate",
                "--namespaced=false",
            ],
        ),
    )?;
    // A second version of Captain, converted by the webhook (v1, the hub, is stored).
    succeeds(
        "create api Captain v2",
        kubeforge(
            &project,
            &[
                "create",
                "api",
                "--group",
                "crew",
                "--version",
                "v2",
                "--kind",
                "Captain",
                "--controller=false",
            ],
        ),
    )?;
    succeeds(
        "create webhook Captain",
        kubeforge(
            &project,
            &[
                "create",
                "webhook",
                "--group",
                "crew",
                "--version",
                "v1",
                "--kind",
                "Captain",
                "--defaulting",
                "--programmatic-validation",
                "--conversion",
                "--spoke",
                "v2",
            ],
        ),
    )?;
    eprintln!("scaffolded in {:.1?}", started.elapsed());
    let toml = std::fs::read_to_string(project.join("Cargo.toml"))?;
    assert!(
        toml.contains(&format!(
            "kubeforge-runtime = {{ path = {:?} }}",
            root.join("crates/runtime")
        )),
        "{toml}"
    );

    cargo(&project, &target, &["fmt", "--check"])?;
    cargo(
        &project,
        &target,
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    )?;
    let tests = cargo(&project, &target, &["test"])?;
    let stdout = String::from_utf8_lossy(&tests.stdout);
    for test in [
        "captain_gets_its_config_map_and_a_ready_status",
        "frigate_gets_its_config_map_and_a_ready_status",
        "captain_webhooks_default_and_validate",
        "captain_converts_between_v1_and_v2",
        "api::crew_v2::captain_conversion::tests::v2_round_trips_through_v1",
        "api::crew_v2::captain_conversion::tests::v1_round_trips_through_v2",
    ] {
        assert!(stdout.contains(&format!("test {test} ... ok")), "{stdout}");
    }
    eprintln!("new to passing cargo test: {:.1?}", started.elapsed());

    let manifests = cargo(&project, &target, &["run", "--quiet", "--", "manifests"])?;
    let manifests_path = tmp.path().join("manifests.yaml");
    std::fs::write(&manifests_path, &manifests.stdout)?;
    // Captain's CRD serves v1 and v2, stores v1 and calls the webhook Service to convert.
    let yaml = String::from_utf8_lossy(&manifests.stdout);
    for wanted in [
        "cert-manager.io/inject-ca-from: guestbook-system/guestbook-serving-cert",
        "strategy: Webhook",
        "path: /convert",
    ] {
        assert!(yaml.contains(wanted), "{wanted} not in\n{yaml}");
    }
    assert_eq!(yaml.matches("storage: true").count(), 2, "{yaml}");
    cargo(
        &project,
        &target,
        &["run", "--quiet", "--", "manifests", "--out-dir", "config"],
    )?;
    for file in [
        "config/crd/crd.yaml",
        "config/rbac/rbac.yaml",
        "config/manager/manager.yaml",
        "config/webhook/webhook.yaml",
        "config/certmanager/certmanager.yaml",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }

    let Some(kubectl) = kubectl_binary() else {
        return Ok(());
    };
    let server = ApiServer::builder().in_memory().start().await?;
    let kubeconfig = tmp.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    let kubectl_apply = |args: &[&str]| -> Result<String> {
        let output = Command::new(&kubectl)
            .arg("apply")
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", tmp.path())
            .output()?;
        Ok(
            String::from_utf8_lossy(&succeeds(&format!("kubectl apply {args:?}"), output)?.stdout)
                .into_owned(),
        )
    };
    // A server-side dry run admits namespaced objects only into a namespace that exists.
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "guestbook-system"}}))?;
    Api::<Namespace>::all(server.client())
        .create(&PostParams::default(), &namespace)
        .await?;
    let dry = kubectl_apply(&["--dry-run=server", "-f", manifests_path.to_str().unwrap()])?;
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/captains.crew.example.com created (server dry run)",
        "customresourcedefinition.apiextensions.k8s.io/frigates.ship.example.com created (server dry run)",
        "clusterrole.rbac.authorization.k8s.io/guestbook-controller-manager created (server dry run)",
        "deployment.apps/guestbook-controller-manager created (server dry run)",
        "service/guestbook-webhook-service created (server dry run)",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/guestbook-mutating-webhook-configuration created (server dry run)",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/guestbook-validating-webhook-configuration created (server dry run)",
    ] {
        assert!(dry.contains(object), "{object} not in\n{dry}");
    }
    // For real, then the samples against the installed CRDs (schema, CEL rule and all).
    kubectl_apply(&["--server-side", "-f", manifests_path.to_str().unwrap()])?;
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    for name in ["captains.crew.example.com", "frigates.ship.example.com"] {
        tokio::time::timeout(
            Duration::from_secs(10),
            await_condition(crds.clone(), name, conditions::is_crd_established()),
        )
        .await??;
    }
    // The webhook configurations are in force and fail closed: with no operator behind their
    // Service, a Captain is refused; a Frigate (no webhooks) is created.
    let frigate = project.join("config/samples/ship_v1beta1_frigate.yaml");
    let samples = kubectl_apply(&["-f", frigate.to_str().unwrap()])?;
    assert!(
        samples.contains("frigate.ship.example.com/frigate-sample created"),
        "{samples}"
    );
    let captain = project.join("config/samples/crew_v1_captain.yaml");
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let output = Command::new(&kubectl)
            .args(["apply", "-f", captain.to_str().unwrap()])
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", tmp.path())
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        // The API server loads the configurations from its watch of them.
        if !output.status.success() || Instant::now() > deadline {
            break stderr;
        }
        Command::new(&kubectl)
            .args(["delete", "-f", captain.to_str().unwrap()])
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", tmp.path())
            .output()?;
    };
    assert!(
        refused.contains(
            "failed calling webhook \"mcaptain-v1.crew.example.com\": failed to call webhook: \
             Post \"https://guestbook-webhook-service.guestbook-system.svc:443/mutate-crew-example-com-v1-captain"
        ),
        "{refused}"
    );
    server.shutdown().await;
    Ok(())
}
