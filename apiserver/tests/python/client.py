"""The Python `kubernetes` client against the apiserver: CRUD, the three patch types,
watch (replayed from a resourceVersion, with bookmarks, ending at timeout_seconds) and
errors as ApiException with upstream's status. Usage: client.py <server-url>.

Asserts as it goes and prints one JSON line summarising what it saw, which the Rust
test (tests/python_client.rs) checks again.
"""

import json
import sys
import time

import urllib3
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

urllib3.disable_warnings()


def expect_error(fn, code, reason):
    try:
        fn()
    except ApiException as e:
        body = json.loads(e.body)
        assert e.status == code, (e.status, e.body)
        assert body["kind"] == "Status" and body["reason"] == reason, e.body
        return body["message"]
    raise AssertionError(f"expected HTTP {code} {reason}")


def main(url):
    cfg = client.Configuration()
    cfg.host = url
    cfg.verify_ssl = False
    api_client = client.ApiClient(cfg)
    core = client.CoreV1Api(api_client)
    out = {}

    names = [n.metadata.name for n in core.list_namespace().items]
    assert {"default", "kube-system"} <= set(names), names
    ns = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
    assert ns.status.phase == "Active", ns.status

    # Create, read, list.
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="one", labels={"suite": "py"}), data={"a": "1"}
    )
    one = core.create_namespaced_config_map("py", body)
    start_rv = one.metadata.resource_version
    assert one.metadata.uid and one.metadata.creation_timestamp, one.metadata
    out["duplicate"] = expect_error(lambda: core.create_namespaced_config_map("py", body), 409, "AlreadyExists")
    got = core.read_namespaced_config_map("one", "py")
    assert got.data == {"a": "1"} and got.metadata.resource_version == start_rv, got
    listed = core.list_namespaced_config_map("py", label_selector="suite=py")
    assert [c.metadata.name for c in listed.items] == ["one"], listed.items

    # Update with optimistic concurrency: a stale resourceVersion is a 409 Conflict.
    got.data["a"] = "2"
    updated = core.replace_namespaced_config_map("one", "py", got)
    assert updated.data == {"a": "2"}
    assert int(updated.metadata.resource_version) > int(start_rv)
    out["conflict"] = expect_error(lambda: core.replace_namespaced_config_map("one", "py", got), 409, "Conflict")

    # Patches: strategic merge (a dict), JSON patch (a list), JSON merge patch.
    p = core.patch_namespaced_config_map("one", "py", {"metadata": {"labels": {"tier": "x"}}, "data": {"b": "3"}})
    assert p.metadata.labels == {"suite": "py", "tier": "x"} and p.data == {"a": "2", "b": "3"}, p
    p = core.patch_namespaced_config_map("one", "py", [{"op": "remove", "path": "/data/b"}])
    assert p.data == {"a": "2"}, p.data
    expect_error(
        lambda: core.patch_namespaced_config_map("one", "py", [{"op": "test", "path": "/data/a", "value": "0"}]),
        422,
        "Invalid",
    )
    p = api_client.call_api(
        "/api/v1/namespaces/{namespace}/configmaps/{name}",
        "PATCH",
        {"namespace": "py", "name": "one"},
        [],
        {"Content-Type": "application/merge-patch+json", "Accept": "application/json"},
        body={"data": {"a": None, "c": "4"}},
        response_type="V1ConfigMap",
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
    )
    assert p.data == {"c": "4"}, p.data

    # Delete; reading it again is a 404 NotFound.
    core.create_namespaced_config_map(
        "py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="two", labels={"suite": "py"}))
    )
    core.delete_namespaced_config_map("two", "py")
    out["not_found"] = expect_error(lambda: core.read_namespaced_config_map("two", "py"), 404, "NotFound")

    # Watch from the first version: every change since, in order, then (with
    # bookmarks) a BOOKMARK before the server ends the watch at timeout_seconds.
    began = time.monotonic()
    events = []
    for ev in watch.Watch().stream(
        core.list_namespaced_config_map,
        "py",
        resource_version=start_rv,
        timeout_seconds=3,
        allow_watch_bookmarks=True,
    ):
        obj = ev["object"]
        name = obj.metadata.name if ev["type"] != "BOOKMARK" else ""
        events.append([ev["type"], name])
    out["watch_seconds"] = round(time.monotonic() - began, 1)
    out["events"] = events

    # A watch with the current state first (no resourceVersion), ending at its timeout.
    began = time.monotonic()
    initial = [
        [ev["type"], ev["object"].metadata.name]
        for ev in watch.Watch().stream(core.list_namespaced_config_map, "py", timeout_seconds=1)
    ]
    out["initial"] = initial
    out["initial_seconds"] = round(time.monotonic() - began, 1)

    core.delete_namespace("py")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
