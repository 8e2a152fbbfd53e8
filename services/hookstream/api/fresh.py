"""Fresh lookups in the config view: what every dialect does before answering "no such entity".

The view follows the ``config`` topic a moment behind it, so an entity
another API process created a moment ago may not be in it yet. A miss waits
once for the view to reach the end of the topic and looks again; only a
second miss is an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hookstream.log.config_follower import ConfigFollower

T = TypeVar("T")


async def find_fresh(cache: ConfigFollower, find: Callable[[], T | None]) -> T | None:
    """``find()``; when it finds nothing, ``find()`` again once the view has caught up with the topic."""
    found = find()
    if found is None:
        await cache.catch_up()
        found = find()
    return found


async def get_fresh(cache: ConfigFollower, find: Callable[[], T | None], missing: Callable[[], Exception]) -> T:
    """:func:`find_fresh`, raising the dialect's ``missing()`` (its 404) when there is still nothing."""
    found = await find_fresh(cache, find)
    if found is None:
        raise missing()
    return found
