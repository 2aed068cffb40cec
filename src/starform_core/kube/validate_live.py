"""Up-front shape checks of live Kubernetes objects, before the planner and health read them.

Live objects come from the API server (Shuttle) or from files (``starform plan --live``). The
planner and the health assessment read them as the API serves them; a hand-edited or truncated
file (``metadata.labels: 1.5``, a ``status.replicas`` of ``"two"``, a list where an object
belongs) must be refused here, naming the object and the JSON pointer, rather than crash there.

The rules cover every field those readers touch: identity and metadata (labels, annotations,
owner references, managed fields with their FieldsV1 trees), ``status.observedGeneration`` and
conditions, and per kind the replica counts, container states, phases, load-balancer ingress,
route parents and Secret data, and anywhere in the object the merge keys of associative lists
(:data:`MERGE_KEYS`). Fields they do not read are left alone; the whole object must be
plain JSON (no ``NaN``, string keys, at most :data:`LIVE_MAX_DEPTH` levels deep).

Every rule is checked in one walk of the object: the rules are compiled, per kind, into a tree of
paths (:class:`_Rules`) followed alongside the walk, which also checks plain JSON, the merge keys
and the managed-fields trees. Only an object that fails is looked at again, rule by rule, to name
its first problem exactly as the rules are listed (the pointer and reason callers see).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from typing import Any, Final, TypeAlias

from starform_core.errors import ContractError, LiveObjectError
from starform_core.kube.associative_lists import ASSOCIATIVE_KEYS
from starform_core.kube.objects import KubeObject
from starform_core.strict_json import check_tree, loads, node_problem, pointer_of

__all__ = [
    "LIVE_MAX_DEPTH",
    "MERGE_KEYS",
    "explain_live_object",
    "live_object_passes",
    "validate_live_object",
    "validate_live_objects",
]

LIVE_MAX_DEPTH: Final = 100
"""The deepest nesting a live object may have (real objects, managed fields included, stay far
below)."""

Check: TypeAlias = Callable[[Any], str | None]
"""A rule on one value: ``None`` when it holds, else the reason."""

Path: TypeAlias = tuple[str, ...]
"""Keys from the object's root; ``*`` stands for every item of a list or value of a mapping."""


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _name(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def _string_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string"


def _count(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "must be a non-negative integer"
    return None


def _bool_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else "must be true or false"


def _object_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, Mapping) else "must be an object"


def _list_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, list) else "must be a list"


def _objects(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        return "must be a list of objects"
    return None


def _string_map(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        return "must be an object of strings"
    return None


def _fields_key(key: str) -> str | None:
    """The reason a FieldsV1 key is malformed, or ``None``."""
    prefix, body = key[:2], key[2:]
    if key == "." or prefix == "f:":
        return None
    if prefix == "i:":
        return None if body.isdigit() and len(body) <= 9 else "an i: key needs a list index"
    if prefix not in ("k:", "v:"):
        return "FieldsV1 keys start with f:, k:, v:, i: or are '.'"
    try:
        parsed = loads(body, max_bytes=len(body) + 1, max_depth=LIVE_MAX_DEPTH)
    except ContractError:
        return f"a {prefix} key must carry JSON"
    if prefix == "k:" and not isinstance(parsed, dict):
        return "a k: key must carry a JSON object of merge keys"
    return None


def _fields_v1(value: Any) -> str | None:
    """A managed-fields tree: objects all the way down, every key well-formed."""
    if value is None:
        return None
    stack = [value]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            return "must be a FieldsV1 tree (objects all the way down)"
        for key, child in node.items():
            reason = _fields_key(key)
            if reason is not None:
                return reason
            stack.append(child)
    return None


_CONDITIONS: Final[tuple[tuple[Path, Check], ...]] = (
    (("*",), _objects),
    *((("*", "*", name), _string) for name in ("type", "status", "reason", "message")),
)
"""Rules for a ``conditions`` list, relative to it (``("*",)`` checks the list itself)."""

_COMMON: Final[tuple[tuple[Path, Check], ...]] = (
    (("apiVersion",), _name),
    (("kind",), _name),
    (("metadata",), lambda v: None if isinstance(v, Mapping) else "must be an object"),
    (("metadata", "name"), _name),
    (("metadata", "namespace"), _string_or_null),
    (("metadata", "labels"), _string_map),
    (("metadata", "annotations"), _string_map),
    (("metadata", "generation"), _count),
    (("metadata", "uid"), _string),
    (("metadata", "resourceVersion"), _string),
    (("metadata", "creationTimestamp"), _string_or_null),
    (("metadata", "deletionTimestamp"), _string_or_null),
    (("metadata", "ownerReferences"), _objects),
    (("metadata", "ownerReferences", "*", "controller"), _bool_or_null),
    *(
        (("metadata", "ownerReferences", "*", name), _string)
        for name in ("apiVersion", "kind", "name", "uid")
    ),
    (("metadata", "managedFields"), _objects),
    *(
        (("metadata", "managedFields", "*", name), _string)
        for name in ("manager", "operation", "apiVersion", "fieldsType")
    ),
    (("metadata", "managedFields", "*", "time"), _string_or_null),
    (("metadata", "managedFields", "*", "subresource"), _string_or_null),
    (("metadata", "managedFields", "*", "fieldsV1"), _fields_v1),
    (("spec",), _object_or_null),
    (("status",), _object_or_null),
    (("status", "observedGeneration"), _count),
    *((("status", "conditions", *path[1:]), check) for path, check in _CONDITIONS),
)
"""Rules for every kind: what :func:`key_of`, ownership, drift, pruning and health read."""

_REQUIRED: Final = frozenset({("apiVersion",), ("kind",), ("metadata",), ("metadata", "name")})
"""What every object has: its identity."""

_REPLICAS: Final = (
    (("spec", "replicas"), _count),
    *(
        (("status", name), _count)
        for name in ("replicas", "readyReplicas", "updatedReplicas", "availableReplicas")
    ),
)
_CONTAINER_STATES: Final = tuple(
    rule
    for group in ("initContainerStatuses", "containerStatuses")
    for rule in (
        (("status", group), _objects),
        (("status", group, "*", "name"), _string),
        (("status", group, "*", "state"), _object_or_null),
        (("status", group, "*", "state", "waiting"), _object_or_null),
        (("status", group, "*", "state", "waiting", "reason"), _string_or_null),
    )
)
_BY_KIND: Final[Mapping[str, tuple[tuple[Path, Check], ...]]] = {
    "Deployment": _REPLICAS,
    "StatefulSet": _REPLICAS,
    "ReplicaSet": _REPLICAS,
    "CronJob": ((("spec", "suspend"), _bool_or_null), (("status", "lastScheduleTime"), _string_or_null)),
    "Pod": (*_CONTAINER_STATES, (("status", "phase"), _string_or_null)),
    "PersistentVolumeClaim": ((("status", "phase"), _string_or_null),),
    "Service": (
        (("spec", "type"), _string_or_null),
        (("status", "loadBalancer"), _object_or_null),
        (("status", "loadBalancer", "ingress"), _list_or_null),
    ),
    "HTTPRoute": (
        (("status", "parents"), _objects),
        *((("status", "parents", "*", "conditions", *path[1:]), check) for path, check in _CONDITIONS),
    ),
    "Secret": ((("data",), _string_map), (("stringData",), _string_map)),
}
"""Rules per kind: the fields the health assessment and the Secret comparison read."""


def _values(obj: Any, path: Path) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every ``(concrete path, value)`` that ``path`` names in ``obj`` (absent fields: none)."""
    found: list[tuple[tuple[str | int, ...], Any]] = [((), obj)]
    for segment in path:
        step: list[tuple[tuple[str | int, ...], Any]] = []
        for where, node in found:
            if segment == "*":
                if isinstance(node, list):
                    step.extend(((*where, index), item) for index, item in enumerate(node))
                elif isinstance(node, Mapping):
                    step.extend(((*where, key), item) for key, item in node.items())
            elif isinstance(node, Mapping) and segment in node:
                step.append(((*where, segment), node[segment]))
        found = step
    yield from found


MERGE_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    **ASSOCIATIVE_KEYS,
    "ports": ("containerPort", "port", "protocol"),
}
"""The associative lists the planner matches by merge key, and their keys: live items are
matched to desired ones by these values, wherever such a list appears in an object."""

_SCALAR: Final = (str, int, float, bool, type(None))


def _merge_key_problem(obj: Any) -> tuple[tuple[str | int, ...], str] | None:
    """A merge-key value (``ports[0].port``, ``containers[1].name``) that is not a plain value."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(obj, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, Mapping):
            for key, child in node.items():
                if key in MERGE_KEYS and isinstance(child, list):
                    for index, item in enumerate(child):
                        if not isinstance(item, Mapping):
                            continue
                        for name in MERGE_KEYS[key]:
                            if name in item and not isinstance(item[name], _SCALAR):
                                return (*path, key, index, name), "a merge key must be a string or a number"
                stack.append((child, (*path, key)))
        elif isinstance(node, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(node))
    return None


def _describe(obj: Any, index: int | None) -> str:
    """``Deployment shop/web`` when the object says so, else its position."""
    position = f"object {index}" if index is not None else "object"
    if not isinstance(obj, Mapping):
        return position
    kind, metadata = obj.get("kind"), obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    if not (isinstance(kind, str) and kind and isinstance(name, str) and name):
        return position
    where = f"{namespace}/" if isinstance(namespace, str) and namespace else ""
    return f"{kind} {where}{name}"


class _Rules:
    """The rules that apply at one path of an object, and those of the paths below it (``*``:
    every item of a list or value of a mapping); ``fields_v1`` marks a managed-fields tree."""

    __slots__ = ("checks", "children", "fields_v1", "star")

    def __init__(self) -> None:
        self.checks: tuple[Check, ...] = ()
        self.children: dict[str, _Rules] = {}
        self.star: _Rules | None = None
        self.fields_v1 = False

    def at(self, segment: str) -> _Rules:
        if segment == "*":
            self.star = self.star or _Rules()
            return self.star
        return self.children.setdefault(segment, _Rules())


@cache
def _compiled(kind: str) -> _Rules:
    """The rules of ``kind``, as a tree of paths (built once per kind)."""
    root = _Rules()
    for path, check in _COMMON + _BY_KIND.get(kind, ()):
        node = root
        for segment in path:
            node = node.at(segment)
        if check is _fields_v1:
            node.fields_v1 = True
        else:
            node.checks = (*node.checks, check)
    return root


_NONE: Final[tuple[_Rules, ...]] = ()


def _below(rules: tuple[_Rules, ...], key: str | None) -> tuple[_Rules, ...]:
    """The rules of a child: by its key (``None``: a list item) and by ``*``."""
    found: list[_Rules] = []
    for node in rules:
        if key is not None and (child := node.children.get(key)) is not None:
            found.append(child)
        if node.star is not None:
            found.append(node.star)
    return tuple(found)


def _merge_keys_hold(key: str, value: Any) -> bool:
    """Whether the merge keys of an associative list under ``key`` (one of :data:`MERGE_KEYS`)
    are plain values."""
    if not isinstance(value, list):
        return True
    names = MERGE_KEYS[key]
    return all(
        not isinstance(item, Mapping)
        or all(name not in item or isinstance(item[name], _SCALAR) for name in names)
        for item in value
    )


def _is_plain_json(node: Any, depth: int) -> bool:
    """``node`` itself is plain JSON (:func:`~starform_core.strict_json.node_problem`),
    the common cases (ASCII text, dicts with ASCII keys, lists, booleans, null) decided at once."""
    kind = type(node)
    if kind is str:
        return node.isascii() or node_problem(node, depth, LIVE_MAX_DEPTH) is None
    if kind is dict:
        if depth <= LIVE_MAX_DEPTH and all(type(key) is str and key.isascii() for key in node):
            return True
    elif kind is list:
        return depth <= LIVE_MAX_DEPTH
    elif kind is bool or node is None:
        return True
    return node_problem(node, depth, LIVE_MAX_DEPTH) is None


def _holds(node: Any, depth: int, rules: tuple[_Rules, ...], in_fields: bool) -> bool:
    """Whether ``node`` and everything below it keep every rule (the one walk)."""
    if not _is_plain_json(node, depth):
        return False
    for at in rules:
        for check in at.checks:
            if check(node) is not None:
                return False
        if at.fields_v1:
            if node is not None and not isinstance(node, dict):
                return False
            in_fields = True
    if isinstance(node, dict):
        for key, child in node.items():
            if in_fields and (_fields_key(key) is not None or not isinstance(child, dict)):
                return False
            if key in MERGE_KEYS and not _merge_keys_hold(key, child):
                return False
            below = _below(rules, key) if rules else _NONE
            if below or in_fields or isinstance(child, dict | list):
                if not _holds(child, depth + 1, below, in_fields):
                    return False
            elif not _is_plain_json(child, depth + 1):
                return False
    elif isinstance(node, list):
        below = _below(rules, None) if rules else _NONE
        for item in node:
            if below or in_fields or isinstance(item, dict | list):
                if not _holds(item, depth + 1, below, in_fields):
                    return False
            elif not _is_plain_json(item, depth + 1):
                return False
    return True


def live_object_passes(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` keeps every rule, decided in one walk (no error built)."""
    metadata = obj.get("metadata")
    if (
        "apiVersion" not in obj
        or "kind" not in obj
        or not isinstance(metadata, Mapping)
        or "name" not in metadata
    ):
        return False
    return _holds(obj, 1, (_compiled(str(obj.get("kind"))),), False)


def explain_live_object(obj: Mapping[str, Any], *, index: int | None = None) -> LiveObjectError | None:
    """The error naming ``obj``'s first problem, the rules taken one by one in their listed order
    (``None`` when it has none): the reference the one walk is held to, and the wording of its
    refusals."""
    try:
        check_tree(obj, max_depth=LIVE_MAX_DEPTH)
    except ContractError as exc:
        return LiveObjectError(_describe(obj, index), exc.pointer, exc.reason)
    rules = _COMMON + _BY_KIND.get(str(obj.get("kind")), ())
    for path, check in rules:
        values = list(_values(obj, path))
        if not values and path in _REQUIRED:
            return LiveObjectError(_describe(obj, index), pointer_of(path), "is required")
        for where, value in values:
            reason = check(value)
            if reason is not None:
                return LiveObjectError(_describe(obj, index), pointer_of(where), reason)
    problem = _merge_key_problem(obj)
    if problem is not None:
        return LiveObjectError(_describe(obj, index), pointer_of(problem[0]), problem[1])
    return None


def validate_live_object(obj: object, *, index: int | None = None) -> KubeObject:
    """Check one live object's shape; return it unchanged when it holds.

    Raises :class:`LiveObjectError` naming the object (``index`` is its position in a list, used
    when it has no usable kind and name), the JSON pointer and the reason.
    """
    if not isinstance(obj, Mapping):
        raise LiveObjectError(_describe(obj, index), "", "must be a Kubernetes object (a JSON object)")
    if not live_object_passes(obj):
        error = explain_live_object(obj, index=index)
        if error is None:  # pragma: no cover - the differential test holds the two to agree
            raise AssertionError("the one walk refused an object every rule accepts")
        raise error
    return obj


def validate_live_objects(objects: Iterable[object]) -> list[KubeObject]:
    """Check every live object (see :func:`validate_live_object`); return them as a list."""
    return [validate_live_object(obj, index=index) for index, obj in enumerate(objects)]
