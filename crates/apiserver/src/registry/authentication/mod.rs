//! authentication.k8s.io/v1: the identity review (`kubectl auth whoami`) and the token review.

pub(crate) mod selfsubjectreviews;
pub(crate) mod tokenreviews;
