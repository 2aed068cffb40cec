"""StateDir: atomic writes, 0600 payload, survives a reload, tolerates damage."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from starform_apps.shuttle.state import LastGood, StateDir

BODY = b'{"apiVersion":"starform.io/v1","secret":"sk_live_not_real"}'


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_directory_holds_nothing(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    assert state.path == tmp_path / "state"
    assert _mode(state.path) == 0o700
    assert state.load_last_good() is None
    assert state.load_applied_generation() is None


def test_last_good_and_applied_generation_survive_a_reload(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.save_last_good(LastGood(body=BODY, etag="abc123"))
    state.save_applied_generation(41)
    state.save_applied_generation(42)
    again = StateDir(tmp_path / "state")
    assert again.load_last_good() == LastGood(body=BODY, etag="abc123")
    assert again.load_applied_generation() == 42


def test_the_payload_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        state = StateDir(tmp_path / "state")
        state.save_last_good(LastGood(body=BODY, etag="e"))
        state.save_applied_generation(1)
    finally:
        os.umask(old)
    for name in ("payload.json", "payload.meta.json", "applied.json"):
        assert _mode(state.path / name) == 0o600, name


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    for generation in range(5):
        state.save_last_good(LastGood(body=BODY + str(generation).encode(), etag=str(generation)))
        state.save_applied_generation(generation)
    assert sorted(p.name for p in state.path.iterdir()) == [
        "applied.json",
        "payload.json",
        "payload.meta.json",
    ]


def test_a_failed_write_keeps_the_previous_payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = StateDir(tmp_path / "state")
    state.save_last_good(LastGood(body=BODY, etag="old"))

    def crash(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        state.save_last_good(LastGood(body=b"{}", etag="new"))
    monkeypatch.undo()
    assert StateDir(tmp_path / "state").load_last_good() == LastGood(body=BODY, etag="old")
    assert sorted(p.name for p in state.path.iterdir()) == ["payload.json", "payload.meta.json"]


@pytest.mark.parametrize("content", ["", "not json", '{"generation": "42"}', "[]"])
def test_a_damaged_applied_file_reads_as_unknown(tmp_path: Path, content: str) -> None:
    state = StateDir(tmp_path / "state")
    (state.path / "applied.json").write_text(content)
    assert state.load_applied_generation() is None


def test_a_payload_without_its_metadata_reads_as_absent(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.save_last_good(LastGood(body=BODY, etag="e"))
    (state.path / "payload.meta.json").unlink()
    assert state.load_last_good() is None


@pytest.mark.parametrize("content", ["[]", '"etag"', "null"])
def test_damaged_payload_metadata_reads_as_absent(tmp_path: Path, content: str) -> None:
    state = StateDir(tmp_path / "state")
    state.save_last_good(LastGood(body=BODY, etag="e"))
    (state.path / "payload.meta.json").write_text(content)
    assert state.load_last_good() is None
