"""The ``starbase`` command: serve, migrate, clusters, users, tokens, the template catalogue and
billing (``starbase billing ...``, ``starbase worker``: :mod:`~starform_apps.starbase.cli_billing`).

Without ``DATABASE_URL`` every command uses the embedded PostgreSQL in ``--data-dir`` (and a
generated ``encryption.key`` there, mode 0600), reusing the server ``starbase serve`` runs there.
With ``DATABASE_URL``, ``ENCRYPTION_KEY`` is required. User errors print ``error: ...`` and exit
1 (2 for a usage error), never a traceback. The web framework is imported by ``serve`` only, so
the other commands start quickly.
"""

from __future__ import annotations

import json
import pathlib
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any, TypeVar

import click

from starform_adapters.postgres import PostgresStore, migrate, open_pool
from starform_apps.signals import stop_signals
from starform_apps.starbase import cli_billing
from starform_apps.starbase.config import DEFAULT_DATA_DIR, StarbaseConfig, parse_address
from starform_apps.starbase.embedded import embedded_database, load_cipher
from starform_apps.starbase.template_files import (
    TEMPLATE_FILE_MAX_BYTES,
    ShippedResult,
    publish_shipped,
    read_template,
    shipped_templates,
)
from starform_apps.starbase.tokens import (
    AGENT_PREFIX,
    USER_PREFIX,
    hash_token,
    mint_user_token,
    new_token,
    token_state,
)
from starform_core.access import Actor, ProjectRole, UserRecord
from starform_core.errors import StarformError, StoreConflictError, StoreNotFoundError
from starform_core.payload.rows import ClusterRow
from starform_core.ports import UserStore
from starform_core.ports.tokens import ApiTokenInfo, NewApiToken, TokenScope
from starform_core.templates import template_to_json

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
_CONTEXT = {"help_option_names": ["-h", "--help"]}
_CLI = Actor(label="cli")


def _version() -> str:
    try:
        return metadata.version("starform")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _versioned(command: F) -> F:
    """``--version`` on a command (every ``starbase`` command has it)."""
    return click.version_option(_version(), "--version", prog_name="starbase")(command)


_data_dir = click.option(
    "--data-dir",
    type=click.Path(path_type=pathlib.Path, file_okay=False),
    default=None,
    help=f"Embedded PostgreSQL and key location (default {DEFAULT_DATA_DIR}; ignored with DATABASE_URL).",
)


def _progress(line: str) -> None:
    click.echo(f"starbase: {line}", err=True)


def _config(**overrides: object) -> StarbaseConfig:
    try:
        return StarbaseConfig.from_env(None, **overrides)
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def _database(config: StarbaseConfig, *, quiet: bool = False) -> Iterator[tuple[str, pathlib.Path | None]]:
    if config.database_url:
        yield config.database_url, None
        return
    data_dir = config.data_dir.expanduser().resolve()
    progress = (lambda _line: None) if quiet else _progress
    with embedded_database(data_dir, progress=progress) as url:
        yield url, data_dir


@contextmanager
def _store(data_dir: pathlib.Path | None) -> Iterator[PostgresStore]:
    config = _config(data_dir=data_dir)
    with _database(config, quiet=True) as (url, key_dir):
        cipher = load_cipher(config, generate_in=key_dir)
        migrate(url)
        pool = open_pool(url, min_size=1, max_size=2)
        try:
            yield PostgresStore(pool, cipher)
        finally:
            pool.close()


class _Group(click.Group):
    """Turns the project's errors into ``error: ...`` and exit 1, for every subcommand."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StarformError as exc:
            raise click.ClickException(str(exc)) from exc


@_versioned
@click.group(cls=_Group, context_settings=_CONTEXT)
def main() -> None:
    """Starbase: Starform's control plane."""


def _serve_workers(config: StarbaseConfig) -> None:
    """``--workers N``: migrate and publish here, then let uvicorn's supervisor run the workers."""
    from starform_apps.starbase.logs import configure_logging
    from starform_apps.starbase.server import bind_socket
    from starform_apps.starbase.workers import serve_workers

    configure_logging(config.log_level)
    with ExitStack() as stack:
        api_socket = bind_socket(config.host, config.port)
        stack.callback(api_socket.close)
        metrics_socket = None
        if config.metrics_address is not None:
            metrics_socket = bind_socket(*config.metrics_address)
            stack.callback(metrics_socket.close)
        url, key_dir = stack.enter_context(_database(config))
        cipher = load_cipher(config, generate_in=key_dir)
        _progress("applying migrations")
        migrate(url)
        pool = open_pool(url, min_size=1, max_size=2)
        try:
            publish_shipped(PostgresStore(pool, cipher), actor=Actor(label="starbase"))
        finally:
            pool.close()
        host, port = api_socket.getsockname()[:2]
        _progress(f"listening on http://{host}:{port} with {config.workers} workers")
        serve_workers(
            config,
            database_url=url,
            key_dir=key_dir,
            sock=api_socket,
            metrics_sock=metrics_socket,
            progress=_progress,
        )
        _progress("stopping: workers stopped, stopping the database")
    _progress("stopped")


def _serve_until_stopped(config: StarbaseConfig, stop: threading.Event) -> None:
    from starform_adapters.ratelimit import LimitsRateLimiter
    from starform_apps.starbase.billing import BillingConfig
    from starform_apps.starbase.deploy.config import DeployConfig
    from starform_apps.starbase.deploy.wiring import open_registry
    from starform_apps.starbase.logs import configure_logging
    from starform_apps.starbase.metrics_app import create_metrics_app
    from starform_apps.starbase.server import ServerThread, bind_socket, open_starbase

    configure_logging(config.log_level)
    limiter = LimitsRateLimiter(config.rate_limit_storage)
    deploy = DeployConfig.from_env()
    billing = BillingConfig.from_env()
    with ExitStack() as stack:
        api_socket = bind_socket(
            config.host, config.port
        )  # a busy port is reported before the database starts
        stack.callback(api_socket.close)
        metrics_socket = None
        if config.metrics_address is not None:
            metrics_socket = bind_socket(*config.metrics_address)
            stack.callback(metrics_socket.close)
        url, key_dir = stack.enter_context(_database(config))
        cipher = load_cipher(config, generate_in=key_dir)
        _progress("applying migrations")
        starbase = stack.enter_context(
            open_starbase(
                url,
                cipher,
                pool_max_size=config.pool_max_size,
                payload_cache_bytes=config.payload_cache_mb * 1024 * 1024,
                observed_stale_after=config.observed_stale_after,
                rate_limiter=limiter,
                rate_limits=config.rate_limits,
                metrics_token=config.metrics_token,
                registry=open_registry(deploy),
                billing=billing,
            )
        )
        if metrics_socket is not None:
            metrics_host = config.metrics_address[0] if config.metrics_address else "127.0.0.1"
            metrics_server = ServerThread(
                create_metrics_app(starbase.metrics.render), host=metrics_host, sock=metrics_socket
            )
            _progress(f"metrics on {metrics_server.start()}/metrics")
            stack.callback(metrics_server.stop)
        publish_shipped(starbase.store, actor=Actor(label="starbase"))
        server = ServerThread(starbase.app, host=config.host, sock=api_socket, on_stop=starbase.streams.close)
        _progress(f"listening on {server.start()}")
        stack.callback(server.stop)
        server.wait(stop)
        _progress("stopping: finishing requests, closing the pool, stopping the database")
    _progress("stopped")


@_versioned
@main.command(context_settings=_CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--metrics-address",
    default=None,
    help=(
        "Serve /metrics (without a token; with --workers, every worker's together) on a separate"
        " HOST:PORT, e.g. 127.0.0.1:9464."
    ),
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes sharing the port (default STARBASE_WORKERS, else 1).",
)
@_data_dir
def serve(
    host: str, port: int, metrics_address: str | None, workers: int | None, data_dir: pathlib.Path | None
) -> None:
    """Migrate and serve the HTTP API until SIGTERM or Ctrl-C."""
    try:
        address = None if metrics_address is None else parse_address("--metrics-address", metrics_address)
    except StarformError as exc:
        raise click.BadParameter(str(exc), param_hint="--metrics-address") from exc
    config = _config(host=host, port=port, data_dir=data_dir, metrics_address=address, workers=workers)
    if config.workers > 1:
        _serve_workers(config)
        return
    with stop_signals(on_signal=lambda name: _progress(f"{name} received: stopping")) as stop:
        _serve_until_stopped(config, stop)


@_versioned
@main.command("migrate", context_settings=_CONTEXT)
@_data_dir
def migrate_command(data_dir: pathlib.Path | None) -> None:
    """Apply pending schema migrations (and the job queue's schema)."""
    from starform_adapters.postgres.job_schema import migrate_job_queue

    config = _config(data_dir=data_dir)
    with _database(config) as (url, key_dir):
        applied = migrate(url)
        queue = migrate_job_queue(url)
        click.echo(f"applied {applied}" if applied else "schema is up to date")
        if queue:
            click.echo(f"job queue: applied {', '.join(queue)}")
        if config.database_url and not config.encryption_key:
            click.echo("templates: not published (ENCRYPTION_KEY is not set; serve publishes them)", err=True)
            return
        pool = open_pool(url, min_size=1, max_size=2)
        try:
            store = PostgresStore(pool, load_cipher(config, generate_in=key_dir))
            _echo_shipped(publish_shipped(store, actor=_CLI))
        finally:
            pool.close()


def _echo_shipped(results: list[ShippedResult]) -> None:
    published = [f"{r.name} v{r.version}" for r in results if r.result == "published"]
    click.echo(f"templates: published {', '.join(published)}" if published else "templates: up to date")
    for r in results:
        if r.result == "conflict":
            click.echo(
                f"warning: shipped template {r.name} v{r.version} not published (see the log)", err=True
            )


@_versioned
@main.group(cls=_Group, context_settings=_CONTEXT)
def cluster() -> None:
    """Manage clusters."""


def _namespaced(value: str, hint: str) -> tuple[str, str]:
    namespace, _, name = value.partition("/")
    if not namespace or not name:
        raise click.BadParameter("use NAMESPACE/NAME", param_hint=hint)
    return namespace, name


@_versioned
@cluster.command("register", context_settings=_CONTEXT)
@click.option("--name", required=True)
@click.option("--region", required=True)
@click.option("--gateway", required=True, help="The Gateway as NAMESPACE/NAME.")
@click.option("--gateway-section", default=None)
@click.option("--storage-class", default="do-block-storage", show_default=True)
@click.option("--lb-service", default=None, help="Load-balancer Service as NAMESPACE/NAME.")
@click.option("--lb-size-unit", default=None, type=click.IntRange(1, 200))
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
    gw_ns, gw_name = _namespaced(gateway, "--gateway")
    lb_ns = lb_name = None
    if lb_service:
        lb_ns, lb_name = _namespaced(lb_service, "--lb-service")
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
    with _store(data_dir) as store:
        store.register_cluster(row, agent_token_hash=hash_token(token), actor=_CLI)
    click.echo(f"cluster_id: {row.cluster_id}")
    click.echo(f"agent_token: {token}")


@_versioned
@cluster.command("new-epoch", context_settings=_CONTEXT)
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
    with _store(data_dir) as store:
        ids = [c.cluster_id for c in store.list_clusters()] if all_clusters else list(cluster_ids)
        for cluster_id in ids:
            epoch = store.new_epoch(cluster_id, actor=_CLI)
            click.echo(f"{cluster_id} epoch {epoch}")


@_versioned
@main.group(cls=_Group, context_settings=_CONTEXT)
def user() -> None:
    """Manage users."""


def _existing_user(users: UserStore, email: str) -> UserRecord:
    try:
        return users.get_user(email=email)
    except StoreNotFoundError as exc:
        raise click.ClickException("no user has this email") from exc


@_versioned
@user.command("create", context_settings=_CONTEXT)
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
    click.echo(f"user_id: {created.user_id}")


@_versioned
@main.group(cls=_Group, context_settings=_CONTEXT)
def token() -> None:
    """Manage API tokens (create, list, revoke, rotate); secrets are shown once, stored hashed."""


def _expiry(days: int, no_expiry: bool) -> datetime | None:
    return None if no_expiry else datetime.now(UTC) + timedelta(days=days)


_expires = click.option(
    "--expires-in-days", default=90, show_default=True, type=click.IntRange(1, 1825), help="Lifetime."
)
_no_expiry = click.option("--no-expiry", is_flag=True, help="A token that never expires.")
_user_option = click.option("--user", "email", required=True, help="The token owner's email.")


@_versioned
@token.command("create", context_settings=_CONTEXT)
@click.option("--user", "email", required=True, help="The user's email (created if needed).")
@click.option("--name", default="cli", show_default=True)
@click.option("--operator", is_flag=True, help="When creating the user: make it an operator.")
@click.option("--project", "project_id", type=click.UUID, default=None, help="Scope the token to a project.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in ProjectRole]),
    default=None,
    help="The scoped token's project role (with --project).",
)
@_expires
@_no_expiry
@_data_dir
def create_token(
    email: str,
    name: str,
    operator: bool,
    project_id: uuid.UUID | None,
    role: str | None,
    expires_in_days: int,
    no_expiry: bool,
    data_dir: pathlib.Path | None,
) -> None:
    """Create an API token for a user; prints the secret once."""
    if (project_id is None) != (role is None):
        raise click.UsageError("--project and --role go together")
    scope = None if project_id is None or role is None else TokenScope(str(project_id), ProjectRole(role))
    with _store(data_dir) as store:
        secret = mint_user_token(
            store,
            store,
            email,
            operator=operator,
            name=name,
            expires_at=_expiry(expires_in_days, no_expiry),
            scope=scope,
            actor=_CLI,
        )
    click.echo(secret)


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _row(info: ApiTokenInfo) -> str:
    scope = "all" if info.scope is None else f"{info.scope.project_id}:{info.scope.role.value}"
    cells = [info.token_id, info.name, scope, token_state(info), _when(info.created_at)]
    cells += [_when(info.expires_at), _when(info.last_used_at)]
    return "\t".join(cells)


@_versioned
@token.command("list", context_settings=_CONTEXT)
@_user_option
@_data_dir
def list_tokens(email: str, data_dir: pathlib.Path | None) -> None:
    """List a user's tokens (never their secrets), tab-separated."""
    with _store(data_dir) as store:
        infos = store.list_tokens(_existing_user(store, email).user_id)
    click.echo("id\tname\tscope\tstate\tcreated\texpires\tlast_used")
    for info in infos:
        click.echo(_row(info))


@_versioned
@token.command("revoke", context_settings=_CONTEXT)
@_user_option
@click.argument("token_id", type=click.UUID)
@_data_dir
def revoke_token(email: str, token_id: uuid.UUID, data_dir: pathlib.Path | None) -> None:
    """Revoke a token now: the next request with it is refused."""
    with _store(data_dir) as store:
        owner = _existing_user(store, email)
        store.revoke_token(str(token_id), user_id=owner.user_id, actor=_CLI)
    click.echo(f"revoked {token_id}")


@_versioned
@token.command("rotate", context_settings=_CONTEXT)
@_user_option
@click.argument("token_id", type=click.UUID)
@click.option(
    "--grace-seconds",
    default=0,
    show_default=True,
    type=click.IntRange(0, 86400),
    help="How long the old secret keeps working.",
)
@_expires
@_no_expiry
@_data_dir
def rotate_token(
    email: str,
    token_id: uuid.UUID,
    grace_seconds: int,
    expires_in_days: int,
    no_expiry: bool,
    data_dir: pathlib.Path | None,
) -> None:
    """Replace a token's secret (same name and scope); prints the new secret once."""
    secret = new_token(USER_PREFIX)
    with _store(data_dir) as store:
        owner = _existing_user(store, email)
        store.rotate_token(
            str(token_id),
            replacement=NewApiToken(
                token_id=str(uuid.uuid4()),
                user_id=owner.user_id,
                token_hash=hash_token(secret),
                expires_at=_expiry(expires_in_days, no_expiry),
            ),
            grace_seconds=grace_seconds,
            actor=_CLI,
        )
    click.echo(secret)


@_versioned
@main.group(cls=_Group, context_settings=_CONTEXT)
def template() -> None:
    """The template catalogue: list, show and publish versioned service blueprints."""


@_versioned
@template.command("list", context_settings=_CONTEXT)
@_data_dir
def list_templates(data_dir: pathlib.Path | None) -> None:
    """Every template, tab-separated: name, latest version, versions, title."""
    with _store(data_dir) as store:
        summaries = store.list_templates()
    click.echo("name\tlatest\tversions\ttitle")
    for x in summaries:
        click.echo(f"{x.name}\t{x.latest_version}\t{','.join(map(str, x.versions))}\t{x.title}")


@_versioned
@template.command("show", context_settings=_CONTEXT)
@click.argument("name")
@click.argument("template_version", metavar="[VERSION]", type=click.IntRange(1, 2**31 - 1), required=False)
@_data_dir
def show_template(name: str, template_version: int | None, data_dir: pathlib.Path | None) -> None:
    """Print a template's VERSION (default: the latest) as JSON: its spec and allowed mutations."""
    with _store(data_dir) as store:
        record = store.get_template(name, template_version)
    document = {**template_to_json(record.template), "digest": record.template.digest}
    click.echo(json.dumps(document, indent=2))


@_versioned
@template.command("publish", context_settings=_CONTEXT)
@click.argument("file", type=click.Path(path_type=pathlib.Path, dir_okay=False), required=False)
@click.option("--shipped", is_flag=True, help="Publish the templates Starbase ships (idempotent).")
@_data_dir
def publish_template(file: pathlib.Path | None, shipped: bool, data_dir: pathlib.Path | None) -> None:
    """Publish a template version from a YAML or JSON FILE (a published version never changes)."""
    if (file is None) == (not shipped):
        raise click.UsageError("give a FILE or --shipped")
    if shipped:
        shipped_templates()  # a broken package fails here, before the database starts
        with _store(data_dir) as store:
            _echo_shipped(publish_shipped(store, actor=_CLI))
        return
    assert file is not None
    try:
        with file.open("rb") as handle:
            text = handle.read(TEMPLATE_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from exc
    parsed = read_template(text)
    with _store(data_dir) as store:
        outcome = store.publish_template(parsed, actor=_CLI)
    state = "published" if outcome.created else "unchanged (already published with this content):"
    click.echo(f"{state} {parsed.name} v{parsed.version} {parsed.digest}")


cli_billing.register(main, database=_database, data_dir_option=_data_dir, versioned=_versioned)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
