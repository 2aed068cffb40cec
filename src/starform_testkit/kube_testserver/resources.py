"""The registry of kinds the test server serves (group, version, plural, scope)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

__all__ = ["BUILTIN_KINDS", "HTTPROUTE", "ResourceKind", "ResourceRegistry"]


@attrs.frozen
class ResourceKind:
    """One served resource: where it lives in the API and how it is scoped."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    has_status: bool = attrs.field(default=True, kw_only=True)
    is_crd: bool = attrs.field(default=False, kw_only=True)

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``<group>/<version>`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """The lower-case singular name, as discovery reports it."""
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        """The kind of a list response, e.g. ``DeploymentList``."""
        return f"{self.kind}List"

    @property
    def label(self) -> str:
        """The qualified resource name used in messages, e.g. ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self) -> str:
        """A stable key for storage: ``<group>/<plural>``."""
        return f"{self.group}/{self.plural}"

    @property
    def schema_name(self) -> str:
        """The file stem of the kind's schema in ``kubernetes_validate`` (e.g. ``pod-v1``)."""
        short_group = self.group.split(".", 1)[0]
        prefix = f"{short_group}-" if short_group else ""
        return f"{self.kind.lower()}-{prefix}{self.version}"


def _k(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = True,
) -> ResourceKind:
    return ResourceKind(group, version, kind, plural, namespaced, short_names=short, has_status=status)


BUILTIN_KINDS: tuple[ResourceKind, ...] = (
    _k("", "v1", "Namespace", "namespaces", namespaced=False, short=("ns",)),
    _k("", "v1", "Secret", "secrets", status=False),
    _k("", "v1", "ConfigMap", "configmaps", short=("cm",), status=False),
    _k("", "v1", "Service", "services", short=("svc",)),
    _k("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",), status=False),
    _k("", "v1", "Pod", "pods", short=("po",)),
    _k("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",)),
    _k("", "v1", "ResourceQuota", "resourcequotas", short=("quota",)),
    _k("", "v1", "LimitRange", "limitranges", short=("limits",), status=False),
    _k("", "v1", "Event", "events", short=("ev",), status=False),
    _k("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _k("apps", "v1", "Deployment", "deployments", short=("deploy",)),
    _k("apps", "v1", "ReplicaSet", "replicasets", short=("rs",)),
    _k("batch", "v1", "CronJob", "cronjobs", short=("cj",)),
    _k("batch", "v1", "Job", "jobs"),
    _k("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",)),
    _k("rbac.authorization.k8s.io", "v1", "Role", "roles", status=False),
    _k("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", status=False),
    _k("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False, status=False),
    _k(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
        status=False,
    ),
)
"""Every built-in kind the server always serves."""

HTTPROUTE = ResourceKind("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", True, is_crd=True)
"""Gateway API HTTPRoute, served only once its CRD is installed."""


class ResourceRegistry:
    """Look kinds up by (group, version, plural) or (apiVersion, kind); CRDs can be toggled."""

    def __init__(self, *, kinds: Iterable[ResourceKind] = BUILTIN_KINDS) -> None:
        self._builtin = tuple(kinds)
        self._crds: dict[str, ResourceKind] = {}

    def install(self, kind: ResourceKind) -> None:
        """Start serving a custom resource kind."""
        self._crds[kind.key] = kind

    def uninstall(self, kind: ResourceKind) -> None:
        """Stop serving a custom resource kind."""
        self._crds.pop(kind.key, None)

    def is_installed(self, kind: ResourceKind) -> bool:
        """Whether ``kind`` is currently served."""
        return kind in self._builtin or kind.key in self._crds

    def __iter__(self) -> Iterator[ResourceKind]:
        yield from self._builtin
        yield from tuple(self._crds.values())

    def by_plural(self, group: str, version: str, plural: str) -> ResourceKind | None:
        """The kind served at ``/<group>/<version>/<plural>``, or ``None``."""
        for kind in self:
            if kind.group == group and kind.version == version and kind.plural == plural:
                return kind
        return None

    def by_kind(self, api_version: str, kind_name: str) -> ResourceKind | None:
        """The kind named ``kind_name`` in ``api_version``, or ``None``."""
        for kind in self:
            if kind.api_version == api_version and kind.kind == kind_name:
                return kind
        return None

    def groups(self) -> list[tuple[str, str]]:
        """Every served (group, version) pair except the core group, in a stable order."""
        seen: list[tuple[str, str]] = []
        for kind in self:
            pair = (kind.group, kind.version)
            if kind.group and pair not in seen:
                seen.append(pair)
        return seen
