"""The Stripe test server's HTTP layer: Stripe's routes, auth, form bodies, idempotency, errors."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from starform_testkit.stripe_testserver.errors import StripeApiError, invalid
from starform_testkit.stripe_testserver.forms import decode_form
from starform_testkit.stripe_testserver.idempotency import IdempotencyStore
from starform_testkit.stripe_testserver.state import StripeState

__all__ = ["build_app"]

Obj = dict[str, Any]
MAX_BODY = 1 << 20
Operation = Callable[[StripeState, Obj, dict[str, str]], Any]


def _page(state: StripeState, items: list[Obj], params: Obj, url: str) -> Obj:
    try:
        limit = min(100, max(1, int(params.get("limit", 10))))
    except ValueError:
        raise invalid("Invalid limit: must be an integer", param="limit") from None
    after = params.get("starting_after")
    if after:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return {
        "object": "list",
        "url": url,
        "has_more": len(items) > limit,
        "data": [state.render(i) for i in items[:limit]],
    }


_POSTS: dict[str, Operation] = {
    "/v1/customers": lambda s, p, _: s.create_customer(p),
    "/v1/customers/{id}": lambda s, p, a: s.update_customer(a["id"], p),
    "/v1/invoices": lambda s, p, _: s.create_invoice(p),
    "/v1/invoices/{id}/finalize": lambda s, _p, a: s.finalize(a["id"]),
    "/v1/invoices/{id}/pay": lambda s, _p, a: s.pay(a["id"]),
    "/v1/invoices/{id}/mark_uncollectible": lambda s, _p, a: s.mark_uncollectible(a["id"]),
    "/v1/invoices/{id}/void": lambda s, _p, a: s.void(a["id"]),
    "/v1/invoiceitems": lambda s, p, _: s.create_item(p),
    "/v1/credit_notes": lambda s, p, _: s.create_credit_note(p),
    "/v1/webhook_endpoints": lambda s, p, _: s.create_endpoint(p),
    "/v1/webhook_endpoints/{id}": lambda s, p, a: s.update_endpoint(a["id"], p),
}

_GETS: dict[str, Callable[[StripeState, Obj, dict[str, str], str], Any]] = {
    "/v1/customers/{id}": lambda s, _p, a, _u: s.customer(a["id"]),
    "/v1/invoices": lambda s, p, _a, u: _page(s, s.list_invoices(p), p, u),
    "/v1/invoices/{id}": lambda s, _p, a, _u: s.invoice(a["id"]),
    "/v1/invoices/{id}/lines": lambda s, p, a, u: _page(s, s.lines(a["id"]), p, u),
    "/v1/credit_notes": lambda s, p, _a, u: _page(s, s.list_credit_notes(p), p, u),
    "/v1/events": lambda s, p, _a, u: _page(s, s.list_events(p), p, u),
}


def _error(exc: StripeApiError, request_id: str) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers={"Request-Id": request_id})


def build_app(state: StripeState, idempotency: IdempotencyStore, api_key: str) -> Starlette:
    """The ASGI app serving ``state`` to clients that present ``api_key``."""
    api = _Api(state=state, idempotency=idempotency, api_key=api_key)
    routes = [Route(t, api.post(op), methods=["POST"]) for t, op in _POSTS.items()]
    routes += [Route(t, api.get(op), methods=["GET"]) for t, op in _GETS.items()]
    return Starlette(routes=routes)


@attrs.frozen
class _Api:
    """The endpoints over one account's state: authentication, idempotent POSTs, GETs."""

    state: StripeState
    idempotency: IdempotencyStore
    api_key: str

    def authenticate(self, request: Request) -> None:
        """Refuse a request without the account's API key (401)."""
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if not hmac.compare_digest(token.encode(), self.api_key.encode()):
            raise StripeApiError(
                401, "invalid_request_error", "Invalid API Key provided: " + token[:8] + "****"
            )

    def post(self, operation: Operation) -> Callable[[Request], Any]:
        """The endpoint running ``operation`` on a form body, once per ``Idempotency-Key``."""

        async def endpoint(request: Request) -> JSONResponse:
            request_id = "req_" + secrets.token_hex(7)
            try:
                self.authenticate(request)
                raw = await request.body()
                if len(raw) > MAX_BODY:
                    raise invalid("Request body too large")
                params = decode_form(raw.decode("utf-8", errors="replace"))
                return self._idempotent(request, params, operation, request_id)
            except StripeApiError as exc:
                return _error(exc, request_id)

        return endpoint

    def _idempotent(
        self, request: Request, params: Obj, operation: Operation, request_id: str
    ) -> JSONResponse:
        key = request.headers.get("idempotency-key")
        if key is not None and len(key) > 255:
            raise invalid("Idempotency-Key must be at most 255 characters.")
        scope = (self.api_key, key or "")
        fingerprint = IdempotencyStore.fingerprint("POST", request.url.path, params)
        if key:
            saved = self.idempotency.begin(scope, fingerprint)
            if saved is not None:
                return JSONResponse(
                    saved.body,
                    status_code=saved.status,
                    headers={"Idempotent-Replayed": "true", "Request-Id": request_id},
                )
        status, body, save = 200, None, True
        try:
            with self.state.lock:
                body = self.state.render(operation(self.state, params, dict(request.path_params)))
        except StripeApiError as exc:
            status, body = exc.status, exc.body()
            save = exc.status == 402  # a decline happened (executed); validation errors are not saved
        finally:
            if key:
                self.idempotency.finish(scope, fingerprint, status, body, save=save)
        return JSONResponse(
            body, status_code=status, headers={"Request-Id": request_id, "Idempotency-Key": key or ""}
        )

    def get(
        self, operation: Callable[[StripeState, Obj, dict[str, str], str], Any]
    ) -> Callable[[Request], Any]:
        """The endpoint reading one object or a page of a list."""

        async def endpoint(request: Request) -> JSONResponse:
            request_id = "req_" + secrets.token_hex(7)
            try:
                self.authenticate(request)
                params = decode_form(request.url.query)
                with self.state.lock:
                    found = operation(self.state, params, dict(request.path_params), request.url.path)
                    body = found if found.get("object") == "list" else self.state.render(found)
                return JSONResponse(body, headers={"Request-Id": request_id})
            except StripeApiError as exc:
                return _error(exc, request_id)

        return endpoint
