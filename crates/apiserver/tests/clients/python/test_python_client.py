"""The official Python client (`kubernetes` on PyPI) against a kubeforge API server.

Run by crates/apiserver/tests/official_clients.rs, which starts the server (history of 50
events, so a watch can fall out of it) and sets KUBECONFIG. Each test works in a namespace of
its own.
"""

import os
import threading
import time
import uuid

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.configmaplock import ConfigMapLock


@pytest.fixture(scope="session", autouse=True)
def kubeconfig():
    config.load_kube_config(config_file=os.environ["KUBECONFIG"])


@pytest.fixture
def ns():
    name = "py-" + uuid.uuid4().hex[:8]
    client.CoreV1Api().create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def config_map(name, data=None, labels=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}), data=data or {"a": "1"}
    )


def test_create_get_list_replace_delete(ns):
    core = client.CoreV1Api()
    created = core.create_namespaced_config_map(ns, config_map("one", labels={"app": "x"}))
    assert created.metadata.uid
    core.create_namespaced_config_map(ns, config_map("two", labels={"app": "y"}))
    listed = core.list_namespaced_config_map(ns, label_selector="app=x")
    assert [c.metadata.name for c in listed.items] == ["one"]
    assert int(listed.metadata.resource_version) > 0
    got = core.read_namespaced_config_map("one", ns)
    got.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("one", ns, got)
    assert replaced.data == {"a": "1", "b": "2"}
    # A stale resourceVersion conflicts.
    got.data["c"] = "3"
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("one", ns, got)
    assert err.value.status == 409
    core.delete_namespaced_config_map("one", ns)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("one", ns)
    assert err.value.status == 404
    # Pagination.
    for i in range(5):
        core.create_namespaced_config_map(ns, config_map(f"page-{i}"))
    page = core.list_namespaced_config_map(ns, limit=2)
    names = [c.metadata.name for c in page.items]
    while page.metadata._continue:
        page = core.list_namespaced_config_map(ns, limit=2, _continue=page.metadata._continue)
        names += [c.metadata.name for c in page.items]
    assert sorted(names) == sorted(["two"] + [f"page-{i}" for i in range(5)])


def test_watch_sees_changes(ns):
    core = client.CoreV1Api()
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, config_map("w"))
    core.patch_namespaced_config_map("w", ns, {"data": {"a": "2"}})
    core.delete_namespaced_config_map("w", ns)
    seen = []
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=10
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_patch_types(ns):
    core = client.CoreV1Api()
    core.create_namespaced_config_map(ns, config_map("p", data={"a": "1", "b": "2"}))
    # A list is sent as a JSON patch.
    out = core.patch_namespaced_config_map(
        "p", ns, [{"op": "replace", "path": "/data/a", "value": "9"}]
    )
    assert out.data == {"a": "9", "b": "2"}
    # Merge patches go through the dynamic client (resources found by discovery).
    dyn = dynamic.DynamicClient(client.ApiClient())
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    out = cms.patch(
        name="p", namespace=ns, body={"data": {"b": None}}, content_type="application/merge-patch+json"
    )
    assert dict(out.data) == {"a": "9"}
    # A dict is sent as a strategic merge patch.
    out = core.patch_namespaced_config_map("p", ns, {"metadata": {"labels": {"l": "v"}}})
    assert out.metadata.labels == {"l": "v"}
    # Strategic merge on a Deployment's containers merges by name.
    apps = client.AppsV1Api()
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="d"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "d"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "d"}),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(name="a", image="nginx:1"),
                        client.V1Container(name="b", image="busybox:1"),
                    ]
                ),
            ),
        ),
    )
    apps.create_namespaced_deployment(ns, dep)
    out = apps.patch_namespaced_deployment(
        "d", ns, {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "busybox:2"}]}}}}
    )
    images = {c.name: c.image for c in out.spec.template.spec.containers}
    assert images == {"a": "nginx:1", "b": "busybox:2"}


def test_server_side_apply(ns):
    dyn = dynamic.DynamicClient(client.ApiClient())
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}}
    out = cms.server_side_apply(body=body, namespace=ns, field_manager="py-one")
    assert dict(out.data) == {"a": "1"}
    assert [m.manager for m in out.metadata.managedFields] == ["py-one"]
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "2"}}
    with pytest.raises(ApiException) as err:
        cms.server_side_apply(body=other, namespace=ns, field_manager="py-two")
    assert err.value.status == 409
    body = err.value.body
    assert "conflict" in (body.decode() if isinstance(body, bytes) else body).lower()
    out = cms.server_side_apply(body=other, namespace=ns, field_manager="py-two", force_conflicts=True)
    assert dict(out.data) == {"a": "2"}
    # Dropping a field from the applied configuration removes it.
    more = {**other, "data": {"a": "2", "b": "3"}}
    cms.server_side_apply(body=more, namespace=ns, field_manager="py-two")
    out = cms.server_side_apply(body=other, namespace=ns, field_manager="py-two")
    assert dict(out.data) == {"a": "2"}


def test_custom_objects(ns):
    ext = client.ApiextensionsV1Api()
    group, plural = "py.example.com", "widgets"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"plural": plural, "singular": "widget", "kind": "Widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "maximum": 10}},
                                },
                                "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
                            },
                        }
                    },
                }
            ],
        },
    }
    try:
        ext.create_custom_resource_definition(crd)
    except ApiException as e:
        assert e.status == 409
    deadline = time.time() + 10
    while True:
        got = ext.read_custom_resource_definition(f"{plural}.{group}")
        conditions = {c.type: c.status for c in (got.status.conditions or [])}
        if conditions.get("Established") == "True":
            break
        assert time.time() < deadline, "the CRD was not established"
        time.sleep(0.05)
    co = client.CustomObjectsApi()
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}
    co.create_namespaced_custom_object(group, "v1", ns, plural, widget)
    listed = co.list_namespaced_custom_object(group, "v1", ns, plural)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    out = co.patch_namespaced_custom_object(group, "v1", ns, plural, "w1", {"spec": {"size": 4}})
    assert out["spec"]["size"] == 4
    out = co.patch_namespaced_custom_object_status(group, "v1", ns, plural, "w1", {"status": {"ok": True}})
    assert out["status"] == {"ok": True}
    bad = {**widget, "metadata": {"name": "w2"}, "spec": {"size": 11}}
    with pytest.raises(ApiException) as err:
        co.create_namespaced_custom_object(group, "v1", ns, plural, bad)
    assert err.value.status == 422
    assert "spec.size" in err.value.body
    co.delete_namespaced_custom_object(group, "v1", ns, plural, "w1")
    assert co.list_namespaced_custom_object(group, "v1", ns, plural)["items"] == []


def test_leader_election(ns):
    led = threading.Event()
    lock = ConfigMapLock("py-leader", ns, "candidate-1")
    cfg = electionconfig.Config(
        lock,
        lease_duration=4,
        renew_deadline=3,
        retry_period=1,
        onstarted_leading=led.set,
        onstopped_leading=lambda: None,
    )
    thread = threading.Thread(target=leaderelection.LeaderElection(cfg).run, daemon=True)
    thread.start()
    assert led.wait(15), "never became leader"
    cm = client.CoreV1Api().read_namespaced_config_map("py-leader", ns)
    record = cm.metadata.annotations["control-plane.alpha.kubernetes.io/leader"]
    assert '"holderIdentity": "candidate-1"' in record or '"holderIdentity":"candidate-1"' in record


def test_watch_from_an_expired_version_relists(ns):
    core = client.CoreV1Api()
    old = core.list_namespaced_config_map(ns).metadata.resource_version
    # More writes than the server's history (50 events) keeps.
    for i in range(60):
        core.create_namespaced_config_map(ns, config_map(f"e-{i}"))
    w = watch.Watch()
    with pytest.raises(ApiException) as err:
        for _ in w.stream(core.list_namespaced_config_map, ns, resource_version=old, timeout_seconds=5):
            pass
    assert err.value.status == 410
    # What a client does on 410: list again and watch from there.
    listed = core.list_namespaced_config_map(ns)
    assert len(listed.items) == 60
    core.create_namespaced_config_map(ns, config_map("after"))
    for event in w.stream(
        core.list_namespaced_config_map,
        ns,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=10,
    ):
        assert (event["type"], event["object"].metadata.name) == ("ADDED", "after")
        w.stop()
