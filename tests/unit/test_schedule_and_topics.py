import pytest

from hookstream.domain.schedule import InvalidSchedule, delay_tiers, parse_duration, parse_schedule, tier_name
from hookstream.foundation.settings import load_settings
from hookstream.log.topics import TopicNames, catalogue


@pytest.mark.parametrize(
    ("text", "seconds"), [("0s", 0), ("5s", 5), ("5m", 300), ("2h", 7200), ("250ms", 0.25), ("1d", 86400)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m5", "5 minutes", "-5s", "1w"])
def test_bad_duration_is_named(text: str) -> None:
    with pytest.raises(InvalidSchedule, match="is not a duration"):
        parse_duration(text)


def test_default_schedule_tiers() -> None:
    schedule = parse_schedule("0s,5s,5m,30m,2h,5h,10h,10h")
    assert schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert [tier_name(d) for d in delay_tiers(schedule)] == ["5s", "5m", "30m", "2h", "5h", "10h"]
    assert tier_name(90) == "90s"
    assert tier_name(1.5) == "1500ms"


def test_empty_schedule_is_an_error() -> None:
    with pytest.raises(InvalidSchedule, match="empty"):
        parse_schedule(" , ")


def test_catalogue_has_every_topic_of_the_design_under_the_namespace() -> None:
    settings = load_settings(env={"HOOKSTREAM_TOPIC_NAMESPACE": "acme."})
    specs = {spec.name: spec for spec in catalogue(settings)}
    expected = {"config", "messages", "tasks", "attempts", "status", "commands", "operational", "deadletter"}
    expected |= {"idempotency", "intake"}
    expected |= {f"retry.{tier}" for tier in ["5s", "5m", "30m", "2h", "5h", "10h"]}
    assert set(specs) == {f"acme.{name}" for name in expected}
    assert specs["acme.config"].compacted and specs["acme.status"].compacted
    assert specs["acme.config"].config["cleanup.policy"] == "compact"
    assert not specs["acme.attempts"].compacted
    idempotency = specs["acme.idempotency"].config
    assert idempotency["cleanup.policy"] == "compact,delete", "Kafka itself forgets keys past the window"
    assert idempotency["retention.ms"] == str(12 * 3600 * 1000) and idempotency["segment.ms"] == "3600000"
    short = {s.name: s for s in catalogue(settings.replace(api_idempotency_window="90s"))}["acme.idempotency"]
    assert (short.config["retention.ms"], short.config["segment.ms"]) == ("90000", "90000")
    assert specs["acme.tasks"].partitions == settings.topic_partitions
    intake, letters = specs["acme.intake"], specs["acme.deadletter"]
    assert intake.partitions == specs["acme.messages"].partitions and intake.config["cleanup.policy"] == "delete"
    assert int(letters.config["max.message.bytes"]) > int(intake.config["max.message.bytes"]) == (16 << 20), (
        "an intake record fits whole in its dead letter"
    )
    names = TopicNames("acme.", settings.retry_schedule)
    assert names.retry_tier(1800) == "acme.retry.30m"
