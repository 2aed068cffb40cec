"""Every design reference the project cites (§NN, FR-NNN) is explained on docs/design-references.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "design-references.md"
REFERENCE = re.compile(r"§\d+(?:\.\d+)*[A-Z]?(?: #\d+)?|\bFR-\d+")
SOURCES = ("src", "docs", "README.md", "deploy")


def _cited() -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for source in SOURCES:
        root = ROOT / source
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            if path == PAGE or path.suffix not in (".py", ".md", ".json", ".yaml", ".yml", ".sql", ""):
                continue
            for match in REFERENCE.findall(path.read_text(encoding="utf-8", errors="replace")):
                cited.setdefault(match, set()).add(str(path.relative_to(ROOT)))
    return cited


def _explained() -> set[str]:
    return set(REFERENCE.findall(PAGE.read_text(encoding="utf-8")))


def test_every_cited_reference_is_explained() -> None:
    cited = _cited()
    assert cited, "the project cites design references; the scan found none"
    missing = {ref: sorted(paths)[:3] for ref, paths in cited.items() if ref not in _explained()}
    assert not missing, f"cited but not explained on docs/design-references.md: {missing}"


def test_the_scan_sees_a_reference_the_page_lacks() -> None:
    text = "see §99.9 #7 for the details"
    assert REFERENCE.findall(text) == ["§99.9 #7"]
    assert "§99.9 #7" not in _explained()
