"""docs/producers.md quotes the producer examples whole, and the suite runs those same files
(tests/e2e/test_producers.py): a doc block that drifts from its file fails here. Its Debezium connector cannot
run here (no Kafka Connect, no database), so the records that config makes the outbox event router write are
built from it and must be accepted by intake."""

import json
import re

from hookstream.domain.directory import Directory
from hookstream.domain.intake import OUTBOX, Accepted, IntakeRecord, IntakeRules, interpret
from hookstream.foundation.settings import load_settings
from hookstream.log.topics import INTAKE, TopicNames
from tests.support import builders
from tests.support.producers import EXAMPLES

ROOT = EXAMPLES.parents[1]
DOC = ROOT / "docs" / "producers.md"
QUOTED = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)^```$", re.DOTALL | re.MULTILINE)
# Generated or fetched by the build, not written by hand: never quoted.
UNQUOTED = {"go.sum", "package-lock.json"}


def _quoted() -> dict[str, str]:
    return {match["path"]: match["code"] for match in QUOTED.finditer(DOC.read_text())}


def test_every_quoted_block_is_its_file() -> None:
    for path, code in _quoted().items():
        assert code == (ROOT / path).read_text(), f"docs/producers.md's block of {path} differs from the file"


def test_every_example_file_is_quoted() -> None:
    written = {
        str(path.relative_to(ROOT))
        for path in EXAMPLES.rglob("*")
        if path.is_file()
        and path.name not in UNQUOTED
        and not {"target", "node_modules", "__pycache__"} & set(path.relative_to(EXAMPLES).parts)
    }
    assert set(_quoted()) == written


def _debezium_configs() -> tuple[dict[str, str], dict[str, str]]:
    """The connector's config in the Debezium section, and the same config with the second way of naming the app."""
    section = DOC.read_text().split("\n## Debezium", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```\w*\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    connector = json.loads(blocks[0])["config"]
    return connector, connector | json.loads("{" + blocks[1].strip().rstrip(",") + "}")


def _outbox_record(config: dict[str, str], row: dict[str, str]) -> IntakeRecord:
    """What the outbox event router writes for ``row`` under ``config``: the event id in header ``id``, each
    additional placement in its header, the key column as the (string-converted) key, the payload column (text)
    as JsonConverter writes a string: a JSON string holding the JSON."""
    assert config["key.converter"].endswith("StringConverter")
    assert config["value.converter"].endswith("JsonConverter") and config["value.converter.schemas.enable"] == "false"
    headers = [("id", row[config["transforms.outbox.table.field.event.id"]].encode())]
    for placement in config["transforms.outbox.table.fields.additional.placement"].split(","):
        column, where, name = placement.split(":")
        assert where == "header", placement
        headers.append((name, row[column].encode()))
    key = row[config["transforms.outbox.table.field.event.key"]].encode()
    value = json.dumps(row[config["transforms.outbox.table.field.event.payload"]]).encode()
    topic = config["transforms.outbox.route.topic.replacement"]
    return IntakeRecord(topic, 0, 42, 1_780_000_000_000, key, value, tuple(headers))


def test_the_debezium_connector_of_the_doc_writes_records_intake_accepts() -> None:
    view = Directory()
    view.apply("ApplicationUpserted", {**builders.application(), "uid": "billing"})
    row = {"id": "5f0c7a0e-8d1c-4c9b-a7a4-0d5b3b6f2b11", "aggregatetype": "invoice", "aggregateid": "inv_1001",
           "type": "invoice.paid", "payload": '{"invoiceId": "inv_1001"}', "app_uid": "billing"}  # fmt: skip
    for config in _debezium_configs():
        record = _outbox_record(config, row)
        assert record.topic == TopicNames.from_settings(load_settings(env={}))(INTAKE)
        result = interpret(record, IntakeRules(), view)
        assert isinstance(result, Accepted), result
        assert result.format == OUTBOX
        assert (result.record["event_type"], result.record["event_id"]) == ("invoice.paid", row["id"])
        assert json.loads(result.record["payload"]) == json.loads(row["payload"])
