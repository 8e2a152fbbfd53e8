"""Endpoint secrets never reach a log, and the config topic holds them only sealed.

Every role and the API run as one ``hookstream run`` process on the test
broker, logging JSON at DEBUG (the most it ever says). The test creates
endpoints with given and generated secrets, rotates both ways, delivers,
fails a delivery, then searches every byte the process wrote for each secret
in all the spellings that could leak it: the ``whsec_`` text, its base64 body
and the decoded key bytes. The same search runs over the raw records of the
config topic, read without the codec.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets as random_secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer
from standardwebhooks import Webhook

from hookstream.domain.signing import decode_secret
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import CONFIG, TopicNames
from hookstream.runtime.local_kafka import free_port
from tests.conftest import ReceiverFactory
from tests.support.receivers import Reply

pytestmark = pytest.mark.integration

TOKEN = "hs_op_secrets-test-token"


def _spellings(secret: str) -> list[bytes]:
    """Every form a leaked secret could take in a log line or a record."""
    body = secret.removeprefix("whsec_")
    key = decode_secret(secret)
    return [secret.encode(), body.encode(), key, base64.urlsafe_b64encode(key).rstrip(b"="), key.hex().encode()]


def _leaks(haystack: bytes, created: list[str]) -> list[str]:
    return [secret for secret in created if any(form in haystack for form in _spellings(secret))]


async def _raw_topic(bootstrap: str, topic: str) -> bytes:
    """Keys, values and headers of every record on ``topic``, as stored."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    chunks: list[bytes] = []
    try:
        while batch := await consumer.getmany(timeout_ms=1500):
            for record in (r for records in batch.values() for r in records):
                chunks += [record.key or b"", record.value or b"", *(value for _, value in record.headers or ())]
    finally:
        await consumer.stop()
    return b"\n".join(chunks)


def _launch(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Every role and the API in one ``hookstream run`` process, all its output in one file."""
    with log_path.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "hookstream.cli", "run"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


async def test_secrets_appear_in_no_log_and_only_sealed_on_the_config_topic(
    settings: Settings, topics: TopicNames, receivers: ReceiverFactory, tmp_path: Path
) -> None:
    good = await receivers.plain()
    bad = await receivers.plain(lambda _: Reply(500, b"nope"))
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOOKSTREAM_")}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "HOOKSTREAM_TOPIC_NAMESPACE": settings.topic_namespace,
        "HOOKSTREAM_RETRY_SCHEDULE": settings.retry_schedule,
        "HOOKSTREAM_CLICKHOUSE_URL": settings.clickhouse_url,
        "HOOKSTREAM_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "HOOKSTREAM_DATA_DIR": str(tmp_path / "data"),
        "HOOKSTREAM_HTTP_PORT": str(port),
        "HOOKSTREAM_OPERATOR_TOKEN": TOKEN,
        "HOOKSTREAM_SECRET_KEYS": new_key_text(),
        "HOOKSTREAM_DELIVERY_ALLOWED_NETWORKS": "127.0.0.0/8",
        "HOOKSTREAM_LOG_LEVEL": "DEBUG",
        "HOOKSTREAM_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "hookstream.log"
    process = _launch(env, log_path)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created: list[str] = []
    try:
        async with aiohttp.ClientSession(base, headers=auth) as http:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log_path.read_text()[-3000:]
                try:
                    async with http.get("/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "hookstream run did not become healthy"
                await asyncio.sleep(0.5)

            async def call(method: str, path: str, body: dict | None = None) -> dict:
                async with http.request(method, "/api/v1" + path, json=body) as resp:
                    assert resp.status < 300, (method, path, resp.status, await resp.text())
                    return await resp.json() if resp.status != 204 else {}

            await call("POST", "/app", {"name": "secrets", "uid": "secrets"})
            given = "whsec_" + base64.b64encode(random_secrets.token_bytes(24)).decode()
            created.append(given)
            ep_given = (await call("POST", "/app/secrets/endpoint", {"url": good.url, "secret": given}))["id"]
            ep_made = (await call("POST", "/app/secrets/endpoint", {"url": bad.url}))["id"]
            created.append((await call("GET", f"/app/secrets/endpoint/{ep_made}/secret"))["key"])
            rotated = "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()
            created.append(rotated)
            await call("POST", f"/app/secrets/endpoint/{ep_given}/secret/rotate", {"key": rotated})
            created.append((await call("POST", f"/app/secrets/endpoint/{ep_made}/secret/rotate", {}))["key"])
            assert (await call("GET", f"/app/secrets/endpoint/{ep_given}/secret"))["key"] == rotated

            await asyncio.sleep(1)  # the router and the worker read the rotation from the config topic
            for n in range(3):
                await call("POST", "/app/secrets/msg", {"eventType": "secret.test", "payload": {"n": n}})
            deliveries = await good.wait_for(3, timeout_s=60)
            await bad.wait_for(2, timeout_s=60)  # the failure and its retry are logged too
        for delivery in deliveries:
            Webhook(rotated).verify(delivery.body, delivery.headers)  # the secrets really were in use
            Webhook(given).verify(delivery.body, delivery.headers)  # the old one still signs in its grace period
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    logs = log_path.read_bytes()
    assert b'"level": "debug"' in logs or b'"level": "info"' in logs, "the process wrote no JSON logs"
    assert len(created) == 4 and len(set(created)) == 4
    assert not _leaks(logs, created), "a secret appears in the logs"
    raw_config = await _raw_topic(settings.kafka_bootstrap_servers, topics(CONFIG))
    assert good.url.encode() in raw_config, "the endpoint records are not where the search looked"
    assert not _leaks(raw_config, created), "a secret is readable on the config topic"
