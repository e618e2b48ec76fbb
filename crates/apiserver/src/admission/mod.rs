//! Admission: what a write passes besides the resource's own rules, as kube-apiserver's
//! admission chain. Every create, update (also through a subresource, a patch or an apply) and
//! delete passes, dry runs included, in upstream's order:
//!
//! 1. the mutating stage ([`Admission::admit`]): the built-in mutating plugins, then the
//!    MutatingAdmissionWebhook ([`webhook`]), on the object as the client sent it (before the
//!    strategy prepares and validates it);
//! 2. the resource's strategy (defaulting, validation), in `rest/`;
//! 3. the validating stage ([`Admission::validate`]): the built-in validating plugins, the
//!    ValidatingAdmissionPolicies, then the ValidatingAdmissionWebhook, just before the object is stored.
//!
//! The first refusal answers the request. What admission says besides (warnings for the client,
//! audit annotations) is gathered in [`Effects`].
//!
//! | plugin | what it does |
//! |---|---|
//! | [`namespace_lifecycle`] | refuses content in a namespace that does not exist or is terminating, and deleting an immortal namespace |
//! | [`limit_ranger`] | gives a new Pod's containers the default requests and limits of the namespace's LimitRanges, and refuses Pods and PersistentVolumeClaims outside their minimums, maximums and ratios |
//! | [`default_storage_class`] | gives a PersistentVolumeClaim that names no class the default StorageClass |
//! | [`storage_object_in_use_protection`] | gives new PersistentVolumeClaims and PersistentVolumes their protection finalizer |
//! | [`priority`] | resolves a new pod's priority from its PriorityClass (or the global default), one global default |
//! | [`certificate_approval`] | approving a CertificateSigningRequest needs `approve` on its signer |
//! | [`certificate_signing`] | issuing a CertificateSigningRequest's certificate needs `sign` on its signer |
//! | [`certificate_subject_restriction`] | no `system:masters` client certificates through `kubernetes.io/kube-apiserver-client` |
//! | [`validating_admission_policy`] | enforces ValidatingAdmissionPolicies through their bindings (CEL) |
//! | [`webhook`] | calls the webhooks of MutatingWebhookConfigurations and ValidatingWebhookConfigurations |
//! | [`resource_quota`] | charges creates (and updates that use more) to the namespace's ResourceQuotas, refusing what would exceed them (last, as upstream) |

pub mod certificate_approval;
pub mod certificate_signing;
pub mod certificate_subject_restriction;
pub mod default_storage_class;
pub mod limit_ranger;
pub mod namespace_lifecycle;
pub mod priority;
pub mod resource_quota;
pub mod storage_object_in_use_protection;
pub mod validating_admission_policy;
pub mod webhook;

use crate::auth::user::UserInfo;
use crate::resource::ResourceType;
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a write does, as `AdmissionRequest.operation` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// POST (and an apply or update that creates).
    Create,
    /// PUT, PATCH and apply of an existing object, also through a subresource.
    Update,
    /// DELETE of one object (also each object of a DELETE of a collection).
    Delete,
    /// A connect to a subresource (exec, attach, port-forward, proxy).
    Connect,
}

impl Operation {
    /// The name on the wire: `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// One write, as admission sees it (upstream's `admission.Attributes`).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// What the write does.
    pub operation: Operation,
    /// The resource written.
    pub rt: &'a ResourceType,
    /// The namespace written in (namespaced resources).
    pub namespace: Option<&'a str>,
    /// The object's name ("" for a create with generateName before the name is chosen).
    pub name: &'a str,
    /// The subresource written through (`status`, `scale`, `eviction`…), if any.
    pub subresource: Option<&'a str>,
    /// The object's group, version and kind when it is not the resource's own (the `Eviction`
    /// a POST to `pods/eviction` carries).
    pub object_kind: Option<(&'a str, &'a str, &'a str)>,
    /// The object before the write (updates and deletes).
    pub old_object: Option<&'a Value>,
    /// Who asks; None for the server's own controllers (which act as kube-apiserver's loopback
    /// client, see [`Request::user_info`]).
    pub user: Option<&'a UserInfo>,
    /// `dryRun=All`: nothing will be stored.
    pub dry_run: bool,
    /// The request's field manager (for the options a review carries).
    pub field_manager: &'a str,
}

impl<'a> Request<'a> {
    /// A request for `operation` on `rt` with no subresource, old object or user (the fields
    /// callers then set).
    pub fn new(
        operation: Operation,
        rt: &'a ResourceType,
        namespace: Option<&'a str>,
        name: &'a str,
    ) -> Self {
        Request {
            operation,
            rt,
            namespace,
            name,
            subresource: None,
            object_kind: None,
            old_object: None,
            user: None,
            dry_run: false,
            field_manager: "",
        }
    }

    /// The user admission reports: the request's, or kube-apiserver's loopback identity
    /// (`system:apiserver` in `system:masters`) for writes of the server's own controllers.
    pub fn user_info(&self) -> UserInfo {
        match self.user {
            Some(user) => user.clone(),
            None => UserInfo {
                name: "system:apiserver".into(),
                uid: String::new(),
                groups: vec![crate::auth::user::MASTERS.into()],
                extra: BTreeMap::new(),
            },
        }
    }
}

/// What admission says besides allowing: warnings for the client (`Warning` headers) and audit
/// annotations for the request's audit event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Warnings, in the order they were given.
    pub warnings: Vec<String>,
    /// Audit annotations (`<webhook name>/<key>` for webhooks' own).
    pub audit_annotations: BTreeMap<String, String>,
}

impl Effects {
    /// `err` (a refusal) carrying what admission said before it: its warnings reach the client
    /// and its audit annotations the audit event, as upstream's do on a refused request.
    pub fn attach(&self, mut err: ApiError) -> ApiError {
        if self.warnings.is_empty() && self.audit_annotations.is_empty() {
            return err;
        }
        let notes = err.admission.get_or_insert_with(Default::default);
        notes.warnings.extend(self.warnings.iter().cloned());
        for (k, v) in &self.audit_annotations {
            notes
                .audit_annotations
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        err
    }
}

/// One built-in admission plugin (synchronous: it reads the store, calls nobody).
pub trait Plugin: Send + Sync + 'static {
    /// Its name, as kube-apiserver's `--enable-admission-plugins` spells it.
    fn name(&self) -> &'static str;

    /// Changes the object a create or update is about to store (mutating plugins), or refuses it.
    fn admit(
        &self,
        _rest: &Rest,
        _request: &Request<'_>,
        _obj: &mut Value,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// Refuses `request` with the error to answer, or lets it through. `obj` is the object
    /// about to be stored (None for a delete).
    fn validate(
        &self,
        _rest: &Rest,
        _request: &Request<'_>,
        _obj: Option<&Value>,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The chain every write passes: built-in plugins, then the dynamic admission the cluster's
/// configurations ask for.
pub struct Admission {
    plugins: Vec<Box<dyn Plugin>>,
    /// The webhooks of the stored configurations.
    pub webhooks: webhook::Webhooks,
    /// The stored ValidatingAdmissionPolicies and their bindings.
    pub policies: validating_admission_policy::Policies,
    /// The pooled clients of admission and conversion webhooks, by `clientConfig`.
    pub clients: webhook::client_manager::ClientManager,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.plugins.iter().map(|p| p.name()))
            .entry(&"MutatingAdmissionWebhook")
            .entry(&"ValidatingAdmissionPolicy")
            .entry(&"ValidatingAdmissionWebhook")
            .entry(&"ResourceQuota")
            .finish()
    }
}

impl Default for Admission {
    /// The server's chain: kube-apiserver's default plugins this server implements.
    fn default() -> Self {
        Admission {
            plugins: vec![
                Box::new(namespace_lifecycle::NamespaceLifecycle),
                Box::new(limit_ranger::LimitRanger),
                Box::new(default_storage_class::DefaultStorageClass),
                Box::new(priority::Priority),
                Box::new(storage_object_in_use_protection::StorageObjectInUseProtection),
                Box::new(certificate_approval::CertificateApproval),
                Box::new(certificate_signing::CertificateSigning),
                Box::new(certificate_subject_restriction::CertificateSubjectRestriction),
            ],
            webhooks: webhook::Webhooks::default(),
            policies: validating_admission_policy::Policies::default(),
            clients: webhook::client_manager::ClientManager::default(),
        }
    }
}

impl Admission {
    /// The mutating stage: every plugin's mutation in order, then the mutating webhooks.
    /// `obj` is the object to be stored (None for a delete, which mutating webhooks see but
    /// cannot change).
    pub async fn admit(
        &self,
        rest: &Rest,
        request: &Request<'_>,
        mut obj: Option<&mut Value>,
        effects: &mut Effects,
    ) -> Result<(), ApiError> {
        if let Some(obj) = obj.as_deref_mut() {
            self.plugins
                .iter()
                .try_for_each(|plugin| plugin.admit(rest, request, obj))
                .map_err(|e| effects.attach(e))?;
        }
        webhook::mutating::dispatch(rest, &self.webhooks, request, obj, effects)
            .await
            .map_err(|e| effects.attach(e))
    }

    /// The validating stage: every plugin in order, the ValidatingAdmissionPolicies, the
    /// validating webhooks (concurrently), then ResourceQuota.
    /// `obj` is the object to be stored (None for a delete).
    pub async fn validate(
        &self,
        rest: &Rest,
        request: &Request<'_>,
        obj: Option<&Value>,
        effects: &mut Effects,
    ) -> Result<(), ApiError> {
        self.plugins
            .iter()
            .try_for_each(|plugin| plugin.validate(rest, request, obj))
            .map_err(|e| effects.attach(e))?;
        if self.policies.need_authorizer() {
            // The policies' `authorizer` decides on the RBAC cache as it is: catch up first.
            rest.rbac.read(|_| ()).await;
        }
        validating_admission_policy::validate(rest, &self.policies, request, obj, effects)
            .await
            .map_err(|e| effects.attach(e))?;
        webhook::validating::dispatch(rest, &self.webhooks, request, obj, effects)
            .await
            .map_err(|e| effects.attach(e))?;
        resource_quota::validate(rest, request, obj)
            .await
            .map_err(|e| effects.attach(e))
    }
}

/// Upstream's `admission.NewForbidden`: `<resource> "<name>" is forbidden: <message>` (without
/// the name when the request has none yet).
pub(crate) fn forbidden(request: &Request<'_>, message: impl std::fmt::Display) -> ApiError {
    let rt = request.rt;
    let resource = crate::status::qualified(&rt.plural, &rt.group);
    let subject = match request.name {
        "" => resource,
        name => format!("{resource} {name:?}"),
    };
    ApiError::forbidden(
        &rt.group,
        &rt.plural,
        request.name,
        format!("{subject} is forbidden: {message}"),
    )
}
