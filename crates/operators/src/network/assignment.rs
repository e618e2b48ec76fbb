//! Who holds which address of a network, and who gets which next: a pure function of the pods'
//! annotations, the network's pool and its in-flight claims.
//!
//! What this guarantees (for one consistent view of the pods and claims):
//! - A pod holds an address when it is annotated for this network and its `samplecrd.k8s.io/ip`
//!   is a usable address of the pool not held by an older pod (oldest first, by creation time,
//!   then name). A pod whose address is unusable (excluded since, outside the CIDR, a duplicate
//!   set by hand) needs a new one.
//! - A claim (an address promised to a pod, written to the Network before the pod) is kept while
//!   its pod still needs that address and nobody holds it; every other claim is dropped.
//! - New addresses are never held, claimed, blocked or given twice in one plan, and never one that
//!   a pod outside the network still carries (a pod that left keeps its address until released).

use super::pool::Pool;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The annotation naming a pod's network (in the pod's namespace).
pub const NETWORK_ANNOTATION: &str = "samplecrd.k8s.io/network";
/// The annotation holding a pod's address.
pub const IP_ANNOTATION: &str = "samplecrd.k8s.io/ip";
/// The Network annotation holding in-flight claims (`{pod: address}`).
pub const CLAIMS_ANNOTATION: &str = "samplecrd.k8s.io/claims";

/// What a plan needs to know about one pod (from the cache or a live metadata list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// The resourceVersion the view was taken at (the precondition of a write).
    pub resource_version: String,
    /// Its `samplecrd.k8s.io/network` annotation.
    pub network: Option<String>,
    /// Its `samplecrd.k8s.io/ip` annotation.
    pub ip: Option<String>,
    /// Its creation time (RFC 3339), for "oldest first".
    pub created: String,
}

impl PodView {
    /// The view of a pod's metadata.
    pub fn of(meta: &ObjectMeta) -> PodView {
        let annotation = |key: &str| meta.annotations.as_ref().and_then(|a| a.get(key)).cloned();
        PodView {
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            network: annotation(NETWORK_ANNOTATION).filter(|n| !n.is_empty()),
            ip: annotation(IP_ANNOTATION),
            created: meta
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default(),
        }
    }
}

/// What one round of allocation decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Pods holding an address: offset -> pod name.
    pub holders: BTreeMap<u128, String>,
    /// The claims after this round (kept and new): pod name -> address.
    pub claims: BTreeMap<String, String>,
    /// The pods to write their claimed address to.
    pub assignments: Vec<(PodView, String)>,
    /// Pods that name no network any more but still carry an address of this one.
    pub releases: Vec<PodView>,
    /// Pods that need an address and did not get one (the pool is exhausted).
    pub unplaced: Vec<PodView>,
    /// Pods that need an address (placed or not).
    pub pending: usize,
}

/// Plans one round for network `network` with `pool`: at most `batch` claims in flight, no new
/// ones when `allocate` is false (the network is being deleted).
pub fn plan(
    network: &str,
    pool: &Pool,
    pods: &[PodView],
    claims: &BTreeMap<String, String>,
    allocate: bool,
    batch: usize,
) -> Plan {
    let mut members: Vec<&PodView> = pods
        .iter()
        .filter(|p| p.network.as_deref() == Some(network))
        .collect();
    members.sort_by(|a, b| (&a.created, &a.name).cmp(&(&b.created, &b.name)));
    let mut plan = Plan::default();
    let mut needing: Vec<&PodView> = Vec::new();
    for pod in members {
        match pod.ip.as_deref().and_then(|ip| pool.usable(ip)) {
            Some(offset) if !plan.holders.contains_key(&offset) => {
                plan.holders.insert(offset, pod.name.clone());
            }
            _ => needing.push(pod),
        }
    }
    plan.pending = needing.len();
    let mut reserved: BTreeSet<u128> = plan.holders.keys().copied().collect();
    // A pod that left this network (or names another) keeps its address until it is taken back:
    // handing that address out meanwhile would have two pods hold it.
    reserved.extend(
        pods.iter()
            .filter(|p| p.network.as_deref() != Some(network))
            .filter_map(|p| p.ip.as_deref()?.parse().ok())
            .filter_map(|address| pool.cidr().offset(address)),
    );
    let needing_names: HashSet<&str> = needing.iter().map(|p| p.name.as_str()).collect();
    for (pod, ip) in claims {
        if !needing_names.contains(pod.as_str()) {
            continue;
        }
        if let Some(offset) = pool.usable(ip)
            && reserved.insert(offset)
        {
            plan.claims.insert(pod.clone(), ip.clone());
        }
    }
    let mut unclaimed: Vec<&PodView> = needing
        .iter()
        .copied()
        .filter(|p| !plan.claims.contains_key(&p.name))
        .collect();
    if allocate {
        let room = batch.saturating_sub(plan.claims.len());
        let wanted = unclaimed.len().min(room);
        let addresses = pool.allocate(&reserved, wanted);
        let placed = addresses.len();
        for (pod, address) in unclaimed.iter().zip(addresses) {
            plan.claims.insert(pod.name.clone(), address.to_string());
        }
        // Those beyond the batch wait for the next round; those beyond the pool are unplaced.
        if placed < wanted {
            plan.unplaced = unclaimed[placed..].iter().map(|p| (*p).clone()).collect();
        }
        unclaimed.clear();
    }
    for pod in &needing {
        if let Some(ip) = plan.claims.get(&pod.name) {
            plan.assignments.push(((*pod).clone(), ip.clone()));
        }
    }
    plan.releases = pods
        .iter()
        .filter(|p| p.network.is_none())
        .filter(|p| {
            p.ip.as_deref()
                .and_then(|ip| ip.parse().ok())
                .is_some_and(|address| pool.cidr().offset(address).is_some())
        })
        .cloned()
        .collect();
    plan
}

/// The claims recorded on a Network (an absent or unreadable annotation is no claims: the pods
/// are the truth, a claim only protects an address while its pod is written).
pub fn claims_of(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(CLAIMS_ANNOTATION))
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, network: Option<&str>, ip: Option<&str>, created: &str) -> PodView {
        PodView {
            name: name.into(),
            uid: format!("uid-{name}"),
            resource_version: "1".into(),
            network: network.map(str::to_string),
            ip: ip.map(str::to_string),
            created: created.into(),
        }
    }

    fn pool() -> Pool {
        Pool::new("10.0.0.0/29", "10.0.0.1", &["10.0.0.3".to_string()]).unwrap()
    }

    #[test]
    fn holders_keep_their_addresses_and_the_rest_get_the_lowest_free() {
        let pods = [
            pod("a", Some("net"), Some("10.0.0.2"), "1"),
            pod("b", Some("net"), None, "2"),
            pod("c", Some("other"), None, "3"),
            pod("d", None, Some("10.0.0.5"), "4"),
        ];
        let p = plan("net", &pool(), &pods, &BTreeMap::new(), true, 10);
        assert_eq!(p.holders, BTreeMap::from([(2, "a".to_string())]));
        assert_eq!(p.claims, BTreeMap::from([("b".into(), "10.0.0.4".into())]));
        assert_eq!(p.assignments.len(), 1);
        assert_eq!(
            p.releases.iter().map(|p| &p.name).collect::<Vec<_>>(),
            ["d"]
        );
        assert!(p.unplaced.is_empty());
    }

    #[test]
    fn duplicates_and_unusable_addresses_are_replaced_oldest_first() {
        let pods = [
            pod("young", Some("net"), Some("10.0.0.2"), "2"),
            pod("old", Some("net"), Some("10.0.0.2"), "1"),
            pod("gw", Some("net"), Some("10.0.0.1"), "3"),
        ];
        let p = plan("net", &pool(), &pods, &BTreeMap::new(), true, 10);
        assert_eq!(p.holders, BTreeMap::from([(2, "old".to_string())]));
        assert_eq!(
            p.claims,
            BTreeMap::from([
                ("young".into(), "10.0.0.4".into()),
                ("gw".into(), "10.0.0.5".into())
            ])
        );
    }

    #[test]
    fn claims_reserve_addresses_until_their_pod_holds_them() {
        let claims = BTreeMap::from([
            ("b".to_string(), "10.0.0.6".to_string()),
            ("gone".to_string(), "10.0.0.4".to_string()),
            ("a".to_string(), "10.0.0.2".to_string()),
        ]);
        let pods = [
            pod("a", Some("net"), Some("10.0.0.2"), "1"),
            pod("b", Some("net"), None, "2"),
            pod("c", Some("net"), None, "3"),
        ];
        let p = plan("net", &pool(), &pods, &claims, true, 10);
        assert_eq!(
            p.claims,
            BTreeMap::from([
                ("b".into(), "10.0.0.6".into()),
                ("c".into(), "10.0.0.4".into())
            ]),
            "a's claim is done, gone's is dropped and its address reused"
        );
    }

    #[test]
    fn an_address_a_leaver_still_carries_is_not_handed_out() {
        let pods = [
            pod("left", None, Some("10.0.0.2"), "1"),
            pod("elsewhere", Some("other"), Some("10.0.0.4"), "2"),
            pod("new", Some("net"), None, "3"),
        ];
        let p = plan("net", &pool(), &pods, &BTreeMap::new(), true, 10);
        assert_eq!(
            p.claims,
            BTreeMap::from([("new".into(), "10.0.0.5".into())])
        );
        assert_eq!(
            p.releases.iter().map(|p| &p.name).collect::<Vec<_>>(),
            ["left"]
        );
    }

    #[test]
    fn an_exhausted_pool_leaves_pods_unplaced_and_a_deleting_network_allocates_nothing() {
        let pods: Vec<PodView> = (0..5)
            .map(|i| pod(&format!("p{i}"), Some("net"), None, &i.to_string()))
            .collect();
        let p = plan("net", &pool(), &pods, &BTreeMap::new(), true, 10);
        assert_eq!(p.claims.len(), 4, "10.0.0.2, .4, .5 and .6");
        assert_eq!(p.unplaced.len(), 1);
        let p = plan("net", &pool(), &pods, &BTreeMap::new(), true, 2);
        assert_eq!(p.claims.len(), 2, "a batch bounds the claims in flight");
        assert!(p.unplaced.is_empty(), "the rest wait for the next batch");
        let none = plan("net", &pool(), &pods, &BTreeMap::new(), false, 10);
        assert!(none.claims.is_empty() && none.assignments.is_empty());
        assert_eq!(none.pending, 5);
    }
}
