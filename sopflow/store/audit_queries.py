"""The queries of ``audit verify`` and the exports: the events as stored (or as the text their
hashes cover), the requests' heads, and the rows the chains do not cover, compared with
what the events say they must be. Reads of the whole log: rows as tuples where a million
are read."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sopflow.domain.chain import HEADER_FIELDS, ROW_COLUMNS
from sopflow.store.sql import Cursor

# the header fields from ``seq`` on as ``chain.row_hash`` encodes them (``at`` in its canonical
# text), then a newline and the payload: what an event's hash covers after its reference
_COVERED = "json_array({}) || char(10) || payload".format(", ".join(
    "CASE WHEN substr(at, 11, 1) = ' ' THEN substr(at, 1, 10) || 'T' || substr(at, 12) || 'Z' "
    "ELSE at END" if field == "at" else field for field in HEADER_FIELDS[1:]))  # fmt: skip
_HASHED_ROWS = (
    f"SELECT id, request_id, seq, CAST({_COVERED} AS BLOB), hash, chain_seq, chain_prev, "
    "chain_hash, prev_hash, at FROM events WHERE id > :after AND id <= :upto "
    "ORDER BY id LIMIT :limit"
)
Final = tuple[str, int, str, str, str | None]  # sop_id, version, content hash, state, outcome


class AuditQueries(Cursor):
    def chain_rows(self, after_id: int, limit: int, upto: int | None = None,
                   request_id: int | None = None) -> list[tuple[Any, ...]]:  # fmt: skip
        """Events for verification as stored tuples in ``ROW_COLUMNS`` order: payload as its
        JSON text, time as text; no decoding (a million events must take seconds, and a
        malformed value must be reported, not fail the reading). ``request_id``: one
        request's events only."""
        columns = list(ROW_COLUMNS)
        if self.dialect != "sqlite":
            columns[columns.index("payload")] = "payload::text AS payload"
            columns[columns.index("at")] = (
                "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at"
            )
        sql = (f"SELECT {', '.join(columns)} FROM events WHERE id > :after AND id <= :upto "
               + ("AND request_id = :rid " if request_id is not None else "")
               + "ORDER BY id LIMIT :limit")  # fmt: skip
        upto = upto if upto is not None else 2**62
        params = {"after": after_id, "limit": limit, "upto": upto, "rid": request_id}
        return list(self.run(sql, params).fetchall())

    def hashed_rows(self, after_id: int, limit: int, upto: int) -> list[tuple[Any, ...]] | None:
        """SQLite: events for verification with the text their hash covers assembled by
        SQLite: (id, request_id, seq, covered, hash, chain_seq, chain_prev, chain_hash,
        prev_hash, at as stored), ``covered`` the UTF-8 bytes of the header's JSON array from
        ``seq`` on, a newline and the payload (``chain.covered_digest``). SQLite's JSON is
        Python's, character for character, and one object a row is a third of the cost of
        twenty-three. None where SQLite cannot assemble it (a BLOB edited into a column):
        the stored rows are then read as they are (``chain_rows``)."""
        try:
            params = {"after": after_id, "upto": upto, "limit": limit}
            return list(self.run(_HASHED_ROWS, params).fetchall())
        except sqlite3.Error:
            return None

    def id_span(self) -> tuple[int, int]:
        """(lowest id, highest id) of the events table, (0, 0) when it is empty: two lookups
        at the ends of the primary key (``min`` and ``max`` in one SELECT would scan it)."""
        row = self.one("SELECT (SELECT min(id) FROM events) AS lo, "
                       "(SELECT max(id) FROM events) AS hi")  # fmt: skip
        assert row is not None
        return int(row["lo"] or 0), int(row["hi"] or 0)

    def request_heads(self) -> list[tuple[int, str, int, str]]:
        """Each request's (id, reference, seq, last_hash), as tuples: a verification reads
        a hundred thousand."""
        return list(self.run("SELECT id, reference, seq, last_hash FROM requests ORDER BY id"
                             ).fetchall())  # fmt: skip

    def references(self) -> set[str]:
        """Every request's reference."""
        return {reference for (reference,) in self.run("SELECT reference FROM requests")}

    def request_references(self) -> dict[int, str]:
        """Each request's id -> its reference (as tuples: a verification's worker reads a
        hundred thousand)."""
        return dict(self.run("SELECT id, reference FROM requests").fetchall())

    def pinned_versions(self, reference: str | None = None) -> list[tuple[str, int, str]]:
        """Each SOP version (sop_id, version, content hash) the request rows are pinned to
        (or ``reference``'s row)."""
        one = " WHERE reference = :ref" if reference is not None else ""
        sql = "SELECT DISTINCT sop_id, sop_version, sop_hash FROM requests" + one
        return list(self.run(sql, {"ref": reference}).fetchall())

    def rows_unlike_their_outcome(
        self, finals: Sequence[Final], reference: str | None = None
    ) -> list[dict[str, Any]]:
        """Requests whose outcome is not the one ``finals`` gives their state in their SOP
        version (each: sop_id, version, content hash, state, outcome or None), in one pass
        over the rows; a state or version ``finals`` does not name is not compared."""
        if not finals:
            return []
        values = ", ".join(f"(CAST(:i{n} AS TEXT), CAST(:v{n} AS INTEGER), CAST(:h{n} AS TEXT), "
                           f"CAST(:s{n} AS TEXT), CAST(:o{n} AS TEXT))"
                           for n in range(len(finals)))  # fmt: skip
        params: dict[str, Any] = {"ref": reference}
        for n, (sop_id, version, sop_hash, state, outcome) in enumerate(finals):
            params |= {f"i{n}": sop_id, f"v{n}": version, f"h{n}": sop_hash, f"s{n}": state,
                       f"o{n}": outcome}  # fmt: skip
        differs = "IS NOT" if self.dialect == "sqlite" else "IS DISTINCT FROM"
        one = " AND r.reference = :ref" if reference is not None else ""
        return self.all(
            f"WITH finals (sop_id, sop_version, sop_hash, state, outcome) AS (VALUES {values}) "
            "SELECT r.reference, r.seq, r.state, r.outcome, f.outcome AS should "
            "FROM requests r JOIN finals f ON f.sop_id = r.sop_id AND "
            "f.sop_version = r.sop_version AND f.sop_hash = r.sop_hash AND f.state = r.state "
            f"WHERE r.outcome {differs} f.outcome{one} ORDER BY r.id", params)  # fmt: skip

    def rows_unlike_their_events(self, reference: str | None = None) -> list[dict[str, Any]]:
        """Requests whose row says another state or SOP version than their last event, or
        another filer or organisation than their first event (which records both; events
        before the organisation was recorded name only the filer): one pass over the rows,
        two lookups each on the (request_id, seq) index. A comparison with a missing value
        (an event deleted: the chains report it) finds nothing."""
        org = ("json_extract(f.payload, '$.organisation')" if self.dialect == "sqlite"
               else "(f.payload ->> 'organisation')")  # fmt: skip
        one = " AND r.reference = :ref" if reference is not None else ""
        return self.all(
            "SELECT r.reference, r.seq, r.state, r.sop_hash, r.created_by, r.organisation_id, "
            f"e.to_state, e.sop_hash AS event_sop_hash, f.actor_id, {org} AS filed_for "
            "FROM requests r LEFT JOIN events e ON e.request_id = r.id AND e.seq = r.seq "
            "LEFT JOIN events f ON f.request_id = r.id AND f.seq = 1 "
            "WHERE (e.to_state <> r.state OR e.sop_hash <> r.sop_hash "
            f"OR f.actor_id <> r.created_by OR {org} <> r.organisation_id)" + one
            + " ORDER BY r.id", {"ref": reference})  # fmt: skip
