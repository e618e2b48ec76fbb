//! Cluster IPs and node ports of Services, taken and given back around their writes, as
//! kube-apiserver 1.33 allocates them with the MultiCIDRServiceAllocator (upstream's
//! `pkg/registry/core/service/storage/alloc.go` and `ipallocator`):
//!
//! - Each cluster IP is an IPAddress object named by the address (labels
//!   `ipaddress.kubernetes.io/ip-family` and `ipaddress.kubernetes.io/managed-by:
//!   ipallocator.k8s.io`, `spec.parentRef` the Service), created through the store: a create
//!   that finds the address taken fails with AlreadyExists, so two writers (two servers on one
//!   etcd, or a server after a restart) never hand out one address twice. Addresses come from
//!   the ServiceCIDRs that are ready and not being deleted; a requested address outside every
//!   one, or taken, is refused with upstream's 422. A random address is looked for from a random
//!   point of the upper part of a range (KEP-3070: the lowest `min(max(16, size/16), 256)`
//!   addresses are left to requested ones), then the lower part, skipping addresses the cache
//!   shows taken and retrying on a lost race.
//! - Deleting a Service (or changing it to ExternalName) deletes its IPAddresses; a create or
//!   update that fails after allocating gives its addresses back.
//! - [`repair`] at start puts the IPAddresses right with the Services: creates the missing ones
//!   and deletes those the allocator made whose Service is gone or no longer holds the address
//!   (upstream's `repairip` controller).
//! - Node ports: a requested node port that another stored Service holds is refused with
//!   upstream's `provided port is already allocated`; free ones are picked avoiding every stored
//!   Service's ports and those this process handed out in the last minute (not yet visible in
//!   the store). Upstream keeps a bitmap in etcd instead; here the stored Services are the
//!   record, so two servers creating Services at the same instant can still pick one port.

use super::go_string_slice;
use crate::registry::networking::servicecidrs::{Prefix, ip_bits, is_ready, prefixes};
use crate::resource::{Allocation, ResourceType};
use crate::rest::{DeleteOptions, Rest, WriteOptions};
use crate::status::{ApiError, FieldCause};
use futures::FutureExt;
use futures::future::BoxFuture;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The allocator's name: `managed-by` of its IPAddresses.
pub(crate) const MANAGED_BY: &str = "ipallocator.k8s.io";
/// The label naming an IPAddress's family.
const FAMILY_LABEL: &str = "ipaddress.kubernetes.io/ip-family";
/// The label naming who manages an IPAddress.
const MANAGED_BY_LABEL: &str = "ipaddress.kubernetes.io/managed-by";
/// kube-apiserver's default `--service-node-port-range`.
pub(crate) const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;
/// How long a node port this process picked stays out of its random picks, waiting to show in
/// the store.
const IN_FLIGHT: Duration = Duration::from_secs(60);
/// Prefix of the node ports in what [`Allocation::allocate`] answers.
const PORT: &str = "port:";

/// The Services' allocator.
pub(crate) struct ServiceAllocation {
    /// Node ports handed out recently, with when.
    in_flight: Mutex<Vec<(i64, Instant)>>,
}

/// The one allocator the `services` row uses.
pub(crate) static ALLOCATION: ServiceAllocation = ServiceAllocation {
    in_flight: Mutex::new(Vec::new()),
};

/// The IP allocator's errors, worded as upstream's.
enum IpError {
    /// `ErrAllocated`.
    Allocated,
    /// `ErrNotInRange`.
    NotInRange(IpAddr),
    /// `ErrMismatchedNetwork`: no ready ServiceCIDR holds the address.
    Mismatched,
    /// `ErrFull`.
    Full,
    /// Writing the IPAddress failed otherwise.
    Store(ApiError),
}

impl std::fmt::Display for IpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpError::Allocated => f.write_str("provided IP is already allocated"),
            IpError::NotInRange(ip) => write!(f, "provided IP {ip} is not in the valid range"),
            IpError::Mismatched => {
                f.write_str("the provided network does not match the current range")
            }
            IpError::Full => f.write_str("range is full"),
            IpError::Store(e) => f.write_str(&e.message),
        }
    }
}

fn ipaddresses(rest: &Rest) -> Option<Arc<ResourceType>> {
    rest.catalog
        .snapshot()
        .find("networking.k8s.io", "v1", "ipaddresses")
}

fn servicecidrs(rest: &Rest) -> Option<Arc<ResourceType>> {
    rest.catalog
        .snapshot()
        .find("networking.k8s.io", "v1", "servicecidrs")
}

/// The prefixes of the ServiceCIDRs addresses may be allocated from.
fn ready_prefixes(rest: &Rest) -> Vec<Prefix> {
    let Some(rt) = servicecidrs(rest) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stored in rest.store.current(&rt.storage_key) {
        let v = stored.value();
        if is_ready(&v) {
            out.extend(prefixes(&v));
        }
    }
    out
}

/// The options of the allocator's own writes.
fn write_options() -> WriteOptions {
    WriteOptions {
        field_manager: "kube-apiserver".into(),
        ..WriteOptions::default()
    }
}

/// The IPAddress recording `ip` for Service `namespace/name`.
fn ip_address(ip: &str, family: &str, namespace: &str, name: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
        "metadata": {"name": ip, "labels": {FAMILY_LABEL: family, MANAGED_BY_LABEL: MANAGED_BY}},
        "spec": {"parentRef": {"resource": "services",
            "namespace": namespace, "name": name}}})
}

/// Creates the IPAddress of `ip` for the Service: AlreadyExists is [`IpError::Allocated`].
async fn create_ip(
    rest: &Rest,
    rt: &ResourceType,
    ip: IpAddr,
    namespace: &str,
    name: &str,
) -> Result<(), IpError> {
    let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let body = ip_address(&ip.to_string(), family, namespace, name);
    match rest.create(rt, None, body, &write_options()).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Err(IpError::Allocated),
        Err(e) => Err(IpError::Store(e)),
    }
}

/// Upstream's `Allocator.AllocateService` of a requested address.
async fn allocate_static(
    rest: &Rest,
    rt: &ResourceType,
    ip: IpAddr,
    namespace: &str,
    name: &str,
    dry_run: bool,
) -> Result<(), IpError> {
    let ranges = ready_prefixes(rest);
    let Some(prefix) = ranges.iter().find(|p| p.contains(ip)) else {
        return Err(IpError::Mismatched);
    };
    let (bits, _) = ip_bits(ip);
    match prefix.usable() {
        Some((first, last)) if (first..=last).contains(&bits) => {}
        _ => return Err(IpError::NotInRange(ip)),
    }
    if dry_run {
        return Ok(());
    }
    create_ip(rest, rt, ip, namespace, name).await
}

/// Upstream's `calculateRangeOffset`: how many of the lowest addresses are kept for requests.
fn range_offset(prefix: &Prefix) -> u128 {
    let size = if prefix.width - prefix.len >= 128 {
        u128::MAX
    } else {
        1u128 << (prefix.width - prefix.len)
    };
    if size <= 16 {
        0
    } else {
        (size / 16).clamp(16, 256)
    }
}

/// Tries the addresses `from..=to` starting at `from + offset`, wrapping around.
async fn allocate_in(
    rest: &Rest,
    rt: &ResourceType,
    prefix: &Prefix,
    (from, to, offset): (u128, u128, u128),
    namespace: &str,
    name: &str,
) -> Result<IpAddr, IpError> {
    let count = to - from + 1;
    for i in 0..count {
        let ip = prefix.addr(from + (offset + i) % count);
        if rest.get(rt, None, &ip.to_string()).is_ok() {
            continue;
        }
        match create_ip(rest, rt, ip, namespace, name).await {
            Ok(()) => return Ok(ip),
            // Taken between the look and the create (another writer): the next one.
            Err(IpError::Allocated) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(IpError::Full)
}

/// Upstream's `AllocateNextService` over the ready ranges of `family`: the upper part of a range
/// from a random point, then its lower part, then the next range.
async fn allocate_next(
    rest: &Rest,
    rt: &ResourceType,
    width: u32,
    namespace: &str,
    name: &str,
    dry_run: bool,
) -> Result<IpAddr, IpError> {
    let ranges: Vec<Prefix> = ready_prefixes(rest)
        .into_iter()
        .filter(|p| p.width == width)
        .collect();
    for prefix in &ranges {
        if dry_run {
            // As upstream's dry run: no search, the range's own address.
            return Ok(prefix.addr(prefix.bits));
        }
        let Some((first, last)) = prefix.usable() else {
            continue;
        };
        let reserved = range_offset(prefix);
        let split = first.saturating_add(reserved).min(last);
        let upper = last - split + 1;
        let offset = random_below(upper);
        match allocate_in(rest, rt, prefix, (split, last, offset), namespace, name).await {
            Err(IpError::Full) if reserved > 0 && split > first => {
                let offset = random_below(split - first);
                match allocate_in(
                    rest,
                    rt,
                    prefix,
                    (first, split - 1, offset),
                    namespace,
                    name,
                )
                .await
                {
                    Err(IpError::Full) => continue,
                    other => return other,
                }
            }
            Err(IpError::Full) => continue,
            other => return other,
        }
    }
    Err(IpError::Full)
}

/// A random number in `0..n` (n > 0).
fn random_below(n: u128) -> u128 {
    if n == 0 {
        return 0;
    }
    rand::rng().random::<u128>() % n
}

/// The cluster IPs a Service holds: none for ExternalName or headless ones.
fn held_ips(obj: &Value) -> Vec<String> {
    if obj.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        return Vec::new();
    }
    let mut ips = crate::rest::string_list(obj, "/spec/clusterIPs");
    if ips.is_empty()
        && let Some(ip) = obj.pointer("/spec/clusterIP").and_then(Value::as_str)
        && !ip.is_empty()
    {
        ips.push(ip.to_string());
    }
    ips.retain(|ip| ip != "None" && ip.parse::<IpAddr>().is_ok());
    ips
}

fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The node ports of a stored Service.
fn node_ports_of(obj: &Value) -> impl Iterator<Item = i64> + '_ {
    obj.pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
        .filter(|n| *n != 0)
}

impl ServiceAllocation {
    /// Allocates the cluster IPs `obj` asks for and `old` does not hold; answers what it took.
    async fn allocate_ips(
        &self,
        rest: &Rest,
        obj: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
        taken: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        if obj.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
            return Ok(());
        }
        let Some(rt) = ipaddresses(rest) else {
            return Ok(());
        };
        let (namespace, name) = (meta(obj, "namespace").to_string(), meta(obj, "name"));
        let name = match name {
            "" => meta(obj, "generateName").to_string(),
            n => n.to_string(),
        };
        let cluster_ip = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("");
        if cluster_ip == "None" {
            return Ok(());
        }
        let requested: Vec<String> = Some(crate::rest::string_list(obj, "/spec/clusterIPs"))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| {
                if cluster_ip.is_empty() {
                    Vec::new()
                } else {
                    vec![cluster_ip.to_string()]
                }
            });
        let held = old.map(held_ips).unwrap_or_default();
        if requested.is_empty() {
            // A new address of the Service's first family (IPv4 unless it asks for IPv6).
            let width = match obj.pointer("/spec/ipFamilies/0").and_then(Value::as_str) {
                Some("IPv6") => 128,
                _ => 32,
            };
            let ip = allocate_next(rest, &rt, width, &namespace, &name, dry_run)
                .await
                .map_err(|e| {
                    ApiError::internal_with_cause(format!("failed to allocate a serviceIP: {e}"))
                })?;
            if !dry_run {
                taken.push(ip.to_string());
            }
            let spec = spec_mut(obj);
            spec.insert("clusterIP".into(), json!(ip.to_string()));
            spec.insert("clusterIPs".into(), json!([ip.to_string()]));
            return Ok(());
        }
        for text in &requested {
            if held.contains(text) {
                continue;
            }
            // Addresses that do not parse are validation's to refuse.
            let Ok(ip) = text.parse::<IpAddr>() else {
                continue;
            };
            if let Err(e) = allocate_static(rest, &rt, ip, &namespace, &name, dry_run).await {
                let shown: Vec<&str> = requested.iter().map(String::as_str).collect();
                return Err(ApiError::invalid(
                    "",
                    "Service",
                    &name,
                    vec![FieldCause::invalid_shown(
                        "spec.clusterIPs",
                        &go_string_slice(&shown),
                        format!("failed to allocate IP {text}: {e}"),
                    )],
                ));
            }
            if !dry_run {
                taken.push(ip.to_string());
            }
        }
        Ok(())
    }

    /// Checks requested node ports against the stored Services and picks free ones for the
    /// ports that have none (keeping `old`'s for the same port and protocol).
    fn allocate_node_ports(
        &self,
        rest: &Rest,
        obj: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
        taken: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let type_ = obj.pointer("/spec/type").and_then(Value::as_str);
        if !matches!(type_, Some("NodePort" | "LoadBalancer")) {
            return Ok(());
        }
        let (namespace, name) = (
            meta(obj, "namespace").to_string(),
            meta(obj, "name").to_string(),
        );
        let mut used: HashSet<i64> = HashSet::new();
        if let Some(services) = rest.catalog.snapshot().find("", "v1", "services") {
            for stored in rest.store.current(&services.storage_key) {
                let v = stored.value();
                if meta(&v, "namespace") == namespace && meta(&v, "name") == name {
                    continue;
                }
                used.extend(node_ports_of(&v));
            }
        }
        let old_ports: Vec<Value> = old
            .and_then(|o| o.pointer("/spec/ports"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let held: HashSet<i64> = old.map(|o| node_ports_of(o).collect()).unwrap_or_default();
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        in_flight.retain(|(_, at)| at.elapsed() < IN_FLIGHT);
        let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        let mut mine: HashSet<i64> = HashSet::new();
        for (i, port) in ports.iter_mut().enumerate() {
            let Some(port) = port.as_object_mut() else {
                continue;
            };
            let requested = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
            if requested != 0 {
                if NODE_PORTS.contains(&requested)
                    && !held.contains(&requested)
                    && used.contains(&requested)
                {
                    return Err(ApiError::invalid(
                        "",
                        "Service",
                        &name,
                        vec![FieldCause::invalid(
                            format!("spec.ports[{i}].nodePort"),
                            &json!(requested),
                            "provided port is already allocated",
                        )],
                    ));
                }
                mine.insert(requested);
                continue;
            }
            let kept = old_ports.iter().find_map(|o| {
                (o.get("port") == port.get("port") && o.get("protocol") == port.get("protocol"))
                    .then(|| o.get("nodePort").and_then(Value::as_i64))
                    .flatten()
            });
            let n = match kept {
                Some(n) => n,
                None => {
                    let busy = |n: i64| {
                        used.contains(&n)
                            || mine.contains(&n)
                            || in_flight.iter().any(|(p, _)| *p == n)
                    };
                    let span = (NODE_PORTS.end() - NODE_PORTS.start() + 1) as u128;
                    let start = random_below(span) as i64;
                    let free = (0..span as i64)
                        .map(|k| NODE_PORTS.start() + (start + k) % span as i64)
                        .find(|n| !busy(*n));
                    let Some(n) = free else {
                        return Err(ApiError::internal_with_cause(
                            "failed to allocate a nodePort: range is full",
                        ));
                    };
                    if !dry_run {
                        in_flight.push((n, Instant::now()));
                        taken.push(format!("{PORT}{n}"));
                    }
                    n
                }
            };
            mine.insert(n);
            port.insert("nodePort".into(), json!(n));
        }
        Ok(())
    }

    /// Deletes the IPAddresses named, when they still record Service `namespace/name` (or
    /// anyone, with `owner` None).
    async fn delete_ips(&self, rest: &Rest, ips: &[String], owner: Option<(&str, &str)>) {
        let Some(rt) = ipaddresses(rest) else { return };
        for ip in ips {
            if let Some((namespace, name)) = owner {
                let Ok(current) = rest.get_value(&rt, None, ip) else {
                    continue;
                };
                let parent = |k: &str| {
                    current
                        .pointer(&format!("/spec/parentRef/{k}"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                if parent("resource") != "services"
                    || parent("namespace") != namespace
                    || parent("name") != name
                {
                    continue;
                }
            }
            if let Err(e) = rest.delete(&rt, None, ip, &DeleteOptions::default()).await
                && e.code != 404
            {
                tracing::info!(ip = %ip, error = %e, "releasing a Service IP");
            }
        }
    }
}

/// The spec of `obj`, made an object when it is none.
fn spec_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.get("spec").is_some_and(Value::is_object) {
        obj["spec"] = json!({});
    }
    obj["spec"].as_object_mut().expect("spec is an object")
}

impl Allocation for ServiceAllocation {
    fn allocate<'a>(
        &'a self,
        rest: &'a Rest,
        obj: &'a mut Value,
        old: Option<&'a Value>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Vec<String>, ApiError>> {
        async move {
            let mut taken = Vec::new();
            if let Err(e) = self.allocate_ips(rest, obj, old, dry_run, &mut taken).await {
                self.give_back(rest, taken).await;
                return Err(e);
            }
            if let Err(e) = self.allocate_node_ports(rest, obj, old, dry_run, &mut taken) {
                self.give_back(rest, taken).await;
                return Err(e);
            }
            Ok(taken)
        }
        .boxed()
    }

    fn give_back<'a>(&'a self, rest: &'a Rest, taken: Vec<String>) -> BoxFuture<'a, ()> {
        async move {
            let (ports, ips): (Vec<String>, Vec<String>) =
                taken.into_iter().partition(|t| t.starts_with(PORT));
            if !ports.is_empty() {
                let ports: HashSet<i64> = ports
                    .iter()
                    .filter_map(|p| p.strip_prefix(PORT)?.parse().ok())
                    .collect();
                self.in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|(p, _)| !ports.contains(p));
            }
            self.delete_ips(rest, &ips, None).await;
        }
        .boxed()
    }

    fn release<'a>(
        &'a self,
        rest: &'a Rest,
        old: &'a Value,
        new: Option<&'a Value>,
    ) -> BoxFuture<'a, ()> {
        async move {
            let kept = new.map(held_ips).unwrap_or_default();
            let gone: Vec<String> = held_ips(old)
                .into_iter()
                .filter(|ip| !kept.contains(ip))
                .collect();
            if gone.is_empty() {
                return;
            }
            let owner = (meta(old, "namespace"), meta(old, "name"));
            self.delete_ips(rest, &gone, Some(owner)).await;
        }
        .boxed()
    }
}

/// Puts the IPAddresses right with the stored Services, as upstream's `repairip` controller:
/// every cluster IP of a Service gets its IPAddress when it has none (and lies in a
/// ServiceCIDR), and IPAddresses this allocator made whose Service is gone or no longer holds
/// the address are deleted, once older than `grace` (a Service being created elsewhere has its
/// address before it is stored).
pub(crate) async fn repair(rest: &Rest, grace: Duration) {
    let snapshot = rest.catalog.snapshot();
    let (Some(services), Some(ips)) = (snapshot.find("", "v1", "services"), ipaddresses(rest))
    else {
        return;
    };
    let mut holders: std::collections::HashMap<String, (String, String)> = Default::default();
    for stored in rest.store.current(&services.storage_key) {
        let svc = stored.value();
        for ip in held_ips(&svc) {
            holders.insert(
                ip,
                (
                    meta(&svc, "namespace").to_string(),
                    meta(&svc, "name").to_string(),
                ),
            );
        }
    }
    let ranges: Vec<Prefix> = servicecidrs(rest)
        .map(|rt| {
            rest.store
                .current(&rt.storage_key)
                .iter()
                .flat_map(|s| prefixes(&s.value()))
                .collect()
        })
        .unwrap_or_default();
    for (ip, (namespace, name)) in &holders {
        if rest.get(&ips, None, ip).is_ok() {
            continue;
        }
        let Ok(addr) = ip.parse::<IpAddr>() else {
            continue;
        };
        if !ranges.iter().any(|p| p.contains(addr)) {
            tracing::warn!(%ip, service = %format!("{namespace}/{name}"), "Cluster IP is not within any configured Service CIDR");
            continue;
        }
        if let Err(IpError::Store(e)) = create_ip(rest, &ips, addr, namespace, name).await {
            tracing::warn!(%ip, error = %e, "repairing a Service's IPAddress");
        }
    }
    let now = jiff::Timestamp::now();
    let mut orphans = Vec::new();
    for stored in rest.store.current(&ips.storage_key) {
        let v = stored.value();
        if v.pointer(&format!(
            "/metadata/labels/{}",
            MANAGED_BY_LABEL.replace('/', "~1")
        ))
        .and_then(Value::as_str)
            != Some(MANAGED_BY)
        {
            continue;
        }
        let ip = meta(&v, "name").to_string();
        let parent = |k: &str| {
            v.pointer(&format!("/spec/parentRef/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let held = holders
            .get(&ip)
            .is_some_and(|(ns, n)| *ns == parent("namespace") && *n == parent("name"));
        if held {
            continue;
        }
        let age = meta(&v, "creationTimestamp")
            .parse::<jiff::Timestamp>()
            .map(|t| now.duration_since(t))
            .unwrap_or_default();
        if grace.is_zero() || age >= jiff::SignedDuration::try_from(grace).unwrap_or_default() {
            orphans.push(ip);
        }
    }
    ALLOCATION.delete_ips(rest, &orphans, None).await;
}
