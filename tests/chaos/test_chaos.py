"""Faults R1-R4 of issue 9, R5 (kill -9 of the store, issue 16) and R6 (kill -9 of the intake role under a load
written to the intake topic, issue 20), against hookstream scaled out into one process per role.

Reduced by default (part of ``make test``, about three minutes): R1 kills two
roles drawn from the seed, once each, the broker and projector faults are
held for less time, R5 kills the store once and R6 the intake role once. ``make chaos`` sets
``HOOKSTREAM_CHAOS_KILLS=10`` for the full run (every role and the store, ten
times); ``HOOKSTREAM_CHAOS_ROLES`` and ``HOOKSTREAM_CHAOS_SEED`` choose the
roles and replay a run. The faults share one cluster, load and ledger, in
order, so every check covers everything accepted so far. Figures are printed
as a table and appended to ``bench/results/chaos.jsonl``.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hookstream.log.topics import INTAKE
from hookstream.projector.rebuild import DERIVED_TABLES
from hookstream.projector.rows import COLUMNS, KEY_COLUMN
from tests.chaos.cluster import ROLES, Cluster, get_health
from tests.chaos.load import Ledger, post_one, setup, steady_intake_load, steady_load, wait_delivered
from tests.support.receivers import Receiver
from tests.support.results import report

pytestmark = pytest.mark.e2e

KILLS = int(os.environ.get("HOOKSTREAM_CHAOS_KILLS", "1"))
FULL = KILLS >= 10
SEED = int(os.environ.get("HOOKSTREAM_CHAOS_SEED", str(int(time.time()))))
RATE = 10.0  # messages per second through the API
KILLED_ROLES = int(os.environ.get("HOOKSTREAM_CHAOS_ROLES", str(len(ROLES) if FULL else 2)))
"""Roles killed in R1: all of them in the full run; in the reduced one a sample drawn from the seed
(printed with the figures), so successive CI runs cover every role in turn."""
BROKER_DOWN_S = 8.0 if FULL else 3.0
FAULT_HOLD_S = 4.0 if FULL else 2.0


@dataclass
class Chaos:
    cluster: Cluster
    ledger: Ledger
    rows: list[dict[str, Any]] = field(default_factory=list)


async def _probe(chaos: Chaos, timeout_s: float = 60) -> None:
    """POST unnumbered messages until every endpoint got one: the router and workers know the config."""
    ledger = chaos.ledger
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while not all(receiver.received for receiver in ledger.receivers):
            assert time.monotonic() < deadline, "routing did not start within the timeout"
            for app in ("chaos-a", "chaos-b"):
                body = {"eventType": "order.created", "payload": {"probe": True}}
                url = f"{chaos.cluster.api_url}/api/v1/app/{app}/msg"
                auth = {"Authorization": f"Bearer {chaos.cluster.token}"}
                async with session.post(url, json=body, headers=auth) as resp:
                    assert resp.status == 202, await resp.text()
            await asyncio.sleep(1.0)


@pytest.fixture(scope="module")
async def chaos(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chaos]:
    cluster = Cluster(tmp_path_factory.mktemp("chaos"))
    receivers = [await Receiver().start() for _ in range(3)]
    try:
        await cluster.start_broker()
        cluster.start_store()
        await cluster.wait_store()
        await cluster.create_topics()
        await cluster.start_all()
        state = Chaos(cluster, Ledger(receivers))
        async with aiohttp.ClientSession() as session:
            await setup(session, cluster.api_url, cluster.token, state.ledger)
        await _probe(state)
        yield state
        if state.rows:
            report("chaos", [{"seed": SEED, "kills_per_role": KILLS, **row} for row in state.rows], quick=not FULL)
    finally:
        await asyncio.to_thread(cluster.stop_all)
        await asyncio.to_thread(cluster.stop_store)
        if cluster.broker is not None:
            await cluster.stop_broker()
        for receiver in receivers:
            await receiver.stop()


def _all_alive(cluster: Cluster) -> None:
    processes = [*cluster.roles.values(), *([cluster.store] if cluster.store else [])]
    dead = {proc.role: proc.process and proc.process.returncode for proc in processes if not proc.alive()}
    assert not dead, f"processes died on their own: {dead}; see {cluster.work}"


async def _check_projection(chaos: Chaos) -> dict[str, Any]:
    """Stop the projector once it has caught up, read the attempts, start it again."""
    cluster = chaos.cluster
    await asyncio.sleep(2)  # the last deliveries' attempt records are being produced
    await cluster.wait_projector_caught_up()
    await asyncio.to_thread(cluster.terminate, "project")
    columns = "toString(msg_id), toString(endpoint_id), toString(attempt_id), toString(status)"
    sql = f"SELECT DISTINCT {columns} FROM attempts"
    [attempts] = await asyncio.to_thread(cluster.query, sql)
    figures = chaos.ledger.check_projection(attempts)
    cluster.start_role("project")
    await cluster.wait_healthy("project")
    return figures


def _settled(chaos: Chaos, fault: str, extra: dict[str, Any]) -> None:
    figures = chaos.ledger.figures()
    chaos.rows.append({"fault": fault, **figures, **extra})
    assert figures["lost"] == 0
    chaos.ledger.check_duplicates()


async def test_r1_kill_9_each_role_in_turn_loses_nothing(chaos: Chaos) -> None:
    cluster, rng = chaos.cluster, random.Random(SEED)
    recoveries: list[float] = []
    async with steady_load(cluster.api_url, cluster.token, chaos.ledger, RATE):
        await asyncio.sleep(2)
        victims = ROLES if len(ROLES) <= KILLED_ROLES else tuple(rng.sample(ROLES, KILLED_ROLES))
        for _ in range(KILLS):
            for role in victims:
                await asyncio.sleep(rng.uniform(0.5, 3.0))
                killed = time.monotonic()
                await asyncio.to_thread(cluster.kill9, role)
                await asyncio.sleep(rng.uniform(0.1, 1.0))
                cluster.start_role(role)
                await cluster.wait_healthy(role)
                recoveries.append(time.monotonic() - killed)
                _all_alive(cluster)
        await asyncio.sleep(2)
    drain = await wait_delivered(chaos.ledger, 300)
    projection = await _check_projection(chaos)
    recoveries.sort()
    _settled(chaos, "R1 kill -9", {
        "faults": len(recoveries), "roles_killed": ",".join(victims),
        "recovery_p50_s": recoveries[len(recoveries) // 2], "recovery_max_s": recoveries[-1],
        "drain_s": drain, **projection,
    })  # fmt: skip


async def _wait_all(cluster: Cluster, status: int, timeout_s: float) -> dict[str, float]:
    """Seconds until each role's /health answers ``status``."""
    started, seen = time.monotonic(), {}
    while len(seen) < len(cluster.roles):
        assert time.monotonic() - started < timeout_s, f"/health not {status} everywhere: {seen}"
        for role, proc in cluster.roles.items():
            if role not in seen and (await asyncio.to_thread(get_health, proc.port, 4.0))[0] == status:
                seen[role] = time.monotonic() - started
        await asyncio.sleep(0.25)
    return seen


async def test_r2_broker_stopped_and_restarted_mid_load(chaos: Chaos) -> None:
    cluster = chaos.cluster
    pids = {role: proc.pid for role, proc in cluster.roles.items()}
    bootstrap = cluster.bootstrap
    async with steady_load(cluster.api_url, cluster.token, chaos.ledger, RATE):
        await asyncio.sleep(3)
        await cluster.stop_broker()
        down_at = time.monotonic()
        unhealthy = await _wait_all(cluster, 503, 30)
        await asyncio.sleep(max(0.0, BROKER_DOWN_S - (time.monotonic() - down_at)))
        await cluster.start_broker()
        assert cluster.bootstrap == bootstrap, "the broker came back on other ports"
        healthy = await _wait_all(cluster, 200, 120)
        await asyncio.sleep(3)
    _all_alive(cluster)
    assert {role: proc.pid for role, proc in cluster.roles.items()} == pids, "a service was restarted"
    accepted = len(chaos.ledger.accepted)
    async with aiohttp.ClientSession() as session:  # the API's producer, too, works again after the restart
        for _ in range(5):
            await post_one(session, cluster.api_url, cluster.token, chaos.ledger)
            if len(chaos.ledger.accepted) > accepted:
                break
    assert len(chaos.ledger.accepted) > accepted, f"POSTs refused after the broker came back: {chaos.ledger.refused}"
    drain = await wait_delivered(chaos.ledger, 300)
    projection = await _check_projection(chaos)
    _settled(chaos, "R2 broker stop/start", {
        "faults": 1, "broker_down_s": round(time.monotonic() - down_at, 1),
        "health_503_within_s": max(unhealthy.values()), "recovery_max_s": max(healthy.values()),
        "drain_s": drain, **projection,
    })  # fmt: skip


def _snapshot(cluster: Cluster) -> tuple[list[Any], list[Any]]:
    """Row count of every projection table, and the first 50 rows of each by its key, merged (FINAL)."""
    tables = sorted({*COLUMNS, *DERIVED_TABLES})
    counts = [f"SELECT '{t}', count() FROM {t} FINAL" for t in tables]
    keys = {**KEY_COLUMN, "attempts_by_msg": KEY_COLUMN["attempts"]}
    samples = [f"SELECT * FROM {t} FINAL ORDER BY {keys[t]} LIMIT 50" for t in tables if t in keys]
    results = cluster.query(*counts, *samples)
    return results[: len(tables)], results[len(tables) :]


async def test_r3_tables_dropped_and_rebuilt_from_the_log(chaos: Chaos) -> None:
    cluster = chaos.cluster
    await cluster.wait_projector_caught_up()
    await asyncio.to_thread(cluster.terminate, "project")
    counts, samples = await asyncio.to_thread(_snapshot, cluster)
    await asyncio.to_thread(cluster.query, drop_database=True)
    started = time.monotonic()
    rebuilt = await asyncio.to_thread(cluster.rebuild)
    seconds = time.monotonic() - started
    if rebuilt.returncode != 0:
        cluster.start_role("project")
        raise AssertionError(rebuilt.stdout + rebuilt.stderr[-3000:])
    # Not on a terminal: no redrawn bar in the log, one summary line of the replay.
    assert "\r" not in rebuilt.stderr
    assert [line for line in rebuilt.stderr.splitlines() if line.startswith("rebuild: ")], rebuilt.stderr[-2000:]
    try:
        counts_after, samples_after = await asyncio.to_thread(_snapshot, cluster)
    finally:  # the next fault needs the projector whatever happened here
        cluster.start_role("project")
        await cluster.wait_healthy("project")
    assert counts_after == counts
    assert samples_after == samples
    rows = {table: count for [[table, count]] in counts}
    chaos.rows.append({"fault": "R3 drop + rebuild", "faults": 1, "rebuild_s": seconds, **rows})


async def _projector_unhealthy(cluster: Cluster, timeout_s: float = 30) -> tuple[float, dict[str, Any]]:
    """Seconds until the project role's ``/health`` names the projector failing (its write), and the body."""
    started = time.monotonic()
    while True:
        status, body = await asyncio.to_thread(get_health, cluster.roles["project"].port)
        if status == 503 and "projector" in body.get("failing", ()):
            return time.monotonic() - started, body
        assert time.monotonic() - started < timeout_s, f"projector health stayed {status}: {body}"
        await asyncio.sleep(0.25)


def _chattr(path: Path, flag: str) -> None:
    subprocess.run(["chattr", "-R", flag, str(path)], check=True, capture_output=True)


async def test_r4_projector_write_fault_pauses_it_and_it_catches_up(chaos: Chaos) -> None:
    """The fault: the projection's data directory made immutable (``chattr +i``: read-only even for root)."""
    cluster = chaos.cluster
    store = cluster.store_dir / "store"
    assert store.is_dir(), f"no chDB store under {cluster.store_dir}"
    async with steady_load(cluster.api_url, cluster.token, chaos.ledger, RATE):
        await asyncio.sleep(2)
        _chattr(store, "+i")
        try:
            detected, body = await _projector_unhealthy(cluster)
            assert body["failing"] == ["projector"], body
            committed, _ = await cluster.projector_lag()
            await asyncio.sleep(FAULT_HOLD_S)
            committed_later, ends = await cluster.projector_lag()
            assert committed_later == committed, "offsets were committed while writes failed"
            assert sum(ends.values()) > sum(committed.values()), "no records arrived during the fault"
            _all_alive(cluster)
        finally:
            _chattr(store, "-i")
        repaired = time.monotonic()
        _, at_repair = await cluster.projector_lag()
        await cluster.wait_healthy("project", 60)
        # Everything on the log at the repair projected and committed, while the load goes on.
        await cluster.wait_projector_caught_up(target=at_repair)
        caught_up = time.monotonic() - repaired
    for _ in range(3):  # a few more after the load, so the last batch is fresh
        async with aiohttp.ClientSession() as session:
            await post_one(session, cluster.api_url, cluster.token, chaos.ledger)
    drain = await wait_delivered(chaos.ledger, 300)
    projection = await _check_projection(chaos)
    _settled(chaos, "R4 projector read-only dir", {
        "faults": 1, "health_503_within_s": detected, "recovery_max_s": caught_up, "drain_s": drain, **projection,
    })  # fmt: skip


async def test_r5_kill_9_of_the_store_under_load_loses_nothing(chaos: Chaos) -> None:
    """Issue 16: the store, the one process owning the embedded ClickHouse, killed under load and started again.

    While it is down the projector holds its batch and retries: it is unhealthy, and commits no offset
    past rows it could not write. Once the store is back on its port every role reaches it again unrestarted.
    """
    cluster, rng = chaos.cluster, random.Random(SEED + 16)
    pids = {role: proc.pid for role, proc in cluster.roles.items()}
    detections, recoveries, held = [], [], []
    async with steady_load(cluster.api_url, cluster.token, chaos.ledger, RATE):
        await asyncio.sleep(2)
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            killed = time.monotonic()
            await asyncio.to_thread(cluster.kill9, "store")
            detected, _ = await _projector_unhealthy(cluster)
            detections.append(detected)
            committed, _ = await cluster.projector_lag()
            await asyncio.sleep(FAULT_HOLD_S)
            committed_later, ends = await cluster.projector_lag()
            assert committed_later == committed, "offsets were committed while the store was down"
            held.append(sum(ends.values()) - sum(committed.values()))
            cluster.start_store()
            await cluster.wait_store()
            _all_alive(cluster)
            _, at_repair = await cluster.projector_lag()
            await _wait_all(cluster, 200, 60)
            await cluster.wait_projector_caught_up(target=at_repair)
            recoveries.append(time.monotonic() - killed)
        await asyncio.sleep(2)
    _all_alive(cluster)
    assert {role: proc.pid for role, proc in cluster.roles.items()} == pids, "a role was restarted"
    drain = await wait_delivered(chaos.ledger, 300)
    projection = await _check_projection(chaos)
    recoveries.sort()
    _settled(chaos, "R5 store kill -9", {
        "faults": len(recoveries), "health_503_within_s": max(detections), "records_held_min": min(held),
        "recovery_p50_s": recoveries[len(recoveries) // 2], "recovery_max_s": recoveries[-1],
        "drain_s": drain, **projection,
    })  # fmt: skip


async def test_r6_kill_9_of_intake_under_intake_load_loses_nothing(chaos: Chaos) -> None:
    """Issue 20: CloudEvents written to the intake topic while the intake role is killed and started again.

    Every record the broker acknowledged is delivered to every matching endpoint, under the message id derived
    from where it landed: a record read again after the kill is the same message, not a second one.
    """
    cluster, rng = chaos.cluster, random.Random(SEED + 20)
    recoveries: list[float] = []
    topic = cluster.namespace + INTAKE
    async with steady_intake_load(cluster.bootstrap, topic, chaos.ledger, RATE):
        await asyncio.sleep(2)
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            killed = time.monotonic()
            await asyncio.to_thread(cluster.kill9, "intake")
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            cluster.start_role("intake")
            await cluster.wait_healthy("intake")
            recoveries.append(time.monotonic() - killed)
            _all_alive(cluster)
        await asyncio.sleep(2)
    drain = await wait_delivered(chaos.ledger, 300)
    recoveries.sort()
    _settled(chaos, "R6 intake kill -9", {
        "faults": len(recoveries), "recovery_p50_s": recoveries[len(recoveries) // 2],
        "recovery_max_s": recoveries[-1], "drain_s": drain,
    })  # fmt: skip
