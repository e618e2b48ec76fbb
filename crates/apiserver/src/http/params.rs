//! Query parameters into request options.

use crate::rest::{DeleteOptions, FieldValidation, ListOptions, WatchOptions, WriteOptions};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, FieldCause};
use axum::http::{HeaderMap, Method};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// The query parameters of one request.
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
    /// The `meta.k8s.io` options kind invalid write options are reported against, as upstream
    /// does (`CreateOptions.meta.k8s.io "" is invalid: dryRun: ...`).
    options_kind: &'static str,
}

impl Params {
    /// Parses a query string.
    pub fn parse(query: Option<&str>) -> Self {
        Params {
            values: form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
            options_kind: "CreateOptions",
        }
    }

    /// Parses the query string of a request with `method`.
    pub fn for_request(method: &Method, query: Option<&str>) -> Self {
        let mut params = Self::parse(query);
        params.options_kind = match *method {
            Method::PUT => "UpdateOptions",
            Method::PATCH => "PatchOptions",
            Method::DELETE => "DeleteOptions",
            _ => "CreateOptions",
        };
        params
    }

    /// One parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// 422 for invalid write or delete options.
    fn invalid_option(&self, cause: FieldCause) -> ApiError {
        ApiError::invalid("meta.k8s.io", self.options_kind, "", vec![cause])
    }

    fn unsupported_dry_run(&self, value: &Value) -> ApiError {
        self.invalid_option(FieldCause::not_supported(
            "dryRun",
            &json!([value]),
            &["All".to_string()],
        ))
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some("true" | "1" | "True") => Ok(Some(true)),
            Some("false" | "0" | "False") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for {name}: {other:?}; expected true or false"
            ))),
        }
    }

    fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value for {name}: {s:?}; expected a non-negative integer"
                    ))
                })
            })
            .transpose()
    }

    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(self.unsupported_dry_run(&json!(other))),
        }
    }

    /// List options.
    pub fn list(&self) -> Result<ListOptions, ApiError> {
        let label_selector = LabelSelector::parse(self.get("labelSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        let field_selector = FieldSelector::parse(self.get("fieldSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        // `limit` is an int64 upstream: a negative one, like 0, asks for everything.
        let limit = match self.get("limit").filter(|s| !s.is_empty()) {
            None => 0,
            Some(s) => s.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for limit: {s:?}; expected an integer"
                ))
            })?,
        };
        Ok(ListOptions {
            label_selector,
            field_selector,
            limit: usize::try_from(limit.max(0)).unwrap_or(usize::MAX),
            continue_token: self.get("continue").map(str::to_string),
            resource_version: self.get("resourceVersion").map(str::to_string),
            resource_version_match: self.get("resourceVersionMatch").map(str::to_string),
            by_client: true,
        })
    }

    /// Whether this is a watch request.
    pub fn is_watch(&self) -> Result<bool, ApiError> {
        Ok(self.flag("watch")?.unwrap_or(false))
    }

    /// Watch options.
    pub fn watch(&self) -> Result<WatchOptions, ApiError> {
        Ok(WatchOptions {
            list: self.list()?,
            bookmarks: self.flag("allowWatchBookmarks")?.unwrap_or(false),
            send_initial_events: self.flag("sendInitialEvents")?,
            timeout: self.number("timeoutSeconds")?.map(Duration::from_secs),
        })
    }

    /// Write options; the field manager defaults to the client's user agent, as upstream.
    pub fn write(&self, headers: &HeaderMap) -> Result<WriteOptions, ApiError> {
        let field_manager = match self.get("fieldManager") {
            Some(m) if !m.is_empty() => {
                if m.len() > 128 {
                    return Err(self.invalid_option(FieldCause {
                        reason: "FieldValueTooLong",
                        field: "fieldManager".into(),
                        message: "fieldManager: Too long: may not be more than 128 bytes".into(),
                    }));
                }
                if let Some((i, c)) = m.char_indices().find(|(_, c)| c.is_control()) {
                    return Err(self.invalid_option(FieldCause::invalid(
                        "fieldManager",
                        &json!(m),
                        format!("invalid character {c:?} (at position {i})"),
                    )));
                }
                m.to_string()
            }
            _ => headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| {
                    ua.split('/')
                        .next()
                        .unwrap_or(ua)
                        .chars()
                        .take(128)
                        .collect()
                })
                .unwrap_or_default(),
        };
        let field_manager_defaulted = self.get("fieldManager").is_none_or(str::is_empty);
        Ok(WriteOptions {
            dry_run: self.dry_run()?,
            field_manager,
            field_manager_defaulted,
            force: self.options_kind == "PatchOptions" && self.flag("force")? == Some(true),
            managed_fields_computed: false,
            user: None,
            field_validation: {
                let v = self.get("fieldValidation").unwrap_or("");
                FieldValidation::parse(v).map_err(|_| {
                    self.invalid_option(FieldCause::not_supported(
                        "fieldValidation",
                        &json!(v),
                        &["", "Ignore", "Strict", "Warn"].map(String::from),
                    ))
                })?
            },
        })
    }

    /// Delete options from the query and an optional `DeleteOptions` body.
    pub fn delete(&self, body: Option<&Value>) -> Result<DeleteOptions, ApiError> {
        let grace_period_seconds = match self.get("gracePeriodSeconds").filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(s.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for gracePeriodSeconds: {s:?}; expected an integer"
                ))
            })?),
        };
        let mut opts = DeleteOptions {
            dry_run: self.dry_run()?,
            propagation_policy: self.get("propagationPolicy").map(str::to_string),
            grace_period_seconds,
            ..DeleteOptions::default()
        };
        if let Some(b) = body {
            if !b.is_object() {
                return Err(ApiError::bad_request("DeleteOptions must be an object"));
            }
            if let Some(p) = b.get("propagationPolicy").and_then(Value::as_str) {
                opts.propagation_policy = Some(p.to_string());
            }
            match b.get("gracePeriodSeconds") {
                None | Some(Value::Null) => {}
                Some(g) => {
                    opts.grace_period_seconds = Some(g.as_i64().ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "DeleteOptions: gracePeriodSeconds must be an integer, got {g}"
                        ))
                    })?);
                }
            }
            if b.get("orphanDependents").and_then(Value::as_bool) == Some(true)
                && opts.propagation_policy.is_none()
            {
                opts.propagation_policy = Some("Orphan".into());
            }
            opts.uid = b
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            opts.resource_version = b
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(d) = b.get("dryRun").and_then(Value::as_array) {
                for v in d {
                    match v.as_str() {
                        Some("All") => opts.dry_run = true,
                        _ => return Err(self.unsupported_dry_run(v)),
                    }
                }
            }
        }
        Ok(opts)
    }
}
