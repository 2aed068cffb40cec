"""A build worker in a process of its own (for the test that kills one mid-build).

``python -m tests.pushdeploy.worker_process DATABASE_URL REGISTRY_HOST BUILD_URL LEASE_SECONDS``
with the build service's token in ``BUILD_SERVICE_TOKEN``; prints ``ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import sys

from tests.pushdeploy.queue import job_app

from starform_adapters.build import HttpBuildService
from starform_adapters.postgres import PostgresStore, VarCipher, open_pool
from starform_adapters.registry import DistributionRegistry, RegistrySession
from starform_apps.starbase.deploy.runner import RunnerConfig
from starform_apps.starbase.deploy.tasks import NAMESPACE, BuildWorker, ProcrastinateBuildJobs
from starform_core.secrets_values import SecretValue


async def main(database_url: str, registry_host: str, build_url: str, lease_seconds: float) -> None:
    """Run one worker until killed."""
    store = PostgresStore(
        open_pool(database_url, max_size=4), VarCipher.from_base64(base64.b64encode(os.urandom(32)).decode())
    )
    session = RegistrySession(endpoints={registry_host: f"http://{registry_host}"})
    app = job_app(database_url)
    async with app.open_async():
        worker = BuildWorker(
            builds=store,
            git=store,
            service=HttpBuildService(build_url, SecretValue(os.environ["BUILD_SERVICE_TOKEN"])),
            registry=DistributionRegistry(session),
            config=RunnerConfig(
                registry=registry_host, lease=dt.timedelta(seconds=lease_seconds), poll_seconds=0.05
            ),
            jobs=ProcrastinateBuildJobs(app),
        )
        print("ready", flush=True)
        await app.run_worker_async(
            concurrency=1,
            name="worker-process",
            additional_context={NAMESPACE: worker},
            install_signal_handlers=False,
            fetch_job_polling_interval=0.1,
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
