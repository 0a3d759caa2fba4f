"""The directory log for auditors: its entries (``sopflow audit directory``) and its
verification (part of ``sopflow audit verify``): the chain of entries, its head, and the
present directory against what the log says it must be."""

from __future__ import annotations

from typing import Any

from sopflow.domain.chain import Break
from sopflow.domain.directory_log import (
    LICENCE_CHANGED,
    ORG_ACTIONS,
    chain_breaks,
    organisation_timeline,
    present_breaks,
    recorded,
)
from sopflow.domain.grounds_check import Timeline
from sopflow.errors import NotFound
from sopflow.services.context import Context
from sopflow.store import directory_log as stored
from sopflow.store.queries import Reader


def directory_breaks(r: Reader) -> tuple[int, list[Break]]:
    """(entries verified, every break: the chain's first, then the directory's). The steps'
    grounds are held against the log by the chain scan (``grounds_timeline``)."""
    entries = stored.stored_entries(r)
    organisations, users = stored.present(r)
    chain = chain_breaks(entries, stored.head(r))
    return len(entries), chain + present_breaks(recorded(entries), organisations, users)


def grounds_timeline(r: Reader) -> Timeline | None:
    """Each organisation's record through the directory log, to hold the steps' licence
    grounds against (``sopflow.domain.grounds_check``); None when the log's chain is broken:
    its own breaks say so, and what it would say of the licences is not to be relied on."""
    entries = stored.stored_entries(r)
    if chain_breaks(entries, stored.head(r)):
        return None
    return organisation_timeline(entries)


class DirectoryLog:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def entries(self, org: str | None = None) -> list[dict[str, Any]]:
        """The log, oldest first; ``org``: the entries of that organisation and of its
        users. Each entry: seq, at, by, action, subject, change, hash, and ``summary``, the
        change in words."""
        with self.ctx.store.read() as r:
            rows = stored.entries(r)
            known = org is None or r.organisation(org) is not None
        if org is not None:
            rows = [e for e in rows if _concerns(e, org)]
            if not rows and not known:
                raise NotFound(f"no organisation '{org}' (sopflow org list)")
        return [{"seq": e["seq"], "at": e["at"], "by": e["actor"], "action": e["action"],
                 "subject": e["subject"], "change": e["change"], "hash": e["hash"],
                 "summary": summary(e["action"], e["change"])} for e in rows]  # fmt: skip


def _concerns(entry: dict[str, Any], org: str) -> bool:
    if entry["action"] in ORG_ACTIONS:
        return bool(entry["subject"] == org)
    change = entry["change"]
    return isinstance(change, dict) and change.get("organisation") == org


def summary(action: str, change: Any) -> str:
    """An entry's change in words: 'status active -> suspended, expires 2027-06-30 ->
    2027-06-30'; 'agency Nile Recruitment (EG), licence RA-1 active, expires 2027-06-30';
    'at nile-agency, roles employer_agent, locale ar'."""
    if not isinstance(change, dict):
        return str(change)
    if action == LICENCE_CHANGED:
        before, after = change.get("before") or {}, change.get("after") or {}
        return (f"status {_word(before.get('licence_status'))} -> "
                f"{_word(after.get('licence_status'))}, expires "
                f"{_word(before.get('licence_expires'))} -> "
                f"{_word(after.get('licence_expires'))}")  # fmt: skip
    if action in ORG_ACTIONS:
        where = f" ({change['country']})" if change.get("country") else ""
        said = f"{change.get('kind')} {change.get('name')}{where}"
        if change.get("licence_number"):
            said += (f", licence {change['licence_number']} "
                     f"{_word(change.get('licence_status'))}, expires "
                     f"{_word(change.get('licence_expires'))}")  # fmt: skip
        return said
    roles = change.get("roles")
    shown = " ".join(roles) if isinstance(roles, list) else _word(roles)
    inactive = "" if change.get("active", True) else ", inactive"
    return (f"{change.get('name')} at {change.get('organisation')}, roles {shown}, locale "
            f"{change.get('locale')}{inactive}")  # fmt: skip


def _word(value: Any) -> str:
    return "-" if value is None else str(value)
