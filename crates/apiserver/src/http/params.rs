//! Query parameters into request options.

use crate::rest::{DeleteOptions, FieldValidation, ListOptions, WatchOptions, WriteOptions};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use axum::http::HeaderMap;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The query parameters of one request.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses a query string.
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// One parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
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
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {other:?}: supported values: \"All\""
            ))),
        }
    }

    /// List options.
    pub fn list(&self) -> Result<ListOptions, ApiError> {
        let label_selector = LabelSelector::parse(self.get("labelSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        let field_selector = FieldSelector::parse(self.get("fieldSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        let limit = self.number("limit")?.unwrap_or(0);
        Ok(ListOptions {
            label_selector,
            field_selector,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            continue_token: self.get("continue").map(str::to_string),
            resource_version: self.get("resourceVersion").map(str::to_string),
            resource_version_match: self.get("resourceVersionMatch").map(str::to_string),
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
                if m.len() > 128 || m.chars().any(|c| c.is_control()) {
                    return Err(ApiError::bad_request(
                        "fieldManager: Invalid value: must be no more than 128 printable characters",
                    ));
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
        Ok(WriteOptions {
            dry_run: self.dry_run()?,
            field_manager,
            field_validation: FieldValidation::parse(self.get("fieldValidation").unwrap_or(""))?,
        })
    }

    /// Delete options from the query and an optional `DeleteOptions` body.
    pub fn delete(&self, body: Option<&Value>) -> Result<DeleteOptions, ApiError> {
        let mut opts = DeleteOptions {
            dry_run: self.dry_run()?,
            propagation_policy: self.get("propagationPolicy").map(str::to_string),
            ..DeleteOptions::default()
        };
        if let Some(b) = body {
            if !b.is_object() {
                return Err(ApiError::bad_request("DeleteOptions must be an object"));
            }
            if let Some(p) = b.get("propagationPolicy").and_then(Value::as_str) {
                opts.propagation_policy = Some(p.to_string());
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
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "dryRun: Unsupported value: {other:?}: supported values: \"All\""
                            )));
                        }
                    }
                }
            }
        }
        Ok(opts)
    }
}
