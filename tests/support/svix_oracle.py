"""Svix's published OpenAPI documents (``tests/support/svix_openapi``) as schemas to check hookstream's wire against.

The oracle itself (request building, response validation, ``$ref``
resolution, nullability) is ``tests.support.peer_oracle``, shared with
Outpost's; here is what is Svix's: where the documents are, the ``/api/v1/``
operations they describe, and the request-field aliases of Svix's server.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import peer_oracle
from tests.support.openapi import OpenApiDocument
from tests.support.peer_oracle import Difference, load_document

__all__ = ["ALIASES", "Difference", "Oracle", "lib_document", "server_document"]

HERE = Path(__file__).parent / "svix_openapi"
# Request-field aliases from the server's serde attributes, which neither document shows (README in svix_openapi).
ALIASES = {"filterTypes": "eventTypes", "data": "payload"}


def server_document() -> OpenApiDocument:
    """``server/openapi.json``: the open-source server's own operations."""
    return load_document(json.loads((HERE / "server-openapi.json").read_text()))


def lib_document() -> OpenApiDocument:
    """``codegen/lib-openapi.json``: every operation the SDKs know (Svix's hosted service's too)."""
    return load_document(json.loads(gzip.decompress((HERE / "lib-openapi.json.gz").read_bytes())))


@dataclass
class Oracle(peer_oracle.Oracle):
    """The oracle with Svix's documents' ``/api/v1/`` operations and its server's request aliases.

    Looked up in the server's document, then in the SDK superset (the order ``documents`` are given).
    """

    peer: str = "Svix"
    prefix: str = "/api/v1/"
    aliases: Mapping[str, str] = field(default_factory=lambda: dict(ALIASES))
