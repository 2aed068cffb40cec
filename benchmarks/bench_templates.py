"""Templates in the core: reading a template, instantiating a change, judging a spec change.

Run: ``.venv/bin/python benchmarks/bench_templates.py [--runs 2000]``

Prints the median time per call, over ``--runs`` calls, for the shipped Minecraft template:
``template_from_json`` (what every stored version costs when it is read back: the rules are
checked again, their compiled validator is cached), ``instantiate`` with a change inside the
rules, ``instantiate`` refused by a rule, and ``judge_change`` (what the Adopt flow asks).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import attrs

from starform_apps.starbase.template_files import shipped_templates
from starform_core.errors import TemplateRuleError
from starform_core.templates import instantiate, judge_change, template_from_json, template_to_json


def _median_us(run: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def _refused(run: Callable[[], object]) -> Callable[[], None]:
    def call() -> None:
        try:
            run()
        except TemplateRuleError:
            return
        raise AssertionError("the change should have been refused")

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    runs = parser.parse_args().runs
    template = next(t for t in shipped_templates() if t.name == "minecraft-server")
    document = template_to_json(template)
    inside = {"resources": {"memory_limit": "4Gi"}, "volumes": {"data": {"size": "20Gi"}}}
    outside = {"resources": {"memory_limit": "32Gi"}}
    spec = instantiate(template, inside)
    moved = attrs.evolve(spec, replicas=0)
    assert judge_change(template, spec, moved).within_rules
    cases: list[tuple[str, Callable[[], object]]] = [
        ("template_from_json (read back)", lambda: template_from_json(document)),
        ("instantiate, inside the rules", lambda: instantiate(template, inside)),
        ("instantiate, refused by a rule", _refused(lambda: instantiate(template, outside))),
        ("judge_change", lambda: judge_change(template, spec, moved)),
    ]
    for label, run in cases:
        print(f"{label:34} {_median_us(run, runs):8.0f} us")


if __name__ == "__main__":
    main()
