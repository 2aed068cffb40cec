"""Parse benchmark: ``parse_payload`` at 2,000 services, the fast path against the reference.

Run: ``.venv/bin/python benchmarks/bench_parse.py [--services 2000] [--repeat 7]``

Two payloads of ``--services`` services: Shuttle's benchmark payload (``bench_shuttle``: nine in
ten public web services with an autoscaler, one in ten workers) and the example payload's seven
services (cron job, volumes, probes, var groups, a paused service) cloned with fresh ids. For each:
``parse_payload`` end to end, and its parts (strict JSON reader, schema validation by the
compiled validator, structuring into the model), then schema validation by the reference
validator alone (what ``parse_payload`` did before the fast path). Medians (and the best) of
``--repeat`` runs, wall clock and CPU.

Correctness, checked before anything is timed (exit status 1 when it fails): on each payload
and on invalid variants of it (one broken value in its last service), the compiled validator's
verdict is the reference's, ``parse_payload`` raises exactly the error the reference alone words
(or returns the same document), and the strict reader's fast path returns what its full walk
does; and every payload of a steady-state series parses, reusing services, to exactly the
document it parses to cold.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rfc8785

from benchmarks.bench_shuttle import synthetic_payload as shuttle_payload
from benchmarks.timing import timed
from starform_core import strict_json
from starform_core.errors import ContractError
from starform_core.payload import contract, example_payload, parse_payload, to_json
from starform_core.payload.codec import from_structure
from starform_core.payload.contract import PAYLOAD_MAX_BYTES, PAYLOAD_MAX_DEPTH
from starform_core.payload.reuse import PayloadReuse
from starform_core.payload.schema_validators import compiled_accepts, reference_validator
from starform_core.strict_json import loads

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TARGET_MS = 200.0


def cloned_example(services: int) -> bytes:
    """The example payload's projects, cloned with fresh ids and hostnames until ``services``, as
    the canonical bytes Starbase serves."""
    data = json.loads(to_json(example_payload()))
    per_copy = sum(len(project["services"]) for project in data["projects"])
    text = json.dumps(data["projects"])
    uuids = sorted(set(_UUID.findall(text)) - {data["cluster"]["cluster_id"]})
    projects: list[Any] = []
    for index in range((services + per_copy - 1) // per_copy):
        copied = text
        for uuid in uuids:
            copied = copied.replace(uuid, f"{index:08x}" + uuid[8:])
        clone = json.loads(copied)
        for project in clone:
            for service in project["services"]:
                service["hostnames"] = [f"c{index}-{host}" for host in service["hostnames"]]
        projects.extend(clone)
    data["projects"] = projects
    return rfc8785.dumps(data)


def _timed(run: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """(median wall, best wall, median CPU) in milliseconds over ``repeat`` runs."""
    timing = timed(run, repeat)
    return timing.median * 1e3, timing.best * 1e3, timing.median_cpu * 1e3


def _outcome(body: bytes) -> Any:
    try:
        return parse_payload(body)
    except ContractError as exc:
        return (type(exc).__name__, exc.pointer, exc.reason)


def _reference_outcome(body: bytes) -> Any:
    """``parse_payload`` as it was before the fast paths: the reference validator, full walk."""
    with (
        mock.patch.object(contract, "compiled_accepts", return_value=False),
        mock.patch.object(strict_json, "_needs_full_check", return_value=True),
    ):
        return _outcome(body)


def _broken(body: bytes) -> list[bytes]:
    """Invalid variants: one value of the last service broken in a way only a rule can tell."""
    variants = []
    for field, value in (("name", "Svc"), ("port", 70000), ("environment", "x\n"), ("cpu_request", "8Ei")):
        data = json.loads(body)
        service = copy.deepcopy(data["projects"][-1]["services"][-1])
        if field == "cpu_request":
            service["resources"]["cpu_request"] = value
        else:
            service[field] = value
        data["projects"][-1]["services"][-1] = service
        variants.append(json.dumps(data).encode())
    return variants


def one_service_changed(body: bytes, count: int) -> list[bytes]:
    """``count`` payloads, each the one before it with one more service's release version raised
    (a deploy), as the canonical bytes Starbase serves."""
    data = json.loads(body)
    services = [s for project in data["projects"] for s in project["services"] if s.get("release")]
    bodies = []
    for index in range(count):
        services[(index * 7919) % len(services)]["release"]["version"] += 1
        data["generation"] += 1
        bodies.append(rfc8785.dumps(data))
    return bodies


REUSE = PayloadReuse()
"""What Shuttle's puller holds: the services of the last payload it parsed."""


def _cold(body: bytes) -> Any:
    return parse_payload(body)


def _steady(body: bytes) -> Any:
    return parse_payload(body, reuse=REUSE)


def check_reuse(body: bytes, series: list[bytes]) -> list[str]:
    """Every payload of ``series`` parsed after the one before it (reusing services) must equal
    its cold parse."""
    problems = []
    _steady(body)
    for changed in series:
        reused = _steady(changed)
        if reused != _cold(changed):
            problems.append("a payload parsed reusing services differs from its cold parse")
    return problems


def check(body: bytes) -> list[str]:
    """Every disagreement between the fast paths and the reference on ``body`` and its variants."""
    problems = []
    for variant in [body, *_broken(body)]:
        data = json.loads(variant)
        if compiled_accepts(data) != reference_validator().is_valid(data):
            problems.append("the compiled validator's verdict differs from the reference's")
        if _outcome(variant) != _reference_outcome(variant):
            problems.append("parse_payload's outcome differs from the reference path's")
    if _outcome(body) != from_structure(json.loads(body)):
        problems.append("the valid payload does not parse to its document")
    return problems


def bench(name: str, body: bytes, repeat: int) -> list[tuple[str, float, float, float]]:
    """The timed rows for one payload."""
    data = loads(body, max_bytes=PAYLOAD_MAX_BYTES, max_depth=PAYLOAD_MAX_DEPTH)
    reference_validator().is_valid(data)  # warm both validators (schema compilation is one-off)
    compiled_accepts(data)
    series = iter(one_service_changed(body, repeat))
    _steady(body)
    steady = _timed(lambda: _steady(next(series)), repeat)
    return [
        (f"{name}: parse_payload, one service changed", *steady),
        ("  parse_payload, cold (nothing reused)", *_timed(lambda: _cold(body), repeat)),
        ("  strict JSON read", *_timed(lambda: loads(body, max_bytes=len(body), max_depth=64), repeat)),
        ("  schema (compiled validator)", *_timed(lambda: compiled_accepts(data), repeat)),
        ("  structuring into the model (nothing reused)", *_timed(lambda: from_structure(data), repeat)),
        ("  schema (reference validator)", *_timed(lambda: reference_validator().is_valid(data), repeat)),
    ]


def main() -> None:
    """Check correctness, then print the table; exit 1 if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    payloads = {
        "shuttle bench payload": to_json(shuttle_payload(args.services)),
        "cloned example payload": cloned_example(args.services),
    }
    failed = False
    for name, body in payloads.items():
        for problem in check(body) + check_reuse(body, one_service_changed(body, 3)):
            print(f"CORRECTNESS FAILURE ({name}): {problem}", file=sys.stderr)
            failed = True
    if failed:
        sys.exit(1)
    print(f"{args.services} services, {args.repeat} runs each; correctness checks passed")
    print(f"{'case':44} {'median ms':>10} {'best ms':>9} {'cpu ms':>8}")
    for name, body in payloads.items():
        rows = bench(f"{name} ({len(body) / 2**20:.1f} MiB)", body, args.repeat)
        for label, median, best, cpu in rows:
            print(f"{label:44} {median:10.1f} {best:9.1f} {cpu:8.1f}")
        for label, row in (("one service changed", rows[0]), ("cold", rows[1])):
            verdict = "met" if row[1] < TARGET_MS else "MISSED"
            print(f"  target < {TARGET_MS:.0f} ms (median), {label}: {verdict}")
        speedup = rows[-1][3] / rows[3][3]
        print(f"  compiled vs reference schema validation (cpu): {speedup:.0f}x faster")


if __name__ == "__main__":
    main()
