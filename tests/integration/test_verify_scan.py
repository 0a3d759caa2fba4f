"""How ``audit verify`` reads a large log on SQLite: SQLite assembles the text each event's
hash covers (``Reader.hashed_rows``), one object a row instead of twenty-three. That text
must be the one sopflow hashed, character for character, or every event would fall back to
being read as stored; and a value SQLite cannot assemble must still be reported, not fail
the reading."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from sopflow.domain.chain import covered_digest
from sopflow.services import Services
from sopflow.store.queries import Reader
from tests.integration import world as w
from tests.integration.test_audit import Log, event, log  # noqa: F401

pytestmark = pytest.mark.postgres

COMMENTS = ("a line\nand another\ttabbed", 'quoted "so", back\\slashed', "عربي, français, 中文 😀",
            "\u2028 \x7f \x01 control", "")  # fmt: skip


@pytest.fixture
def sqlite_only(seeded: Services) -> Iterator[None]:
    if seeded.ctx.store.dialect != "sqlite":
        pytest.skip("SQLite assembles the hashed text; PostgreSQL's rows are read as stored")
    yield


def hashed_rows(services: Services) -> list[tuple[object, ...]]:
    with services.ctx.store.read() as r:
        rows = r.hashed_rows(0, 10**6, 10**9)
    assert rows is not None
    return rows


@pytest.mark.usefixtures("sqlite_only")
def test_sqlite_assembles_the_very_text_each_event_was_hashed_from(seeded: Services) -> None:
    """Comments with line breaks, quotes, backslashes, other scripts, control characters;
    empty and absent values; times as SQLite keeps them: each event's hash is recomputed
    from SQLite's text, none falls back."""
    reference = w.submit_eg(seeded).reference
    steps = [s for s in w.eg_path_to("submit_visas") if s.trigger != "attach"]
    for step, comment in zip(steps, COMMENTS, strict=False):
        w.run(seeded, reference, [replace(step, comment=comment) if comment else step])
    with seeded.ctx.store.read() as r:
        refs = r.request_references()
    rows = hashed_rows(seeded)

    assert len(rows) >= 2 + len(COMMENTS)
    assert [covered_digest(refs[row[1]], row[3]) for row in rows] == [row[4] for row in rows]


@pytest.mark.usefixtures("sqlite_only")
def test_a_value_sqlite_cannot_assemble_is_reported_as_an_altered_event(log: Log) -> None:
    """A BLOB edited into a hashed column makes SQLite's JSON fail for the whole batch: the
    batch is read as stored, and the event named."""
    edited = event(log.services, log.a, 3)["id"]
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET comment = X'00ff' WHERE id = :id"), {"id": edited})

    with log.services.ctx.store.read() as r:
        assert r.hashed_rows(0, 100, 10**9) is None
    report = log.services.audit.verify()
    assert [(b.code, b.reference, b.event_id) for b in report.breaks][:1] == [
        ("event-altered", log.a, edited)]  # fmt: skip
    assert report.events == 10


def test_an_edited_event_is_named_alike_read_either_way(
    log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verdict on an edited event is the one its stored row gives, whether or not SQLite
    assembled the batch it is in."""
    edited = event(log.services, log.a, 4)["id"]
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET comment = 'rewritten' WHERE id = :id"),
                     {"id": edited})  # fmt: skip
    assembled = log.services.audit.verify().breaks
    monkeypatch.setattr(Reader, "hashed_rows", lambda *args: None)
    as_stored = log.services.audit.verify().breaks

    assert assembled == as_stored
    assert [(b.code, b.event_id) for b in assembled][:1] == [("event-altered", edited)]
