//! autoscaling/v2 and v1.

pub(crate) mod horizontalpodautoscalers;
