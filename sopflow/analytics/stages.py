"""Where requests spend their time: time in each stage (bottlenecks) and the ageing of
open requests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sopflow.analytics.aggregate import Distribution, percentile, share
from sopflow.analytics.grouping import OPEN_ROLE, Tally, merge_lists, tally_all, within
from sopflow.analytics.model import Column, Query, Row, Table, rounded
from sopflow.analytics.notes import Note, note
from sopflow.analytics.stays import Track

STAGE_DIMENSIONS = ("sop", "stage", "waiting_on", "office", "role", "period")
OPEN_DIMENSIONS = frozenset({"sop", "stage", "waiting_on", "office"})
STAGE_MEASURES = (
    Column("stays", "count", "stays in the stage that ended in the window"),
    Column("median_days", "days", "median elapsed days of those stays"),
    Column("p90_days", "days", "90th percentile of elapsed days (linear interpolation)"),
    Column("mean_days", "days", "mean elapsed days"),
    Column("max_days", "days", "longest stay"),
    Column("days_total", "days", "days spent in the stage by all those stays together"),
    Column("time_share_pct", "percent", "days_total as a share of the table's days_total: "
           "where the time goes"),
    Column("rank", "number", "1 = the stage where requests spent the most time (days_total)"),
)  # fmt: skip
OPEN_MEASURES = (
    Column("open_now", "count", "requests in the stage now (any window)"),
    Column("open_median_days", "days", "median days they have been in it so far"),
    Column("open_max_days", "days", "longest of them so far"),
)
BOTTLENECKS = 3


class TimeInStage(Tally):
    """Time in stage: stays that ended in the window (by their local end date), with the
    requests still in each stage now when the table is not broken down by role or period."""

    allowed, name = STAGE_DIMENSIONS, "stages"

    def __init__(self, query: Query, now: datetime) -> None:
        super().__init__(query, now)
        self.with_open = set(self.by) <= OPEN_DIMENSIONS
        self.done: dict[tuple[str, ...], list[float]] = {}
        self.still: dict[tuple[str, ...], list[float]] = {}

    def add(self, track: Track) -> None:
        self.learn(track.sop)
        keys, now, query = self.keys, self.now, self.query
        for stay in track.stays:
            if stay.exit is None or stay.left_at is None:
                if self.with_open:
                    key = keys(track, {"stage": stay.state, "role": OPEN_ROLE})
                    self.still.setdefault(key, []).append(stay.days(now))
                continue
            if not within(query, track.sop, stay.left_at):
                continue
            key = keys(track, {"stage": stay.state, "role": stay.exit.role}, stay.left_at)
            self.done.setdefault(key, []).append(stay.days(now))

    def merge(self, other: TimeInStage) -> None:
        super().merge(other)
        merge_lists(self.done, other.done)
        merge_lists(self.still, other.still)

    def table(self) -> Table:
        by, done, still = self.by, self.done, self.still
        everything = Distribution([v for d in done.values() for v in d])
        grand = sum(everything.values)
        totals = {k: sum(d) for k, d in done.items()}
        ranks = {k: i for i, k in enumerate(sorted(totals, key=lambda k: (-totals[k], k)), 1)}
        rows = []
        for key in self.order.sorted(set(done) | set(still)):
            dist = Distribution(done.get(key, []))
            spent = totals.get(key, 0.0)
            values: dict[str, int | float | None] = {
                "stays": len(dist.values), **dist.summary(), "days_total": spent,
                "time_share_pct": share(spent, grand), "rank": ranks.get(key)}  # fmt: skip
            if self.with_open:
                values.update(_open(still.get(key, [])))
            rows.append(Row(key, rounded(values)))
        total: dict[str, int | float | None] = {
            "stays": len(everything.values), **everything.summary(), "days_total": grand,
            "time_share_pct": 100.0 if grand else None, "rank": None}  # fmt: skip
        if self.with_open:
            total.update(_open([v for d in still.values() for v in d]))
        bottlenecks = [
            {"keys": dict(zip(by, k, strict=True)), "days_total": round(totals[k], 2),
             "time_share_pct": round(share(totals[k], grand) or 0.0, 2)}
            for k in sorted(ranks, key=ranks.__getitem__)[:BOTTLENECKS]
        ]  # fmt: skip
        return Table(
            name="stages", title="Time in stage",
            definition="Elapsed days from entering a stage to leaving it, for stays that "
            "ended in the window (local end date); requests still in a stage are shown apart "
            "(open_now) when the table is not broken down by role or period.",
            dimensions=by, measures=STAGE_MEASURES + (OPEN_MEASURES if self.with_open else ()),
            rows=rows, total=Row(("total",), rounded(total)),
            summary={"bottlenecks": bottlenecks}, query=self.query,
            notes=_notes(self.with_open),
        )  # fmt: skip


def stages(tracks: Iterable[Track], query: Query, now: datetime) -> Table:
    return tally_all(TimeInStage(query, now), tracks).table()


def _open(days: list[float]) -> dict[str, int | float | None]:
    values = sorted(days)
    return {"open_now": len(values), "open_median_days": percentile(values, 0.5),
            "open_max_days": values[-1] if values else None}  # fmt: skip


def _notes(with_open: bool) -> list[Note]:
    return [note("role-ended")] + ([] if with_open else [note("open-left-out")])


AGEING_DIMENSIONS = ("sop", "stage", "waiting_on", "office", "organisation")
BUCKETS = ((7.0, "age_0_7"), (30.0, "age_8_30"), (90.0, "age_31_90"), (180.0, "age_91_180"))
OLDEST = "age_over_180"
AGEING_MEASURES = (
    Column("open", "count", "open requests (filed in the window, not yet decided)"),
    Column("age_0_7", "count", "filed at most 7 days ago"),
    Column("age_8_30", "count", "filed 8 to 30 days ago"),
    Column("age_31_90", "count", "filed 31 to 90 days ago"),
    Column("age_91_180", "count", "filed 91 to 180 days ago"),
    Column("age_over_180", "count", "filed more than 180 days ago"),
    Column("median_age_days", "days", "median days since filing"),
    Column("max_age_days", "days", "oldest open request, days since filing"),
    Column("median_in_stage_days", "days", "median days in the current stage"),
    Column("overdue", "count", "open requests whose current stage's deadline has passed"),
)


def bucket(days: float) -> str:
    """The age bucket of a request filed ``days`` ago (whole days, 7 included in 0-7)."""
    whole = int(days)
    for upper, name in BUCKETS:
        if whole <= upper:
            return name
    return OLDEST


class Ageing(Tally):
    """Open requests as of ``now`` by age since filing (filed in the window, if given)."""

    allowed, name = AGEING_DIMENSIONS, "ageing"

    def __init__(self, query: Query, now: datetime) -> None:
        super().__init__(query, now)
        self.cells: dict[tuple[str, ...], list[tuple[float, float, bool]]] = {}

    def add(self, track: Track) -> None:
        stay = track.open_stay
        if track.outcome is not None or stay is None:
            return
        if not within(self.query, track.sop, track.filed_at):
            return
        self.learn(track.sop)
        age = (self.now - track.filed_at).total_seconds() / 86400.0
        overdue = stay.deadline is not None and stay.deadline < self.now
        key = self.keys(track, {"stage": stay.state})
        self.cells.setdefault(key, []).append((age, stay.days(self.now), overdue))

    def merge(self, other: Ageing) -> None:
        super().merge(other)
        merge_lists(self.cells, other.cells)

    def table(self) -> Table:
        cells = self.cells
        rows = [Row(k, _ageing_values(cells[k])) for k in self.order.sorted(cells)]
        every = [item for items in cells.values() for item in items]
        return Table(
            name="ageing", title="Ageing of open requests",
            definition="Requests not yet decided at the time of the query, by days since "
            "filing (their first event) and days in their current stage.",
            dimensions=self.by, measures=AGEING_MEASURES, rows=rows,
            total=Row(("total",), _ageing_values(every)), query=self.query,
            summary={"open": len(every), "overdue": sum(1 for i in every if i[2])},
        )  # fmt: skip


def ageing(tracks: Iterable[Track], query: Query, now: datetime) -> Table:
    return tally_all(Ageing(query, now), tracks).table()


def _ageing_values(items: list[tuple[float, float, bool]]) -> dict[str, int | float | None]:
    ages = sorted(i[0] for i in items)
    values: dict[str, int | float | None] = {"open": len(items)}
    values.update(dict.fromkeys([name for _, name in BUCKETS] + [OLDEST], 0))
    for age in ages:
        name = bucket(age)
        values[name] = int(values[name] or 0) + 1
    values.update({
        "median_age_days": percentile(ages, 0.5), "max_age_days": ages[-1] if ages else None,
        "median_in_stage_days": percentile(sorted(i[1] for i in items), 0.5),
        "overdue": sum(1 for i in items if i[2])})  # fmt: skip
    return rounded(values)
