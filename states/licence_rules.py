"""The rules on a recruitment agency's licence, read from the directory (Egypt: Law
14/2025 and Decree 135/2003). When they pass, they keep the licence on record they relied on
(``RuleResult.grounds``), recorded with the step."""

from __future__ import annotations

from calendar import monthrange
from datetime import date
from typing import Any

from states.model import OrganisationFacts
from states.rule_types import RuleContext, RuleResult


def _licence_on_record(org: OrganisationFacts) -> dict[str, Any]:
    expires = str(org.licence_expires or "")
    return {"agency": org.id, "licence": org.licence_number or "",
            "status": org.licence_status or "", "expires": expires}  # fmt: skip


def agency_licence_valid(ctx: RuleContext) -> RuleResult:
    org = ctx.organisation
    channel_field = ctx.params.get("channel_field")
    agency_value = str(ctx.params.get("agency_value", "licensed_agency"))
    if (
        channel_field
        and ctx.state.data.get(str(channel_field)) == agency_value
        and (org is None or org.kind != "agency")
    ):
        # the file says a licensed agency places the workers (and may take a fee): then the
        # filer must be that agency, whose licence is checked below
        who = org.id if org is not None else "the filer"
        return RuleResult(
            False,
            f"the placement channel '{agency_value}' needs a licensed recruitment agency to "
            f"file; '{who}' is not a recruitment agency with a licence on record",
            why="licence-missing",
            params={"agency": who},
        )
    if org is None or org.kind != "agency":
        return RuleResult(True)  # filed by the employer itself or through a labour attaché
    if not org.licence_number:
        return RuleResult(
            False,
            f"agency '{org.id}' has no recruitment licence on record",
            why="licence-missing",
            params={"agency": org.id},
        )
    if org.licence_status != "active":
        return RuleResult(
            False,
            f"the licence {org.licence_number} of agency '{org.id}' is "
            f"{org.licence_status or 'not active'}",
            why="licence-not-active",
            params={
                "agency": org.id,
                "licence": org.licence_number,
                "status": org.licence_status or "",
            },
        )
    if org.licence_expires is None:
        return RuleResult(
            False,
            f"the licence {org.licence_number} of agency '{org.id}' has no expiry date on record",
            why="licence-no-expiry",
            params={"agency": org.id, "licence": org.licence_number},
        )
    if org.licence_expires < ctx.today:
        return RuleResult(
            False,
            f"the licence {org.licence_number} of agency '{org.id}' expired "
            f"on {org.licence_expires}",
            why="licence-expired",
            params={
                "agency": org.id,
                "licence": org.licence_number,
                "expired": str(org.licence_expires),
            },
        )
    return RuleResult(True, grounds=_licence_on_record(org))


def _months_before(day: date, months: int) -> date:
    """The same day ``months`` months earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def licence_renewal_window(ctx: RuleContext) -> RuleResult:
    """Egypt, Decree 135/2003 art. 8: an agency files the renewal of its licence at least
    ``months`` (4) months before it expires. Read from the directory, not from what the
    filing says: the licence on record (``number_field``: the one the file names must be
    it), its expiry and status; checked on the day of the step it is on (the filing)."""
    org, months = ctx.organisation, int(ctx.params.get("months", 4))
    if org is None or org.kind != "agency" or not org.licence_number:
        who = org.id if org is not None else "the filer"
        return RuleResult(False, f"'{who}' is not a recruitment agency with a licence on record",
                          why="licence-missing", params={"agency": who})  # fmt: skip
    named = ctx.state.data.get(str(ctx.params.get("number_field", "")))
    if "number_field" in ctx.params and str(named or "") != org.licence_number:
        return RuleResult(False, f"the licence named, {named or 'none'}, is not the licence "
                          f"{org.licence_number} of agency '{org.id}' on record",
                          why="licence-not-this", params={"given": str(named or ""),
                          "licence": org.licence_number})  # fmt: skip
    if org.licence_status == "cancelled":
        return RuleResult(False, f"the licence {org.licence_number} was cancelled: it cannot "
                          "be renewed", why="licence-not-active",
                          params={"agency": org.id, "licence": org.licence_number,
                                  "status": "cancelled"})  # fmt: skip
    if org.licence_expires is None:
        return RuleResult(False, f"the licence {org.licence_number} has no expiry date on record",
                          why="licence-no-expiry",
                          params={"agency": org.id, "licence": org.licence_number})  # fmt: skip
    latest = _months_before(org.licence_expires, months)
    if ctx.today > latest:
        return RuleResult(False, f"the renewal of licence {org.licence_number} (expiring "
                          f"{org.licence_expires}) had to be filed by {latest}, {months} months "
                          "before its expiry", why="renewal-too-late",
                          params={"licence": org.licence_number,
                                  "expires": str(org.licence_expires), "latest": str(latest),
                                  "months": months})  # fmt: skip
    return RuleResult(True, grounds={**_licence_on_record(org), "latest": str(latest)})
