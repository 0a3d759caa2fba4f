"""Files sent to the browser or an API client: a request's documents and downloads named
for the person saving them."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response

from sopflow.errors import NotFound
from sopflow.services import Services


def attachment(name: str) -> str:
    """A Content-Disposition value for any file name. HTTP headers are Latin-1, and people
    name their files in Arabic: such a name goes as ``filename*=UTF-8''…`` (RFC 6266 and
    RFC 5987, which every current browser reads), after an ASCII fallback for older ones."""
    name = " ".join(name.replace('"', "").replace("\\", "").split()) or "document"
    if name.isascii():
        return f'attachment; filename="{name}"'
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def document(services: Services, reference: str, sha256: str, email: str) -> Response:
    """A document of a request that ``email`` may see, checked against its hash."""
    view = services.queries.show(reference, email)
    doc = next((d for d in view["documents"] if d["sha256"] == sha256), None)
    if doc is None:
        raise NotFound(f"request {reference} has no document {sha256[:12]}")
    content = services.ctx.blobs.read(sha256)
    return Response(content, media_type=doc["media_type"], headers={
        "Content-Disposition": attachment(doc["file_name"]),
        "X-Content-SHA256": sha256, "X-Content-Type-Options": "nosniff"})  # fmt: skip
