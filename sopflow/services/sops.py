"""The SOP versions a running system knows: shipped files, SOPFLOW_SOP_DIR, and published ones.

A request pins the exact version (id, number, content hash). The text of every pinned or
published version is kept in the database, so it can be reloaded even after its file is
gone or changed; a changed file under an existing version number is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sopflow.errors import AdapterError, NotFound, SopDefinitionError, SopIssue
from sopflow.sop_files import SopCatalogue, compile_text, display_name, read_text
from sopflow.spec.loader import content_hash as content_hash_of
from sopflow.spec.loader import parse_sop
from sopflow.spec.models import SopSpec
from sopflow.store.queries import Writer
from sopflow.store.repository import Store
from states.machine import CompiledSop


class SopRegistry:
    def __init__(self, store: Store, files: Callable[[], SopCatalogue]) -> None:
        self.store = store
        self._files = files
        self._catalogue: SopCatalogue | None = None
        self._saved: set[str] = set()
        self._specs: dict[str, SopSpec] = {}  # content hash -> parsed (``pinned_spec``)

    @property
    def catalogue(self) -> SopCatalogue:
        if self._catalogue is None:
            catalogue = self._files()
            with self.store.read() as reader:
                for row in reader.sop_versions():
                    if content_hash_of(row["text"]) != row["content_hash"]:
                        catalogue.problems.append(altered(row))  # never run under it
                        continue
                    # a stored text a file also holds is compiled once (0.1-0.2 s each, at
                    # the first command of every process)
                    if catalogue.by_hash(row["content_hash"]) is None:
                        self._add(catalogue, compile_text(row["text"], row["source"]))
                    self._saved.add(row["content_hash"])
            self._catalogue = catalogue
        return self._catalogue

    @staticmethod
    def _add(catalogue: SopCatalogue, sop: CompiledSop) -> None:
        existing = catalogue.versions.get(sop.key)
        if existing is None or existing.content_hash == sop.content_hash:
            catalogue.versions[sop.key] = sop
        else:
            # the database text is what requests were pinned to; the file changed under it
            catalogue.problems.append(
                SopIssue(
                    "version-conflict",
                    f"{existing.file} differs from the registered "
                    f"{sop.spec.id} v{sop.spec.version}; the registered text is used",
                    existing.file,
                    severity="warning",
                )
            )
            catalogue.versions[sop.key] = sop

    def current(self, sop_id: str, now: datetime) -> CompiledSop:
        """The newest version of ``sop_id`` in effect at ``now`` (in the SOP's own time zone)."""
        versions = [
            s
            for s in self.catalogue.all_versions(sop_id)
            if s.spec.effective_from <= s.calendar.local_date(now)
        ]
        if not versions:
            if self.catalogue.all_versions(sop_id):
                raise NotFound(f"SOP '{sop_id}' has no version in effect on {now.date()}")
            self.catalogue.get(sop_id)  # raises NotFound listing the known ids
        return versions[-1]

    def pinned(self, sop_id: str, version: int, content_hash: str) -> CompiledSop:
        sop = self.catalogue.by_hash(content_hash)
        if sop is None:
            with self.store.read() as reader:
                row = reader.sop_version(sop_id, version)
            if row is None or row["content_hash"] != content_hash:
                raise NotFound(f"SOP {sop_id} v{version} ({content_hash[:19]}) is not registered")
            if content_hash_of(row["text"]) != content_hash:
                raise AdapterError(altered(row).message, code="sop-altered")
            sop = compile_text(row["text"], row["source"])
        return sop

    def pinned_spec(self, sop_id: str, version: int, content_hash: str) -> SopSpec:
        """The definition of a pinned version, for a reading that needs no machine (``audit
        verify``'s outcome check): parsed from its stored text alone when the catalogue is
        not loaded yet, rather than loading and compiling every SOP file (a fresh process's
        first verification spent most of a second there)."""
        if self._catalogue is None and content_hash not in self._specs:
            with self.store.read() as reader:
                row = reader.sop_version(sop_id, version)
            if row is not None and content_hash_of(row["text"]) == content_hash:
                spec = parse_sop(row["text"], row["source"]).spec
                if spec is not None:
                    self._specs[content_hash] = spec
        if content_hash in self._specs:
            return self._specs[content_hash]
        return self.pinned(sop_id, version, content_hash).spec  # as a step would find it

    def ensure_saved(self, writer: Writer, sop: CompiledSop, now: datetime) -> None:
        """Keep the exact text of ``sop`` in the database (once per process and version)."""
        if sop.content_hash in self._saved:
            return
        # ON CONFLICT DO NOTHING: two first commands of a version at once (PostgreSQL) must
        # not fail one of them on the key (tests/reliability/test_kills.py)
        writer.execute(
            "INSERT INTO sop_versions (sop_id, version, content_hash, text, source, "
            "published_at) VALUES (:sop_id, :version, :content_hash, :text, :source, "
            ":published_at) ON CONFLICT DO NOTHING",
            {"sop_id": sop.spec.id, "version": sop.spec.version,
             "content_hash": sop.content_hash, "text": sop.text, "source": sop.file,
             "published_at": now},
        )  # fmt: skip
        existing = writer.sop_version(sop.spec.id, sop.spec.version)
        if existing is None or existing["content_hash"] != sop.content_hash:
            raise _changed(sop)
        self._saved.add(sop.content_hash)

    def publish(self, path: Path, now: datetime) -> tuple[CompiledSop, bool]:
        """Register the version in ``path``; return it and whether it was new."""
        text = read_text(path)
        sop = compile_text(text, display_name(path))
        known = self.catalogue.versions.get(sop.key)
        if known is not None and known.content_hash != sop.content_hash:
            raise _changed(sop)  # a shipped (file) version: not yet in the database
        with self.store.write() as writer:
            existing = writer.sop_version(sop.spec.id, sop.spec.version)
            if existing is not None:
                if existing["content_hash"] != sop.content_hash:
                    raise _changed(sop)
                return sop, False
            self._saved.discard(sop.content_hash)
            self.ensure_saved(writer, sop, now)
        self._catalogue = None
        return sop, True


def altered(row: Mapping[str, Any]) -> SopIssue:
    """A stored SOP text that no longer hashes to the hash requests were pinned to: edited
    in the database. No step may run under it (``audit verify`` reports it)."""
    return SopIssue(
        "sop-altered",
        f"the stored text of {row['sop_id']} v{row['version']} no longer matches its hash "
        f"{row['content_hash'][:19]}…: it was changed in the database. No step runs under it: "
        f"the requests pinned to it use the SOP file {row['source']} while that file holds the "
        "original text, and their steps are refused otherwise",
        f"database:sop_versions/{row['sop_id']}/v{row['version']}",
        hint=f"restore the stored text from the original file ({row['source']})",
    )


def _changed(sop: CompiledSop) -> SopDefinitionError:
    return SopDefinitionError(
        [
            SopIssue(
                "version-conflict",
                f"{sop.spec.id} v{sop.spec.version} is already registered with different content",
                sop.file,
                hint="publish the change as a new version number",
            )
        ]
    )
