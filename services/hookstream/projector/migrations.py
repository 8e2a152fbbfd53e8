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
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver import Client

__all__ = [
    "MIGRATIONS_DIR_ENV",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "default_migrations_dir",
    "load_migrations",
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


def apply_migrations(client: Client, directory: Path | None = None) -> list[str]:
    """Apply the pending migrations in order; return the names applied (empty when up to date).

    Every applied migration's checksum is verified before anything runs, so a
    tampered history stops the start instead of stacking new DDL on it.
    """
    directory = directory or default_migrations_dir()
    migrations = load_migrations(directory)
    client.command(_LEDGER_DDL)
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


def prepare_schema(client: Client, *, payload_retention_days: int, status_retention_s: float) -> SchemaPrepared:
    """The pending migrations, then the retention TTLs the settings ask for: what every start and ``migrate`` do."""
    from hookstream.projector.retention import apply_retention, apply_status_retention

    return SchemaPrepared(
        migrations=apply_migrations(client),
        payload_ttl_columns=apply_retention(client, payload_retention_days),
        status_ttl_tables=apply_status_retention(client, status_retention_s),
    )
