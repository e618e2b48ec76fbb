//! authorization.k8s.io/v1: the access reviews (`kubectl auth can-i`), answered from RBAC.

pub(crate) mod localsubjectaccessreviews;
pub(crate) mod selfsubjectaccessreviews;
pub(crate) mod selfsubjectrulesreviews;
pub(crate) mod subjectaccessreviews;
