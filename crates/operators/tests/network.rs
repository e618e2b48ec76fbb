//! The Network IPAM operator end to end against an in-process API server: validation,
//! allocation, release, excludes, exhaustion, IPv6, overlap, the finalizer, a restart, and no
//! address ever held by two live pods, also with two controllers racing.

mod common;

use common::{Env, PATIENCE, events_about, eventually};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kubeforge_apiserver::ApiServer;
use kubeforge_operators::network::{
    ADDRESS_EXHAUSTED, FINALIZER, GATEWAY_BROADCAST, GATEWAY_NETWORK, GATEWAY_OUTSIDE, IMMUTABLE,
    INVALID_CIDR, INVALID_EXCLUDE, INVALID_IP, IP_ANNOTATION, MESSAGE_SYNCED, NETWORK_ANNOTATION,
    NETWORK_NOT_FOUND, Network, NetworkSpec, NetworkStatus, SUCCESS_SYNCED,
};
use kubeforge_operators::runner::{self, RunOptions};
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const NS: &str = "default";

fn network(name: &str, cidr: &str, gateway: &str, excludes: &[&str]) -> Network {
    Network::new(
        name,
        NetworkSpec {
            cidr: cidr.into(),
            gateway: gateway.into(),
            excludes: excludes.iter().map(|e| e.to_string()).collect(),
        },
    )
}

fn pod(name: &str, network: Option<&str>) -> Pod {
    let mut annotations = BTreeMap::new();
    if let Some(network) = network {
        annotations.insert(NETWORK_ANNOTATION.to_string(), network.to_string());
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }))
    .unwrap()
}

fn networks(client: &Client) -> Api<Network> {
    Api::namespaced(client.clone(), NS)
}

fn pods(client: &Client) -> Api<Pod> {
    Api::namespaced(client.clone(), NS)
}

async fn create_pods(client: &Client, names: impl IntoIterator<Item = String>, net: &str) {
    let api = pods(client);
    let pp = PostParams::default();
    let creates = names.into_iter().map(|name| {
        let api = api.clone();
        let pp = pp.clone();
        async move { api.create(&pp, &pod(&name, Some(net))).await.map(|_| ()) }
    });
    for result in futures::future::join_all(creates).await {
        result.expect("pod created");
    }
}

/// Every live pod's address, by pod name (pods without one are left out).
async fn addresses(client: &Client) -> anyhow::Result<BTreeMap<String, String>> {
    Ok(pods(client)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|p| {
            let ip = p.annotations().get(IP_ANNOTATION).cloned()?;
            Some((p.name_any(), ip))
        })
        .collect())
}

/// Fails when two live pods hold one address.
fn assert_unique(addresses: &BTreeMap<String, String>) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (pod, ip) in addresses {
        if let Some(other) = seen.insert(ip, pod) {
            panic!("address {ip} is held by both {other} and {pod}");
        }
    }
}

async fn address_of(client: &Client, name: &str) -> anyhow::Result<String> {
    let api = pods(client);
    eventually(&format!("pod {name} to get an address"), || async {
        Ok(api
            .get(name)
            .await?
            .annotations()
            .get(IP_ANNOTATION)
            .cloned())
    })
    .await
}

async fn status_where(
    client: &Client,
    name: &str,
    what: &str,
    check: impl Fn(&NetworkStatus) -> bool,
) -> anyhow::Result<NetworkStatus> {
    let api = networks(client);
    eventually(what, || async {
        Ok(api.get(name).await?.status.filter(|s| check(s)))
    })
    .await
}

fn condition<'a>(status: &'a NetworkStatus, type_: &str) -> Option<&'a str> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

fn rejection(result: Result<Network, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            status.message
        }
        other => panic!("expected a 422 rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_specs_are_rejected_with_kube_apiserver_messages() -> anyhow::Result<()> {
    let env = Env::start("network").await?;
    let api = networks(&env.client);
    let pp = PostParams::default();
    let cases: &[(&str, &str, &[&str], String)] = &[
        (
            "10.0.0.0/33",
            "10.0.0.1",
            &[],
            format!("spec.cidr: Invalid value: \"10.0.0.0/33\": {INVALID_CIDR}"),
        ),
        (
            "10.0.0.1/8",
            "10.0.0.2",
            &[],
            "spec.cidr: Invalid value: \"10.0.0.1/8\": must be in canonical form (\"10.0.0.0/8\")"
                .to_string(),
        ),
        (
            "fd00:0::/64",
            "fd00::1",
            &[],
            "must be in canonical form (\"fd00::/64\")".to_string(),
        ),
        (
            "10.0.0.0/24",
            "10.0.0.256",
            &[],
            format!("spec.gateway: Invalid value: \"10.0.0.256\": {INVALID_IP}"),
        ),
        (
            "10.0.0.0/24",
            "10.0.1.1",
            &[],
            format!("spec.gateway: Invalid value: {GATEWAY_OUTSIDE}"),
        ),
        (
            "10.0.0.0/24",
            "fd00::1",
            &[],
            format!("spec.gateway: Invalid value: {GATEWAY_OUTSIDE}"),
        ),
        (
            "10.0.0.0/24",
            "10.0.0.0",
            &[],
            format!("spec.gateway: Invalid value: {GATEWAY_NETWORK}"),
        ),
        (
            "10.0.0.0/24",
            "10.0.0.255",
            &[],
            format!("spec.gateway: Invalid value: {GATEWAY_BROADCAST}"),
        ),
        (
            "10.0.0.0/24",
            "10.0.0.1",
            &["10.0.0.0/40"],
            format!("spec.excludes[0]: Invalid value: \"10.0.0.0/40\": {INVALID_EXCLUDE}"),
        ),
    ];
    for (i, (cidr, gateway, excludes, want)) in cases.iter().enumerate() {
        let message = rejection(
            api.create(&pp, &network(&format!("bad-{i}"), cidr, gateway, excludes))
                .await,
        );
        assert!(
            message.contains(want),
            "{cidr} {gateway}: {message:?} lacks {want:?}"
        );
        assert!(message.starts_with(&format!(
            "Network.samplecrd.k8s.io \"bad-{i}\" is invalid: "
        )));
    }
    // Good ones: the last address of a /24 may be the gateway of an IPv6 network (no broadcast),
    // point-to-point networks have no network address.
    for (i, (cidr, gateway)) in [
        ("10.0.0.0/24", "10.0.0.254"),
        ("fd00::/120", "fd00::ff"),
        ("10.0.0.0/31", "10.0.0.0"),
        ("192.168.0.0/16", "192.168.255.1"),
    ]
    .iter()
    .enumerate()
    {
        api.create(
            &pp,
            &network(
                &format!("good-{i}"),
                cidr,
                gateway,
                &["10.0.0.7", "10.0.0.16/28"],
            ),
        )
        .await?;
    }
    // cidr is immutable; gateway is not.
    let changed = api
        .patch(
            "good-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cidr": "10.0.1.0/24"}})),
        )
        .await;
    let message = rejection(changed);
    assert!(
        message.contains(&format!(
            "spec.cidr: Invalid value: \"10.0.1.0/24\": {IMMUTABLE}"
        )),
        "{message}"
    );
    api.patch(
        "good-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"gateway": "10.0.0.1"}})),
    )
    .await?;
    env.stop().await
}

#[tokio::test]
async fn pods_get_addresses_and_release_them() -> anyhow::Result<()> {
    let env = Env::start("network").await?;
    let client = env.client.clone();
    let pp = PostParams::default();
    networks(&client)
        .create(
            &pp,
            &network("example-network", "192.168.0.0/16", "192.168.0.1", &[]),
        )
        .await?;
    create_pods(
        &client,
        (0..3).map(|i| format!("web-{i}")),
        "example-network",
    )
    .await;
    pods(&client).create(&pp, &pod("loner", None)).await?;
    let mut got = Vec::new();
    for i in 0..3 {
        got.push(address_of(&client, &format!("web-{i}")).await?);
    }
    got.sort();
    assert_eq!(got, ["192.168.0.2", "192.168.0.3", "192.168.0.4"]);
    let status = status_where(&client, "example-network", "3 allocated", |s| {
        s.allocated == 3
    })
    .await?;
    assert_eq!(status.free, 65536 - 3 - 3);
    assert_eq!(condition(&status, "Ready"), Some("True"));
    assert_eq!(condition(&status, "Exhausted"), Some("False"));
    assert_eq!(condition(&status, "Overlapping"), Some("False"));
    assert!(
        !pods(&client)
            .get("loner")
            .await?
            .annotations()
            .contains_key(IP_ANNOTATION),
        "a pod naming no network is left alone"
    );
    let net = networks(&client).get("example-network").await?;
    assert!(net.finalizers().iter().any(|f| f == FINALIZER));
    // Events are written by the recorder after the status it reports on: polled, not raced.
    let synced = eventually("the Synced event", || async {
        let synced = events_about(&client, &net, SUCCESS_SYNCED).await?;
        Ok((!synced.is_empty()).then_some(synced))
    })
    .await?;
    assert_eq!(synced[0].note.as_deref(), Some(MESSAGE_SYNCED));

    // Deleting a pod releases its address, which the next pod gets.
    let released = address_of(&client, "web-0").await?;
    pods(&client)
        .delete("web-0", &DeleteParams::default().grace_period(0))
        .await?;
    eventually("web-0 gone", || async {
        Ok(pods(&client)
            .get_opt("web-0")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    status_where(&client, "example-network", "2 allocated", |s| {
        s.allocated == 2
    })
    .await?;
    create_pods(&client, ["late".to_string()], "example-network").await;
    assert_eq!(address_of(&client, "late").await?, released);

    // Removing the annotation releases the address and takes it off the pod.
    let kept = address_of(&client, "web-1").await?;
    pods(&client)
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {NETWORK_ANNOTATION: null}}})),
        )
        .await?;
    eventually("web-1's address to be taken back", || async {
        Ok((!pods(&client)
            .get("web-1")
            .await?
            .annotations()
            .contains_key(IP_ANNOTATION))
        .then_some(()))
    })
    .await?;
    status_where(&client, "example-network", "2 allocated", |s| {
        s.allocated == 2
    })
    .await?;
    create_pods(&client, ["later".to_string()], "example-network").await;
    assert_eq!(address_of(&client, "later").await?, kept);

    // An address set by hand that an older pod holds is replaced. Creation times have a
    // resolution of one second (ties go by name), so the copycat is made in a later second.
    let late_created = pods(&client)
        .get("late")
        .await?
        .metadata
        .creation_timestamp
        .expect("a creation timestamp")
        .0;
    while k8s_openapi::jiff::Timestamp::now().as_second() <= late_created.as_second() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pods(&client)
        .create(&pp, &{
            let mut p = pod("copycat", Some("example-network"));
            p.annotations_mut()
                .insert(IP_ANNOTATION.to_string(), released.clone());
            p
        })
        .await?;
    eventually("copycat to get its own address", || async {
        let ip = pods(&client)
            .get("copycat")
            .await?
            .annotations()
            .get(IP_ANNOTATION)
            .cloned();
        Ok(ip.filter(|ip| *ip != released))
    })
    .await?;
    assert_unique(&addresses(&client).await?);
    env.stop().await
}

#[tokio::test]
async fn excludes_are_skipped_and_exhaustion_is_reported() -> anyhow::Result<()> {
    let env = Env::start("network").await?;
    let client = env.client.clone();
    let pp = PostParams::default();
    // 10.9.0.0/29: .0 network, .7 broadcast, .1 gateway, .2 and .4/31 excluded: .3 and .6 left.
    networks(&client)
        .create(
            &pp,
            &network(
                "small",
                "10.9.0.0/29",
                "10.9.0.1",
                &["10.9.0.2", "10.9.0.4/31"],
            ),
        )
        .await?;
    create_pods(&client, (0..3).map(|i| format!("p{i}")), "small").await;
    let status = status_where(&client, "small", "exhausted", |s| {
        s.allocated == 2 && condition(s, "Exhausted") == Some("True")
    })
    .await?;
    assert_eq!(status.free, 0);
    let held = addresses(&client).await?;
    let mut values: Vec<&String> = held.values().collect();
    values.sort();
    assert_eq!(values, ["10.9.0.3", "10.9.0.6"]);
    let waiting = (0..3)
        .map(|i| format!("p{i}"))
        .find(|p| !held.contains_key(p))
        .unwrap();
    let waiting_pod = pods(&client).get(&waiting).await?;
    let warnings = eventually("an AddressExhausted warning", || async {
        let events = events_about(&client, &waiting_pod, ADDRESS_EXHAUSTED).await?;
        Ok((!events.is_empty()).then_some(events))
    })
    .await?;
    assert_eq!(warnings[0].type_.as_deref(), Some("Warning"));
    assert!(
        warnings[0]
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("no free address")
    );

    // Freeing an address gives it to the waiting pod.
    let (holder, freed) = held.iter().next().unwrap();
    pods(&client)
        .delete(holder, &DeleteParams::default().grace_period(0))
        .await?;
    assert_eq!(&address_of(&client, &waiting).await?, freed);
    status_where(&client, "small", "still full, nobody waiting", |s| {
        s.allocated == 2 && s.free == 0
    })
    .await?;
    env.stop().await
}

#[tokio::test]
async fn ipv6_networks_hand_out_rfc5952_addresses() -> anyhow::Result<()> {
    let env = Env::start("network").await?;
    let client = env.client.clone();
    networks(&client)
        .create(
            &PostParams::default(),
            &network("v6", "fd00:10::/64", "fd00:10::1", &["fd00:10::2"]),
        )
        .await?;
    create_pods(&client, ["a".to_string(), "b".to_string()], "v6").await;
    let mut got = vec![
        address_of(&client, "a").await?,
        address_of(&client, "b").await?,
    ];
    got.sort();
    assert_eq!(got, ["fd00:10::3", "fd00:10::4"]);
    let status = status_where(&client, "v6", "2 allocated", |s| s.allocated == 2).await?;
    assert_eq!(status.free, i64::MAX, "2^64 - 4 saturates");
    env.stop().await
}

#[tokio::test]
async fn overlapping_networks_are_reported_and_unknown_networks_warned_about() -> anyhow::Result<()>
{
    let env = Env::start("network").await?;
    let client = env.client.clone();
    let pp = PostParams::default();
    networks(&client)
        .create(&pp, &network("wide", "10.0.0.0/16", "10.0.0.1", &[]))
        .await?;
    networks(&client)
        .create(&pp, &network("narrow", "10.0.128.0/24", "10.0.128.1", &[]))
        .await?;
    networks(&client)
        .create(&pp, &network("apart", "10.1.0.0/16", "10.1.0.1", &[]))
        .await?;
    let wide = status_where(&client, "wide", "wide overlapping", |s| {
        condition(s, "Overlapping") == Some("True")
    })
    .await?;
    let overlap = wide
        .conditions
        .iter()
        .find(|c| c.type_ == "Overlapping")
        .unwrap();
    assert_eq!(overlap.message, "overlaps Network(s) narrow");
    status_where(&client, "narrow", "narrow overlapping", |s| {
        condition(s, "Overlapping") == Some("True")
    })
    .await?;
    status_where(&client, "apart", "apart alone", |s| {
        condition(s, "Overlapping") == Some("False")
    })
    .await?;
    // Deleting one ends the overlap of the other.
    networks(&client)
        .delete("narrow", &DeleteParams::default())
        .await?;
    status_where(&client, "wide", "wide alone", |s| {
        condition(s, "Overlapping") == Some("False")
    })
    .await?;

    pods(&client)
        .create(&pp, &pod("lost", Some("nowhere")))
        .await?;
    let lost = pods(&client).get("lost").await?;
    let warnings = eventually("a NetworkNotFound warning", || async {
        let events = events_about(&client, &lost, NETWORK_NOT_FOUND).await?;
        Ok((!events.is_empty()).then_some(events))
    })
    .await?;
    assert_eq!(
        warnings[0].note.as_deref(),
        Some("Network \"nowhere\" does not exist in namespace \"default\"")
    );
    // The network appearing later serves the pod.
    networks(&client)
        .create(&pp, &network("nowhere", "10.2.0.0/24", "10.2.0.1", &[]))
        .await?;
    assert_eq!(address_of(&client, "lost").await?, "10.2.0.2");
    env.stop().await
}

#[tokio::test]
async fn deleting_a_network_in_use_waits_for_its_pods() -> anyhow::Result<()> {
    let env = Env::start("network").await?;
    let client = env.client.clone();
    networks(&client)
        .create(
            &PostParams::default(),
            &network("busy", "10.3.0.0/24", "10.3.0.1", &[]),
        )
        .await?;
    create_pods(&client, ["user".to_string()], "busy").await;
    address_of(&client, "user").await?;
    networks(&client)
        .delete("busy", &DeleteParams::default())
        .await?;
    let status = status_where(&client, "busy", "Terminating", |s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason == "Terminating")
    })
    .await?;
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "False");
    assert!(ready.message.contains("1 pod(s)"), "{}", ready.message);
    // A pod arriving now gets nothing.
    create_pods(&client, ["newcomer".to_string()], "busy").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        networks(&client).get_opt("busy").await?.is_some(),
        "held by the finalizer"
    );
    assert!(!addresses(&client).await?.contains_key("newcomer"));
    pods(&client)
        .delete("user", &DeleteParams::default().grace_period(0))
        .await?;
    eventually("the network to be gone", || async {
        Ok(networks(&client)
            .get_opt("busy")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    env.stop().await
}

/// Operators running against a server, stoppable on their own.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

fn start_operator(client: &Client) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let client = client.clone();
    let task = tokio::spawn(async move {
        let selected = kubeforge_operators::select("network")?;
        runner::run(client, &selected, RunOptions::default(), async {
            let _ = stopped.await;
        })
        .await?;
        Ok(())
    });
    Running { stop, task }
}

impl Running {
    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task).await???;
        Ok(())
    }
}

/// A server without simulated workloads (the pods stay Pending: what is measured is the
/// allocators, not the kubelet's status updates), with the Network CRD installed.
async fn bare_server() -> anyhow::Result<ApiServer> {
    let server = ApiServer::builder()
        .in_memory()
        .simulate_workloads(false)
        .start()
        .await?;
    let selected = kubeforge_operators::select("network")?;
    kubeforge_operators::install::install_crds(&server.client(), &selected, PATIENCE).await?;
    Ok(server)
}

#[tokio::test]
async fn a_restarted_controller_rebuilds_its_state_from_the_pods() -> anyhow::Result<()> {
    let server = bare_server().await?;
    let client = server.client();
    let first = start_operator(&client);
    networks(&client)
        .create(
            &PostParams::default(),
            &network("n", "10.4.0.0/24", "10.4.0.1", &[]),
        )
        .await?;
    create_pods(&client, (0..5).map(|i| format!("a{i}")), "n").await;
    for i in 0..5 {
        address_of(&client, &format!("a{i}")).await?;
    }
    first.stop().await?;
    // While no controller runs: one pod goes, new ones come.
    let before = addresses(&client).await?;
    pods(&client)
        .delete("a2", &DeleteParams::default().grace_period(0))
        .await?;
    create_pods(&client, (0..3).map(|i| format!("b{i}")), "n").await;
    let second = start_operator(&client);
    for i in 0..3 {
        address_of(&client, &format!("b{i}")).await?;
    }
    let after = addresses(&client).await?;
    assert_unique(&after);
    for (pod, ip) in &before {
        if pod != "a2" {
            assert_eq!(after.get(pod), Some(ip), "{pod} kept its address");
        }
    }
    let mut reused: Vec<&String> = ["b0", "b1", "b2"].iter().map(|b| &after[*b]).collect();
    reused.sort();
    assert!(
        reused.contains(&&before["a2"]),
        "a2's address is handed out again"
    );
    status_where(&client, "n", "7 allocated", |s| s.allocated == 7).await?;
    second.stop().await?;
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_racing_never_hand_out_one_address_twice() -> anyhow::Result<()> {
    let server = bare_server().await?;
    let client = server.client();
    let one = start_operator(&client);
    let two = start_operator(&client);
    networks(&client)
        .create(
            &PostParams::default(),
            &network("race", "10.5.0.0/22", "10.5.0.1", &[]),
        )
        .await?;
    create_pods(&client, (0..300).map(|i| format!("r{i}")), "race").await;
    let started = std::time::Instant::now();
    let mut last = 0;
    let all = loop {
        let held = addresses(&client).await?;
        assert_unique(&held);
        if held.len() == 300 {
            break held;
        }
        if held.len() != last {
            eprintln!("{} held after {:?}", held.len(), started.elapsed());
            last = held.len();
        }
        assert!(
            started.elapsed() < PATIENCE * 2,
            "only {} of 300 pods hold addresses",
            held.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_unique(&all);
    status_where(&client, "race", "300 allocated", |s| s.allocated == 300).await?;
    one.stop().await?;
    two.stop().await?;
    server.shutdown().await;
    Ok(())
}

/// Randomized create/delete/leave sequences with two controllers racing; after every step, no
/// two live pods hold one address, and at the end every pod on the network holds one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_no_two_live_pods_ever_hold_one_address() -> anyhow::Result<()> {
    let server = bare_server().await?;
    let client = server.client();
    let one = start_operator(&client);
    let two = start_operator(&client);
    // 10.6.0.0/26 less network, broadcast, gateway and .9: 60 addresses, fewer than pods at times.
    networks(&client)
        .create(
            &PostParams::default(),
            &network("prop", "10.6.0.0/26", "10.6.0.1", &["10.6.0.9"]),
        )
        .await?;
    let api = pods(&client);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1b13);
    let mut live: Vec<String> = Vec::new();
    let mut members: HashSet<String> = HashSet::new();
    let mut next = 0;
    for step in 0..80 {
        let roll = rng.random_range(0..10);
        if roll < 5 || live.is_empty() {
            let burst = rng.random_range(1..6);
            let names: Vec<String> = (0..burst).map(|i| format!("q{}", next + i)).collect();
            next += burst;
            create_pods(&client, names.clone(), "prop").await;
            live.extend(names.iter().cloned());
            members.extend(names);
        } else if roll < 8 {
            let victim = live.swap_remove(rng.random_range(0..live.len()));
            members.remove(&victim);
            api.delete(&victim, &DeleteParams::default().grace_period(0))
                .await?;
        } else {
            let leaver = &live[rng.random_range(0..live.len())];
            if members.remove(leaver) {
                api.patch(
                    leaver,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"annotations": {NETWORK_ANNOTATION: null}}})),
                )
                .await?;
            }
        }
        if step % 3 == 0 {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..40))).await;
        }
        assert_unique(&addresses(&client).await?);
    }
    // Settled: min(members, 61) hold addresses, only members hold any, all unique.
    let want = members.len().min(60);
    eventually(&format!("{want} members to hold addresses"), || async {
        let held = addresses(&client).await?;
        assert_unique(&held);
        let holders: HashSet<&String> = held.keys().collect();
        let ok = holders.len() == want && holders.iter().all(|h| members.contains(*h));
        Ok(ok.then_some(()))
    })
    .await?;
    one.stop().await?;
    two.stop().await?;
    server.shutdown().await;
    Ok(())
}
