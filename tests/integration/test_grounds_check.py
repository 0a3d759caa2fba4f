"""A step's grounds held against the directory log: the licence a step relied on must be
the licence the directory log says the agency held at the step's moment. Each log's chain
is checked on its own; a consistent rewrite of one of them (a suspension hidden from the
directory log, a step's grounds re-keyed) shows only when they are held together."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import sqlalchemy as sa

from sopflow.domain.chain import GENESIS, canonical_json
from sopflow.domain.directory_log import entry_hash, stored_time
from sopflow.services import verification
from sopflow.store import directory_log as stored
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.integration.test_audit import AUDITOR, Log, event, log  # noqa: F401
from tests.integration.test_audit_forgery import rehash_everything

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["in this process", "in worker processes"])
def scan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole log's verification reads the steps' grounds in the processes that hash
    the events: a large log's in several (``chainscan``), a small one's in this one."""
    if request.param == "in worker processes":
        monkeypatch.setattr(verification, "PARALLEL_FROM", 0)
        monkeypatch.setattr(os, "cpu_count", lambda: 2)


def grounded_steps(log: Log) -> list[int]:
    """The seqs of request A's steps that relied on the agency's licence."""
    with log.services.ctx.store.read() as r:
        request = r.request(log.a)
        assert request is not None
        rows = r.chain_rows(0, 10**9, request_id=request["id"])
    return [row[2] for row in rows if json.loads(row[18]).get("grounds")]


def breaks(log: Log, reference: str | None = None) -> list[tuple[str, str | None, int | None]]:
    return [(b.code, b.reference, b.seq) for b in log.services.audit.verify(reference).breaks]


def as_json(log: Log) -> str:
    """A parameter written as the JSON text it is (the text a hash covers)."""
    return (
        ":text" if log.services.ctx.store.engine.dialect.name == "sqlite" else "CAST(:text AS JSON)"
    )


def rewrite_directory_log(log: Log, change_of: dict[int, dict[str, Any]]) -> None:
    """Someone with database access rewrites entries' changes, hashes every entry again and
    moves the head, as sopflow would have: the directory log's chain alone holds."""
    with log.services.ctx.store.read() as r:
        entries = stored.stored_entries(r)
    prev = GENESIS
    with log.services.ctx.store.engine.begin() as conn:
        for e in entries:
            change = change_of.get(e.seq)
            text = e.change if change is None else canonical_json(change)
            own = entry_hash(e.seq, stored_time(e.at), e.actor, e.action, e.subject, text, prev)
            conn.execute(sa.text(f"UPDATE directory_log SET change = {as_json(log)}, "
                                 "prev_hash = :prev, hash = :own WHERE seq = :seq"),
                         {"text": text, "prev": prev, "own": own, "seq": e.seq})  # fmt: skip
            prev = own
        conn.execute(sa.text("UPDATE chain_head SET chain_seq = :s, chain_hash = :h "
                             "WHERE id = 2"), {"s": len(entries), "h": prev})  # fmt: skip


def agency_entry(log: Log) -> tuple[int, dict[str, Any]]:
    with log.services.ctx.store.read() as r:
        entries = stored.entries(r)
    first = next(e for e in entries if e["subject"] == w.AGENCY)
    return first["seq"], dict(first["change"])


@pytest.mark.usefixtures("scan")
def test_steps_that_relied_on_the_licence_held_then_verify_after_it_changes(
    log: Log, clock: Clock
) -> None:
    clock.advance(days=1)
    log.services.directory.set_licence(w.AGENCY, "suspended", by="amira")

    assert grounded_steps(log)  # the Egyptian request's steps read the licence
    assert log.services.audit.verify().intact
    assert log.services.audit.verify(log.a).intact


@pytest.mark.usefixtures("scan")
def test_a_licence_rewritten_in_the_directory_log_is_caught_by_the_steps_that_read_it(
    log: Log,
) -> None:
    """The agency's recorded expiry moved, the directory row with it, every hash redone:
    the directory log's chain and the directory agree, the steps' grounds do not."""
    seq, change = agency_entry(log)
    rewrite_directory_log(log, {seq: {**change, "licence_expires": "2026-12-01"}})
    sql = "UPDATE organisations SET licence_expires = '2026-12-01' WHERE id = :id"
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.text(sql), {"id": w.AGENCY})

    found = breaks(log)
    grounded = grounded_steps(log)

    assert found == [("grounds-unsupported", log.a, s) for s in grounded]
    first = log.services.audit.verify().breaks[0].message
    assert f"request {log.a} seq {grounded[0]}: agency_licence_valid relied on " in first
    assert "expires 2028-12-31, but the directory log held licence EG-LIC-0042, active, " \
        "expires 2026-12-01 then" in first  # fmt: skip
    assert breaks(log, log.a) == found  # the request's own verification says it too


@pytest.mark.usefixtures("scan")
def test_a_steps_grounds_rekeyed_and_rehashed_are_caught(log: Log) -> None:
    step = grounded_steps(log)[0]
    ev = event(log.services, log.a, step)
    payload = dict(ev["payload"])
    payload["grounds"] = [{**g, "status": "active", "expires": "2099-01-01"}
                          for g in payload["grounds"]]  # fmt: skip
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE events SET payload = {as_json(log)} WHERE id = :id"),
                     {"text": canonical_json(payload), "id": ev["id"]})  # fmt: skip
    rehash_everything(log)

    assert breaks(log) == [("grounds-unsupported", log.a, step)]


def test_another_authoritys_auditor_is_told_of_it_without_the_request(log: Log) -> None:
    seq, change = agency_entry(log)
    rewrite_directory_log(log, {seq: {**change, "licence_number": "EG-LIC-9999"}})
    sql = "UPDATE organisations SET licence_number = 'EG-LIC-9999' WHERE id = :id"
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.text(sql), {"id": w.AGENCY})

    theirs = log.services.audit.verify_as(w.email("tn_auditor")).breaks
    ours = log.services.audit.verify_as(AUDITOR).breaks

    assert {b.reference for b in ours} == {log.a}
    assert theirs and all(b.reference is None and log.a not in b.message for b in theirs)
