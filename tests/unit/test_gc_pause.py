"""The collector pause around payload parsing: off inside, as it was afterwards, whatever happens."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from starform_core.errors import ContractError
from starform_core.gc_pause import collection_paused
from starform_core.payload import example_payload, parse_payload, to_json


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    gc.enable()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_collector_is_back_on_after_an_exception() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_parse_payload_leaves_the_collector_on_after_success_and_failure() -> None:
    gc.enable()
    body = to_json(example_payload())
    assert parse_payload(body) == example_payload()
    assert gc.isenabled()
    with pytest.raises(ContractError):
        parse_payload(body.replace(b'"starform.io/v1"', b'"starform.io/v1", "kind": 1', 1))
    assert gc.isenabled()
