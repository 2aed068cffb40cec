"""``python -m tests.usage.harness``: the real Shuttle (``shuttle run``'s wiring) on a simulated clock.

The clock is a file the test writes (an ISO 8601 time): every reading of "now" in this process,
the usage windows' included, reads it, so the test moves time for Shuttle as it does for the
Kubernetes test server, and can SIGKILL this process mid-way. The adapters are the real ones
(the Kubernetes watch, Starbase's HTTP client); the ops server answers ``/metrics``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import threading
from pathlib import Path

from starform_apps.shuttle import ShuttleConfig, bootstrap, connect
from starform_apps.shuttle.logs import configure_logging
from starform_apps.shuttle.metrics import ShuttleMetrics


class FileClock:
    """The time written in a file (re-read at every call)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.path.read_text().strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--starbase-url", "--cluster-id", "--kubeconfig", "--state-dir", "--clock-file"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    args = parser.parse_args()
    configure_logging("info")
    config = ShuttleConfig(
        starbase_url=args.starbase_url,
        cluster_id=args.cluster_id,
        token=os.environ["SHUTTLE_TOKEN"],
        state_dir=Path(args.state_dir),
        kubeconfig=args.kubeconfig,
        interval=1.0,
        metrics_host="127.0.0.1",
        metrics_port=args.metrics_port,
        usage_interval=60.0,
    )
    stop, wake = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), wake.set()))
    metrics = ShuttleMetrics()
    cluster, client = connect(config, metrics, wake=wake)
    agent = bootstrap(
        config,
        cluster=cluster,
        source=client,
        metrics=metrics,
        wake=wake,
        stop=stop,
        now=FileClock(Path(args.clock_file)),
        pods=cluster,
        claims=cluster,
        usage_sink=client,
    )
    agent.closers.append(client.close)
    agent.start(sync_timeout=30)
    try:
        agent.loop.run()
    finally:
        agent.stop(grace_seconds=10)


if __name__ == "__main__":
    main()
