"""A page keeps the newest version of each id, in the order the ids first appear."""

from hookstream.query.common import newest_versions


def test_the_highest_version_of_each_id_wins_in_first_appearance_order() -> None:
    rows = [
        {"id": "a", "version": 1, "body": "old"},
        {"id": "a", "version": 3, "body": "expunged"},
        {"id": "b", "version": 2, "body": "b"},
        {"id": "a", "version": 2, "body": "replayed"},
        {"id": "c", "version": 1, "body": "c"},
    ]
    assert [(r["id"], r["body"]) for r in newest_versions(rows, "id")] == [("a", "expunged"), ("b", "b"), ("c", "c")]


def test_no_rows_no_ids() -> None:
    assert newest_versions([], "id") == []
