"""Bar and line charts as inline SVG, drawn here: no script, no web font, no external URL.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (screen readers
announce them) and a ``<title>`` per bar or point (the exact value on hover); the pages put
the same figures in a data table beside it. Suppressed values are drawn as a labelled gap.
Colours are the Okabe-Ito palette (told apart with colour-blindness).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")  # fmt: skip
WIDTH = 720
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def intervals(scale_end: float, whole: bool) -> int:
    """How many intervals the value axis has: four, unless the values are whole numbers (a
    count) and a quarter of the axis is not: then five, two or one, so that every tick is a
    whole number (0 1 2 3 4 5, not 0 1.2 2.5 3.8 5)."""
    if whole:
        for n in (4, 5, 2, 1):
            if (scale_end / n).is_integer():
                return n
    return 4


def _whole(values: Sequence[float | None]) -> bool:
    return all(float(v).is_integer() for v in values if v is not None)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (axis end)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _open(ident: str, height: int, title: str, description: str) -> list[str]:
    ident = escape(ident, quote=True)
    return [
        f'<svg role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" direction="ltr" '
        f'aria-labelledby="{ident}-title {ident}-desc" class="chart">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def bar_chart(ident: str, title: str, description: str, labels: Sequence[str],
              values: Sequence[float | None], unit: str = "",
              gaps: Sequence[str] | str = "suppressed") -> str:  # fmt: skip
    """Horizontal bars, one per label (long labels such as stage names stay readable). A
    missing value is a gap with its reason written in it (``gaps``: one for all, or one
    per bar: "suppressed", "no data")."""
    reasons = [gaps] * len(values) if isinstance(gaps, str) else list(gaps)
    bar, gap, left, right, top = 20, 8, 270, 80, 24
    height = top + len(labels) * (bar + gap) + 28
    scale_end = nice_ceiling(max((v for v in values if v is not None), default=0.0))
    span = WIDTH - left - right
    out = _open(ident, height, title, description)
    out.append(f"<g {FONT}>")
    n = intervals(scale_end, _whole(values))
    for tick in range(n + 1):
        x = left + span * tick / n
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 24}" '
                   'stroke="#d0d7de" stroke-width="1"/>')  # fmt: skip
        out.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="#444">'
                   f"{_fmt(scale_end * tick / n)}</text>")  # fmt: skip
    for i, (label, value, missing) in enumerate(zip(labels, values, reasons, strict=True)):
        y = top + i * (bar + gap)
        # what fits left of the bars (Arabic letters run wider than Latin ones at this size);
        # the whole label is the bar's title and the table's row
        short = label if len(label) <= 32 else label[:31] + "…"
        out.append(f'<text x="{left - 8}" y="{y + bar * 0.7:.1f}" text-anchor="end" '
                   f'fill="#1b1b1b">{escape(short)}</text>')  # fmt: skip
        if value is None:
            out.append(f'<text x="{left + 4}" y="{y + bar * 0.7:.1f}" fill="#666" '
                       f'font-style="italic">{escape(missing)}</text>')  # fmt: skip
            continue
        length = span * value / scale_end
        out.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" '
                   f'fill="{PALETTE[0]}"><title>{escape(label)}: {_fmt(value)} '
                   f"{escape(unit)}</title></rect>")  # fmt: skip
        out.append(f'<text x="{left + length + 4:.1f}" y="{y + bar * 0.7:.1f}" '
                   f'fill="#1b1b1b">{_fmt(value)}</text>')  # fmt: skip
    out.append("</g></svg>")
    return "\n".join(out)


def line_chart(ident: str, title: str, description: str, periods: Sequence[str],
               series: Mapping[str, Sequence[float | None]], unit: str = "") -> str:  # fmt: skip
    """One line per series over the periods; a missing or suppressed value breaks the line."""
    left, right, top, bottom = 56, 170, 20, 40
    height = 300
    peak = max((v for vs in series.values() for v in vs if v is not None), default=0.0)
    scale_end = nice_ceiling(peak)
    span_x, span_y = WIDTH - left - right, height - top - bottom
    step = span_x / max(len(periods) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * step, top + span_y * (1 - v / scale_end)

    out = _open(ident, height, title, description)
    out.append(f"<g {FONT}>")
    n = intervals(scale_end, all(_whole(vs) for vs in series.values()))
    for tick in range(n + 1):
        y = top + span_y * (1 - tick / n)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + span_x}" y2="{y:.1f}" '
                   'stroke="#d0d7de" stroke-width="1"/>')  # fmt: skip
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">'
                   f"{_fmt(scale_end * tick / n)}</text>")  # fmt: skip
    every = max(1, math.ceil(len(periods) / 12))  # at most a dozen period labels
    for i, period in enumerate(periods):
        if i % every == 0 or i == len(periods) - 1:
            out.append(f'<text x="{left + i * step:.1f}" y="{height - bottom + 18}" '
                       f'text-anchor="middle" fill="#444">{escape(period)}</text>')  # fmt: skip
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        for segment in _segments(values):
            points = " ".join("{:.1f},{:.1f}".format(*xy(i, v)) for i, v in segment)
            out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                       'stroke-width="2"/>')  # fmt: skip
        for i, v in enumerate(values):
            if v is not None:
                x, y = xy(i, v)
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                           f"<title>{escape(name)}, {escape(periods[i])}: {_fmt(v)} "
                           f"{escape(unit)}</title></circle>")  # fmt: skip
        ly = top + 16 * n
        out.append(f'<rect x="{WIDTH - right + 16}" y="{ly}" width="12" height="12" '
                   f'fill="{colour}"/><text x="{WIDTH - right + 34}" y="{ly + 10}" '
                   f'fill="#1b1b1b">{escape(name[:22])}</text>')  # fmt: skip
    out.append("</g></svg>")
    return "\n".join(out)


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive known values (a gap breaks the line)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, v))
    return [r for r in runs if r]
