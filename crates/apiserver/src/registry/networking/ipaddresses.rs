//! IPAddresses (networking.k8s.io/v1, `ip`): one allocated Service IP each.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, s};
use crate::table::{name_column, name_of};
use k8s_openapi::api::networking::v1::IPAddress;
use serde_json::{Value, json};

/// `ipaddresses`.
pub(crate) fn resource() -> ResourceType {
    entry("ipaddresses", "ipaddress", false)
        .short(&["ip"])
        .build::<IPAddress>(crate::strategy::Typed::<IPAddress>::new().printer(&IP_ADDRESS))
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
