//! Response views of objects: as they are, metadata-only (PartialObjectMetadata) or as a Table.

use super::negotiate::{Form, Media, Output};
use crate::resource::ResourceType;
use crate::table::{self, IncludeObject};
use serde_json::{Value, json};

/// How objects of one resource are shown in one response.
pub struct View<'a> {
    /// The negotiated form.
    pub output: Output,
    /// What table rows carry (`includeObject`).
    pub include: IncludeObject,
    /// The resource.
    pub rt: &'a ResourceType,
}

/// Reduces an object to PartialObjectMetadata.
pub fn metadata_only(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

impl View<'_> {
    /// Whether objects are sent exactly as stored (the fast path).
    pub fn is_plain_json(&self) -> bool {
        self.output == Output::JSON
    }

    /// Whether objects are sent as themselves in protobuf (each item encoded on its own).
    pub fn is_plain_protobuf(&self) -> bool {
        self.output.form == Form::Object && self.output.media == Media::Protobuf
    }

    /// One object.
    pub fn object(&self, obj: Value) -> Value {
        match self.output.form {
            Form::Object => obj,
            Form::Metadata => metadata_only(&obj),
            Form::Table(api_version) => {
                let meta = json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""))});
                table::render(
                    self.rt.strategy.table(),
                    &[obj],
                    api_version,
                    meta,
                    self.include,
                    true,
                )
            }
        }
    }

    /// A list page; `meta` is the ListMeta.
    pub fn list(&self, items: Vec<Value>, meta: Value) -> Value {
        match self.output.form {
            Form::Object => {
                json!({"kind": self.rt.list_kind, "apiVersion": self.rt.api_version(), "metadata": meta, "items": items})
            }
            Form::Metadata => {
                let items: Vec<Value> = items.iter().map(metadata_only).collect();
                json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items})
            }
            Form::Table(api_version) => table::render(
                self.rt.strategy.table(),
                &items,
                api_version,
                meta,
                self.include,
                true,
            ),
        }
    }

    /// The object of a watch event; `first` tables carry the column definitions.
    pub fn watch_object(&self, event_type: &str, obj: Value, first: bool) -> Value {
        if event_type == "ERROR" {
            return obj;
        }
        if event_type == "BOOKMARK" {
            // As upstream, a metadata-only watch sees its bookmarks as PartialObjectMetadata;
            // a table watch sees the bare object.
            return match self.output.form {
                Form::Metadata => metadata_only(&obj),
                _ => obj,
            };
        }
        match self.output.form {
            Form::Table(api_version) => {
                let meta = json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""))});
                table::render(
                    self.rt.strategy.table(),
                    &[obj],
                    api_version,
                    meta,
                    self.include,
                    first,
                )
            }
            _ => self.object(obj),
        }
    }
}
