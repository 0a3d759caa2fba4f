"""Pages for people: password sign-in (argon2) with a signed session cookie whose session
the server keeps (``services.sessions``: signing out ends it), a CSRF token on every form,
failed sign-ins throttled; the requests a user may see and a request page
with exactly the actions the user may take now, in Arabic (right to left), French or English.
"""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sopflow.domain.access import Member, effective_roles
from sopflow.errors import SopflowError
from sopflow.services import ListFilter, Services
from sopflow.web import i18n, offers, uploads
from sopflow.web.display import display, grounds
from sopflow.web.refusals import explain, status_of
from sopflow.web.status import duties, status
from states.machine import CompiledSop
from workflows.client import run_command
from workflows.commands import check as check_command

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters.update(
    day=i18n.day,
    moment=i18n.moment,
    localized=i18n.localized,
    display=display,
    grounds=grounds,
    file_size=i18n.file_size,
    clauses=i18n.clauses,
)
TEMPLATES.env.globals.update(colon=i18n.colon, words=i18n.WORDS)
router = APIRouter(include_in_schema=False)


def page_of(request: Request) -> tuple[str, list[tuple[str, str]]]:
    """The address of the page shown (its path, always same-site, and its query). A page
    shown after a form was posted has no address of its own to show again: it is the page
    the form is on (a request's page for its steps, the inbox for its bulk steps)."""
    path, query = request.url.path, [(k, v) for k, v in request.query_params.multi_items()
                                     if k != "lang"]  # fmt: skip
    if request.method != "GET":
        query = []
        if path.startswith("/inbox/"):
            path = "/inbox"
        elif path == "/logout":
            path = "/login"
        elif path.startswith("/requests/") and path.endswith(("/act", "/attach")):
            path = path.rsplit("/", 1)[0]
    # one slash at the start, whatever was asked: "//host/x" or "/\\host/x" would be read
    # by browsers as another site's address (an open redirect through these links)
    path = "/" + quote(path.lstrip("/\\"), safe="/:@!$&'()*+,;=-._~%")
    return path, query


def in_language(request: Request, lang: str) -> str:
    """This page in another language (base.html's links), a same-site path."""
    path, query = page_of(request)
    return f"{path}?{urlencode([*query, ('lang', lang)])}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a same-site path of this server's pages, else the
    requests (never another site: ``//host``, ``/\\host``, ``https://host``, control
    characters are all refused)."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return "/requests"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value) or len(value) > 2000:
        return "/requests"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/requests"
    return value


TEMPLATES.env.globals["in_language"] = in_language


def csp_nonce(request: Request) -> str:
    """The nonce of this response's Content-Security-Policy (``sopflow.web.headers``)."""
    return str(getattr(request.state, "csp_nonce", ""))


TEMPLATES.env.globals["csp_nonce"] = csp_nonce


def too_large_page(scope: Any, limit: int) -> Response | None:
    """The page for a browser whose form was larger than the server takes (``limits``):
    what happened, how to go on, and the way back to the form; None for a program."""
    request = Request(scope)
    programs = ("/api/", "/health", "/ready", "/docs", "/openapi.json", "/static/")
    if "text/html" not in request.headers.get("accept", "") or request.url.path.startswith(
            programs):  # fmt: skip
        return None
    lang = _lang(request)
    path, _ = page_of(request)
    said = i18n.t("too_large", lang).format(size=i18n.megabytes(limit, lang))
    return _render(request, "error.html", 413, error=said, back=path,
                   back_label=i18n.t("back_to_form", lang))  # fmt: skip


class SignInRequired(Exception):
    """A page that needs a signed-in user was asked without one (the app redirects)."""


_UNKNOWN = object()


def session_user(request: Request) -> str | None:
    """The e-mail of the user signed in on this session, if it is still live on the server
    (not signed out, ended by an administrator or expired; the user still active)."""
    known: object = getattr(request.state, "signed_in_as", _UNKNOWN)
    if known is not _UNKNOWN:  # asked once per request
        return cast(str | None, known)
    email = request.session.get("email")
    if email and _services(request).sessions.holder(request.session.get("sid")) != email:
        lang = request.session.get("lang")
        request.session.clear()  # ended elsewhere: this browser is signed out too
        if lang:  # the reader's language outlives the session
            request.session["lang"] = lang
        request.state.session_ended = True
        email = None
    user = str(email) if email else None
    request.state.signed_in_as = user
    return user


def signed_in(request: Request) -> str:
    """The signed-in user's e-mail (a dependency of every page that needs one)."""
    email = session_user(request)
    if email is None:
        raise SignInRequired
    return email


Email = Annotated[str, Depends(signed_in)]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _lang(request: Request) -> str:
    """The reader's language: chosen on a link (and kept in the session), else the one the
    session has, else the browser's (Accept-Language), else English."""
    wanted = request.query_params.get("lang")
    if wanted in i18n.LANGS:
        request.session["lang"] = wanted
    if request.session.get("lang") in i18n.LANGS:
        return str(request.session["lang"])
    return i18n.accepted(request.headers.get("accept-language", ""))


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    return TEMPLATES.TemplateResponse(request, name, {
        "lang": lang, "dir": "rtl" if lang in i18n.RTL else "ltr", "t": i18n.t,
        "csrf": _csrf(request), "user": session_user(request), **context},
        status_code=status)  # fmt: skip


async def _checked_form(request: Request) -> Any:
    """The posted form, or the refusal when its CSRF token is missing or wrong."""
    form = await request.form()
    return _forbidden_without_csrf(request, str(form.get("csrf", ""))) or form


def _view_and_sop(services: Services, reference: str, email: str) -> tuple[dict[str, Any], Any]:
    """The request as ``email`` may see it, and its pinned SOP version."""
    view = services.queries.show(reference, email)
    return view, services.sops.pinned(view["sop_id"], view["sop_version"], view["sop_hash"])


def _forbidden_without_csrf(request: Request, token: str) -> Response | None:
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(str(expected), token):
        return _render(request, "error.html", 403, error=i18n.t("csrf_failed", _lang(request)))
    return None


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "", ended: str = "") -> HTMLResponse:
    """The sign-in form; ``next`` is the page to return to (a same-site path only), and
    ``ended`` says that the reader's session ended (they were signed in, or sent a form)."""
    key = "session_ended_sent" if ended == "sent" else "session_ended"
    said = i18n.t(key, _lang(request)) if ended else None
    return _render(request, "login.html", message=said,
                   next=safe_next(next) if next else "")  # fmt: skip


def password_checks(request: Request) -> threading.BoundedSemaphore:
    """The passwords the server checks at once (argon2, ~0.4 s of a thread each): beyond
    them a sign-in is told to come back at once, the server's threads left to the rest."""
    checks: threading.BoundedSemaphore = request.app.state.password_checks
    return checks


@router.post("/login", response_model=None)
def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """An empty field is a failed sign-in like any other; the e-mail typed is kept. The
    attempt is counted before its password is checked (``Sessions.reserve``)."""
    refused = _forbidden_without_csrf(request, csrf)
    if refused:
        return refused
    address, user = request.client.host if request.client else "?", email.strip().lower()
    sessions, lang = _services(request).sessions, _lang(request)
    again = {"email": email, "next": safe_next(next) if next else ""}
    attempt = sessions.reserve(user, address)
    if attempt is None:
        return _render(request, "login.html", 429, error=i18n.t("too_many", lang), **again)
    checks = password_checks(request)
    if not checks.acquire(blocking=False):
        sessions.release(attempt)  # not checked: not counted
        page = _render(request, "login.html", 503, error=i18n.t("busy", lang), **again)
        page.headers["Retry-After"] = "2"
        return page
    try:  # an unknown user costs a hash too (Directory.check_password): same timing
        right = bool(user and password and _services(request).directory.check_password(
            email, password))  # fmt: skip
    finally:
        checks.release()
    if not right:  # the attempt stays counted
        return _render(request, "login.html", 401, error=i18n.t("bad_login", lang), **again)
    sessions.succeeded(user, address)
    lang_chosen = request.session.get("lang")
    sessions.close(request.session.get("sid"))  # one signed in before in this browser
    request.session.clear()  # a fresh session on sign-in: nothing carried over
    request.session.update({"email": user, "sid": sessions.open(user),
                            "csrf": secrets.token_urlsafe(32),
                            "lang": lang_chosen or _user_locale(request, user)})  # fmt: skip
    return RedirectResponse(safe_next(next) if next.strip() else _home(request, user), 303)


def _home(request: Request, email: str) -> str:
    """Where a sign-in leads when no page asked for it: an official's inbox (what waits on
    them), a requester's requests."""
    member = _services(request).directory.member(email)
    return "/inbox" if member.organisation_kind == "authority" else "/requests"


def _user_locale(request: Request, email: str) -> str:
    """The language a user chose in their profile: the pages' default after sign-in."""
    with _services(request).ctx.store.read() as r:
        user = r.user(email)
    return i18n.pick(user["locale"] if user else None)


@router.post("/logout", response_model=None)
def logout(request: Request, csrf: Annotated[str, Form()]) -> Response:
    refused = _forbidden_without_csrf(request, csrf)
    if refused:
        return refused
    _services(request).sessions.close(request.session.get("sid"))  # every copy of the cookie
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/requests", response_model=None)
def my_requests(request: Request, email: Email, q: str = "", state: str = "", sop: str = "",
                overdue: bool = False) -> Response:  # fmt: skip
    """The requests the user may see, newest first, each with its status in plain words;
    a search by reference or employer, stage, procedure and lateness."""
    services = _services(request)
    flt = ListFilter(state=state or None, sop_id=sop or None, overdue=overdue,
                     text=q.strip() or None, limit=200)  # fmt: skip
    rows = services.queries.search(email, flt)
    titles = {(s.spec.id, s.spec.version): s for s in services.sops.catalogue.versions.values()}
    member = services.directory.member(email)
    # the procedures this user has a part in: the filters offer theirs, not every SOP's states
    latest = {s.spec.id: s for s in sorted(titles.values(), key=lambda s: s.key)
              if effective_roles(member, s.spec, None)}  # fmt: skip
    filing = [s for s in latest.values() if _files(member, s)]
    now, lang = services.ctx.clock(), _lang(request)
    statuses = [status(titles[(r["sop_id"], r["sop_version"])], r, r["your_triggers"], now, lang)
                for r in rows]  # fmt: skip
    organisations = {org: _organisation_name(services, org)
                     for org in {r["organisation_id"] for r in rows}}  # fmt: skip
    return _render(request, "requests.html", rows=list(zip(rows, statuses, strict=True)),
                   organisations=organisations,
                   sops=titles, latest=latest, filing=filing, authority=member.organisation_kind
                   == "authority", search={"q": q, "state": state, "sop": sop,
                                           "overdue": overdue})  # fmt: skip


@router.get("/inbox", response_model=None)
def inbox(request: Request, email: Email) -> Response:
    """What the official may act on now, oldest deadline first, overdue and due-soon marked."""
    return inbox_page(request, email)


def inbox_page(request: Request, email: str, status: int = 200, error: str | None = None,
               posted: dict[str, Any] | None = None) -> Response:  # fmt: skip
    """The inbox; after a refused bulk step, ``posted`` is what its form held."""
    services = _services(request)
    titles = {(s.spec.id, s.spec.version): s for s in services.sops.catalogue.versions.values()}
    # what waits on the reader: not the requests where they only have an option (a
    # requester may withdraw a request the authority holds: that is no work of theirs)
    rows = [
        row
        for row in services.queries.inbox(email)
        if duties(
            titles[(row["sop_id"], row["sop_version"])], row["state"], row["allowed_triggers"]
        )
    ]
    soon = (services.ctx.clock() + timedelta(days=2)).isoformat()
    lang = _lang(request)
    steps: dict[str, str] = {}  # offered for bulk action: the steps needing only a comment
    for row in rows:
        sop = titles[(row["sop_id"], row["sop_version"])]
        for trigger in row["allowed_triggers"]:
            step = sop.by_state[row["state"]][trigger]
            if bulk_capable(step):
                steps.setdefault(trigger, step.label.get(lang))
    return _render(request, "inbox.html", status, rows=rows, sops=titles, soon=soon,
                   steps=steps, error=error, posted=posted or {})  # fmt: skip


def bulk_capable(step: Any) -> bool:
    """A step that needs nothing but an optional comment: no document, reason or data of
    its own (those are given one request at a time, on its page)."""
    needs = step.requires
    return not (needs.documents or needs.fields or needs.reason or step.sets)


@router.get("/requests/{reference}", response_model=None)
def request_page_route(request: Request, reference: str, email: Email) -> Response:
    """A request's page. A refusal reaches it from this server's own forms only, never
    from the address (a link could otherwise show any words as a refusal)."""
    uploads.forget_request(request, reference)  # come back to: no earlier attempt pending
    return request_page(request, reference, email)


def request_page(request: Request, reference: str, email: str, error: str | None = None,
                 posted: dict[str, Any] | None = None) -> Response:  # fmt: skip
    """The page; after a refusal, ``posted`` is what the refused form held (its trigger,
    comment, reason, values, errors and kept files), to show it filled in again."""
    services = _services(request)
    try:
        view = services.queries.show(reference, email)
        history = services.audit.history(reference, email, _lang(request))
    except SopflowError as exc:
        return _render(request, "error.html", 404 if exc.code == "not-found" else 400,
                       error=explain(exc.to_dict(), _lang(request)).summary)  # fmt: skip
    sop = services.sops.pinned(view["sop_id"], view["sop_version"], view["sop_hash"])
    actions = [tr for tr in sop.by_state[view["state"]].values()
               if tr.trigger in view["allowed_triggers"]]  # fmt: skip
    requester = bool(sop.requester_roles & set(view["your_roles"]))
    present = {d["kind"] for d in view["documents"]}
    # each step's form: the fields this user may write with it (correcting a returned
    # request, what of theirs the state leaves open), the documents they may provide
    forms = {tr.trigger: offers.step(sop, view["state"], tr, view["your_roles"], view["data"],
                                     present) for tr in actions}  # fmt: skip
    # a step of this request's history (the links of its timeline); any other is refused,
    # on the page at its present state, rather than shown as if it were that step
    at_seq, as_of, status_code = request.query_params.get("at_seq"), None, 200
    if at_seq is not None and at_seq.isascii() and at_seq.isdigit() \
            and 1 <= int(at_seq) <= view["seq"]:  # fmt: skip
        as_of = services.audit.replay(reference, email, at_seq=int(at_seq))
    elif at_seq is not None:
        error = i18n.t("no_such_step", _lang(request)).format(value=at_seq[:20],
                                                                last=view["seq"])  # fmt: skip
        status_code = 422
    auditor = {r.id for r in sop.spec.roles if r.kind == "auditor"} & set(view["your_roles"])
    chain = services.audit.verify(reference) if auditor else None
    now, lang = services.ctx.clock(), _lang(request)
    attachable = offers.attaching(sop, view["state"], view["your_roles"])
    needed = [d for d in attachable if d.id not in present and any(
        d.id in tr.requires.documents for tr in sop.by_state[view["state"]].values())]  # fmt: skip
    return _render(request, "request.html", status_code, view=view, sop=sop, history=history,
                   needed=needed, can_attach=bool(actions and attachable)
                   and not sop.is_final(view["state"]),
                   actions=actions, error=error, as_of=as_of, posted=posted or {},
                   done=_done(request, sop, reference),
                   form_key=secrets.token_urlsafe(12),
                   chain=chain, forms=forms, attachable=attachable,
                   tz=sop.spec.calendar.timezone,
                   documents={d.id: d.label.get(lang) for d in sop.spec.documents},
                   reasons={r.id: r.label.get(lang) for r in sop.spec.reason_codes},
                   progress=status(sop, view, view["allowed_triggers"], now, lang),
                   sent_back=_sent_back(sop, view, history),
                   # the data in the SOP's order of its fields, then any it no longer declares
                   data=[(name, view["data"][name]) for name in [f.id for f in sop.spec.fields]
                         + sorted(set(view["data"]) - {f.id for f in sop.spec.fields})
                         if name in view["data"]],
                   organisation=_organisation_name(services, view["organisation_id"]),
                   # who was notified, at which address: for officials and auditors only
                   proof_of_notice=not requester)  # fmt: skip


@router.get("/requests/{reference}/act", response_model=None)
@router.get("/requests/{reference}/attach", response_model=None)
def back_to_request(reference: str) -> Response:
    """The address a refused form leaves in the address bar (its page is shown under the
    form's address): opened again (a reload after it, a bookmark, a new tab), it leads to
    the request's page rather than to "this page does not exist"."""
    return RedirectResponse(f"/requests/{quote(reference, safe='')}", status_code=303)


@router.post("/requests/{reference}/act", response_model=None)
async def act(request: Request, reference: str, email: Email) -> Response:
    """Fire the form's trigger with its comment, reason, the fields it may set and the
    documents it brings; a refusal is shown on the page, the request unchanged, the form
    as it was sent."""
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    services, sop = _services(request), None
    trigger = str(form.get("trigger", ""))
    posted: dict[str, Any] = {"form": uploads.step_form(reference, trigger), "trigger": trigger,
                              "comment": str(form.get("comment", "")),
                              "reason": str(form.get("reason", "")), "data": {}}  # fmt: skip
    try:
        view, sop = _view_and_sop(services, reference, email)
        if _ends_by_choice(sop, view["state"], trigger) and form.get("confirmed") != "yes":
            return _confirm(request, view, sop, trigger, form)
        data = {f.id: _form_value(f, form) for f in sop.spec.fields
                if f.id in form or f"{f.id}__amount" in form}  # fmt: skip
        posted["data"] = data = {k: v for k, v in data.items()
                                 if v is not None or k in view["data"]}  # fmt: skip
        version, key = str(form.get("version", "")), str(form.get("form_key", ""))[:32]
        command = {"command": "act", "reference": reference, "as": email, "trigger": trigger,
                   "comment": posted["comment"] or None, "reason": posted["reason"] or None,
                   "data": data,
                   "expected_version": int(version) if version.isdigit() else None,
                   # a form sent twice (a double click, a resent page) is applied once
                   "idempotency_key": f"page:{key}:{trigger}"[:200] if key else None}  # fmt: skip
        documents = await uploads.documents_for(request, services, sop, form, posted["form"],
                                                _checking(services, command))  # fmt: skip
        run_command({**command, "documents": documents})
    except SopflowError as exc:
        return _refused(request, reference, email, exc, sop, posted)
    uploads.forget(request, posted["form"])
    request.session["done"] = trigger  # what was done, said once on the page it leads to
    return RedirectResponse(f"/requests/{reference}?done=1", status_code=303)


@router.post("/requests/{reference}/attach", response_model=None)
async def attach(request: Request, reference: str, email: Email) -> Response:
    """Add documents without a step (those the next steps need, or any other kind)."""
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    services, sop = _services(request), None
    posted: dict[str, Any] = {"form": uploads.attach_form(reference), "attaching": True,
                              "comment": str(form.get("comment", "")),
                              "other_kind": str(form.get("other_kind", ""))}  # fmt: skip
    try:
        _, sop = _view_and_sop(services, reference, email)
        documents = await uploads.documents_for(request, services, sop, form, posted["form"])
        if not documents:  # nothing to add: refused as invalid input, as the API does (422)
            page = request_page(request, reference, email,
                                error=i18n.t("no_file", _lang(request)), posted=posted)  # fmt: skip
            page.status_code = 422 if page.status_code == 200 else page.status_code
            return page
        run_command({"command": "attach", "reference": reference, "as": email,
                     "documents": documents, "comment": posted["comment"] or None})  # fmt: skip
    except SopflowError as exc:
        return _refused(request, reference, email, exc, sop, posted)
    uploads.forget(request, posted["form"])
    request.session["done"] = "@attach"
    return RedirectResponse(f"/requests/{reference}?done=1", status_code=303)


def _done(request: Request, sop: CompiledSop, reference: str) -> str | None:
    """What the reader's last form did, in words ("« Viser le contrat » : fait."), once:
    the page reloaded later says nothing more."""
    if not request.query_params.get("done"):
        return None
    lang, done = _lang(request), str(request.session.pop("done", ""))
    if done == "@attach":
        return i18n.t("done_attach", lang)
    if done == "@filed":
        return i18n.t("done_filed", lang).format(reference=reference)
    labels = {tr.trigger: tr.label.get(lang) for tr in sop.spec.transitions}
    return i18n.t("done_step", lang).format(step=labels[done]) if done in labels else None


def _refused(request: Request, reference: str, email: str, exc: SopflowError,
             sop: CompiledSop | None, posted: dict[str, Any]) -> Response:  # fmt: skip
    """The request page again, the refusal said in the reader's language, the refused form
    filled in as it was sent (errors beside its fields) with the files it kept."""
    said = explain(exc.to_dict(), _lang(request), sop)
    kept = uploads.drop(request, posted["form"], set(said.fields))
    page = request_page(request, reference, email, error=said.summary,
                        posted={**posted, "errors": said.fields, "kept": kept})  # fmt: skip
    if page.status_code == 200:  # the page, with the refusal's own status (as the API's)
        page.status_code = status_of(exc)
    return page


def _ends_by_choice(sop: CompiledSop, state: str, trigger: str) -> bool:
    """Whether ``trigger`` ends the request by its requester's choice (a withdrawal): it
    cannot be undone, so the page asks to confirm it first."""
    step = sop.by_state.get(state, {}).get(trigger)
    return step is not None and sop.states[step.to].final == "withdrawn"


def _confirm(request: Request, view: dict[str, Any], sop: CompiledSop, trigger: str,
             form: Any) -> Response:  # fmt: skip
    """The page that asks to confirm a withdrawal: what it does, the same form again with
    ``confirmed``, and the way back to the request unchanged (no script needed)."""
    lang = _lang(request)
    step = sop.by_state[view["state"]][trigger]
    kept = {name: str(form.get(name, "")) for name in ("trigger", "version", "form_key",
                                                        "comment", "reason")}  # fmt: skip
    return _render(
        request,
        "confirm.html",
        view=view,
        step=step.label.get(lang),
        kept=kept,
        question=i18n.t("confirm_withdraw", lang).format(reference=view["reference"]),
    )


def _organisation_name(services: Services, org_id: str) -> str:
    """An organisation's name (its id when it is not in the directory)."""
    org = services.directory.organisation(org_id)
    return str(org["name"]) if org and org.get("name") else org_id


def _sent_back(sop: CompiledSop, view: dict[str, Any],
               history: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
    """The step that sent the request back to its requester (the stage waits on them), or
    the one that closed it: its reason and comment, shown at the top (beside the date to
    respond by; beside the outcome), where the reader of a decision looks; None otherwise."""
    here = sop.states[view["state"]]
    if here.waiting_on != "requester" and not here.final:
        return None
    for event in reversed(history["events"]):
        if event["to_state"] == view["state"] and event["from_state"] != view["state"]:
            return event if (event.get("reason") or event.get("comment")) else None
    return None


def _form_value(spec: Any, form: Any) -> Any:
    """A field's value from the generated form, in the shape the SOP's type expects."""
    name = spec.id
    if spec.type == "boolean":
        return name in form
    if spec.type == "money":
        amount = str(form.get(f"{name}__amount", "")).strip()
        return (
            {"amount": amount, "currency": str(form.get(f"{name}__currency", "")).strip()}
            if amount
            else None
        )
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    if spec.type == "integer" and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


def _files(member: Member, sop: CompiledSop) -> bool:
    """Whether ``member`` may file requests under ``sop`` (a submission role applies)."""
    return bool(effective_roles(member, sop.spec, None) & set(sop.spec.submission.roles))


def _checking(services: Services, command: dict[str, Any]) -> uploads.Check:
    """The command with the form's accepted files, checked without recording anything."""
    return lambda documents: check_command(services, {**command, "documents": documents})
