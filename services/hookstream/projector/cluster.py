"""The schema rendered for a replicated, sharded ClickHouse cluster (``hookstream migrate --cluster NAME``).

A pure function of the migration text: each statement of ``schemas/clickhouse`` in, the statement(s) a
cluster runs out. The files stay written for one server (what ``hookstream dev`` and ``make run`` use,
byte-for-byte unchanged); a cluster deployment renders them instead of keeping a second schema that
would drift.

The layout (docs/scale.md explains the choices and the arithmetic):

* A table with an ``app_id`` column is **sharded by application**: ``<name>_local`` on every node, its
  engine the ``Replicated`` twin of the original (same arguments after the ZooKeeper path and replica),
  and a ``Distributed`` table under the original name sharded by ``cityHash64(app_id)``. Queries and
  inserts name ``<name>`` as before; one tenant's messages, attempts, statuses and rollups all live on
  one shard, so per-app reads touch one shard and the ``IN``/``JOIN`` subqueries of the query layer are
  shard-local (``distributed_product_mode = 'local'``).
* A table without one (``event_types``, deployment-wide, and the ``schema_migrations`` ledger) is
  **replicated to every node**: one ZooKeeper path shared by all shards, under its original name, no
  ``Distributed`` table (a read through one would return each row once per shard).
* A ``CREATE TABLE ... AS <table>`` follows its source's layout.
* A materialized view is created on every node (``ON CLUSTER``), reading and writing local tables: a
  block inserted through ``Distributed`` lands on one shard's ``attempts_local`` and that shard's views
  fill that shard's copy and rollups.
* ``ALTER TABLE`` runs ``ON CLUSTER`` on the local table; a column added, dropped or renamed is
  mirrored on the ``Distributed`` table (its columns are its own). ``MODIFY TTL``, indexes and column
  TTLs exist on the local tables only.
* ``INSERT ... SELECT`` (the rollup backfill) is unchanged: it reads and writes through the
  ``Distributed`` tables, and the sharding key sends each row to its application's shard.

Anything else is refused, so a migration of a new kind fails here, in a unit test, not on a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "SHARD_COLUMN",
    "ClusterRenderError",
    "ClusterSchema",
    "Layout",
    "local_name",
    "render_statement",
    "render_statements",
]

SHARD_COLUMN = "app_id"
LOCAL_SUFFIX = "_local"
# One path per shard for sharded tables; one path for all nodes for tables replicated everywhere.
SHARDED_PATH = "/clickhouse/tables/{{shard}}/{{database}}/{table}"
EVERYWHERE_PATH = "/clickhouse/tables/all/{{database}}/{table}"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MERGE_TREES = ("", "Replacing", "Aggregating", "Summing", "Collapsing", "VersionedCollapsing", "Graphite")

_CREATE_TABLE_RE = re.compile(
    r"^CREATE\s+TABLE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL
)
_AS_SOURCE_RE = re.compile(r"^AS\s+(?P<source>\w+)\s+(?P<rest>ENGINE\b.*)$", re.IGNORECASE | re.DOTALL)
_ENGINE_RE = re.compile(r"ENGINE\s*=\s*(?P<engine>\w+)", re.IGNORECASE)
_VIEW_RE = re.compile(
    r"^CREATE\s+MATERIALIZED\s+VIEW\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s+TO\s+(?P<target>\w+)\s+"
    r"(?P<rest>AS\s+SELECT\b.*)$",
    re.IGNORECASE | re.DOTALL,
)
_ALTER_RE = re.compile(r"^ALTER\s+TABLE\s+(?P<name>\w+)\s+(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_INSERT_RE = re.compile(r"^INSERT\s+INTO\s+\w+", re.IGNORECASE)
_SOURCE_RE = re.compile(r"\b(?P<kw>FROM|JOIN)\s+(?P<table>\w+)\b", re.IGNORECASE)
_MIRRORED_ALTER_RE = re.compile(r"\b(ADD|DROP|RENAME)\s+COLUMN\b", re.IGNORECASE)


class ClusterRenderError(ValueError):
    """A statement the cluster renderer does not know how to place on a cluster."""


@dataclass(frozen=True, slots=True)
class Layout:
    """What the statements rendered so far created: table -> sharding key (sharded) or None (everywhere)."""

    tables: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))

    def with_table(self, name: str, sharding_key: str | None) -> Layout:
        return Layout(MappingProxyType({**self.tables, name: sharding_key}))

    def sharded(self, name: str) -> bool:
        return self.tables.get(name) is not None


def local_name(table: str) -> str:
    """The per-node table behind the ``Distributed`` table ``table``."""
    return table + LOCAL_SUFFIX


def _check_name(kind: str, name: str) -> str:
    if not _NAME_RE.match(name):
        raise ClusterRenderError(f"{kind} name {name!r} must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)")
    return name


@dataclass(frozen=True, slots=True)
class _Engine:
    name: str
    args: str  # between the parentheses, "" when there are none
    start: int
    end: int


def _balanced(text: str, start: int) -> int:
    """The index after the ``)`` closing the ``(`` at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise ClusterRenderError("unbalanced parentheses in ENGINE clause")


def _top_level_engine(rest: str) -> _Engine:
    """The ``ENGINE = Name(args)`` clause outside the column list's parentheses."""
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and rest[i : i + 6].upper() == "ENGINE" and (match := _ENGINE_RE.match(rest, i)):
            end, args = match.end(), ""
            opening = len(rest) - len(rest[end:].lstrip())
            if rest.startswith("(", opening):
                end = _balanced(rest, opening)
                args = rest[opening + 1 : end - 1].strip()
            return _Engine(match["engine"], args, i, end)
    raise ClusterRenderError("CREATE TABLE without an ENGINE clause")


def _replicated_engine(engine: _Engine, path: str) -> str:
    family = engine.name.removesuffix("MergeTree")
    if not engine.name.endswith("MergeTree") or family not in _MERGE_TREES:
        raise ClusterRenderError(f"engine {engine.name} has no Replicated twin (a MergeTree family engine is needed)")
    replicated_args = ", ".join(part for part in (f"'{path}'", "'{replica}'", engine.args) if part)
    return f"ENGINE = Replicated{engine.name}({replicated_args})"


def _sharding_key(columns: str) -> str | None:
    """``cityHash64(app_id)`` when the column list declares ``app_id``, else None (replicate everywhere)."""
    return f"cityHash64({SHARD_COLUMN})" if re.search(rf"^\s*\(?\s*{SHARD_COLUMN}\s+\w", columns, re.M) else None


def _create_table(match: re.Match[str], cluster: str, database: str, layout: Layout) -> tuple[list[str], Layout]:
    ine = "IF NOT EXISTS " if match["ine"] else ""
    name, rest = match["name"], match["rest"]
    as_source = _AS_SOURCE_RE.match(rest)
    if as_source:
        source = as_source["source"]
        if source not in layout.tables:
            raise ClusterRenderError(f"CREATE TABLE {name} AS {source}: {source} is not created before it")
        key = layout.tables[source]
        body = f"AS {local_name(source) if key else source} {as_source['rest']}"
    else:
        engine = _top_level_engine(rest)
        key = _sharding_key(rest[: engine.start])
        body = rest
    engine = _top_level_engine(body)
    physical = local_name(name) if key else name
    path = (SHARDED_PATH if key else EVERYWHERE_PATH).format(table=name)
    body = body[: engine.start] + _replicated_engine(engine, path) + body[engine.end :]
    statements = [f"CREATE TABLE {ine}{physical} ON CLUSTER {cluster} {body}"]
    if key:
        statements.append(
            f"CREATE TABLE {ine}{name} ON CLUSTER {cluster} AS {physical}\n"
            f"ENGINE = Distributed('{cluster}', '{database}', '{physical}', {key})"
        )
    return statements, layout.with_table(name, key)


def _local_sources(select: str, layout: Layout) -> str:
    def swap(m: re.Match[str]) -> str:
        table = m["table"]
        return f"{m['kw']} {local_name(table)}" if layout.sharded(table) else m.group(0)

    return _SOURCE_RE.sub(swap, select)


def _create_view(match: re.Match[str], cluster: str, layout: Layout) -> list[str]:
    ine = "IF NOT EXISTS " if match["ine"] else ""
    target = match["target"]
    if target not in layout.tables:
        raise ClusterRenderError(f"materialized view {match['name']} writes {target}, which is not created before it")
    local_target = local_name(target) if layout.sharded(target) else target
    body = _local_sources(match["rest"], layout)
    return [f"CREATE MATERIALIZED VIEW {ine}{match['name']} ON CLUSTER {cluster} TO {local_target}\n{body}"]


def _alter(match: re.Match[str], cluster: str, layout: Layout) -> list[str]:
    name, rest = match["name"], match["rest"]
    if name not in layout.tables:
        raise ClusterRenderError(f"ALTER TABLE {name}: {name} is not created before it")
    if not layout.sharded(name):
        return [f"ALTER TABLE {name} ON CLUSTER {cluster} {rest}"]
    statements = [f"ALTER TABLE {local_name(name)} ON CLUSTER {cluster} {rest}"]
    if _MIRRORED_ALTER_RE.search(rest):
        statements.append(f"ALTER TABLE {name} ON CLUSTER {cluster} {rest}")
    return statements


def render_statement(statement: str, cluster: str, database: str, layout: Layout) -> tuple[list[str], Layout]:
    """The cluster statements for one single-server ``statement``, and the layout after it."""
    _check_name("cluster", cluster)
    _check_name("database", database)
    text = statement.strip()
    if m := _VIEW_RE.match(text):
        return _create_view(m, cluster, layout), layout
    if m := _CREATE_TABLE_RE.match(text):
        return _create_table(m, cluster, database, layout)
    if m := _ALTER_RE.match(text):
        return _alter(m, cluster, layout), layout
    if _INSERT_RE.match(text):
        return [text], layout
    raise ClusterRenderError(f"no cluster rendering for statement: {text[:80]}")


def render_statements(
    statements: Iterable[str], cluster: str, database: str, layout: Layout | None = None
) -> tuple[list[str], Layout]:
    """Every statement rendered in order, each seeing the tables the earlier ones created."""
    layout = layout or Layout()
    rendered: list[str] = []
    for statement in statements:
        out, layout = render_statement(statement, cluster, database, layout)
        rendered.extend(out)
    return rendered, layout


@dataclass(frozen=True, slots=True)
class ClusterSchema:
    """A cluster and the layout of the whole schema, for statements issued after the migrations (retention)."""

    cluster: str
    database: str
    layout: Layout

    def render(self, statement: str) -> list[str]:
        return render_statement(statement, self.cluster, self.database, self.layout)[0]

    def storage_table(self, table: str) -> str:
        """The table holding ``table``'s rows on this node (where its TTLs and indexes live)."""
        return local_name(table) if self.layout.sharded(table) else table
