//! `kubeforge new`: a Cargo project laid out for an operator (kubebuilder's `init`).

use super::listing::add_listings;
use super::names;
use super::project::Project;
use super::staging::Files;
use super::template::{Vars, render};
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};

/// `kubeforge new` options.
#[derive(Args, Debug)]
pub struct NewArgs {
    /// The project's name: its crate, binary, namespace (`NAME-system`) and objects.
    pub name: String,
    /// The domain of its API groups (`GROUP.DOMAIN`).
    #[arg(long, default_value = "example.com")]
    pub domain: String,
    /// Where to create it (default: `./NAME`); must not exist or be empty.
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Depend on the kubeforge crates of this local checkout (by path) instead of by version.
    #[arg(long)]
    pub kubeforge_path: Option<PathBuf>,
}

/// The version of the kubeforge crates a project depends on without `--kubeforge-path`.
const KUBEFORGE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The kubeforge crates a generated project uses, and where they are in a checkout.
const KUBEFORGE_CRATES: [(&str, &str); 2] = [
    ("kubeforge-runtime", "crates/runtime"),
    ("kubeforge-apiserver", "crates/apiserver"),
];

/// Renders a project's files (without writing anything).
pub fn files(args: &NewArgs) -> anyhow::Result<Files> {
    names::project_name(&args.name)?;
    names::domain(&args.domain)?;
    let checkout = args.kubeforge_path.as_deref().map(checkout).transpose()?;
    let project = Project::new(&args.name, &args.domain);

    let mut vars = Vars::default();
    vars.set("project_name", &args.name)
        .set("crate_name", names::crate_name(&args.name))
        .set("domain", &args.domain);
    let dependency = |name: &str, dir: &str| match &checkout {
        Some(root) => format!("{name} = {{ path = {:?} }}", root.join(dir)),
        None => format!("{name} = \"{KUBEFORGE_VERSION}\""),
    };
    vars.set(
        "kubeforge_runtime",
        dependency(KUBEFORGE_CRATES[0].0, KUBEFORGE_CRATES[0].1),
    )
    .set(
        "kubeforge_apiserver",
        dependency(KUBEFORGE_CRATES[1].0, KUBEFORGE_CRATES[1].1),
    );
    // A checkout's crates are members of its workspace, built with its `[profile.dev]`; built
    // the same way here, they share compiled artifacts with it through a common target dir.
    let overrides = match &checkout {
        Some(_) => KUBEFORGE_CRATES
            .iter()
            .map(|(name, _)| {
                format!("\n[profile.dev.package.{name}]\ndebug = \"line-tables-only\"\n")
            })
            .collect(),
        None => String::new(),
    };
    vars.set("profile_overrides", overrides);

    let mut files = Files::default();
    for (path, template) in [
        (
            "Cargo.toml",
            include_str!("../../templates/project/Cargo.toml.tmpl"),
        ),
        (
            "README.md",
            include_str!("../../templates/project/README.md.tmpl"),
        ),
        (
            "Dockerfile",
            include_str!("../../templates/project/Dockerfile.tmpl"),
        ),
        (
            ".dockerignore",
            include_str!("../../templates/project/dockerignore.tmpl"),
        ),
        (
            ".gitignore",
            include_str!("../../templates/project/gitignore.tmpl"),
        ),
        (
            ".github/workflows/ci.yml",
            include_str!("../../templates/project/ci.yml.tmpl"),
        ),
        (
            "src/main.rs",
            include_str!("../../templates/project/main.rs.tmpl"),
        ),
        (
            "src/lib.rs",
            include_str!("../../templates/project/lib.rs.tmpl"),
        ),
        (
            "src/rbac.rs",
            include_str!("../../templates/project/rbac.rs.tmpl"),
        ),
        (
            "src/manifests.rs",
            include_str!("../../templates/project/manifests.rs.tmpl"),
        ),
        (
            "src/admission.rs",
            include_str!("../../templates/project/admission.rs.tmpl"),
        ),
        (
            "tests/common/mod.rs",
            include_str!("../../templates/project/test_env.rs.tmpl"),
        ),
    ] {
        let text = render(template, &vars).with_context(|| format!("rendering {path}"))?;
        files.add(path, text);
    }
    files.add("config/samples/.gitkeep", String::new());
    if let Some(root) = &checkout {
        // The checkout's lock file: the same dependency versions, so its compiled artifacts fit.
        let lock = std::fs::read_to_string(root.join("Cargo.lock"))
            .with_context(|| format!("reading {}", root.join("Cargo.lock").display()))?;
        files.add("Cargo.lock", lock);
    }
    add_listings(&project, &mut files);
    files.add(super::project::FILE, project.to_text()?);
    Ok(files)
}

/// `kubeforge new`.
pub fn new(args: &NewArgs) -> anyhow::Result<()> {
    let files = files(args)?;
    let dest = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    files.create_project(&dest)?;
    println!("created {} in {}", args.name, dest.display());
    println!("next:");
    println!("  cd {}", dest.display());
    println!("  kubeforge create api --group webapp --version v1 --kind Guestbook");
    println!("  cargo test");
    Ok(())
}

/// The absolute path of a kubeforge checkout, checked to hold the crates a project uses.
fn checkout(path: &Path) -> anyhow::Result<PathBuf> {
    let root = path
        .canonicalize()
        .with_context(|| format!("--kubeforge-path {}", path.display()))?;
    for (name, dir) in KUBEFORGE_CRATES {
        if !root.join(dir).join("Cargo.toml").is_file() {
            bail!(
                "--kubeforge-path {} is not a kubeforge checkout: {name} is not in {dir}/",
                path.display()
            );
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(kubeforge_path: Option<PathBuf>) -> NewArgs {
        NewArgs {
            name: "guestbook-operator".into(),
            domain: "example.com".into(),
            path: None,
            kubeforge_path,
        }
    }

    #[test]
    fn every_project_template_renders() {
        let files = files(&args(None)).unwrap();
        let toml = files.text("Cargo.toml").unwrap();
        assert!(toml.contains("name = \"guestbook-operator\""), "{toml}");
        assert!(
            toml.contains(&format!("kubeforge-runtime = \"{KUBEFORGE_VERSION}\"")),
            "{toml}"
        );
        assert!(
            !toml.contains("[profile.dev.package.kubeforge-runtime]"),
            "{toml}"
        );
        let main = files.text("src/main.rs").unwrap();
        assert!(
            main.contains("use guestbook_operator::{controller, manifests, webhook};"),
            "{main}"
        );
        let manifests = files.text("src/manifests.rs").unwrap();
        assert!(
            manifests.contains("\"guestbook-operator-system\""),
            "{manifests}"
        );
        assert!(files.text("Cargo.lock").is_none());
        assert!(
            files
                .text("PROJECT")
                .unwrap()
                .contains("projectName: guestbook-operator\n")
        );
        assert!(
            files
                .text("src/controller/mod.rs")
                .unwrap()
                .contains("Vec::new()")
        );
        assert!(
            files
                .text("src/webhook/mod.rs")
                .unwrap()
                .contains("let webhooks = Webhooks::default();")
        );
        assert!(
            files
                .text("src/admission.rs")
                .unwrap()
                .contains("pub struct Webhooks")
        );
    }

    #[test]
    fn a_checkout_is_used_by_path_with_its_lock_file_and_profile() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let files = files(&args(Some(root.clone()))).unwrap();
        let toml = files.text("Cargo.toml").unwrap();
        let runtime = root.canonicalize().unwrap().join("crates/runtime");
        assert!(
            toml.contains(&format!("kubeforge-runtime = {{ path = {runtime:?} }}")),
            "{toml}"
        );
        assert!(
            toml.contains(
                "[profile.dev.package.kubeforge-apiserver]\ndebug = \"line-tables-only\""
            ),
            "{toml}"
        );
        assert!(
            files
                .text("Cargo.lock")
                .unwrap()
                .contains("name = \"kube\"")
        );

        let not_a_checkout = super::files(&args(Some(root.join("docs")))).unwrap_err();
        assert!(
            not_a_checkout
                .to_string()
                .contains("is not a kubeforge checkout"),
            "{not_a_checkout}"
        );
    }
}
