//! Strategies: the per-resource rules of the generic request path.
//!
//! As in kube-apiserver's registry, one generic path handles every resource, and everything that
//! differs between resources lives in its [`Strategy`]: how an incoming object is decoded, how it
//! is defaulted and validated on create and update, which fields can be selected, and whether it
//! may be deleted. Built-in types get a [`Typed`] strategy (decoding through their k8s-openapi
//! type), optionally wrapped by a resource-specific one; custom resources get theirs from the CRD.

/// Implements, inside `impl Strategy for X`, the methods a resource-specific strategy takes
/// unchanged from the [`Typed`] strategy it wraps in `self.$typed`: the field schema, the table
/// and the selectable fields (with their unset values), plus decoding when asked
/// (`typed_basics!(typed, decode)`).
macro_rules! typed_basics {
    ($typed:ident) => {
        fn field_schema(&self) -> std::sync::Arc<crate::fieldpath::Schema> {
            self.$typed.field_schema()
        }

        fn table(&self) -> &dyn crate::table::TableConvertor {
            self.$typed.table()
        }

        fn selectable_fields(&self) -> &[&'static str] {
            self.$typed.selectable_fields()
        }

        fn unset_field(&self, field: &str) -> &'static str {
            self.$typed.unset_field(field)
        }
        fn order_keys(&self, obj: &mut serde_json::Value) {
            self.$typed.order_keys(obj)
        }
    };
    ($typed:ident, decode) => {
        typed_basics!($typed);

        fn decode(
            &self,
            value: serde_json::Value,
        ) -> Result<$crate::strategy::Decoded, $crate::status::ApiError> {
            self.$typed.decode(value)
        }
    };
}
pub(crate) use typed_basics;

mod custom;
mod typed;

pub use custom::CustomResourceStrategy;
pub use typed::{Typed, decode_typed, unknown_fields};

use crate::status::{ApiError, FieldCause};
use crate::validation::NameRule;
use serde_json::Value;

/// An incoming object after decoding: normalised, with the fields its type does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The object as the server will store it.
    pub value: Value,
    /// Paths of fields that were dropped because the type has no such field.
    pub unknown_fields: Vec<String>,
}

/// The rules of one resource. Every method but `decode` has the behaviour most resources want.
pub trait Strategy: Send + Sync + 'static {
    /// Decodes an incoming object through its type. Type errors are a BadRequest.
    fn decode(&self, value: Value) -> Result<Decoded, ApiError>;

    /// How names are checked.
    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }

    /// Whether `metadata.generation` is maintained (bumped when the spec changes).
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Whether a PUT without resourceVersion is allowed (an unconditional update).
    fn allow_unconditional_update(&self) -> bool {
        true
    }

    /// Defaulting on create (after the generic metadata is set).
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Prepares a create knowing who asks (`None` for the server's own writes), as upstream's
    /// strategies read the user from the request's context; by default
    /// [`Strategy::prepare_for_create`]. (CertificateSigningRequests record their requestor.)
    fn prepare_for_create_by(&self, obj: &mut Value, _user: Option<&crate::auth::user::UserInfo>) {
        self.prepare_for_create(obj);
    }

    /// Validation on create (the generic metadata is validated already).
    fn validate(&self, _obj: &Value) -> Vec<FieldCause> {
        Vec::new()
    }

    /// Defaulting on update; `old` is the stored object.
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// Validation on update.
    fn validate_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        self.validate(new)
    }

    /// Field paths usable in field selectors beyond `metadata.name` and `metadata.namespace`.
    fn selectable_fields(&self) -> &[&'static str] {
        &[]
    }

    /// Whether `field` (beyond `metadata.name` and `metadata.namespace`) may be selected on:
    /// one of [`Strategy::selectable_fields`], or what a CRD version declares.
    fn selects_field(&self, field: &str) -> bool {
        self.selectable_fields().contains(&field)
    }

    /// The value a selectable field has on an object that leaves it unset. Upstream's
    /// `*ToSelectableFields` format the typed value, so an unset field is its type's zero value:
    /// `""` for strings (the default), `"false"` for booleans, `"0"` for integers.
    fn unset_field(&self, _field: &str) -> &'static str {
        ""
    }

    /// Whether status given on create is kept (a Node registers with its capacity); by default
    /// a resource with a status subresource starts without one, as upstream's strategies clear
    /// it in `PrepareForCreate`.
    fn keeps_status_on_create(&self) -> bool {
        false
    }

    /// Whether a DELETE that removes the object at once answers with the object (upstream's
    /// `ReturnDeletedObject`: pods, services, service accounts, namespaces). Otherwise the
    /// answer is a `Status` naming the deleted object. An object that stays (finalizers,
    /// graceful deletion) is always answered as it now is.
    fn returns_deleted_object(&self) -> bool {
        false
    }

    /// Whether deletion is graceful (upstream's `RESTGracefulDeleteStrategy`): a deleted object
    /// then stays, marked with `deletionTimestamp` = now + its grace period, until someone
    /// (the kubelet) removes it; later deletes may only shorten the period.
    fn deletes_gracefully(&self) -> bool {
        false
    }

    /// For a strategy that [deletes gracefully](Strategy::deletes_gracefully): the grace period
    /// of deleting `obj` (upstream's `CheckGracefulDelete`), given the request's
    /// `gracePeriodSeconds`. 0 deletes at once.
    fn grace_period(&self, _obj: &Value, requested: Option<i64>) -> i64 {
        requested.unwrap_or(0)
    }

    /// Whether strategic merge patches apply (built-in types; custom resources answer 415).
    fn supports_strategic_merge(&self) -> bool {
        true
    }

    /// Subresources this resource serves beyond `status` and `scale`, each answering PUT only
    /// (upstream's `namespaces/finalize`); [`Strategy::update_through`] says what they change.
    fn replace_subresources(&self) -> &[&'static str] {
        &[]
    }

    /// Subresources of the resource's own kind served, like `status`, with GET (the object as
    /// it is), PUT and PATCH (upstream's `pods/ephemeralcontainers`, `pods/resize`,
    /// `certificatesigningrequests/approval`); [`Strategy::update_through`] says what a write
    /// changes and [`Strategy::validate_update_through`] checks it. Discovery lists them with
    /// verbs `get`, `patch` and `update`.
    fn object_subresources(&self) -> &[&'static str] {
        &[]
    }

    /// Subresources created by POST (upstream's connect-style creates: `pods/binding`,
    /// `pods/eviction`), each with the kinds its body may be and what a create does; the
    /// generic path (`rest/subresource_create.rs`) routes, decodes and answers them, and
    /// discovery lists them with verb `create`.
    fn create_subresources(&self) -> &[crate::rest::subresource_create::CreateSubresource] {
        &[]
    }

    /// The object a write through `subresource` (one of [`Strategy::replace_subresources`] or
    /// [`Strategy::object_subresources`]) makes
    /// of the stored `old` and the sent `new`: only what the subresource owns changes.
    fn update_through(&self, _subresource: &str, old: &Value, _new: Value) -> Value {
        old.clone()
    }

    /// Validation of a write through one of this resource's own subresources (see
    /// [`Strategy::update_through`]); by default the same as [`Strategy::validate_update`].
    fn validate_update_through(
        &self,
        _subresource: &str,
        new: &Value,
        old: &Value,
    ) -> Vec<FieldCause> {
        self.validate_update(new, old)
    }

    /// Validation of a write through `/status`.
    fn validate_status(&self, obj: &Value) -> Vec<FieldCause> {
        self.validate(obj)
    }

    /// Validation of a write through `/status`, knowing the stored object (custom resources
    /// ratchet unchanged fields against it).
    fn validate_status_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        self.validate_status(new)
    }

    /// Whether [`Strategy::normalize_on_read`] can change stored objects (when false, reads
    /// serve stored bytes as they are).
    fn normalizes_on_read(&self) -> bool {
        false
    }

    /// What a stored object goes through as it is read. Custom resources drop the fields their
    /// schema does not know and then apply its defaults, as kube-apiserver's storage decoder
    /// does, so a field removed from a CRD's schema disappears from objects stored before, and
    /// a default added to it shows on them.
    fn normalize_on_read(&self, _obj: &mut Value) {}

    /// Puts the object's keys in the order kube-apiserver serializes them in
    /// ([`crate::keyorder`]); objects are stored that way. Nothing by default.
    fn order_keys(&self, _obj: &mut Value) {}

    /// [`Strategy::order_keys`] for the object in its storage form (after
    /// [`Strategy::convert_to_storage`]); the same unless the strategy converts.
    fn order_stored_keys(&self, obj: &mut Value) {
        self.order_keys(obj);
    }

    /// Whether this resource is stored in another resource's form (see [`Strategy::convert_to_storage`]);
    /// then reads always go through [`Strategy::convert_from_storage`].
    fn converts_for_storage(&self) -> bool {
        false
    }

    /// Converts an object in this resource's form into the form it is stored in, just before it
    /// is written (events.k8s.io/v1 Events are stored as core/v1 Events, as upstream stores both
    /// at one storage version). Must leave an object already in storage form unchanged.
    fn convert_to_storage(&self, _obj: &mut Value) {}

    /// Converts a stored object into this resource's form as it is read. Must leave an object
    /// already in this form unchanged.
    fn convert_from_storage(&self, _obj: &mut Value) {}

    /// The path a selectable field has in the stored object, when the field selector names it
    /// differently (a converted form, or an alias such as core/v1 Event's `source`).
    fn stored_field<'a>(&self, field: &'a str) -> std::borrow::Cow<'a, str> {
        std::borrow::Cow::Borrowed(field)
    }

    /// How objects are printed as table rows (`kubectl get`).
    fn table(&self) -> &dyn crate::table::TableConvertor {
        &crate::table::NameAge
    }

    /// Whether the object must stay (marked for deletion) even without metadata finalizers,
    /// e.g. a namespace whose `spec.finalizers` are not done.
    fn blocks_deletion(&self, _obj: &Value) -> bool {
        false
    }

    /// Changes made when deletion starts (e.g. a namespace becomes `Terminating`).
    fn prepare_for_delete(&self, _obj: &mut Value) {}

    /// Finalizers the server itself adds when the object is created (e.g. CRD cleanup).
    fn initial_finalizers(&self) -> &[&'static str] {
        &[]
    }

    /// The type's structure as field ownership sees it: which lists are atomic, sets or maps
    /// (keyed by which fields), which structs and maps are atomic. Used by server-side apply
    /// and managedFields. The default knows nothing: objects are granular, lists atomic.
    fn field_schema(&self) -> std::sync::Arc<crate::fieldpath::Schema> {
        crate::fieldpath::Schema::deduced()
    }
}

/// Reads a dotted field path (`spec.nodeName`) as a string, for field selectors.
pub fn field_string(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
