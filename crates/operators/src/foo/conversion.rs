//! Conversion between Foo's versions, controller-runtime style: v1alpha1 (the storage version the
//! controller works on) is the hub, v1 converts to and from it. Nothing is lost either way: the
//! two versions hold the same fields, grouped differently, and metadata and status are copied.

use super::{Foo, FooSpec, v1};
use crate::webhooks::Webhook;
use kubeforge_runtime::webhook::{Convertible, HubConverter};

impl Convertible<Foo> for v1::Foo {
    fn convert_to(&self) -> Result<Foo, String> {
        Ok(Foo {
            metadata: self.metadata.clone(),
            spec: FooSpec {
                deployment_name: self.spec.deployment.name.clone(),
                replicas: self.spec.deployment.replicas,
            },
            status: self.status.clone(),
        })
    }

    fn convert_from(hub: &Foo) -> Result<Self, String> {
        Ok(v1::Foo {
            metadata: hub.metadata.clone(),
            spec: v1::FooSpec {
                deployment: v1::FooDeployment {
                    name: hub.spec.deployment_name.clone(),
                    replicas: hub.spec.replicas,
                },
            },
            status: hub.status.clone(),
        })
    }
}

/// Foo's conversion webhook: v1alpha1 as the hub, v1 as a spoke.
pub fn conversion_webhook() -> Webhook {
    Webhook::conversion::<Foo>(|server, path, _| {
        server.converter(path, HubConverter::<Foo>::new().spoke::<v1::Foo>())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;
    use kubeforge_runtime::webhook::Converter;
    use serde_json::{Value, json};

    fn hub(replicas: Option<i32>) -> Foo {
        let mut foo = Foo::new(
            "web",
            FooSpec {
                deployment_name: "web-nginx".into(),
                replicas,
            },
        );
        foo.metadata = ObjectMeta {
            name: Some("web".into()),
            namespace: Some("apps".into()),
            labels: Some([("tier".to_string(), "front".to_string())].into()),
            resource_version: Some("42".into()),
            ..ObjectMeta::default()
        };
        foo.status = Some(super::super::FooStatus {
            available_replicas: 2,
        });
        foo
    }

    #[test]
    fn v1_round_trips_through_the_hub() {
        for replicas in [Some(3), None] {
            let original = hub(replicas);
            let spoke = v1::Foo::convert_from(&original).unwrap();
            assert_eq!(spoke.spec.deployment.name, "web-nginx");
            assert_eq!(spoke.spec.deployment.replicas, replicas);
            assert_eq!(spoke.metadata, original.metadata);
            assert_eq!(spoke.status, original.status);
            assert_eq!(spoke.convert_to().unwrap(), original);
        }
    }

    #[test]
    fn the_hub_converter_speaks_json_at_both_versions() {
        let converter = HubConverter::<Foo>::new().spoke::<v1::Foo>();
        let stored = serde_json::to_value(hub(Some(3))).unwrap();
        let at_v1 = converter
            .convert(stored.clone(), "samplecontroller.k8s.io/v1")
            .unwrap();
        assert_eq!(at_v1["apiVersion"], "samplecontroller.k8s.io/v1");
        assert_eq!(
            at_v1["spec"],
            json!({"deployment": {"name": "web-nginx", "replicas": 3}})
        );
        assert_eq!(at_v1["metadata"], stored["metadata"]);
        assert_eq!(at_v1["status"], json!({"availableReplicas": 2}));
        let back: Value = converter
            .convert(at_v1, "samplecontroller.k8s.io/v1alpha1")
            .unwrap();
        assert_eq!(back, stored);
    }
}
