"""Shuttle's own deployment files (deploy/shuttle/): schema-valid, least privilege, self-consistent.

The tables in this module are the specification: the ClusterRole must grant exactly
``EXPECTED_RULES`` and ``EXPECTED_NON_RESOURCE_URLS``, and docs/operations/shuttle-deployment.md
must show the same table.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = ROOT / "deploy" / "shuttle"
DOCKERFILE = DEPLOY_DIR / "Dockerfile"
DOC = ROOT / "docs" / "operations" / "shuttle-deployment.md"

KUBERNETES_VERSION = "1.37"
NAMESPACE = "starform-system"
CLUSTER_ROLE = "starform:shuttle"
SERVICE_ACCOUNT = "shuttle"
CONFIG_MAP = "shuttle-config"
STATE_PVC = "shuttle-state"
STATE_DIR = "/var/lib/shuttle"
TOKEN_SECRET = "shuttle-starbase-token"
TOKEN_KEY = "token"
IMAGE = "registry.digitalocean.com/starform/shuttle:0.1.0"
METRICS_PORT = 9464
LABELS = {
    "app.kubernetes.io/name": "shuttle",
    "app.kubernetes.io/part-of": "starform",
    "app.kubernetes.io/component": "agent",
}

# --- the RBAC specification -----------------------------------------------------------------
# Managed kinds: watched (list, watch), read before a guarded JSON patch (get), server-side
# applied (patch, plus create: SSA of a missing object is a create), JSON-patched (patch), pruned
# (delete). Health kinds: read only.
MANAGED = frozenset({"get", "list", "watch", "create", "patch", "delete"})
READ_ONLY = frozenset({"get", "list", "watch"})
EXPECTED_RULES: dict[tuple[str, str], frozenset[str]] = {
    ("", "namespaces"): MANAGED,
    ("", "resourcequotas"): MANAGED,
    ("", "limitranges"): MANAGED,
    ("", "serviceaccounts"): MANAGED,
    ("", "secrets"): MANAGED,
    ("", "configmaps"): MANAGED,
    ("", "persistentvolumeclaims"): MANAGED,
    ("", "services"): MANAGED,
    ("networking.k8s.io", "networkpolicies"): MANAGED,
    ("apps", "deployments"): MANAGED,
    ("batch", "cronjobs"): MANAGED,
    ("autoscaling", "horizontalpodautoscalers"): MANAGED,
    ("gateway.networking.k8s.io", "httproutes"): MANAGED,
    ("", "pods"): READ_ONLY,
    ("batch", "jobs"): READ_ONLY,
    ("apps", "replicasets"): READ_ONLY,
}
EXPECTED_NON_RESOURCE_URLS: dict[str, frozenset[str]] = {
    "/api": frozenset({"get"}),
    "/apis": frozenset({"get"}),
    "/apis/*": frozenset({"get"}),
    "/version": frozenset({"get"}),
}
FORBIDDEN_VERBS = frozenset({"escalate", "bind", "impersonate", "*"})
RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_RESOURCES = frozenset({"roles", "rolebindings", "clusterroles", "clusterrolebindings"})

# Every object shipped, by (kind, namespace, name). No Secret: its value is never in the repo.
EXPECTED_OBJECTS = {
    ("Namespace", None, NAMESPACE),
    ("ServiceAccount", NAMESPACE, SERVICE_ACCOUNT),
    ("ClusterRole", None, CLUSTER_ROLE),
    ("ClusterRoleBinding", None, CLUSTER_ROLE),
    ("ConfigMap", NAMESPACE, CONFIG_MAP),
    ("PersistentVolumeClaim", NAMESPACE, STATE_PVC),
    ("Deployment", NAMESPACE, "shuttle"),
    ("Service", NAMESPACE, "shuttle-metrics"),
}


# --- loading --------------------------------------------------------------------------------
def _load_manifests() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(DEPLOY_DIR.glob("*.y*ml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if doc is not None:
                found.append((f"{path.name}#{index}", doc))
    return found


MANIFESTS = _load_manifests()


def _identity(obj: dict[str, Any]) -> tuple[str, str | None, str]:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace"), meta["name"]


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        obj
        for _, obj in MANIFESTS
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected exactly one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return _one("Deployment", "shuttle")


@pytest.fixture(scope="module")
def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


@pytest.fixture(scope="module")
def cluster_role() -> dict[str, Any]:
    return _one("ClusterRole", CLUSTER_ROLE)


# --- every manifest -------------------------------------------------------------------------
def test_manifests_found() -> None:
    assert MANIFESTS, f"no manifests under {DEPLOY_DIR}"


@pytest.mark.parametrize(("where", "obj"), MANIFESTS, ids=[where for where, _ in MANIFESTS])
def test_manifest_is_valid_in_strict_mode(where: str, obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_unknown_fields() -> None:
    """Guard against a vacuous schema check: a misspelt field must fail."""
    broken = copy.deepcopy(_one("Deployment", "shuttle"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"port": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_exactly_the_expected_objects_are_shipped() -> None:
    identities = [_identity(obj) for _, obj in MANIFESTS]
    assert len(identities) == len(set(identities)), "duplicate objects"
    assert set(identities) == EXPECTED_OBJECTS


def test_no_secret_is_shipped() -> None:
    assert not [where for where, obj in MANIFESTS if obj["kind"] == "Secret"]


@pytest.mark.parametrize(("where", "obj"), MANIFESTS, ids=[where for where, _ in MANIFESTS])
def test_manifest_carries_the_standard_labels(where: str, obj: dict[str, Any]) -> None:
    labels = obj["metadata"].get("labels") or {}
    assert labels.items() >= LABELS.items()


@pytest.mark.parametrize(("where", "obj"), MANIFESTS, ids=[where for where, _ in MANIFESTS])
def test_namespaced_objects_live_in_starform_system(where: str, obj: dict[str, Any]) -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    namespace = obj["metadata"].get("namespace")
    if obj["kind"] in cluster_scoped:
        assert namespace is None
    else:
        assert namespace == NAMESPACE


# --- RBAC -----------------------------------------------------------------------------------
def _granted(cluster_role: dict[str, Any]) -> tuple[dict[tuple[str, str], set[str]], dict[str, set[str]]]:
    resources: dict[tuple[str, str], set[str]] = defaultdict(set)
    urls: dict[str, set[str]] = defaultdict(set)
    for rule in cluster_role["rules"]:
        verbs = set(rule["verbs"])
        for url in rule.get("nonResourceURLs") or []:
            urls[url] |= verbs
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                resources[(group, resource)] |= verbs
    return dict(resources), dict(urls)


def test_cluster_role_has_no_wildcards(cluster_role: dict[str, Any]) -> None:
    for rule in cluster_role["rules"]:
        for field in ("verbs", "apiGroups", "resources", "resourceNames"):
            for value in rule.get(field) or []:
                assert "*" not in value, f"wildcard in {field}: {rule}"
        for url in rule.get("nonResourceURLs") or []:
            # A trailing path wildcard is the only form allowed, and only where the spec says so.
            assert url in EXPECTED_NON_RESOURCE_URLS, url
    assert "aggregationRule" not in cluster_role


def test_cluster_role_grants_exactly_the_spec(cluster_role: dict[str, Any]) -> None:
    resources, urls = _granted(cluster_role)
    assert {key: frozenset(verbs) for key, verbs in resources.items()} == EXPECTED_RULES
    assert {key: frozenset(verbs) for key, verbs in urls.items()} == EXPECTED_NON_RESOURCE_URLS


def test_cluster_role_cannot_escalate(cluster_role: dict[str, Any]) -> None:
    resources, urls = _granted(cluster_role)
    for (group, resource), verbs in resources.items():
        assert not verbs & FORBIDDEN_VERBS, (group, resource, verbs)
        assert group != RBAC_GROUP, (group, resource)
        assert resource not in RBAC_RESOURCES, (group, resource)
        assert "/" not in resource or resource.endswith("/status"), f"subresource {resource}"
    for url, verbs in urls.items():
        assert verbs == {"get"}, (url, verbs)


def test_spec_table_is_consistent() -> None:
    """Applied kinds can be created (SSA of a missing object); read-only kinds cannot be changed."""
    for key, verbs in EXPECTED_RULES.items():
        if "patch" in verbs:
            assert {"create", "list", "watch", "delete"} <= verbs, key
        else:
            assert verbs == READ_ONLY, key


def test_cluster_role_binding_binds_the_service_account() -> None:
    binding = _one("ClusterRoleBinding", CLUSTER_ROLE)
    assert binding["roleRef"] == {
        "apiGroup": RBAC_GROUP,
        "kind": "ClusterRole",
        "name": CLUSTER_ROLE,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    ]
    _one("ServiceAccount", SERVICE_ACCOUNT)


def test_no_namespaced_rbac_is_shipped() -> None:
    assert not [obj for _, obj in MANIFESTS if obj["kind"] in {"Role", "RoleBinding"}]


# --- Deployment -----------------------------------------------------------------------------
def test_deployment_runs_one_agent_at_a_time(deployment: dict[str, Any]) -> None:
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod_labels = spec["template"]["metadata"]["labels"]
    assert pod_labels.items() >= spec["selector"]["matchLabels"].items()
    assert pod_labels.items() >= LABELS.items()


def test_deployment_pod_spec(deployment: dict[str, Any], container: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SERVICE_ACCOUNT
    assert pod["automountServiceAccountToken"] is True
    assert "priorityClassName" not in pod
    assert "hostNetwork" not in pod
    assert "hostPID" not in pod
    assert container["image"] == IMAGE
    assert container["args"] == ["run"]
    assert "command" not in container, "the image's ENTRYPOINT (shuttle) must be used"


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container["env"]}


def test_env_is_complete(container: dict[str, Any]) -> None:
    env = _env(container)
    assert set(env) == {"STARBASE_URL", "SHUTTLE_CLUSTER_ID", "SHUTTLE_TOKEN", "SHUTTLE_STATE_DIR"}
    assert env["SHUTTLE_STATE_DIR"]["value"] == STATE_DIR
    for name in ("STARBASE_URL", "SHUTTLE_CLUSTER_ID"):
        assert env[name]["valueFrom"]["configMapKeyRef"]["name"] == CONFIG_MAP
    assert env["SHUTTLE_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": TOKEN_SECRET, "key": TOKEN_KEY}}


def test_config_map_references_resolve(container: dict[str, Any]) -> None:
    for entry in container["env"]:
        ref = (entry.get("valueFrom") or {}).get("configMapKeyRef")
        if ref is None:
            continue
        config_map = _one("ConfigMap", ref["name"])
        assert ref["key"] in config_map["data"], ref
        assert not ref.get("optional", False)


def test_config_map_example_values(container: dict[str, Any]) -> None:
    data = _one("ConfigMap", CONFIG_MAP)["data"]
    assert set(data) == {"STARBASE_URL", "SHUTTLE_CLUSTER_ID"}
    assert data["STARBASE_URL"].startswith("https://")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", data["SHUTTLE_CLUSTER_ID"]
    )


def test_secret_references_point_at_the_bootstrap_secret(container: dict[str, Any]) -> None:
    refs = [
        entry["valueFrom"]["secretKeyRef"]
        for entry in container["env"]
        if "secretKeyRef" in (entry.get("valueFrom") or {})
    ]
    assert refs == [{"name": TOKEN_SECRET, "key": TOKEN_KEY}]
    assert "envFrom" not in container


def test_state_dir_is_a_persistent_volume(deployment: dict[str, Any], container: dict[str, Any]) -> None:
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    state = volumes[mounts[STATE_DIR]]
    assert state["persistentVolumeClaim"]["claimName"] == STATE_PVC
    assert not state["persistentVolumeClaim"].get("readOnly", False)
    pvc = _one("PersistentVolumeClaim", STATE_PVC)
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_every_mount_has_a_volume(deployment: dict[str, Any], container: dict[str, Any]) -> None:
    volumes = {volume["name"] for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    assert {mount["name"] for mount in container["volumeMounts"]} == volumes


def test_probes_use_the_named_metrics_port(container: dict[str, Any]) -> None:
    assert container["ports"] == [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}]
    expected_paths = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"}
    for probe, path in expected_paths.items():
        http_get = container[probe]["httpGet"]
        assert http_get["port"] == "metrics", probe
        assert http_get["path"] == path, probe


def test_resources(container: dict[str, Any]) -> None:
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def test_container_is_locked_down(deployment: dict[str, Any], container: dict[str, Any]) -> None:
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 65532
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context.get("privileged", False) is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    pod_context = deployment["spec"]["template"]["spec"]["securityContext"]
    assert pod_context["runAsNonRoot"] is True
    assert pod_context["runAsUser"] == 65532
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_namespace_enforces_restricted_pod_security() -> None:
    labels = _one("Namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_metrics_service_selects_the_pod(deployment: dict[str, Any]) -> None:
    service = _one("Service", "shuttle-metrics")
    assert service["spec"]["type"] == "ClusterIP"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels.items() >= service["spec"]["selector"].items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}
    ]


# --- Dockerfile -----------------------------------------------------------------------------
def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "dangling line continuation"
    result = []
    for line in logical:
        instruction, _, arguments = line.partition(" ")
        result.append((instruction.upper(), arguments.strip()))
    return result


def test_dockerfile_is_multi_stage_on_python_311_slim() -> None:
    bases = [args.split()[0] for instruction, args in _instructions() if instruction == "FROM"]
    assert len(bases) >= 2
    assert all(base == "python:3.11-slim" for base in bases), bases
    assert any(
        instruction == "COPY" and args.startswith("--from=") for instruction, args in _instructions()
    ), "the runtime stage must copy from the build stage"


def test_dockerfile_installs_with_pinned_constraints() -> None:
    instructions = _instructions()
    copies = " ".join(args for instruction, args in instructions if instruction == "COPY")
    assert "constraints.txt" in copies
    installs = [args for instruction, args in instructions if instruction == "RUN" and "pip install" in args]
    assert installs, "no pip install"
    for args in installs:
        assert re.search(r"(^|\s)-c\s+constraints\.txt(\s|$)", args), args
    assert (ROOT / "constraints.txt").is_file()


def test_dockerfile_runs_as_non_root() -> None:
    users = [args for instruction, args in _instructions() if instruction == "USER"]
    assert users, "no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user == "65532"


def test_dockerfile_entrypoint_is_shuttle() -> None:
    entrypoints = [args for instruction, args in _instructions() if instruction == "ENTRYPOINT"]
    assert entrypoints == ['["shuttle"]']


def test_dockerfile_bakes_in_no_secrets() -> None:
    """No credential-looking build args or env, no secret mounts, no copied dotenv/key files."""
    for instruction, args in _instructions():
        if instruction in {"ENV", "ARG", "LABEL"}:
            assert not re.search(r"token|secret|password|api[_-]?key", args, re.IGNORECASE), args
        if instruction == "RUN":
            assert "--mount=type=secret" not in args, args
        if instruction in {"COPY", "ADD"}:
            assert not re.search(r"\.env\b|\.pem\b|\.key\b|kubeconfig", args), args


# --- docs -----------------------------------------------------------------------------------
def test_docs_rbac_table_matches_the_spec() -> None:
    """Each table row ``| group | resource | verbs |`` in the doc must match the spec exactly."""
    text = DOC.read_text(encoding="utf-8")
    documented: dict[tuple[str, str], frozenset[str]] = {}
    row = re.compile(r"^\|\s*`?([^|`]*)`?\s*\|\s*`([a-z]+)`\s*\|\s*([a-z, ]+?)\s*\|", re.MULTILINE)
    for group, resource, verbs in row.findall(text):
        group = "" if group.strip() in {"", "core", '""', "(core)"} else group.strip()
        documented[(group, resource)] = frozenset(v.strip() for v in verbs.split(","))
    assert documented == EXPECTED_RULES
    assert TOKEN_SECRET in text
    assert f"`{TOKEN_KEY}`" in text
