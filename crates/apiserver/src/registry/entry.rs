//! The row builder of the registry: how one built-in resource is served (names, scope,
//! subresources, categories), built into a [`ResourceType`] around the resource's strategy.

use crate::resource::{Answer, ResourceType, ScalePaths, SchemaSource, Settle, WriteGuard};
use crate::strategy::Strategy;
use std::sync::Arc;

/// How one built-in resource is served; start with [`entry`].
pub(crate) struct Entry {
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
    /// Stored with another resource (group, version, plural), converted by the strategy.
    stored_with: Option<(&'static str, &'static str, &'static str)>,
    /// How creates are answered, for a resource that is not stored.
    answer: Option<Answer>,
    /// Who may write what (RBAC's escalation check).
    guard: Option<WriteGuard>,
    /// What a user's write waits for once committed.
    settle: Option<Settle>,
    /// Allocation from shared pools around writes.
    allocation: Option<&'static dyn crate::resource::Allocation>,
    /// Written by the server only.
    read_only: bool,
}

/// A row for resource `plural` (singular `singular`), namespaced or cluster-scoped.
pub(crate) const fn entry(plural: &'static str, singular: &'static str, namespaced: bool) -> Entry {
    Entry {
        plural,
        singular,
        namespaced,
        short: &[],
        categories: &[],
        status: false,
        scale: false,
        stored_with: None,
        answer: None,
        guard: None,
        settle: None,
        allocation: None,
        read_only: false,
    }
}

impl Entry {
    /// Short names (`cm`).
    pub(crate) const fn short(mut self, short: &'static [&'static str]) -> Self {
        self.short = short;
        self
    }
    /// In the `all` category.
    pub(crate) const fn all(mut self) -> Self {
        self.categories = &["all"];
        self
    }
    /// Categories other than `all` (e.g. `api-extensions`).
    pub(crate) const fn categories(mut self, categories: &'static [&'static str]) -> Self {
        self.categories = categories;
        self
    }
    /// `/status` is served.
    pub(crate) const fn status(mut self) -> Self {
        self.status = true;
        self
    }
    /// `/scale` is served (replicas at `.spec.replicas`, `.status.replicas`).
    pub(crate) const fn scale(mut self) -> Self {
        self.scale = true;
        self
    }
    /// Objects are stored with resource `plural` of `group`, at `version` (the strategy
    /// converts).
    pub(crate) const fn stored_with(
        mut self,
        group: &'static str,
        version: &'static str,
        plural: &'static str,
    ) -> Self {
        self.stored_with = Some((group, version, plural));
        self
    }

    /// A resource whose creates `answer` answers, never stored (the reviews): create-only, and
    /// not in the OpenAPI documents.
    pub(crate) const fn answered(mut self, answer: Answer) -> Self {
        self.answer = Some(answer);
        self
    }

    /// Only the server writes objects; users get, list and watch them (see
    /// [`ResourceType::read_only`]).
    pub(crate) const fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Writes users ask for pass `guard` (see [`WriteGuard`]).
    pub(crate) const fn guarded(mut self, guard: WriteGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Writes users ask for are answered once `settle` returns (see [`ResourceType::settle`]).
    pub(crate) const fn settled_by(mut self, settle: Settle) -> Self {
        self.settle = Some(settle);
        self
    }

    /// Writes take from and give back to shared pools through `allocation` (see
    /// [`ResourceType::allocation`]).
    pub(crate) const fn allocated_by(
        mut self,
        allocation: &'static dyn crate::resource::Allocation,
    ) -> Self {
        self.allocation = Some(allocation);
        self
    }

    /// The resource type of `K` served with `strategy`.
    pub(crate) fn build<K: k8s_openapi::Resource + schemars::JsonSchema>(
        self,
        strategy: impl Strategy,
    ) -> ResourceType {
        ResourceType {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            kind: K::KIND.to_string(),
            list_kind: format!("{}List", K::KIND),
            plural: self.plural.to_string(),
            singular: self.singular.to_string(),
            namespaced: self.namespaced,
            short_names: self.short.iter().map(|s| s.to_string()).collect(),
            categories: self.categories.iter().map(|s| s.to_string()).collect(),
            status: self.status,
            scale: self.scale.then(|| ScalePaths {
                spec_replicas: ".spec.replicas".into(),
                status_replicas: ".status.replicas".into(),
                label_selector: Some(".spec.selector".into()),
            }),
            storage_key: match self.stored_with {
                Some((group, _, plural)) => ResourceType::storage_key_for(group, plural),
                None => ResourceType::storage_key_for(K::GROUP, self.plural),
            },
            multi_version: false,
            conversion: None,
            strategy: Arc::new(strategy),
            schema: SchemaSource::Builtin(if self.answer.is_some() {
                no_schema
            } else {
                register_schema::<K>
            }),
            answer: self.answer,
            guard: self.guard,
            settle: self.settle,
            allocation: self.allocation,
            read_only: self.read_only,
            storage_version_hash: (self.answer.is_none()).then(|| {
                let (group, version, kind) = match self.stored_with {
                    // Stored as the other resource's objects (whose kind is this kind).
                    Some((group, version, _)) => (group, version, K::KIND),
                    None => (K::GROUP, K::VERSION, K::KIND),
                };
                crate::resource::storage_version_hash(group, version, kind)
            }),
        }
    }
}

fn no_schema(_: &mut crate::openapi::OpenApiModel, _: &ResourceType) {}

fn register_schema<K: k8s_openapi::Resource + schemars::JsonSchema>(
    model: &mut crate::openapi::OpenApiModel,
    rt: &ResourceType,
) {
    let mut subresources = Vec::new();
    if rt.status {
        subresources.push("status");
    }
    subresources.extend(rt.strategy.object_subresources());
    subresources.extend(rt.strategy.replace_subresources());
    if rt.scale.is_some() {
        subresources.push("scale");
    }
    model.add_builtin::<K>(&rt.plural, rt.namespaced, &subresources);
}
