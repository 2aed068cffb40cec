"""Errors of the test server: :class:`ApiError` carries a Kubernetes ``Status`` answer."""

from __future__ import annotations

from typing import Any

from starform_core.errors import StarformError

from ._json import Obj

__all__ = ["ApiError", "KubeTestServerError"]


class KubeTestServerError(StarformError):
    """Root of the errors raised by the Kubernetes test server and its handle."""


_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class ApiError(KubeTestServerError):
    """A request failed; :meth:`status` renders the ``Status`` object the server answers with."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: Obj | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = _REASONS.get(code, "Unknown") if reason is None else reason
        self.details = details

    def status(self) -> Obj:
        """Return the ``meta/v1 Status`` body for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        }
        if self.reason:  # kube-apiserver leaves it out for an untyped internal error
            body["reason"] = self.reason
        if self.details is not None:
            # Go omits an empty group (the core group) from StatusDetails
            body["details"] = {k: v for k, v in self.details.items() if not (k == "group" and v == "")}
        return body

    @classmethod
    def not_found(cls, resource: str, name: str, *, group: str = "") -> ApiError:
        """``404 NotFound`` for ``resource``/``name`` (``resource`` like ``deployments.apps``)."""
        plural = resource.split(".", 1)[0]
        return cls(
            404,
            f'{resource} "{name}" not found',
            details={"name": name, "group": group, "kind": plural},
        )

    @classmethod
    def no_such_resource(cls) -> ApiError:
        """``404`` for a URL that names no served resource (empty ``details``, as Go sends it)."""
        return cls(404, "the server could not find the requested resource", details={})

    @classmethod
    def already_exists(cls, resource: str, name: str, *, group: str = "") -> ApiError:
        """``409 AlreadyExists`` for a create of an existing name."""
        plural = resource.split(".", 1)[0]
        return cls(
            409,
            f'{resource} "{name}" already exists',
            reason="AlreadyExists",
            details={"name": name, "group": group, "kind": plural},
        )

    @classmethod
    def conflict(cls, resource: str, name: str, *, group: str = "") -> ApiError:
        """``409 Conflict`` for a stale ``resourceVersion`` precondition."""
        plural = resource.split(".", 1)[0]
        return cls(
            409,
            f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            details={"name": name, "group": group, "kind": plural},
        )

    @classmethod
    def precondition_failed(
        cls, kind: str, name: str, *, group: str, field: str, wanted: str, actual: str
    ) -> ApiError:
        """``409 Conflict`` for a delete whose ``uid`` or ``resourceVersion`` precondition fails
        (kube-apiserver's wording: the kind, not the resource, names the object)."""
        label = f"{kind}.{group}" if group else kind
        hint = "deleted and then recreated" if field == "UID" else "modified"
        return cls(
            409,
            f'Operation cannot be fulfilled on {label} "{name}": the {field} in the precondition '
            f"({wanted}) does not match the {field} in record ({actual}). The object might have been {hint}",
            details={"name": name, "group": group, "kind": kind},
        )

    @classmethod
    def invalid(
        cls,
        kind: str,
        resource: str,
        name: str,
        causes: list[tuple[str, str]],
        *,
        group: str = "",
    ) -> ApiError:
        """``422 Invalid``; ``causes`` are ``(field, message)`` pairs naming the bad fields."""
        text = ", ".join(f"{field}: {message}" for field, message in causes)
        label = f"{kind}.{group}" if group else kind
        return cls(
            422,
            f'{label} "{name}" is invalid: {text}',
            details={
                "name": name,
                "group": group,
                "kind": kind,
                "causes": [
                    {"reason": "FieldValueInvalid", "message": message, "field": field}
                    for field, message in causes
                ],
            },
        )
