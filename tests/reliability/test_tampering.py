"""Tampering with the event log by hand, as someone with a SQL console would: edit, delete,
reorder and insert event rows, truncate a request's tail or the newest events. The command
an auditor runs, ``sopflow audit verify``, catches each one (exit 1) and names the place:
the request and the sequence number, with the break's code."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Sopflow, _reset_process_wide_services
from tests.integration.test_audit import (
    Log,
    _delete_last,
    _delete_middle,
    _edit_actor,
    _edit_payload,
    _edit_to_state,
    _insert_forged,
    _reorder,
    delete_event,
    event,
    log,  # noqa: F401  (fixture)
    point_request_at,
    sql,
)


@pytest.fixture
def sopflow(database_url: str, tmp_path: Path) -> Iterator[Sopflow]:
    """The ``sopflow`` command on the test database (in-process, exit codes as in a shell)."""
    _reset_process_wide_services()
    env = {
        "SOPFLOW_DATABASE_URL": database_url,
        "SOPFLOW_DATA_DIR": str(tmp_path / "data"),
        "SOPFLOW_PREFECT_MODE": "off",
        "COLUMNS": "200",
    }
    yield Sopflow(env, tmp_path)
    _reset_process_wide_services()


def _truncate_tail(log: Log) -> None:
    """A's last two events removed and its row pointed at the new end: only the global
    chain (the next event, B4) can tell."""
    delete_event(log.services, log.a, 6)
    delete_event(log.services, log.a, 5)
    point_request_at(log.services, log.a, 4)


def _truncate_newest(log: Log) -> None:
    """The newest event of the whole log (B4) removed and B's row pointed at B3."""
    delete_event(log.services, log.b, 4)
    point_request_at(log.services, log.b, 3)


def _duplicate(log: Log) -> None:
    """A's third event copied to the end of A's chain (a step played twice)."""
    ev = event(log.services, log.a, 3)
    columns = [k for k in ev if k not in ("id", "seq")]
    sql(
        log.services,
        f"INSERT INTO events (seq, {', '.join(columns)}) SELECT 7, "
        f"{', '.join(columns)} FROM events WHERE id = :id",
        id=ev["id"],
    )


TAMPERING: dict[str, tuple[Callable[[Log], None], str, set[str]]] = {
    # name: (what is done, whose chain, the codes any of which must be reported)
    "edit-payload": (_edit_payload, "a", {"event-altered"}),
    "edit-actor": (_edit_actor, "a", {"event-altered"}),
    "edit-to-state": (_edit_to_state, "a", {"event-altered"}),
    "delete-middle": (_delete_middle, "a", {"event-missing", "broken-link"}),
    "reorder": (_reorder, "a", {"event-reordered", "broken-link", "event-altered"}),
    "duplicate": (
        _duplicate,
        "a",
        {"event-reordered", "broken-link", "tail-missing", "unrecorded-events"},
    ),
    "insert-forged": (_insert_forged, "a", {"unrecorded-events", "event-missing", "broken-link"}),
    "delete-last": (_delete_last, "a", {"tail-missing"}),
    "truncate-tail": (_truncate_tail, "b", {"broken-link", "event-missing"}),
    "truncate-newest": (_truncate_newest, "", {"tail-missing"}),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_audit_verify_catches_each_tampering_and_names_the_place(
    log: Log, sopflow: Sopflow, name: str
) -> None:
    assert sopflow.ok("audit", "verify").out.startswith("intact")
    tamper, whose, codes = TAMPERING[name]

    tamper(log)
    done = sopflow("audit", "verify")
    text = done.out + done.err
    as_json = sopflow("audit", "verify", "--json")

    assert done.code == 1 and as_json.code == 1, text
    assert "NOT INTACT" in text
    breaks = json.loads(as_json.out)["breaks"]
    assert {b["code"] for b in breaks} & codes, breaks
    if whose:  # the break names the request and a sequence number, in text and in JSON
        reference = log.a if whose == "a" else log.b
        named = [b for b in breaks if b["reference"] == reference and b["seq"] is not None]
        assert named, breaks
        lines = [line for line in text.splitlines() if reference in line]
        assert any(f"seq {b['seq']}" in line for b in named for line in lines), text
    else:  # the newest events are gone: the head names where the chain should end
        assert "the global chain ends at" in text


def test_audit_verify_is_quiet_and_exits_0_on_an_untouched_log(log: Log, sopflow: Sopflow) -> None:
    for reference in (None, log.a, log.b):
        args = ("audit", "verify") if reference is None else ("audit", "verify", reference)
        done = sopflow(*args)
        assert done.code == 0 and "NOT" not in done.out + done.err, done.out + done.err
