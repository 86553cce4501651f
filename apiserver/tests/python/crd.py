"""The Python `kubernetes` client against custom resources: a CRD through
ApiextensionsV1Api (until Established), then CustomObjectsApi create, get, list, merge
patch, the status subresource, a schema violation and delete. Usage: crd.py <server-url>.

Asserts as it goes and prints one JSON line summarising what it saw, which the Rust test
(tests/crd.rs) checks again.
"""

import json
import sys
import time

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

urllib3.disable_warnings()

GROUP, VERSION, PLURAL = "widgets.example.com", "v1", "widgets"

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "kind": "Widget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "minimum": 0, "default": 3},
                                    "color": {"type": "string", "enum": ["red", "blue"]},
                                },
                            },
                            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
                        },
                    }
                },
            }
        ],
    },
}


def main(url):
    cfg = client.Configuration()
    cfg.host = url
    cfg.verify_ssl = False
    api_client = client.ApiClient(cfg)
    ext = client.ApiextensionsV1Api(api_client)
    objs = client.CustomObjectsApi(api_client)
    out = {}

    ext.create_custom_resource_definition(CRD)
    deadline = time.time() + 20
    while True:
        crd = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        conds = {c.type: c.status for c in (crd.status.conditions or [])}
        if conds.get("Established") == "True":
            break
        assert time.time() < deadline, crd.status
        time.sleep(0.1)
    out["accepted_kind"] = crd.status.accepted_names.kind

    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"color": "red"}}
    created = objs.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    out["defaulted_size"] = created["spec"]["size"]
    got = objs.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    assert got["metadata"]["uid"] == created["metadata"]["uid"], got
    listed = objs.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    out["listed"] = [(i["kind"], i["metadata"]["name"]) for i in listed["items"]]

    patched = objs.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"color": "blue"}})
    out["patched_color"] = patched["spec"]["color"]
    status = objs.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "w1", {"status": {"ready": True}}
    )
    out["ready"] = status["status"]["ready"]

    try:
        objs.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"color": "green"}})
        raise AssertionError("a color outside the enum was accepted")
    except ApiException as e:
        assert e.status == 422, (e.status, e.body)
        out["invalid"] = json.loads(e.body)["message"]

    objs.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    try:
        objs.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
        raise AssertionError("w1 still exists")
    except ApiException as e:
        out["after_delete"] = json.loads(e.body)["message"]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
