"""The SOP catalogue, for programs (``/api/v1/sops``) and for people (``/`` and ``/sops/{id}``):
each SOP's roles, stages with their deadlines, steps with their legal basis, and its state
diagram drawn in the browser by Graphviz compiled to WebAssembly, served from this app
(``static/vendor``: no CDN; the DOT source is shown beside it for those without script).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from sopflow.errors import FieldError, InvalidData, NotFound
from sopflow.services import Services
from sopflow.services.directory import LOCALES
from sopflow.web.i18n import t
from sopflow.web.pages import _lang, _render, _services
from sopflow.web.validation import F, api_get
from states.diagram import diagram

router = APIRouter()
GRAPHVIZ = "/static/vendor/hpcc-js-wasm-graphviz-1.29.2/index.js"


def _catalogue(path: str, **options: Any) -> Callable[[F], F]:
    """An API route of the catalogue at ``/api/v1/sops...``, beside the rest of the API; its
    first address ``/api/sops...`` still answers, marked deprecated in the OpenAPI document."""

    def register(endpoint: F) -> F:
        api_get(router, f"/api/v1{path}", tags=["catalogue"], **options)(endpoint)
        api_get(router, f"/api{path}", tags=["catalogue"], deprecated=True, **options)(endpoint)
        return endpoint

    return register


def _sop(services: Services, sop_id: str, version: int | None) -> Any:
    return services.sops.catalogue.get(sop_id, version)


def _summary(sop: Any) -> dict[str, Any]:
    spec = sop.spec
    return {"id": spec.id, "version": spec.version, "title": spec.title.model_dump(),
            "authority": spec.authority.id, "jurisdiction": spec.jurisdiction,
            "effective_from": spec.effective_from.isoformat(),
            "content_hash": sop.content_hash}  # fmt: skip


@_catalogue("/sops")
def list_sops(request: Request) -> list[dict[str, Any]]:
    """Every SOP version the registry knows (shipped files and published versions)."""
    versions = _services(request).sops.catalogue.versions.values()
    return [_summary(s) for s in sorted(versions, key=lambda s: s.key)]


@_catalogue("/sops/{sop_id}")
def show_sop(request: Request, sop_id: str, version: int | None = None) -> dict[str, Any]:
    """The whole definition of one SOP version (the latest without ``version``)."""
    sop = _sop(_services(request), sop_id, version)
    return {"content_hash": sop.content_hash, **sop.spec.model_dump(mode="json", by_alias=True)}


@_catalogue("/sops/{sop_id}/diagram", response_class=PlainTextResponse)
def sop_diagram(
    request: Request,
    sop_id: str,
    version: int | None = None,
    format: str = "mermaid",
    locale: str = "en",
    labels: bool = False,
) -> str:
    """The state diagram as Mermaid or Graphviz DOT text (``labels``: named in ``locale``)."""
    errors = [FieldError(name, "not-in-enum", f"'{value}' is not one of: {', '.join(allowed)}",
                         {"value": value, "allowed": list(allowed)})
              for name, value, allowed in (("format", format, ("mermaid", "dot")),
                                           ("locale", locale, LOCALES))
              if value not in allowed]  # fmt: skip
    if errors:
        raise InvalidData(errors, context="diagram")
    sop = _sop(_services(request), sop_id, version)
    return diagram(sop, "mermaid" if format == "mermaid" else "dot", locale, labels)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def catalogue_page(request: Request) -> HTMLResponse:
    services = _services(request)
    latest: dict[str, Any] = {}
    for sop in sorted(services.sops.catalogue.versions.values(), key=lambda s: s.key):
        latest[sop.spec.id] = sop
    versions = {sop_id: sorted(v for i, v in services.sops.catalogue.versions if i == sop_id)
                for sop_id in latest}  # fmt: skip
    return _render(request, "catalogue.html", sops=list(latest.values()), versions=versions)


@router.get("/sops/{sop_id}", response_class=HTMLResponse, include_in_schema=False)
def sop_page(request: Request, sop_id: str, version: int | None = None) -> HTMLResponse:
    services = _services(request)
    try:
        sop = _sop(services, sop_id, version)
    except NotFound:
        return _render(request, "error.html", 404, error=t("no_such_sop", _lang(request)))
    lang = _lang(request)
    legal = {basis.id: basis for basis in sop.spec.legal_basis}
    return _render(request, "sop.html", sop=sop, legal=legal, graphviz=GRAPHVIZ,
                   dot=diagram(sop, "dot", lang, labels=True))  # fmt: skip
