"""The migration flow a procedure's requests belong to: the statistical population they count.

The 20th ICLS guidelines (2018) keep apart the **outflow** of workers leaving a country for
work abroad, counted by the country of origin (Egypt's ministry placing Egyptian workers
abroad), and the **inflow** of foreign workers admitted to work, counted by the country of
destination (Tunisia's DGPEMOE authorising a foreign worker's contract). They are different
people seen from opposite ends of a move: a sum of the two, or an SDG 10.7.1 mean over
both, describes no population. So a placement table never adds requests of two flows.

The flow is told by the SOP's ``statistics`` mapping, read as a statistician reads a
register: an authority records the country at the *other* end of the move, its own
jurisdiction being this end. A procedure that records where its workers go
(``destination_country``) and not where they come from sends them out; one that records
where they come from (``citizenship`` or ``origin_country``) and not where they go takes them
in. The shipped v1 SOPs are pinned by their content hash, so the flow is derived from what
they already declare rather than added to them. An SOP whose mapping says both or neither
is not guessed: its requests are a flow of their own (``sop:<id>``, never an SOP id, which
has no colon), added to no other SOP's.
"""

from __future__ import annotations

from sopflow.spec.models import SopSpec

FLOW = "flow"  # the dimension
OUTFLOW = "outflow"
INFLOW = "inflow"
FLOWS = (OUTFLOW, INFLOW)
OWN = "sop:"  # the prefix of the flow of an SOP whose mapping does not tell it

GOING = ("destination_country",)
COMING = ("citizenship", "origin_country")


def flow_of(spec: SopSpec) -> str:
    """``outflow``, ``inflow``, or ``sop:<id>`` when the mapping does not tell which."""
    mapped = spec.statistics
    going = any(key in mapped for key in GOING)
    coming = any(key in mapped for key in COMING)
    if going and not coming:
        return OUTFLOW
    if coming and not going:
        return INFLOW
    return OWN + spec.id


def undetermined(flow: str) -> str | None:
    """The SOP id of a flow of its own (``sop:<id>``), None for ``outflow`` or ``inflow``."""
    return flow[len(OWN) :] if flow.startswith(OWN) else None
