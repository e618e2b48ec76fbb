//! Kubernetes Events (`events.k8s.io/v1`) for the objects a controller manages, aggregated
//! so that reconciling the same state again and again (resyncs, retries) does not flood the
//! API server: client-go's `tools/events` series plus `tools/record`'s per-object spam filter.
//!
//! | file | mechanism |
//! |---|---|
//! | `recorder.rs` | [`Recorder`]: series, spam filter, bounded cache, periodic flush |
//! | `spam_filter.rs` | the per-object token bucket |

mod recorder;
mod spam_filter;

pub use recorder::{EventType, MIN_SERIES_UPDATE_INTERVAL, Recorder, RecorderConfig};
