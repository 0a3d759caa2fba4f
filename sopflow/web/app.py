"""The web application: health, the SOP catalogue (API and pages).

Issue-by-issue this grows into the full API and the pages for employers, officials and
auditors; today it serves what exists: the SOP catalogue with diagrams and the health
endpoints that a load balancer or ``make serve`` needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.templating import Jinja2Templates

from sopflow import __version__
from sopflow.errors import NotFound, SopflowError
from sopflow.services import Services
from sopflow.store.db import pending_migrations
from states.diagram import diagram

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
STATUS = {"not-found": 404, "invalid-data": 422, "conflict": 409, "role-forbidden": 403}


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="sopflow",
        version=__version__,
        description="Recruitment requests and placement SOPs as audited state machines.",
    )

    @app.exception_handler(SopflowError)
    async def _problem(_: Request, exc: SopflowError) -> JSONResponse:
        status = STATUS.get(exc.code, 400)
        body = {"type": f"/errors/{exc.code}", "title": exc.code, "status": status,
                "detail": exc.message, **exc.to_dict()}  # fmt: skip
        return JSONResponse(body, status_code=status, media_type="application/problem+json")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready")
    def ready() -> JSONResponse:
        engine = services.ctx.store.engine
        try:
            behind = pending_migrations(engine)
        except Exception as exc:
            return JSONResponse({"ready": False, "reason": f"database: {exc}"}, status_code=503)
        if behind:
            return JSONResponse({"ready": False, "reason": "migrations pending"}, status_code=503)
        return JSONResponse({"ready": True})

    def _sop(sop_id: str, version: int | None) -> Any:
        return services.sops.catalogue.get(sop_id, version)

    @app.get("/api/sops")
    def list_sops() -> list[dict[str, Any]]:
        return [
            {
                "id": s.spec.id,
                "version": s.spec.version,
                "title": s.spec.title.model_dump(),
                "authority": s.spec.authority.id,
                "jurisdiction": s.spec.jurisdiction,
                "effective_from": s.spec.effective_from.isoformat(),
                "content_hash": s.content_hash,
            }
            for s in sorted(services.sops.catalogue.versions.values(), key=lambda s: s.key)
        ]

    @app.get("/api/sops/{sop_id}")
    def show_sop(sop_id: str, version: int | None = None) -> dict[str, Any]:
        sop = _sop(sop_id, version)
        return {"content_hash": sop.content_hash, **sop.spec.model_dump(mode="json", by_alias=True)}

    @app.get("/api/sops/{sop_id}/diagram", response_class=PlainTextResponse)
    def sop_diagram(sop_id: str, version: int | None = None, format: str = "mermaid",
                    locale: str = "en") -> str:  # fmt: skip
        if format not in ("mermaid", "dot"):
            raise NotFound(f"no diagram format '{format}' (use mermaid or dot)")
        return diagram(_sop(sop_id, version), "mermaid" if format == "mermaid" else "dot", locale)

    @app.get("/", response_class=HTMLResponse)
    def catalogue_page(request: Request, lang: str = "en") -> HTMLResponse:
        lang = lang if lang in ("en", "fr", "ar") else "en"
        sops = sorted(services.sops.catalogue.versions.values(), key=lambda s: s.key)
        return TEMPLATES.TemplateResponse(
            request, "catalogue.html", {"sops": sops, "lang": lang, "diagram": diagram}
        )

    return app
