//! autoscaling/v2 and v1.

mod conversion;
pub(crate) mod horizontalpodautoscalers;
