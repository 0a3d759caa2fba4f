"""The directory log: every change to the directory (an organisation added, a licence
changed, a user added), who made it and when, as an append-only hash chain; and what the
present directory must then hold. Pure.

An entry's ``hash`` is SHA-256 over a compact JSON array of its header
``["sopflow-directory-v1", seq, at, actor, action, subject, prev_hash]`` (``at`` as
``canonical_time``), a newline, then the change as canonical JSON, which is also the text
the store keeps (as for events, ``sopflow.domain.chain``). ``prev_hash`` is the previous
entry's hash (64 zeros for the first); the store keeps the head (last seq and hash) and
moves it in the transaction that writes the entry, so deleting the newest entries is seen.
A password hash is never part of an entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sopflow.domain.chain import GENESIS, Break, canonical_json, canonical_time

HASH_FORMAT = "sopflow-directory-v1"

ORG_ADDED = "organisation-added"
LICENCE_CHANGED = "licence-changed"
USER_ADDED = "user-added"
# what the directory held when its log began (migration 0007): one entry per row, by
# "migration"; the changes before it are not known
ORG_RECORDED = "organisation-recorded"
USER_RECORDED = "user-recorded"
ORG_ACTIONS = (ORG_ADDED, ORG_RECORDED, LICENCE_CHANGED)
USER_ACTIONS = (USER_ADDED, USER_RECORDED)

# what an entry records of an organisation and of a user (the password hash: never)
ORG_FIELDS = ("name", "kind", "country", "licence_number", "licence_status", "licence_expires")
USER_FIELDS = ("name", "organisation", "roles", "locale", "active")
LICENCE_FIELDS = ("licence_status", "licence_expires")


def entry_hash(seq: Any, at: datetime | str, actor: Any, action: Any, subject: Any,
               change: str | Mapping[str, Any], prev_hash: Any) -> str:  # fmt: skip
    """``at``: a datetime or its canonical text; ``change``: a mapping or its canonical JSON
    text (as stored)."""
    moment = canonical_time(at) if isinstance(at, datetime) else at
    text = change if isinstance(change, str) else canonical_json(change)
    header = canonical_json([HASH_FORMAT, seq, moment, actor, action, subject, prev_hash])
    return hashlib.sha256(f"{header}\n{text}".encode()).hexdigest()


def stored_time(text: Any) -> Any:
    """A stored moment as canonical text: SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC),
    the PostgreSQL query gives it canonical already; anything else (a hand edit) as it is,
    so that it fails its hash rather than the reading."""
    if isinstance(text, str) and len(text) == 26 and text[10] == " ":
        return f"{text[:10]}T{text[11:]}Z"
    return text


def entry_moment(stored: Any) -> datetime | None:
    """An entry's stored ``at`` as an aware moment; None for a value that is none (a hand
    edit, which the log's own chain reports)."""
    if isinstance(stored, datetime):
        return stored
    try:
        moment = datetime.fromisoformat(str(stored_time(stored)))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _day(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def org_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the log records of an organisation (a row of ``organisations``, or the values
    written to it); the expiry as ISO text."""
    return {name: _day(row.get(name)) for name in ORG_FIELDS}


def user_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the log records of a user (a row of ``users``): never the password hash."""
    roles = row.get("roles")
    if isinstance(roles, str):  # SQLite's JSON text (a hand edit that is none: as it is)
        with contextlib.suppress(ValueError):
            roles = json.loads(roles)
    active = row.get("active")
    if isinstance(active, int) and active in (0, 1):  # SQLite's integer
        active = bool(active)
    return {"name": row.get("name"), "organisation": row.get("organisation_id"),
            "roles": roles, "locale": row.get("locale"), "active": active}  # fmt: skip


def licence_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """A licence change: its status and expiry before and after (an unchanged value too)."""
    return {"before": {name: _day(before.get(name)) for name in LICENCE_FIELDS},
            "after": {name: _day(after.get(name, before.get(name)))
                      for name in LICENCE_FIELDS}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as stored: ``at`` and ``change`` as their texts (see ``stored_time``)."""

    seq: Any
    at: Any
    actor: Any
    action: Any
    subject: Any
    change: Any
    prev_hash: Any
    hash: Any


def chain_breaks(entries: Sequence[StoredEntry], head: tuple[int, str] | None) -> list[Break]:
    """Every entry's hash, each link, and the end against the recorded ``head`` (None: the
    head row is missing); ``entries`` in the order of their ``seq``."""
    breaks: list[Break] = []
    expected, prev = 1, GENESIS
    for e in entries:
        where, user = f"directory log entry #{e.seq} ({e.action} {e.subject})", _user_of(e)
        text = e.change if isinstance(e.change, str) else canonical_json(e.change)
        if entry_hash(e.seq, stored_time(e.at), e.actor, e.action, e.subject, text,
                      e.prev_hash) != e.hash:  # fmt: skip
            breaks.append(Break("directory-altered", f"{where}: content does not match its "
                                "hash (edited after it was written)", seq=_seq(e.seq),
                                user=user))  # fmt: skip
        if e.seq != expected:
            gone = isinstance(e.seq, int) and e.seq > expected
            why = "the entries between were removed" if gone else "entries were repeated or moved"
            breaks.append(Break("directory-link-broken", f"{where} follows #{expected - 1}: "
                                f"{why}", seq=_seq(e.seq), user=user))  # fmt: skip
        elif e.prev_hash != prev:
            breaks.append(Break("directory-link-broken", f"{where}: prev_hash does not match "
                                "the entry before it (an entry before it was removed, inserted "
                                "or rewritten)", seq=_seq(e.seq), user=user))  # fmt: skip
        expected = (e.seq if isinstance(e.seq, int) else expected) + 1
        prev = e.hash
    end = expected - 1
    if head is None:
        breaks.append(Break("directory-head-mismatch", "the directory log's head (chain_head "
                            "row 2) is missing: it was deleted outside sopflow",
                            seq=end))  # fmt: skip
    elif (end, prev) != head:
        seq, _ = head
        if end < seq:
            why = ("the newest entry was removed" if seq - end == 1
                   else f"the newest {seq - end} entries were removed")  # fmt: skip
        elif end > seq:
            n = end - seq
            why = (f"{n} entr{'y was' if n == 1 else 'ies were'} added without going through "
                   "sopflow (which moves the head in the same transaction)")  # fmt: skip
        else:
            why = "the newest entry was rewritten"
        said = (f"as its head records, but not with its hash {head[1][:16]}…" if end == seq
                else f"but its head records #{seq} ({head[1][:16]}…)")  # fmt: skip
        breaks.append(Break("directory-head-mismatch", f"the directory log ends at #{end} "
                            f"{said}: {why}", seq=end))  # fmt: skip
    return breaks


def _user_of(entry: StoredEntry) -> tuple[str, str | None] | None:
    """The user an entry is about and their organisation, as the entry says (a change that
    is not JSON: its organisation unknown)."""
    if entry.action not in USER_ACTIONS:
        return None
    change: Any = entry.change
    if isinstance(change, str):
        with contextlib.suppress(ValueError):
            change = json.loads(change)
    org = change.get("organisation") if isinstance(change, dict) else None
    return str(entry.subject), org if isinstance(org, str) else None


def _seq(value: Any) -> int | None:
    return value if isinstance(value, int) else None


@dataclass
class Recorded:
    """The directory as the log says it is: subject -> (its last entry's seq, record)."""

    organisations: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    users: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)


def recorded(entries: Iterable[StoredEntry]) -> Recorded:
    """Fold the log, oldest first; a change that is not JSON is left out (its entry fails
    its hash)."""
    found = Recorded()
    for e, change in _changes(entries):
        organisation = _organisation_after(e, change, found.organisations)
        if organisation is not None:
            found.organisations[e.subject] = (e.seq, organisation)
        elif e.action in USER_ACTIONS:
            found.users[e.subject] = (e.seq, {k: change.get(k) for k in USER_FIELDS})
    return found


def organisation_timeline(
    entries: Iterable[StoredEntry],
) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """Each organisation's record after each of its entries, oldest first: organisation id
    -> [(the entry's ``at`` as stored, the record from then on)]."""
    timeline: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    now: dict[str, tuple[int, dict[str, Any]]] = {}
    for e, change in _changes(entries):
        organisation = _organisation_after(e, change, now)
        if organisation is not None:
            now[e.subject] = (e.seq, organisation)
            timeline.setdefault(e.subject, []).append((e.at, organisation))
    return timeline


def _changes(entries: Iterable[StoredEntry]) -> Iterator[tuple[StoredEntry, dict[str, Any]]]:
    for e in entries:
        try:
            change = json.loads(e.change) if isinstance(e.change, str) else e.change
        except ValueError:
            continue
        if isinstance(change, dict):
            yield e, change


def _organisation_after(e: StoredEntry, change: dict[str, Any],
                        organisations: Mapping[str, tuple[int, dict[str, Any]]]
                        ) -> dict[str, Any] | None:  # fmt: skip
    """The organisation's record once ``e`` applies (None: ``e`` is not about one)."""
    if e.action in (ORG_ADDED, ORG_RECORDED):
        return {k: change.get(k) for k in ORG_FIELDS}
    if e.action == LICENCE_CHANGED and e.subject in organisations:
        now = dict(organisations[e.subject][1])
        now.update({k: v for k, v in (change.get("after") or {}).items() if k in now})
        return now
    return None


def present_breaks(log: Recorded, organisations: Mapping[str, Mapping[str, Any]],
                   users: Mapping[str, Mapping[str, Any]]) -> list[Break]:  # fmt: skip
    """Where the present directory (organisation id -> ``org_record``, e-mail ->
    ``user_record``) is not what the log says: a value changed, a row deleted or added
    outside sopflow."""
    breaks = []
    for kind, said, now in (("organisation", log.organisations, organisations),
                            ("user", log.users, users)):  # fmt: skip
        for subject, (seq, record) in sorted(said.items()):
            row = now.get(subject)
            user = _user(kind, subject, row or record)
            if row is None:
                breaks.append(Break("directory-row-missing", f"{kind} {subject} is recorded by "
                                    f"the directory log (entry #{seq}) but is not in the "
                                    "directory: deleted outside sopflow", seq=seq,
                                    user=user))  # fmt: skip
                continue
            diffs = [f"{name} is {_shown(row.get(name))} in the directory, "
                     f"{_shown(record.get(name))} in the log"
                     for name in record if row.get(name) != record.get(name)]  # fmt: skip
            if diffs:
                breaks.append(Break("directory-row-altered", f"{kind} {subject}: "
                                    f"{'; '.join(diffs)} (entry #{seq}): changed outside "
                                    "sopflow", seq=seq, user=user))  # fmt: skip
        for subject in sorted(set(now) - set(said)):
            breaks.append(Break("directory-unrecorded", f"{kind} {subject} is in the directory "
                                "but no directory log entry records it: added outside "
                                "sopflow", user=_user(kind, subject, now[subject])))  # fmt: skip
    return breaks


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _user(kind: str, subject: str, record: Mapping[str, Any]) -> tuple[str, str | None] | None:
    org = record.get("organisation")
    return (subject, org if isinstance(org, str) else None) if kind == "user" else None
