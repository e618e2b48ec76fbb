//! Discovery documents: legacy (`/api`, `/apis`, `/api/v1`, `/apis/{g}[/{v}]`) and aggregated
//! (`apidiscovery.k8s.io` v2 and v2beta1), all derived from the catalog.

use crate::catalog::Resources;
use crate::resource::ResourceType;
use serde_json::{Value, json};

const SUB_VERBS: &[&str] = &["get", "patch", "update"];
const REPLACE_VERBS: &[&str] = &["update"];
const CREATE_VERBS: &[&str] = &["create"];

/// The subresources of `rt`: name, response kind and verbs.
fn subresources(rt: &ResourceType) -> Vec<(&'static str, Value, &'static [&'static str])> {
    let mut out = Vec::new();
    let own_kind = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
    if rt.status {
        out.push(("status", own_kind.clone(), SUB_VERBS));
    }
    for sub in rt.strategy.object_subresources() {
        out.push((*sub, own_kind.clone(), SUB_VERBS));
    }
    for sub in rt.strategy.replace_subresources() {
        out.push((*sub, own_kind.clone(), REPLACE_VERBS));
    }
    for sub in rt.strategy.create_subresources() {
        let (group, version, kind) = sub.kind;
        out.push((
            sub.name,
            json!({"group": group, "version": version, "kind": kind}),
            CREATE_VERBS,
        ));
    }
    if rt.scale.is_some() {
        out.push((
            "scale",
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
            SUB_VERBS,
        ));
    }
    // Listed by path, as kube-apiserver's installer sorts them.
    out.sort_by_key(|(name, _, _)| *name);
    out
}

/// `/api/v1` or `/apis/{g}/{v}`: an APIResourceList.
pub fn resource_list(resources: &Resources, group: &str, version: &str) -> Option<Value> {
    let types: Vec<_> = resources
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut list = Vec::new();
    for t in types {
        let mut r = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs(),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        if let Some(hash) = &t.storage_version_hash {
            r["storageVersionHash"] = json!(hash.as_ref());
        }
        list.push(r);
        for (sub, kind, verbs) in subresources(t) {
            let mut s = json!({
                "name": format!("{}/{sub}", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": kind["kind"],
                "verbs": verbs,
            });
            // A subresource whose kind is of another group or version names it (upstream's
            // `GroupVersionKindProvider`: `pods/eviction` is policy/v1 Eviction).
            let (group, version) = (kind["group"].as_str(), kind["version"].as_str());
            if group != Some(t.group.as_str()) || version != Some(t.version.as_str()) {
                s["group"] = kind["group"].clone();
                s["version"] = kind["version"].clone();
            }
            list.push(s);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}

/// `/api`: APIVersions.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn api_group(name: &str, versions: &[String]) -> Value {
    let gvs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": gvs, "preferredVersion": gvs.first().cloned().unwrap_or(Value::Null)})
}

/// `/apis`: APIGroupList (every group but core).
pub fn group_list(resources: &Resources) -> Value {
    let groups = resources.groups();
    let list: Vec<Value> = resources
        .group_order()
        .iter()
        .filter(|g| !g.is_empty())
        .filter_map(|g| groups.get(g).map(|vs| api_group(g, vs)))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list})
}

/// `/apis/{g}`: APIGroup.
pub fn group(resources: &Resources, name: &str) -> Option<Value> {
    let groups = resources.groups();
    let versions = groups.get(name).filter(|_| !name.is_empty())?;
    let mut g = api_group(name, versions);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

fn aggregated_group(resources: &Resources, name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| {
            let rs: Vec<Value> = resources
                .all()
                .iter()
                .filter(|t| t.group == name && &t.version == v)
                .map(|t| {
                    let mut r = json!({
                        "resource": t.plural,
                        "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
                        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": t.singular,
                        "verbs": t.verbs(),
                    });
                    if !t.short_names.is_empty() {
                        r["shortNames"] = json!(t.short_names);
                    }
                    if !t.categories.is_empty() {
                        r["categories"] = json!(t.categories);
                    }
                    let subs: Vec<Value> = subresources(t)
                        .into_iter()
                        .map(|(s, kind, verbs)| json!({"subresource": s, "responseKind": kind, "verbs": verbs}))
                        .collect();
                    if !subs.is_empty() {
                        r["subresources"] = Value::Array(subs);
                    }
                    r
                })
                .collect();
            json!({"version": v, "resources": rs, "freshness": "Current"})
        })
        .collect();
    let mut metadata = json!({"creationTimestamp": null});
    if !name.is_empty() {
        metadata["name"] = json!(name);
    }
    json!({"metadata": metadata, "versions": vs})
}

/// Aggregated discovery for `/api` (core only) or `/apis` (the rest), at `version` (v2 or v2beta1).
pub fn aggregated(resources: &Resources, core: bool, version: &str) -> Value {
    let groups = resources.groups();
    let items: Vec<Value> = resources
        .group_order()
        .iter()
        .filter(|g| g.is_empty() == core)
        .filter_map(|g| groups.get(g).map(|vs| aggregated_group(resources, g, vs)))
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

/// The aggregated-discovery version `Accept` asks for first, if any.
pub fn wants_aggregated(accept: &str) -> Option<&'static str> {
    for entry in accept.split(',') {
        let mt = super::negotiate::MediaType::parse(entry);
        if mt.essence == "application/json"
            && mt.param("g") == Some("apidiscovery.k8s.io")
            && mt.param("as") == Some("APIGroupDiscoveryList")
        {
            match mt.param("v") {
                Some("v2") => return Some("v2"),
                Some("v2beta1") => return Some("v2beta1"),
                _ => {}
            }
        }
        if mt.essence == "application/json" && mt.param("as").is_none() {
            return None;
        }
    }
    None
}
