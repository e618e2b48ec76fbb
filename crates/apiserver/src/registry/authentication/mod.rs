//! authentication.k8s.io/v1: the identity review (`kubectl auth whoami`).

pub(crate) mod selfsubjectreviews;
