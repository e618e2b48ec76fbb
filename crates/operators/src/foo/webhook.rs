//! The Foo defaulting webhook: a Foo written without `spec.replicas` gets 1 (what its Deployment
//! would default to anyway), so the Foo says what it runs and `kubectl get foo` shows it.

use super::Foo;
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

/// The Foo operator's webhooks: the defaulter.
pub fn webhooks() -> Vec<Webhook> {
    vec![Webhook::of::<Foo>(
        Admission::Mutating,
        |server, path, _| server.defaulter::<Foo, _>(path, FooDefaulter),
    )]
}
