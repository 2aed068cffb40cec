"""Backoff (exponential, capped, jittered, Retry-After) and the ShuttleLoop driving a fake reconciler."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import cast

import pytest

from starform_apps.shuttle.executor import ActionOutcome, Execution
from starform_apps.shuttle.loop import Backoff, ShuttleLoop
from starform_apps.shuttle.pull import Pulled, PullOutcome
from starform_apps.shuttle.reconciler import Reconciler, ReconcileResult
from starform_core.kube.objects import ObjectKey
from starform_core.plan import Create, Plan, Reason
from starform_core.reporting import ActionResult, assess_apply

DEADLINE = 10.0


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` (set by another thread) until it holds, failing after a deadline."""
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


# Backoff -------------------------------------------------------------------------------------------
def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=20.0, rng=lambda: 1.0)
    assert [backoff.failure() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert backoff.failures == 7


def test_backoff_jitter_stays_within_half_and_full_ceiling() -> None:
    assert Backoff(base=8.0, rng=lambda: 0.0).failure() == 4.0
    rng = random.Random(1234)
    backoff = Backoff(base=0.5, cap=60.0, rng=rng.random)
    delays = []
    for failure in range(1, 200):
        ceiling = min(60.0, 0.5 * 2 ** (failure - 1))
        delay = backoff.failure()
        assert ceiling / 2 <= delay <= ceiling, (failure, delay)
        delays.append(delay)
    assert len(set(delays[-50:])) > 40, "capped delays must still be jittered"


def test_backoff_success_resets_the_exponent() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=lambda: 1.0)
    for _ in range(5):
        backoff.failure()
    backoff.success()
    assert backoff.failures == 0
    assert backoff.failure() == 1.0


def test_backoff_honours_retry_after_when_it_is_longer() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=lambda: 1.0)
    assert backoff.failure(retry_after=42.0) == 42.0
    assert backoff.failure(retry_after=0.5) == 2.0, "a shorter hint does not shorten the backoff"
    assert backoff.failure(retry_after=None) == 4.0


def test_backoff_exponent_does_not_overflow_after_many_failures() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=lambda: 1.0)
    for _ in range(5000):
        delay = backoff.failure()
    assert delay == 300.0


# ShuttleLoop ---------------------------------------------------------------------------------------
def _result(*, source_ok: bool = True, execution: Execution | None = None) -> ReconcileResult:
    """A result as the reconciler returns it: the outcome follows from ``execution``."""
    actions = tuple(o.action for o in execution.outcomes) if execution else ()
    report = assess_apply(
        Plan(actions=actions),
        [o.record for o in execution.outcomes] if execution else [],
        epoch=1,
        generation=1,
    )
    pulled = Pulled(PullOutcome.UNCHANGED if source_ok else PullOutcome.UNREACHABLE)
    return ReconcileResult(pulled, None, None, execution, report, 1, 0.0)


class FakeReconciler:
    """Answers :meth:`reconcile` from a script: results to return or exceptions to raise."""

    def __init__(self, script: list[ReconcileResult | Exception] | None = None) -> None:
        self._script = list(script or [])
        self._lock = threading.Lock()
        self.calls = 0
        self.pulls: list[Pulled | None] = []
        self.recovered_before: list[int] = []

    def recover(self) -> None:
        """Note how many reconciles ran before the crash's intents were settled."""
        self.recovered_before.append(self.calls)

    def reconcile(self, pulled: Pulled | None = None) -> ReconcileResult:
        with self._lock:
            self.calls += 1
            self.pulls.append(pulled)
            step = self._script.pop(0) if self._script else _result()
        if isinstance(step, Exception):
            raise step
        return step

    def count(self) -> int:
        with self._lock:
            return self.calls


class RecordingBackoff(Backoff):
    """A backoff that returns no delay and records what it was told."""

    def __init__(self) -> None:
        super().__init__(rng=lambda: 0.0)
        self.hints: list[float | None] = []
        self.successes = 0

    def failure(self, *, retry_after: float | None = None) -> float:
        super().failure(retry_after=retry_after)
        self.hints.append(retry_after)
        return 0.0

    def success(self) -> None:
        super().success()
        self.successes += 1


class Running:
    """A loop running in a thread; stopped (and joined) by the test."""

    def __init__(self, loop: ShuttleLoop) -> None:
        self.loop = loop
        self.thread = threading.Thread(target=loop.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.loop.stop()
        self.thread.join(timeout=DEADLINE)
        assert not self.thread.is_alive(), "run() did not return after stop()"


def _loop(reconciler: FakeReconciler, **kwargs: object) -> ShuttleLoop:
    return ShuttleLoop(cast(Reconciler, reconciler), **kwargs)  # type: ignore[arg-type]


def test_run_once_counts_ticks_and_reports_the_result() -> None:
    seen: list[ReconcileResult] = []
    expected = _result()
    loop = _loop(FakeReconciler([expected]), on_result=seen.append)
    assert loop.run_once() is expected
    assert loop.ticks == 1
    assert seen == [expected]


def test_trigger_wakes_the_loop_before_its_interval() -> None:
    reconciler = FakeReconciler()
    running = Running(_loop(reconciler, interval=3600.0, debounce=0.0))
    try:
        wait_until(lambda: reconciler.count() == 1, "the first reconcile")
        running.loop.trigger()
        wait_until(lambda: reconciler.count() == 2, "a reconcile after trigger()")
        running.loop.trigger("MODIFIED", object())  # the watch listener's signature
        wait_until(lambda: reconciler.count() == 3, "a reconcile after a watch event")
    finally:
        running.stop()
    assert running.loop.ticks == 3
    assert reconciler.recovered_before == [0], "a crash's intents are settled once, before any reconcile"


def test_stop_ends_run_while_it_waits_out_a_long_interval() -> None:
    reconciler = FakeReconciler()
    running = Running(_loop(reconciler, interval=3600.0))
    wait_until(lambda: reconciler.count() == 1, "the first reconcile")
    running.stop()
    assert running.loop.stopping
    assert reconciler.count() == 1


def test_stop_during_the_debounce_does_not_reconcile_again() -> None:
    reconciler = FakeReconciler()
    running = Running(_loop(reconciler, interval=3600.0, debounce=3600.0))
    wait_until(lambda: reconciler.count() == 1, "the first reconcile")
    running.loop.trigger()  # the loop now sits in the hour-long debounce
    running.stop()
    assert reconciler.count() == 1


def test_a_crashing_recovery_does_not_kill_the_loop() -> None:
    reconciler = FakeReconciler()
    crashes: list[int] = []

    def recover() -> None:
        raise RuntimeError("a bug while settling intents")

    reconciler.recover = recover  # type: ignore[method-assign]
    running = Running(_loop(reconciler, interval=3600.0, on_crash=lambda: crashes.append(1)))
    try:
        wait_until(lambda: reconciler.count() == 1, "the first reconcile, after the crash")
    finally:
        running.stop()
    assert crashes == [1]


def test_a_crashing_reconcile_does_not_kill_the_loop() -> None:
    backoff = RecordingBackoff()
    reconciler = FakeReconciler([RuntimeError("a bug"), KeyError("another bug"), _result()])
    running = Running(_loop(reconciler, interval=3600.0, backoff=backoff))
    try:
        wait_until(lambda: reconciler.count() == 3, "reconciles after two crashes")
        assert running.thread.is_alive()
        wait_until(lambda: backoff.successes == 1, "the success after the crashes")
    finally:
        running.stop()
    assert backoff.hints == [None, None]
    assert backoff.failures == 0, "the success reset the backoff"


def test_failed_reconciles_back_off_with_the_api_servers_retry_after() -> None:
    key = ObjectKey(group="apps", kind="Deployment", namespace="ns", name="web")
    action = Create(key=key, reason=Reason.MISSING, body={"apiVersion": "apps/v1", "kind": "Deployment"})
    throttled = Execution(
        outcomes=(
            ActionOutcome(
                action=action, result=ActionResult.FAILED, error="429", status=429, retry_after=0.05
            ),
        )
    )
    backoff = RecordingBackoff()
    reconciler = FakeReconciler([_result(source_ok=False), _result(execution=throttled), _result()])
    running = Running(_loop(reconciler, interval=3600.0, backoff=backoff))
    try:
        wait_until(lambda: backoff.successes == 1, "the third, successful reconcile")
    finally:
        running.stop()
    assert backoff.hints == [None, 0.05]


@pytest.mark.parametrize("interval", [0.0, 0.001])
def test_a_short_interval_keeps_reconciling_until_stopped(interval: float) -> None:
    reconciler = FakeReconciler()
    running = Running(_loop(reconciler, interval=interval))
    try:
        wait_until(lambda: reconciler.count() >= 5, "five reconciles")
    finally:
        running.stop()
    calls = reconciler.count()
    assert running.loop.ticks == calls


class FakeChannel:
    """What the loop reads of the pull channel: a pull waiting (``urgent`` while it is news)."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.answered.set()
        self.running = True
        self.pending: Pulled | None = None
        self.started = 0

    def start(self) -> None:
        self.started += 1

    @property
    def urgent(self) -> bool:
        return self.pending is not None

    def take(self) -> Pulled:
        pending, self.pending = self.pending, None
        return pending or Pulled(PullOutcome.UNCHANGED, long_polled=True)


def test_news_from_starbase_cuts_the_watch_debounce_short_and_is_handed_to_the_reconcile() -> None:
    reconciler = FakeReconciler()
    channel = FakeChannel()
    wake = threading.Event()
    loop = ShuttleLoop(
        cast(Reconciler, reconciler),
        interval=3600.0,
        debounce=3600.0,
        wake=wake,
        channel=channel,  # type: ignore[arg-type]
    )
    running = Running(loop)
    try:
        wait_until(lambda: reconciler.count() == 1, "the first reconcile")
        assert channel.started == 1, "the loop starts the channel"
        loop.trigger()  # a watch event: the loop sits in the hour-long debounce
        wait_until(lambda: not wake.is_set(), "the debounce under way")
        news = Pulled(PullOutcome.NEW, reconcile_requests=("r1",), long_polled=True)
        channel.pending = news
        wake.set()  # what the channel does on an answer with news
        wait_until(lambda: reconciler.count() == 2, "a reconcile at once")
        assert reconciler.pulls[-1] is news
    finally:
        running.stop()
