"""The notes under a statistics table, as values: a code and its parameters, so that each
reader gets them in their language. ``ENGLISH`` holds each code's English sentence (the
command line's, the API's in English, and what a page falls back to); the pages, the CSV's
page and the API say them in French and Arabic from ``sopflow/web/stats_notes.yaml``, which
names the same codes and parameters. Parameters are codes (a dimension, an SOP id) or
whole numbers; the web puts the reader's words for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sopflow.analytics.model import NOT_IN_SOP, NOT_RECORDED

ENGLISH: dict[str, str] = {
    "not-in-sop": "{dimension} is not recorded by {sop} (its statistics mapping has no field "
                  "for it): its requests count under '" + NOT_IN_SOP + "'",
    "no-sdg-mapping": "SDG 10.7.1 cannot be computed for {sop}: its statistics mapping lacks "
                      "worker_paid_costs or monthly_wage",
    "flows-apart": "the SOPs of this query record different migration flows (outflow: "
                   "workers placed abroad, counted by their country of origin; inflow: "
                   "foreign workers admitted, counted by the country of destination; 20th "
                   "ICLS). They are different populations, so their requests are never added "
                   "together: the table is broken down by flow (put first when not asked "
                   "for) and has one total and one headline per flow, none over all of them; "
                   "small cells are suppressed flow by flow",
    "flow-undetermined": "{sop}'s statistics mapping does not tell its migration flow (it maps "
                         "destination_country and also citizenship or origin_country, or "
                         "none of them): its requests are counted as a flow of their own, "
                         "never added to another SOP's",
    "nothing-decided": "no request was decided in the window of this query",
    "nothing-filed": "no request was filed in the window of this query",
    "rows-suppressed": "{hidden} of {count} row(s) suppressed: fewer than {min_cell} requests, "
                       "or hidden so that a suppressed cell cannot be worked out from the totals",
    "not-recorded": "'" + NOT_RECORDED + "': the SOP has the field but the request does not "
                    "fill it",
    "role-ended": "role: the role of whoever ended the stay (the system for an expiry or an "
                  "escalation)",
    "open-left-out": "open stays are left out when the table is broken down by role or period",
    "first-time-right": "first_time_right_pct: requests decided in the window that were never "
                        "returned for correction, as a share of the requests decided",
    "queue-now": "queue_now: open requests now in a stage that waits for the role (it has a "
                 "step to a next stage there, or only decisions are left), whatever the window",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Note:
    """A note of a table: ``code`` (a key of ``ENGLISH``) and the values it names; ``str()``
    is its English sentence."""

    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)

    def __str__(self) -> str:
        return ENGLISH[self.code].format(**self.params)


def note(code: str, **params: str | int) -> Note:
    if code not in ENGLISH:
        raise KeyError(code)
    return Note(code, params)
