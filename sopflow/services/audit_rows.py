"""What ``audit verify`` checks beside the chains, from the request rows and the reference
counters: a request's outcome must be the one its state has in its SOP version (lists, the
inbox, the SLA sweep and statistics read it), and every reference ever issued must still
name a request (a whole request deleted with its events, even the newest, is missed by the
chains of what is left)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sopflow.domain.chain import Break
from sopflow.errors import SopflowError
from sopflow.spec.models import SopSpec
from sopflow.store.queries import Reader

Specs = Callable[[str, int, str], SopSpec]  # a pinned version's definition


def outcome_breaks(r: Reader, specs: Specs, reference: str | None) -> list[Break]:
    """The requests whose row's outcome is not the one its state has in its SOP version."""
    finals = []
    for key in r.pinned_versions(reference):
        try:
            states = specs(*key).states
        except SopflowError:  # an SOP text altered or unknown: said by sop-altered
            continue
        finals += [(*key, s.id, s.final) for s in states]
    breaks = []
    for row in r.rows_unlike_their_outcome(finals, reference):
        should = row["should"]
        said = f"is final: '{should}'" if should else "is not final (no outcome)"
        breaks.append(Break("request-row-altered", f"request {row['reference']}: its row says "
                            f"outcome {_shown(row['outcome'])}, but its state '{row['state']}' "
                            f"{said}: the row was changed outside sopflow",
                            row["reference"], row["seq"]))  # fmt: skip
    return breaks


def issued_reference_breaks(r: Reader) -> list[Break]:
    """Each reference a counter says was issued names a request (a failed filing issues
    none: its counter's step is rolled back with it)."""
    held = r.references()
    breaks = []
    for counter in r.all("SELECT prefix, year, last FROM reference_counters "
                         "ORDER BY prefix, year"):  # fmt: skip
        issued = [f"{counter['prefix']}-{counter['year']}-{n:06d}"
                  for n in range(1, int(counter["last"]) + 1)]  # fmt: skip
        missing = [ref for ref in issued if ref not in held]
        if not missing:
            continue
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                          else "")  # fmt: skip
        breaks.append(Break("requests-missing", f"references up to {issued[-1]} were issued, but "
                            f"{shown} {'is' if len(missing) == 1 else 'are'} not in the database: "
                            "deleted outside sopflow, with their events", missing[0]))  # fmt: skip
    return breaks


def _shown(value: Any) -> str:
    return "none" if value is None else f"'{value}'"
