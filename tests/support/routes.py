"""Path templates (``/app/{app_id}/msg/{msg_id}``, aiohttp's and OpenAPI's alike): their parameters, filled in."""

from __future__ import annotations


def path_params(pattern: str) -> list[str]:
    return [part[1:-1] for part in pattern.split("/") if part.startswith("{")]


def fill(pattern: str, values: dict[str, str]) -> str:
    """The path with each parameter replaced; one the caller has no value for gets a harmless name."""
    path = pattern
    for name in path_params(pattern):
        path = path.replace("{" + name + "}", values.get(name, "some-name"))
    return path
