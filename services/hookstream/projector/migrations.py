"""Numbered SQL migrations for the ClickHouse projection.

Files are ``schemas/clickhouse/NNN_name.sql``; each is applied once, in number
order, into the client's database and recorded in ``schema_migrations``. An
applied file is never re-run, so a schema change is always a new file; editing
an applied one is refused (checksum mismatch) instead of silently diverging
between deployments that applied the old and the new text.

ClickHouse DDL is not transactional: a migration that fails half-way leaves
its earlier statements applied and is not recorded, so the next run executes
the whole file again. Statements must therefore be idempotent
(``CREATE ... IF NOT EXISTS``, ``ADD COLUMN IF NOT EXISTS``, ...).

Two processes migrating at once (API and projector starting together) may both
apply a migration; idempotent statements make that harmless, and
``schema_migrations`` is a ReplacingMergeTree read with ``LIMIT 1 BY version``,
so the double record collapses.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from clickhouse_connect.driver import Client

if TYPE_CHECKING:
    from hookstream.projector.cluster import ClusterSchema

__all__ = [
    "MIGRATIONS_DIR_ENV",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "cluster_schema",
    "default_migrations_dir",
    "load_migrations",
    "render_for_cluster",
    "split_statements",
]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR_ENV = "HOOKSTREAM_MIGRATIONS_DIR"
_FILE_RE = re.compile(r"^(?P<version>\d+)_(?P<name>[A-Za-z0-9_]+)\.sql$")

_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
"""


class MigrationError(RuntimeError):
    """The migrations on disk and the ones recorded in ClickHouse disagree, or one failed."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str  # the file's stem, e.g. "001_projection"
    path: Path
    checksum: str  # sha256 of the text with line endings normalized
    statements: tuple[str, ...]


def default_migrations_dir() -> Path:
    """``$HOOKSTREAM_MIGRATIONS_DIR``, else ``schemas/clickhouse`` of this source tree."""
    override = os.environ.get(MIGRATIONS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    # services/hookstream/projector/migrations.py -> repository root
    return Path(__file__).resolve().parents[3] / "schemas" / "clickhouse"


def split_statements(sql: str) -> list[str]:
    """The statements of a migration file, comments removed.

    A character scanner rather than ``str.split(";")``: a ``;`` or ``--`` inside
    a string literal, a quoted identifier or a comment must not cut a
    statement. Every top-level ``;`` ends a statement (ClickHouse never allows
    one inside a statement), which covers the "``;`` at line end" convention.
    """
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end  # keep the newline itself
            continue
        if ch == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end == -1:
                raise MigrationError("unterminated /* comment")
            current.append(" ")
            i = end + 2
            continue
        if ch in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            else:
                raise MigrationError(f"unterminated {ch} quote")
            current.append(sql[i : j + 1])
            i = j + 1
            continue
        if ch == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def _checksum(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    """Every migration file in ``directory``, in version order, parsed.

    Stray ``.sql`` files that do not follow ``NNN_name.sql`` are errors, not
    skipped: a misnamed migration that never runs is worse than a failed start.
    """
    if not directory.is_dir():
        raise MigrationError(f"migrations directory {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNN_name.sql")
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"migrations {found[version].path.name} and {path.name} share version {version}")
        text = path.read_text(encoding="utf-8")
        try:
            statements = tuple(split_statements(text))
        except MigrationError as exc:
            raise MigrationError(f"migration {path.stem}: {exc}") from exc
        if not statements:
            raise MigrationError(f"migration {path.stem} holds no statement")
        found[version] = Migration(version, path.stem, path, _checksum(text), statements)
    return [found[v] for v in sorted(found)]


def _applied(client: Client) -> dict[int, tuple[str, str]]:
    rows = client.query(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version, applied_at LIMIT 1 BY version"
    ).result_rows
    return {int(version): (name, checksum) for version, name, checksum in rows}


def render_for_cluster(
    migrations: list[Migration], cluster: str, database: str
) -> tuple[tuple[str, ...], list[Migration], ClusterSchema]:
    """The preamble (the database on every node, then the ledger) and every migration as a replicated,
    sharded cluster runs them (``migrate --cluster``).

    All migrations are rendered, applied or not, because a later statement (an ALTER) needs to know how
    the table it names was laid out. Checksums stay those of the files: the ledger records what was
    written, the rendering is a function of it.
    """
    from hookstream.projector.cluster import ClusterSchema, Layout, render_statements

    try:
        ledger, layout = render_statements([_LEDGER_DDL], cluster, database, Layout())
    except ValueError as exc:
        raise MigrationError(str(exc)) from exc
    rendered = []
    for m in migrations:
        try:
            statements, layout = render_statements(m.statements, cluster, database, layout)
        except ValueError as exc:
            raise MigrationError(f"migration {m.name}: {exc}") from exc
        rendered.append(replace(m, statements=tuple(statements)))
    preamble = (f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}", *ledger)
    return preamble, rendered, ClusterSchema(cluster, database, layout)


def cluster_schema(cluster: str, database: str, directory: Path | None = None) -> ClusterSchema:
    """The layout of the whole schema on ``cluster``, for statements issued after the migrations."""
    return render_for_cluster(load_migrations(directory or default_migrations_dir()), cluster, database)[2]


def apply_migrations(client: Client, directory: Path | None = None, *, cluster: str | None = None) -> list[str]:
    """Apply the pending migrations in order; return the names applied (empty when up to date).

    Every applied migration's checksum is verified before anything runs, so a
    tampered history stops the start instead of stacking new DDL on it. With
    ``cluster``, the statements are rendered for it (:mod:`hookstream.projector.cluster`)
    and the ledger is a table replicated to every node.
    """
    directory = directory or default_migrations_dir()
    migrations = load_migrations(directory)
    preamble: tuple[str, ...] = (_LEDGER_DDL,)
    if cluster is not None:
        preamble, migrations, _ = render_for_cluster(migrations, cluster, client.database or "default")
    for statement in preamble:
        client.command(statement)
    applied = _applied(client)
    on_disk = {m.version for m in migrations}
    for version, (name, _) in sorted(applied.items()):
        if version not in on_disk:
            # An older release running against a newer schema: its tables are
            # a superset of what it knows, so warn rather than refuse to start.
            logger.warning("migration %s is applied but has no file in %s", name, directory)
    for m in migrations:
        if m.version in applied and applied[m.version][1] != m.checksum:
            raise MigrationError(
                f"migration {m.name} ({m.path}) changed after it was applied "
                f"(checksum {applied[m.version][1][:12]}… recorded, {m.checksum[:12]}… on disk); "
                "add a new migration instead of editing an applied one"
            )
    done: list[str] = []
    for m in migrations:
        if m.version in applied:
            continue
        for index, statement in enumerate(m.statements, start=1):
            try:
                client.command(statement)
            except Exception as exc:
                raise MigrationError(
                    f"migration {m.name} failed at statement {index} of {len(m.statements)}: {exc}"
                ) from exc
        client.insert(
            "schema_migrations",
            [[m.version, m.name, m.checksum]],
            column_names=["version", "name", "checksum"],
        )
        logger.info("applied ClickHouse migration %s", m.name)
        done.append(m.name)
    return done


@dataclass(frozen=True, slots=True)
class SchemaPrepared:
    """What bringing a database up to the settings changed (each list empty when nothing did)."""

    migrations: list[str]
    payload_ttl_columns: list[str]
    status_ttl_tables: list[str]


def prepare_schema(
    client: Client, *, payload_retention_days: int, status_retention_s: float, cluster: str | None = None
) -> SchemaPrepared:
    """The pending migrations, then the retention TTLs the settings ask for: what every start and ``migrate`` do.

    With ``cluster`` (``migrate --cluster``), both are rendered for it: the TTLs live on the local tables.
    """
    from hookstream.projector.retention import apply_retention, apply_status_retention

    if cluster is None:
        return SchemaPrepared(
            migrations=apply_migrations(client),
            payload_ttl_columns=apply_retention(client, payload_retention_days),
            status_ttl_tables=apply_status_retention(client, status_retention_s),
        )
    schema = cluster_schema(cluster, client.database or "default")
    return SchemaPrepared(
        migrations=apply_migrations(client, cluster=cluster),
        payload_ttl_columns=apply_retention(client, payload_retention_days, schema),
        status_ttl_tables=apply_status_retention(client, status_retention_s, schema),
    )
