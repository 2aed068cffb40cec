"""Stripe's error shape: ``{"error": {"type", "code", "message", "param", "decline_code"}}``."""

from __future__ import annotations

from typing import Any

__all__ = ["StripeApiError"]


class StripeApiError(Exception):
    """An error answer of the Stripe API, with its HTTP status."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code

    def body(self) -> dict[str, Any]:
        """The JSON body Stripe sends."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        for key in ("code", "param", "decline_code"):
            value = getattr(self, key)
            if value is not None:
                error[key] = value
        return {"error": error}


def missing(kind: str, object_id: str) -> StripeApiError:
    """Stripe's answer for an unknown id."""
    return StripeApiError(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
    )


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeApiError:
    """A 400 ``invalid_request_error``."""
    return StripeApiError(400, "invalid_request_error", message, param=param, code=code)
