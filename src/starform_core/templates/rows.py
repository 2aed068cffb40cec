"""A spec as Starbase's rows, and back: what a service made from a template is stored as.

A :class:`ServiceSpec` becomes one ``services`` row, its ``volumes`` and ``hostnames`` rows and,
when it names an image, the next ``deployments`` row; :func:`spec_of_rows` reads a stored
service back as the spec it runs (the current release's image and start command).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from starform_core.model.workload import CronSchedule, DriftPolicy, Resources, Volume
from starform_core.payload.rows import DeploymentRow, HostnameRow, ServiceRow, VolumeRow
from starform_core.records import NewDeployment
from starform_core.templates.spec import ServiceSpec, VarKey

__all__ = ["SpecRows", "spec_of_rows", "spec_rows"]


@attrs.frozen
class SpecRows:
    """The rows of one service made from a spec (``deployment`` is ``None`` without an image)."""

    service: ServiceRow
    volumes: tuple[VolumeRow, ...]
    hostnames: tuple[HostnameRow, ...]
    deployment: NewDeployment | None


def spec_rows(spec: ServiceSpec, identity: ServiceRow, *, new_id: Callable[[], str]) -> SpecRows:
    """The rows for ``spec``; ``identity`` gives the ids, project, environment and name.

    ``new_id()`` makes the id of each new volume and of the deployment.
    """
    cron = spec.cron
    service = ServiceRow(
        service_id=identity.service_id,
        project_id=identity.project_id,
        environment_id=identity.environment_id,
        name=identity.name,
        type=spec.type,
        state=spec.state,
        cpu_request=spec.resources.cpu_request,
        memory_request=spec.resources.memory_request,
        cpu_limit=spec.resources.cpu_limit,
        memory_limit=spec.resources.memory_limit,
        replicas=spec.replicas,
        autoscaling=spec.autoscaling,
        probes=spec.probes,
        port=spec.port,
        public=spec.public,
        cron_schedule=None if cron is None else cron.schedule,
        cron_time_zone=None if cron is None else cron.time_zone,
        drift_mode=spec.drift.mode,
        drift_ignore_fields=spec.drift.ignore_fields,
        adoption_policy=identity.adoption_policy,
    )
    volumes = tuple(
        VolumeRow(
            volume_id=new_id(),
            service_id=identity.service_id,
            name=v.name,
            mount_path=v.mount_path,
            size=v.size,
            access_mode=v.access_mode,
        )
        for v in spec.volumes
    )
    hostnames = tuple(HostnameRow(service_id=identity.service_id, hostname=h) for h in spec.hostnames)
    deployment = None
    if spec.image is not None:
        deployment = NewDeployment(
            deployment_id=new_id(),
            service_id=identity.service_id,
            image=spec.image,
            command=spec.command,
            args=spec.args,
        )
    return SpecRows(service=service, volumes=volumes, hostnames=hostnames, deployment=deployment)


def spec_of_rows(
    service: ServiceRow,
    volumes: Iterable[VolumeRow],
    hostnames: Iterable[str],
    release: DeploymentRow | None,
    *,
    var_keys: Iterable[VarKey] = (),
) -> ServiceSpec:
    """The spec a stored service runs (its current release, if any, gives the image)."""
    cron = None
    if service.cron_schedule is not None:
        cron = CronSchedule(schedule=service.cron_schedule, time_zone=service.cron_time_zone or "UTC")
    return ServiceSpec(
        type=service.type,
        state=service.state,
        resources=Resources(
            cpu_request=service.cpu_request,
            memory_request=service.memory_request,
            cpu_limit=service.cpu_limit,
            memory_limit=service.memory_limit,
        ),
        image=None if release is None else release.image,
        command=None if release is None else release.command,
        args=None if release is None else release.args,
        replicas=service.replicas,
        autoscaling=service.autoscaling,
        probes=service.probes,
        port=service.port,
        public=service.public,
        hostnames=tuple(hostnames),
        cron=cron,
        volumes=[
            Volume(name=v.name, mount_path=v.mount_path, size=v.size, access_mode=v.access_mode)
            for v in volumes
        ],
        drift=DriftPolicy(mode=service.drift_mode, ignore_fields=tuple(service.drift_ignore_fields)),
        var_keys=var_keys,
    )
