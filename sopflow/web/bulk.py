"""Bulk action from an official's inbox: pick requests and one step, preview what it would
do to each (the same checks as the real step, nothing recorded), confirm, and read the
result of each. Every item is its own command through the ``advance-request`` flow: one
refusal stops nothing else. The confirmation carries each request's version as previewed,
so a request that moved in between is reported as a conflict, not acted on blindly; and an
idempotency key per item, so submitting the confirmation twice applies nothing twice."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sopflow.errors import SopflowError
from sopflow.services import Command
from sopflow.web.i18n import t
from sopflow.web.pages import (
    Email,
    _checked_form,
    _lang,
    _render,
    _services,
    _view_and_sop,
    inbox_page,
)
from sopflow.web.refusals import explain
from workflows.client import run_command

router = APIRouter(include_in_schema=False)
MAX_ITEMS = 100


@dataclass(frozen=True)
class Item:
    reference: str
    ok: bool
    message: str  # the new state's label, or why not
    version: int | None = None


async def _selection(request: Request) -> tuple[Any, list[str], str, str] | Response:
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    refs = [str(r) for r in form.getlist("ref")][:MAX_ITEMS]
    return (
        form,
        list(dict.fromkeys(refs)),
        str(form.get("trigger", "")),
        str(form.get("comment", "")),
    )


@router.post("/inbox/bulk", response_model=None)
async def preview(request: Request, email: Email) -> Response:
    chosen = await _selection(request)
    if isinstance(chosen, Response):
        return chosen
    _, refs, trigger, comment = chosen
    services, lang = _services(request), _lang(request)
    if not refs or not trigger:  # the inbox again, its form as it was sent
        return inbox_page(request, email, 422, t("bulk_none", lang),
                          {"refs": refs, "trigger": trigger, "comment": comment})  # fmt: skip
    items, label = [], trigger
    for ref in refs:
        sop = None
        try:
            view, sop = _view_and_sop(services, ref, email)
            services.commands.check(ref, trigger, email, Command(comment=comment or None,
                                    expected_version=view["version"]))  # fmt: skip
            step = sop.by_state[view["state"]][trigger]
            label = step.label.get(lang)
            items.append(Item(ref, True, sop.states[step.to].label.get(lang), view["version"]))
        except SopflowError as exc:
            items.append(Item(ref, False, explain(exc.to_dict(), lang, sop).summary))
    return _render(request, "bulk.html", items=items, trigger=trigger, comment=comment,
                   label=label, token=secrets.token_urlsafe(12), stage="preview")  # fmt: skip


@router.post("/inbox/bulk/apply", response_model=None)
async def apply(request: Request, email: Email) -> Response:
    chosen = await _selection(request)
    if isinstance(chosen, Response):
        return chosen
    form, refs, trigger, comment = chosen
    services, lang = _services(request), _lang(request)
    token = str(form.get("token", ""))[:40] or secrets.token_urlsafe(12)
    items = []
    for ref in refs:
        version, sop = str(form.get(f"version__{ref}", "")), None
        try:
            _, sop = _view_and_sop(services, ref, email)
            result = run_command({"command": "act", "reference": ref, "as": email,
                                  "trigger": trigger, "comment": comment or None,
                                  "expected_version": int(version) if version.isdigit() else None,
                                  "idempotency_key": f"bulk:{token}:{ref}"})  # fmt: skip
            items.append(Item(ref, True, sop.states[result.state].label.get(lang)))
        except SopflowError as exc:
            items.append(Item(ref, False, explain(exc.to_dict(), lang, sop).summary))
    label = str(form.get("label", "")) or trigger
    return _render(request, "bulk.html", items=items, trigger=trigger, comment=comment,
                   label=label, token=token, stage="results")  # fmt: skip
