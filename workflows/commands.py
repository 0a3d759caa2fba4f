"""Commands as plain JSON, the way flows receive them (parameters of a flow run, lines of a
JSONL batch), validated with precise errors and applied through the services.

A document travels as a reference to the content-addressed document store
(``{"kind", "file_name", "sha256"}``): the caller stores the bytes first, so that a worker on
another machine reads them from the shared store rather than from the flow's parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sopflow.errors import FieldError, InvalidData
from sopflow.services import Command, CommandResult, Services
from sopflow.store.blobs import Upload
from sopflow.text_input import read_text


class DocumentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    file_name: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    path: str | None = None  # in a JSONL batch: a file next to it (read by the importer)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    actor: str = Field(alias="as", min_length=3)
    data: dict[str, Any] = Field(default_factory=dict)
    documents: list[DocumentSpec] = Field(default_factory=list)
    comment: str | None = None
    reason: str | None = None
    idempotency_key: str | None = Field(default=None, max_length=200)
    expected_version: int | None = None


class Submit(_Spec):
    command: Literal["submit"]
    sop: str


class Act(_Spec):
    command: Literal["act"]
    reference: str
    trigger: str


class Attach(_Spec):
    command: Literal["attach"]
    reference: str


CommandSpec = Annotated[Submit | Act | Attach, Field(discriminator="command")]
_ADAPTER: TypeAdapter[Submit | Act | Attach] = TypeAdapter(CommandSpec)


def parse(raw: Any, *, where: str = "command") -> Submit | Act | Attach:
    """A command from JSON, or ``InvalidData`` listing every problem with its place."""
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        errors = [FieldError(".".join(str(p) for p in e["loc"]) or "command", e["type"], e["msg"])
                  for e in exc.errors()]  # fmt: skip
        raise InvalidData(errors, context=where) from exc


def store_documents(services: Services, spec: Submit | Act | Attach, base: Path) -> None:
    """Put the files a batch line names (``path``) into the document store; keep the refs."""
    for doc in spec.documents:
        if doc.path is None:
            continue
        path = (base / doc.path).resolve()
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise InvalidData([FieldError(f"document:{doc.kind}", "unreadable",
                                          f"{doc.path}: {exc.strerror}")]) from exc  # fmt: skip
        stored = services.ctx.blobs.put(Upload(doc.kind, path.name, content))
        doc.sha256, doc.file_name, doc.path = stored.sha256, stored.file_name, None


def _command(services: Services, spec: Submit | Act | Attach,
             flow_run_id: str | None) -> Command:  # fmt: skip
    uploads = []
    for doc in spec.documents:
        if doc.sha256 is None:
            raise InvalidData([FieldError(f"document:{doc.kind}", "missing-field",
                                          "a document needs its sha256 in the store")])  # fmt: skip
        content = services.ctx.blobs.read(doc.sha256)
        uploads.append(Upload(doc.kind, doc.file_name or doc.kind, content))
    return Command(data=spec.data, documents=uploads, comment=spec.comment, reason=spec.reason,
                   idempotency_key=spec.idempotency_key, expected_version=spec.expected_version,
                   flow_run_id=flow_run_id)  # fmt: skip


def check(services: Services, raw: Any) -> None:
    """Raise what a filing or a step would be refused for, recording nothing."""
    spec = parse(raw)
    cmd = _command(services, spec, None)
    if isinstance(spec, Submit):
        services.commands.check_filing(spec.sop, spec.actor, cmd)
    elif isinstance(spec, Act):
        services.commands.check(spec.reference, spec.trigger, spec.actor, cmd)


def apply(services: Services, spec: Submit | Act | Attach,
          flow_run_id: str | None = None) -> CommandResult:  # fmt: skip
    """Run one command through the services (one transaction)."""
    cmd = _command(services, spec, flow_run_id)
    if isinstance(spec, Submit):
        return services.commands.submit(spec.sop, spec.actor, cmd)
    if isinstance(spec, Act):
        return services.commands.act(spec.reference, spec.trigger, spec.actor, cmd)
    return services.commands.attach(spec.reference, spec.actor, cmd)


def batch_lines(path: Path) -> list[str]:
    """The lines of a JSONL batch (UTF-8; see ``sopflow.text_input``)."""
    return read_text(path, "FILE", context="batch").splitlines()
