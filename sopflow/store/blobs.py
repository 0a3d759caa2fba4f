"""Document contents in a content-addressed folder: ``<root>/ab/cdef...`` by SHA-256.

Writing is idempotent (the same bytes land at the same path) and atomic (write to a
temporary file, then rename), so a crash never leaves half a document under its hash.
A file whose content was changed on disk no longer matches its name: ``read`` checks it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import filetype

from sopflow.errors import AdapterError, FieldError, InvalidData

# Types we accept, by what the bytes are (not what the file name claims).
TEXT_TYPES = {"text/plain", "text/csv"}


@dataclass(frozen=True, slots=True)
class Upload:
    kind: str
    file_name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Stored:
    kind: str
    file_name: str
    media_type: str
    size: int
    sha256: str


def sniff(upload: Upload) -> str:
    """The media type the content really has; refuse empty, unknown or mislabelled files."""
    where = f"document:{upload.kind}"
    name = Path(upload.file_name).name
    if not upload.content:
        raise InvalidData([FieldError(where, "document-empty", f"{name} is empty", {"file": name})])
    guessed = filetype.guess(upload.content)
    if guessed is not None:
        media = str(guessed.mime)
    else:
        try:
            upload.content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidData(
                [
                    FieldError(
                        where, "document-type", f"{name}: unrecognised file content", {"file": name}
                    )
                ]
            ) from None
        media = "text/csv" if name.lower().endswith(".csv") else "text/plain"
    claimed = filetype.get_type(ext=name.rsplit(".", 1)[-1].lower()) if "." in name else None
    if claimed is not None and guessed is not None and claimed.mime != media:
        raise InvalidData(
            [
                FieldError(
                    where,
                    "document-mislabelled",
                    f"{name} is named as {claimed.mime} but contains {media}",
                    {"file": name, "claimed": claimed.mime, "media": media},
                )
            ]
        )
    return media


def safe_file_name(name: str) -> str:
    """The last path component only, without control characters: no path traversal."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    return cleaned[:200] or "document"


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:]

    @staticmethod
    def describe(upload: Upload) -> Stored:
        """What the upload is (checked: not empty, not mislabelled), without storing it."""
        return Stored(upload.kind, safe_file_name(upload.file_name), sniff(upload),
                      len(upload.content), hashlib.sha256(upload.content).hexdigest())  # fmt: skip

    def put(self, upload: Upload) -> Stored:
        stored = self.describe(upload)
        target = self.path_of(stored.sha256)
        try:
            if target.exists():
                # the same bytes again: fresh in the eyes of ``prune_documents``, which
                # removes only files left unreferenced for a while
                os.utime(target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
                with os.fdopen(fd, "wb") as handle:
                    handle.write(upload.content)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
        except OSError as exc:
            raise AdapterError(
                f"cannot store document: {exc.strerror}", retryable=False, code="storage-error"
            ) from exc
        return stored

    def files(self) -> Iterator[tuple[str | None, Path]]:
        """Every file of the store: (its SHA-256, its path), or (None, path) for what is no
        document (a temporary file a crash left behind, a stray file)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir():
                yield None, folder
                continue
            for path in sorted(folder.iterdir()):
                name = folder.name + path.name
                is_document = len(name) == 64 and all(c in "0123456789abcdef" for c in name)
                yield (name if is_document and path.is_file() else None), path

    def problem(self, sha256: str) -> str | None:
        """What is wrong with a stored document, read in chunks: missing, or altered (its
        bytes no longer hash to its name); None when it is intact."""
        digest = hashlib.sha256()
        try:
            with self.path_of(sha256).open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            return f"missing from storage ({exc.strerror})"
        return None if digest.hexdigest() == sha256 else "altered in storage"

    def read(self, sha256: str) -> bytes:
        try:
            content = self.path_of(sha256).read_bytes()
        except OSError as exc:
            raise AdapterError(
                f"document {sha256[:12]} is missing from storage", code="storage-error"
            ) from exc
        if hashlib.sha256(content).hexdigest() != sha256:
            raise AdapterError(
                f"document {sha256[:12]} was altered in storage", code="document-altered"
            )
        return content
