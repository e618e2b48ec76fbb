//! The `PROJECT` file: what was scaffolded (kubebuilder's `PROJECT`), so that later commands
//! know the domain, the APIs and the layout, and can rewrite the files that list them.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file's name at the project's root.
pub const FILE: &str = "PROJECT";
/// The layout this version of kubeforge scaffolds (kubebuilder's `layout`).
pub const LAYOUT: &str = "kubeforge.dev/v1";

/// What a project is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The format of this file.
    pub version: String,
    /// The layout of the scaffolded files.
    pub layout: String,
    /// The project's (and its binary's) name.
    pub project_name: String,
    /// The domain the API groups are in.
    pub domain: String,
    /// The APIs, in the order they were created.
    #[serde(default)]
    pub resources: Vec<ApiResource>,
}

/// One kind of one group and version, and what was scaffolded for it (kubebuilder keeps the
/// same fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiResource {
    /// The group, without the domain.
    pub group: String,
    /// The domain the group is in.
    pub domain: String,
    /// The version.
    pub version: String,
    /// The kind.
    pub kind: String,
    /// The resource (plural) name.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether the type was scaffolded (`src/api/`).
    pub api: bool,
    /// Whether a controller was scaffolded (`src/controller/`).
    pub controller: bool,
    /// Its admission webhooks (`src/webhook/`), once `kubeforge create webhook` scaffolded them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Webhooks>,
}

/// The webhooks scaffolded for a resource (kubebuilder's `webhooks` record; `false` is left
/// out, as there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhooks {
    /// A defaulter: a mutating webhook.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub defaulting: bool,
    /// A validator: a validating webhook.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub validation: bool,
    /// A conversion webhook with this version as the hub (kubebuilder's `conversion`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conversion: bool,
    /// The versions converted to and from the hub (kubebuilder's `spoke`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spoke: Vec<String>,
    /// The `admission.k8s.io` version they speak (always `v1`).
    pub webhook_version: String,
}

impl Webhooks {
    /// The `admission.k8s.io` version scaffolded webhooks speak.
    pub const VERSION: &str = "v1";
}

impl ApiResource {
    /// The full API group (`crew.example.com`).
    pub fn full_group(&self) -> String {
        super::names::full_group(&self.group, &self.domain)
    }

    /// The Rust module of its group and version (`crew_v1`).
    pub fn module(&self) -> String {
        super::names::module(&self.group, &self.version)
    }

    /// Whether `other` is the same group, version and kind.
    pub fn same_gvk(&self, other: &ApiResource) -> bool {
        self.group == other.group && self.version == other.version && self.kind == other.kind
    }
}

impl Project {
    /// The hub whose conversion webhook converts `spoke`, when `spoke` is a spoke version.
    pub fn hub_of(&self, spoke: &ApiResource) -> Option<&ApiResource> {
        self.resources.iter().find(|hub| {
            hub.group == spoke.group
                && hub.kind == spoke.kind
                && hub
                    .webhooks
                    .as_ref()
                    .is_some_and(|w| w.conversion && w.spoke.contains(&spoke.version))
        })
    }

    /// The version of `resource`'s kind the API server stores: the hub of its conversion
    /// webhook, or else the version created first.
    pub fn storage_version(&self, resource: &ApiResource) -> String {
        let versions = self
            .resources
            .iter()
            .filter(|r| r.api && r.group == resource.group && r.kind == resource.kind);
        let mut first = None;
        for r in versions {
            if r.webhooks.as_ref().is_some_and(|w| w.conversion) {
                return r.version.clone();
            }
            first.get_or_insert_with(|| r.version.clone());
        }
        first.unwrap_or_else(|| resource.version.clone())
    }

    /// A project with no APIs yet.
    pub fn new(project_name: &str, domain: &str) -> Self {
        Project {
            version: "1".to_owned(),
            layout: LAYOUT.to_owned(),
            project_name: project_name.to_owned(),
            domain: domain.to_owned(),
            resources: Vec::new(),
        }
    }

    /// Finds the project `dir` is in: the nearest directory up from it holding a `PROJECT`.
    pub fn find(dir: &Path) -> anyhow::Result<(PathBuf, Project)> {
        let start = dir
            .canonicalize()
            .with_context(|| format!("reading {}", dir.display()))?;
        let root = start
            .ancestors()
            .find(|candidate| candidate.join(FILE).is_file())
            .with_context(|| {
                format!(
                    "no {FILE} file in {} or above it: run `kubeforge new` first, or run this in a \
                     kubeforge project",
                    start.display()
                )
            })?;
        let path = root.join(FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let project: Project = serde_norway::from_str(&text)
            .with_context(|| format!("{} is not a kubeforge PROJECT file", path.display()))?;
        if project.layout != LAYOUT {
            anyhow::bail!(
                "{} has layout {:?}; this kubeforge scaffolds {LAYOUT:?}",
                path.display(),
                project.layout
            );
        }
        Ok((root.to_path_buf(), project))
    }

    /// The file's text: a header saying what it is for, then the record.
    pub fn to_text(&self) -> anyhow::Result<String> {
        Ok(format!(
            "{}{}",
            include_str!("../../templates/project/PROJECT.header"),
            serde_norway::to_string(self)?
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_through_its_text() {
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
            webhooks: Some(Webhooks {
                defaulting: true,
                validation: false,
                conversion: false,
                spoke: Vec::new(),
                webhook_version: Webhooks::VERSION.into(),
            }),
        });
        let text = project.to_text().unwrap();
        assert!(text.starts_with("# Written by `kubeforge new`"), "{text}");
        assert!(text.contains("projectName: guestbook\n"), "{text}");
        assert!(text.contains("layout: kubeforge.dev/v1\n"), "{text}");
        assert!(
            text.contains("  webhooks:\n    defaulting: true\n    webhookVersion: v1\n"),
            "{text}"
        );
        let back: Project = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, project);
        assert_eq!(back.resources[0].module(), "crew_v1");
        assert_eq!(back.resources[0].full_group(), "crew.example.com");
    }
}
