"""Statistics and operations insight computed from the event log. Pure.

The services read rows from the store in bulk and hand them here as plain values
(``facts``); this package derives the statistical dimensions (period, age band, ISCO-08
and ISIC Rev.4 groups...), aggregates, suppresses small cells and draws the charts. It does
no I/O and reads no clock: "now" (for the age of open requests) is passed in.

Every figure is defined in docs/statistics.md.
"""

from __future__ import annotations

from sopflow.analytics.model import (
    NOT_IN_SOP,
    NOT_RECORDED,
    Column,
    Query,
    Row,
    Table,
    Window,
)

__all__ = ["NOT_IN_SOP", "NOT_RECORDED", "Column", "Query", "Row", "Table", "Window"]
