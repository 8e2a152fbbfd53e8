"""Every statement ``migrate --cluster`` renders is parsed by the embedded engine (the store over HTTP).

``EXPLAIN AST`` parses a statement without running it, so no cluster, ZooKeeper or macro needs to exist.
``formatQuery()`` prints the engine's own formatting of a DDL statement, where ``ON CLUSTER`` must
appear (the AST dump does not show it, and ``EXPLAIN SYNTAX`` refuses ``CREATE DATABASE``). The engine
cannot create a ``Distributed`` or ``Replicated*MergeTree`` table without a cluster and macros in its
configuration, so executing the rendered schema is out of reach here; what the suite checks is that it
parses and that its shape (engines, sharding key, local sources of the views) is right
(tests/unit/test_cluster_schema.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver import Client

from hookstream.projector.migrations import default_migrations_dir, load_migrations, render_for_cluster
from hookstream.runtime.clickhouse import connect
from tests.support.store import Store

pytestmark = pytest.mark.integration

CLUSTER = "hookstream_cluster"


@pytest.fixture
def client(store: Store) -> Iterator[Client]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    client = connect(store.clickhouse_url(), database)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {database}")
    client.close()


def _rendered(database: str) -> list[str]:
    preamble, migrations, _ = render_for_cluster(load_migrations(default_migrations_dir()), CLUSTER, database)
    return [*preamble, *(s for m in migrations for s in m.statements)]


def _explain(client: Client, kind: str, statement: str) -> str:
    """The engine's EXPLAIN text. Raw, with no ``FORMAT`` appended: a ``FORMAT`` after ``EXPLAIN ... CREATE
    DATABASE`` would bind to the explained statement, not to EXPLAIN."""
    return client.raw_query(f"EXPLAIN {kind} {statement}").decode()


def test_every_rendered_statement_parses(client: Client) -> None:
    statements = _rendered(client.database or "default")
    kinds: dict[str, int] = {}
    for statement in statements:
        ast = _explain(client, "AST", statement)
        kind = ast.split()[0]  # CreateQuery, AlterQuery, InsertQuery
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == "InsertQuery":
            continue
        syntax = str(client.command("SELECT formatQuery({q:String})", parameters={"q": statement}))
        assert re.search(rf"\bON CLUSTER {CLUSTER}\b", syntax), syntax
        engine = re.search(r"Function (\w*MergeTree|Distributed) ", ast)
        assert bool(engine) == ("ENGINE =" in statement), ast
        if engine:
            assert engine[1] == "Distributed" or engine[1].startswith("Replicated"), ast
    assert set(kinds) == {"CreateQuery", "AlterQuery", "InsertQuery"}, kinds
    assert sum(kinds.values()) == len(statements)


def test_a_broken_rendering_would_not_parse(client: Client) -> None:
    """The check above can fail: the engine rejects a statement the renderer could get wrong."""
    with pytest.raises(Exception, match="Syntax error"):
        _explain(client, "AST", f"CREATE TABLE t ON CLUSTER {CLUSTER} AS s ENGINE = Distributed('c', 'd', 't',")
