"""The registry of named rules an SOP transition may require.

YAML names a rule (``agency_licence_valid``) and its parameters; the name resolves only
through ``RULES`` below, never through an import path. A rule sees the request as it
would be after the step (data, documents), the requesting organisation's facts, facts the
services computed (``prior_renewals``) and today's date; it answers ok, or not with a
reason, and may raise a flag that is recorded with the event even when it passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from states.model import DocumentRef, OrganisationFacts, RequestState

# The flags a rule may raise, as English sentences: a flag is recorded with its event as
# the sentence filled in (the record's language, under the event's hash); a notice reads it
# back against its sentence to say it in the recipient's language (notifications/flags.py).
FLAG_WORKER_FEE = "worker fee charged: {fee}"
FLAG_RENEWAL_EXEMPT = "renewal under the approved-project exemption"
FLAGS = (FLAG_WORKER_FEE, FLAG_RENEWAL_EXEMPT)


@dataclass(frozen=True, slots=True)
class RuleContext:
    state: RequestState  # as it will be if the step is applied
    documents: Mapping[str, DocumentRef]
    organisation: OrganisationFacts | None
    facts: Mapping[str, Any]
    today: date
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RuleResult:
    ok: bool
    message: str = ""  # why not, in English (the API, the CLI, the record)
    flags: tuple[str, ...] = ()
    # why not as a code and values, for a page in its reader's language
    # (sopflow/web/refusals.yaml has a sentence for each code)
    why: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rule:
    check: Callable[[RuleContext], RuleResult]
    summary: str
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = field(default_factory=frozenset)


def _money(ctx: RuleContext, name: str) -> tuple[Decimal, str] | None:
    value = ctx.state.data.get(name)
    if not isinstance(value, Mapping):
        return None
    return Decimal(str(value["amount"])), str(value["currency"])


def agency_licence_valid(ctx: RuleContext) -> RuleResult:
    org = ctx.organisation
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
    return RuleResult(True)


def worker_fee_within_cap(ctx: RuleContext) -> RuleResult:
    """Egypt: fee at most cap% of the first-year wage (12 x monthly); any fee is flagged."""
    p = ctx.params
    fee = _money(ctx, str(p["fee_field"]))
    wage = _money(ctx, str(p["wage_field"]))
    if fee is None or fee[0] == 0:
        return RuleResult(True)
    cap_percent = Decimal(str(p["cap_percent"]))
    regime_field = p.get("regime_field")
    if regime_field and ctx.state.data.get(str(regime_field)) == p.get("legacy_value"):
        cap_percent = Decimal(str(p.get("legacy_cap_percent", cap_percent)))
    flag = FLAG_WORKER_FEE.format(fee=f"{fee[0]} {fee[1]}")
    if wage is None:
        return RuleResult(
            False,
            f"a worker fee is declared but '{p['wage_field']}' is missing",
            why="wage-missing",
            params={"field": str(p["wage_field"])},
        )
    if wage[1] != fee[1]:
        return RuleResult(
            False,
            f"the fee ({fee[1]}) and the wage ({wage[1]}) must be in the same currency",
            why="fee-currency",
            params={"fee_currency": fee[1], "wage_currency": wage[1]},
        )
    cap = wage[0] * 12 * cap_percent / 100
    if fee[0] > cap:
        return RuleResult(
            False,
            f"worker fee {fee[0]} {fee[1]} exceeds {cap_percent}% of the "
            f"first-year wage ({cap:.2f} {fee[1]})",
            why="fee-above-cap",
            params={
                "fee": f"{fee[0]} {fee[1]}",
                "percent": str(cap_percent),
                "cap": f"{cap:.2f} {fee[1]}",
            },
        )
    return RuleResult(True, flags=(flag,))


def no_fee_to_worker(ctx: RuleContext) -> RuleResult:
    fee = _money(ctx, str(ctx.params["fee_field"]))
    if fee is not None and fee[0] > 0:
        return RuleResult(
            False,
            f"no fee may be charged to the worker ({fee[0]} {fee[1]} declared)",
            why="fee-charged",
            params={"fee": f"{fee[0]} {fee[1]}"},
        )
    return RuleResult(True)


def step_done(ctx: RuleContext) -> RuleResult:
    trigger = str(ctx.params["trigger"])
    if ctx.state.acted.get(trigger):
        return RuleResult(True)
    return RuleResult(
        False,
        f"step '{trigger}' has not been done yet",
        why="step-not-done",
        params={"trigger": trigger},
    )


def document_unchanged_since(ctx: RuleContext) -> RuleResult:
    kind, trigger = str(ctx.params["document"]), str(ctx.params["trigger"])
    then = ctx.state.documents_at.get(trigger, {}).get(kind)
    if then is None:
        return RuleResult(
            False,
            f"no '{kind}' was on file when '{trigger}' was done",
            why="document-not-on-file",
            params={"document": kind, "trigger": trigger},
        )
    now = ctx.documents.get(kind)
    if now is None or now.sha256 != then:
        return RuleResult(
            False,
            f"the '{kind}' differs from the one on file at '{trigger}' (contract substitution)",
            why="document-substituted",
            params={"document": kind, "trigger": trigger},
        )
    return RuleResult(True)


def renewal_allowed_once(ctx: RuleContext) -> RuleResult:
    p = ctx.params
    if ctx.state.data.get(str(p["type_field"])) != p.get("renewal_value", "renewal"):
        return RuleResult(True)
    exemption = p.get("exemption_field")
    if exemption and ctx.state.data.get(str(exemption)) is True:
        return RuleResult(True, flags=(FLAG_RENEWAL_EXEMPT,))
    prior = int(ctx.facts.get("prior_renewals", 0))
    if prior >= 1:
        return RuleResult(
            False,
            f"the contract was already renewed {prior} time(s); it may be renewed once",
            why="renewed-already",
            params={"count": prior},
        )
    return RuleResult(True)


RULES: dict[str, Rule] = {
    "agency_licence_valid": Rule(agency_licence_valid, "the filing agency's licence is valid"),
    "worker_fee_within_cap": Rule(
        worker_fee_within_cap,
        "the fee charged to the worker is within cap_percent of the first-year wage",
        required=frozenset({"fee_field", "wage_field", "cap_percent"}),
        optional=frozenset({"regime_field", "legacy_value", "legacy_cap_percent"}),
    ),
    "no_fee_to_worker": Rule(
        no_fee_to_worker, "no fee is charged to the worker", required=frozenset({"fee_field"})
    ),
    "step_done": Rule(step_done, "an earlier step was done", required=frozenset({"trigger"})),
    "document_unchanged_since": Rule(
        document_unchanged_since,
        "a document is the same as when an earlier step was done",
        required=frozenset({"document", "trigger"}),
    ),
    "renewal_allowed_once": Rule(
        renewal_allowed_once,
        "a contract is renewed at most once unless exempt",
        required=frozenset({"type_field"}),
        # worker_field: the field identifying the worker (e.g. passport_number); the services
        # count that worker's earlier approved renewals with the same employer
        optional=frozenset({"exemption_field", "worker_field", "renewal_value"}),
    ),
}

RULE_NAMES = frozenset(RULES)
