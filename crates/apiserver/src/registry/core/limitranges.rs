//! LimitRanges (core/v1, `limits`): stored; enforcement (the LimitRanger admission plugin) is
//! not done here.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::CREATED_AT;
use k8s_openapi::api::core::v1::LimitRange;

/// `limitranges` (core/v1, `limits`).
pub(crate) fn resource() -> ResourceType {
    entry("limitranges", "limitrange", true)
        .short(&["limits"])
        .build::<LimitRange>(crate::strategy::Typed::<LimitRange>::new().printer(&CREATED_AT))
}
