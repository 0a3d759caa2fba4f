"""Facts a step's rules read from other requests of the same SOP, and their check under the
write lock.

A register number used once (``unique_value``) and a worker's contracts counted across
employers (``renewal_allowed_once``) depend on other requests. They are read before the
step is decided, outside the write transaction; two steps racing on the same number or the
same worker could each read "none yet" and both be recorded. So a step that read such facts
reads them again as the first thing of its write transaction, under a lock that every such
step of the SOP takes (SQLite's write lock, taken by BEGIN IMMEDIATE; a transaction advisory
lock on PostgreSQL), and is recorded only if they are unchanged. Otherwise ``FactsChanged``
sends the command back to be decided again on the new facts: its refusal then names the
request that took the number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sopflow.spec.models import RuleRef
from sopflow.store.queries import Reader, Writer
from states.machine import CompiledSop
from states.model import RequestState
from states.scopes import ALL, OPEN, holder_fact, scope

FACT_RULES = frozenset({"renewal_allowed_once", "unique_value"})
_FIELD_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class FactsChanged(Exception):
    """Another request changed what this step's rules read between its decision and its
    write: decide it again."""


@dataclass(frozen=True)
class FactQuery:
    """What a step's rules need to know of other requests, and how to read it."""

    sop: CompiledSop
    reference: str | None  # the request itself, never counted among the others
    rules: tuple[RuleRef, ...]
    values: Mapping[str, Any]  # the request's data with what the step brings over it

    def read(self, r: Reader) -> dict[str, Any]:
        """One indexed query per rule."""
        facts: dict[str, Any] = {}
        for ref in self.rules:
            if ref.rule == "unique_value":
                facts.update(_holder(r, self, ref.params))
            elif "worker_field" in ref.params:
                facts.update(_worker_history(r, self, ref.params))
        return facts

    def recheck(self, used: Mapping[str, Any]) -> Callable[[Writer], None]:
        """The check the write transaction runs first: the facts read again under the lock
        are those the decision used, or ``FactsChanged``."""

        def run(w: Writer) -> None:
            w.lock("facts:" + self.sop.spec.id)
            if self.read(w) != used:
                raise FactsChanged(self.sop.spec.id)

        return run


def fact_query(sop: CompiledSop, reference: str | None, state: RequestState, trigger: str,
               data: Mapping[str, Any] | None = None) -> FactQuery | None:  # fmt: skip
    """The facts firing ``trigger`` from ``state`` reads, or None (the many steps that read
    none). ``data`` is what the step brings, over the request's data."""
    tr = sop.by_state.get(state.state, {}).get(trigger)
    rules = tuple(r for r in (tr.requires.rules if tr else ()) if r.rule in FACT_RULES)
    if not rules:
        return None
    return FactQuery(sop, reference, rules, {**state.data, **(data or {})})


def _data_field(dialect: str, field_name: str) -> str:
    """SQL for the text of a field of a request's data (a field id of the SOP: checked to
    be an identifier before it is written into the statement)."""
    if not _FIELD_ID.match(field_name):
        raise ValueError(f"not a field id: {field_name!r}")
    if dialect == "sqlite":
        return f"CAST(json_extract(snapshot, '$.data.{field_name}') AS TEXT)"
    return f"(snapshot -> 'data' ->> '{field_name}')"


def _holder(r: Reader, q: FactQuery, params: Mapping[str, Any]) -> dict[str, Any]:
    """Another request of this SOP whose ``field`` holds the same value, among those the
    scope ``among`` counts (``states.scopes``): its reference and state, or None. ``open``
    is the store's own mark of a request not closed (no ``outcome``), whatever its version."""
    value = q.values.get(str(params["field"]))
    if value in (None, ""):
        return {}
    # the only text written into the statement is a field id checked by _data_field
    sql = (f"SELECT reference, state FROM requests WHERE sop_id = :sop AND "  # noqa: S608
           f"{_data_field(r.dialect, str(params['field']))} = :value")  # fmt: skip
    args: dict[str, Any] = {"sop": q.sop.spec.id, "value": str(value).strip()}
    counted = scope(params.get("among", ALL))
    if counted == OPEN:
        sql += " AND outcome IS NULL"
    elif not isinstance(counted, str):
        states = sorted(counted)
        sql += f" AND state IN ({', '.join(f':s{n}' for n in range(len(states)))})"
        args |= {f"s{n}": s for n, s in enumerate(states)}
    if q.reference is not None:
        sql += " AND reference <> :ref"
        args["ref"] = q.reference
    row = r.one(sql + " ORDER BY id LIMIT 1", args)
    held = {"reference": row["reference"], "state": row["state"]} if row else None
    return {holder_fact(params): held}


def _worker_history(r: Reader, q: FactQuery, params: Mapping[str, Any]) -> dict[str, Any]:
    """The contracts granted to the worker (``worker_field``) under this SOP, with every
    employer: how many (``prior_contracts``), how many renewals (``prior_renewals``), and
    whether ``previous_field`` names one of them (``previous_found``), by its
    ``visa_field`` or its request reference."""
    worker_field, type_field = str(params["worker_field"]), str(params["type_field"])
    worker = q.values.get(worker_field)
    if worker in (None, ""):
        return {"prior_contracts": 0, "prior_renewals": 0, "previous_found": False}
    granted = sorted(s.id for s in q.sop.spec.states if s.final == "approved")
    marks = ", ".join(f":s{n}" for n in range(len(granted))) or "NULL"
    rows = r.all(f"SELECT reference, snapshot FROM requests WHERE sop_id = :sop AND "  # noqa: S608
                 f"state IN ({marks}) AND {_data_field(r.dialect, worker_field)} = :worker",
                 {"sop": q.sop.spec.id, "worker": str(worker).strip(),
                  **{f"s{n}": s for n, s in enumerate(granted)}})  # fmt: skip
    others = [row for row in rows if row["reference"] != q.reference]
    renewal = params.get("renewal_value", "renewal")
    facts: dict[str, Any] = {
        "prior_contracts": len(others),
        "prior_renewals": sum(
            1 for o in others if o["snapshot"]["data"].get(type_field) == renewal
        ),
    }
    if params.get("previous_field"):
        previous = str(q.values.get(str(params["previous_field"])) or "").strip()
        visa_field = str(params.get("visa_field", ""))
        facts["previous_found"] = bool(previous) and any(
            previous in (o["reference"], o["snapshot"]["data"].get(visa_field)) for o in others
        )
    return facts
