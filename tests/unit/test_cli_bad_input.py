"""``starform``: every bad input is one ``invalid:``/``error:`` line and exit 1, never a traceback;
every subcommand has ``-h`` and ``--version`` and lists only its own flags."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from starform_apps.cli import inputs
from starform_apps.cli.main import INTERNAL_ERROR_EXIT, cli, main
from starform_core.payload import example_payload, to_json
from starform_core.render import render

SECRETS = (
    "postgres://shop:example-only@db-prod/shop",
    "sk_test_example_only",
    "postgres://shop@db-staging/shop",
)


@pytest.fixture
def payload_file(tmp_path: Path) -> Path:
    path = tmp_path / "payload.json"
    path.write_bytes(to_json(example_payload()))
    return path


@pytest.fixture
def live_file(tmp_path: Path) -> Path:
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump_all([dict(obj) for obj in render(example_payload()).objects]))
    return path


def _run(*args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def _rejected(result: Result, prefix: str = "") -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(("invalid: ", "error: ")), lines[0]
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


def _payload_commands(path: Path, live: Path) -> list[list[str]]:
    return [
        ["payload", "validate", str(path)],
        ["render", str(path)],
        ["plan", "--payload", str(path), "--live", str(live)],
    ]


BAD_PAYLOADS: list[tuple[str, bytes, str]] = [
    ("deep nesting", b"[" * 100_000, "invalid: /: "),
    ("a 5000-digit integer", b'{"generation": ' + b"9" * 5000 + b"}", "invalid: /generation: "),
    (
        "a 5000-digit major version",
        b'{"apiVersion": "starform.io/v' + b"9" * 5000 + b'"}',
        "invalid: /apiVersion: ",
    ),
    ("a surrogate", b'{"apiVersion": "\\ud800"}', "invalid: /apiVersion: "),
    (
        "a duplicate key",
        b'{"apiVersion":"starform.io/v2","apiVersion":"starform.io/v1"}',
        "invalid: /apiVersion: ",
    ),
    ("NaN", b'{"apiVersion": NaN}', "invalid: /apiVersion: "),
    ("bytes that are not UTF-8", b'{"apiVersion": "\xff\xfe"}', "invalid: /: "),
    ("not JSON", b"{not json", "invalid: /: "),
    ("an array", b"[]", "invalid: /: "),
    ("empty", b"", "invalid: /: "),
]


@pytest.mark.parametrize(
    ("body", "prefix"), [(b, p) for _, b, p in BAD_PAYLOADS], ids=[n for n, _, _ in BAD_PAYLOADS]
)
def test_bad_payloads_never_give_a_traceback(
    tmp_path: Path, live_file: Path, body: bytes, prefix: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(body)
    for command in _payload_commands(path, live_file):
        _rejected(_run(*command), prefix)


def test_a_trailing_newline_in_a_name_is_invalid(tmp_path: Path, live_file: Path) -> None:
    data = json.loads(to_json(example_payload()))
    data["projects"][0]["services"][0]["name"] = "storefront\n"
    path = tmp_path / "newline.json"
    path.write_text(json.dumps(data))
    for command in _payload_commands(path, live_file):
        _rejected(_run(*command), "invalid: /projects/0/services/0/name: ")


def _var_group_shapes() -> list[dict[str, Any]]:
    shapes = []
    data = json.loads(to_json(example_payload()))
    entries = data["projects"][0]["var_groups"][1]["entries"]
    for change in (
        lambda d: d["projects"][0].__setitem__("var_groups", {"entries": entries}),
        lambda d: d["projects"][0]["var_groups"].__setitem__(0, {"entries": entries}),
        lambda d: d["projects"][0]["var_groups"][0].__setitem__("entries", list(entries.items())),
        lambda d: d["projects"][0]["var_groups"][0].__setitem__(
            "entries", {k: [v] for k, v in entries.items()}
        ),
    ):
        copy = json.loads(to_json(example_payload()))
        change(copy)
        shapes.append(copy)
    return shapes


@pytest.mark.parametrize("index", range(4))
def test_wrongly_shaped_var_groups_never_print_a_value(tmp_path: Path, live_file: Path, index: int) -> None:
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(_var_group_shapes()[index]))
    for command in _payload_commands(path, live_file):
        line = _rejected(_run(*command), "invalid: /projects/0/var_groups")
        assert not any(secret in line for secret in SECRETS), line


def test_stdin_is_size_limited(monkeypatch: pytest.MonkeyPatch, payload_file: Path) -> None:
    monkeypatch.setattr(inputs, "INPUT_MAX_BYTES", 1000)
    line = _rejected(_run("payload", "validate", "-", stdin=payload_file.read_bytes()))
    assert line == "error: standard input is larger than 1000 bytes"
    assert "larger than 1000 bytes" in _rejected(_run("render", str(payload_file)))


def test_unreadable_and_missing_files_are_errors(tmp_path: Path, payload_file: Path) -> None:
    assert "cannot read" in _rejected(_run("payload", "validate", str(tmp_path / "nope.json")))
    assert "does not exist" in _rejected(_run("health", "--live", str(tmp_path / "nope")))


LIVE_FILES: list[tuple[str, str, str, str]] = [
    (
        "labels a number",
        "live.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: 1.5}\n",
        "/metadata/labels: ",
    ),
    ("a scalar document", "live.yaml", "42\n", "object 0: /: "),
    ("a List with a string item", "live.yaml", "apiVersion: v1\nkind: List\nitems: [x]\n", "object 0: /: "),
    ("no kind", "live.yaml", "apiVersion: v1\nmetadata: {name: a}\n", "/kind: is required"),
    (
        "replicas a word",
        "live.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: two}\n",
        "/spec/replicas: ",
    ),
    (
        "a duplicate key",
        "live.yaml",
        "apiVersion: v1\nkind: Service\nkind: Pod\nmetadata: {name: a}\n",
        "error: ",
    ),
    ("an alias bomb", "live.yaml", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "error: "),
    ("deep YAML", "live.yaml", "[" * 100_000, "error: "),
    (
        "a 5000-digit YAML integer",
        "live.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: a, generation: " + "9" * 5000 + "}\n",
        "error: ",
    ),
    (
        "a YAML NaN",
        "live.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {x: .nan}\n",
        "/spec/x: ",
    ),
    (
        "a YAML binary",
        "live.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {x: !!binary aGk=}\n",
        "/spec/x: ",
    ),
    (
        "a YAML surrogate",
        "live.yaml",
        'apiVersion: v1\nkind: Service\nmetadata: {name: "a\\ud800"}\n',
        "/metadata/name: ",
    ),
    (
        "a YAML integer key",
        "live.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {1: x}\n",
        "/spec: ",
    ),
    ("broken YAML", "live.yaml", "kind: [unclosed\n", "error: "),
    ("deep JSON", "live.json", "[" * 100_000, "invalid: "),
    ("a 5000-digit JSON integer", "live.json", '{"x": ' + "9" * 5000 + "}", "/x: "),
    ("a JSON surrogate", "live.json", '{"kind": "\\udc00"}', "/kind: "),
    ("a JSON NaN", "live.json", '{"kind": NaN}', "/kind: "),
    ("a JSON duplicate", "live.json", '{"kind": "Pod", "kind": "Service"}', "/kind: duplicate key"),
    ("bad UTF-8", "live.yaml", "kind: \udcff\n", "error: "),
]


@pytest.mark.parametrize(
    ("name", "text", "expected"), [(f, t, e) for _, f, t, e in LIVE_FILES], ids=[n for n, *_ in LIVE_FILES]
)
def test_malformed_live_files_never_give_a_traceback(
    tmp_path: Path, payload_file: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    for command in (
        ["plan", "--payload", str(payload_file), "--live", str(path)],
        ["health", "--live", str(path)],
    ):
        assert expected in _rejected(_run(*command))


def test_a_malformed_object_in_a_directory_is_named_with_its_file(tmp_path: Path, live_file: Path) -> None:
    folder = tmp_path / "cluster"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.yaml").write_text(live_file.read_text())
    (folder / "sub" / "b.yml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: [1]}\n"
    )
    line = _rejected(_run("health", "--live", str(folder)))
    assert line == f"invalid: {folder / 'sub' / 'b.yml'}: Pod p: /status/phase: must be a string"


def test_timestamps_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, creationTimestamp: 2024-01-01T00:00:00Z}\n"
    )
    assert inputs.load_live_objects(str(path))[0]["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"


def test_live_object_count_is_limited(
    monkeypatch: pytest.MonkeyPatch, live_file: Path, payload_file: Path
) -> None:
    monkeypatch.setattr(inputs, "LIVE_MAX_OBJECTS", 3)
    assert "more than 3 objects" in _rejected(_run("health", "--live", str(live_file)))


def test_good_inputs_still_work(payload_file: Path, live_file: Path) -> None:
    assert _run("payload", "validate", str(payload_file)).exit_code == 0
    assert _run("render", str(payload_file)).exit_code == 0
    assert _run("health", "--live", str(live_file)).exit_code == 0
    assert _run("plan", "--payload", str(payload_file), "--live", str(live_file)).exit_code in (0, 2)


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = [(prefix, group)]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # loads the lazily imported subcommands too
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
        else:
            found.append(((*prefix, name), command))
    return found


@pytest.mark.parametrize(
    ("path", "command"), _commands(cli), ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_command_has_help_and_version_and_only_its_own_flags(
    path: tuple[str, ...], command: click.Command
) -> None:
    for flag in ("-h", "--help"):
        result = _run(*path, flag)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("Usage: ")
    version = _run(*path, "--version")
    assert version.exit_code == 0
    assert version.output.startswith("starform, version ")
    listed = {
        opt
        for line in _run(*path, "-h").output.split("Options:", 1)[1].splitlines()
        for opt in line.strip().split(" ")[0].rstrip(",").split("/")
        if opt.startswith("-")
    }
    own = {
        opt.split("=")[0]
        for param in command.params
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("-")
    }
    assert listed - {"-h", "--help"} <= own, listed - own


def test_usage_errors_are_not_tracebacks(payload_file: Path) -> None:
    for args in (
        ["render"],
        ["plan", "--payload", str(payload_file)],
        ["payload", "validate", "--nope", "x"],
        ["nope"],
    ):
        result = _run(*args)
        assert result.exit_code == 2
        assert "Traceback" not in result.output


def test_main_turns_an_unexpected_error_into_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @click.command("boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    cli.add_command(boom)
    try:
        monkeypatch.setattr(sys, "argv", ["starform", "boom"])
        monkeypatch.delenv("STARFORM_TRACEBACK", raising=False)
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == INTERNAL_ERROR_EXIT
        err = capsys.readouterr().err
        assert err.startswith("error: internal error (RuntimeError)")
        assert "secret detail" not in err and "Traceback" not in err
    finally:
        cli.commands.pop("boom")
