"""Hypothesis strategies for changes to a payload, as Starbase would make them between two polls.

``changed(payload)`` draws one change of one kind (:data:`KINDS`) and returns ``(kind, new
payload)``. Every field any renderer reads can change: service settings, names and environments,
var group values, scopes and attachments, project tiers and environments, every cluster setting,
whole services and projects coming and going; and changes nothing renders (generation, prune
policy, names of clusters and projects). ``reparsed`` is the payload rebuilt from its wire form,
equal but sharing no object with the original, as Shuttle receives it. A change the model
refuses (a rename onto another service's name, say) leaves the payload as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import strategies as st
from tests.strategies.payloads import CHECKSUM_KEY, environment_names, projects, secret_values, service_names

from starform_core.errors import ValidationError
from starform_core.model.cluster import GatewayRef, LoadBalancerSettings, ObjectRef, PrunePolicy
from starform_core.model.enums import DriftMode, RunState, Tier
from starform_core.model.project import Environment, Project
from starform_core.model.service import Service
from starform_core.model.vargroup import VarGroup, VarGroupAttachment
from starform_core.model.workload import DriftPolicy, Release, Resources, Volume
from starform_core.payload.codec import from_structure, to_json
from starform_core.payload.document import DesiredState
from starform_core.secrets_values import keyed_checksum

__all__ = ["KINDS", "changed"]

_DIGEST = "sha256:" + "cd" * 32
Change = Callable[[st.DrawFn, DesiredState], DesiredState]


def _with_project(payload: DesiredState, project: Project) -> DesiredState:
    projects = tuple(project if p.project_id == project.project_id else p for p in payload.projects)
    return attrs.evolve(payload, projects=projects)


def _pick_project(draw: st.DrawFn, payload: DesiredState) -> Project | None:
    return draw(st.sampled_from(payload.projects)) if payload.projects else None


def _pick_service(draw: st.DrawFn, payload: DesiredState) -> tuple[Project, Service] | None:
    pairs = list(payload.services())
    return draw(st.sampled_from(pairs)) if pairs else None


def _with_service(payload: DesiredState, project: Project, service: Service) -> DesiredState:
    services = tuple(service if s.service_id == service.service_id else s for s in project.services)
    return _with_project(payload, attrs.evolve(project, services=services))


# --- services ----------------------------------------------------------------------------------
def _service_setting(draw: st.DrawFn, service: Service) -> Service:
    field = draw(
        st.sampled_from(["release", "state", "replicas", "port", "public", "drift", "resources", "volumes"])
    )
    changes: dict[str, Any]
    if field == "release":
        version = draw(st.integers(1, 2**31 - 1))
        changes = {
            "release": draw(st.none() | st.just(Release(version=version, image=f"r.example/a@{_DIGEST}")))
        }
    elif field == "state":
        changes = {"state": RunState.PAUSED if service.state is RunState.ACTIVE else RunState.ACTIVE}
    elif field == "replicas":
        changes = {"replicas": draw(st.none() | st.integers(0, 100)), "autoscaling": None}
    elif field == "port":
        changes = {"port": draw(st.integers(1, 65535))}
    elif field == "public":
        changes = {"public": not service.public, "hostnames": ()}
    elif field == "drift":
        changes = {"drift": DriftPolicy(mode=draw(st.sampled_from(DriftMode)))}
    elif field == "resources":
        changes = {
            "resources": Resources(cpu_request=draw(st.sampled_from(["10m", "3"])), memory_request="1Gi")
        }
    else:
        size = draw(st.sampled_from(["2Gi", "20Gi"]))
        changes = {
            "volumes": draw(st.sampled_from([(), (Volume(name="data", mount_path="/data", size=size),)]))
        }
    return attrs.evolve(service, **changes)


def _change_service(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    picked = _pick_service(draw, payload)
    if picked is None:
        return payload
    project, service = picked
    return _with_service(payload, project, _service_setting(draw, service))


def _rename_service(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    picked = _pick_service(draw, payload)
    if picked is None:
        return payload
    project, service = picked
    return _with_service(payload, project, attrs.evolve(service, name=draw(service_names)))


def _move_service(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    """Another environment of the same project (its environment-scoped groups detached)."""
    picked = _pick_service(draw, payload)
    if picked is None:
        return payload
    project, service = picked
    environment = draw(st.sampled_from(project.environments)).name
    tenant = attrs.evolve(service.tenant, environment=environment)
    scoped = {g.var_group_id for g in project.var_groups if g.environment not in (None, environment)}
    attachments = tuple(a for a in service.var_groups if a.var_group_id not in scoped)
    return _with_service(payload, project, attrs.evolve(service, tenant=tenant, var_groups=attachments))


def _add_service(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    picked = _pick_service(draw, payload)
    if picked is None:
        return payload
    project, service = picked
    tenant = attrs.evolve(service.tenant, service_id=str(draw(st.uuids())))
    copy = attrs.evolve(service, tenant=tenant, name=draw(service_names), hostnames=())
    return _with_project(payload, attrs.evolve(project, services=(*project.services, copy)))


def _remove_service(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    picked = _pick_service(draw, payload)
    if picked is None:
        return payload
    project, service = picked
    services = tuple(s for s in project.services if s.service_id != service.service_id)
    return _with_project(payload, attrs.evolve(project, services=services))


# --- var groups --------------------------------------------------------------------------------
def _with_group(project: Project, group: VarGroup) -> Project:
    groups = tuple(group if g.var_group_id == group.var_group_id else g for g in project.var_groups)
    return attrs.evolve(project, var_groups=groups)


def _regroup(group: VarGroup, entries: dict[str, Any]) -> VarGroup:
    return attrs.evolve(group, entries=entries, checksum=keyed_checksum(CHECKSUM_KEY, entries.items()))


def _change_group_values(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    project = _pick_project(draw, payload)
    if project is None or not project.var_groups:
        return payload
    group = draw(st.sampled_from(project.var_groups))
    entries = dict(group.entries)
    key = draw(st.sampled_from([*entries, "LOG_LEVEL", "NEW_KEY"]))
    if draw(st.booleans()) or key not in entries:
        entries[key] = draw(secret_values)
    else:
        del entries[key]
    return _with_project(payload, _with_group(project, _regroup(group, entries)))


def _rescope_group(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    project = _pick_project(draw, payload)
    if project is None or not project.var_groups:
        return payload
    group = draw(st.sampled_from(project.var_groups))
    environment = draw(st.none() | st.sampled_from([env.name for env in project.environments]))
    return _with_project(payload, _with_group(project, attrs.evolve(group, environment=environment)))


def _add_group(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    project = _pick_project(draw, payload)
    if project is None:
        return payload
    entries = draw(st.dictionaries(st.sampled_from(["LOG_LEVEL", "API_KEY", "X"]), secret_values, max_size=3))
    group = VarGroup(
        var_group_id=str(draw(st.uuids())),
        name="added",
        checksum=keyed_checksum(CHECKSUM_KEY, entries.items()),
        entries=entries,
    )
    return _with_project(payload, attrs.evolve(project, var_groups=(*project.var_groups, group)))


def _remove_group(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    project = _pick_project(draw, payload)
    if project is None or not project.var_groups:
        return payload
    gone = draw(st.sampled_from(project.var_groups)).var_group_id
    services = tuple(
        attrs.evolve(s, var_groups=tuple(a for a in s.var_groups if a.var_group_id != gone))
        for s in project.services
    )
    groups = tuple(g for g in project.var_groups if g.var_group_id != gone)
    return _with_project(payload, attrs.evolve(project, var_groups=groups, services=services))


def _reattach(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    """Attach a group to a service, detach one, or change an attach order."""
    picked = _pick_service(draw, payload)
    if picked is None or not picked[0].var_groups:
        return payload
    project, service = picked
    group = draw(st.sampled_from(project.var_groups)).var_group_id
    others = tuple(a for a in service.var_groups if a.var_group_id != group)
    attach = draw(st.booleans())
    order = draw(st.integers(0, 10_000))
    attachments = (*others, VarGroupAttachment(attach_order=order, var_group_id=group)) if attach else others
    return _with_service(payload, project, attrs.evolve(service, var_groups=attachments))


# --- projects ----------------------------------------------------------------------------------
def _change_project(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    project = _pick_project(draw, payload)
    if project is None:
        return payload
    field = draw(st.sampled_from(["tier", "ephemeral", "protected", "add-environment", "remove-environment"]))
    if field == "tier":
        return _with_project(payload, attrs.evolve(project, tier=draw(st.sampled_from(Tier))))
    environments = list(project.environments)
    if field in ("ephemeral", "protected"):
        index = draw(st.integers(0, len(environments) - 1))
        env = environments[index]
        environments[index] = (
            attrs.evolve(env, is_ephemeral=not env.is_ephemeral)
            if field == "ephemeral"
            else attrs.evolve(env, protected=not env.protected)
        )
    elif field == "add-environment":
        environments.append(Environment(name=draw(environment_names)))
    else:
        del environments[draw(st.integers(0, len(environments) - 1))]
    return _with_project(payload, attrs.evolve(project, environments=environments))


def _add_project(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    used = {p.project_id for p in payload.projects}
    used |= {s.service_id for _, s in payload.services()}
    used |= {g.var_group_id for p in payload.projects for g in p.var_groups}
    return attrs.evolve(payload, projects=(*payload.projects, draw(projects(used_ids=used))))


def _remove_project(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    project = _pick_project(draw, payload)
    if project is None:
        return payload
    return attrs.evolve(payload, projects=tuple(p for p in payload.projects if p is not project))


# --- the cluster -------------------------------------------------------------------------------
def _cluster_setting(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    cluster = payload.cluster
    field = draw(
        st.sampled_from(
            ["cluster_id", "gateway", "storage_class", "egress_allow", "metrics_namespace", "load_balancer"]
        )
    )
    value: Any
    if field == "cluster_id":
        value = str(draw(st.uuids()))
    elif field == "gateway":
        value = GatewayRef(
            namespace=draw(st.sampled_from(["gateway", "gw-2"])),
            name=draw(st.sampled_from(["starform-gateway", "other"])),
            section_name=draw(st.none() | st.just("https")),
        )
    elif field == "storage_class":
        value = draw(st.sampled_from(["standard", "fast-ssd"]))
    elif field == "egress_allow":
        value = draw(st.sampled_from([(), ("10.0.0.0/16",), ("10.0.0.0/16", "192.168.1.0/24")]))
    elif field == "metrics_namespace":
        value = draw(st.none() | st.sampled_from(["monitoring", "vm"]))
    else:
        target = ObjectRef(api_version="v1", kind="Service", name="lb", namespace=cluster.gateway.namespace)
        value = draw(
            st.none() | st.builds(LoadBalancerSettings, target=st.just(target), size_unit=st.integers(1, 200))
        )
    return attrs.evolve(payload, cluster=attrs.evolve(cluster, **{field: value}))


def _unrendered(draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    """A change no object depends on: generation, prune policy, cluster and project names."""
    field = draw(st.sampled_from(["generation", "prune", "names"]))
    if field == "generation":
        return attrs.evolve(payload, generation=min(payload.generation + 1, 2**53 - 1))
    if field == "prune":
        prune = PrunePolicy(max_delete_percent=draw(st.integers(0, 100)), release_held=draw(st.booleans()))
        return attrs.evolve(payload, cluster=attrs.evolve(payload.cluster, prune=prune))
    cluster = attrs.evolve(payload.cluster, name="renamed", region="ams3")
    renamed = tuple(attrs.evolve(p, name=f"{p.name} (renamed)") for p in payload.projects)
    return attrs.evolve(payload, cluster=cluster, projects=renamed)


def _reparsed(_draw: st.DrawFn, payload: DesiredState) -> DesiredState:
    return from_structure(json.loads(to_json(payload)))  # the wire form, secrets and all


KINDS: dict[str, Change] = {
    "service setting": _change_service,
    "service renamed": _rename_service,
    "service moved": _move_service,
    "service added": _add_service,
    "service removed": _remove_service,
    "var values": _change_group_values,
    "var group scope": _rescope_group,
    "var group added": _add_group,
    "var group removed": _remove_group,
    "attachment": _reattach,
    "project setting": _change_project,
    "project added": _add_project,
    "project removed": _remove_project,
    "cluster setting": _cluster_setting,
    "unrendered": _unrendered,
    "reparsed": _reparsed,
}
"""Every kind of change, by name."""


@st.composite
def changed(draw: st.DrawFn, payload: DesiredState) -> tuple[str, DesiredState]:
    """``(kind, payload after one change of that kind)``; the payload as it was when the model
    refuses the change."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    try:
        return kind, KINDS[kind](draw, payload)
    except ValidationError:
        return kind, payload
