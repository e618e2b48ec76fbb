//! `kubeforge create webhook`: a defaulter, a validator and/or a conversion webhook for a kind
//! the project created, their tests through the API server, and the kind's `webhooks` record
//! (kubebuilder's `create webhook`). With `--conversion`, `--version` is the hub and every
//! `--spoke` version (by default, every other version of the kind) gets its `Convertible`
//! implementation next to its type.

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
    /// Scaffold a conversion webhook, with `--version` as the hub.
    #[arg(long)]
    pub conversion: bool,
    /// The versions converted to and from the hub (repeat or separate with commas; default:
    /// every other version of the kind the project has).
    #[arg(long, value_delimiter = ',', requires = "conversion")]
    pub spoke: Vec<String>,
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
    /// The admission webhooks' test through the API server.
    pub test: PathBuf,
    /// The conversion webhook's test through the API server.
    pub conversion_test: PathBuf,
}

impl WebhookFiles {
    /// Where `resource`'s webhook files go.
    pub fn of(resource: &ApiResource) -> Self {
        let snake = names::snake(&resource.kind);
        WebhookFiles {
            webhook: PathBuf::from(format!("src/webhook/{snake}.rs")),
            test: PathBuf::from(format!("tests/{snake}_webhook.rs")),
            conversion_test: PathBuf::from(format!("tests/{snake}_conversion.rs")),
        }
    }

    /// Where a spoke version's conversion to and from the hub goes, next to its type.
    pub fn conversion(spoke: &ApiResource) -> PathBuf {
        PathBuf::from(format!(
            "src/api/{}/{}_conversion.rs",
            spoke.module(),
            names::snake(&spoke.kind)
        ))
    }
}

/// The module webhooks are declared with, written by `kubeforge new` since webhooks exist.
const ADMISSION: &str = "src/admission.rs";

/// Renders the webhook files and the project's new listings (without writing anything).
pub fn files(root: &Path, mut project: Project, args: &CreateWebhookArgs) -> anyhow::Result<Files> {
    names::group(&args.group, &project.domain)?;
    names::version(&args.version)?;
    names::kind(&args.kind)?;
    if !args.defaulting && !args.programmatic_validation && !args.conversion {
        bail!(
            "kubeforge create webhook requires at least one of --defaulting, \
             --programmatic-validation and --conversion to be true"
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
    let spokes = if args.conversion {
        spokes(&project, resource, &args.spoke)?
    } else {
        Vec::new()
    };
    let paths = WebhookFiles::of(resource);
    let recorded = resource.webhooks.clone();
    let wanted = Webhooks {
        defaulting: args.defaulting,
        validation: args.programmatic_validation,
        conversion: args.conversion,
        spoke: spokes.iter().map(|s| s.version.clone()).collect(),
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
            if wanted.conversion && recorded.conversion {
                bail!(
                    "conversion webhook already exists for this resource; pass --force to scaffold it again"
                );
            }
        }
        let conversions = spokes.iter().map(WebhookFiles::conversion);
        for path in [&paths.webhook, &paths.test, &paths.conversion_test]
            .into_iter()
            .cloned()
            .chain(conversions)
        {
            if root.join(&path).exists() {
                bail!(
                    "{} already exists; pass --force to scaffold it again (with the webhooks \
                     recorded and the ones asked for), overwriting it",
                    root.join(path).display()
                );
            }
        }
    }
    // What the files hold: the webhooks asked for, and those recorded before (never dropped).
    // The spokes asked for replace those recorded; without --conversion, they are kept.
    let (conversion, spokes) = match &recorded {
        Some(recorded) if !wanted.conversion && recorded.conversion => {
            (true, spokes_of(&project, resource, &recorded.spoke)?)
        }
        _ => (wanted.conversion, spokes),
    };
    let webhooks = Webhooks {
        defaulting: wanted.defaulting || recorded.as_ref().is_some_and(|r| r.defaulting),
        validation: wanted.validation || recorded.as_ref().is_some_and(|r| r.validation),
        conversion,
        spoke: spokes.iter().map(|s| s.version.clone()).collect(),
        ..wanted
    };

    let vars = vars(&project, resource, &webhooks, &spokes)?;
    let mut files = Files::default();
    let mut render_to = |path: &Path, template: &str, vars: &Vars| -> anyhow::Result<()> {
        let text =
            render(template, vars).with_context(|| format!("rendering {}", path.display()))?;
        files.add(path, text);
        Ok(())
    };
    render_to(
        &paths.webhook,
        include_str!("../../templates/webhook/webhook.rs.tmpl"),
        &vars,
    )?;
    if webhooks.defaulting || webhooks.validation {
        render_to(
            &paths.test,
            include_str!("../../templates/webhook/test.rs.tmpl"),
            &vars,
        )?;
    }
    if webhooks.conversion {
        for spoke in &spokes {
            render_to(
                &WebhookFiles::conversion(spoke),
                include_str!("../../templates/webhook/conversion.rs.tmpl"),
                &spoke_vars(&vars, resource, spoke),
            )?;
        }
        render_to(
            &paths.conversion_test,
            include_str!("../../templates/webhook/conversion_test.rs.tmpl"),
            &vars,
        )?;
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

/// The spoke versions of `hub` a conversion webhook converts: those `asked` for, each an API
/// of the same group and kind the project has, or every other version of the kind when none is.
fn spokes(
    project: &Project,
    hub: &ApiResource,
    asked: &[String],
) -> anyhow::Result<Vec<ApiResource>> {
    let others: Vec<&ApiResource> = project
        .resources
        .iter()
        .filter(|r| r.api && r.group == hub.group && r.kind == hub.kind && r.version != hub.version)
        .collect();
    if others.is_empty() {
        bail!(
            "{}/{}, Kind {} is the only version of its kind: a conversion webhook converts \
             between versions, so create another first (`kubeforge create api --group {} \
             --version <version> --kind {} --controller=false`), then name it with --spoke",
            hub.full_group(),
            hub.version,
            hub.kind,
            hub.group,
            hub.kind
        );
    }
    if asked.is_empty() {
        return Ok(others.into_iter().cloned().collect());
    }
    spokes_of(project, hub, asked)
}

/// The APIs of the versions `asked` for, as spokes of `hub`.
fn spokes_of(
    project: &Project,
    hub: &ApiResource,
    asked: &[String],
) -> anyhow::Result<Vec<ApiResource>> {
    let mut spokes: Vec<ApiResource> = Vec::new();
    for version in asked {
        names::version(version)?;
        if *version == hub.version {
            bail!(
                "--spoke {version} is the hub (--version): a spoke is another version of {}",
                hub.kind
            );
        }
        let Some(spoke) = project
            .resources
            .iter()
            .find(|r| r.api && r.group == hub.group && r.kind == hub.kind && r.version == *version)
        else {
            bail!(
                "no API found for {}/{version}, Kind {}: a spoke version must exist; create it \
                 with `kubeforge create api --group {} --version {version} --kind {} \
                 --controller=false` first",
                hub.full_group(),
                hub.kind,
                hub.group,
                hub.kind
            );
        };
        if !spokes.iter().any(|s| s.version == *version) {
            spokes.push(spoke.clone());
        }
    }
    Ok(spokes)
}

/// The values the webhook templates use.
fn vars(
    project: &Project,
    resource: &ApiResource,
    webhooks: &Webhooks,
    spokes: &[ApiResource],
) -> anyhow::Result<Vars> {
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
        .set(
            "spoke_chain",
            spokes
                .iter()
                .map(|s| {
                    format!(
                        "                .spoke::<crate::api::{}::{}>()",
                        s.module(),
                        s.kind
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .set(
            "spoke_files",
            spokes
                .iter()
                .map(|s| format!("`{}`", WebhookFiles::conversion(s).display()))
                .collect::<Vec<_>>()
                .join(", "),
        )
        .set("hub_version", &resource.version)
        .set("hub_module", resource.module())
        .flag("namespaced", resource.namespaced)
        .flag("defaulting", webhooks.defaulting)
        .flag("validation", webhooks.validation)
        .flag("admission", webhooks.defaulting || webhooks.validation)
        .flag("conversion", webhooks.conversion);
    let mut cases = Vec::new();
    for spoke in spokes {
        let case = render(
            include_str!("../../templates/webhook/conversion_test_case.rs.tmpl"),
            &spoke_vars(&vars, resource, spoke),
        )
        .context("rendering the conversion test")?;
        cases.push(case);
    }
    vars.set("cases", cases.join("\n"));
    Ok(vars)
}

/// `vars` with the spoke's version and module, for its conversion and its test.
fn spoke_vars(vars: &Vars, hub: &ApiResource, spoke: &ApiResource) -> Vars {
    let mut vars = vars.clone();
    vars.set("spoke_version", &spoke.version)
        .set("spoke_module", spoke.module())
        .set("hub_version", &hub.version)
        .set("hub_module", hub.module());
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
            conversion: false,
            spoke: Vec::new(),
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
            "kubeforge create webhook requires at least one of --defaulting, \
             --programmatic-validation and --conversion to be true"
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

    /// `project()` with crew/v2 Captain (a type only) beside v1.
    fn two_versions() -> (tempfile::TempDir, Project) {
        let (root, mut project) = project();
        let mut v2 = project.resources[0].clone();
        v2.version = "v2".into();
        v2.controller = false;
        project.resources.push(v2);
        (root, project)
    }

    fn conversion(spokes: &[&str]) -> CreateWebhookArgs {
        let mut args = args("Captain", false, false);
        args.conversion = true;
        args.spoke = spokes.iter().map(|s| s.to_string()).collect();
        args
    }

    #[test]
    fn conversion_renders_each_spoke_its_convertible_and_stores_the_hub() {
        let (root, project) = two_versions();
        let mut both = conversion(&["v2"]);
        both.defaulting = true;
        let files = files(root.path(), project, &both).unwrap();
        let record = recorded(&files).resources[0].webhooks.clone().unwrap();
        assert!(record.conversion && record.defaulting && !record.validation);
        assert_eq!(record.spoke, ["v2"]);
        let text = files.text("PROJECT").unwrap();
        assert!(
            text.contains("    conversion: true\n    spoke:\n    - v2\n"),
            "{text}"
        );

        let webhook = files.text("src/webhook/captain.rs").unwrap();
        for wanted in [
            "impl Defaulter<Captain> for CaptainDefaulter",
            "HubConverter::<Captain>::new()",
            ".spoke::<crate::api::crew_v2::Captain>()",
            "v1 is the hub",
        ] {
            assert!(webhook.contains(wanted), "{wanted} not in\n{webhook}");
        }
        let convertible = files.text("src/api/crew_v2/captain_conversion.rs").unwrap();
        for wanted in [
            "use crate::api::crew_v1 as hub;",
            "impl Convertible<hub::Captain> for Captain",
            "message: self.spec.message.clone(),",
            "fn v2_round_trips_through_v1()",
        ] {
            assert!(
                convertible.contains(wanted),
                "{wanted} not in\n{convertible}"
            );
        }
        let test = files.text("tests/captain_conversion.rs").unwrap();
        assert!(
            test.contains("async fn captain_converts_between_v1_and_v2()"),
            "{test}"
        );
        assert!(files.text("tests/captain_webhook.rs").is_some());
        assert!(
            files
                .text("src/api/crew_v2/mod.rs")
                .unwrap()
                .contains("pub mod captain_conversion;")
        );
        assert!(
            !files
                .text("src/api/crew_v1/mod.rs")
                .unwrap()
                .contains("conversion")
        );
        let api = files.text("src/api/mod.rs").unwrap();
        assert!(api.contains("use kube::core::crd::merge_crds;"), "{api}");
        assert!(api.contains("            \"v1\",\n"), "{api}");

        // Conversion only: no admission test; the spokes default to every other version.
        let (root, project) = two_versions();
        let files = super::files(root.path(), project, &conversion(&[])).unwrap();
        assert!(files.text("tests/captain_webhook.rs").is_none());
        assert!(
            files
                .text("src/api/crew_v2/captain_conversion.rs")
                .is_some()
        );
        let webhook = files.text("src/webhook/captain.rs").unwrap();
        assert!(!webhook.contains("Denied"), "{webhook}");
    }

    #[test]
    fn conversion_needs_spokes_that_exist() {
        let message = |result: anyhow::Result<Files>| result.err().unwrap().to_string();
        let (root, project) = self::project();
        let alone = message(files(root.path(), project, &conversion(&["v2"])));
        assert!(
            alone.starts_with(
                "crew.example.com/v1, Kind Captain is the only version of its kind: a conversion \
                 webhook converts between versions"
            ),
            "{alone}"
        );

        let (root, project) = two_versions();
        let missing = message(files(root.path(), project.clone(), &conversion(&["v3"])));
        assert!(
            missing.starts_with(
                "no API found for crew.example.com/v3, Kind Captain: a spoke version must exist"
            ),
            "{missing}"
        );
        let hub = message(files(root.path(), project.clone(), &conversion(&["v1"])));
        assert!(hub.starts_with("--spoke v1 is the hub"), "{hub}");
        let invalid = message(files(root.path(), project.clone(), &conversion(&["two"])));
        assert!(invalid.contains("two"), "{invalid}");

        // Recorded: again is refused; adding a webhook with --force keeps the conversion.
        let created = files(root.path(), project, &conversion(&["v2"])).unwrap();
        let project = recorded(&created);
        let again = message(files(root.path(), project.clone(), &conversion(&["v2"])));
        assert_eq!(
            again,
            "conversion webhook already exists for this resource; pass --force to scaffold it again"
        );
        let mut validation = args("Captain", false, true);
        validation.force = true;
        let forced = files(root.path(), project, &validation).unwrap();
        let record = recorded(&forced).resources[0].webhooks.clone().unwrap();
        assert!(record.conversion && record.validation, "{record:?}");
        assert_eq!(record.spoke, ["v2"]);
        assert!(
            forced
                .text("src/api/crew_v2/captain_conversion.rs")
                .is_some()
        );
    }
}
