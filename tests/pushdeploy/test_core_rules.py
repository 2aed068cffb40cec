"""The pure rules of push to deploy: the §16.12 state machine (a property test over random walks),
webhook signatures (constant-time, secret never echoed), push and installation payloads."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starform_core.build import TRANSITIONS, BuildPhase, BuildState, check_transition, state_of_phase
from starform_core.errors import BuildTransitionError, WebhookPayloadError, WebhookSignatureError
from starform_core.gitpush import (
    InstallationAction,
    check_delivery_id,
    parse_installation,
    parse_push,
    sign_body,
    verify_signature,
)
from starform_core.secrets_values import SecretValue

TERMINAL = {BuildState.LIVE, BuildState.FAILED, BuildState.CANCELLED, BuildState.TIMED_OUT}
_ORDER = [BuildState.QUEUED, BuildState.BUILDING, BuildState.PUSHING, BuildState.DEPLOYING, BuildState.LIVE]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(BuildState)), max_size=30))
def test_a_random_walk_obeys_the_state_machine(targets: list[BuildState]) -> None:
    state = BuildState.QUEUED
    for target in targets:
        legal = target in TRANSITIONS[state]
        if state in TERMINAL:
            assert not legal, f"{state} is terminal"
        backwards = target in _ORDER and state in _ORDER and _ORDER.index(target) < _ORDER.index(state)
        if legal and backwards:
            assert target is BuildState.QUEUED and state in (BuildState.BUILDING, BuildState.PUSHING), (
                state,
                target,
            )
        if state is BuildState.DEPLOYING:
            assert legal == (target in (BuildState.LIVE, BuildState.FAILED)), (
                "a stored deployment cannot be cancelled"
            )
        if legal:
            state = check_transition(state, target)
        else:
            with pytest.raises(BuildTransitionError, match=f"from {state.value} to {target.value}"):
                check_transition(state, target)
    assert state.terminal == (state in TERMINAL)


def test_every_state_reaches_an_end_and_live_needs_a_deployment() -> None:
    for state in BuildState:
        seen, frontier = {state}, [state]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & TERMINAL, state
    assert [s for s in BuildState if BuildState.LIVE in TRANSITIONS[s]] == [BuildState.DEPLOYING]


def test_the_build_services_phases_map_onto_the_pipeline() -> None:
    assert state_of_phase(BuildPhase.SUCCEEDED) is None
    assert {state_of_phase(p) for p in BuildPhase} - {None} == {
        BuildState.QUEUED,
        BuildState.BUILDING,
        BuildState.PUSHING,
        BuildState.FAILED,
        BuildState.CANCELLED,
        BuildState.TIMED_OUT,
    }


SECRET = SecretValue("It's a Secret to Everybody")
BODY = b"Hello, World!"


def test_the_signature_matches_githubs_documented_example() -> None:
    # docs.github.com: "Validating webhook deliveries", the test values.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign_body(SECRET, BODY) == expected
    verify_signature((SECRET,), BODY, expected)
    verify_signature((SecretValue("old"), SECRET), BODY, expected.upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "no X-Hub-Signature-256"),
        ("", "not of the form"),
        ("sha1=" + "0" * 40, "not of the form"),
        ("sha256=" + "0" * 63, "not of the form"),
        ("sha256=" + "0" * 64, "does not match"),
    ],
)
def test_bad_signatures_are_refused_without_echoing_anything(header: str | None, reason: str) -> None:
    with pytest.raises(WebhookSignatureError, match=reason) as raised:
        verify_signature((SECRET,), BODY, header)
    expected = hmac.new(SECRET.reveal().encode(), BODY, hashlib.sha256).hexdigest()
    assert SECRET.reveal() not in str(raised.value) and expected not in str(raised.value)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=256), st.binary(min_size=1, max_size=8))
def test_any_change_to_the_body_breaks_the_signature(body: bytes, suffix: bytes) -> None:
    signature = sign_body(SECRET, body)
    verify_signature((SECRET,), body, signature)
    with pytest.raises(WebhookSignatureError):
        verify_signature((SECRET,), body + suffix, signature)


def _push(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "ref": "refs/heads/feature/x",
        "after": "a" * 40,
        "repository": {"full_name": "Acme/Web.site"},
        "installation": {"id": 42},
        "head_commit": {"message": "Fix it\n\nlong body"},
    }
    payload.update(changes)
    return payload


def test_a_push_payload_is_read() -> None:
    push = parse_push(_push())
    assert (push.installation_id, push.repository, push.branch, push.commit_sha, push.message) == (
        42,
        "Acme/Web.site",
        "feature/x",
        "a" * 40,
        "Fix it",
    )
    assert push.buildable
    assert not parse_push(_push(ref="refs/tags/v1")).buildable
    assert not parse_push(_push(after="0" * 40)).buildable


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"installation": None}, "installation"),
        ({"installation": {"id": True}}, "installation.id"),
        ({"installation": {"id": 0}}, "installation.id"),
        ({"repository": {"full_name": "a/b/c"}}, "repository.full_name"),
        ({"ref": "refs/heads/" + "b" * 256}, "ref"),
        ({"after": "A" * 40}, "after"),
    ],
)
def test_a_malformed_push_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(WebhookPayloadError) as raised:
        parse_push(_push(**changes))
    assert raised.value.field == field


def test_installation_events_and_delivery_ids() -> None:
    event = parse_installation({"action": "suspend", "installation": {"id": 7, "account": {"login": "acme"}}})
    assert event is not None and event.action is InstallationAction.SUSPEND
    assert parse_installation({"action": "new_permissions_accepted", "installation": {"id": 7}}) is None
    assert check_delivery_id("72d3162e-cc78-11e3-81ab-4c9367dc0958") == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    for bad in (None, "", "x" * 65, "a b", "ü"):
        with pytest.raises(WebhookPayloadError):
            check_delivery_id(bad)
