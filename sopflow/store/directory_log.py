"""The SQL of the directory log (``sopflow.domain.directory_log``): appending an entry and
moving its head (``chain_head`` row 2) inside the directory change's own transaction, and
reading the log and the present directory as stored, for verification."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sopflow.domain.chain import canonical_json
from sopflow.domain.directory_log import StoredEntry, entry_hash, org_record, user_record
from sopflow.errors import AdapterError
from sopflow.store.queries import Reader, Writer
from sopflow.store.sql import JsonText

HEAD_ID = 2  # the directory log's row of chain_head (row 1: the events' global chain)
Head = tuple[int, str]
_HEAD = "SELECT chain_seq, chain_hash FROM chain_head WHERE id = :id"
_MOVE_HEAD = "UPDATE chain_head SET chain_seq = :s, chain_hash = :h WHERE id = :id"
# the log as stored: the moment as text (SQLite keeps text; PostgreSQL's in canonical form)
_STORED = ("SELECT seq, {at}, actor, action, subject, CAST(change AS TEXT), prev_hash, hash "
           "FROM directory_log ORDER BY seq")  # fmt: skip
_STORED_SQL = {
    "sqlite": _STORED.format(at="at"),
    "postgresql": _STORED.format(
        at="to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"),
}  # fmt: skip


def lock_head(w: Writer) -> Head:
    """The log's head, locked until the transaction ends (PostgreSQL: the row's lock;
    SQLite's BEGIN IMMEDIATE already holds the database's): directory changes are then
    serialised, and what a change reads (a licence before it) is what it replaces."""
    lock = " FOR UPDATE" if w.dialect == "postgresql" else ""
    row = w.one(_HEAD + lock, {"id": HEAD_ID})
    if row is None:
        raise AdapterError("the directory log's head row is missing: run 'sopflow db upgrade'")
    return int(row["chain_seq"]), str(row["chain_hash"])


def append(w: Writer, head: Head, at: datetime, actor: str, action: str, subject: str,
           change: Mapping[str, Any]) -> Head:  # fmt: skip
    """Write the entry after ``head`` (from ``lock_head`` in this transaction) and move
    the head to it; the new head."""
    seq, prev = head[0] + 1, head[1]
    text = canonical_json(change)
    own = entry_hash(seq, at, actor, action, subject, text, prev)
    w.insert("directory_log", {"seq": seq, "at": at, "actor": actor, "action": action,
                               "subject": subject, "change": JsonText(text),
                               "prev_hash": prev, "hash": own})  # fmt: skip
    w.execute(_MOVE_HEAD, {"s": seq, "h": own, "id": HEAD_ID})
    return seq, own


def record(w: Writer, at: datetime, actor: str, action: str, subject: str,
           change: Mapping[str, Any]) -> Head:  # fmt: skip
    """``append`` after the head as it stands."""
    return append(w, lock_head(w), at, actor, action, subject, change)


def head(r: Reader) -> Head | None:
    row = r.one(_HEAD, {"id": HEAD_ID})
    return None if row is None else (row["chain_seq"], row["chain_hash"])


def stored_entries(r: Reader) -> list[StoredEntry]:
    """The log as stored, by seq: the moment and the change as their texts, undecoded (a
    malformed value is reported by its hash, not a failure to read it)."""
    r.cur.execute(_STORED_SQL[r.dialect])
    return [StoredEntry(*row) for row in r.cur.fetchall()]


def entries(r: Reader) -> list[dict[str, Any]]:
    """The log decoded, oldest first (``at`` a datetime, ``change`` a mapping)."""
    return r.all("SELECT seq, at, actor, action, subject, change, prev_hash, hash "
                 "FROM directory_log ORDER BY seq")  # fmt: skip


def present(r: Reader) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The directory now: organisation id -> ``org_record``, e-mail -> ``user_record``, read
    as stored (a date or the roles as text, not decoded: a hand edit that is no date or no
    JSON is compared as it is, not a failure to read it)."""
    r.cur.execute("SELECT id, name, kind, country, licence_number, licence_status, "
                  "CAST(licence_expires AS TEXT) FROM organisations")  # fmt: skip
    columns = ("id", "name", "kind", "country", "licence_number", "licence_status",
             "licence_expires")  # fmt: skip
    orgs = {row[0]: org_record(dict(zip(columns, row, strict=True))) for row in r.cur.fetchall()}
    r.cur.execute("SELECT email, name, organisation_id, CAST(roles AS TEXT), locale, active "
                  "FROM users")  # fmt: skip
    names = ("email", "name", "organisation_id", "roles", "locale", "active")
    users = {row[0]: user_record(dict(zip(names, row, strict=True))) for row in r.cur.fetchall()}
    return orgs, users
