"""The JSON Schema of the SOP language, for editors (YAML language servers) and other tools."""

from __future__ import annotations

import json
from typing import Any

from sopflow.spec.models import SopSpec

SCHEMA_ID = "https://sopflow.invalid/schema/sop.schema.json"
SCHEMA_FILE = "sop.schema.json"


def sop_json_schema() -> dict[str, Any]:
    schema = SopSpec.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "sopflow SOP definition",
        **schema,
    }


def sop_json_schema_text() -> str:
    return json.dumps(sop_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
