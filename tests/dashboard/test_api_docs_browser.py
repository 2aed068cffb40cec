"""Swagger UI renders Starbase's operations in a real headless chromium, loading every file from
Starbase itself (no CDN: ``/docs`` works on a machine without internet access)."""

from __future__ import annotations

from selenium.webdriver.remote.webdriver import WebDriver
from tests.dashboard.browser import wait_for

from starform_testkit.starbase import RunningStarbase

_OPERATION = "/v1/projects/{project_id}/services"
"""A path the API serves, which the page lists once it has rendered."""


def _fetched(browser: WebDriver) -> list[str]:
    """Every URL the page has loaded (scripts, stylesheets, images, the OpenAPI document)."""
    names: list[str] = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return names


def test_swagger_ui_renders_the_operations_from_local_files(
    browser: WebDriver, starbase: RunningStarbase
) -> None:
    browser.get(f"{starbase.base_url}/docs")
    paths = wait_for(
        browser,
        lambda d: [e.text for e in d.find_elements("css selector", ".opblock-summary-path")],
    )
    assert _OPERATION in {p.replace("\u200b", "") for p in paths}
    assert browser.find_elements("css selector", ".opblock-summary-method")
    fetched = _fetched(browser)
    assert any(url.endswith("/openapi.json") for url in fetched)
    assert all(url.startswith(starbase.base_url) for url in fetched), fetched
