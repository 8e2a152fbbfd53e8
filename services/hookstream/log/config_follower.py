"""The follower of the compacted ``config`` topic: it folds each record into a ``Directory``.

Named for what it follows: ``config`` is the topic; the ``Directory``
(``domain/directory.py``) is what it builds; sealing secrets lives in
``foundation/secrets.py``. A ``TopicFollower``: ``start()`` reads the topic to the end offsets it saw
when it started, so a service never routes or delivers with a partial view,
then keeps following it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hookstream.domain.directory import Directory
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.follower import TopicFollower

log = logging.getLogger("hookstream.config")

Listener = Callable[[str, dict], None]


class ConfigFollower(TopicFollower):
    def __init__(self, bootstrap: str, topic: str, codec: AvroCodec) -> None:
        super().__init__(bootstrap, topic)
        self.view = Directory()
        self._codec = codec
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Called with each config event after it is folded in (e.g. to drop a decrypted-secret cache)."""
        self._listeners.append(listener)

    async def start(self) -> ConfigFollower:
        await super().start()
        return self

    def _fold(self, value: bytes | None, offset: int, partition: int) -> None:
        if value is None:
            return  # a tombstone: the delete event before it already removed the entity
        try:
            name, record = self._codec.decode(value)
        except UndecodableRecord as error:
            # The config topic has no dead-letter consumer of its own: the projector dead-letters
            # config records; here it is enough to skip and say so.
            log.error(
                "undecodable config record skipped",
                extra={"partition": partition, "offset": offset, "reason": error.reason},
            )
            return
        if self.view.apply(name, record):
            for listener in self._listeners:
                listener(name, record)
