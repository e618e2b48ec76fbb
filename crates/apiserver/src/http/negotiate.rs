//! Content negotiation: decoding request bodies (JSON, YAML, protobuf) and choosing the response
//! form (JSON, YAML, metadata-only) from `Accept`.

use crate::protobuf::{self, ProtobufError};
use crate::status::ApiError;
use axum::http::HeaderMap;
use serde_json::Value;

/// The largest request body accepted (as kube-apiserver: 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// A media type with its parameters, e.g. `application/json;as=Table;g=meta.k8s.io;v=v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lowercased.
    pub essence: String,
    /// Parameters, in order.
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// Parses one media type.
    pub fn parse(s: &str) -> MediaType {
        let mut parts = s.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            })
            .collect();
        MediaType { essence, params }
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The `Content-Type` of a request, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| MediaType::parse(s).essence)
        .unwrap_or_default()
}

/// Decodes an object body by its Content-Type (none means JSON, as the Python client sends).
pub fn decode_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; an object was expected",
        ));
    }
    match content_type {
        "" | "application/json" | "*/*" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let v: Value = crate::yaml::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?;
            Ok(v)
        }
        protobuf::CONTENT_TYPE => protobuf::decode(body).map_err(|e| match e {
            ProtobufError::UnsupportedKind { api_version, kind } => {
                let mut err = ApiError::unsupported_media_type(protobuf::CONTENT_TYPE);
                err.message = format!(
                    "protobuf request bodies for {api_version}, Kind={kind} are not supported; send application/json"
                );
                err
            }
            other => ApiError::bad_request(format!("unable to decode protobuf body: {other}")),
        }),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// How a response is rendered: which view of the objects, in which encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// The view.
    pub form: Form,
    /// The encoding.
    pub media: Media,
}

/// The view of the objects a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The objects themselves.
    Object,
    /// `meta.k8s.io/v1` PartialObjectMetadata(List).
    Metadata,
    /// A `meta.k8s.io` Table (the apiVersion to answer with).
    Table(&'static str),
}

/// The encoding of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json`.
    Json,
    /// `application/yaml`.
    Yaml,
    /// `application/vnd.kubernetes.protobuf` (built-in kinds and metadata only).
    Protobuf,
}

impl Output {
    /// Plain JSON objects.
    pub const JSON: Output = Output {
        form: Form::Object,
        media: Media::Json,
    };
}

/// Chooses the response form from `Accept`, the client's preferences in order; 406 when nothing
/// acceptable can be produced. `protobuf` says whether the resource's objects have a protobuf
/// encoding (custom resources have none, but their metadata-only views do).
pub fn choose_output(headers: &HeaderMap, protobuf: bool) -> Result<Output, ApiError> {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(Output::JSON);
    }
    let is_meta = |mt: &MediaType| mt.param("g") == Some("meta.k8s.io");
    for entry in accept.split(',') {
        let mt = MediaType::parse(entry);
        let media = match mt.essence.as_str() {
            "application/json" | "*/*" | "application/*" => Media::Json,
            "application/yaml" | "application/x-yaml" | "text/yaml" => Media::Yaml,
            protobuf::CONTENT_TYPE => Media::Protobuf,
            _ => continue,
        };
        let form = match mt.param("as") {
            None => Form::Object,
            Some("Table") if is_meta(&mt) && media == Media::Json => match mt.param("v") {
                Some("v1") => Form::Table("meta.k8s.io/v1"),
                Some("v1beta1") => Form::Table("meta.k8s.io/v1beta1"),
                _ => continue,
            },
            Some("PartialObjectMetadata" | "PartialObjectMetadataList")
                if is_meta(&mt)
                    && matches!(mt.param("v"), Some("v1" | "v1beta1"))
                    && media != Media::Yaml =>
            {
                Form::Metadata
            }
            // YAML is only ever the objects themselves.
            Some(_) if media == Media::Yaml => Form::Object,
            Some(_) => continue,
        };
        if media == Media::Protobuf && form == Form::Object && !protobuf {
            continue;
        }
        return Ok(Output { form, media });
    }
    let mut types = "application/json, application/yaml".to_string();
    if protobuf {
        types.push_str(", application/vnd.kubernetes.protobuf");
    }
    Err(ApiError::not_acceptable(format!(
        "only the following media types are accepted: {types}, application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1 (got {accept:?})"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(s: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::ACCEPT, s.parse().expect("header"));
        h
    }

    #[test]
    fn negotiates() {
        let json = |form| {
            Ok(Output {
                form,
                media: Media::Json,
            })
        };
        let choose_output = |h: &HeaderMap| choose_output(h, false);
        assert_eq!(choose_output(&HeaderMap::new()), Ok(Output::JSON));
        assert_eq!(
            choose_output(&accept(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
            )),
            json(Form::Table("meta.k8s.io/v1"))
        );
        assert_eq!(
            choose_output(&accept("application/json;as=Table;v=v1beta1;g=meta.k8s.io")),
            json(Form::Table("meta.k8s.io/v1beta1"))
        );
        assert_eq!(
            choose_output(&accept(
                "application/json;as=Table;v=v9;g=meta.k8s.io,application/json"
            )),
            Ok(Output::JSON)
        );
        assert_eq!(
            choose_output(&accept("application/yaml")),
            Ok(Output {
                form: Form::Object,
                media: Media::Yaml
            })
        );
        assert_eq!(
            choose_output(&accept(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            )),
            json(Form::Metadata)
        );
        assert_eq!(
            choose_output(&accept("application/vnd.kubernetes.protobuf")).map_err(|e| e.code),
            Err(406)
        );
    }

    #[test]
    fn negotiates_protobuf_for_built_in_kinds() {
        let proto = |form| {
            Ok(Output {
                form,
                media: Media::Protobuf,
            })
        };
        // client-go's typed clients.
        let typed = accept("application/vnd.kubernetes.protobuf,application/json");
        assert_eq!(choose_output(&typed, true), proto(Form::Object));
        assert_eq!(choose_output(&typed, false), Ok(Output::JSON));
        // client-go's metadata client, for built-in and custom resources alike.
        let metadata = accept(
            "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
        );
        assert_eq!(choose_output(&metadata, false), proto(Form::Metadata));
        // Tables are JSON only.
        let table = accept(
            "application/vnd.kubernetes.protobuf;as=Table;g=meta.k8s.io;v=v1,application/json",
        );
        assert_eq!(choose_output(&table, true), Ok(Output::JSON));
        let only = accept("application/vnd.kubernetes.protobuf");
        assert_eq!(choose_output(&only, true), proto(Form::Object));
        let err = choose_output(&only, false).unwrap_err();
        assert_eq!(err.code, 406);
        assert!(
            !err.message.contains("vnd.kubernetes.protobuf,"),
            "{}",
            err.message
        );
    }

    #[test]
    fn decodes_bodies() {
        assert!(decode_body("application/json", b"{\"a\":1}").is_ok());
        assert!(decode_body("", b"{\"a\":1}").is_ok());
        assert_eq!(
            decode_body("application/yaml", b"a: 1\n").ok(),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            decode_body("application/json", b"{").map_err(|e| e.code),
            Err(400)
        );
        assert_eq!(
            decode_body("text/plain", b"x").map_err(|e| e.code),
            Err(415)
        );
        assert_eq!(
            decode_body("application/vnd.kubernetes.protobuf", b"junk").map_err(|e| e.code),
            Err(400)
        );
    }
}
