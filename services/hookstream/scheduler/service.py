"""The ``schedule`` role: the retry stream processor and the delay-tier consumer, started and stopped together."""

from __future__ import annotations

import asyncio

from hookstream.foundation.settings import Settings
from hookstream.foundation.tasks import Lifecycle
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.streams import stop_app
from hookstream.log.topics import TopicNames
from hookstream.scheduler.retries import SchedulerMetrics, build_retry_app
from hookstream.scheduler.tiers import TierForwarder


class Scheduler(Lifecycle):
    """``attempts`` -> delay tiers (faust) and delay tiers -> ``tasks`` (aiokafka), in one process.

    ``producer`` is the process's shared producer (its owner stops it); the
    faust app produces through its own, which faust flushes before committing.
    A schedule without delays (``0s``, or ``0s,0s``) has no tiers and no tier consumer.
    """

    def __init__(
        self, settings: Settings, codec: AvroCodec, producer: EventProducer, metrics: SchedulerMetrics
    ) -> None:
        self.app = build_retry_app(settings, codec, metrics)
        has_tiers = bool(TopicNames.from_settings(settings).tiers)
        self.tiers = TierForwarder(settings, codec, producer, metrics) if has_tiers else None

    async def start(self) -> Scheduler:
        """Both halves join their groups concurrently: pending retries fire even while faust is still joining."""
        starts = [self.app.start()] + ([self.tiers.start()] if self.tiers is not None else [])
        results = await asyncio.gather(*starts, return_exceptions=True)
        failed = [result for result in results if isinstance(result, BaseException)]
        if failed:
            await self.stop()
            raise failed[0]
        return self

    async def stop(self) -> None:
        if self.tiers is not None:
            await self.tiers.stop()
        await stop_app(self.app)

    async def abort(self) -> None:
        """The tier consumer stops as a crash would (nothing committed); the faust app stops normally."""
        if self.tiers is not None:
            await self.tiers.abort()
        await stop_app(self.app)
