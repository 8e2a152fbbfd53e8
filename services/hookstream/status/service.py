"""The ``status`` role's lifecycle: the status processor's faust app, started and stopped as a service."""

from __future__ import annotations

from hookstream.foundation.settings import Settings
from hookstream.foundation.tasks import Lifecycle
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.streams import stop_app
from hookstream.status.processor import StatusMetrics, build_status_app


class StatusProcessor(Lifecycle):
    """``cache`` is the process's config view (started and stopped by its owner).

    ``name`` sets the faust app id under the namespace (its consumer group and
    changelog prefix): a second name re-derives every status from the start
    of ``attempts`` with empty tables, which is how a rebuild is done.
    """

    def __init__(
        self,
        settings: Settings,
        codec: AvroCodec,
        cache: ConfigFollower,
        metrics: StatusMetrics,
        *,
        name: str = "status",
    ) -> None:
        self.app = build_status_app(settings, codec, cache, metrics, name=name)

    async def start(self) -> StatusProcessor:
        await self.app.start()
        return self

    async def stop(self) -> None:
        await stop_app(self.app)
