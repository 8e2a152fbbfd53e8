"""Hookdeck Outpost's published OpenAPI document (``tests/support/outpost_openapi``) as the Outpost dialect's oracle.

The oracle itself is ``tests.support.peer_oracle``, shared with Svix's; here
is what is Outpost's: where its document is, the one slip in it the check
works around (README there), and that every response field hookstream sends
must be one Outpost's schema names (Outpost's schemas require almost nothing,
so the names are what a client can rely on).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support import peer_oracle
from tests.support.openapi import OpenApiDocument
from tests.support.peer_oracle import Difference, load_document

__all__ = ["Difference", "Oracle", "document"]

HERE = Path(__file__).parent / "outpost_openapi"


def document() -> OpenApiDocument:
    """``docs/apis/openapi.yaml`` of hookdeck/outpost v1.1.0, with ``Attempt.event``'s ``oneOf`` read as ``anyOf``.

    ``EventFull`` and ``EventSummary`` require no field and allow any other, so every event is valid under
    both and a ``oneOf`` of them holds for none: as published, no attempt with an event could pass.
    """
    doc = yaml.safe_load((HERE / "openapi.yaml").read_text())
    event = doc["components"]["schemas"]["Attempt"]["properties"]["event"]
    event["anyOf"] = event.pop("oneOf")
    return load_document(doc)


@dataclass
class Oracle(peer_oracle.Oracle):
    """The oracle with Outpost's operations (its paths are relative to ``/api/v1``) and names checked."""

    peer: str = "Outpost"
    names_declared: bool = True
