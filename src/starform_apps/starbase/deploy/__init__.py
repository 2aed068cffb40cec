"""Push to deploy (issue 17, §16.11, §16.12): GitHub webhooks, build jobs, the registry-resolved
deploy. The HTTP side (webhooks, installations, sources, builds, logs) and the worker side
(:mod:`.runner`, run by the job queue) share :class:`~.ports.DeployPorts`."""

from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_apps.starbase.deploy.ports import BuildJobs, DeployPorts

__all__ = ["BuildJobs", "DeployMetrics", "DeployPorts"]
