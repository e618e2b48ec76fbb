//! Helpers controllers need on every line (controller-runtime's `controllerutil` and
//! client-go's `retry`), on kube-rs's [`Api`](kube::Api).
//!
//! | file | mechanism |
//! |---|---|
//! | `conflict.rs` | [`retry_on_conflict`]: read-modify-write retried on 409 |
//! | `status.rs` | [`update_status`], [`patch_status`] |
//! | `create_or_update.rs` | [`create_or_update`], [`create_or_patch`], [`OperationResult`] |
//! | `owner.rs` | [`set_controller_reference`] |
//! | `merge_patch.rs` | the merge patch between two states of an object |

mod conflict;
mod create_or_update;
mod merge_patch;
mod owner;
mod status;

pub use conflict::{CONFLICT_ATTEMPTS, is_conflict, retry_on_conflict};
pub use create_or_update::{OperationResult, create_or_patch, create_or_update};
pub use owner::{AlreadyOwnedError, OwnerReferenceError, set_controller_reference};
pub use status::{patch_status, update_status};
