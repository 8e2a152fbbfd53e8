import uuid
from datetime import UTC, datetime, timedelta

from hookstream.domain.directory import Directory, SealedSecret, event_type_flags
from hookstream.foundation.secrets import SecretBox
from tests.support import builders


def test_upserts_fold_by_version_and_replays_change_nothing() -> None:
    view = Directory()
    app = builders.application()
    assert view.apply("ApplicationUpserted", app)
    assert not view.apply("ApplicationUpserted", app), "a replayed record must be a no-op"
    v1 = builders.endpoint(app["app_id"], "https://a.example/1")
    v2 = {**v1, "url": "https://a.example/2", "version": 2}
    assert view.apply("EndpointUpserted", v2)
    assert not view.apply("EndpointUpserted", v1), "an older version must not win"
    app_id = uuid.UUID(app["app_id"])
    assert [e.url for e in view.endpoints_of(app_id)] == ["https://a.example/2"]


def test_delete_is_final_for_older_versions() -> None:
    view = Directory()
    app = builders.application()
    view.apply("ApplicationUpserted", app)
    ep = builders.endpoint(app["app_id"], "https://a.example/", version=3)
    view.apply("EndpointUpserted", ep)
    deleted = {"endpoint_id": ep["endpoint_id"], "app_id": app["app_id"], "uid": None, "version": 4,
               "deleted_at": builders.now()}  # fmt: skip
    assert view.apply("EndpointDeleted", deleted)
    assert not view.apply("EndpointUpserted", ep), "a late upsert must not resurrect a deleted endpoint"
    assert view.endpoints_of(uuid.UUID(app["app_id"])) == []
    assert view.apply("ApplicationDeleted", {"app_id": app["app_id"], "uid": None, "version": 2,
                                             "deleted_at": builders.now()})  # fmt: skip
    assert uuid.UUID(app["app_id"]) not in view.applications


def test_endpoint_fields_and_rule() -> None:
    view = Directory()
    app = builders.application()
    ep = builders.endpoint(app["app_id"], "https://a.example/", event_types=["a", "b"], channels=["c"],
                           payload_filter={"data": {"x": 1}}, disabled=True, headers={"x-k": "v"})  # fmt: skip
    view.apply("EndpointUpserted", ep)
    endpoint = view.endpoints[uuid.UUID(ep["endpoint_id"])]
    assert endpoint.event_types == frozenset({"a", "b"}) and endpoint.channels == frozenset({"c"})
    assert endpoint.payload_filter == {"data": {"x": 1}} and endpoint.disabled and endpoint.headers == {"x-k": "v"}
    assert endpoint.rule.endpoint_id == endpoint.endpoint_id and endpoint.rule.disabled


def test_secret_rotation_keeps_unexpired_old_secrets_signing() -> None:
    box = SecretBox([bytes(32)])
    view = Directory()
    app = builders.application()
    ep = builders.endpoint(app["app_id"], "https://a.example/", box=box, secrets=["whsec_old"])
    view.apply("EndpointUpserted", ep)
    now = datetime.now(UTC)
    new_ct, key = box.seal("whsec_new")
    old = dict(ep["secrets"][0], expires_at=now + timedelta(hours=24))
    rotated = {
        "endpoint_id": ep["endpoint_id"],
        "app_id": app["app_id"],
        "version": 2,
        "rotated_at": now,
        "secrets": [{"ciphertext": new_ct, "key_id": key, "created_at": now, "expires_at": None}, old],
    }
    assert view.apply("SecretRotated", rotated)
    endpoint = view.endpoints[uuid.UUID(ep["endpoint_id"])]
    assert [box.open(s.ciphertext, s.key_id) for s in endpoint.signing_secrets(now)] == ["whsec_new", "whsec_old"]
    later = now + timedelta(hours=25)
    assert [box.open(s.ciphertext, s.key_id) for s in endpoint.signing_secrets(later)] == ["whsec_new"]
    assert isinstance(endpoint.secrets[0], SealedSecret)


def test_unknown_event_names_are_ignored() -> None:
    assert not Directory().apply("SomethingElse", {})


def test_an_expunged_event_type_stays_gone_until_a_newer_version_recreates_it() -> None:
    view = Directory()
    at = builders.now()
    v1 = {"name": "invoice.paid", "description": "", "archived": False, "version": 1, "updated_at": at}
    assert view.apply("EventTypeUpserted", v1)
    assert not view.apply("EventTypeDeleted", {"name": "invoice.paid", "version": 1, "deleted_at": at}), "stale"
    assert view.apply("EventTypeDeleted", {"name": "invoice.paid", "version": 2, "deleted_at": at})
    assert "invoice.paid" not in view.event_types
    assert not view.apply("EventTypeUpserted", v1), "a replayed upsert must not resurrect it"
    assert view.apply("EventTypeUpserted", {**v1, "version": 3})
    assert view.event_types["invoice.paid"].version == 3
    fresh = Directory()
    assert fresh.apply("EventTypeDeleted", {"name": "gone", "version": 4, "deleted_at": at}), (
        "a compacted topic may hold only the delete: its tombstone still counts"
    )
    assert not fresh.apply("EventTypeUpserted", {**v1, "name": "gone", "version": 4})


def test_event_type_flags_read_the_old_single_flag_too() -> None:
    assert event_type_flags({"feature_flags": ["a", "b"], "feature_flag": None}) == ["a", "b"]
    assert event_type_flags({"feature_flags": [], "feature_flag": "old"}) == ["old"]
    assert event_type_flags({"feature_flag": None}) == []
