//! admissionregistration.k8s.io/v1: the webhook and policy types.

pub(crate) mod defaults;
pub(crate) mod mutatingwebhookconfigurations;
pub(crate) mod policy_validation;
pub(crate) mod validatingadmissionpolicies;
pub(crate) mod validatingadmissionpolicybindings;
pub(crate) mod validatingwebhookconfigurations;
pub(crate) mod webhook_configurations;
