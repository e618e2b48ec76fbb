//! `/metrics`: kube-apiserver's Prometheus metrics, under upstream's names and labels, for what
//! this server has.
//!
//! - `apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}`
//!   and `apiserver_request_duration_seconds` (upstream's buckets, the same labels but `code`):
//!   recorded once per request in the HTTP handler, with the verb as upstream's `cleanVerb`
//!   reports it (`GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `APPLY`, `DELETE`) and the scope
//!   as its `CleanScope` (`resource`, `namespace`, `cluster`, or empty for paths that are not
//!   resources, which carry the path in `subresource`). A watch is recorded when its response
//!   starts (upstream: when it ends).
//! - `apiserver_current_inflight_requests{request_kind}`: the in-flight slots taken
//!   (`readOnly`, `mutating`) when scraped (upstream: the maximum over the last second).
//! - `apiserver_storage_objects{resource}` and `apiserver_resource_objects{group,resource}`:
//!   objects per stored resource, counted when scraped.
//! - `apiserver_watch_events_total{group,version,kind}` and
//!   `apiserver_registered_watchers{group,version,kind}`.
//!
//! Recording allocates nothing: label values are `&'static str`, the names of served
//! resources interned once (they are bounded by what the catalog has served; requests for
//! resources that are not served are not recorded, as upstream's router does not record them).
//! The text is OpenMetrics (`prometheus-client`), which Prometheus scrapes like upstream's.

use super::AppState;
use super::path::{ResourcePath, Target};
use axum::http::{HeaderMap, Method, Uri, header};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::{LazyLock, RwLock};
use std::time::Duration;

/// Upstream's buckets of `apiserver_request_duration_seconds`.
const DURATION_BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// The Content-Type of the metrics text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: &'static str,
    dry_run: &'static str,
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    subresource: &'static str,
    scope: &'static str,
    component: &'static str,
    code: u16,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    verb: &'static str,
    dry_run: &'static str,
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    subresource: &'static str,
    scope: &'static str,
    component: &'static str,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InflightLabels {
    request_kind: &'static str,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StorageLabels {
    resource: &'static str,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceObjectLabels {
    group: &'static str,
    resource: &'static str,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    inflight: Family<InflightLabels, Gauge>,
    storage_objects: Family<StorageLabels, Gauge>,
    resource_objects: Family<ResourceObjectLabels, Gauge>,
    watch_events: Family<KindLabels, Counter>,
    watchers: Family<KindLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `s` as a `&'static str`: each distinct value is leaked once and then shared. Only names
/// the catalog serves are interned, so the set stays as small as what was ever served.
fn intern(s: &str) -> &'static str {
    static NAMES: LazyLock<RwLock<HashSet<&'static str>>> =
        LazyLock::new(|| RwLock::new(HashSet::new()));
    if s.is_empty() {
        return "";
    }
    if let Some(found) = NAMES.read().unwrap_or_else(|e| e.into_inner()).get(s) {
        return found;
    }
    let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = names.get(s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// A watch's registration in `apiserver_registered_watchers`, and its event counter; the
/// registration ends when this is dropped.
pub struct WatchMetrics {
    events: Counter,
    watchers: Gauge,
}

impl WatchMetrics {
    /// Counts one event sent.
    pub fn event(&self) {
        self.events.inc();
    }
}

impl Drop for WatchMetrics {
    fn drop(&mut self) {
        self.watchers.dec();
    }
}

impl Metrics {
    /// The metric families, registered under upstream's names.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "apiserver_request",
            "Requests answered, by verb, dry run, group, version, resource, subresource, scope, component and HTTP code",
            requests.clone(),
        );
        let durations: Family<DurationLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register(
            "apiserver_request_duration_seconds",
            "Seconds taken to answer requests, by verb, dry run, group, version, resource, subresource, scope and component",
            durations.clone(),
        );
        let inflight = Family::<InflightLabels, Gauge>::default();
        registry.register(
            "apiserver_current_inflight_requests",
            "In-flight request slots in use, by request kind (readOnly, mutating)",
            inflight.clone(),
        );
        let storage_objects = Family::<StorageLabels, Gauge>::default();
        registry.register(
            "apiserver_storage_objects",
            "Objects stored, by resource (plural.group); superseded upstream by apiserver_resource_objects",
            storage_objects.clone(),
        );
        let resource_objects = Family::<ResourceObjectLabels, Gauge>::default();
        registry.register(
            "apiserver_resource_objects",
            "Objects stored, by group and resource",
            resource_objects.clone(),
        );
        let watch_events = Family::<KindLabels, Counter>::default();
        registry.register(
            "apiserver_watch_events",
            "Events sent to watchers, by group, version and kind",
            watch_events.clone(),
        );
        let watchers = Family::<KindLabels, Gauge>::default();
        registry.register(
            "apiserver_registered_watchers",
            "Watches open now, by group, version and kind",
            watchers.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            inflight,
            storage_objects,
            resource_objects,
            watch_events,
            watchers,
        }
    }

    /// Records one answered request. `target` is what the path addresses (None: nothing is
    /// served there, not recorded), `served` whether a resource target is in the catalog.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        target: Option<&Target>,
        served: bool,
        code: u16,
        elapsed: Duration,
    ) {
        let Some(target) = target else { return };
        let (group, version, resource, subresource, scope, verb) = match target {
            Target::Resource(rp) => {
                if !served {
                    return;
                }
                let scope = resource_scope(method, rp);
                (
                    intern(&rp.group),
                    intern(&rp.version),
                    intern(&rp.resource),
                    match rp.subresource.as_deref() {
                        Some("status") => "status",
                        Some("scale") => "scale",
                        Some("finalize") => "finalize",
                        _ => "",
                    },
                    scope,
                    resource_verb(method, uri, headers, rp),
                )
            }
            other => {
                let path = match other {
                    Target::Version => "/version",
                    Target::CoreGroups => "/api",
                    Target::Groups => "/apis",
                    Target::OpenApiV2 => "/openapi/v2",
                    Target::OpenApiV3Root => "/openapi/v3",
                    Target::Metrics => "/metrics",
                    Target::OpenIdConfiguration => "/.well-known/openid-configuration",
                    Target::Jwks => "/openid/v1/jwks",
                    Target::Health => match uri.path().split('/').nth(1) {
                        Some("livez") => "/livez",
                        Some("readyz") => "/readyz",
                        _ => "/healthz",
                    },
                    // Discovery and OpenAPI documents of groups: bounded by what is served.
                    _ if code < 300 => intern(uri.path().trim_end_matches('/')),
                    _ => return,
                };
                let verb = match *method {
                    Method::GET | Method::HEAD => "GET",
                    Method::POST => "POST",
                    Method::PUT => "PUT",
                    Method::PATCH => "PATCH",
                    Method::DELETE => "DELETE",
                    _ => "other",
                };
                ("", "", "", path, "", verb)
            }
        };
        let dry_run = dry_run(uri);
        let labels = DurationLabels {
            verb,
            dry_run,
            group,
            version,
            resource,
            subresource,
            scope,
            component: "apiserver",
        };
        self.requests
            .get_or_create(&RequestLabels {
                verb,
                dry_run,
                group,
                version,
                resource,
                subresource,
                scope,
                component: "apiserver",
                code,
            })
            .inc();
        self.durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Registers a watch of `group/version` `kind` (until the returned value is dropped).
    pub fn watch(&self, group: &str, version: &str, kind: &str) -> WatchMetrics {
        let labels = KindLabels {
            group: intern(group),
            version: intern(version),
            kind: intern(kind),
        };
        let watchers = self.watchers.get_or_create(&labels).clone();
        watchers.inc();
        WatchMetrics {
            events: self.watch_events.get_or_create(&labels).clone(),
            watchers,
        }
    }

    /// The metrics text, with the gauges read now.
    pub fn render(&self, state: &AppState) -> String {
        let (readonly, mutating) = state.filters.inflight();
        self.inflight
            .get_or_create(&InflightLabels {
                request_kind: "readOnly",
            })
            .set(readonly as i64);
        self.inflight
            .get_or_create(&InflightLabels {
                request_kind: "mutating",
            })
            .set(mutating as i64);
        self.storage_objects.clear();
        self.resource_objects.clear();
        for (key, count) in state.rest.store.object_counts() {
            // Storage keys are `group/plural`; upstream names the resource `plural.group`.
            let (group, plural) = key.split_once('/').unwrap_or(("", &key));
            let qualified = if group.is_empty() {
                intern(plural)
            } else {
                intern(&format!("{plural}.{group}"))
            };
            self.storage_objects
                .get_or_create(&StorageLabels {
                    resource: qualified,
                })
                .set(count as i64);
            self.resource_objects
                .get_or_create(&ResourceObjectLabels {
                    group: intern(group),
                    resource: intern(plural),
                })
                .set(count as i64);
        }
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// upstream's `CleanScope`.
fn resource_scope(method: &Method, rp: &ResourcePath) -> &'static str {
    if rp.name.is_some() || (*method == Method::POST && rp.subresource.is_none()) {
        "resource"
    } else if rp.namespace.is_some() {
        "namespace"
    } else {
        "cluster"
    }
}

/// upstream's `CanonicalVerb` and `cleanVerb` for a resource request.
fn resource_verb(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    rp: &ResourcePath,
) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => {
            if super::filters::is_long_running(&Method::GET, uri) {
                "WATCH"
            } else if rp.name.is_some() {
                "GET"
            } else {
                "LIST"
            }
        }
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => {
            let apply = headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes() == b"application/apply-patch+yaml");
            if apply { "APPLY" } else { "PATCH" }
        }
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// upstream's `cleanDryRun`: empty, `All`, or `invalid`.
fn dry_run(uri: &Uri) -> &'static str {
    let Some(query) = uri.query().filter(|q| q.contains("dryRun")) else {
        return "";
    };
    let mut any = false;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == "dryRun" {
            if v != "All" {
                return "invalid";
            }
            any = true;
        }
    }
    if any { "All" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(name: Option<&str>, ns: Option<&str>) -> ResourcePath {
        ResourcePath {
            group: "apps".into(),
            version: "v1".into(),
            namespace: ns.map(str::to_string),
            resource: "deployments".into(),
            name: name.map(str::to_string),
            subresource: None,
        }
    }

    #[test]
    fn verbs_and_scopes_as_upstream_cleans_them() {
        let uri = |s: &str| -> Uri { s.parse().expect("uri") };
        let none = HeaderMap::new();
        let list = rp(None, Some("ns"));
        let one = rp(Some("web"), Some("ns"));
        assert_eq!(
            resource_verb(&Method::GET, &uri("/x"), &none, &list),
            "LIST"
        );
        assert_eq!(
            resource_verb(&Method::GET, &uri("/x?watch=true"), &none, &list),
            "WATCH"
        );
        assert_eq!(resource_verb(&Method::GET, &uri("/x"), &none, &one), "GET");
        let mut apply = HeaderMap::new();
        apply.insert(
            header::CONTENT_TYPE,
            "application/apply-patch+yaml".parse().expect("header"),
        );
        assert_eq!(
            resource_verb(&Method::PATCH, &uri("/x"), &apply, &one),
            "APPLY"
        );
        assert_eq!(resource_scope(&Method::POST, &list), "resource");
        assert_eq!(resource_scope(&Method::GET, &list), "namespace");
        assert_eq!(resource_scope(&Method::GET, &rp(None, None)), "cluster");
        assert_eq!(dry_run(&uri("/x?dryRun=All")), "All");
        assert_eq!(dry_run(&uri("/x?dryRun=Some")), "invalid");
        assert_eq!(dry_run(&uri("/x")), "");
    }

    #[test]
    fn interning_is_stable() {
        let a = intern(&String::from("widgets"));
        let b = intern("widgets");
        assert!(std::ptr::eq(a, b));
    }
}
