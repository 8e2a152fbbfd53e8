"""Analytics on real chDB (and the real broker for rebuild and the APIs): rollups against the raw table,
duplicates, rebuild, every query of docs/analytics.md, ``hookstream sql``, Svix stats, v1 latency/slowest."""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from clickhouse_connect.driver import Client
from svix.api import EndpointGetStatsOptions, EndpointIn
from svix.exceptions import HttpError
from svix.models import ApplicationIn

from hookstream.cli import main as cli_main
from hookstream.domain.access import app_token_key, issue_app_token
from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.settings import Settings
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, TopicNames
from hookstream.projector.expunge import apply_expunge
from hookstream.projector.rebuild import rebuild
from hookstream.projector.rows import attempt_row, endpoint_status_row, message_row
from hookstream.projector.store import write_rows
from hookstream.query.analytics import Granularity, endpoint_status_counts, latency, slowest_endpoints
from hookstream.runtime.sql import QueryRefused, SqlResult, query_readonly
from tests.support import builders
from tests.support.log import send_all
from tests.support.svix_api import ServedApi

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"
NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
PHASES = ("total_us", "dns_us", "tcp_connect_us", "tls_handshake_us", "ttfb_us", "transfer_us")
ERRORS = {500: "http_status", 503: "http_status", 0: "timeout"}


@dataclass
class World:
    attempts: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    statuses: list[dict[str, Any]]

    def write(self, client: Client) -> None:
        write_rows(
            client,
            {
                "messages": [message_row(m).values for m in self.messages],
                "attempts": [attempt_row(a).values for a in self.attempts],
                "message_endpoint_status": [endpoint_status_row(s).values for s in self.statuses],
            },
        )


def _attempt(msg: dict[str, Any], endpoint_id: str, n: int, status: int, at: datetime, rng: random.Random,
             slow_ttfb: bool) -> dict[str, Any]:  # fmt: skip
    record = builders.attempt(msg, endpoint_id, attempt_number=n, status=status if status else 504)
    reused = rng.random() < 0.3
    ttfb = rng.randint(1_000, 50_000) * (4 if slow_ttfb else 1)
    phases = {
        "dns_us": None if reused else rng.choice([rng.randint(50, 3_000), 0]),
        "tcp_connect_us": None if reused else rng.randint(100, 5_000),
        "tls_handshake_us": None if reused or rng.random() < 0.3 else rng.randint(1_000, 20_000),
        "ttfb_us": None if status == 0 else ttfb,
        "transfer_us": None if status == 0 else rng.randint(10, 900),
    }
    total = sum(v or 0 for v in phases.values()) + rng.randint(0, 50)
    ok = 200 <= status < 300
    finished = at + timedelta(microseconds=total)
    record.update(phases, total_us=total, conn_reused=reused, started_at=at, finished_at=finished, due_at=at,
                  response_status=status, status_code_class=status // 100 * 100,
                  status="success" if ok else "failed", error_class=None if ok else ERRORS[status])  # fmt: skip
    return record


def _status(msg: dict[str, Any], endpoint_id: str, last: dict[str, Any], count: int) -> dict[str, Any]:
    state = "success" if last["status"] == "success" else ("fail" if count >= 3 else "pending")
    return {
        "app_id": msg["app_id"], "endpoint_id": endpoint_id, "msg_id": msg["msg_id"], "event_type": msg["event_type"],
        "event_id": None, "channels": [], "status": state, "attempt_count": count,
        "last_attempt_id": last["attempt_id"], "last_attempt_at": last["started_at"],
        "last_response_status": last["response_status"], "next_attempt_at": None, "version": count,
        "updated_at": last["finished_at"],
    }  # fmt: skip


def seed(app_ids: list[str], endpoints: dict[str, list[str]], *, seed_value: int = 7) -> World:
    """Messages to every endpoint over the last 14 days: retries, failures of each kind, reused connections;
    the first endpoint of each application got slower (ttfb x4) in the last 7 days."""
    rng = random.Random(seed_value)
    world = World([], [], [])
    for app_id in app_ids:
        for index, endpoint_id in enumerate(endpoints[app_id]):
            for _ in range(40):
                msg = builders.message(app_id, rng.choice(["invoice.paid", "user.created"]),
                                       payload={"pad": "x" * rng.randint(1, 3000)})  # fmt: skip
                start = NOW - timedelta(minutes=rng.randint(0, 14 * 24 * 60))
                world.messages.append(msg)
                outcomes = rng.choice([[200], [200], [500], [500, 200], [0, 503, 200], [500, 500, 0]])
                last: dict[str, Any] = {}
                for n, status in enumerate(outcomes, start=1):
                    at = start + timedelta(minutes=7 * (n - 1), seconds=rng.randint(0, 59))
                    slow = index == 0 and at >= NOW - timedelta(days=7)
                    last = _attempt(msg, endpoint_id, n, status, at, rng, slow)
                    world.attempts.append(last)
                world.statuses.append(_status(msg, endpoint_id, last, len(outcomes)))
    return world


APP_A, APP_B = str(uuid.uuid4()), str(uuid.uuid4())
ENDPOINTS = {APP_A: [str(uuid.uuid4()), str(uuid.uuid4())], APP_B: [str(uuid.uuid4())]}


def _rollup(client: Client, table: str) -> dict[tuple, tuple]:
    quantiles = ", ".join(
        f"arrayMap(v -> bitShiftRight(v, 24), quantilesExactDistinctMerge(0.5, 0.9, 0.99)({p}_q))" for p in PHASES
    )
    rows = client.query(f"""
        SELECT app_id, endpoint_id, bucket, uniqExactMerge(attempts), uniqExactMerge(successes),
               uniqExactMapMerge(failures_by_error_class), uniqExactMapMerge(by_status_code_class),
               uniqExactMerge(reused_connections), {quantiles}
        FROM {table} GROUP BY app_id, endpoint_id, bucket""").result_rows
    return {tuple(r[:3]): tuple(r[3:]) for r in rows}


def _raw(client: Client, bucket: str) -> dict[tuple, tuple]:
    """The same aggregates from the raw table, one row per attempt first; quantilesExact like the rollup's."""
    quantiles = ", ".join(f"if(count({p}) = 0, [0, 0, 0], quantilesExact(0.5, 0.9, 0.99)({p}))" for p in PHASES)
    rows = client.query(f"""
        SELECT app_id, endpoint_id, toDateTime({bucket}(started_at), 'UTC') AS b, count(), countIf(status = 'success'),
               sumMapIf(map(ifNull(error_class, 'unknown'), toUInt64(1)), status = 'failed'),
               sumMap(map(status_code_class, toUInt64(1))),
               countIf(conn_reused), {quantiles}
        FROM (SELECT * FROM attempts ORDER BY version DESC LIMIT 1 BY attempt_id)
        GROUP BY app_id, endpoint_id, b""").result_rows
    return {tuple(r[:3]): tuple(r[3:]) for r in rows}


def _normal(table: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """Maps compared as dicts (key order differs), ints as ints."""
    return {
        key: tuple(dict(sorted(v.items())) if isinstance(v, dict) else (list(map(int, v)) if isinstance(v, list) else
                   int(v)) for v in values)
        for key, values in table.items()
    }  # fmt: skip


@pytest.fixture
def world(clickhouse: Client) -> World:
    seeded = seed([APP_A, APP_B], ENDPOINTS)
    seeded.write(clickhouse)
    return seeded


@pytest.mark.parametrize(("table", "bucket"), [("attempt_rollup_hourly", "toStartOfHour"),
                                               ("attempt_rollup_daily", "toStartOfDay")])  # fmt: skip
def test_rollups_equal_raw_aggregates_and_ignore_duplicates(
    clickhouse: Client, world: World, table: str, bucket: str
) -> None:
    expected = _normal(_raw(clickhouse, bucket))
    assert len(expected) > 30, "the seed must spread over many buckets"
    assert sum(v[0] for v in expected.values()) == len(world.attempts)
    assert any(v[2] for v in expected.values()) and any(v[4] for v in expected.values())  # failures, reuse
    assert _normal(_rollup(clickhouse, table)) == expected

    # A replayed projector batch (identical rows) and an expunge (rewrites with a higher version) change nothing.
    world.write(clickhouse)
    write_rows(clickhouse, {"attempts": [attempt_row(a).values for a in world.attempts[:25]]})
    msg = world.messages[3]
    assert apply_expunge(clickhouse, {"app_id": msg["app_id"], "msg_id": msg["msg_id"], "attempt_id": None,
                                      "expunged_at": datetime.now(UTC)}) > 0  # fmt: skip
    assert int(clickhouse.command("SELECT count() FROM attempts")) > len(world.attempts), "duplicates are there"
    assert _normal(_rollup(clickhouse, table)) == expected
    assert _normal(_raw(clickhouse, bucket)) == expected


async def test_rebuild_recreates_rollups(
    settings: Settings, topics: TopicNames, producer: EventProducer, clickhouse: Client
) -> None:
    world = seed([APP_A], ENDPOINTS, seed_value=11)
    await send_all(producer, topics(ATTEMPTS), "AttemptFinished", world.attempts, "msg_id")
    # the log itself holds duplicates (an at-least-once producer's retry)
    await send_all(producer, topics(ATTEMPTS), "AttemptFinished", world.attempts[:30], "msg_id")
    world.write(clickhouse)
    expected = {t: _normal(_rollup(clickhouse, t)) for t in ("attempt_rollup_hourly", "attempt_rollup_daily")}
    await rebuild(settings, producer.codec, clickhouse, batch_rows=50, progress=lambda *_: None)
    assert int(clickhouse.command("SELECT count() FROM attempt_rollup_hourly")) > 0
    for table, rows in expected.items():
        assert _normal(_rollup(clickhouse, table)) == rows


def doc_queries() -> list[tuple[list[str], str]]:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    out = []
    for block in blocks:
        header = re.match(r"-- columns: (.*)\n", block)
        assert header, f"every query in {DOC.name} starts with a '-- columns:' line:\n{block}"
        out.append(([c.strip() for c in header.group(1).split(",")], block))
    return out


def _readonly(settings: Settings, sql: str) -> SqlResult:
    """On the test's database through a client of its own (a read-only chDB session cannot be reused)."""
    return query_readonly(settings.resolved_clickhouse_url, settings.clickhouse_database, sql)


def _query_id(value: object) -> str:
    return ",".join(value)[:60] if isinstance(value, list) else ""


def test_doc_has_every_required_query() -> None:
    assert len(doc_queries()) >= 8


@pytest.mark.parametrize(("columns", "sql"), doc_queries(), ids=_query_id)
def test_every_doc_query_runs_with_its_shape(settings: Settings, world: World, columns: list[str], sql: str) -> None:
    result = _readonly(settings, sql)
    assert list(result.columns) == columns
    assert result.rows, "every query has rows on the seeded database"


def test_doc_rollup_query_equals_its_raw_twin(settings: Settings, world: World) -> None:
    queries = {tuple(c): sql for c, sql in doc_queries()}
    rollup = _readonly(settings, queries[("app_id", "endpoint_id", "day", "n_attempts", "n_successes",
                                               "success_rate")]).rows  # fmt: skip
    raw = _readonly(settings, queries[("app_id", "endpoint_id", "day", "n_attempts", "n_successes")]).rows

    def naive(row: tuple) -> tuple:  # one side's DateTime comes back naive, the other's aware; both are UTC
        return (*row[:2], row[2].replace(tzinfo=None), *row[3:5])

    assert rollup and [naive(r) for r in rollup] == [naive(r) for r in raw]


def test_sql_command_prints_a_table_and_refuses_writes(
    settings: Settings, clickhouse: Client, world: World, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("HOOKSTREAM_CLICKHOUSE_URL", settings.resolved_clickhouse_url)
    monkeypatch.setenv("HOOKSTREAM_CLICKHOUSE_DATABASE", settings.clickhouse_database)
    monkeypatch.setenv("HOOKSTREAM_LOG_LEVEL", "WARNING")
    assert cli_main(["sql", "SELECT status, count() AS n FROM attempts GROUP BY status ORDER BY status"]) in (0, None)
    lines = capsys.readouterr().out.splitlines()
    counts = {s: sum(1 for a in world.attempts if a["status"] == s) for s in ("success", "failed")}
    assert lines[0].split() == ["status", "n"] and set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["success", str(counts["success"])]
    assert lines[3].split() == ["failed", str(counts["failed"])]
    assert len(lines[2]) == len(lines[3]), "columns are aligned"
    assert lines[-1] == "(2 rows)"
    assert cli_main(["sql", "--format", "json", "SELECT 1 AS one"]) in (0, None)
    assert capsys.readouterr().out.strip().replace(" ", "").replace("\n", "") == '[{"one":1}]'
    before = int(clickhouse.command("SELECT count() FROM attempts"))
    for write in ("INSERT INTO attempts SELECT * FROM attempts", "DROP TABLE attempts",
                  "SELECT 1 SETTINGS readonly = 0"):  # fmt: skip
        with pytest.raises(SystemExit, match="refused: read-only"):
            cli_main(["sql", write])
        with pytest.raises(QueryRefused):
            _readonly(settings, write)
    assert int(clickhouse.command("SELECT count() FROM attempts")) == before


# --- the APIs (real broker for the config view, in-process HTTP) ---


async def _tenant(api: ServedApi, name: str, endpoints: int) -> tuple[str, list[str]]:
    app = await api.svix.application.create(ApplicationIn(name=name))
    eps = [await api.svix.endpoint.create(app.id, EndpointIn(url=f"https://{name}{i}.example/hook"))
           for i in range(endpoints)]  # fmt: skip
    return app.id, [ep.id for ep in eps]


def _uuid(svix_id: str, kind: IdKind) -> str:
    return str(parse_id(svix_id, kind))


async def test_svix_stats_equal_sql_counts(api: ServedApi, clickhouse: Client) -> None:
    app_id, [ep_id] = await _tenant(api, "stats", 1)
    app_uuid, ep_uuid = _uuid(app_id, IdKind.APPLICATION), _uuid(ep_id, IdKind.ENDPOINT)
    world = seed([app_uuid], {app_uuid: [ep_uuid]})
    world.write(clickhouse)
    since, until = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    stats = await api.svix.endpoint.get_stats(app_id, ep_id, EndpointGetStatsOptions(since=since, until=until))
    sql = clickhouse.query(
        "SELECT toString(status), count() FROM (SELECT msg_id, status FROM message_endpoint_status "
        "WHERE endpoint_id = {e:UUID} ORDER BY version DESC LIMIT 1 BY msg_id) GROUP BY status",
        parameters={"e": ep_uuid},
    ).result_rows
    expected = dict.fromkeys(("success", "pending", "fail", "sending"), 0) | {k: int(v) for k, v in sql}
    assert expected["success"] and expected["fail"] and expected["pending"], "the seed has every outcome"
    got = {"success": stats.success, "pending": stats.pending, "fail": stats.fail, "sending": stats.sending}
    assert got == expected and stats.canceled == 0
    assert got == await endpoint_status_counts(clickhouse, uuid.UUID(app_uuid), uuid.UUID(ep_uuid), since, until)
    empty = await api.svix.endpoint.get_stats(app_id, ep_id, EndpointGetStatsOptions(until=since))
    assert (empty.success, empty.fail, empty.pending) == (0, 0, 0)


async def _get(api: ServedApi, path: str, token: str | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(api.url + path, headers={"Authorization": f"Bearer {token or api.token}"}) as response,
    ):
        return response.status, await response.json()


def _ms(us: int | None) -> float | None:
    return None if us is None else us / 1000


async def test_v1_latency_and_slowest_equal_query_functions_and_isolate_apps(
    api: ServedApi, clickhouse: Client
) -> None:
    app_a, eps_a = await _tenant(api, "alpha", 2)
    app_b, eps_b = await _tenant(api, "beta", 1)
    a, b = _uuid(app_a, IdKind.APPLICATION), _uuid(app_b, IdKind.APPLICATION)
    endpoints = {a: [_uuid(e, IdKind.ENDPOINT) for e in eps_a], b: [_uuid(e, IdKind.ENDPOINT) for e in eps_b]}
    seed([a, b], endpoints).write(clickhouse)
    ep = endpoints[a][0]
    since = NOW - timedelta(days=3)
    status, body = await _get(api, f"/v1/endpoints/{ep}/latency?since={since.isoformat()}&granularity=hour")
    assert status == 200, body
    until = datetime.fromisoformat(body["data"]["until"].replace("Z", "+00:00"))
    expected = await latency(clickhouse, uuid.UUID(a), uuid.UUID(ep), since, until, Granularity.HOUR)
    assert expected and len(body["data"]["buckets"]) == len(expected)
    for got, want in zip(body["data"]["buckets"], expected, strict=True):
        assert datetime.fromisoformat(got["start"].replace("Z", "+00:00")) == want.bucket
        assert (got["attempts"], got["successes"]) == (want.attempts, want.successes)
        for phase, p in want.phases.items():
            assert got["phases"][phase] == {"p50_ms": _ms(p.p50), "p90_ms": _ms(p.p90), "p99_ms": _ms(p.p99)}
    daily = await latency(clickhouse, uuid.UUID(a), uuid.UUID(ep), NOW - timedelta(days=20), until, Granularity.DAY)
    assert sum(d.attempts for d in daily) == int(clickhouse.command(
        f"SELECT uniqExact(attempt_id) FROM attempts WHERE endpoint_id = '{ep}'"))  # fmt: skip

    status, body = await _get(api, f"/v1/apps/{a}/endpoints/slowest")
    assert status == 200, body
    week = datetime.fromisoformat(body["meta"]["since"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(body["meta"]["until"].replace("Z", "+00:00"))
    ranked = await slowest_endpoints(clickhouse, uuid.UUID(a), week, end)
    assert [r["endpoint_id"] for r in body["data"]] == [str(c.endpoint_id) for c in ranked]
    assert {r["endpoint_id"] for r in body["data"]} == set(endpoints[a])
    top = body["data"][0]
    assert top["endpoint_id"] == ep and top["phase"] == "ttfb", "the seeded slowdown is in ttfb of the first endpoint"
    assert top["p99_ms"] == _ms(ranked[0].p99_us) and top["change_ms"] == _ms(ranked[0].change_us) > 0

    # An app-scoped token sees its own application only; another app's ids answer 404 like unknown ones.
    token = issue_app_token(app_token_key(api.token), uuid.UUID(a), int(NOW.timestamp()) + 3600)
    assert (await _get(api, f"/v1/endpoints/{ep}/latency", token))[0] == 200
    assert (await _get(api, f"/v1/apps/{a}/endpoints/slowest", token))[0] == 200
    other = endpoints[b][0]
    status, body = await _get(api, f"/v1/endpoints/{other}/latency", token)
    assert status == 404 and body["error"]["code"] == "ENDPOINT_NOT_FOUND"
    assert (await _get(api, f"/v1/apps/{b}/endpoints/slowest", token))[0] == 404
    assert (await _get(api, f"/v1/endpoints/{uuid.uuid4()}/latency"))[0] == 404
    scoped = api.client(token)
    with pytest.raises(HttpError) as refused:
        await scoped.endpoint.get_stats(app_b, eps_b[0])
    assert refused.value.status_code == 404
    assert (await scoped.endpoint.get_stats(app_a, eps_a[0])).success >= 0

    # Bad input: precise 400s that name the field.
    status, body = await _get(api, f"/v1/endpoints/{ep}/latency?granularity=week")
    assert status == 400 and "granularity" in body["error"]["message"]
    status, body = await _get(api, f"/v1/endpoints/{ep}/latency?since={NOW.isoformat()}&until={since.isoformat()}")
    assert status == 400 and "since" in body["error"]["message"]
    status, body = await _get(api, f"/v1/endpoints/{ep}/latency?since=2000-01-01T00:00:00Z")
    assert status == 400 and "buckets" in body["error"]["message"]
    status, body = await _get(api, f"/v1/apps/{a}/endpoints/slowest?limit=0")
    assert status == 400 and "limit" in body["error"]["message"]


async def test_v1_endpoint_summary_merges_the_window_and_isolates_apps(api: ServedApi, clickhouse: Client) -> None:
    app_a, eps_a = await _tenant(api, "gamma", 2)
    app_b, eps_b = await _tenant(api, "delta", 1)
    a, b = _uuid(app_a, IdKind.APPLICATION), _uuid(app_b, IdKind.APPLICATION)
    endpoints = {a: [_uuid(e, IdKind.ENDPOINT) for e in eps_a], b: [_uuid(e, IdKind.ENDPOINT) for e in eps_b]}
    seed([a, b], endpoints).write(clickhouse)
    since = NOW - timedelta(days=2)
    status, body = await _get(api, f"/v1/apps/{a}/endpoints/summary?since={since.isoformat()}")
    assert status == 200, body
    until = datetime.fromisoformat(body["meta"]["until"].replace("Z", "+00:00"))
    assert {row["endpoint_id"] for row in body["data"]} == set(endpoints[a])
    for row in body["data"]:
        # The rollup's counts equal the raw attempts of the window; its percentiles are the window's, not per hour.
        attempts, successes = clickhouse.query(
            "SELECT uniqExact(attempt_id), uniqExactIf(attempt_id, status = 'success') FROM attempts "
            "WHERE endpoint_id = {e:UUID} AND started_at >= {s:DateTime64(6, 'UTC')} "
            "AND started_at < {u:DateTime64(6, 'UTC')}",
            parameters={"e": row["endpoint_id"], "s": since.replace(minute=0), "u": until},
        ).result_rows[0]
        assert (row["attempts"], row["successes"]) == (attempts, successes) and attempts > 0
        hourly = await latency(clickhouse, uuid.UUID(a), uuid.UUID(row["endpoint_id"]), since, until, Granularity.HOUR)
        assert sum(h.attempts for h in hourly) == attempts
        highest = max(h.phases["total"].p99 or 0 for h in hourly)
        assert row["p50_ms"] <= row["p99_ms"] <= _ms(highest)
    token = issue_app_token(app_token_key(api.token), uuid.UUID(a), int(NOW.timestamp()) + 3600)
    assert (await _get(api, f"/v1/apps/{a}/endpoints/summary", token))[0] == 200
    assert (await _get(api, f"/v1/apps/{b}/endpoints/summary", token))[0] == 404
