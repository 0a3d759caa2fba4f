"""An earlier export's manifest held against the database now (``audit verify --anchor``).

The chains catch an edit, a removal or an insertion, but not someone with database access
who rewrites a log whole and hashes it again consistently. An export's manifest, kept
outside the database, records each log's head as it was: the event log's link and (from
manifest version 2) the directory log's. The log must still hold exactly those links, and
nothing after them may be dated before the manifest was taken."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sopflow.domain.chain import Break, canonical_time
from sopflow.domain.directory_log import entry_moment
from sopflow.store import directory_log as directory_store
from sopflow.store.queries import Reader
from states.replay import CLOCK_TOLERANCE


@dataclass(frozen=True)
class Anchor:
    """``events``: (chain_seq, chain_hash); ``directory``: (seq, hash) of the directory log,
    None when the manifest did not record it (version 1); ``at``: when they were read."""

    events: tuple[int, str]
    at: datetime | None = None
    directory: tuple[int, str] | None = None


def anchor_breaks(r: Reader, anchor: Anchor) -> list[Break]:
    """Where the database no longer holds what ``anchor`` recorded."""
    at = anchor.at if anchor.at is None or anchor.at.tzinfo else anchor.at.replace(tzinfo=UTC)
    breaks = _event_breaks(r, anchor.events, at)
    if anchor.directory is not None:
        breaks += _directory_breaks(r, anchor.directory, at)
    return breaks


def _event_breaks(r: Reader, anchor: tuple[int, str], at: datetime | None) -> list[Break]:
    seq, chain_hash = anchor
    breaks = []
    if seq > 0:  # an anchor of an empty log holds no link; what follows it is checked below
        found = r.one("SELECT chain_hash FROM events WHERE chain_seq = :s", {"s": seq})
        if found is None or found["chain_hash"] != chain_hash:
            breaks.append(Break("anchor-mismatch", f"the log no longer holds the anchored link "
                                f"#{seq} ({chain_hash[:16]}…): it was rewritten or truncated "
                                "after the anchor"))  # fmt: skip
    if at is not None:
        for row in r.events_dated_before(seq, at - CLOCK_TOLERANCE):
            breaks.append(Break(
                "backdated-after-anchor", f"request {row['reference']}: event seq {row['seq']} "
                f"(chain #{row['chain_seq']}) comes after the anchored link #{seq} but is dated "
                f"{canonical_time(row['at'])}, before the anchor was taken "
                f"({canonical_time(at)}): it was written into the anchored past",
                row["reference"], row["seq"], row["id"]))  # fmt: skip
    return breaks


def _directory_breaks(r: Reader, anchor: tuple[int, str], at: datetime | None) -> list[Break]:
    seq, entry_hash = anchor
    entries = directory_store.stored_entries(r)  # a few rows per organisation and user
    breaks = []
    if seq > 0 and not any(e.seq == seq and e.hash == entry_hash for e in entries):
        breaks.append(Break("directory-anchor-mismatch", f"the directory log no longer holds "
                            f"the anchored entry #{seq} ({entry_hash[:16]}…): it was rewritten "
                            "or truncated after the anchor", seq=seq))  # fmt: skip
    if at is not None:
        earliest = at - CLOCK_TOLERANCE
        for e in entries:
            moment = entry_moment(e.at)
            if isinstance(e.seq, int) and e.seq > seq and moment is not None and moment < earliest:
                breaks.append(Break(
                    "directory-backdated-after-anchor", f"directory log entry #{e.seq} "
                    f"({e.action} {e.subject}) comes after the anchored entry #{seq} but is "
                    f"dated {canonical_time(moment)}, before the anchor was taken "
                    f"({canonical_time(at)}): it was written into the anchored past",
                    seq=e.seq))  # fmt: skip
    return breaks
