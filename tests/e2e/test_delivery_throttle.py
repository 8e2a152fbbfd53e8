"""An endpoint's rate limit on the real broker: a 10/s endpoint receives 10/s while its neighbour runs at full speed.

A ceiling is a correctness property, not a speed target: the throttled
endpoint's arrivals (timed by the receiver on 127.0.0.1) in any one-second
window stay within rate + burst, its total over the window is the rate times
the window, and the unthrottled endpoint of the same application is not
slowed: it receives its whole backlog long before the throttled one gets
through a fraction of its own. ``bench/throttle.py`` measures the same over a
minute.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from hookstream.delivery import throttle
from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.worker import DeliveryWorker
from hookstream.domain.signing import generate_secret
from hookstream.foundation.secrets import SecretBox, new_key_text, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, TASKS, TopicNames
from tests.conftest import ReceiverFactory
from tests.support import builders
from tests.support.builders import delivery_task
from tests.support.log import send_all

pytestmark = pytest.mark.e2e

RATE = 10
WINDOW_S = 12
BURST = throttle.BURST
TRANSIT = 1
"""Arrivals are timed by the receiver, after a trip through two busy event loops on a shared machine: tens of
milliseconds of jitter can bring one more start into a window than the sender's schedule allows."""


def busiest_second(arrivals: list[float]) -> int:
    """The most arrivals in any one-second window (each window starting at an arrival)."""
    return max(sum(start <= t < start + 1.0 for t in arrivals) for start in arrivals)


async def test_throttled_endpoint_receives_at_its_rate_and_its_neighbour_at_full_speed(
    settings: Settings, topics: TopicNames, producer: EventProducer, receivers: ReceiverFactory
) -> None:
    settings = settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.0/8")
    box = SecretBox(parse_keys(settings.secret_keys))
    secret = generate_secret(b"t" * 32)
    slow, fast = await receivers.plain(), await receivers.plain()
    app_id = builders.application()["app_id"]
    ep_slow = builders.endpoint(app_id, slow.url, box=box, secrets=[secret], rate_limit=RATE)
    ep_fast = builders.endpoint(app_id, fast.url, box=box, secrets=[secret])
    await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep_slow, ep_fast], "endpoint_id")
    backlog_slow, backlog_fast = RATE * WINDOW_S + 20, 600
    tasks = [delivery_task(ep_slow, n=n) for n in range(backlog_slow)]
    tasks += [delivery_task(ep_fast, n=n) for n in range(backlog_fast)]
    await send_all(producer, topics(TASKS), "DeliveryTask", tasks, "endpoint_id")

    worker = DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), worker_id="worker-throttle")
    await worker.start()
    try:
        await slow.wait_for(RATE * WINDOW_S + 5, timeout_s=WINDOW_S + 20)
        await fast.wait_for(backlog_fast, timeout_s=5)
    finally:
        await worker.stop()

    slow_at = sorted(r.at for r in slow.received)
    fast_at = sorted(r.at for r in fast.received)
    begin = min(slow_at[0], fast_at[0])
    in_window = [t for t in slow_at if t < begin + WINDOW_S]
    assert busiest_second(slow_at) <= RATE + BURST + TRANSIT, "a ceiling per second, burst included"
    assert abs(len(in_window) - RATE * WINDOW_S) <= 0.1 * RATE * WINDOW_S, (len(in_window), RATE * WINDOW_S)
    webhook_ids = {next(v for k, v in r.headers.items() if k.lower() == "webhook-id") for r in slow.received}
    assert len(webhook_ids) == len(slow.received), "paced, not repeated"
    fast_in_window = sum(t < begin + WINDOW_S for t in fast_at)
    assert fast_in_window == backlog_fast, "the neighbour's whole backlog arrived within the window"
    assert fast_at[-1] - begin < WINDOW_S / 2, "and in well under the time the throttled one needs"
