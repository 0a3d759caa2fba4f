"""Filing a request from the pages: a form generated from the SOP's typed fields and
document kinds; the server's validation is the truth, every refusal said beside its field
in the reader's language, the values and the accepted files kept for the next attempt."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sopflow.domain.access import effective_roles
from sopflow.errors import SopflowError
from sopflow.services import Services
from sopflow.web import offers, uploads
from sopflow.web.pages import (
    Email,
    _checked_form,
    _checking,
    _files,
    _form_value,
    _lang,
    _render,
    _services,
)
from sopflow.web.refusals import explain, status_of
from states.machine import CompiledSop
from workflows.client import run_command

router = APIRouter(include_in_schema=False)


@router.get("/requests/new/{sop_id}", response_model=None)
def new_request_form(request: Request, sop_id: str, email: Email) -> Response:
    """A form generated from the SOP's typed fields and document kinds, for those who may
    file under it (the others are told so at once, not after filling it in)."""
    services = _services(request)
    sop = services.sops.catalogue.get(sop_id)
    if not _files(services.directory.member(email), sop):
        refusal = {"code": "role-forbidden", "filing": True, "roles": sop.spec.submission.roles}
        return _render(request, "error.html", 403,
                       error=explain(refusal, _lang(request), sop).summary)  # fmt: skip
    uploads.forget(request, uploads.filing_form(sop_id))  # a fresh form: nothing kept
    return _render(request, "new_request.html", sop=sop, values={}, errors={}, kept={},
                   offer=_offer(services, email, sop))  # fmt: skip


@router.post("/requests/new/{sop_id}", response_model=None)
async def new_request(request: Request, sop_id: str, email: Email) -> Response:
    """File the request; server-side validation is the truth: every error is shown next to
    its field, with the values kept."""
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    services = _services(request)
    sop = services.sops.catalogue.get(sop_id)
    data = {f.id: value for f in sop.spec.fields if f.id in sop.requester_fields
            and (value := _form_value(f, form)) is not None}  # fmt: skip
    filing = uploads.filing_form(sop_id)
    command = {"command": "submit", "sop": sop_id, "as": email, "data": data}
    try:
        documents = await uploads.documents_for(request, services, sop, form, filing,
                                                _checking(services, command))  # fmt: skip
        result = run_command({**command, "documents": documents})
    except SopflowError as exc:
        said = explain(exc.to_dict(), _lang(request), sop)
        # files refused for what they are are not offered again; the others are kept
        kept = uploads.drop(request, filing, set(said.fields))
        return _render(request, "new_request.html", status_of(exc), sop=sop, values=data,
                       errors=said.fields, error=said.summary, kept=kept,
                       offer=_offer(services, email, sop))  # fmt: skip
    uploads.forget(request, filing)
    request.session["done"] = "@filed"
    return RedirectResponse(f"/requests/{result.reference}?done=1", status_code=303)


def _offer(services: Services, email: str, sop: CompiledSop) -> offers.Offer:
    """The filing form for this user: only the documents their filing roles may provide."""
    return offers.filing(sop, effective_roles(services.directory.member(email), sop.spec, None))
