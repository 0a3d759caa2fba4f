"""Raw SQL on one DBAPI connection: ``:name`` parameters on every dialect (SQLite's own
style, rewritten once per statement for psycopg), JSON and time columns encoded and decoded
by name. The hot path of the store uses it instead of SQLAlchemy statements."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sopflow.domain.chain import canonical_json

JSON_COLUMNS = frozenset({"snapshot", "payload", "roles", "result", "attempt_log"})
TIME_COLUMNS = frozenset({"created_at", "updated_at", "deadline", "at", "uploaded_at",
                          "published_at", "next_attempt_at", "sent_at"})  # fmt: skip
_PLAIN = frozenset({str, int, bool, float, type(None)})
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def _sqlite_time(value: datetime) -> str:
    # the text SQLAlchemy's SQLite DateTime type reads back, in UTC (isoformat: ~8x faster
    # than strftime, which showed in the profile of every command)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class Cursor:
    """Raw SQL on one DBAPI connection, with ``:name`` parameters on every dialect."""

    def __init__(self, dbapi_conn: Any, dialect: str) -> None:
        self.raw = dbapi_conn
        self.dialect = dialect
        self.cur = dbapi_conn.cursor()
        self._sql: dict[str, str] = {}

    def _text(self, sql: str) -> str:
        text = self._sql.get(sql)
        if text is None:
            text = sql if self.dialect == "sqlite" else _PARAM.sub(r"%(\1)s", sql)
            self._sql[sql] = text
        return text

    def _encode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in params.items():
            if type(value) in _PLAIN and key not in JSON_COLUMNS:
                out[key] = value
                continue
            if key in JSON_COLUMNS and value is not None:
                value = canonical_json(value)  # the payload text is what its hash covers
            elif isinstance(value, datetime) and self.dialect == "sqlite":
                value = _sqlite_time(value)
            elif isinstance(value, date) and self.dialect == "sqlite":
                value = value.isoformat()
            out[key] = value
        return out

    def _decode(self, names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
        item = dict(zip(names, row, strict=True))
        for name in names:
            value = item[name]
            if value is None:
                continue
            if name in JSON_COLUMNS and isinstance(value, str):
                item[name] = json.loads(value)
            elif name in TIME_COLUMNS:
                if isinstance(value, str):
                    value = datetime.fromisoformat(value)
                item[name] = (
                    value.replace(tzinfo=UTC) if value.tzinfo is None else (value.astimezone(UTC))
                )
            elif name == "licence_expires" and isinstance(value, str):
                item[name] = date.fromisoformat(value)
            elif name in ("active", "breached") and isinstance(value, int):
                item[name] = bool(value)
        return item

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        self.cur.execute(self._text(sql), self._encode(params or {}))
        return int(self.cur.rowcount)

    def many(self, sql: str, rows: Iterable[Mapping[str, Any]]) -> None:
        self.cur.executemany(self._text(sql), [self._encode(r) for r in rows])

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self.cur.execute(self._text(sql), self._encode(params or {}))
        names = [d[0] for d in self.cur.description]
        return [self._decode(names, row) for row in self.cur.fetchall()]

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        self.cur.execute(self._text(sql), self._encode(params or {}))
        row = self.cur.fetchone()
        return None if row is None else self._decode([d[0] for d in self.cur.description], row)
