"""A forger with write access to the database who recomputes every hash, link, request head
and the chain head: the chains alone then say "intact" (docs/audit.md). What still catches
the forgery: an anchor kept outside the database, and replay, which rebuilds each request
from its events through its SOP and checks the stored request and its documents."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.domain.chain import GENESIS, event_hash, link
from sopflow.services import check_export
from sopflow.services.export_manifest import anchor_of
from sopflow.settings import Settings
from tests.integration import world as w
from tests.integration.test_audit import AUDITOR, Log, _manifest, event, log, request_id  # noqa: F401

TABLES = ("events", "requests", "chain_head")


def _table(log: Log, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=log.services.ctx.store.engine)


def rehash_everything(log: Log) -> None:
    """Every event's hash and links, every request's head, the chain head: recomputed in
    id order, as a forger covering their tracks would."""
    store = log.services.ctx.store
    with store.read() as r:
        rows = r.all("SELECT * FROM events ORDER BY id")
        refs = r.request_references()
    events, requests, head = (_table(log, t) for t in TABLES)
    finals = {s.id: s.final for sop in log.services.ctx.sops.catalogue.versions.values()
              for s in sop.spec.states}  # fmt: skip
    last: dict[int, tuple[int, str, str]] = {}
    chain_prev = GENESIS
    with store.engine.begin() as conn:
        for n, ev in enumerate(rows, start=1):
            rid = ev["request_id"]
            prev = last[rid][1] if rid in last else GENESIS
            own = event_hash({**ev, "reference": refs[rid], "prev_hash": prev})
            chained = link(chain_prev, own)
            conn.execute(sa.update(events).where(events.c.id == ev["id"]).values(
                prev_hash=prev, hash=own, chain_seq=n, chain_prev=chain_prev,
                chain_hash=chained))  # fmt: skip
            last[rid] = (ev["seq"], own, ev["to_state"])
            chain_prev = chained
        for rid, (seq, own, state) in last.items():
            conn.execute(sa.update(requests).where(requests.c.id == rid).values(
                seq=seq, last_hash=own, state=state, outcome=finals.get(state)))  # fmt: skip
        conn.execute(sa.update(head).where(head.c.id == 1).values(  # the events' head
            chain_seq=len(rows), chain_hash=chain_prev))  # fmt: skip


def append_forged(log: Log, seq: int, **changes: Any) -> None:
    """A copy of A's event ``seq - 1`` as A's event ``seq``, with ``changes``."""
    ev = event(log.services, log.a, seq - 1)
    forged = {k: v for k, v in ev.items() if k != "id"} | {"seq": seq} | changes
    events = _table(log, "events")  # read before the write lock: it needs a connection
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.insert(events).values(**forged))


def set_snapshot(log: Log, reference: str, **changes: Any) -> None:
    with log.services.ctx.store.read() as r:
        row = r.request(reference)
    assert row is not None
    requests = _table(log, "requests")
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.update(requests).where(requests.c.reference == reference).values(
            snapshot={**row["snapshot"], **changes}))  # fmt: skip


def test_a_rehashed_forgery_passes_the_chains_alone(log: Log) -> None:
    append_forged(log, 7, trigger="withdraw", from_state="advertisement_review",
                  to_state="withdrawn", payload={})  # fmt: skip
    rehash_everything(log)

    assert log.services.audit.verify().intact  # the documented limit of the chains alone


def test_an_event_appended_after_an_anchor_but_dated_before_it_is_caught(
    log: Log, tmp_path: Path
) -> None:
    target = tmp_path / "events.jsonl"
    log.services.audit.export(target, "jsonl")
    anchor = anchor_of(_manifest(target))
    assert anchor.at is not None
    backdated = log.start + timedelta(hours=3, minutes=30)  # between A5 and A6
    append_forged(log, 7, trigger="withdraw", from_state="advertisement_review",
                  to_state="withdrawn", payload={}, at=backdated)  # fmt: skip
    rehash_everything(log)

    report = log.services.audit.verify(anchor=anchor)

    assert [(b.code, b.reference, b.seq) for b in report.breaks] == [
        ("backdated-after-anchor", log.a, 7)
    ]
    assert "written into the anchored past" in report.breaks[0].message
    replayed = log.services.audit.replay(log.a, AUDITOR)
    assert any("seq 7: dated" in d and "before the step it follows" in d
               for d in replayed["differences"])  # fmt: skip


def test_events_written_after_an_anchor_in_the_normal_way_keep_it_intact(
    log: Log, tmp_path: Path
) -> None:
    target = tmp_path / "events.jsonl"
    log.services.audit.export(target, "jsonl")
    anchor = anchor_of(_manifest(target))

    log.services.audit.export(tmp_path / "later.jsonl", "jsonl")  # nothing new: still intact
    assert log.services.audit.verify(anchor=anchor).intact


def test_an_anchor_taken_from_an_export_of_no_event_anchors_the_whole_log(
    log: Log, tmp_path: Path
) -> None:
    target = tmp_path / "empty.jsonl"
    log.services.audit.export(target, "jsonl", start=log.start + timedelta(days=400))
    manifest = _manifest(target)
    assert manifest["events"] == 0
    anchor = anchor_of(manifest)

    assert anchor.events[0] == 10
    assert log.services.audit.verify(anchor=anchor).intact


def test_a_rehashed_step_by_someone_separation_of_duties_excludes_is_caught_by_replay(
    log: Log,
) -> None:
    clerk = event(log.services, log.a, 4)["actor_id"]  # A4 register_demand
    sql_events = _table(log, "events")
    with log.services.ctx.store.engine.begin() as conn:  # A5 approve_demand by the clerk
        conn.execute(sa.update(sql_events).where(
            sql_events.c.request_id == request_id(log.services, log.a),
            sql_events.c.seq == 5).values(actor_id=clerk))  # fmt: skip
    rehash_everything(log)

    replayed = log.services.audit.replay(log.a, AUDITOR)

    assert log.services.audit.verify().intact
    assert any(f"seq 5: {clerk} did 'register_demand'" in d and "separation of duties" in d
               for d in replayed["differences"]), replayed["differences"]  # fmt: skip


def test_an_edited_record_of_who_did_what_is_caught_by_replay(log: Log) -> None:
    set_snapshot(log, log.a, acted={})

    replayed = log.services.audit.replay(log.a, AUDITOR)

    assert any(d.startswith("who did which step differs") for d in replayed["differences"])


def test_a_malformed_snapshot_is_reported_by_replay_not_a_crash(log: Log) -> None:
    set_snapshot(log, log.a, acted="x")

    replayed = log.services.audit.replay(log.a, AUDITOR)

    assert not replayed["consistent"]
    assert any("snapshot is malformed" in d for d in replayed["differences"])


def test_an_edited_deadline_is_caught_by_replay(log: Log) -> None:
    set_snapshot(log, log.a, deadline="2099-01-01T00:00:00+00:00")

    replayed = log.services.audit.replay(log.a, AUDITOR)

    assert any(d.startswith("deadline: stored 2099") for d in replayed["differences"])


def test_a_stored_document_altered_or_removed_is_caught_by_replay(log: Log) -> None:
    with log.services.ctx.store.read() as r:
        row = r.request(log.a)
    assert row is not None
    doc = row["snapshot"]["documents"][0]
    stored = log.services.ctx.blobs.path_of(doc["sha256"])

    stored.write_bytes(b"%PDF-1.4 another letter")
    altered = log.services.audit.replay(log.a, AUDITOR)["differences"]
    stored.unlink()
    missing = log.services.audit.replay(log.a, AUDITOR)["differences"]

    assert any(f"'{doc['kind']}'" in d and d.endswith("is altered in storage") for d in altered)
    assert any(f"'{doc['kind']}'" in d and "is missing from storage" in d for d in missing)
    # a past state checks the documents on file then, and one file names every document it is
    first = log.services.audit.replay(log.a, AUDITOR, at_seq=2)["differences"]
    same = [d["kind"] for d in row["snapshot"]["documents"] if d["sha256"] == doc["sha256"]]
    assert [d for d in first if "is missing from storage" in d] == [next(
        d for d in missing if "is missing from storage" in d)]  # fmt: skip
    assert all(f"'{kind}'" in first[-1] for kind in same)


# -- what an auditor of one authority learns of the other's requests --------------------------
def test_an_auditor_learns_a_break_in_another_authority_s_request_but_not_which(
    log: Log,
) -> None:
    events = _table(log, "events")
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.update(events).where(
            events.c.request_id == request_id(log.services, log.b),
            events.c.seq == 2).values(comment="edited"))  # fmt: skip

    everything = log.services.audit.verify()
    theirs = log.services.audit.verify_as(AUDITOR)

    assert [b.reference for b in everything.breaks] == [log.b]
    assert not theirs.intact and theirs.requests == 1
    assert [(b.code, b.reference, b.seq) for b in theirs.breaks] == [("event-altered", None, None)]
    assert (
        log.b not in theirs.breaks[0].message and "outside your audit" in theirs.breaks[0].message
    )


def test_an_auditor_is_told_of_a_break_about_another_authority_s_user_but_not_whose(
    log: Log,
) -> None:
    """Accounts are the directory's, shared by the authorities: a hand edit of an Egyptian
    official's roles is named to Egypt's auditor, said without the address to Tunisia's.
    A licence, a public register, is named to both; so is a user of an organisation that
    filed under the auditor's SOPs (they read of its users in their requests' histories)."""
    with log.services.ctx.store.engine.begin() as conn:
        for email_, roles in ((w.email("director"), '["director","auditor"]'),
                              (w.email("enterprise"), '["enterprise","examiner"]')):  # fmt: skip
            conn.execute(sa.text("UPDATE users SET roles = :r WHERE email = :e"),
                         {"r": roles, "e": email_})  # fmt: skip
        conn.execute(sa.text("UPDATE organisations SET licence_expires = '2031-01-01' "
                             "WHERE id = :id"), {"id": w.AGENCY})  # fmt: skip

    egypt = log.services.audit.verify_as(AUDITOR)
    tunisia = log.services.audit.verify_as(w.email("tn_auditor"))

    def said(report: Any) -> str:
        return "\n".join(b.message for b in report.breaks)

    assert [b.code for b in egypt.breaks] == ["directory-row-altered"] * 3
    assert [b.code for b in tunisia.breaks] == ["directory-row-altered"] * 3
    assert w.email("director") in said(egypt) and w.email("director") not in said(tunisia)
    assert "a user of an organisation outside your audit" in said(tunisia)
    assert w.email("enterprise") in said(tunisia)  # filed under Tunisia's SOP
    assert w.email("enterprise") not in said(egypt)  # Carthage Tech never filed with Egypt
    assert all(w.AGENCY in said(report) for report in (egypt, tunisia))  # the register
    assert w.email("director") in said(log.services.audit.verify())  # the operator: all


def test_a_redacted_request_s_token_cannot_be_traced_to_its_reference(
    log: Log, tmp_path: Path
) -> None:
    tokens = []
    for name in ("one.jsonl", "two.jsonl"):
        log.services.audit.export(tmp_path / name, "jsonl", scope=frozenset({w.EG}))
        lines = [json.loads(x) for x in (tmp_path / name).read_text("utf-8").splitlines()]
        tokens.append({x["reference"] for x in lines if x.get("redacted")})

    unkeyed = hashlib.sha256(log.b.encode()).hexdigest()[:16]
    assert len(tokens[0]) == len(tokens[1]) == 1  # one token for all of B's events
    assert tokens[0] != tokens[1] and f"redacted:{unkeyed}" not in tokens[0]
    assert check_export(tmp_path / "one.jsonl").intact


def test_a_deleted_request_row_is_named_once_not_as_altered_events(log: Log) -> None:
    store = log.services.ctx.store
    raw = store.engine.raw_connection()  # as a console would: without the foreign keys
    try:
        conn = raw.driver_connection
        assert conn is not None
        off = ("PRAGMA foreign_keys = OFF" if store.dialect == "sqlite"
               else "SET session_replication_role = replica")  # fmt: skip
        on = ("PRAGMA foreign_keys = ON" if store.dialect == "sqlite"
              else "SET session_replication_role = DEFAULT")  # fmt: skip
        if store.dialect == "sqlite" and conn.in_transaction:
            conn.rollback()
        conn.execute(off)
        conn.execute(f"DELETE FROM requests WHERE reference = '{log.b}'")
        conn.commit()
        conn.execute(on)
        conn.commit()
    finally:
        raw.close()

    report = log.services.audit.verify()

    assert [b.code for b in report.breaks] == ["request-row-missing", "requests-missing"]
    assert "deleted outside sopflow" in report.breaks[0].message
    assert f"{log.b} is not in the database" in report.breaks[1].message


def test_an_event_added_beyond_the_heads_is_named_as_added(log: Log) -> None:
    append_forged(
        log,
        7,
        trigger="withdraw",
        from_state="advertisement_review",
        to_state="withdrawn",
        payload={},
        chain_seq=11,
    )  # after the 10 of the log

    report = log.services.audit.verify()

    added = [b for b in report.breaks if b.code == "unrecorded-events"]
    assert len(added) == 2  # beyond the global head and beyond the request's row
    assert all("were added without going through sopflow" in b.message for b in added)
    assert "tail-missing" not in {b.code for b in report.breaks}


def test_a_request_given_to_another_organisation_is_caught(log: Log) -> None:
    requests = _table(log, "requests")
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.update(requests).where(requests.c.reference == log.a).values(
            organisation_id=w.OTHER_AGENCY))  # fmt: skip

    report = log.services.audit.verify(log.a)

    assert [(b.code, b.reference) for b in report.breaks] == [("request-row-altered", log.a)]
    assert f"filed by {event(log.services, log.a, 1)['actor_id']} for {w.OTHER_AGENCY}" in (
        report.breaks[0].message
    )


def test_an_edited_outcome_is_caught_by_verify_and_replay(log: Log) -> None:
    """The inbox, the SLA sweep and the statistics read a request's outcome from its row."""
    requests = _table(log, "requests")
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.update(requests).where(requests.c.reference == log.a).values(
            outcome="approved"))  # fmt: skip

    for report in (log.services.audit.verify(), log.services.audit.verify(log.a)):
        assert [(b.code, b.reference) for b in report.breaks] == [("request-row-altered", log.a)]
        assert "outcome 'approved'" in report.breaks[0].message
        assert "is not final" in report.breaks[0].message
    replayed = log.services.audit.replay(log.a, None)
    assert 'the row\'s outcome: stored "approved"' in " ".join(replayed["differences"])


def test_a_new_process_checks_outcomes_against_the_stored_sop_texts(
    log: Log, settings: Settings
) -> None:
    """``sopflow audit verify`` runs in a process of its own: it reads the definitions of
    the versions the requests are pinned to from their stored texts, without loading and
    compiling every SOP file (most of a second), and gives the same verdict."""
    requests = _table(log, "requests")
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.update(requests).where(requests.c.reference == log.b).values(
            outcome="rejected"))  # fmt: skip
    fresh = bootstrap.build(settings)
    try:
        for report in (fresh.audit.verify(), fresh.audit.verify(log.b)):
            assert [(b.code, b.reference) for b in report.breaks] == [
                ("request-row-altered", log.b)
            ]
            assert "outcome 'rejected'" in report.breaks[0].message
        assert fresh.ctx.sops._catalogue is None  # the files were not needed
        assert fresh.audit.verify(log.a).intact
    finally:
        fresh.ctx.store.engine.dispose()


def test_an_edited_breach_flag_is_caught_by_replay(log: Log) -> None:
    requests = _table(log, "requests")
    with log.services.ctx.store.engine.begin() as conn:
        conn.execute(sa.update(requests).where(requests.c.reference == log.b).values(
            breached=True))  # fmt: skip

    differences = log.services.audit.replay(log.b, None)["differences"]

    assert [d for d in differences if d.startswith("the row's breach")] == [
        "the row's breach: stored true, replay gives false"]  # fmt: skip


def test_the_newest_request_deleted_with_its_events_and_the_head_rewound_is_caught(
    log: Log,
) -> None:
    """The chains of what is left are whole; the reference counter says B was issued."""
    store = log.services.ctx.store
    with store.read() as r:
        rid = r.request(log.b)["id"]  # type: ignore[index]
        kept = r.one("SELECT chain_seq, chain_hash FROM events WHERE request_id <> :rid "
                     "ORDER BY id DESC LIMIT 1", {"rid": rid})  # fmt: skip
    assert kept is not None
    with store.engine.begin() as conn:
        for table in ("outbox", "documents", "events"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE request_id = :rid"), {"rid": rid})
        conn.execute(sa.text("DELETE FROM requests WHERE id = :rid"), {"rid": rid})
    rehash_everything(log)  # the global chain renumbered without B's events

    report = log.services.audit.verify()

    assert [(b.code, b.reference) for b in report.breaks] == [("requests-missing", log.b)]
    assert f"{log.b} is not in the database" in report.breaks[0].message


def test_a_cell_that_is_no_value_of_its_column_is_named_not_a_crash(log: Log) -> None:
    """SQLite stores whatever text is written into a column; PostgreSQL refuses it."""
    store = log.services.ctx.store
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL's columns refuse such values")
    at, seq = (event(log.services, log.a, n)["id"] for n in (3, 4))
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE events SET at = 'yesterday' WHERE id = :id"), {"id": at})
        conn.execute(sa.text("UPDATE events SET seq = 'six' WHERE id = :id"), {"id": seq})

    for report in (log.services.audit.verify(), log.services.audit.verify(log.a)):
        malformed = [b for b in report.breaks if "malformed value" in b.message]
        assert [(b.code, b.reference, b.event_id) for b in malformed] == [
            ("event-altered", log.a, at), ("event-altered", log.a, seq)]  # fmt: skip
        assert report.events == (10 if report.requests == 2 else 6)
