//! Delivery: one dispatcher takes events off the backlog in order; each event's handlers run
//! concurrently, each with up to `maxRetry` attempts and `retryWait * 1.5^(i-1)` between them
//! (capped at `maxRetryWait`). Up to [`MAX_IN_FLIGHT`](crate::engine::EngineOptions) events are
//! delivered at once, so a slow output does not hold back the queue behind one event.

use crate::backlog::Queued;
use crate::encoder::{encode_map, with_labels};
use crate::engine::Core;
use crate::routes::Route;
use crate::types::Encoder;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use tokio::task::JoinSet;

/// Runs until the backlog is closed and empty and every delivery has ended.
pub async fn dispatch(core: Arc<Core>) {
    let mut running = JoinSet::new();
    while let Some(queued) = core.backlog.pop().await {
        core.metrics.queue_depth.set(core.backlog.depth() as i64);
        // Counted from here: an event waiting for a delivery slot is in flight, not queued.
        core.delivering.fetch_add(1, Ordering::AcqRel);
        let permit = match core.in_flight.clone().acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => break,
        };
        while running.try_join_next().is_some() {}
        let core = core.clone();
        running.spawn(async move {
            deliver(&core, queued).await;
            core.delivering.fetch_sub(1, Ordering::AcqRel);
            drop(permit);
        });
    }
    while running.join_next().await.is_some() {}
}

/// Delivers one event to every handler that applies now.
pub async fn deliver(core: &Core, queued: Queued) {
    let routes = core.routes();
    let ty = cloudevents::AttributesReader::ty(&queued.event).to_string();
    core.metrics
        .processed
        .get_or_create(&core.metrics.type_label(&ty))
        .inc();
    if routes.routes.is_empty() {
        core.metrics.no_handler("no_handler");
        tracing::debug!(r#type = %ty, "no handler applies; event dropped");
        return;
    }
    let deliveries = routes
        .routes
        .iter()
        .map(|route| deliver_route(core, route, &queued));
    futures::future::join_all(deliveries).await;
}

/// The live output that now serves `route` (its handler still routes to an output of that
/// name), when the one it had was retired by a reload.
fn replacement(core: &Core, route: &Route) -> Option<Arc<crate::output::Output>> {
    core.routes()
        .routes
        .iter()
        .find(|r| r.handler == route.handler && r.output_name == route.output_name)
        .and_then(|r| r.output.clone())
        .filter(|o| !o.is_retired())
}

async fn deliver_route(core: &Core, route: &Route, queued: &Queued) {
    let Some(mut output) = route.output.clone() else {
        core.metrics
            .failure(&route.handler, &route.output_name, "output_missing");
        return;
    };
    let event = with_labels(&queued.event, &route.labels);
    let record = match route.encoder {
        Encoder::Map => encode_map(&event),
    };
    let retry = core.retry();
    let mut attempt = 1;
    loop {
        if output.is_retired() {
            // A changed output is retired and replaced: the event moves over to the
            // replacement (same handler, same output name); only a deleted one fails it.
            match replacement(core, route) {
                Some(current) => output = current,
                None => {
                    core.metrics
                        .failure(&route.handler, &route.output_name, "output_deleted");
                    return;
                }
            }
        }
        match output.send(&event, record.clone(), SystemTime::now()).await {
            Ok(()) => {
                core.metrics.delivery(
                    &route.handler,
                    &route.output_name,
                    queued.accepted.elapsed().as_secs_f64(),
                );
                return;
            }
            Err(error) if attempt >= retry.max_attempts => {
                tracing::warn!(handler = %route.handler, output = %route.output_name, %error, attempts = attempt, "delivery failed");
                core.metrics
                    .failure(&route.handler, &route.output_name, "attempts_exhausted");
                return;
            }
            Err(error) => {
                tracing::debug!(handler = %route.handler, %error, attempt, "delivery failed; retrying");
                tokio::time::sleep(retry.delay(attempt)).await;
                attempt += 1;
            }
        }
    }
}
