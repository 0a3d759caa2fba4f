"""The SOP language: models, YAML loading with locations, linting, JSON Schema."""

from sopflow.spec.loader import ParsedSop, content_hash, parse_sop
from sopflow.spec.models import SopSpec

__all__ = ["ParsedSop", "SopSpec", "content_hash", "parse_sop"]
