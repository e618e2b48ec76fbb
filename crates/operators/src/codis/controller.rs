//! The rule controller: one for every rule in every namespace. A rule is reconciled when it
//! changes, when a ConfigMap or Secret that may be its source, its copy or in the way of a copy
//! changes, and when a namespace it lists appears or goes.

use super::reconcile::{
    CodisContext, add_indexes, reconcile, rules_for_namespace, rules_for_object,
};
use super::types::ConfigurationDistributionRule;
use crate::events::Events;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::ResourceExt;
use kubeforge_runtime::cache::{IndexError, InformerScope, Lister};
use kubeforge_runtime::controller::{Controller, Request, RunnableController};
use kubeforge_runtime::manager::Manager;
use std::sync::Arc;

/// The controller's name (its work queue and metrics are labelled with it).
pub const CONTROLLER_NAME: &str = "configurationdistributionrule";

fn requests(keys: Vec<(String, String)>) -> Vec<Request> {
    keys.iter()
        .map(|(ns, name)| Request::namespaced(ns, name))
        .collect()
}

/// Builds the rule controller on `manager`'s client, informers and recorder (adding the indexes it reads through).
pub fn controller(manager: &Manager) -> Result<RunnableController, IndexError> {
    let factory = manager.factory();
    let rule_informer = factory.informer::<ConfigurationDistributionRule>(InformerScope::all());
    let config_maps = factory.informer::<ConfigMap>(InformerScope::all());
    let secrets = factory.informer::<Secret>(InformerScope::all());
    let namespaces = factory.informer::<Namespace>(InformerScope::all());
    add_indexes(&rule_informer, &config_maps, &secrets)?;
    let rules: Lister<ConfigurationDistributionRule> = rule_informer.lister();
    let ctx = Arc::new(CodisContext {
        client: manager.client(),
        rules: rules.clone(),
        config_maps: config_maps.lister(),
        secrets: secrets.lister(),
        namespaces: namespaces.lister(),
        events: Events::new(manager.recorder("kubeforge.dev/codis-controller")),
    });
    let for_config_map = rules.clone();
    let for_secret = rules.clone();
    let for_namespace = rules;
    Ok(
        Controller::<ConfigurationDistributionRule>::new(CONTROLLER_NAME)
            .watches::<ConfigMap, _>(move |cm| requests(rules_for_object(&for_config_map, cm)))
            .watches::<Secret, _>(move |secret| requests(rules_for_object(&for_secret, secret)))
            .watches::<Namespace, _>(move |ns| {
                requests(rules_for_namespace(&for_namespace, &ns.name_any()))
            })
            .concurrency(2)
            .build(reconcile, ctx),
    )
}
