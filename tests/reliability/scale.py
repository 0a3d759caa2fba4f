"""How long the reliability runs are: the fast form in ``make test``, the long one in
``make soak`` (``SOAK_SCALE`` multiplies its counts; ``.ci/run`` uses a small scale).

Figures (requests per second, kills survived, inputs tried) are appended as JSON lines to
``SOPFLOW_RELIABILITY_FIGURES`` when it names a file, for docs/reliability.md."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SCALE = max(float(os.environ.get("SOAK_SCALE", "1")), 0.05)


def scaled(count: float, minimum: int = 1) -> int:
    """``count`` times SOAK_SCALE, at least ``minimum``."""
    return max(int(count * SCALE), minimum)


def record(name: str, **figures: Any) -> None:
    """Keep a figure of this run (when SOPFLOW_RELIABILITY_FIGURES is set)."""
    target = os.environ.get("SOPFLOW_RELIABILITY_FIGURES")
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"test": name, **figures}, default=str) + "\n")
