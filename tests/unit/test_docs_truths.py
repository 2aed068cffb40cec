"""Facts the docs state about the code, checked against the code (issue 13's docs errors: the
migrations Starbase applies, the health values it shows, where each adapter and double lives,
no placeholder repository in the site's configuration)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from starform_core.health.status import ServiceStatus

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MIGRATIONS = ROOT / "src" / "starform_adapters" / "postgres" / "migrations"


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_the_migrate_output_the_docs_show_names_every_migration() -> None:
    (shown,) = re.findall(r"prints `applied \[([\d, ]+)\]`", _page("starbase.md"))
    numbers = sorted(int(path.name[:4]) for path in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    assert [int(n) for n in shown.split(", ")] == numbers


def test_the_health_values_the_docs_list_are_the_ones_shuttle_reports() -> None:
    listed = r"Shuttle reports (`[a-z]+`(?:,\s+`[a-z]+`)*\s+or\s+`[a-z]+`)"
    (sentence,) = re.findall(listed, _page("starbase.md"))
    assert set(re.findall(r"`([a-z]+)`", sentence)) == {status.value.lower() for status in ServiceStatus}


def test_every_adapter_and_double_the_reference_names_is_where_it_says() -> None:
    names = set(
        re.findall(
            r"`(starform_(?:adapters|testkit)(?:\.[a-z_]+)+\.[A-Z]\w+)`", _page("reference/adapters.md")
        )
    )
    assert len(names) > 10, names
    missing = []
    for dotted in sorted(names):
        module, _, attribute = dotted.rpartition(".")
        if not hasattr(importlib.import_module(module), attribute):
            missing.append(dotted)
    assert missing == []


def test_the_site_names_no_placeholder_repository() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for line in config.splitlines():
        if line.startswith(("repo_url:", "repo_name:", "edit_uri:")):
            assert not re.search(r"example|your[-_]|placeholder|TODO", line, re.IGNORECASE), line
