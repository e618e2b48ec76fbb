//! The Network validating webhook: a new Network whose CIDR shares an address with another
//! Network of its namespace is refused (422, naming each). Two creates racing each other may
//! still both pass, and Networks from before the webhook stay: the `Overlapping` status
//! condition reports those. `cidr` is immutable, so updates are not checked (a finalizer or
//! claims update of an already overlapping Network must go through).

use super::{Cidr, Network};
use crate::webhooks::{Admission, Webhook, field_error, invalid};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use kubeforge_runtime::webhook::{BoxFuture, Denied, Validator, Warnings};

/// Checks Networks as they are created, against the others of their namespace.
#[derive(Clone)]
pub struct NetworkValidator {
    client: Client,
}

impl std::fmt::Debug for NetworkValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkValidator").finish_non_exhaustive()
    }
}

impl NetworkValidator {
    /// A validator listing Networks with `client`.
    pub fn new(client: Client) -> Self {
        NetworkValidator { client }
    }
}

/// The detail of a CIDR overlapping `other`'s.
pub fn overlap_detail(other: &Network) -> String {
    format!(
        "overlaps Network {:?} ({})",
        other.name_any(),
        other.spec.cidr
    )
}

/// The refusal of `network` given the other Networks of its namespace.
pub fn validate(network: &Network, others: &[Network]) -> Result<Warnings, Denied> {
    // An invalid CIDR is the schema's to refuse (its CEL rules run before the webhooks).
    let Some(cidr) = Cidr::parse(&network.spec.cidr) else {
        return Ok(Vec::new());
    };
    let name = network.name_any();
    let mut overlapping: Vec<&Network> = others
        .iter()
        .filter(|o| o.name_any() != name)
        .filter(|o| Cidr::parse(&o.spec.cidr).is_some_and(|c| c.masked().overlaps(cidr.masked())))
        .collect();
    overlapping.sort_by_key(|o| o.name_any());
    let errors: Vec<String> = overlapping
        .iter()
        .map(|o| field_error("spec.cidr", &network.spec.cidr, &overlap_detail(o)))
        .collect();
    if errors.is_empty() {
        Ok(Vec::new())
    } else {
        Err(invalid(network, &errors))
    }
}

impl Validator<Network> for NetworkValidator {
    fn validate_create<'a>(
        &'a self,
        network: &'a Network,
    ) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move {
            let namespace = network.namespace().unwrap_or_default();
            let others = Api::<Network>::namespaced(self.client.clone(), &namespace)
                .list(&ListParams::default())
                .await
                .map_err(|e| Denied {
                    code: 500,
                    ..Denied::new(format!(
                        "listing the Networks of namespace {namespace:?}: {e}"
                    ))
                })?;
            validate(network, &others.items)
        })
    }

    fn validate_update<'a>(
        &'a self,
        _old: &'a Network,
        _new: &'a Network,
    ) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// The Network operator's webhooks: the overlap validator.
pub fn webhooks() -> Vec<Webhook> {
    vec![Webhook::of::<Network>(
        Admission::Validating,
        |server, path, client| server.validator::<Network, _>(path, NetworkValidator::new(client)),
    )]
}
