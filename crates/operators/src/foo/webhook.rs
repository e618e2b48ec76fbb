//! The Foo defaulting webhook: a Foo written without `spec.replicas` (v1: `spec.deployment.replicas`)
//! gets 1 (what its Deployment would default to anyway), so the Foo says what it runs and
//! `kubectl get foo` shows it.

use super::{Foo, v1};
use crate::webhooks::{Admission, Webhook};
use kubeforge_runtime::webhook::{BoxFuture, Defaulter, Denied, Warnings};

/// The replicas of a Foo that names none.
pub const DEFAULT_REPLICAS: i32 = 1;

/// Fills in a Foo's defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct FooDefaulter;

impl Defaulter<Foo> for FooDefaulter {
    fn default<'a>(&'a self, foo: &'a mut Foo) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move {
            foo.spec.replicas.get_or_insert(DEFAULT_REPLICAS);
            Ok(Vec::new())
        })
    }
}

/// The same default at v1, where replicas sit in `spec.deployment`.
impl Defaulter<v1::Foo> for FooDefaulter {
    fn default<'a>(&'a self, foo: &'a mut v1::Foo) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move {
            foo.spec.deployment.replicas.get_or_insert(DEFAULT_REPLICAS);
            Ok(Vec::new())
        })
    }
}

/// The Foo operator's webhooks: the defaulter of each version (each called for writes at its own
/// version, see [`Webhook::configuration_entry`]) and the conversion between v1alpha1 and v1.
pub fn webhooks() -> Vec<Webhook> {
    vec![
        Webhook::of::<Foo>(Admission::Mutating, |server, path, _| {
            server.defaulter::<Foo, _>(path, FooDefaulter)
        }),
        Webhook::of::<v1::Foo>(Admission::Mutating, |server, path, _| {
            server.defaulter::<v1::Foo, _>(path, FooDefaulter)
        }),
        super::conversion_webhook(),
    ]
}
