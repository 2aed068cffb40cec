"""A service spec: everything a template fixes about a service, without its identity.

:class:`ServiceSpec` holds what a :class:`~starform_core.model.Service` holds apart from its
tenant key and name (type, run state, image and start command, resources, replicas or
autoscaling, probes, port, hostnames, schedule, volumes, drift policy) plus the var keys the
service expects. A spec is valid exactly when the service model accepts a service made from it.

Its JSON form (:func:`spec_to_json`, :func:`spec_from_json`) is canonical, so that two equal
specs have equal JSON and a change between two specs is their merge diff::

    {"type": "worker", "state": "active", "image": "...@sha256:...",
     "resources": {"cpu_request": "500m", "memory_request": "1Gi", "memory_limit": "2Gi"},
     "replicas": 1, "port": 25565, "public": false, "hostnames": [],
     "probes": {"readiness": {"kind": "tcp", "port": 25565, ...}},
     "volumes": {"data": {"mount_path": "/data", "size": "10Gi", "access_mode": "ReadWriteOnce"}},
     "drift": {"mode": "enforce", "ignore_fields": []},
     "var_keys": {"EULA": {"required": true, "description": "..."}}}

Volumes and var keys are objects keyed by name, so a change can address one of them
(``{"volumes": {"data": {"size": "20Gi"}}}``). Optional fields that are unset are left out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

import attrs
import jsonschema

from starform_core.errors import TemplateError, ValidationError
from starform_core.model.enums import RunState, ServiceType
from starform_core.model.service import Service
from starform_core.model.tenant import TenantKey
from starform_core.model.workload import (
    Autoscaling,
    CronSchedule,
    DriftPolicy,
    Probe,
    Probes,
    Release,
    Resources,
    Volume,
)
from starform_core.templates.merge import pointer_of
from starform_core.templates.schema_errors import first_error_of
from starform_core.templates.spec_schema import SPEC_SCHEMA
from starform_core.validation import check_text, fullmatch, to_enum, tuple_of

__all__ = ["ServiceSpec", "VarKey", "check_no_floats", "spec_from_json", "spec_to_json", "validated"]

T = TypeVar("T")

_VAR_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = TenantKey(
    workspace_id="00000000-0000-4000-8000-000000000000",
    project_id="00000000-0000-4000-8000-000000000000",
    environment="spec",
    service_id="00000000-0000-4000-8000-000000000000",
)
_FIELD_PARTS = re.compile(r"[.\[\]]+")


@attrs.frozen(order=True)
class VarKey:
    """A var key the service reads from its attached var groups (a name, never a value)."""

    key: str
    required: bool = True
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.key, str) or not fullmatch(_VAR_KEY, self.key) or len(self.key) > 253:
            raise ValidationError("key", "must be a variable name ([A-Za-z_][A-Za-z0-9_]*, at most 253)")
        if self.description:
            check_text("description", self.description, max_length=500)


def _var_keys(value: Iterable[VarKey]) -> tuple[VarKey, ...]:
    return tuple(sorted(tuple_of(VarKey, "var_keys", value)))


def _service_type(value: object) -> ServiceType:
    return to_enum(ServiceType, "type", value)


def _run_state(value: object) -> RunState:
    return to_enum(RunState, "state", value)


def _hostnames(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(value)))


def _volumes(value: Iterable[Volume]) -> tuple[Volume, ...]:
    return tuple(sorted(tuple_of(Volume, "volumes", value), key=lambda volume: volume.name))


@attrs.frozen
class ServiceSpec:
    """A service blueprint: what a service runs and how, without which tenant or name.

    Construction checks every rule of the service model (by building a service from it), so an
    invalid spec cannot exist; :meth:`service` makes the real one.
    """

    type: ServiceType = attrs.field(converter=_service_type)
    resources: Resources
    state: RunState = attrs.field(default=RunState.ACTIVE, converter=_run_state)
    image: str | None = None
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    replicas: int | None = None
    autoscaling: Autoscaling | None = None
    probes: Probes = attrs.field(factory=Probes)
    port: int | None = None
    public: bool = True
    hostnames: tuple[str, ...] = attrs.field(default=(), converter=_hostnames)
    cron: CronSchedule | None = None
    volumes: tuple[Volume, ...] = attrs.field(default=(), converter=_volumes)
    drift: DriftPolicy = attrs.field(factory=DriftPolicy)
    var_keys: tuple[VarKey, ...] = attrs.field(default=(), converter=_var_keys)

    def __attrs_post_init__(self) -> None:
        if self.image is None and (self.command is not None or self.args is not None):
            raise ValidationError("command", "a start command needs an image")
        self.service(_PLACEHOLDER, "spec")

    @property
    def required_var_keys(self) -> tuple[str, ...]:
        """The var keys the attached var groups must hold."""
        return tuple(key.key for key in self.var_keys if key.required)

    def release(self, version: int = 1) -> Release | None:
        """The release this spec runs (``None`` without an image)."""
        if self.image is None:
            return None
        return Release(version=version, image=self.image, command=self.command, args=self.args)

    def service(self, tenant: TenantKey, name: str, *, release_version: int = 1) -> Service:
        """The service this spec describes, for one tenant and name."""
        return Service(
            tenant=tenant,
            name=name,
            type=self.type,
            state=self.state,
            resources=self.resources,
            release=self.release(release_version),
            replicas=self.replicas,
            autoscaling=self.autoscaling,
            probes=self.probes,
            port=self.port,
            hostnames=self.hostnames,
            public=self.public,
            cron=self.cron,
            volumes=self.volumes,
            drift=self.drift,
        )


def _field_pointer(prefix: str, field: str) -> str:
    """``hostnames[0]`` under ``/probes`` -> ``/probes/hostnames/0`` (a model field as a pointer)."""
    return prefix + pointer_of([part for part in _FIELD_PARTS.split(field) if part])


def _at(prefix: str, make: Callable[[], T]) -> T:
    """Run a model constructor; a domain error becomes a :class:`TemplateError` at ``prefix``."""
    try:
        return make()
    except TemplateError:
        raise
    except ValidationError as exc:
        raise TemplateError(_field_pointer(prefix, exc.field), exc.reason) from exc


def _without_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _probe_json(probe: Probe) -> dict[str, Any]:
    return _without_none({**attrs.asdict(probe), "kind": probe.kind.value})


def spec_to_json(spec: ServiceSpec) -> dict[str, Any]:
    """The canonical JSON form of ``spec`` (unset optional fields left out)."""
    probes = {
        name: _probe_json(probe)
        for name in ("startup", "liveness", "readiness")
        if (probe := getattr(spec.probes, name)) is not None
    }
    data: dict[str, Any] = {
        "type": spec.type.value,
        "state": spec.state.value,
        "image": spec.image,
        "command": None if spec.command is None else list(spec.command),
        "args": None if spec.args is None else list(spec.args),
        "resources": _without_none(attrs.asdict(spec.resources)),
        "replicas": spec.replicas,
        "autoscaling": None if spec.autoscaling is None else _without_none(attrs.asdict(spec.autoscaling)),
        "probes": probes,
        "port": spec.port,
        "public": spec.public,
        "hostnames": list(spec.hostnames),
        "cron": None if spec.cron is None else attrs.asdict(spec.cron),
        "volumes": {
            v.name: {"mount_path": v.mount_path, "size": v.size, "access_mode": v.access_mode.value}
            for v in spec.volumes
        },
        "drift": {"mode": spec.drift.mode.value, "ignore_fields": list(spec.drift.ignore_fields)},
        "var_keys": {k.key: {"required": k.required, "description": k.description} for k in spec.var_keys},
    }
    return _without_none(data)


@functools.cache
def _structure_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SPEC_SCHEMA)


def _optional(data: Mapping[str, Any], key: str, make: Callable[[Any], T]) -> T | None:
    value = data.get(key)
    return None if value is None else _at(f"/{key}", lambda: make(value))


def _made(prefix: str, kind: Callable[..., T], body: Mapping[str, Any], **extra: Any) -> T:
    """``kind(**body, **extra)``, its domain errors at ``prefix``."""
    return _at(prefix, lambda: kind(**body, **extra))


def _probes(data: Mapping[str, Any]) -> Probes:
    return Probes(**{name: _made(f"/probes/{name}", Probe, body) for name, body in data.items()})


def _arguments(value: list[str]) -> tuple[str, ...]:
    return tuple(value)


def check_no_floats(data: Any, path: tuple[object, ...] = ()) -> None:
    """Refuse any non-integer number: a spec has none (JSON Schema's ``integer`` takes ``3.0``)."""
    if isinstance(data, float):
        raise TemplateError(pointer_of(path), "must be an integer")
    if isinstance(data, dict):
        for key, value in data.items():
            check_no_floats(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_no_floats(value, (*path, index))


def spec_from_json(data: Any) -> ServiceSpec:
    """Read a spec's JSON form; :class:`TemplateError` names the pointer of the first problem."""
    error = first_error_of(_structure_validator(), data)
    if error is not None:
        raise error
    check_no_floats(data)
    volumes = [
        _made(f"/volumes/{name}", Volume, body, name=name) for name, body in data.get("volumes", {}).items()
    ]
    var_keys = [
        _made(f"/var_keys/{key}", VarKey, body, key=key) for key, body in data.get("var_keys", {}).items()
    ]
    drift = data.get("drift", {})
    fields: dict[str, Any] = {
        "type": data["type"],
        "state": data.get("state", RunState.ACTIVE.value),
        "resources": _at("/resources", lambda: Resources(**data["resources"])),
        "image": None if data.get("image") is None else _at("", lambda: Release(1, data["image"])).image,
        "command": _optional(data, "command", _arguments),
        "args": _optional(data, "args", _arguments),
        "replicas": data.get("replicas"),
        "autoscaling": _optional(data, "autoscaling", lambda v: Autoscaling(**v)),
        "probes": _probes(data.get("probes", {})),
        "port": data.get("port"),
        "public": data.get("public", True),
        "hostnames": tuple(data.get("hostnames", ())),
        "cron": _optional(data, "cron", lambda v: CronSchedule(**v)),
        "volumes": volumes,
        "drift": _at("/drift", lambda: DriftPolicy(**drift)),
        "var_keys": var_keys,
    }
    return _at("", lambda: ServiceSpec(**fields))


def validated(data: Any) -> dict[str, Any]:
    """The canonical JSON form of the spec ``data`` describes (``TemplateError`` if invalid)."""
    return spec_to_json(spec_from_json(data))
