//! IPAddresses (networking.k8s.io/v1, `ip`): one allocated Service IP each, named by the
//! address in canonical form, with the object holding it as `spec.parentRef` (upstream's
//! `ValidateIPAddress`; the reference never changes). The Service allocator
//! (`core/services/allocation.rs`) creates and deletes them.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::strategy::{Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, s};
use crate::table::{name_column, name_of};
use crate::validation::NameRule;
use k8s_openapi::api::networking::v1::IPAddress;
use serde_json::{Value, json};

/// `ipaddresses`.
pub(crate) fn resource() -> ResourceType {
    entry("ipaddresses", "ipaddress", false)
        .short(&["ip"])
        .build::<IPAddress>(IpAddressStrategy {
            typed: Typed::new().names(NameRule::IpAddress).printer(&IP_ADDRESS),
        })
}

/// The IPAddress strategy.
struct IpAddressStrategy {
    typed: Typed<IPAddress>,
}

impl Strategy for IpAddressStrategy {
    typed_basics!(typed, decode);

    fn name_rule(&self) -> NameRule {
        NameRule::IpAddress
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        parent_ref_causes(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = parent_ref_causes(new);
        let (now, before) = (
            new.pointer("/spec/parentRef"),
            old.pointer("/spec/parentRef"),
        );
        if now != before {
            causes.push(FieldCause::invalid_shown(
                "spec.parentRef",
                &go_parent_ref(now),
                "field is immutable",
            ));
        }
        causes
    }
}

/// Go's `%#v` of a `*networking.ParentReference`, as `field.Invalid` shows it.
fn go_parent_ref(parent: Option<&Value>) -> String {
    let Some(p) = parent.filter(|p| p.is_object()) else {
        return "(*networking.ParentReference)(nil)".into();
    };
    let f = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    format!(
        "&networking.ParentReference{{Group:{:?}, Resource:{:?}, Namespace:{:?}, Name:{:?}}}",
        f("group"),
        f("resource"),
        f("namespace"),
        f("name")
    )
}

/// Upstream's `validateIPAddressParentReference`: the reference is required, with a resource
/// and a name (path segments), an optional namespace (a path segment) and a group that, when
/// set, is a DNS subdomain (the core group of Services is empty).
fn parent_ref_causes(obj: &Value) -> Vec<FieldCause> {
    let Some(parent) = obj.pointer("/spec/parentRef").filter(|p| p.is_object()) else {
        return vec![FieldCause::required("spec.parentRef", "")];
    };
    let mut causes = Vec::new();
    let at = "spec.parentRef";
    let text = |k: &str| parent.get(k).and_then(Value::as_str).unwrap_or("");
    let group = text("group");
    if !group.is_empty() {
        for p in crate::validation::dns1123_subdomain_problems(group) {
            causes.push(FieldCause::invalid(format!("{at}.group"), &json!(group), p));
        }
    }
    for (field, required) in [("resource", true), ("name", true), ("namespace", false)] {
        let value = text(field);
        if value.is_empty() {
            if required {
                causes.push(FieldCause::required(format!("{at}.{field}"), ""));
            }
            continue;
        }
        for p in crate::validation::path_segment_problems(value) {
            causes.push(FieldCause::invalid(
                format!("{at}.{field}"),
                &json!(value),
                p,
            ));
        }
    }
    causes
}

/// The parent as `resource.group/namespace/name`.
fn parent(o: &Value) -> String {
    let resource = match s(o, "/spec/parentRef/group") {
        "" => s(o, "/spec/parentRef/resource").to_string(),
        g => format!("{}.{g}", s(o, "/spec/parentRef/resource")),
    };
    format!(
        "{resource}/{}/{}",
        s(o, "/spec/parentRef/namespace"),
        s(o, "/spec/parentRef/name")
    )
}

/// IPAddress: NAME PARENTREF.
pub(crate) const IP_ADDRESS: Printer = Printer {
    columns: || vec![name_column(), col("ParentRef", "string", 0)],
    cells: |o, _| vec![json!(name_of(o)), json!(parent(o))],
};
