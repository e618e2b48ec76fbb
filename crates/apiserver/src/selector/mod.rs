//! Label and field selectors, parsed once per request and matched against stored objects.

mod field;
mod label;

pub use field::{FieldRequirement, FieldSelector};
pub use label::{LabelSelector, Requirement};
