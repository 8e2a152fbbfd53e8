"""One ClickHouse client is shared by every request of an API process: queries from concurrent requests run at
once on it (each in its own thread) and must all be answered, as a ClickHouse server answers them."""

from __future__ import annotations

import asyncio

from clickhouse_connect.driver import Client

from hookstream.query.common import select


async def test_concurrent_queries_on_one_client_are_all_answered(clickhouse: Client) -> None:
    queries = [
        select(clickhouse, "SELECT sleepEachRow(0.05) AS slept, {n:UInt32} AS n FROM numbers(4)", {"n": n})
        for n in range(8)
    ]
    results = await asyncio.gather(*queries)
    assert [sorted({row["n"] for row in rows}) for rows in results] == [[n] for n in range(8)]
