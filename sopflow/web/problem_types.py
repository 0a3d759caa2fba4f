"""Where a problem's ``type`` points (RFC 9457 §3.1.1: dereferenced, it documents the problem
type): ``/api/v1/errors/{code}``, on the serving site itself, in the API's namespace. A
browser gets a page in the reader's language, a program JSON; ``/api/v1/errors`` lists every
code. The texts are ``errors.yaml`` (en, fr, ar), the one catalogue of the codes a problem
can carry: tests/unit/test_problem_types.py checks it against the code base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup, escape
from pydantic import BaseModel
from ruamel.yaml import YAML
from starlette.requests import HTTPConnection

from sopflow.errors import FieldError, InvalidData, NotFound
from sopflow.web import i18n
from sopflow.web.api_schemas import problems
from sopflow.web.pages import TEMPLATES, _lang, _render
from sopflow.web.validation import api_get

PATH = "/api/v1/errors"
TEXTS = ("title", "description", "when", "what_to_do")
CATALOGUE: dict[str, dict[str, Any]] = YAML(typ="safe").load(
    (Path(__file__).parent / "errors.yaml").read_text("utf-8")
)
router = APIRouter()


class ProblemType(BaseModel):
    """What an error code means, in one language (``lang``)."""

    code: str
    type: str
    title: str
    status: list[int]  # the HTTP statuses the API answers it with; empty: the framework's own
    description: str
    when: str
    what_to_do: str
    lang: str


def title(code: str) -> str:
    """A problem's ``title`` (RFC 9457 §3.1.3): the code's English title, the same for every
    occurrence; a code the catalogue lacks (a test keeps that from happening) in words."""
    entry = CATALOGUE.get(code)
    return str(entry["en"]["title"]) if entry else code.replace("-", " ").capitalize()


def site(connection: HTTPConnection) -> str:
    """The site's own address, ending in ``/``: SOPFLOW_PUBLIC_URL where set (the address
    people reach it at, behind a proxy too; links in notices point there), else the one this
    request reached (its scheme as a trusted proxy said: SOPFLOW_FORWARDED_ALLOW_IPS)."""
    app = connection.scope.get("app")  # none when the caller sits outside an app (a test)
    public = getattr(getattr(app, "state", None), "public_url", None)
    return f"{public.rstrip('/')}/" if public else str(connection.base_url)


def type_uri(connection: HTTPConnection, code: str) -> str:
    """The absolute URI of ``code``'s documentation on this site: a problem's ``type``."""
    return f"{site(connection)}{PATH.lstrip('/')}/{code}"


def _described(connection: HTTPConnection, code: str, lang: str) -> dict[str, Any]:
    entry = CATALOGUE[code]
    texts = {name: str(entry[lang][name]) for name in TEXTS}
    return {"code": code, "type": type_uri(connection, code), **texts,
            "status": list(entry["status"]), "lang": lang}  # fmt: skip


def _marked(text: str) -> Markup:
    """A text of the catalogue as HTML: escaped, its `names` as code, kept left-to-right
    inside Arabic sentences (a setting or command read right-to-left is garbled)."""
    parts = text.split("`")  # a name between each pair: the odd parts
    code = Markup('<code class="ltr">{}</code>')
    return Markup().join(code.format(part) if i % 2 else escape(part)
                         for i, part in enumerate(parts))  # fmt: skip


TEMPLATES.env.filters["marked"] = _marked


def _wants_a_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _language(request: Request, lang: str) -> str:
    """The language of the answer: ``lang`` for a program (English by default, as the rest of
    the API); for a browser the reader's (``lang`` if given, and kept in the session, else
    the session's, else the browser's)."""
    if lang not in i18n.LANGS:
        said = f"'{lang}' is not a language; use {', '.join(i18n.LANGS)}"
        raise InvalidData([FieldError("lang", "not-in-enum", said,
                                      {"value": lang, "allowed": list(i18n.LANGS)})],
                          context="query")  # fmt: skip
    return _lang(request) if _wants_a_page(request) else lang


# one address answers a browser and a program alike: caches must keep them apart
_VARY = {"Vary": "Accept, Accept-Language, Cookie"}
Lang = Annotated[str, Query(max_length=200, json_schema_extra={"enum": list(i18n.LANGS)})]
_EITHER = {"text/html": {"schema": {"type": "string"}}}


@api_get(router, PATH, tags=["errors"], response_model=None,
         responses={200: {"model": list[ProblemType], "content": _EITHER}})  # fmt: skip
def problem_types(request: Request, lang: Lang = "en") -> Response:
    """Every error code a problem can carry, with what it means, when it happens and what to
    do, in ``lang`` (en, fr or ar; English by default). A browser gets a page."""
    said = _language(request, lang)
    listed = [_described(request, code, said) for code in sorted(CATALOGUE)]
    return _answer(request, said, listed, "problem_types.html", codes=listed)


@api_get(router, PATH + "/{code}", tags=["errors"], response_model=None,
         responses={200: {"model": ProblemType, "content": _EITHER}, **problems(404)})  # fmt: skip
def problem_type(request: Request, code: str, lang: Lang = "en") -> Response:
    """What the error code ``code`` means, when it happens and what to do: where a problem's
    ``type`` points. JSON in ``lang`` (en, fr or ar; English by default); a browser gets a
    page in its reader's language."""
    if code not in CATALOGUE:
        raise NotFound(f"no error code '{code}' (GET {PATH} lists them)")
    said = _language(request, lang)
    described = _described(request, code, said)
    return _answer(request, said, described, "problem_type.html", entry=described)


def _answer(request: Request, lang: str, value: Any, template: str, **page: Any) -> Response:
    """``value`` as JSON in ``lang`` for a program, ``template`` for a browser; either way
    varying with what the caller accepts (one address answers both)."""
    if _wants_a_page(request):
        answer: Response = _render(request, template, every=PATH, **page)
    else:
        answer = JSONResponse(value, headers={"Content-Language": lang})
    answer.headers.update(_VARY)
    return answer
