"""The interactive API docs (``/docs``) load nothing from outside Starbase.

Swagger UI comes from a CDN by default, so it is blank on a machine without internet access;
Starbase serves its files itself. Every URL the page references is checked: local, and served
with the right content type. ReDoc (whose bundle fetches its logo from a CDN) is not served.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from starform_apps.starbase.app import DOCS_ASSETS_PATH

_CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}


class _References(HTMLParser):
    """Every ``src`` and ``href`` of a page, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def _references(client: httpx.Client, page: str) -> _References:
    response = client.get(page)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    found = _References()
    found.feed(response.text)
    return found


def _suffix(url: str) -> str:
    match = re.search(r"\.[a-z]+$", url)
    assert match is not None, url
    return match.group(0)


def test_the_docs_page_references_only_local_assets_served_with_their_types(client: httpx.Client) -> None:
    page = "/docs"
    found = _references(client, page)
    assert found.urls, "the page references no asset"
    for url in found.urls:
        assert url.startswith(f"{DOCS_ASSETS_PATH}/"), f"{page} references {url}, not a local asset"
        asset = client.get(url)
        assert asset.status_code == 200, url
        content_type = asset.headers["content-type"].split(";")[0]
        assert content_type in _CONTENT_TYPES[_suffix(url)], (url, content_type)
        assert len(asset.content) > 1000, url
    for script in found.scripts:
        assert not re.search(r"https?://", script), f"{page}'s inline script names a foreign URL"


def test_swagger_ui_reads_the_local_openapi_document_and_asks_no_validator(client: httpx.Client) -> None:
    [script] = _references(client, "/docs").scripts
    assert "url: '/openapi.json'" in script
    assert '"validatorUrl": null' in script
    assert client.get("/openapi.json").json()["info"]["title"] == "Starbase"


def test_the_bundled_swagger_ui_is_version_5_which_renders_openapi_3_1(client: httpx.Client) -> None:
    bundle = client.get(f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js").text
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert "SwaggerUIBundle" in bundle
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', bundle)
    assert version is not None, "the bundle names no Swagger UI version"
    assert int(version.group(1)) >= 5, "Swagger UI 4 and older render no OpenAPI 3.1 document"


def test_redoc_is_not_served(client: httpx.Client) -> None:
    assert client.get("/redoc").status_code == 404
