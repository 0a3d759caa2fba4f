"""The JSON Schema of the SOP language, for editors (YAML language servers) and other tools."""

from __future__ import annotations

import json
from typing import Any

from sopflow.spec.models import SopSpec

SCHEMA_ID = "https://sopflow.invalid/schema/sop.schema.json"
SCHEMA_FILE = "sop.schema.json"


def _shorthands(node: Any) -> Any:
    """Teach the schema the short forms the loader accepts: ``from: draft`` (a string for a
    list), ``to: requester`` (a recipient) and a bare rule name (a rule reference)."""
    if isinstance(node, list):
        return [_shorthands(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if ref == "#/$defs/Recipient":
        return {"anyOf": [{"const": "requester"}, node]}
    if ref == "#/$defs/RuleRef":
        return {"anyOf": [{"type": "string"}, node]}
    result = {key: _shorthands(value) for key, value in node.items()}
    source = result.get("properties", {}).get("from")
    if isinstance(source, dict) and source.get("type") == "array":
        result["properties"]["from"] = {"anyOf": [{"type": "string"}, source]}
    return result


def sop_json_schema() -> dict[str, Any]:
    schema = _shorthands(SopSpec.model_json_schema(by_alias=True, mode="validation"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "sopflow SOP definition",
        **schema,
    }


def sop_json_schema_text() -> str:
    return json.dumps(sop_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
