//! `deploy/` holds what `kubeforge manifests` prints; this fails when the two differ, so the
//! checked-in manifests can never drift from the operators' Rust types and declarations.

use std::path::PathBuf;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

#[test]
fn deploy_manifests_are_up_to_date() {
    for operator in kubeforge_operators::OPERATORS {
        let path = deploy_dir().join(format!("{}.yaml", operator.name));
        let generated = kubeforge_operators::manifests::yaml(
            operator,
            kubeforge_operators::manifests::DEFAULT_IMAGE,
        );
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "{} is stale; regenerate it with\n  cargo run -- manifests --operator {} > deploy/{}.yaml",
            path.display(),
            operator.name,
            operator.name
        );
    }
}

#[test]
fn manifests_command_prints_what_deploy_holds() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["manifests", "--operator", "foo"])
        .output()
        .expect("running kubeforge manifests");
    assert!(output.status.success());
    let on_disk = std::fs::read_to_string(deploy_dir().join("foo.yaml")).unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(&output.stdout), on_disk);

    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["manifests", "--operator", "bar"])
        .output()
        .expect("running kubeforge manifests");
    assert!(!unknown.status.success());
    assert!(
        unknown.stdout.is_empty(),
        "nothing printed for a bad operator name"
    );
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown operator \"bar\"; known operators: foo, codis, network, service-detector, healthcheckpolicy, containerimagepolicy, resourcespolicy, eventhorizon"),
        "{stderr}"
    );
}
