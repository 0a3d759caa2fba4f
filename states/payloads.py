"""What a command's payload brings: its comment checked, its data normalised against the
SOP's fields and the fields the step may write, its documents against the SOP's kinds.

Pure: every error is collected, so that one refusal names everything to correct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sopflow.errors import FieldError
from sopflow.spec import values
from states.machine import CompiledSop
from states.model import DocumentRef, Payload

# A comment is a note on one step, kept in the event for ever; a longer text is a document.
MAX_COMMENT = 5000


def comment_errors(payload: Payload) -> list[FieldError]:
    if payload.comment is not None and "\x00" in payload.comment:
        return [
            FieldError(
                "comment", "nul-character", "holds a NUL character (0x00), which cannot be stored"
            )
        ]
    if payload.comment is not None and len(payload.comment) > MAX_COMMENT:
        return [FieldError("comment", "too-long", f"at most {MAX_COMMENT} characters "
                           f"({len(payload.comment)} given)", {"limit": MAX_COMMENT})]  # fmt: skip
    return []


def validated(
    sop: CompiledSop, payload: Payload, writable: frozenset[str] | None
) -> tuple[dict[str, Any], list[FieldError]]:
    """The payload's data normalised, and every error of its data and documents."""
    clean, errors = values.validate_data(sop.fields, payload.data, allowed=writable)
    errors.extend(document_errors(sop, payload.documents))
    return clean, errors


def document_errors(sop: CompiledSop, documents: Sequence[DocumentRef]) -> list[FieldError]:
    """Every document of a kind the SOP does not declare, larger than its kind allows or of
    a media type its kind does not take."""
    kinds = {d.id: d for d in sop.spec.documents}
    errors: list[FieldError] = []
    for doc in documents:
        kind = kinds.get(doc.kind)
        if kind is None:
            errors.append(
                FieldError(
                    f"document:{doc.kind}",
                    "unknown-document",
                    f"no document kind '{doc.kind}' in this SOP",
                )
            )
        elif doc.size > kind.max_size_mb * 1_000_000:
            errors.append(
                FieldError(
                    f"document:{doc.kind}",
                    "document-too-large",
                    f"{doc.file_name} is larger than {kind.max_size_mb} MB",
                    {"file": doc.file_name, "limit": kind.max_size_mb * 1_000_000},
                )
            )
        elif doc.media_type not in kind.media_types:
            errors.append(
                FieldError(
                    f"document:{doc.kind}",
                    "document-type",
                    f"{doc.file_name} is {doc.media_type}; allowed: {', '.join(kind.media_types)}",
                    {
                        "file": doc.file_name,
                        "media": doc.media_type,
                        "allowed": list(kind.media_types),
                    },
                )
            )
    return errors
