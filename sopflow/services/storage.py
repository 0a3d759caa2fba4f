"""Housekeeping of the document store: the files no request refers to.

The pages put an uploaded file in the store before the command that carries it is decided
(a page keeps it for the next attempt when the command is refused), so a refused or
abandoned command leaves a file that no document of any request names. (The API checks
documents before storing them and takes back what a refused command wrote: ``discard``.) Such
files are removed once nobody has written them for a grace period; a file written again
(the same bytes uploaded anew) counts as young (``BlobStore.put`` touches it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sopflow.services.context import Context

BATCH = 500  # hashes looked up in the database at once


@dataclass
class PruneReport:
    removed: int = 0
    removed_bytes: int = 0
    referenced: int = 0  # files some request's document names: always kept
    recent: int = 0  # unreferenced, but written within the grace period: kept for now
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Storage:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def prune_documents(self, older_than: timedelta, *, dry_run: bool = False) -> PruneReport:
        """Remove the store's files that no request's document refers to and that were
        last written more than ``older_than`` ago (temporary files a crash left behind
        included). Keep the grace period above the pages' session lifetime (8 hours): a
        refused form's files wait there for its next attempt."""
        cutoff = (self.ctx.clock() - older_than).timestamp()
        report = PruneReport(dry_run=dry_run)
        batch: list[tuple[str, Path]] = []
        for sha256, path in self.ctx.blobs.files():
            if sha256 is None:  # not a document: removed once old, never looked up
                if path.is_file():
                    self._remove_if_old(path, cutoff, report)
                continue
            batch.append((sha256, path))
            if len(batch) == BATCH:
                self._prune_batch(batch, cutoff, report)
                batch = []
        self._prune_batch(batch, cutoff, report)
        return report

    def _prune_batch(self, batch: list[tuple[str, Path]], cutoff: float,
                     report: PruneReport) -> None:  # fmt: skip
        if not batch:
            return
        with self.ctx.store.read() as r:
            referenced = r.referenced_documents([sha256 for sha256, _ in batch])
        for sha256, path in batch:
            if sha256 in referenced:
                report.referenced += 1
            else:
                self._remove_if_old(path, cutoff, report)

    @staticmethod
    def _remove_if_old(path: Path, cutoff: float, report: PruneReport) -> None:
        try:
            stat = path.stat()  # read again now: an upload may have touched it meanwhile
            if stat.st_mtime >= cutoff:
                report.recent += 1
                return
            if not report.dry_run:
                path.unlink()
        except FileNotFoundError:  # removed by another prune meanwhile
            return
        report.removed += 1
        report.removed_bytes += stat.st_size

    def discard(self, written: Sequence[tuple[str, int]]) -> int:
        """Take back the files a refused command wrote: ``written`` holds each file's
        SHA-256 and its modification time (ns) just after this command created it. A file
        some request's document refers to, or that was written again since (the same bytes
        uploaded by someone else meanwhile), is kept. Returns how many were removed."""
        if not written:
            return 0
        with self.ctx.store.read() as r:
            referenced = r.referenced_documents([sha256 for sha256, _ in written])
        removed = 0
        for sha256, stamp in written:
            path = self.ctx.blobs.path_of(sha256)
            try:
                if sha256 not in referenced and path.stat().st_mtime_ns == stamp:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
