"""Stardeck-lite: the dashboard Starbase serves at ``/ui`` (server-rendered, a little script).

:func:`install_dashboard` adds the pages, the static files (served by Starbase itself: no CDN)
and the bridge through which the page calls the API with the session's token.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from starform_apps.starbase.dashboard.api_bridge import DashboardApiBridge
from starform_apps.starbase.dashboard.pages import router

__all__ = ["DashboardApiBridge", "install_dashboard"]


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard on ``app`` (add :class:`DashboardApiBridge` as the outermost middleware)."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=Path(__file__).parent / "static"), name="dashboard-static")

    @app.get("/ui", include_in_schema=False)
    def _ui() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=308)
