"""The ``starbase`` command: serve, migrate, register clusters, create users and tokens.

Without ``DATABASE_URL`` every command uses the embedded PostgreSQL in ``--data-dir`` (and a
generated ``encryption.key`` there, mode 0600). With ``DATABASE_URL``, ``ENCRYPTION_KEY`` is
required.
"""

from __future__ import annotations

import pathlib
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import click

from starform_adapters.postgres import PostgresStore, migrate, open_pool
from starform_apps.starbase.config import DEFAULT_DATA_DIR, StarbaseConfig
from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.server import (
    ServerThread,
    embedded_database,
    load_cipher,
    open_starbase,
)
from starform_apps.starbase.tokens import AGENT_PREFIX, USER_PREFIX, hash_token, new_token
from starform_core.errors import StarformError, StoreConflictError, StoreNotFoundError
from starform_core.payload.rows import ClusterRow
from starform_core.ports.store import Actor, UserRecord

__all__ = ["main"]

_data_dir = click.option(
    "--data-dir",
    type=click.Path(path_type=pathlib.Path),
    default=None,
    help=f"Embedded PostgreSQL and key location (default {DEFAULT_DATA_DIR}; ignored with DATABASE_URL).",
)


@contextmanager
def _database(config: StarbaseConfig) -> Iterator[tuple[str, pathlib.Path | None]]:
    if config.database_url:
        yield config.database_url, None
        return
    data_dir = config.data_dir.expanduser().resolve()
    with embedded_database(data_dir) as url:
        yield url, data_dir


@contextmanager
def _store(data_dir: pathlib.Path | None) -> Iterator[PostgresStore]:
    config = StarbaseConfig.from_env(data_dir=data_dir)
    with _database(config) as (url, key_dir):
        cipher = load_cipher(config, generate_in=key_dir)
        migrate(url)
        pool = open_pool(url, max_size=2)
        try:
            yield PostgresStore(pool, cipher)
        finally:
            pool.close()


@click.group()
def main() -> None:
    """Starbase: Starform's control plane."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@_data_dir
def serve(host: str, port: int, data_dir: pathlib.Path | None) -> None:
    """Migrate and serve the HTTP API until interrupted."""
    config = StarbaseConfig.from_env(host=host, port=port, data_dir=data_dir)
    configure_logging(config.log_level)
    try:
        with _database(config) as (url, key_dir):
            cipher = load_cipher(config, generate_in=key_dir)
            with open_starbase(
                url,
                cipher,
                pool_max_size=config.pool_max_size,
                payload_cache_bytes=config.payload_cache_mb * 1024 * 1024,
            ) as starbase:
                server = ServerThread(starbase.app, host=config.host, port=config.port)
                base = server.start()
                click.echo(f"starbase listening on {base}", err=True)
                try:
                    server.wait()
                except KeyboardInterrupt:
                    pass
                finally:
                    server.stop()
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("migrate")
@_data_dir
def migrate_command(data_dir: pathlib.Path | None) -> None:
    """Apply pending schema migrations."""
    config = StarbaseConfig.from_env(data_dir=data_dir)
    try:
        with _database(config) as (url, _):
            applied = migrate(url)
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"applied {applied}" if applied else "schema is up to date")


@main.group()
def cluster() -> None:
    """Manage clusters."""


@cluster.command("register")
@click.option("--name", required=True)
@click.option("--region", required=True)
@click.option("--gateway", required=True, help="The Gateway as NAMESPACE/NAME.")
@click.option("--gateway-section", default=None)
@click.option("--storage-class", default="do-block-storage", show_default=True)
@click.option("--lb-service", default=None, help="Load-balancer Service as NAMESPACE/NAME.")
@click.option("--lb-size-unit", default=None, type=int)
@click.option(
    "--egress-allow",
    "egress_allow",
    multiple=True,
    help="A private network (CIDR) every pod may reach, e.g. the managed databases' VPC; repeatable.",
)
@click.option(
    "--metrics-namespace", default=None, help="Namespace of the metrics agent allowed to scrape pods."
)
@_data_dir
def register(
    name: str,
    region: str,
    gateway: str,
    gateway_section: str | None,
    storage_class: str,
    lb_service: str | None,
    lb_size_unit: int | None,
    egress_allow: tuple[str, ...],
    metrics_namespace: str | None,
    data_dir: pathlib.Path | None,
) -> None:
    """Register a cluster; prints its id and agent token (shown only once)."""
    gw_ns, _, gw_name = gateway.partition("/")
    if not gw_ns or not gw_name:
        raise click.BadParameter("use NAMESPACE/NAME", param_hint="--gateway")
    lb_ns = lb_name = None
    if lb_service:
        lb_ns, _, lb_name = lb_service.partition("/")
        if not lb_ns or not lb_name:
            raise click.BadParameter("use NAMESPACE/NAME", param_hint="--lb-service")
        if lb_size_unit is None:
            raise click.BadParameter("needs --lb-size-unit", param_hint="--lb-service")
    token = new_token(AGENT_PREFIX)
    row = ClusterRow(
        cluster_id=str(uuid.uuid4()),
        name=name,
        region=region,
        generation=1,
        gateway_namespace=gw_ns,
        gateway_name=gw_name,
        gateway_section_name=gateway_section,
        storage_class=storage_class,
        lb_target_api_version="v1" if lb_service else None,
        lb_target_kind="Service" if lb_service else None,
        lb_target_namespace=lb_ns,
        lb_target_name=lb_name,
        lb_size_unit=lb_size_unit,
        egress_allow=egress_allow,
        metrics_namespace=metrics_namespace,
    )
    try:
        with _store(data_dir) as store:
            store.register_cluster(row, agent_token_hash=hash_token(token), actor=Actor("cli"))
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"cluster_id: {row.cluster_id}")
    click.echo(f"agent_token: {token}")


@cluster.command("new-epoch")
@click.argument("cluster_ids", nargs=-1)
@click.option("--all", "all_clusters", is_flag=True, help="Every registered cluster (after a restore).")
@_data_dir
def new_epoch(cluster_ids: tuple[str, ...], all_clusters: bool, data_dir: pathlib.Path | None) -> None:
    """Start a new epoch of each cluster's history, after restoring the database.

    Agents then accept the restored desired state, whose generation is lower than what they
    applied, and apply it from scratch; a payload of an older epoch stays refused.
    """
    if bool(cluster_ids) == all_clusters:
        raise click.UsageError("name the clusters (their ids) or pass --all")
    try:
        with _store(data_dir) as store:
            ids = [c.cluster_id for c in store.list_clusters()] if all_clusters else list(cluster_ids)
            for cluster_id in ids:
                epoch = store.new_epoch(cluster_id, actor=Actor("cli"))
                click.echo(f"{cluster_id} epoch {epoch}")
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def user() -> None:
    """Manage users."""


def _ensure_user(store: PostgresStore, email: str, name: str, operator: bool) -> UserRecord:
    try:
        return store.get_user(email=email)
    except StoreNotFoundError:
        return store.create_user(
            UserRecord(user_id=str(uuid.uuid4()), email=email, name=name, is_operator=operator)
        )


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--operator", is_flag=True, help="May register and configure clusters.")
@_data_dir
def create_user(email: str, name: str, operator: bool, data_dir: pathlib.Path | None) -> None:
    """Create a user."""
    try:
        with _store(data_dir) as store:
            created = store.create_user(
                UserRecord(user_id=str(uuid.uuid4()), email=email, name=name, is_operator=operator)
            )
    except StoreConflictError as exc:
        raise click.ClickException("a user with this email already exists") from exc
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user_id: {created.user_id}")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--user", "email", required=True, help="The user's email (created if needed).")
@click.option("--name", default="cli")
@click.option("--operator", is_flag=True, help="When creating the user: make it an operator.")
@_data_dir
def create_token(email: str, name: str, operator: bool, data_dir: pathlib.Path | None) -> None:
    """Create an API token for a user; prints it once."""
    secret = new_token(USER_PREFIX)
    try:
        with _store(data_dir) as store:
            owner = _ensure_user(store, email, "", operator)
            store.create_api_token(owner.user_id, hash_token(secret), name=name)
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(secret)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
