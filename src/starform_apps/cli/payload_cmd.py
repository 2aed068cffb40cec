"""``starform payload``: the §25.1 contract from the command line (schema, example, validate)."""

from __future__ import annotations

import json

import click

from starform_apps.cli.inputs import read_input, read_payload
from starform_core.payload.codec import etag_of, to_json
from starform_core.payload.contract import payload_schema
from starform_core.payload.example import example_payload

__all__ = ["payload", "read_payload_file"]


def read_payload_file(path: str) -> bytes:
    """The bytes of a payload file (``-`` for standard input), size-limited, with a CLI error
    when it cannot be read (see :func:`starform_apps.cli.inputs.read_input`)."""
    return read_input(path)


@click.group()
def payload() -> None:
    """The desired-state payload contract (§25.1)."""


@payload.command()
def schema() -> None:
    """Print the payload's JSON Schema (draft 2020-12)."""
    click.echo(json.dumps(payload_schema(), indent=2))


@payload.command()
@click.option("--canonical", is_flag=True, help="Print the canonical bytes Starbase serves.")
def example(*, canonical: bool) -> None:
    """Print a complete, realistic payload that uses every feature of the contract."""
    body = to_json(example_payload())
    click.echo(body.decode() if canonical else json.dumps(json.loads(body), indent=2))


@payload.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def validate(file: str) -> None:
    """Validate FILE (- for stdin) against the contract: exit 0 when valid, 1 with the pointer and
    reason (``invalid: <pointer>: <reason>``) or an ``error: ...`` when it cannot be read."""
    document = read_payload(file)
    services = sum(1 for _ in document.services())
    click.echo(
        f"valid: {document.api_version} generation {document.generation}, "
        f"{len(document.projects)} projects, {services} services, etag {etag_of(to_json(document))}"
    )
