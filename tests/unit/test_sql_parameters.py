"""The store writes ``:name`` parameters on every dialect; on SQLite they are bound by
position (``sopflow.store.sql``). Whatever the binding, each value must land where its
name stands, be encoded as its column needs, and a missing one must be refused."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import pytest

from sopflow.store.sql import Cursor, JsonText


@pytest.fixture
def cursor() -> Cursor:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, payload TEXT, "
                 "at TEXT, due TEXT)")  # fmt: skip
    return Cursor(conn, "sqlite")


def test_each_value_lands_where_its_name_stands_whatever_the_order_given(
    cursor: Cursor,
) -> None:
    cursor.execute("INSERT INTO t (b, a) VALUES (:b, :a)", {"a": "first", "b": "second"})
    assert cursor.one("SELECT a, b FROM t") == {"a": "first", "b": "second"}


def test_a_name_used_twice_is_bound_twice_and_colons_in_literals_are_no_names(
    cursor: Cursor,
) -> None:
    cursor.execute("INSERT INTO t (a, b) VALUES (:x, :x || ' at 12:30')", {"x": "same"})
    assert cursor.all("SELECT a, b FROM t WHERE a = :x AND b LIKE :x || '%'", {"x": "same"}) == [
        {"a": "same", "b": "same at 12:30"}
    ]


def test_values_are_encoded_as_their_columns_need(cursor: Cursor) -> None:
    at = datetime(2026, 12, 7, 20, 0, 1, 5, tzinfo=UTC)
    cursor.execute("INSERT INTO t (payload, at, due) VALUES (:payload, :at, :due)",
                   {"payload": {"b": 1, "a": [True, None]}, "at": at,
                    "due": date(2026, 12, 31)})  # fmt: skip
    assert cursor.raw.execute("SELECT payload, at, due FROM t").fetchone() == (
        '{"a":[true,null],"b":1}',
        "2026-12-07 20:00:01.000005",
        "2026-12-31",
    )
    assert cursor.one("SELECT payload, at FROM t") == {"payload": {"a": [True, None], "b": 1},
                                                      "at": at}  # fmt: skip


def test_rows_of_many_are_bound_each_in_the_statements_order(cursor: Cursor) -> None:
    cursor.many("INSERT INTO t (a, b) VALUES (:a, :b)",
                [{"b": "1b", "a": "1a"}, {"a": "2a", "b": "2b"}])  # fmt: skip
    assert cursor.raw.execute("SELECT a, b FROM t ORDER BY id").fetchall() == [
        ("1a", "1b"), ("2a", "2b")]  # fmt: skip


def test_a_missing_value_is_refused_naming_it(cursor: Cursor) -> None:
    with pytest.raises(sqlite3.ProgrammingError, match="no value for the parameter :b"):
        cursor.execute("INSERT INTO t (a, b) VALUES (:a, :b)", {"a": "only"})


def test_booleans_none_and_canonical_texts_bind_as_sqlite_stores_them(cursor: Cursor) -> None:
    # sopflow.store.sql registers the driver's adapters for these (a lookup without one is
    # costly): what is stored must stay what the driver stored unadapted
    params = {"yes": True, "no": False, "none": None, "payload": JsonText('{"a":1}')}
    row = cursor.run("SELECT typeof(:yes), :yes, :no, typeof(:none), typeof(:payload), :payload",
                     params).fetchone()  # fmt: skip
    assert row == ("integer", 1, 0, "null", "text", '{"a":1}')
    cursor.execute("INSERT INTO t (payload, a) VALUES (:payload, :none)", params)
    assert cursor.one("SELECT payload, a FROM t") == {"payload": {"a": 1}, "a": None}
