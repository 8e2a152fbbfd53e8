"""A tombstone on a projected topic (a pruned status on ``status``) writes no row and does not start a batch."""

from __future__ import annotations

from hookstream.log.consumer import TOMBSTONE, Event
from hookstream.projector.service import RowBatch


def test_a_tombstone_is_skipped() -> None:
    batch = RowBatch()
    batch.add([Event("ns.status", 0, 7, b"01959a3d-0000-7abc-8def-0123456789ab", TOMBSTONE, {})])
    assert (batch.size, batch.started, dict(batch.rows)) == (0, None, {})
    assert not batch.due(max_rows=1, max_age_s=0.0), "nothing to flush"
