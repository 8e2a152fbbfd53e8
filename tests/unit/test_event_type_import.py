"""Event types read from an OpenAPI document's webhooks, and what an import of them changes."""

from __future__ import annotations

import json

import pytest

from hookstream.domain.event_type_import import (
    Change,
    ImportedType,
    InvalidSpec,
    changes,
    read_spec,
    webhook_event_types,
)

PET = {"required": ["id", "name"], "properties": {"id": {"type": "integer", "format": "int64"},
                                                   "name": {"type": "string"}, "tag": {"type": "string"}}}  # fmt: skip
# Svix's own example of specRaw (EventTypeImportOpenApiIn in its document), trimmed.
RAW = """
openapi: 3.1.0
info:
  title: Webhook Example
  version: 1.0.0
webhooks:
  "pet.new":
    post:
      requestBody:
        description: Information about a new pet in the system
        content:
          application/json:
            schema:
              $ref: "#/components/schemas/Pet"
      responses:
        "200":
          description: Return a 200 status to indicate that the data was received successfully
components:
  schemas:
    Pet:
      required:
        - id
        - name
      properties:
        id:
          type: integer
          format: int64
        name:
          type: string
        tag:
          type: string
"""


def test_svix_s_example_becomes_one_event_type_with_its_schema_inlined():
    [pet] = webhook_event_types(read_spec(None, RAW))
    assert pet == ImportedType("pet.new", "", {"1": PET}, False)
    assert pet.out() == {"name": "pet.new", "description": "", "schemas": {"1": PET}, "deprecated": False,
                         "groupName": None, "featureFlags": None}  # fmt: skip


def test_json_text_and_a_parsed_spec_read_the_same():
    spec = read_spec(None, RAW)
    assert read_spec(None, json.dumps(spec)) == spec
    assert webhook_event_types(read_spec(spec, None)) == webhook_event_types(spec)


def test_both_sections_are_read_and_webhooks_wins_a_name_in_both():
    body = {"content": {"application/json": {"schema": {"type": "object"}}}}
    spec = {
        "x-webhooks": {"a.old": {"post": {"summary": "old style"}}, "both": {"post": {"summary": "from x-webhooks"}}},
        "webhooks": {"both": {"post": {"description": "from webhooks", "summary": "s", "deprecated": True,
                                       "requestBody": body}}},
    }  # fmt: skip
    found = {t.name: t for t in webhook_event_types(spec)}
    assert found["a.old"] == ImportedType("a.old", "old style", None, False)
    assert found["both"] == ImportedType("both", "from webhooks", {"1": {"type": "object"}}, True)


def test_references_resolve_through_bodies_and_nested_schemas():
    ref = {"schema": {"$ref": "#/components/schemas/O"}}
    lines = {"type": "array", "items": {"$ref": "#/components/schemas/L"}}
    spec = {
        "webhooks": {"order.paid": {"post": {"requestBody": {"$ref": "#/components/requestBodies/Order"}}}},
        "components": {
            "requestBodies": {"Order": {"content": {"application/json": ref}}},
            "schemas": {"O": {"type": "object", "properties": {"lines": lines}},
                        "L": {"type": "object", "description": "a line"}},
        },
    }  # fmt: skip
    [order] = webhook_event_types(spec)
    assert order.schemas == {"1": {"type": "object", "properties": {"lines": {"type": "array", "items": {
        "type": "object", "description": "a line"}}}}}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"webhooks": {"bad name!": {"post": {}}}}, "not a valid event type name"),
        ({"webhooks": {"a": {"parameters": []}}}, "has no operation"),
        ({"webhooks": {"a": {"post": {"requestBody": {"$ref": "other.yaml#/X"}}}}}, "only references within"),
        ({"webhooks": {"a": {"post": {"requestBody": {"$ref": "#/components/nothing"}}}}}, "points at nothing"),
        ({"webhooks": ["a"]}, "must be an object"),
        (
            {"webhooks": {"a": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/N"}}}}}}},
             "components": {"schemas": {"N": {"properties": {"next": {"$ref": "#/components/schemas/N"}}}}}},
            "recursive",
        ),
    ],
)  # fmt: skip
def test_what_cannot_be_read_is_refused_with_the_reason(spec, reason):
    with pytest.raises(InvalidSpec, match=reason):
        webhook_event_types(spec)


@pytest.mark.parametrize(
    ("spec", "raw", "reason"),
    [(None, None, "exactly one"), ({}, "{}", "exactly one"), (None, "a: [", "not YAML"), (None, "- 1", "an object"),
     (None, "a: &x [1]\nb: *x", "aliases"), (None, "a: " + "[" * 3000 + "]" * 3000, "nested too deeply")],
)  # fmt: skip
def test_the_document_comes_from_exactly_one_readable_source(spec, raw, reason):
    with pytest.raises(InvalidSpec, match=reason):
        read_spec(spec, raw)


def test_yaml_dates_read_as_strings():
    assert read_spec(None, "info: {version: 2024-01-02}") == {"info": {"version": "2024-01-02"}}


def _record(t: ImportedType, *, archived: bool = False) -> dict:
    return {"name": t.name, "description": t.description, "schemas": json.dumps(t.schemas) if t.schemas else None,
            "deprecated": t.deprecated, "archived": archived}  # fmt: skip


def test_an_import_changes_only_what_differs_and_brings_archived_types_back():
    same = ImportedType("same", "d", {"1": {"type": "object"}}, False)
    edited = ImportedType("edited", "new text", None, False)
    back = ImportedType("back", "", None, False)
    new = ImportedType("new", "", None, True)
    current = {"same": _record(same), "edited": _record(ImportedType("edited", "old text", None, False)),
               "back": _record(back, archived=True), "other": _record(ImportedType("other", "", None, False)),
               "gone": _record(ImportedType("gone", "", None, False), archived=True)}  # fmt: skip
    imported = [same, edited, back, new]
    assert changes(imported, current, replace_all=False) == [Change("edited", edited), Change("back", back),
                                                             Change("new", new)]  # fmt: skip
    replaced = changes(imported, current, replace_all=True)
    assert replaced[-1] == Change("other", None), "replaceAll archives the live types it does not name, only those"
    assert len(replaced) == 4
