"""The ``hookstream`` command: one binary, roles chosen by subcommand."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from hookstream.runtime.kafka_dist import ToolMissing
from hookstream.runtime.local_kafka import PortInUse
from hookstream.runtime.logs import configure_logging
from hookstream.runtime.settings import Settings, SettingsError, load_settings, settings_table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hookstream", description="Self-hosted webhook delivery.")
    parser.add_argument("--config", type=Path, help="TOML settings file (also HOOKSTREAM_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run every role in one process on a local Kafka broker and embedded chDB")
    topics = sub.add_parser("topics", help="create or list the topics of this deployment")
    topics.add_argument("action", choices=["create", "list"])
    sub.add_parser("migrate", help="apply the ClickHouse migrations")
    kafka = sub.add_parser("kafka", help="the local broker's distribution")
    kafka.add_argument("action", choices=["fetch"], help="fetch Apache Kafka's jars into the cache")
    sub.add_parser("settings", help="print the settings table (markdown) with every knob and its default")
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


def _migrate(settings: Settings) -> None:
    from hookstream.projector.migrations import apply_migrations
    from hookstream.runtime.clickhouse import connect

    client = connect(settings.resolved_clickhouse_url, settings.clickhouse_database)
    applied = apply_migrations(client)
    print(f"applied {len(applied)} migrations" + "".join(f"\n  {name}" for name in applied))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
    except SettingsError as exc:
        print(f"hookstream: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "dev":
            from hookstream.runtime.dev import run_dev

            run_dev(settings)
        elif args.command == "topics":
            _topics(settings, args.action)
        elif args.command == "migrate":
            _migrate(settings)
        elif args.command == "kafka":
            from hookstream.runtime.kafka_dist import ensure_kafka

            dist = ensure_kafka(settings.kafka_jars_dir)
            print(f"Apache Kafka {dist.version} in {dist.jars_dir}")
        elif args.command == "settings":
            print(settings_table())
    except (ToolMissing, PortInUse) as exc:
        print(f"hookstream: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
