//! `kubeforge create api`: a custom resource type, its controller, a sample and a test, wired
//! into the project's listings (kubebuilder's `create api`).

use super::listing::add_listings;
use super::names;
use super::project::{ApiResource, Project};
use super::staging::Files;
use super::template::{Vars, render};
use anyhow::{Context, bail};
use clap::{ArgAction, Args};
use std::path::{Path, PathBuf};

/// `kubeforge create api` options.
#[derive(Args, Debug)]
pub struct CreateApiArgs {
    /// The API group, without the domain (`crew` for `crew.example.com`).
    #[arg(long)]
    pub group: String,
    /// The API version (`v1`, `v1alpha1`, `v2beta3`).
    #[arg(long)]
    pub version: String,
    /// The kind, UpperCamelCase (`Captain`).
    #[arg(long)]
    pub kind: String,
    /// Whether objects live in namespaces (`--namespaced=false`: cluster-scoped).
    #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub namespaced: bool,
    /// Scaffold the type (`src/api/`).
    #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub resource: bool,
    /// Scaffold the controller and its test (`src/controller/`, `tests/`).
    #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub controller: bool,
    /// Scaffold again over an API that exists, overwriting its files.
    #[arg(long)]
    pub force: bool,
    /// The project (default: the one the current directory is in).
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

/// The files that belong to one API (not the listings).
pub struct ApiFiles {
    /// The type.
    pub api: PathBuf,
    /// The controller.
    pub controller: PathBuf,
    /// The controller's test.
    pub test: PathBuf,
    /// The sample object.
    pub sample: PathBuf,
}

impl ApiFiles {
    /// Where `resource`'s files go.
    pub fn of(resource: &ApiResource) -> Self {
        let snake = names::snake(&resource.kind);
        ApiFiles {
            api: PathBuf::from(format!("src/api/{}/{snake}.rs", resource.module())),
            controller: PathBuf::from(format!("src/controller/{snake}.rs")),
            test: PathBuf::from(format!("tests/{snake}.rs")),
            sample: PathBuf::from(format!(
                "config/samples/{}_{}_{}.yaml",
                resource.group,
                resource.version,
                resource.kind.to_ascii_lowercase()
            )),
        }
    }
}

/// Renders the API's files and the project's new listings (without writing anything).
pub fn files(root: &Path, mut project: Project, args: &CreateApiArgs) -> anyhow::Result<Files> {
    names::group(&args.group, &project.domain)?;
    names::version(&args.version)?;
    names::kind(&args.kind)?;
    if !args.resource && !args.controller {
        bail!("nothing to scaffold: --resource=false and --controller=false");
    }
    let resource = ApiResource {
        group: args.group.clone(),
        domain: project.domain.clone(),
        version: args.version.clone(),
        kind: args.kind.clone(),
        plural: names::plural(&args.kind),
        namespaced: args.namespaced,
        api: args.resource,
        controller: args.controller,
        webhooks: None,
    };
    let paths = ApiFiles::of(&resource);
    let gvk = format!(
        "{}/{}, Kind={}",
        resource.full_group(),
        resource.version,
        resource.kind
    );

    let existing = project.resources.iter().position(|r| r.same_gvk(&resource));
    if !args.force {
        if existing.is_some() {
            bail!(
                "the API {gvk} already exists in this project (see {}); pass --force to scaffold it \
                 again, overwriting its files",
                super::project::FILE
            );
        }
        // Only the files this call writes: another version of a kind with a controller is
        // scaffolded with --controller=false next to that controller's files.
        let mut written = Vec::new();
        if args.resource {
            written.extend([&paths.api, &paths.sample]);
        }
        if args.controller {
            written.extend([&paths.controller, &paths.test]);
        }
        for path in written {
            if root.join(path).exists() {
                bail!(
                    "{} already exists; pass --force to overwrite it",
                    root.join(path).display()
                );
            }
        }
    }
    // One controller and one test per kind name: `src/controller/<kind>.rs`.
    if args.controller
        && let Some(other) = project
            .resources
            .iter()
            .find(|r| r.controller && r.kind == resource.kind && !r.same_gvk(&resource))
    {
        bail!(
            "kind {} already has a controller (for {}/{}); scaffold this version with \
             --controller=false",
            resource.kind,
            other.full_group(),
            other.version
        );
    }
    if !args.resource {
        // A controller alone needs the type: another command scaffolded it.
        let has_type = existing.is_some_and(|i| project.resources[i].api);
        if !has_type {
            bail!("the project has no type for {gvk}: create it with --resource (the default)");
        }
    }

    let vars = vars(&project, &resource);
    let mut files = Files::default();
    let mut render_to = |path: &Path, template: &str| -> anyhow::Result<()> {
        let text =
            render(template, &vars).with_context(|| format!("rendering {}", path.display()))?;
        files.add(path, text);
        Ok(())
    };
    if args.resource {
        render_to(
            &paths.api,
            include_str!("../../templates/api/types.rs.tmpl"),
        )?;
        render_to(
            &paths.sample,
            include_str!("../../templates/api/sample.yaml.tmpl"),
        )?;
    }
    if args.controller {
        render_to(
            &paths.controller,
            include_str!("../../templates/api/controller.rs.tmpl"),
        )?;
        render_to(
            &paths.test,
            include_str!("../../templates/api/test.rs.tmpl"),
        )?;
    }

    match existing {
        Some(i) => {
            let recorded = &mut project.resources[i];
            recorded.api |= resource.api;
            recorded.controller |= resource.controller;
            recorded.namespaced = resource.namespaced;
        }
        None => project.resources.push(resource),
    }
    add_listings(&project, &mut files);
    files.add(super::project::FILE, project.to_text()?);
    Ok(files)
}

/// `kubeforge create api`.
pub fn create_api(args: &CreateApiArgs) -> anyhow::Result<()> {
    let (root, project) = Project::find(&args.project)?;
    let files = files(&root, project, args)?;
    files.update_project(&root)?;
    for path in files.paths() {
        println!("wrote {}", path.display());
    }
    println!("next: cargo test, then `cargo run -- manifests --out-dir config`");
    Ok(())
}

/// The values the API templates use.
fn vars(project: &Project, resource: &ApiResource) -> Vars {
    let snake = names::snake(&resource.kind);
    let mut vars = Vars::default();
    vars.set("crate_name", names::crate_name(&project.project_name))
        .set("group", &resource.group)
        .set("full_group", resource.full_group())
        .set("version", &resource.version)
        .set("kind", &resource.kind)
        .set("kind_lower", resource.kind.to_ascii_lowercase())
        .set("kind_snake", &snake)
        .set("kind_var", &snake)
        .set("plural", &resource.plural)
        .set("plural_var", names::plural(&snake))
        .set("module", resource.module())
        .flag("namespaced", resource.namespaced)
        .flag("cluster_scoped", !resource.namespaced);
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(group: &str, version: &str, kind: &str, namespaced: bool) -> CreateApiArgs {
        CreateApiArgs {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespaced,
            resource: true,
            controller: true,
            force: false,
            project: PathBuf::from("."),
        }
    }

    #[test]
    fn every_api_template_renders_for_both_scopes() {
        let root = tempfile::tempdir().unwrap();
        let project = Project::new("guestbook", "example.com");
        let files = files(root.path(), project, &args("crew", "v1", "CronJob", true)).unwrap();
        let types = files.text("src/api/crew_v1/cron_job.rs").unwrap();
        assert!(types.contains("group = \"crew.example.com\""), "{types}");
        assert!(types.contains("plural = \"cronjobs\""), "{types}");
        assert!(types.contains("    namespaced,\n"), "{types}");
        let controller = files.text("src/controller/cron_job.rs").unwrap();
        assert!(
            controller.contains("Api::namespaced(ctx.client.clone(), namespace)"),
            "{controller}"
        );
        assert!(!controller.contains("CONFIG_MAP_NAMESPACE"), "{controller}");
        assert!(
            controller.contains("cron_jobs: Lister<CronJob>"),
            "{controller}"
        );
        assert!(files.text("tests/cron_job.rs").is_some());
        assert!(
            files
                .text("config/samples/crew_v1_cronjob.yaml")
                .unwrap()
                .contains("name: cronjob-sample")
        );
        assert!(
            files
                .text("src/api/mod.rs")
                .unwrap()
                .contains("crew_v1::CronJob::crd()")
        );
        let record = files.text("PROJECT").unwrap();
        assert!(
            record.contains("kind: CronJob\n") && record.contains("namespaced: true\n"),
            "{record}"
        );

        let project = Project::new("guestbook", "example.com");
        let files = files_cluster(root.path(), project);
        let types = files.text("src/api/ship_v1beta1/frigate.rs").unwrap();
        assert!(!types.contains("namespaced"), "{types}");
        let controller = files.text("src/controller/frigate.rs").unwrap();
        assert!(
            controller.contains("Api::all(ctx.client.clone())"),
            "{controller}"
        );
        assert!(controller.contains("CONFIG_MAP_NAMESPACE"), "{controller}");
    }

    fn files_cluster(root: &Path, project: Project) -> Files {
        files(root, project, &args("ship", "v1beta1", "Frigate", false)).unwrap()
    }

    #[test]
    fn conflicts_are_refused_before_anything_renders() {
        let root = tempfile::tempdir().unwrap();
        let mut project = Project::new("guestbook", "example.com");
        let files = files(
            root.path(),
            project.clone(),
            &args("crew", "v1", "Captain", true),
        )
        .unwrap();
        let record: Project = serde_norway::from_str(files.text("PROJECT").unwrap()).unwrap();
        project.resources = record.resources;

        let again = super::files(
            root.path(),
            project.clone(),
            &args("crew", "v1", "Captain", true),
        );
        assert!(
            again
                .unwrap_err()
                .to_string()
                .contains("already exists in this project")
        );
        let mut force = args("crew", "v1", "Captain", true);
        force.force = true;
        assert!(super::files(root.path(), project.clone(), &force).is_ok());

        let second_version = super::files(
            root.path(),
            project.clone(),
            &args("crew", "v2", "Captain", true),
        );
        assert!(
            second_version
                .unwrap_err()
                .to_string()
                .contains("--controller=false")
        );
        let mut type_only = args("crew", "v2", "Captain", true);
        type_only.controller = false;
        assert!(super::files(root.path(), project.clone(), &type_only).is_ok());

        let mut controller_only = args("crew", "v1", "Admiral", true);
        controller_only.resource = false;
        let missing = super::files(root.path(), project, &controller_only).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("has no type for crew.example.com/v1, Kind=Admiral"),
            "{missing}"
        );
    }
}
