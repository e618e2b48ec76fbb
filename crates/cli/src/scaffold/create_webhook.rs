//! `kubeforge create webhook`: a defaulter and/or a validator for a kind the project created,
//! their test through the API server, and the kind's `webhooks` record (kubebuilder's
//! `create webhook`; conversion webhooks are not scaffolded yet).

use super::listing::add_listings;
use super::names;
use super::project::{ApiResource, Project, Webhooks};
use super::staging::Files;
use super::template::{Vars, render};
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};

/// `kubeforge create webhook` options.
#[derive(Args, Debug)]
pub struct CreateWebhookArgs {
    /// The API group, without the domain (`crew` for `crew.example.com`).
    #[arg(long)]
    pub group: String,
    /// The API version (`v1`, `v1alpha1`, `v2beta3`).
    #[arg(long)]
    pub version: String,
    /// The kind, created before with `kubeforge create api`.
    #[arg(long)]
    pub kind: String,
    /// Scaffold a defaulter: a mutating webhook.
    #[arg(long)]
    pub defaulting: bool,
    /// Scaffold a validator: a validating webhook.
    #[arg(long)]
    pub programmatic_validation: bool,
    /// Scaffold again over webhooks that exist, overwriting their files.
    #[arg(long)]
    pub force: bool,
    /// The project (default: the one the current directory is in).
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

/// The files that belong to one kind's webhooks (not the listings).
pub struct WebhookFiles {
    /// The defaulter and validator.
    pub webhook: PathBuf,
    /// Their test through the API server.
    pub test: PathBuf,
}

impl WebhookFiles {
    /// Where `resource`'s webhook files go.
    pub fn of(resource: &ApiResource) -> Self {
        let snake = names::snake(&resource.kind);
        WebhookFiles {
            webhook: PathBuf::from(format!("src/webhook/{snake}.rs")),
            test: PathBuf::from(format!("tests/{snake}_webhook.rs")),
        }
    }
}

/// The module webhooks are declared with, written by `kubeforge new` since webhooks exist.
const ADMISSION: &str = "src/admission.rs";

/// Renders the webhook files and the project's new listings (without writing anything).
pub fn files(root: &Path, mut project: Project, args: &CreateWebhookArgs) -> anyhow::Result<Files> {
    names::group(&args.group, &project.domain)?;
    names::version(&args.version)?;
    names::kind(&args.kind)?;
    if !args.defaulting && !args.programmatic_validation {
        bail!(
            "kubeforge create webhook requires at least one of --defaulting and \
             --programmatic-validation to be true"
        );
    }
    let Some(index) = project.resources.iter().position(|r| {
        r.group == args.group && r.version == args.version && r.kind == args.kind && r.api
    }) else {
        bail!(
            "no API found for {}/{}, Kind {}: run `kubeforge create api` first",
            names::full_group(&args.group, &project.domain),
            args.version,
            args.kind
        );
    };
    if !root.join(ADMISSION).is_file() {
        bail!(
            "{ADMISSION} is missing: this project was created by a kubeforge without webhooks \
             (its src/lib.rs, src/main.rs and tests/common/ do not serve them); create a new \
             project and move the APIs over"
        );
    }
    let resource = &project.resources[index];
    // One webhook module and test per kind name: `src/webhook/<kind>.rs`.
    if let Some(other) = project
        .resources
        .iter()
        .find(|r| r.webhooks.is_some() && r.kind == resource.kind && !r.same_gvk(resource))
    {
        bail!(
            "kind {} already has webhooks (for {}/{}), in src/webhook/{}.rs: one kind name has \
             one webhook module",
            resource.kind,
            other.full_group(),
            other.version,
            names::snake(&resource.kind)
        );
    }
    let paths = WebhookFiles::of(resource);
    let recorded = resource.webhooks.clone();
    let wanted = Webhooks {
        defaulting: args.defaulting,
        validation: args.programmatic_validation,
        webhook_version: Webhooks::VERSION.to_owned(),
    };
    if !args.force {
        if let Some(recorded) = &recorded {
            // kubebuilder's messages; adding the other webhook rewrites the kind's file.
            if wanted.defaulting && recorded.defaulting {
                bail!(
                    "defaulting webhook already exists for this resource; pass --force to scaffold it again"
                );
            }
            if wanted.validation && recorded.validation {
                bail!(
                    "validation webhook already exists for this resource; pass --force to scaffold it again"
                );
            }
        }
        for path in [&paths.webhook, &paths.test] {
            if root.join(path).exists() {
                bail!(
                    "{} already exists; pass --force to scaffold it again (with the webhooks \
                     recorded and the ones asked for), overwriting it",
                    root.join(path).display()
                );
            }
        }
    }
    // What the files hold: the webhooks asked for, and those recorded before (never dropped).
    let webhooks = Webhooks {
        defaulting: wanted.defaulting || recorded.as_ref().is_some_and(|r| r.defaulting),
        validation: wanted.validation || recorded.as_ref().is_some_and(|r| r.validation),
        ..wanted
    };

    let vars = vars(&project, resource, &webhooks);
    let mut files = Files::default();
    for (path, template) in [
        (
            &paths.webhook,
            include_str!("../../templates/webhook/webhook.rs.tmpl"),
        ),
        (
            &paths.test,
            include_str!("../../templates/webhook/test.rs.tmpl"),
        ),
    ] {
        let text =
            render(template, &vars).with_context(|| format!("rendering {}", path.display()))?;
        files.add(path, text);
    }
    project.resources[index].webhooks = Some(webhooks);
    add_listings(&project, &mut files);
    files.add(super::project::FILE, project.to_text()?);
    Ok(files)
}

/// `kubeforge create webhook`.
pub fn create_webhook(args: &CreateWebhookArgs) -> anyhow::Result<()> {
    let (root, project) = Project::find(&args.project)?;
    let files = files(&root, project, args)?;
    files.update_project(&root)?;
    for path in files.paths() {
        println!("wrote {}", path.display());
    }
    println!(
        "next: cargo test, then `cargo run -- manifests --out-dir config` (the webhooks need a \
         serving certificate in the cluster: see config/certmanager)"
    );
    Ok(())
}

/// The values the webhook templates use.
fn vars(project: &Project, resource: &ApiResource, webhooks: &Webhooks) -> Vars {
    let snake = names::snake(&resource.kind);
    let mut vars = Vars::default();
    vars.set("crate_name", names::crate_name(&project.project_name))
        .set("full_group", resource.full_group())
        .set("version", &resource.version)
        .set("kind", &resource.kind)
        .set("kind_lower", resource.kind.to_ascii_lowercase())
        .set("kind_snake", &snake)
        .set("kind_var", &snake)
        .set("plural_var", names::plural(&snake))
        .set("module", resource.module())
        .set(
            "checks",
            match (webhooks.defaulting, webhooks.validation) {
                (true, true) => "default_and_validate",
                (true, false) => "default",
                _ => "validate",
            },
        )
        .flag("namespaced", resource.namespaced)
        .flag("defaulting", webhooks.defaulting)
        .flag("validation", webhooks.validation);
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(kind: &str, defaulting: bool, validation: bool) -> CreateWebhookArgs {
        CreateWebhookArgs {
            group: "crew".into(),
            version: "v1".into(),
            kind: kind.into(),
            defaulting,
            programmatic_validation: validation,
            force: false,
            project: PathBuf::from("."),
        }
    }

    /// A project (on disk: `src/admission.rs`) with the API crew/v1 Captain.
    fn project() -> (tempfile::TempDir, Project) {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("src")).unwrap();
        std::fs::write(root.path().join(ADMISSION), "").unwrap();
        let mut project = Project::new("guestbook", "example.com");
        project.resources.push(ApiResource {
            group: "crew".into(),
            domain: "example.com".into(),
            version: "v1".into(),
            kind: "Captain".into(),
            plural: "captains".into(),
            namespaced: true,
            api: true,
            controller: true,
            webhooks: None,
        });
        (root, project)
    }

    fn recorded(files: &Files) -> Project {
        serde_norway::from_str(files.text("PROJECT").unwrap()).unwrap()
    }

    #[test]
    fn both_webhooks_render_with_their_record_and_listing() {
        let (root, project) = project();
        let files = files(root.path(), project, &args("Captain", true, true)).unwrap();
        let webhook = files.text("src/webhook/captain.rs").unwrap();
        for wanted in [
            "impl Defaulter<Captain> for CaptainDefaulter",
            "impl Validator<Captain> for CaptainValidator",
            "use crate::admission::{Webhooks, invalid};",
            "admission webhook \"vcaptain-v1.crew.example.com\" denied the request",
        ] {
            assert!(webhook.contains(wanted), "{wanted} not in\n{webhook}");
        }
        let test = files.text("tests/captain_webhook.rs").unwrap();
        assert!(
            test.contains("Api::namespaced(env.client(), \"default\")"),
            "{test}"
        );
        assert!(test.contains("\"trimmed\""), "{test}");
        assert!(test.contains("\"two-lines\""), "{test}");
        assert!(
            files
                .text("src/webhook/mod.rs")
                .unwrap()
                .contains("captain::register(&mut webhooks);")
        );
        let text = files.text("PROJECT").unwrap();
        assert!(
            text.contains(
                "  webhooks:\n    defaulting: true\n    validation: true\n    webhookVersion: v1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn one_webhook_renders_without_the_other() {
        let (root, project) = project();
        let files = files(root.path(), project.clone(), &args("Captain", true, false)).unwrap();
        let webhook = files.text("src/webhook/captain.rs").unwrap();
        assert!(webhook.contains("CaptainDefaulter"), "{webhook}");
        assert!(!webhook.contains("Validator"), "{webhook}");
        assert!(!webhook.contains("invalid"), "{webhook}");
        let test = files.text("tests/captain_webhook.rs").unwrap();
        assert!(!test.contains("two-lines"), "{test}");
        assert!(
            test.contains("async fn captain_webhooks_default()"),
            "{test}"
        );

        let files = super::files(root.path(), project, &args("Captain", false, true)).unwrap();
        let webhook = files.text("src/webhook/captain.rs").unwrap();
        assert!(!webhook.contains("Defaulter"), "{webhook}");
        assert!(webhook.contains("CaptainValidator"), "{webhook}");
        let record = recorded(&files).resources[0].webhooks.clone().unwrap();
        assert!(!record.defaulting && record.validation);
    }

    #[test]
    fn refusals_come_before_anything_renders() {
        let (root, project) = project();
        let message = |result: anyhow::Result<Files>| result.err().unwrap().to_string();

        let neither = message(files(
            root.path(),
            project.clone(),
            &args("Captain", false, false),
        ));
        assert_eq!(
            neither,
            "kubeforge create webhook requires at least one of --defaulting and \
             --programmatic-validation to be true"
        );
        let no_api = message(files(
            root.path(),
            project.clone(),
            &args("Admiral", true, false),
        ));
        assert_eq!(
            no_api,
            "no API found for crew.example.com/v1, Kind Admiral: run `kubeforge create api` first"
        );
        let bad_kind = message(files(
            root.path(),
            project.clone(),
            &args("admiral", true, false),
        ));
        assert!(
            bad_kind.starts_with("invalid kind \"admiral\""),
            "{bad_kind}"
        );

        // Recorded: the same webhook again is refused, the other one needs --force (it rewrites
        // the kind's file), and --force keeps what was recorded.
        let created = files(root.path(), project.clone(), &args("Captain", true, false)).unwrap();
        let project = recorded(&created);
        let again = message(files(
            root.path(),
            project.clone(),
            &args("Captain", true, false),
        ));
        assert_eq!(
            again,
            "defaulting webhook already exists for this resource; pass --force to scaffold it again"
        );
        std::fs::create_dir_all(root.path().join("src/webhook")).unwrap();
        std::fs::write(root.path().join("src/webhook/captain.rs"), "// edited").unwrap();
        let other = message(files(
            root.path(),
            project.clone(),
            &args("Captain", false, true),
        ));
        assert!(
            other.contains("captain.rs already exists; pass --force"),
            "{other}"
        );
        let mut force = args("Captain", false, true);
        force.force = true;
        let forced = files(root.path(), project, &force).unwrap();
        let record = recorded(&forced).resources[0].webhooks.clone().unwrap();
        assert!(record.defaulting && record.validation, "{record:?}");
        let webhook = forced.text("src/webhook/captain.rs").unwrap();
        assert!(webhook.contains("CaptainDefaulter") && webhook.contains("CaptainValidator"));

        // Another version of a kind with webhooks would need the same module.
        let mut two_versions = recorded(&forced);
        let mut v2 = two_versions.resources[0].clone();
        v2.version = "v2".into();
        v2.webhooks = None;
        two_versions.resources.push(v2);
        let mut second = args("Captain", true, false);
        second.version = "v2".into();
        let taken = message(files(root.path(), two_versions, &second));
        assert_eq!(
            taken,
            "kind Captain already has webhooks (for crew.example.com/v1), in \
             src/webhook/captain.rs: one kind name has one webhook module"
        );

        // A project from before webhooks has no src/admission.rs to build them on.
        std::fs::remove_file(root.path().join(ADMISSION)).unwrap();
        let (_, fresh) = self::project();
        let old = message(files(root.path(), fresh, &args("Captain", true, false)));
        assert!(old.starts_with("src/admission.rs is missing"), "{old}");
    }
}
