//! The files that list what `PROJECT` records — `src/api/mod.rs`, one `mod.rs` per group and
//! version, `src/controller/mod.rs`, `src/webhook/mod.rs` — rewritten whole by every command (kubebuilder edits
//! `main.go` at marker comments instead; a file that is only a list needs no markers).

use super::names;
use super::project::{ApiResource, Project};
use super::staging::Files;
use std::fmt::Write;

const REWRITTEN: &str = "//! (`kubeforge create` rewrites this file from `PROJECT`: keep your code in the modules\n//! it lists.)\n";

/// Adds every listing file of `project` to `files`.
pub fn add_listings(project: &Project, files: &mut Files) {
    let apis: Vec<&ApiResource> = project.resources.iter().filter(|r| r.api).collect();
    files.add("src/api/mod.rs", api_mod(project, &apis));
    for module in &unique_modules(&apis) {
        let kinds: Vec<&ApiResource> = apis
            .iter()
            .copied()
            .filter(|r| r.module() == *module)
            .collect();
        files.add(
            format!("src/api/{module}/mod.rs"),
            group_version_mod(project, &kinds),
        );
    }
    let controllers: Vec<&ApiResource> =
        project.resources.iter().filter(|r| r.controller).collect();
    files.add("src/controller/mod.rs", controller_mod(&controllers));
    let webhooks: Vec<&ApiResource> = project
        .resources
        .iter()
        .filter(|r| r.webhooks.is_some())
        .collect();
    files.add("src/webhook/mod.rs", webhook_mod(&webhooks));
}

fn unique_modules(apis: &[&ApiResource]) -> Vec<String> {
    let mut modules: Vec<String> = Vec::new();
    for api in apis {
        let module = api.module();
        if !modules.contains(&module) {
            modules.push(module);
        }
    }
    modules
}

fn api_mod(project: &Project, apis: &[&ApiResource]) -> String {
    let mut text = format!(
        "//! The project's API types, one module per group and version.\n//!\n{REWRITTEN}\n"
    );
    for module in unique_modules(apis) {
        let _ = writeln!(text, "pub mod {module};");
    }
    if !apis.is_empty() {
        text.push('\n');
    }
    text.push_str("use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;\n");
    if !apis.is_empty() {
        text.push_str("use kube::CustomResourceExt;\n");
    }
    if apis.iter().any(|a| {
        apis.iter()
            .any(|b| a.kind == b.kind && a.group == b.group && a.version != b.version)
    }) {
        text.push_str("use kube::core::crd::merge_crds;\n");
    }
    text.push_str("\n/// The CustomResourceDefinitions of every API type, as `manifests` writes them.\npub fn crds() -> Vec<CustomResourceDefinition> {\n");
    if apis.is_empty() {
        text.push_str("    Vec::new()\n");
    } else {
        // One CRD per kind: its versions merged, one of them stored.
        text.push_str("    vec![\n");
        let mut done: Vec<(&str, &str)> = Vec::new();
        for api in apis {
            if done.contains(&(&api.group, &api.kind)) {
                continue;
            }
            done.push((&api.group, &api.kind));
            let versions: Vec<&&ApiResource> = apis
                .iter()
                .filter(|r| r.group == api.group && r.kind == api.kind)
                .collect();
            if versions.len() == 1 {
                let _ = writeln!(text, "        {}::{}::crd(),", api.module(), api.kind);
                continue;
            }
            let storage = project.storage_version(api);
            let _ = writeln!(
                text,
                "        // Served at {}; stored at {storage} (the conversion webhook's hub, or else \n        // the version created first).\n        merge_crds(\n            vec![",
                versions
                    .iter()
                    .map(|r| r.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            for version in &versions {
                let _ = writeln!(
                    text,
                    "                {}::{}::crd(),",
                    version.module(),
                    version.kind
                );
            }
            let _ = writeln!(
                text,
                "            ],\n            \"{storage}\",\n        )\n        .expect(\"the versions of {} share their names and scope\"),",
                api.kind
            );
        }
        text.push_str("    ]\n");
    }
    text.push_str("}\n");
    text
}

fn group_version_mod(project: &Project, kinds: &[&ApiResource]) -> String {
    let first = kinds[0];
    let mut text = format!(
        "//! The `{}/{}` API types.\n//!\n{REWRITTEN}\n",
        first.full_group(),
        first.version
    );
    for kind in kinds {
        let _ = writeln!(text, "pub mod {};", names::snake(&kind.kind));
        if project.hub_of(kind).is_some() {
            let _ = writeln!(text, "pub mod {}_conversion;", names::snake(&kind.kind));
        }
    }
    text.push('\n');
    for kind in kinds {
        let _ = writeln!(
            text,
            "pub use {}::{{{k}, {k}Spec, {k}Status}};",
            names::snake(&kind.kind),
            k = kind.kind
        );
    }
    text
}

fn controller_mod(controllers: &[&ApiResource]) -> String {
    let mut text = format!("//! The controllers, one module per kind.\n//!\n{REWRITTEN}\n");
    for controller in controllers {
        let _ = writeln!(text, "pub mod {};", names::snake(&controller.kind));
    }
    if !controllers.is_empty() {
        text.push('\n');
    }
    // Without controllers yet, the manager goes unused.
    let parameter = if controllers.is_empty() {
        "_manager"
    } else {
        "manager"
    };
    let _ = write!(
        text,
        "use crate::rbac::Access;\n\
         use kubeforge_runtime::controller::RunnableController;\n\
         use kubeforge_runtime::manager::Manager;\n\n\
         /// Every controller, built on the manager's client, informers and event recorder.\n\
         pub fn controllers({parameter}: &Manager) -> Vec<RunnableController> {{\n",
    );
    if controllers.is_empty() {
        text.push_str("    Vec::new()\n}\n");
    } else {
        text.push_str("    vec![\n");
        for controller in controllers {
            let _ = writeln!(
                text,
                "        {}::controller(manager),",
                names::snake(&controller.kind)
            );
        }
        text.push_str("    ]\n}\n");
    }
    text.push_str(
        "\n/// What the controllers read and write: `manifests` turns it into the ClusterRole.\n\
         pub fn permissions() -> Vec<Access> {\n",
    );
    if controllers.is_empty() {
        text.push_str("    Vec::new()\n}\n");
    } else {
        text.push_str("    let mut permissions = Vec::new();\n");
        for controller in controllers {
            let _ = writeln!(
                text,
                "    permissions.extend({}::permissions());",
                names::snake(&controller.kind)
            );
        }
        text.push_str("    permissions\n}\n");
    }
    text
}

fn webhook_mod(kinds: &[&ApiResource]) -> String {
    let mut text = format!("//! The admission webhooks, one module per kind.\n//!\n{REWRITTEN}\n");
    for kind in kinds {
        let _ = writeln!(text, "pub mod {};", names::snake(&kind.kind));
    }
    if !kinds.is_empty() {
        text.push('\n');
    }
    // Without webhooks yet, the collection is returned empty.
    let binding = if kinds.is_empty() { "" } else { "mut " };
    let _ = write!(
        text,
        "use crate::admission::Webhooks;\n\n\
         /// Every webhook: what `run` serves, and what `manifests` declares to the API server.\n\
         pub fn webhooks() -> Webhooks {{\n    let {binding}webhooks = Webhooks::default();\n",
    );
    for kind in kinds {
        let _ = writeln!(
            text,
            "    {}::register(&mut webhooks);",
            names::snake(&kind.kind)
        );
    }
    text.push_str("    webhooks\n}\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::project::Webhooks;

    fn resource(kind: &str, webhooks: Option<Webhooks>) -> ApiResource {
        ApiResource {
            group: "crew".into(),
            domain: "example.com".into(),
            version: "v1".into(),
            kind: kind.into(),
            plural: names::plural(kind),
            namespaced: true,
            api: true,
            controller: true,
            webhooks,
        }
    }

    #[test]
    fn the_webhook_listing_names_the_kinds_with_webhooks() {
        let mut project = Project::new("guestbook", "example.com");
        let mut files = Files::default();
        add_listings(&project, &mut files);
        let empty = files.text("src/webhook/mod.rs").unwrap();
        assert!(
            empty.contains("    let webhooks = Webhooks::default();\n    webhooks\n"),
            "{empty}"
        );
        assert!(!empty.contains("pub mod"), "{empty}");

        project.resources.push(resource("Captain", None));
        project.resources.push(resource(
            "CronJob",
            Some(Webhooks {
                defaulting: true,
                validation: true,
                conversion: false,
                spoke: Vec::new(),
                webhook_version: Webhooks::VERSION.into(),
            }),
        ));
        add_listings(&project, &mut files);
        let listing = files.text("src/webhook/mod.rs").unwrap();
        assert!(listing.contains("pub mod cron_job;\n"), "{listing}");
        assert!(!listing.contains("captain"), "{listing}");
        assert!(
            listing.contains("    cron_job::register(&mut webhooks);\n"),
            "{listing}"
        );
    }
}
