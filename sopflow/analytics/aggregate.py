"""Aggregation helpers: percentiles, distributions and small-cell suppression."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of sorted values, interpolating linearly between the two
    nearest ranks (Hyndman and Fan type 7: spreadsheets' PERCENTILE, numpy's default)."""
    if not ordered:
        return None
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


@dataclass(slots=True)
class Distribution:
    """Durations (days) collected for one cell of a table."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    def summary(self, prefix: str = "") -> dict[str, float | None]:
        ordered = sorted(self.values)
        n = len(ordered)
        return {
            f"{prefix}median_days": percentile(ordered, 0.5),
            f"{prefix}p90_days": percentile(ordered, 0.9),
            f"{prefix}mean_days": sum(ordered) / n if n else None,
            f"{prefix}max_days": ordered[-1] if n else None,
        }


def share(part: float, whole: float) -> float | None:
    """``part`` as a percentage of ``whole`` (None when ``whole`` is zero)."""
    return 100.0 * part / whole if whole else None


def suppress(keys: Sequence[tuple[str, ...]], counts: Sequence[int], k: int,
             hidden: set[int] | None = None) -> set[int]:  # fmt: skip
    """Indices of the cells to hide so that no count below ``k`` is published or can be
    worked out from what is.

    Primary: every cell counting fewer than ``k``. Complementary: a published total lets a
    reader subtract the visible cells from it, so along every line of the table (the
    cells that differ in one dimension only, the others fixed; and all the cells, for the
    grand total) the hidden cells must be at least two and together count at least ``k``;
    until they are, the smallest visible cell of the line is hidden too. Lines are checked
    again until nothing changes. ``hidden``: cells already hidden for another reason."""
    hidden = {i for i, c in enumerate(counts) if c < k} | (hidden or set())
    if not hidden or k <= 1:
        return hidden
    lines: list[list[int]] = [list(range(len(counts)))]
    width = len(keys[0]) if keys else 0
    if width > 1:
        for dim in range(width):
            groups: dict[tuple[str, ...], list[int]] = {}
            for i, key in enumerate(keys):
                groups.setdefault(key[:dim] + key[dim + 1 :], []).append(i)
            lines += [line for line in groups.values() if len(line) > 1]
    changed = True
    while changed:
        changed = False
        for line in lines:
            inside = [i for i in line if i in hidden]
            if not inside:
                continue
            while len(inside) < len(line) and (
                len(inside) < 2 or sum(counts[i] for i in inside) < k
            ):
                extra = min((i for i in line if i not in hidden), key=lambda i: (counts[i], i))
                hidden.add(extra)
                inside.append(extra)
                changed = True
    return hidden
