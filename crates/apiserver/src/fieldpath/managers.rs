//! `metadata.managedFields`: one entry per manager, operation (and subresource), each with the
//! set of fields it owns.

use super::{Path, PathElement, Set};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// How a manager wrote its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write (create, update, non-apply patch).
    Update,
}

impl Operation {
    /// The name as in `managedFields[].operation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One entry of `managedFields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `manager`.
    pub manager: String,
    /// `operation`.
    pub operation: Operation,
    /// `apiVersion` the fields are expressed in.
    pub api_version: String,
    /// `time` of the last change, if known.
    pub time: Option<String>,
    /// `subresource` (`status`), if the write went through one.
    pub subresource: Option<String>,
    /// The fields owned (`fieldsV1`).
    pub fields: Set,
}

impl Entry {
    /// Whether this entry is the one of `manager` doing `operation` through `subresource`
    /// (Update entries are also per apiVersion, as upstream identifies managers).
    pub fn is(
        &self,
        manager: &str,
        operation: Operation,
        subresource: Option<&str>,
        api_version: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    /// The manager as upstream names it in conflict messages: `"kubectl"`,
    /// `"kubectl-edit" using v1`, `"ctl" with subresource "status"`.
    pub fn describe(&self) -> String {
        let mut s = super::go_quote(&self.manager);
        if let Some(sub) = &self.subresource {
            s = format!("{s} with subresource {}", super::go_quote(sub));
        }
        if self.operation == Operation::Update {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }

    fn decode(v: &Value) -> Option<Entry> {
        let operation = match v.get("operation").and_then(Value::as_str)? {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return None,
        };
        let api_version = v.get("apiVersion").and_then(Value::as_str)?.to_string();
        let fields = match v.get("fieldsV1") {
            Some(f) => Set::from_fields_v1(f).ok()?,
            None => Set::new(),
        };
        Some(Entry {
            manager: v
                .get("manager")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            operation,
            api_version,
            time: v.get("time").and_then(Value::as_str).map(str::to_string),
            subresource: v
                .get("subresource")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            fields,
        })
    }

    fn into_value(self) -> Value {
        let mut e = Map::new();
        if !self.manager.is_empty() {
            e.insert("manager".into(), Value::String(self.manager));
        }
        e.insert("operation".into(), json!(self.operation.as_str()));
        e.insert("apiVersion".into(), Value::String(self.api_version));
        if let Some(t) = self.time {
            e.insert("time".into(), Value::String(t));
        }
        e.insert("fieldsType".into(), json!("FieldsV1"));
        e.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(sub) = self.subresource {
            e.insert("subresource".into(), Value::String(sub));
        }
        Value::Object(e)
    }
}

/// All entries of an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagedFields {
    /// The entries.
    pub entries: Vec<Entry>,
}

impl ManagedFields {
    /// The entries of `obj`'s `metadata.managedFields` (entries that do not parse are dropped).
    pub fn of(obj: &Value) -> ManagedFields {
        let entries = obj
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Entry::decode).collect())
            .unwrap_or_default();
        ManagedFields { entries }
    }

    /// A `managedFields` list as a client sent it, decoded as upstream decodes it
    /// (`DecodeManagedFields`): every entry must name the operation `Apply` or `Update`, an
    /// apiVersion and the fieldsType `FieldsV1`, and carry a valid field set; the first entry
    /// that does not is the error. Entries naming the same manager (manager, operation,
    /// subresource, and apiVersion for `Update`) collapse into the last one.
    pub fn decode(list: &Value) -> Result<ManagedFields, String> {
        let Some(items) = list.as_array() else {
            return Err("managedFields must be a list".into());
        };
        let mut out = ManagedFields::default();
        for (i, item) in items.iter().enumerate() {
            let operation = match item.get("operation").and_then(Value::as_str) {
                Some("Apply") => Operation::Apply,
                Some("Update") => Operation::Update,
                _ => return Err("operation must be `Apply` or `Update`".into()),
            };
            let api_version = item.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            if api_version.is_empty() {
                return Err("apiVersion must not be empty".into());
            }
            match item.get("fieldsType").and_then(Value::as_str).unwrap_or("") {
                "FieldsV1" => {}
                "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
                other => {
                    return Err(format!(
                        "invalid fieldsType {other:?} in managed fields entry {i}"
                    ));
                }
            }
            let entry = Entry::decode(item)
                .ok_or_else(|| format!("error decoding versioned set of entry {i}"))?;
            let subresource = entry.subresource.clone();
            match out.position(
                &entry.manager,
                operation,
                subresource.as_deref(),
                &entry.api_version,
            ) {
                Some(at) => out.entries[at] = entry,
                None => out.entries.push(entry),
            }
        }
        Ok(out)
    }

    /// The position of an entry.
    pub fn position(
        &self,
        manager: &str,
        operation: Operation,
        subresource: Option<&str>,
        api_version: &str,
    ) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.is(manager, operation, subresource, api_version))
    }

    /// Every field anyone owns.
    pub fn all_fields(&self) -> Set {
        let mut out = Set::new();
        for e in &self.entries {
            out.union_in_place(&e.fields);
        }
        out
    }

    /// `managedFields` as stored: entries without fields dropped, sorted as upstream sorts them
    /// (Apply before Update, then by time, manager, apiVersion and subresource).
    pub fn encode(mut self) -> Value {
        self.entries.retain(|e| !e.fields.is_empty());
        self.entries.sort_by(|a, b| {
            a.operation
                .cmp(&b.operation)
                .then_with(|| a.time.cmp(&b.time))
                .then_with(|| a.manager.cmp(&b.manager))
                .then_with(|| a.api_version.cmp(&b.api_version))
                .then_with(|| a.subresource.cmp(&b.subresource))
        });
        Value::Array(self.entries.into_iter().map(Entry::into_value).collect())
    }
}

/// Which part of an object a write can change, and so own: a write through `/status` only the
/// status, a write to the main endpoint of a resource with a status subresource everything but
/// the status (upstream's "reset fields").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole object.
    All,
    /// Everything but `.status`.
    NoStatus,
    /// Only `.status`.
    StatusOnly,
}

impl Scope {
    /// The scope of a write through `subresource` to a resource that has (or not) a status
    /// subresource.
    pub fn of(subresource: Option<&str>, status_subresource: bool) -> Scope {
        match subresource {
            Some("status") => Scope::StatusOnly,
            None if status_subresource => Scope::NoStatus,
            _ => Scope::All,
        }
    }

    /// The part of `set` in scope.
    pub fn filter(self, mut set: Set) -> Set {
        let status = PathElement::field("status");
        match self {
            Scope::All => {}
            Scope::NoStatus => set.remove(&status),
            Scope::StatusOnly => set.retain_only(&status),
        }
        set
    }

    /// The part of an object a write in this scope takes from its body (type meta and the
    /// object's name and namespace always).
    pub fn restrict(self, obj: &Value) -> Value {
        let Value::Object(map) = obj else {
            return obj.clone();
        };
        match self {
            Scope::All => obj.clone(),
            Scope::NoStatus => {
                let mut m = map.clone();
                m.shift_remove("status");
                Value::Object(m)
            }
            Scope::StatusOnly => {
                let mut m = Map::new();
                for k in ["apiVersion", "kind"] {
                    if let Some(v) = map.get(k) {
                        m.insert(k.into(), v.clone());
                    }
                }
                let mut meta = Map::new();
                for k in ["name", "namespace"] {
                    if let Some(v) = obj.get("metadata").and_then(|md| md.get(k)) {
                        meta.insert(k.into(), v.clone());
                    }
                }
                m.insert("metadata".into(), Value::Object(meta));
                if let Some(s) = map.get("status") {
                    m.insert("status".into(), s.clone());
                }
                Value::Object(m)
            }
        }
    }
}

/// The fields nobody owns: type meta, `metadata` itself and the system metadata (upstream's
/// stripped fields). Built once: every write subtracts it.
static SYSTEM_FIELDS: LazyLock<Set> = LazyLock::new(|| {
    const META: &[&str] = &[
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ];
    let mut strip: Vec<Path> = ["apiVersion", "kind", "metadata"]
        .iter()
        .map(|f| Path::fields(&[f]))
        .collect();
    strip.extend(META.iter().map(|f| Path::fields(&["metadata", f])));
    Set::from_paths(&strip)
});

/// Removes the fields nobody owns: type meta, `metadata` itself and the system metadata
/// (upstream's stripped fields).
pub fn strip_system(mut set: Set) -> Set {
    set.subtract(&SYSTEM_FIELDS);
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_sorts_and_describes_entries() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:02Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "z", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:01Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:y": {}}}},
            {"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-01T00:00:09Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:z": {}}}, "subresource": "status"},
            {"manager": "bad", "operation": "Delete", "apiVersion": "v1"},
            {"manager": "empty", "operation": "Update", "apiVersion": "v1", "fieldsV1": {}}
        ]}});
        let mf = ManagedFields::of(&obj);
        assert_eq!(mf.entries.len(), 4);
        assert_eq!(mf.all_fields().len(), 3);
        assert_eq!(
            mf.entries[0].describe(),
            r#""b" using v1"#,
            "Update entries name their version"
        );
        assert_eq!(mf.entries[2].describe(), r#""a" with subresource "status""#);
        assert_eq!(
            mf.position("a", Operation::Apply, Some("status"), "v2"),
            Some(2)
        );
        assert_eq!(mf.position("a", Operation::Apply, None, "v1"), None);
        assert_eq!(mf.position("b", Operation::Update, None, "v2"), None);
        let encoded = mf.encode();
        let order: Vec<&str> = encoded
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(order, vec!["a", "z", "b"]);
        assert_eq!(encoded[0]["subresource"], "status");
        assert_eq!(encoded[0]["fieldsType"], "FieldsV1");
    }
}
