"""Validate rendered objects against the official schemas, with compiled validators cached.

* Built-in kinds: the Kubernetes OpenAPI schemas shipped by ``kubernetes_validate`` for
  :data:`KUBERNETES_VERSION`, strict flavour (unknown fields are errors).
* HTTPRoute: the ``openAPIV3Schema`` of ``v1`` in the Gateway API v1.6.1 CRD, made strict the same
  way (``additionalProperties: false`` wherever ``properties`` are listed); its ``metadata`` is
  checked against the strict Kubernetes ``ObjectMeta`` schema.

Also checks what the schemas cannot: label keys and values, and object names.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = [
    "KUBERNETES_VERSION",
    "check_labels",
    "check_object",
    "httproute_crd_path",
    "schema_errors",
]

KUBERNETES_VERSION = "1.37.0"
"""The pinned Kubernetes version whose schemas the renderer targets."""

_REPO = Path(__file__).resolve().parents[2]
_CRD_CANDIDATES = (
    Path("/work/shared/reference/gateway-api-v1.6.1/httproutes.gateway.networking.k8s.io.yaml"),
    _REPO / "src/starform_testkit/kube_testserver/data/httproutes.gateway.networking.k8s.io.yaml",
)
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def httproute_crd_path() -> Path:
    """The Gateway API HTTPRoute CRD: the shared reference copy, else the test server's copy."""
    for path in _CRD_CANDIDATES:
        if path.exists():
            return path
    raise FileNotFoundError("no copy of the Gateway API HTTPRoute CRD found")


def _schema_dir() -> Path:
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return Path(str(root / f"v{KUBERNETES_VERSION}-local-strict"))


_REF_PREFIX = "/api/_definitions.json#/$defs/"


@functools.cache
def _definitions() -> dict[str, Any]:
    contents = json.loads((_schema_dir() / "_definitions.json").read_text())
    definitions: dict[str, Any] = contents["$defs"]
    return definitions


def _self_contained(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the definitions it reaches copied in and referenced locally (fast)."""
    definitions = _definitions()
    needed: dict[str, Any] = {}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            result = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and "#/$defs/" in value:
                    name = value.partition("#/$defs/")[2]
                    if name not in needed:
                        needed[name] = {}
                        needed[name] = rewrite(definitions[name])
                    result[key] = f"#/$defs/{name}"
                else:
                    result[key] = rewrite(value)
            return result
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    top: dict[str, Any] = rewrite(schema)
    top["$defs"] = needed
    return top


@functools.cache
def _builtin_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_dir() / f"{kind.lower()}-{group_version}.json"
    schema = _self_contained(json.loads(path.read_text()))
    return jsonschema.Draft202012Validator(schema)


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        result = {key: _strict(value) for key, value in schema.items()}
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@functools.cache
def _httproute_validator() -> jsonschema.protocols.Validator:
    crd = yaml.safe_load(httproute_crd_path().read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {
        "$ref": f"{_REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    schema["properties"]["apiVersion"]["enum"] = ["gateway.networking.k8s.io/v1"]
    schema["properties"]["kind"]["enum"] = ["HTTPRoute"]
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "spec"})
    return jsonschema.Draft202012Validator(_self_contained(_strict(schema)))


def _validator(obj: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    if obj.get("kind") == "HTTPRoute":
        return _httproute_validator()
    return _builtin_validator(str(obj["apiVersion"]), str(obj["kind"]))


def schema_errors(obj: Mapping[str, Any]) -> list[str]:
    """Every schema violation of ``obj`` (empty when valid)."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in _validator(obj).iter_errors(obj)
    ]


def _label_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_LABEL_NAME.match(name))


def check_labels(labels: Mapping[str, str]) -> list[str]:
    """Problems with label keys or values (length at most 63, Kubernetes charset)."""
    problems = []
    for key, value in labels.items():
        if not _label_key_ok(key):
            problems.append(f"label key {key!r}")
        if not isinstance(value, str) or len(value) > 63:
            problems.append(f"label {key} value {value!r}: too long or not a string")
        elif value and not _LABEL_NAME.match(value):
            problems.append(f"label {key} value {value!r}: bad characters")
    return problems


def _name_problems(obj: Mapping[str, Any]) -> list[str]:
    kind = obj["kind"]
    name = obj["metadata"]["name"]
    if kind in {"Namespace", "Service"}:
        ok = len(name) <= 63 and bool(
            _DNS1035_LABEL.match(name) or (kind == "Namespace" and _DNS_LABEL.match(name))
        )
    elif kind == "CronJob":
        ok = len(name) <= 52 and bool(_DNS_LABEL.match(name))
    elif kind in {
        "Deployment",
        "PersistentVolumeClaim",
        "NetworkPolicy",
        "Secret",
        "ServiceAccount",
        "HorizontalPodAutoscaler",
        "ResourceQuota",
        "LimitRange",
    }:
        ok = len(name) <= 63 and bool(_DNS_LABEL.match(name))
    else:
        ok = len(name) <= 253 and bool(_DNS_SUBDOMAIN.match(name))
    return [] if ok else [f"{kind} name {name!r}"]


def check_object(obj: Mapping[str, Any]) -> list[str]:
    """Schema violations plus label and name problems of one rendered object."""
    problems = schema_errors(obj)
    metadata = obj["metadata"]
    problems += check_labels(metadata.get("labels", {}))
    problems += _name_problems(obj)
    template = obj.get("spec", {}).get("template")
    if template is None and obj["kind"] == "CronJob":
        template = obj["spec"]["jobTemplate"]["spec"]["template"]
        problems += check_labels(obj["spec"]["jobTemplate"]["metadata"]["labels"])
    if template is not None:
        problems += check_labels(template["metadata"]["labels"])
    return problems
