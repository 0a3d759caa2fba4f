"""The files of a page's form: put in the document store, and kept across a refusal.

A browser empties every file input of a page it shows again, so a refusal (a value out of
range, a missing field) used to cost the user every file they had chosen. The files that
were accepted are already in the content-addressed document store: the session (signed:
a user cannot name someone else's file) remembers them per form, the page shows them as
kept, and the next attempt uses them for every kind it brings no new file of. A success,
or the form opened afresh, forgets them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from sopflow.errors import FieldError, InvalidData, RequirementNotMet, SopflowError, Unmet
from sopflow.services import Services
from sopflow.store.blobs import Upload

SESSION_KEY = "kept_uploads"
Ref = dict[str, str]  # kind, file_name, sha256: a document in the store, for a command


async def _received(services: Services, sop: Any,
                    form: Any) -> tuple[dict[str, Ref], list[FieldError]]:  # fmt: skip
    """The files of a form, put in the document store, by kind. A file input per document
    kind (``document__<kind>``), and one of a kind chosen from a list (``document__other``
    with ``other_kind``). A file over the size limit is refused before it is stored."""
    kinds = [d.id for d in sop.spec.documents]
    chosen = [(kind, form.get(f"document__{kind}")) for kind in kinds]
    other, other_kind = form.get("document__other"), str(form.get("other_kind", ""))
    chosen.append((other_kind, other))
    limit = services.ctx.max_document_bytes
    documents: dict[str, Ref] = {}
    errors = []
    if isinstance(other, UploadFile) and other.filename and other_kind not in kinds:
        errors.append(FieldError("document:other", "missing-kind",
                                 f"{other.filename}: choose the kind of this document",
                                 {"file": other.filename}))  # fmt: skip
    for kind, upload in chosen:
        if kind in kinds and isinstance(upload, UploadFile) and upload.filename:
            content = await upload.read(limit + 1)  # no more than needed to see it is too big
            if len(content) > limit:
                errors.append(FieldError(f"document:{kind}", "document-too-large",
                                         f"{upload.filename} exceeds {limit} bytes",
                                         {"file": upload.filename, "limit": limit}))  # fmt: skip
                continue
            try:
                stored = services.ctx.blobs.put(Upload(kind, str(upload.filename), content))
            except InvalidData as exc:  # empty, or not what its name says: the others go on
                errors.extend(exc.errors)
                continue
            documents[kind] = {"kind": kind, "file_name": stored.file_name,
                               "sha256": stored.sha256}  # fmt: skip
    return documents, errors


# the forms that carry files, each named once here
def filing_form(sop_id: str) -> str:
    return f"new:{sop_id}"


def step_form(reference: str, trigger: str) -> str:
    # a trigger is an SOP id: the cut only bounds what a forged form puts in the session
    return f"act:{reference}:{trigger[:64]}"


def attach_form(reference: str) -> str:
    return f"attach:{reference}"


def kept(request: Request, form_id: str) -> dict[str, Ref]:
    """The files this user's earlier attempt at this form left, by kind."""
    return dict(request.session.get(SESSION_KEY, {}).get(form_id, {}))


def forget(request: Request, form_id: str) -> None:
    _forget(request, lambda name: name == form_id)


def forget_request(request: Request, reference: str) -> None:
    """Forget the files kept by the forms of one request's page (its steps, adding files)."""
    steps = step_form(reference, "")
    _forget(request, lambda name: name == attach_form(reference) or name.startswith(steps))


def drop(request: Request, form_id: str, kinds: set[str]) -> dict[str, Ref]:
    """Forget the kept files of ``kinds`` (refused for what they are); the others remain."""
    documents = {k: d for k, d in kept(request, form_id).items() if k not in kinds}
    _keep(request, form_id, documents)
    return documents


def _forget(request: Request, gone: Callable[[str], bool]) -> None:
    every = request.session.get(SESSION_KEY, {})
    if any(gone(name) for name in every):  # the session is written only when it changes
        request.session[SESSION_KEY] = {k: v for k, v in every.items() if not gone(k)}


# the session lives in a cookie (~4 KB at most): the forms of the last few attempts only
MAX_FORMS = 4


def _keep(request: Request, form_id: str, documents: dict[str, Ref]) -> None:
    every = {k: v for k, v in request.session.get(SESSION_KEY, {}).items() if k != form_id}
    if documents:
        every[form_id] = documents  # the newest last
    request.session[SESSION_KEY] = dict(list(every.items())[-MAX_FORMS:])


async def documents_for(request: Request, services: Services, sop: Any, form: Any,
                        form_id: str, check: Check | None = None) -> list[Ref]:  # fmt: skip
    """The documents a command from this form carries: its new files, and those kept from
    its last attempt for the kinds it brings none of. The accepted ones are kept (until
    ``forget``) before a refused file is reported, so no refusal loses them; ``check``
    (the command with these documents, recording nothing) adds every other mistake of the
    form to the refusal, so that one refusal lists them all."""
    new, errors = await _received(services, sop, form)
    documents = {**kept(request, form_id), **new}
    _keep(request, form_id, documents)
    if errors:
        more, unmet = other_mistakes(check, list(documents.values()), errors)
        raise InvalidData(errors + more, unmet=unmet)
    return list(documents.values())


Check = Callable[[list[Ref]], object]


def other_mistakes(check: Callable[[list[Any]], object] | None, documents: list[Any],
                   refused: list[FieldError]) -> tuple[list[FieldError], list[Unmet]]:  # fmt: skip
    """The rest of the form's mistakes, beside its refused files: its data errors and the
    step's requirements it does not meet (a field to fill in, a comment, a condition), but
    not the documents missing because their files were refused. A refusal of another kind
    (a role, a state) waits for the files."""
    if check is None:
        return [], []
    bad = {e.field.removeprefix("document:") for e in refused}
    try:
        check(documents)
    except (InvalidData, RequirementNotMet) as exc:
        named = {e.field for e in refused} | {f"document:{k}" for k in bad}
        errors = exc.errors if isinstance(exc, InvalidData) else []
        # a document missing because its file was refused is not also said to be missing
        return [e for e in errors if e.field not in named], [
            u for u in exc.unmet if not (u.code == "missing-document" and u.subject in bad)
        ]
    except SopflowError:
        pass
    return [], []
