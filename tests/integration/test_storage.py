"""The document store's housekeeping: files no request refers to are removed once old;
documents of requests, recent uploads (a command under way, a form's kept files) and
files written again stay."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from sopflow.services import Services
from sopflow.store.blobs import Upload
from tests.integration import world as w

DAY = timedelta(hours=24)


def age(path: Path, services: Services, hours: float) -> None:
    """Make ``path`` look last written ``hours`` before the services' clock."""
    moment = (services.ctx.clock() - timedelta(hours=hours)).timestamp()
    os.utime(path, (moment, moment))


def orphan(services: Services, label: str, hours: float, content: bytes | None = None) -> Path:
    """A file of the store that no request refers to (a refused command's upload)."""
    content = content or w.pdf(label)
    stored = services.ctx.blobs.put(Upload("demand_letter", f"{label}.pdf", content))
    path = services.ctx.blobs.path_of(stored.sha256)
    age(path, services, hours)
    return path


def test_old_unreferenced_files_go_and_the_rest_stay(seeded: Services) -> None:
    filed = w.submit_eg(seeded)
    documents = [seeded.ctx.blobs.path_of(d["sha256"])
                 for d in seeded.queries.show(filed.reference, None)["documents"]]  # fmt: skip
    for path in documents:
        age(path, seeded, 100)  # old, but a request's
    old, recent = orphan(seeded, "old", 30), orphan(seeded, "recent", 2)
    old_size = old.stat().st_size
    crashed = seeded.ctx.blobs.root / old.parent.name / ".tmp-abc"
    crashed.write_bytes(b"half a file")
    age(crashed, seeded, 30)

    report = seeded.storage.prune_documents(DAY)

    assert (report.removed, report.referenced, report.recent) == (2, len(documents), 1)
    assert report.removed_bytes == old_size + len(b"half a file")
    assert not old.exists() and not crashed.exists()
    assert recent.exists() and all(path.exists() for path in documents)
    assert seeded.audit.verify().intact


def test_a_dry_run_removes_nothing(seeded: Services) -> None:
    old = orphan(seeded, "old", 30)

    report = seeded.storage.prune_documents(DAY, dry_run=True)

    assert (report.removed, report.dry_run) == (1, True)
    assert old.exists()


def test_a_file_uploaded_again_counts_as_new(seeded: Services) -> None:
    content = w.pdf("again")
    old = orphan(seeded, "again", 30, content)

    seeded.ctx.blobs.put(Upload("demand_letter", "again.pdf", content))  # the same bytes

    assert seeded.storage.prune_documents(DAY).removed == 0
    assert old.exists()


def test_an_empty_or_absent_store_is_nothing_to_do(seeded: Services) -> None:
    report = seeded.storage.prune_documents(DAY)

    assert (report.removed, report.referenced, report.recent) == (0, 0, 0)


def test_a_document_row_deleted_by_hand_does_not_let_its_file_go(seeded: Services) -> None:
    """The documents rows are an index beside the log; the events name the documents too
    (in the chain), and a file an event names is kept."""
    filed = w.submit_eg(seeded)
    shown = seeded.queries.show(filed.reference, None)["documents"]
    kept = seeded.ctx.blobs.path_of(shown[0]["sha256"])
    age(kept, seeded, 100)
    with seeded.ctx.store.write() as writer:
        writer.execute("DELETE FROM documents WHERE sha256 = :h", {"h": shown[0]["sha256"]})
    old = orphan(seeded, "old", 30)

    report = seeded.storage.prune_documents(DAY)

    assert kept.exists() and not old.exists()
    assert report.removed == 1
