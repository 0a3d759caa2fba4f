"""Raw SQL on one DBAPI connection: ``:name`` parameters on every dialect (SQLite's own
style, rewritten once per statement for psycopg), JSON and time columns encoded and decoded
by name. The hot path of the store uses it instead of SQLAlchemy statements."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sopflow.domain.chain import canonical_json, utc_text

JSON_COLUMNS = frozenset({"snapshot", "payload", "roles", "result", "attempt_log", "change"})
TIME_COLUMNS = frozenset({"created_at", "updated_at", "deadline", "at", "uploaded_at",
                          "published_at", "next_attempt_at", "sent_at", "expires_at",
                          "ended_at", "last_used_at", "revoked_at"})  # fmt: skip
_PLAIN = frozenset({str, int, bool, float, type(None)})


class JsonText(str):
    """A value already encoded as canonical JSON (an event's payload, encoded once for its
    hash and stored as that very text)."""


# Python's sqlite3 binds only exact int, float, str and bytes without more ado; for any other
# value (None, a bool, a str subclass) it looks for an adapter, and when none is registered
# the lookup raises and formats an AttributeError before the value is bound as it is: about
# 2,500 instructions a value, some seven a step (callgrind, bench/step_instructions.py).
# Registered, each is one call, and binds to the same stored value.
sqlite3.register_adapter(bool, int)  # SQLite stores a boolean as 0 or 1 in any case
sqlite3.register_adapter(JsonText, str)


def _null(value: None) -> None:
    return None  # NULL, as the driver binds None unadapted


sqlite3.register_adapter(type(None), _null)


_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def utc_time(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite keeps UTC text without a zone,
    PostgreSQL returns an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":  # SQLite's own text: UTC, given its zone
            return datetime.fromisoformat(value + "+00:00")  # (a quarter of replace's cost)
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def _psycopg_text(sql: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s`` (once per statement text)."""
    return _PARAM.sub(r"%(\1)s", sql)


@functools.lru_cache(maxsize=4096)
def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` parameters as SQLite's ``?``, and the names in the order they appear (a
    name used twice is bound twice); once per statement text."""
    return _PARAM.sub("?", sql), tuple(_PARAM.findall(sql))


_BOOLEANS = frozenset({"active", "breached"})


@functools.lru_cache(maxsize=1024)
def _decoded(names: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of a result that need decoding (JSON, times, dates, booleans)."""
    special = JSON_COLUMNS | TIME_COLUMNS | _BOOLEANS | {"licence_expires"}
    return tuple(n for n in names if n in special)


class Cursor:
    """Raw SQL on one DBAPI connection, with ``:name`` parameters on every dialect."""

    def __init__(self, dbapi_conn: Any, dialect: str) -> None:
        self.raw = dbapi_conn
        self.dialect = dialect
        self.cur = dbapi_conn.cursor()

    def _bound(self, sql: str, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The statement's text for the driver and its parameters, encoded: positional on
        SQLite, whose driver binds a named parameter by asking SQLite for its name and
        looking it up (a 22-column insert: 10.5 µs named, 3-6 µs positional, measured)."""
        if self.dialect != "sqlite":
            return _psycopg_text(sql), self._encode(params)
        text, names = _positional(sql)
        values = []
        for key in names:
            try:
                value = params[key]
            except KeyError:
                raise sqlite3.ProgrammingError(f"no value for the parameter :{key}") from None
            values.append(value if type(value) in _PLAIN and key not in JSON_COLUMNS
                          else self._value(key, value))  # fmt: skip
        return text, values

    def _encode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value if type(value) in _PLAIN and key not in JSON_COLUMNS
                else self._value(key, value) for key, value in params.items()}  # fmt: skip

    def _value(self, key: str, value: Any) -> Any:
        """A value as stored: JSON columns as canonical text, times and dates as SQLite's
        text on SQLite."""
        if key in JSON_COLUMNS and value is not None:
            if type(value) is not JsonText:
                value = canonical_json(value)
        elif isinstance(value, datetime) and self.dialect == "sqlite":
            # the text SQLAlchemy's SQLite DateTime type reads back, in UTC
            value = utc_text(value)
        elif isinstance(value, date) and self.dialect == "sqlite":
            value = value.isoformat()
        return value

    def _decode(self, names: tuple[str, ...], row: Sequence[Any]) -> dict[str, Any]:
        item = dict(zip(names, row, strict=True))
        for name in _decoded(names):
            value = item[name]
            if value is None:
                continue
            if name in JSON_COLUMNS:
                if isinstance(value, str):
                    item[name] = json.loads(value)
            elif name in TIME_COLUMNS:
                item[name] = utc_time(value)
            elif name == "licence_expires":
                if isinstance(value, str):
                    item[name] = date.fromisoformat(value)
            elif isinstance(value, int):  # a boolean, stored as an integer by SQLite
                item[name] = bool(value)
        return item

    def _names(self) -> tuple[str, ...]:
        return tuple(d[0] for d in self.cur.description)

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run a statement and return the cursor, for reads that take its rows as tuples
        (a million of them, or a hot path's one); without ``params`` the text is sent as it
        is (a ``%`` in a literal means nothing to psycopg then)."""
        if params is None:
            self.cur.execute(sql)
        else:
            self.cur.execute(*self._bound(sql, params))
        return self.cur

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        return int(self.run(sql, params or {}).rowcount)

    def many(self, sql: str, rows: Iterable[Mapping[str, Any]]) -> None:
        bound = [self._bound(sql, r) for r in rows]
        if bound:
            self.cur.executemany(bound[0][0], [values for _, values in bound])

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self.run(sql, params or {})
        names = self._names()
        return [self._decode(names, row) for row in self.cur.fetchall()]

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        row = self.run(sql, params or {}).fetchone()
        return None if row is None else self._decode(self._names(), row)
