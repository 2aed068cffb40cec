"""Loading of the OpenAPI schemas: kubernetes_validate's strict v1.37 set and the HTTPRoute CRD.

Everything is read once per process and cached; the files are never written.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any, cast

import yaml

from ._json import Obj
from .resources import ResourceKind

__all__ = [
    "KUBERNETES_SCHEMA_VERSION",
    "crd_document",
    "crd_schema",
    "definitions",
    "kind_schema",
]

KUBERNETES_SCHEMA_VERSION = "v1.37.0"
"""The Kubernetes version whose strict OpenAPI schemas the server validates against."""

_SCHEMA_DIR = f"kubernetes-json-schema/{KUBERNETES_SCHEMA_VERSION}-local-strict"
_CRD_FILE = "httproutes.gateway.networking.k8s.io.yaml"


def _load_validate_json(name: str) -> Obj:
    ref = importlib.resources.files("kubernetes_validate").joinpath(f"{_SCHEMA_DIR}/{name}")
    return cast(Obj, json.loads(ref.read_text(encoding="utf-8")))


@functools.cache
def definitions() -> Obj:
    """The shared ``_definitions.json`` document (with its ``$defs``)."""
    return _load_validate_json("_definitions.json")


@functools.cache
def _kind_schema(schema_name: str) -> Obj:
    return _load_validate_json(f"{schema_name}.json")


def kind_schema(kind: ResourceKind) -> Obj:
    """The root schema of a kind: the CRD's ``openAPIV3Schema`` or the strict built-in one."""
    if kind.is_crd:
        return crd_schema(kind.version)
    return _kind_schema(kind.schema_name)


@functools.cache
def crd_document() -> Obj:
    """The HTTPRoute ``CustomResourceDefinition`` shipped as package data."""
    ref = importlib.resources.files(__package__).joinpath(f"data/{_CRD_FILE}")
    return cast(Obj, yaml.safe_load(ref.read_text(encoding="utf-8")))


@functools.cache
def crd_schema(version: str) -> Obj:
    """The ``openAPIV3Schema`` of one version of the HTTPRoute CRD."""
    for entry in crd_document()["spec"]["versions"]:
        if entry["name"] == version:
            schema: Any = entry["schema"]["openAPIV3Schema"]
            return cast(Obj, schema)
    raise KeyError(version)
