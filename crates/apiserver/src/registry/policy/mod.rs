//! policy/v1.

pub(crate) mod poddisruptionbudgets;
