"""The cluster rendering of the schema (``migrate --cluster``), one kind of statement at a time, and the
whole schema on disk."""

from __future__ import annotations

import re

import pytest

from hookstream.cli import main
from hookstream.projector.cluster import ClusterRenderError, ClusterSchema, Layout, render_statement
from hookstream.projector.migrations import (
    MigrationError,
    default_migrations_dir,
    load_migrations,
    render_for_cluster,
)

C, DB = "hs", "hookstream"
SHARDED = Layout().with_table("attempts", "cityHash64(app_id)").with_table("rollup", "cityHash64(app_id)")
WITH_GLOBAL = SHARDED.with_table("event_types", None)


def one(statement: str, layout: Layout = SHARDED) -> tuple[list[str], Layout]:
    return render_statement(statement, C, DB, layout)


@pytest.mark.parametrize(
    ("engine", "replicated"),
    [
        ("ReplacingMergeTree(version)", "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/t', "
                                        "'{replica}', version)"),
        ("AggregatingMergeTree", "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/t', "
                                 "'{replica}')"),
        ("MergeTree()", "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/t', '{replica}')"),
        ("SummingMergeTree((a, b))", "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/t', "
                                     "'{replica}', (a, b))"),
        ("Memory", None),
    ],
)  # fmt: skip
def test_each_merge_tree_engine_becomes_replicated_local_plus_distributed(engine: str, replicated: str | None) -> None:
    sql = (
        f"CREATE TABLE IF NOT EXISTS t\n(\n    app_id UUID,\n    version UInt64\n)\nENGINE = {engine}\nORDER BY app_id"
    )
    if replicated is None:
        with pytest.raises(ClusterRenderError):
            one(sql)
        return
    (local, dist), layout = one(sql)
    assert local.startswith("CREATE TABLE IF NOT EXISTS t_local ON CLUSTER hs (")
    assert f"ENGINE = {replicated}\nORDER BY app_id" in local
    assert dist == (
        "CREATE TABLE IF NOT EXISTS t ON CLUSTER hs AS t_local\n"
        "ENGINE = Distributed('hs', 'hookstream', 't_local', cityHash64(app_id))"
    )
    assert layout.tables["t"] == "cityHash64(app_id)"


def test_settings_and_column_ttls_are_kept_on_the_local_table() -> None:
    sql = (
        "CREATE TABLE IF NOT EXISTS m (app_id UUID, at DateTime, payload String TTL at + INTERVAL 90 DAY, "
        "INDEX i app_id TYPE bloom_filter(0.01) GRANULARITY 1) ENGINE = ReplacingMergeTree(version) "
        "ORDER BY (app_id, at) SETTINGS index_granularity = 1024"
    )
    (local, _), _ = one(sql)
    assert "payload String TTL at + INTERVAL 90 DAY" in local
    assert "bloom_filter(0.01)" in local
    assert local.endswith("ORDER BY (app_id, at) SETTINGS index_granularity = 1024")


def test_a_table_without_app_id_is_replicated_to_every_node_under_its_own_name() -> None:
    sql = (
        "CREATE TABLE IF NOT EXISTS event_types (name String, version UInt64) "
        "ENGINE = ReplacingMergeTree(version) ORDER BY name"
    )
    [only], layout = one(sql)
    assert only.startswith("CREATE TABLE IF NOT EXISTS event_types ON CLUSTER hs (")
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/event_types', '{replica}', version)" in only
    assert "Distributed" not in only
    assert layout.tables["event_types"] is None


def test_create_as_follows_its_source() -> None:
    sql = (
        "CREATE TABLE IF NOT EXISTS by_msg AS attempts\nENGINE = ReplacingMergeTree(version)\nORDER BY (app_id, msg_id)"
    )
    (local, dist), layout = one(sql)
    assert local.startswith("CREATE TABLE IF NOT EXISTS by_msg_local ON CLUSTER hs AS attempts_local ENGINE = ")
    assert "'/clickhouse/tables/{shard}/{database}/by_msg', '{replica}', version" in local
    assert "Distributed('hs', 'hookstream', 'by_msg_local', cityHash64(app_id))" in dist
    assert layout.sharded("by_msg")
    with pytest.raises(ClusterRenderError, match="not created before"):
        one("CREATE TABLE x AS nowhere ENGINE = MergeTree ORDER BY a")


def test_materialized_view_reads_and_writes_local_tables() -> None:
    sql = (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS r_mv TO rollup\n"
        "AS SELECT app_id, count() FROM attempts WHERE x GROUP BY app_id"
    )
    [view], layout = one(sql)
    assert view == (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS r_mv ON CLUSTER hs TO rollup_local\n"
        "AS SELECT app_id, count() FROM attempts_local WHERE x GROUP BY app_id"
    )
    assert layout == SHARDED  # a view is no table of the layout


def test_alter_runs_on_the_local_table_and_column_changes_reach_the_distributed_one() -> None:
    tail = "MODIFY TTL toDateTime(at) + INTERVAL 90 DAY SETTINGS materialize_ttl_after_modify = 0"
    assert one(f"ALTER TABLE attempts {tail}")[0] == [f"ALTER TABLE attempts_local ON CLUSTER hs {tail}"]
    [index], _ = one("ALTER TABLE attempts DROP INDEX IF EXISTS idx_msg_id")
    assert index == "ALTER TABLE attempts_local ON CLUSTER hs DROP INDEX IF EXISTS idx_msg_id"
    local, dist = one("ALTER TABLE attempts ADD COLUMN IF NOT EXISTS note String")[0]
    assert local == "ALTER TABLE attempts_local ON CLUSTER hs ADD COLUMN IF NOT EXISTS note String"
    assert dist == "ALTER TABLE attempts ON CLUSTER hs ADD COLUMN IF NOT EXISTS note String"
    [glob], _ = one("ALTER TABLE event_types ADD COLUMN IF NOT EXISTS note String", WITH_GLOBAL)
    assert glob == "ALTER TABLE event_types ON CLUSTER hs ADD COLUMN IF NOT EXISTS note String"


def test_insert_select_goes_through_the_distributed_tables_unchanged() -> None:
    sql = "INSERT INTO rollup\nSELECT app_id FROM attempts GROUP BY app_id"
    assert one(sql)[0] == [sql]


@pytest.mark.parametrize(
    "statement",
    ["DROP TABLE attempts", "CREATE VIEW v AS SELECT 1", "CREATE TABLE t (a UInt8) ENGINE = Memory",
     "CREATE TABLE t (a UInt8)"],
)  # fmt: skip
def test_statements_of_unknown_kinds_are_refused(statement: str) -> None:
    with pytest.raises(ClusterRenderError):
        one(statement)


@pytest.mark.parametrize(("cluster", "database"), [("a-b", DB), ("hs;", DB), (C, "my db")])
def test_names_must_be_plain_identifiers(cluster: str, database: str) -> None:
    with pytest.raises(ClusterRenderError):
        render_statement("ALTER TABLE attempts DROP INDEX i", cluster, database, SHARDED)


def _rendered_schema() -> tuple[tuple[str, ...], list[str], ClusterSchema]:
    preamble, migrations, schema = render_for_cluster(load_migrations(default_migrations_dir()), C, DB)
    return preamble, [s for m in migrations for s in m.statements], schema


def test_the_whole_schema_every_ddl_on_cluster_every_merge_tree_replicated() -> None:
    preamble, statements, schema = _rendered_schema()
    assert preamble[0] == "CREATE DATABASE IF NOT EXISTS hookstream ON CLUSTER hs"
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations'" in preamble[1]
    for statement in (*preamble, *statements):
        if statement.startswith("INSERT"):
            continue
        assert re.match(r"^(CREATE|ALTER) \w+( VIEW)? (IF NOT EXISTS )?\w+ ON CLUSTER hs\b", statement), statement
        engine = re.search(r"ENGINE = (\w+)", statement)
        if engine and engine[1] != "Distributed":
            assert engine[1].startswith("Replicated") and engine[1].endswith("MergeTree"), statement
    # Every table with an application id is sharded by it; the others are everywhere.
    assert {t for t, key in schema.layout.tables.items() if key is None} == {"schema_migrations", "event_types"}
    for table, key in schema.layout.tables.items():
        if key is not None:
            assert key == "cityHash64(app_id)"
            assert (
                f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER hs AS {table}_local\n"
                f"ENGINE = Distributed('hs', 'hookstream', '{table}_local', cityHash64(app_id))"
            ) in statements
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == 3
    for view in views:
        target, source = re.search(r" TO (\w+)\n", view)[1], re.search(r"\bFROM (\w+)", view)[1]  # type: ignore[index]
        assert target.endswith("_local") and source == "attempts_local", view


def test_the_default_rendering_is_the_files_unchanged() -> None:
    """Without ``--cluster`` nothing is rendered: the statements are the files' own."""
    migrations = load_migrations(default_migrations_dir())
    _, rendered, _ = render_for_cluster(migrations, C, DB)
    assert [m.checksum for m in rendered] == [m.checksum for m in migrations]
    assert all("ON CLUSTER" not in s for m in migrations for s in m.statements)


def test_retention_statements_go_to_the_local_tables() -> None:
    _, _, schema = _rendered_schema()
    assert schema.storage_table("attempts") == "attempts_local"
    assert schema.storage_table("event_types") == "event_types"
    tail = "MODIFY COLUMN payload String TTL toDateTime(accepted_at) + INTERVAL 7 DAY"
    assert schema.render(f"ALTER TABLE messages {tail}") == [f"ALTER TABLE messages_local ON CLUSTER hs {tail}"]


def test_migrate_print_needs_no_server(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_URL", "http://127.0.0.1:9/")  # nothing listens: printing must not connect
    assert main(["migrate", "--cluster", "hs", "--print"]) == 0
    out = capsys.readouterr().out
    assert "-- 001_projection" in out and "ENGINE = Distributed('hs'," in out
    assert out.count("ON CLUSTER hs") >= 20
    assert main(["migrate", "--print"]) == 0
    assert "ON CLUSTER" not in capsys.readouterr().out
    with pytest.raises(SystemExit, match="plain identifier"):
        main(["migrate", "--cluster", "a-b", "--print"])


def test_render_errors_name_the_migration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "001_x.sql").write_text("CREATE TABLE t (app_id UUID) ENGINE = Log;")
    with pytest.raises(MigrationError, match="migration 001_x:"):
        render_for_cluster(load_migrations(tmp_path), C, DB)
