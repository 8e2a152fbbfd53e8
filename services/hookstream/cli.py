"""The ``hookstream`` command: one binary, roles chosen by subcommand."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hookstream.foundation.settings import Settings, SettingsError, load_settings, settings_table
from hookstream.runtime.kafka_dist import ToolMissing
from hookstream.runtime.local_kafka import PortInUse
from hookstream.runtime.logs import configure_logging

if TYPE_CHECKING:
    from clickhouse_connect.driver import Client


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hookstream", description="Self-hosted webhook delivery.")
    parser.add_argument("--config", type=Path, help="TOML settings file (also HOOKSTREAM_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run every role on a local Kafka broker and embedded chDB, from one command")
    topics = sub.add_parser("topics", help="create or list the topics of this deployment")
    topics.add_argument("action", choices=["create", "list"])
    run = sub.add_parser("run", help="run some roles against a running Kafka cluster (one process per role scales out)")
    run.add_argument(
        "--roles",
        default="",
        help="comma-separated: api,intake,router,deliver,schedule,status,project (default: all), and store: the "
        "embedded ClickHouse served as `hookstream store` does, alone or as a child the other roles reach",
    )
    project = sub.add_parser("project", help="the ClickHouse projection")
    rebuild_help = "empty the tables and replay every topic into them (stop the projector first)"
    project.add_argument("--rebuild", action="store_true", required=True, help=rebuild_help)
    migrate = sub.add_parser("migrate", help="apply the ClickHouse migrations")
    migrate.add_argument(
        "--cluster",
        metavar="NAME",
        help="render the schema for this replicated, sharded ClickHouse cluster (ON CLUSTER, Replicated*MergeTree, "
        "Distributed tables sharded by application; docs/scale.md)",
    )
    migrate.add_argument("--print", action="store_true", help="print the SQL that would run, without a server")
    kafka = sub.add_parser("kafka", help="the local broker's distribution")
    kafka.add_argument("action", choices=["fetch"], help="fetch Apache Kafka's jars into the cache")
    store = sub.add_parser("store", help="serve the embedded ClickHouse (chDB) over ClickHouse's HTTP interface")
    store.add_argument("--port", type=int, help="port on 127.0.0.1 (default HOOKSTREAM_STORE_PORT; 0 picks one)")
    store.add_argument("--data-dir", type=Path, help="the chDB directory (default HOOKSTREAM_STORE_DATA_DIR)")
    sub.add_parser("settings", help="print the settings table (markdown) with every knob and its default")
    letters = sub.add_parser("deadletters", help="list dead letters, or re-submit one to its topic after a fix")
    letters_sub = letters.add_subparsers(dest="action", required=True)
    listing = letters_sub.add_parser("list", help="one line per letter: time, #offset, topic/partition/offset, "
                                     "consumer, error class, reason")  # fmt: skip
    listing.add_argument("--consumer", help="only letters of this consumer group (with or without the namespace)")
    listing.add_argument("--error-class", help="only letters of this error class (e.g. unknown_application)")
    listing.add_argument("--since", help="only letters written at or after this ISO 8601 time")
    listing.add_argument("--limit", type=int, default=100, help="the newest N matching letters (default 100; 0: all)")
    again = letters_sub.add_parser("resubmit", help="write letters' original key, value and headers back to their "
                                   "topic and partition")  # fmt: skip
    again.add_argument("--offset", type=int, nargs="+", required=True, help="the letters' offsets (#N in the list)")
    sql = sub.add_parser("sql", help="run read-only SQL against the configured ClickHouse (docs/analytics.md)")
    sql.add_argument("query", help="one SELECT-like statement; writes and DDL are refused")
    sql.add_argument("--format", choices=["table", "json"], default="table", help="output format (default table)")
    return parser


def _bootstrap(settings: Settings) -> str:
    if settings.uses_local_kafka:
        raise SystemExit(
            "KAFKA_BOOTSTRAP_SERVERS is not set: this command talks to a running cluster "
            "(`hookstream dev` starts a local one)"
        )
    return settings.kafka_bootstrap_servers


def _topics(settings: Settings, action: str) -> None:
    from hookstream.log.admin import create_topics, describe_topics
    from hookstream.log.topics import catalogue

    bootstrap = _bootstrap(settings)
    if action == "create":
        created = asyncio.run(create_topics(bootstrap, catalogue(settings), settings.topic_replication_factor))
        print(f"created {len(created)} topics" + "".join(f"\n  {name}" for name in created))
        return
    infos = asyncio.run(describe_topics(bootstrap, settings.topic_namespace))
    width = max((len(info.name) for info in infos), default=5)
    print(f"{'topic':<{width}}  partitions  records  end offsets")
    for info in infos:
        offsets = ",".join(str(offset) for offset in info.end_offsets)
        print(f"{info.name:<{width}}  {info.partitions:>10}  {info.records:>7}  {offsets}")


def _clickhouse(settings: Settings, command: str, *, readonly: bool = False) -> Client:
    """A client for a command run by hand: through the store while ``hookstream dev`` runs, else directly.

    Read-only commands use the store's read-only user, which may not create the database. Anything that
    cannot be opened ends the command with one line saying why.
    """
    from hookstream.runtime.clickhouse import ClickHouseUnavailable, connect
    from hookstream.runtime.store_process import cli_clickhouse_url
    from hookstream.store.users import READER, WRITER

    try:
        url = cli_clickhouse_url(settings, READER if readonly else WRITER)
        return connect(url, settings.clickhouse_database, create_database=not readonly)
    except ClickHouseUnavailable as exc:
        raise SystemExit(f"hookstream {command}: {exc}") from None


def _sql(settings: Settings, query: str, fmt: str) -> None:
    from hookstream.runtime.sql import QueryRefused, format_json, format_table, run_readonly

    client = _clickhouse(settings, "sql", readonly=True)  # of its own: a read-only chDB session stays read-only
    try:
        result = run_readonly(client, query)
    except QueryRefused as exc:
        raise SystemExit(f"hookstream sql: refused: {exc}") from exc
    finally:
        client.close()
    print(format_json(result) if fmt == "json" else format_table(result))


def _print_migrations(settings: Settings, cluster: str | None) -> None:
    """Every migration's statements as ``migrate`` would run them, ``;``-terminated; no server is reached."""
    from hookstream.projector.migrations import (
        MigrationError,
        default_migrations_dir,
        load_migrations,
        render_for_cluster,
    )

    try:
        migrations = load_migrations(default_migrations_dir())
        preamble: tuple[str, ...] = ()
        if cluster is not None:
            preamble, migrations, _ = render_for_cluster(migrations, cluster, settings.clickhouse_database)
    except MigrationError as exc:
        raise SystemExit(f"hookstream migrate: {exc}") from None
    for statement in preamble:
        print(f"{statement};\n")
    for m in migrations:
        print(f"-- {m.name}")
        for statement in m.statements:
            print(f"{statement};\n")


def _migrate(settings: Settings, cluster: str | None = None, print_only: bool = False) -> None:
    from hookstream.domain.status import status_retention_s
    from hookstream.projector.migrations import prepare_schema

    if print_only:
        _print_migrations(settings, cluster)
        return
    client = _clickhouse(settings, "migrate")
    status_s = status_retention_s(settings.status_retention, settings.payload_retention_days)
    done = prepare_schema(
        client, payload_retention_days=settings.payload_retention_days, status_retention_s=status_s, cluster=cluster
    )
    print(f"applied {len(done.migrations)} migrations" + "".join(f"\n  {name}" for name in done.migrations))
    if done.payload_ttl_columns:
        print(f"payload retention set to {settings.payload_retention_days} days on "
              f"{', '.join(done.payload_ttl_columns)}")  # fmt: skip
    if done.status_ttl_tables:
        print(f"status retention set to {status_s:g} s on {', '.join(done.status_ttl_tables)}")


def _run(settings: Settings, roles_text: str) -> None:
    """The roles named; ``store`` alone is ``hookstream store``, beside others a supervised child they reach."""
    import contextlib
    import time

    from hookstream.foundation.tasks import stop_on_signals
    from hookstream.runtime.dev import delivery_process_count, run_event_loop, serve, serve_in_children
    from hookstream.runtime.roles import API_ROLE, STORE_ROLE, parse_roles
    from hookstream.runtime.store_process import embedded_store

    try:
        roles = parse_roles(roles_text)
    except ValueError as exc:
        raise SystemExit(f"hookstream: {exc}") from exc
    if roles == (STORE_ROLE,):
        _store(settings, None, None)
        return
    bootstrap = _bootstrap(settings)
    if API_ROLE in roles and not settings.operator_token:
        raise SystemExit("hookstream: HOOKSTREAM_OPERATOR_TOKEN must be set for the api role")
    if not settings.secret_keys and ("deliver" in roles or API_ROLE in roles):
        raise SystemExit(
            "hookstream: HOOKSTREAM_SECRET_KEYS must be set for the deliver and api roles (the keys sealing secrets)"
        )

    settings = settings.replace(kafka_bootstrap_servers=bootstrap)
    try:  # every role (no --roles) runs as `hookstream dev` lays them out, the API in this process
        processes = delivery_process_count(settings) if not roles_text.strip() else 0
        loop = settings.resolved_event_loop
    except SettingsError as exc:
        raise SystemExit(f"hookstream: {exc}") from exc

    async def main() -> None:
        stop = stop_on_signals()
        started = time.monotonic()
        if processes:
            await serve_in_children(settings, processes, stop, started, api_token=settings.operator_token)
            return
        services = [role for role in roles if role not in (API_ROLE, STORE_ROLE)]
        api_token = settings.operator_token if API_ROLE in roles else None
        async with contextlib.AsyncExitStack() as stack:
            stores = []
            if STORE_ROLE in roles:  # the roles here reach it, unless CLICKHOUSE_URL names another ClickHouse
                settings_here, stores = await stack.enter_async_context(embedded_store(settings, always=True))
            else:
                settings_here = settings
            await serve(settings_here, services, stop, started, api_token=api_token, children=stores)

    run_event_loop(main(), loop)


def _store(settings: Settings, port: int | None, data_dir: Path | None) -> None:
    from hookstream.store.engine import EngineConfig
    from hookstream.store.server import StoreConfig, StoreUnavailable, run_store

    if settings.store_handles < 1:
        raise SystemExit("hookstream: HOOKSTREAM_STORE_HANDLES must be 1 or more")
    engine = EngineConfig(
        path=data_dir or settings.resolved_store_data_dir,
        handles=settings.store_handles,
        max_server_memory_bytes=settings.store_max_memory_bytes,
        cache_bytes=settings.store_cache_bytes,
    )
    try:
        run_store(StoreConfig(engine, settings.store_port if port is None else port))
    except StoreUnavailable as exc:
        raise SystemExit(f"hookstream store: {exc}") from exc


def _deadletters(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from hookstream.log.codec import AvroCodec
    from hookstream.log.deadletters import LetterFilter, format_letter, read_letters, resubmit, select

    settings = settings.replace(kafka_bootstrap_servers=_bootstrap(settings))
    try:
        letters = asyncio.run(read_letters(settings, AvroCodec()))
    except LookupError as exc:
        raise SystemExit(f"hookstream deadletters: {exc}") from None
    if args.action == "list":
        since = None
        if args.since:
            try:
                since = datetime.fromisoformat(args.since)
            except ValueError:
                raise SystemExit(f"hookstream deadletters: --since {args.since!r} is not an ISO 8601 time") from None
            since = since if since.tzinfo else since.replace(tzinfo=UTC)
        wanted = LetterFilter(args.consumer, args.error_class, since)
        for letter in select(letters, wanted, settings.topic_namespace, args.limit):
            print(format_letter(letter))
        return
    by_offset = {letter.offset: letter for letter in letters}
    missing = [offset for offset in args.offset if offset not in by_offset]
    if missing:
        raise SystemExit(f"hookstream deadletters: no letter at offset {', '.join(map(str, missing))}")
    for offset in args.offset:
        topic, partition, new_offset = asyncio.run(resubmit(settings, by_offset[offset]))
        print(f"#{offset} re-submitted to {topic}/{partition}/{new_offset}")


def _rebuild(settings: Settings) -> None:
    from hookstream.log.codec import AvroCodec
    from hookstream.projector.migrations import apply_migrations
    from hookstream.projector.rebuild import rebuild

    _bootstrap(settings)
    client = _clickhouse(settings, "project")
    apply_migrations(client)
    report = asyncio.run(rebuild(settings, AvroCodec(), client))
    print(f"rebuilt in {report.seconds:.1f} s; {report.skipped} records made no row")
    print(f"{'table':<14} {'records':>9} {'entities':>9} {'rows':>9}")
    for table, rows in report.rows.items():
        print(f"{table:<14} {report.records.get(table, 0):>9} {report.entities.get(table, 0):>9} {rows:>9}")
    if not report.consistent:
        raise SystemExit("hookstream: the rebuilt tables do not match the topics (see the table above)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
    except SettingsError as exc:
        print(f"hookstream: {exc}", file=sys.stderr)
        return 2
    try:
        configure_logging(settings.log_level, settings.log_format)
    except ValueError as exc:
        print(f"hookstream: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "dev":
            from hookstream.runtime.dev import run_dev
            from hookstream.runtime.role_process import ChildFailed

            try:  # a bad value is refused before anything starts
                settings.resolved_dev_delivery_processes  # noqa: B018
                settings.resolved_event_loop  # noqa: B018
            except SettingsError as exc:
                print(f"hookstream: {exc}", file=sys.stderr)
                return 2
            try:
                run_dev(settings)
            except ChildFailed as exc:  # e.g. the store's port is taken: the child said so, one line
                print(f"hookstream dev: {exc}", file=sys.stderr)
                return 1
        elif args.command == "topics":
            _topics(settings, args.action)
        elif args.command == "run":
            from hookstream.runtime.role_process import ChildFailed

            try:
                _run(settings, args.roles)
            except ChildFailed as exc:  # a child (the store, or one of every role's) did not come up: it said why
                print(f"hookstream run: {exc}", file=sys.stderr)
                return 1
        elif args.command == "project":
            _rebuild(settings)
        elif args.command == "migrate":
            _migrate(settings, args.cluster, args.print)
        elif args.command == "store":
            _store(settings, args.port, args.data_dir)
        elif args.command == "sql":
            _sql(settings, args.query, args.format)
        elif args.command == "kafka":
            from hookstream.runtime.kafka_dist import ensure_kafka

            dist = ensure_kafka(settings.kafka_jars_dir)
            print(f"Apache Kafka {dist.version} in {dist.jars_dir}")
        elif args.command == "settings":
            print(settings_table())
        elif args.command == "deadletters":
            _deadletters(settings, args)
    except (ToolMissing, PortInUse) as exc:
        print(f"hookstream: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
