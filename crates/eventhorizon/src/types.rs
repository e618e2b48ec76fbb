//! The four custom resources (`eventhorizon.acesso.io/v1alpha1`), their schemas (OpenAPI with
//! the original's defaults, plus CEL rules) and their statuses.
//!
//! Numbers keep the original's convention: a value `<= 0` means the default, so the schema
//! defaults a missing field and the router also reads `0` as "the default".

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API group of the four kinds.
pub const GROUP: &str = "eventhorizon.acesso.io";
/// Default ingest port.
pub const DEFAULT_PORT: i32 = 1257;
/// Default metrics port.
pub const DEFAULT_METRICS_PORT: i32 = 1258;
/// Default metrics path.
pub const DEFAULT_METRICS_PATH: &str = "/metrics";
/// Default queue size.
pub const DEFAULT_BACKLOG: i64 = 8192;
/// Default delivery attempts per handler.
pub const DEFAULT_MAX_RETRY: i64 = 25;
/// Default first retry wait, milliseconds.
pub const DEFAULT_RETRY_WAIT: i64 = 500;
/// Default cap on a retry wait, milliseconds.
pub const DEFAULT_MAX_RETRY_WAIT: i64 = 65_000;
/// A Go duration string (`3s`, `1m30s`, `250ms`, `0`).
pub const GO_DURATION: &str = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$";
/// A Singularity reference, `namespace/name`.
pub const SUBJECT: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";

fn default_port() -> i32 {
    DEFAULT_PORT
}
fn default_metrics_port() -> i32 {
    DEFAULT_METRICS_PORT
}
fn default_metrics_path() -> String {
    DEFAULT_METRICS_PATH.to_string()
}
fn default_true() -> bool {
    true
}
fn default_backlog() -> i64 {
    DEFAULT_BACKLOG
}
fn default_max_retry() -> i64 {
    DEFAULT_MAX_RETRY
}
fn default_retry_wait() -> i64 {
    DEFAULT_RETRY_WAIT
}
fn default_max_retry_wait() -> i64 {
    DEFAULT_MAX_RETRY_WAIT
}

/// How a Singularity receives events.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    /// CloudEvents over HTTP.
    #[default]
    Http,
    /// CloudEvents over NATS (`nats.server`, `nats.subject`; see `nats.rs`).
    Nats,
}

/// The HTTP transport.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpTransport {
    /// Port of the ingest endpoint (`<= 0`: 1257).
    #[serde(default = "default_port")]
    #[schemars(range(max = 65535))]
    pub port: i32,
    /// Answer 200 instead of 202 on acceptance.
    #[serde(default, rename = "useStatusCodeOK")]
    pub use_status_code_ok: bool,
}

impl Default for HttpTransport {
    fn default() -> Self {
        HttpTransport {
            port: DEFAULT_PORT,
            use_status_code_ok: false,
        }
    }
}

/// The NATS transport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NatsTransport {
    /// NATS server URL.
    #[serde(default)]
    pub server: String,
    /// Subject to subscribe to.
    #[serde(default)]
    pub subject: String,
}

/// Where events come in.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.name != 'nats' || (has(self.nats) && self.nats.server != '' && self.nats.subject != '')").message("transport nats needs nats.server and nats.subject"))]
pub struct Transport {
    /// `http` or `nats`.
    #[serde(default)]
    pub name: TransportName,
    /// HTTP settings.
    #[serde(default)]
    pub http: HttpTransport,
    /// NATS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsTransport>,
}

/// The Prometheus endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSpec {
    /// Serve metrics.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Port (`<= 0`: 1258).
    #[serde(default = "default_metrics_port")]
    #[schemars(range(max = 65535))]
    pub port: i32,
    /// Path (default `/metrics`).
    #[serde(default = "default_metrics_path")]
    #[schemars(pattern(r"^/[^?#]*$"), length(max = 256))]
    pub path: String,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            enabled: true,
            port: DEFAULT_METRICS_PORT,
            path: default_metrics_path(),
        }
    }
}

/// An eventhorizon process: where it listens and how it delivers.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "eventhorizon.acesso.io",
    version = "v1alpha1",
    kind = "Singularity",
    plural = "singularities",
    namespaced,
    status = "SingularityStatus",
    derive = "PartialEq",
    shortname = "s",
    category = "acesso-io",
    category = "eventhorizon-acesso-io",
    doc = "An eventhorizon router process (selected by EVENTHORIZON_NAME=namespace/name): where it receives CloudEvents and how it delivers them.",
    printcolumn = r#"{"name":"Port","type":"integer","jsonPath":".spec.transport.http.port"}"#,
    printcolumn = r#"{"name":"Listening","type":"string","jsonPath":".status.listening"}"#,
    printcolumn = r#"{"name":"Received","type":"integer","jsonPath":".status.received"}"#,
    printcolumn = r#"{"name":"Delivered","type":"integer","jsonPath":".status.delivered"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(self.metrics.enabled && self.transport.name == 'http' && self.metrics.port > 0 && self.metrics.port == self.transport.http.port)").message("metrics.port must differ from transport.http.port"))]
pub struct SingularitySpec {
    /// Where events come in.
    #[serde(default)]
    pub transport: Transport,
    /// Enforce the CloudEventValidators of this Singularity's handlers at ingest.
    #[serde(default)]
    pub validation: bool,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// Events queued for delivery at most (`<= 0`: 8192); beyond, ingest answers 503.
    #[serde(default = "default_backlog")]
    #[schemars(range(max = 16777216))]
    pub backlog: i64,
    /// Delivery attempts per handler (`<= 0`: 25).
    #[serde(default = "default_max_retry")]
    #[schemars(range(max = 1000))]
    pub max_retry: i64,
    /// Wait before the second attempt, in milliseconds (`<= 0`: 500); grows 1.5× per attempt.
    #[serde(default = "default_retry_wait")]
    pub retry_wait: i64,
    /// Cap on one wait, in milliseconds (`<= 0`: 65000).
    #[serde(default = "default_max_retry_wait")]
    pub max_retry_wait: i64,
}

/// What a Singularity's process reports.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SingularityStatus {
    /// The ingest address it listens on (`0.0.0.0:1257`), absent when not listening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening: Option<String>,
    /// The metrics address, when served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// Events accepted at ingest since the process started.
    #[serde(default)]
    pub received: u64,
    /// Handler deliveries that succeeded.
    #[serde(default)]
    pub delivered: u64,
    /// Events dropped (no handler applied).
    #[serde(default)]
    pub dropped: u64,
    /// Handler deliveries that failed after every attempt.
    #[serde(default)]
    pub failed: u64,
    /// Events rejected at ingest (invalid, denied by a validator, backlog full).
    #[serde(default)]
    pub rejected: u64,
    /// `Ready`: listening with its current spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Kind of output.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputType {
    /// The Fluentd Forward protocol.
    Fluentd,
    /// One JSON line per event on standard output.
    Stdout,
    /// POST as a structured CloudEvent.
    Http,
}

/// Fluentd network.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// TCP to host:port.
    #[default]
    Tcp,
    /// A unix stream socket at socketPath.
    Unix,
}

fn default_fluentd_host() -> String {
    "127.0.0.1".to_string()
}
fn default_fluentd_port() -> i32 {
    24224
}
fn default_timeout() -> String {
    "3s".to_string()
}
fn default_write_timeout() -> String {
    "0s".to_string()
}
fn default_buffer_limit() -> i64 {
    8192
}
fn default_fluentd_max_retry_wait() -> i64 {
    60_000
}
fn default_fluentd_max_retry() -> i64 {
    13
}

/// A Fluentd Forward protocol client's settings (fluent-logger-golang's fields).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.network != 'unix' || self.socketPath != ''").message("network unix needs socketPath"))]
pub struct FluentdSpec {
    /// Host for `tcp` (default 127.0.0.1).
    #[serde(default = "default_fluentd_host")]
    #[schemars(length(max = 253))]
    pub host: String,
    /// Port for `tcp` (`<= 0`: 24224).
    #[serde(default = "default_fluentd_port")]
    #[schemars(range(max = 65535))]
    pub port: i32,
    /// Socket path for `unix`.
    #[serde(default)]
    #[schemars(length(max = 1024))]
    pub socket_path: String,
    /// `tcp` or `unix`.
    #[serde(default)]
    pub network: Network,
    /// Connect timeout, also how long to wait for an ack (Go duration; default 3s).
    #[serde(default = "default_timeout")]
    #[schemars(pattern(GO_DURATION))]
    pub timeout: String,
    /// Write timeout (Go duration; `0s`: none).
    #[serde(default = "default_write_timeout")]
    #[schemars(pattern(GO_DURATION))]
    pub write_timeout: String,
    /// Events waiting for the connection at most (`<= 0`: 8192); beyond, a post fails at once.
    #[serde(default = "default_buffer_limit")]
    pub buffer_limit: i64,
    /// First reconnect wait in milliseconds (`<= 0`: 500).
    #[serde(default = "default_retry_wait")]
    pub retry_wait: i64,
    /// Cap on a reconnect wait in milliseconds (`<= 0`: 60000).
    #[serde(default = "default_fluentd_max_retry_wait")]
    pub max_retry_wait: i64,
    /// Write attempts per batch, reconnecting in between (`<= 0`: 13).
    #[serde(default = "default_fluentd_max_retry")]
    #[schemars(range(max = 1000))]
    pub max_retry: i64,
    /// A post succeeds once the event is buffered, not once it is written.
    #[serde(default)]
    pub r#async: bool,
    /// Send EventTime (nanoseconds) instead of integer seconds.
    #[serde(default)]
    pub sub_second_precision: bool,
    /// Ask the receiver to acknowledge every chunk.
    #[serde(default)]
    pub request_ack: bool,
    /// Tag prefix: the tag is `<tagPrefix>.eventhorizon` (or `eventhorizon` when empty).
    #[serde(default)]
    #[schemars(length(max = 253))]
    pub tag_prefix: String,
}

/// An HTTP sink.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpOutputSpec {
    /// `http://` URL the events are POSTed to as structured CloudEvents.
    #[schemars(pattern(r"^http://[^\s]+$"), length(max = 2048))]
    pub url: String,
    /// Request timeout (Go duration; default 3s).
    #[serde(default = "default_timeout")]
    #[schemars(pattern(GO_DURATION))]
    pub timeout: String,
}

/// Where a handler sends events.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "eventhorizon.acesso.io",
    version = "v1alpha1",
    kind = "CloudEventOutput",
    plural = "cloudeventoutputs",
    status = "CloudEventOutputStatus",
    derive = "PartialEq",
    shortname = "ceo",
    category = "acesso-io",
    category = "eventhorizon-acesso-io",
    doc = "A destination for CloudEvents: a Fluentd Forward endpoint, standard output or an HTTP URL.",
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#,
    printcolumn = r#"{"name":"Connected","type":"boolean","jsonPath":".status.connected"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type != 'fluentd' || has(self.fluentd)").message("type fluentd needs fluentd settings"))]
#[x_kube(validation = Rule::new("self.type != 'http' || has(self.http)").message("type http needs http.url"))]
pub struct CloudEventOutputSpec {
    /// `fluentd`, `stdout` or `http`.
    pub r#type: OutputType,
    /// Fluentd settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fluentd: Option<FluentdSpec>,
    /// HTTP settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpOutputSpec>,
}

/// What the router knows of an output.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudEventOutputStatus {
    /// Whether the router holds a working connection (always true for stdout).
    #[serde(default)]
    pub connected: bool,
    /// The last delivery error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// `Ready`: the settings are valid and the output is in use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// How a handler encodes an event.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoder {
    /// `{specversion, id, subject, source, type, time, extensions, data}`.
    #[default]
    Map,
}

/// Which Singularities' events go to which output.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "eventhorizon.acesso.io",
    version = "v1alpha1",
    kind = "CloudEventHandler",
    plural = "cloudeventhandlers",
    status = "CloudEventHandlerStatus",
    derive = "PartialEq",
    shortname = "ceh",
    category = "acesso-io",
    category = "eventhorizon-acesso-io",
    doc = "Routes the events of the listed Singularities to an output, labelled and encoded.",
    printcolumn = r#"{"name":"Output","type":"string","jsonPath":".spec.output"}"#,
    printcolumn = r#"{"name":"Resolved","type":"boolean","jsonPath":".status.outputResolved"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CloudEventHandlerSpec {
    /// Singularities (`namespace/name`) whose events this handler receives.
    #[schemars(length(min = 1, max = 256), inner(pattern(SUBJECT), length(max = 317)))]
    pub subjects: Vec<String>,
    /// Added to each event as the `labels` extension.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The encoder (`map`).
    #[serde(default)]
    pub encoder: Encoder,
    /// The CloudEventOutput's name.
    #[schemars(length(min = 1, max = 253))]
    pub output: String,
}

/// What the router resolved of a handler.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudEventHandlerStatus {
    /// The listed Singularities that exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies_to: Vec<String>,
    /// Whether the output exists and is usable.
    #[serde(default)]
    pub output_resolved: bool,
    /// `Ready`: the output is resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Which events the handlers it names accept.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "eventhorizon.acesso.io",
    version = "v1alpha1",
    kind = "CloudEventValidator",
    plural = "cloudeventvalidators",
    status = "CloudEventValidatorStatus",
    derive = "PartialEq",
    shortname = "cev",
    category = "acesso-io",
    category = "eventhorizon-acesso-io",
    doc = "Admits only events whose type and source match its patterns (globs, or /regexes/) into the handlers it names, when their Singularity has validation on.",
    printcolumn = r#"{"name":"Priority","type":"integer","jsonPath":".spec.priority"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CloudEventValidatorSpec {
    /// Handlers this validator guards (empty: every handler).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1, max = 253)))]
    pub handlers: Vec<String>,
    /// Higher priorities are checked first (the first failing one names the reason).
    #[serde(default)]
    pub priority: i32,
    /// Allowed event types: globs (`*`, `?`) or `/regex/` (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1, max = 1024)))]
    pub allowed_types: Vec<String>,
    /// Allowed event sources, same syntax (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1, max = 1024)))]
    pub allowed_sources: Vec<String>,
}

/// Whether a validator's patterns compile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudEventValidatorStatus {
    /// `Ready`: every pattern is valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
