"""The audit export carries the whole directory log beside the events, and its manifest the
log's head: ``check_export`` re-hashes every entry, follows every link to that head, and
names the first entry that does not hold; an export made before (a manifest of version 1)
still checks, and says the directory log was not part of it."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sopflow.domain.chain import GENESIS, canonical_json
from sopflow.domain.directory_log import USER_ACTIONS, entry_hash, stored_time
from sopflow.errors import InvalidData
from sopflow.services import check_export
from sopflow.services.export_check import DIRECTORY_NOT_EXPORTED
from sopflow.services.export_manifest import anchor_of
from sopflow.services.export_write import DIRECTORY_COLUMNS
from sopflow.store import directory_log as stored
from sopflow.store.tables import DirectoryLogRow
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.integration.test_audit import Log, _manifest, _rewrite_manifest, _sha256, log  # noqa: F401

pytestmark = pytest.mark.postgres

FORMATS = pytest.mark.parametrize("fmt", ["jsonl", "csv"])
# a name typed as a formula: its CSV cell is quote-prefixed and must re-hash all the same
FORMULA_OPERATOR = '=HYPERLINK("http://evil.example")'


@pytest.fixture
def logged(log: Log, clock: Clock) -> Log:
    """``log``'s 10 events and a directory log of 26 entries: the world's 6 organisations
    and 19 users, then the agency's licence suspended (by an operator whose name starts like
    a formula)."""
    clock.advance(hours=1)
    log.services.directory.set_licence(w.AGENCY, "suspended", by=FORMULA_OPERATOR)
    return log


def _export(log: Log, tmp_path: Path, fmt: str = "jsonl", **options: Any) -> Path:
    target = tmp_path / f"events.{fmt}"
    log.services.audit.export(target, fmt, **options)
    return target


def _directory(target: Path) -> Path:
    return target.with_name(_manifest(target)["directory_log"]["file"])


def _rows(path: Path) -> list[dict[str, Any]]:
    """The directory file's entries as written (CSV: cells as text)."""
    text = path.read_text("utf-8")
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text, newline="")))
    return [json.loads(line) for line in text.splitlines()]


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if path.suffix == ".csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, DIRECTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(out.getvalue(), "utf-8")
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                                for r in rows), "utf-8")  # fmt: skip


def _reseal(target: Path, **changes: Any) -> None:
    """The manifest made to agree with the edited directory file (its hash, and ``changes``):
    what someone who edits both would do, leaving only the entries to tell."""
    part = _manifest(target)["directory_log"]
    _rewrite_manifest(target, directory_log={**part, "file_sha256": _sha256(_directory(target)),
                                             **changes})  # fmt: skip


def _findings(target: Path) -> list[tuple[str, str]]:
    return [(b.code, b.message) for b in check_export(target).breaks]


@FORMATS
def test_the_export_carries_the_whole_directory_log_and_its_head(logged: Log, tmp_path: Path,
                                                                 fmt: str) -> None:  # fmt: skip
    target = _export(logged, tmp_path, fmt)
    manifest = _manifest(target)
    with logged.services.ctx.store.read() as r:
        head, entries = stored.head(r), stored.stored_entries(r)
    rows = _rows(_directory(target))

    assert manifest["manifest_version"] == 2
    assert manifest["directory_log"] == {
        "file": f"events.directory.{fmt}", "file_sha256": _sha256(_directory(target)),
        "entries": 26, "redacted_entries": 0, "covers": "whole-log",
        "head": {"seq": 26, "hash": head[1] if head else None},
    }  # fmt: skip
    assert [int(r["seq"]) for r in rows] == list(range(1, 27))
    assert [r["hash"] for r in rows] == [e.hash for e in entries]
    assert rows[-1]["action"] == "licence-changed"
    # every field the hash covers, so that it can be re-hashed outside sopflow
    last = rows[-1]
    change = last["change"] if fmt == "csv" else canonical_json(last["change"])
    actor = last["actor"][1:] if fmt == "csv" else last["actor"]  # the quote before a formula
    assert actor == FORMULA_OPERATOR
    assert entry_hash(26, last["at"], actor, last["action"], last["subject"], change,
                      last["prev_hash"]) == last["hash"]  # fmt: skip
    report = check_export(target)
    assert report.intact, report.breaks
    assert (report.events, report.directory_entries, report.notes) == (10, 26, [])


def test_a_change_committed_while_the_log_is_read_does_not_split_it_from_its_head(
    logged: Log, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file ends at the head its manifest records, even when an operator changes a
    licence between the export's reading of the entries and of the head: the export is the
    log as it stood when its reading began, and the change is the next export's."""
    read = stored.stored_entries
    changed: list[bool] = []

    def read_while_a_licence_changes(r: Any) -> list[Any]:
        log = read(r)
        if not changed:
            other = threading.Thread(target=logged.services.directory.set_licence,
                                     args=(w.AGENCY, "active"), kwargs={"by": "dana"})  # fmt: skip
            other.start()
            other.join()
            changed.append(True)
        return log

    monkeypatch.setattr(stored, "stored_entries", read_while_a_licence_changes)
    target = _export(logged, tmp_path)

    assert changed and _manifest(target)["directory_log"]["entries"] == 26
    assert _manifest(target)["directory_log"]["head"]["seq"] == 26
    assert check_export(target).intact
    monkeypatch.setattr(stored, "stored_entries", read)
    assert _manifest(_export(logged, tmp_path))["directory_log"]["head"]["seq"] == 27


def test_the_manifest_keeps_every_key_it_had(logged: Log, tmp_path: Path) -> None:
    """Checkers written before the directory log read the new manifest as they did."""
    manifest = _manifest(_export(logged, tmp_path))

    assert set(manifest) == {
        "format", "events", "from", "to", "first_chain_seq", "first_chain_prev",
        "last_chain_seq", "last_chain_hash", "database_chain_head", "scope", "redacted_events",
        "file", "file_sha256", "exported_at", "manifest_version", "directory_log",
    }  # fmt: skip
    assert manifest["file"] == "events.jsonl" and manifest["events"] == 10


def test_an_export_of_a_period_still_carries_the_whole_directory_log(
    logged: Log, clock: Clock, tmp_path: Path
) -> None:
    """The log's chain can only be checked from its first entry, and a licence an event
    relied on may have been recorded long before the period."""
    later = clock.now + timedelta(days=1)
    target = _export(logged, tmp_path, start=later, end=later + timedelta(days=1))

    manifest = _manifest(target)

    assert manifest["events"] == 0
    assert manifest["directory_log"]["entries"] == 26
    assert check_export(target).intact


@FORMATS
def test_an_edited_entry_is_named_by_line_and_seq(logged: Log, tmp_path: Path, fmt: str) -> None:
    target = _export(logged, tmp_path, fmt)
    directory = _directory(target)
    rows = _rows(directory)
    agency = next(r for r in rows if r["subject"] == w.AGENCY)  # entry #3, its licence
    if fmt == "csv":
        agency["change"] = agency["change"].replace("EG-LIC-0042", "EG-LIC-9999")
    else:
        agency["change"]["licence_number"] = "EG-LIC-9999"
    _write_rows(directory, rows)

    found = _findings(target)
    _reseal(target)
    resealed = _findings(target)

    line = 3 + (fmt == "csv")  # after the CSV's header
    named = ("directory-altered", f"events.directory.{fmt} line {line}: directory log entry #3 "
             f"(organisation-added {w.AGENCY}): its content does not match its hash (edited "
             "after it was written)")  # fmt: skip
    assert found == [
        ("export-altered", f"events.directory.{fmt} does not match the sha256 in its manifest"),
        named,
    ]
    assert resealed == [named]


def test_an_entry_rehashed_after_an_edit_breaks_the_next_link(logged: Log, tmp_path: Path) -> None:
    target = _export(logged, tmp_path)
    directory = _directory(target)
    rows = _rows(directory)
    third = rows[2]
    third["change"]["licence_expires"] = "2099-12-31"
    third["hash"] = entry_hash(3, third["at"], third["actor"], third["action"], third["subject"],
                               third["change"], third["prev_hash"])  # fmt: skip
    _write_rows(directory, rows)
    _reseal(target)

    assert [(b.code, b.seq) for b in check_export(target).breaks] == [("directory-link-broken", 4)]
    assert "line 4: directory log entry #4" in check_export(target).breaks[0].message


@FORMATS
def test_a_truncated_directory_file_is_caught(logged: Log, tmp_path: Path, fmt: str) -> None:
    target = _export(logged, tmp_path, fmt)
    directory = _directory(target)
    lines = directory.read_text("utf-8").splitlines(keepends=True)
    directory.write_text("".join(lines[:-2]), "utf-8")  # the newest two entries cut off

    codes = [code for code, _ in _findings(target)]
    _reseal(target, entries=24)  # the file's hash and count made to agree: the head still tells
    resealed = _findings(target)

    assert codes == ["export-altered", "export-altered", "directory-head-mismatch"]
    assert resealed == [("directory-head-mismatch", resealed[0][1])]
    assert resealed[0][1].startswith(f"events.directory.{fmt} ends at #24 (")
    assert resealed[0][1].endswith("but its manifest's directory log head is #26 ("
                                   f"{_manifest(target)['directory_log']['head']['hash'][:16]}…): "
                                   "the file lacks the newest 2 entries (it was cut short, or "
                                   "the log was, in the database, before the export)")  # fmt: skip


def test_a_directory_file_gone_from_beside_the_export_is_a_finding(
    logged: Log, tmp_path: Path
) -> None:
    target = _export(logged, tmp_path)
    _directory(target).unlink()

    found = _findings(target)

    assert found == [
        (
            "export-altered",
            "events.directory.jsonl, the directory log events.jsonl's "
            "manifest names, cannot be read beside it: No such file or directory",
        )
    ]


@FORMATS
def test_an_export_from_before_the_directory_log_still_checks(logged: Log, tmp_path: Path,
                                                              fmt: str) -> None:  # fmt: skip
    """A manifest of version 1 (no ``manifest_version``, no ``directory_log``) beside the
    events alone, as exports were written before."""
    target = _export(logged, tmp_path, fmt)
    _directory(target).unlink()
    manifest = _manifest(target)
    del manifest["manifest_version"], manifest["directory_log"]
    target.with_name(target.name + ".manifest.json").write_text(json.dumps(manifest), "utf-8")

    report = check_export(target)

    assert report.intact, report.breaks
    assert report.events == 10 and report.directory_entries is None
    assert report.notes == [DIRECTORY_NOT_EXPORTED]
    assert report.to_dict()["notes"] == [DIRECTORY_NOT_EXPORTED]
    assert "not part of this export" in DIRECTORY_NOT_EXPORTED


def test_a_version_2_manifest_without_its_directory_part_is_refused(
    logged: Log, tmp_path: Path
) -> None:
    """Dropping ``directory_log`` from a new manifest does not pass it off as an old one."""
    target = _export(logged, tmp_path)
    manifest = _manifest(target)
    del manifest["directory_log"]
    target.with_name(target.name + ".manifest.json").write_text(json.dumps(manifest), "utf-8")

    with pytest.raises(InvalidData) as refused:
        check_export(target)

    assert refused.value.errors[0].code == "missing-field"
    assert "directory_log, which is missing" in refused.value.errors[0].message


def test_a_manifest_naming_a_path_for_the_directory_file_is_refused(
    logged: Log, tmp_path: Path
) -> None:
    target = _export(logged, tmp_path)
    _reseal(target, file="../elsewhere.jsonl")

    with pytest.raises(InvalidData) as refused:
        check_export(target)

    assert refused.value.errors[0].message == (
        'directory_log.file is "../elsewhere.jsonl": a file name beside the export, not a path'
    )


@FORMATS
def test_an_export_of_some_sops_withholds_users_entries_and_still_checks(
    logged: Log, tmp_path: Path, fmt: str
) -> None:
    """An auditor of some SOPs gets the organisations (the licences the rules read) in full,
    and the people of every organisation only as their links."""
    target = _export(logged, tmp_path, fmt, scope=frozenset({w.TN}))
    rows = _rows(_directory(target))
    users = [r for r in rows if r["action"] in USER_ACTIONS]

    assert len(users) == 19 == _manifest(target)["directory_log"]["redacted_entries"]
    assert all(r["subject"] == "redacted:" and not r["change"] and not r["actor"] for r in users)
    assert not any("@" in json.dumps(r) for r in users)
    assert rows[2]["subject"] == w.AGENCY and "EG-LIC-0042" in json.dumps(rows[2]["change"])
    report = check_export(target)
    assert report.intact, report.breaks
    assert report.directory_entries == 26


def test_a_withheld_entry_is_still_linked_and_an_organisation_s_cannot_be(
    logged: Log, tmp_path: Path
) -> None:
    target = _export(logged, tmp_path, scope=frozenset({w.TN}))
    directory = _directory(target)
    rows = _rows(directory)
    rows[9]["hash"] = "0" * 64  # a user's entry (#10): its hash is taken as given, not its link
    agency = rows[2]  # the agency's licence: never withheld
    rows[2] = {**dict.fromkeys(DIRECTORY_COLUMNS), "seq": 3, "action": agency["action"],
               "prev_hash": agency["prev_hash"], "hash": agency["hash"], "subject": "redacted:",
               "redacted": True}  # fmt: skip
    _write_rows(directory, rows)
    _reseal(target, redacted_entries=20)

    found = [(b.code, b.seq) for b in check_export(target).breaks]

    assert found == [("export-altered", 3), ("directory-link-broken", 11)]


def test_a_line_that_is_no_entry_is_malformed_and_the_rest_is_checked(
    logged: Log, tmp_path: Path
) -> None:
    target = _export(logged, tmp_path)
    directory = _directory(target)
    rows = _rows(directory)
    del rows[4]["actor"]
    rows[5]["seq"] = "six"
    _write_rows(directory, rows)
    _reseal(target)

    found = _findings(target)

    assert found[:2] == [
        ("export-malformed",
         "events.directory.jsonl line 5 is not an exported directory log entry (no actor)"),
        ("export-malformed", 'events.directory.jsonl line 6 is not an exported directory log '
         'entry (a value of the wrong type: seq is "six", not a whole number)'),
    ]  # fmt: skip
    assert (
        found[2][0] == "directory-link-broken" and "line 7: directory log entry #7" in found[2][1]
    )


def test_the_csv_directory_file_starts_with_its_columns(logged: Log, tmp_path: Path) -> None:
    target = _export(logged, tmp_path, "csv")

    header = _directory(target).read_text("utf-8").splitlines()[0]

    assert header == "seq,at,actor,action,subject,change,prev_hash,hash"


# -- the manifest as an anchor: a consistent rewrite of the directory log -------------------
def _rewrite_directory(log: Log, actor_of_first: str | None,
                       forged: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Someone with database access gives the first entry another author (``None``: not)
    and, with ``forged``, appends an entry; then hashes every entry again and moves the
    head, as sopflow would have: the chain alone holds."""
    services = log.services
    with services.ctx.store.read() as r:
        entries = stored.stored_entries(r)
    table = DirectoryLogRow.__table__  # type: ignore[attr-defined]
    with services.ctx.store.engine.begin() as conn:
        if forged is not None:
            conn.execute(sa.insert(table).values(seq=len(entries) + 1, change={}, prev_hash="",
                                                 hash="", **forged))  # fmt: skip
    with services.ctx.store.read() as r:
        entries = stored.stored_entries(r)
    prev = GENESIS
    with services.ctx.store.engine.begin() as conn:
        for e in entries:
            actor = actor_of_first if e.seq == 1 and actor_of_first else e.actor
            own = entry_hash(e.seq, stored_time(e.at), actor, e.action, e.subject, e.change, prev)
            conn.execute(sa.update(table).where(table.c.seq == e.seq).values(
                actor=actor, prev_hash=prev, hash=own))  # fmt: skip
            prev = own
        conn.execute(sa.text("UPDATE chain_head SET chain_seq = :s, chain_hash = :h "
                             "WHERE id = 2"), {"s": len(entries), "h": prev})  # fmt: skip


def test_a_directory_log_rewritten_whole_after_an_export_is_caught_by_its_manifest(
    logged: Log, tmp_path: Path
) -> None:
    anchor = anchor_of(_manifest(_export(logged, tmp_path)))

    _rewrite_directory(logged, "somebody else")

    assert logged.services.audit.verify().intact  # the documented limit of the chain alone
    report = logged.services.audit.verify(anchor=anchor)
    assert [(b.code, b.seq) for b in report.breaks] == [("directory-anchor-mismatch", 26)]
    assert "no longer holds the anchored entry #26" in report.breaks[0].message


def test_an_entry_slipped_in_after_an_export_but_dated_before_it_is_caught(
    logged: Log, tmp_path: Path, clock: Clock
) -> None:
    anchor = anchor_of(_manifest(_export(logged, tmp_path)))
    clock.advance(hours=1)
    logged.services.directory.set_licence(w.AGENCY, "active", by="amira")  # #27, the normal way

    _rewrite_directory(logged, None, forged={
        "at": clock.now - timedelta(days=30), "actor": "amira", "action": "licence-changed",
        "subject": w.OTHER_AGENCY})  # fmt: skip

    report = logged.services.audit.verify(anchor=anchor)
    # #27, written after the export and dated after it, holds; the forged #28 does not
    assert [(b.code, b.seq) for b in report.breaks] == [("directory-backdated-after-anchor", 28)]
    assert "written into the anchored past" in report.breaks[0].message


def test_changes_made_the_normal_way_after_an_export_keep_its_anchor_intact(
    logged: Log, tmp_path: Path, clock: Clock
) -> None:
    anchor = anchor_of(_manifest(_export(logged, tmp_path)))
    assert anchor.directory is not None and anchor.directory[0] == 26
    clock.advance(hours=1)
    logged.services.directory.set_licence(w.AGENCY, "active", by="amira")

    assert logged.services.audit.verify(anchor=anchor).intact


def test_a_manifest_from_before_the_directory_log_anchors_the_events_alone(
    logged: Log, tmp_path: Path
) -> None:
    target = _export(logged, tmp_path)
    old = {k: v for k, v in _manifest(target).items()
           if k not in ("directory_log", "manifest_version")}  # fmt: skip
    anchor = anchor_of(old)

    _rewrite_directory(logged, "somebody else")

    assert anchor.directory is None
    assert logged.services.audit.verify(anchor=anchor).intact


def test_a_directory_file_rewritten_whole_is_caught_by_the_steps_that_read_it(
    logged: Log, tmp_path: Path
) -> None:
    """Every entry and the head redone after the agency's expiry was moved: the file's
    chain holds, the Egyptian steps' grounds (the licence they read) do not."""
    target = _export(logged, tmp_path)
    directory = _directory(target)
    rows, prev = _rows(directory), GENESIS
    for row in rows:
        if row["action"] == "organisation-added" and row["subject"] == w.AGENCY:
            row["change"]["licence_expires"] = "2026-12-01"
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(row["seq"], row["at"], row["actor"], row["action"],
                                        row["subject"], row["change"], prev)  # fmt: skip
    _write_rows(directory, rows)
    _reseal(target, head={"seq": rows[-1]["seq"], "hash": prev})

    found = check_export(target).breaks

    assert found and {b.code for b in found} == {"grounds-unsupported"}
    assert {b.reference for b in found} == {logged.a}
    assert "but the directory log held licence EG-LIC-0042, active, expires 2026-12-01" in (
        found[0].message
    )
