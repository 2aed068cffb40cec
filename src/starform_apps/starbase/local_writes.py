"""Read-your-writes for the agent views: a write answered by this process is seen at once here.

Notifications reach this process's listener a few milliseconds after a commit; a client that
writes, then reads the desired state from the same process must not see the older version in
between. So when a write request (any method but GET, HEAD, OPTIONS) is answered, before its
status line leaves, the agent views forget what it may have changed: the one cluster of an
agent's own report, or everything for a person's write (rare next to agent polls). A usage
snapshot writes billing's tables only and forgets nothing (so each agent's snapshot a minute
keeps every view cached). Other processes see a write when its notification arrives.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starform_apps.starbase.agent_views import AgentViews

__all__ = ["LocalWritesMiddleware"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_AGENT_WRITE = re.compile(r"^/v1/clusters/([0-9a-fA-F-]{36})/(?:status|events)$")
_BILLING_ONLY = re.compile(r"^/v1/clusters/[^/]+/usage-snapshots$")
"""Writes that touch billing's tables only, nothing an agent view holds: they forget nothing."""


class LocalWritesMiddleware:
    """Invalidates the app's agent views as each write request of this process is answered."""

    def __init__(self, app: ASGIApp, views: AgentViews) -> None:
        self.app = app
        self.views = views

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method", "GET") in _READS
            or _BILLING_ONLY.match(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        agent = _AGENT_WRITE.match(scope.get("path", ""))

        async def forget_first(message: Message) -> None:
            if message["type"] == "http.response.start":
                if agent is not None:
                    self.views.changed(agent[1].lower())
                else:
                    self.views.forget_all()
            await send(message)

        await self.app(scope, receive, forget_first)
