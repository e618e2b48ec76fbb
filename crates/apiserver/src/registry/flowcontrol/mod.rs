//! flowcontrol.apiserver.k8s.io/v1.

pub(crate) mod flowschemas;
pub(crate) mod prioritylevelconfigurations;
