"""The registry of named rules an SOP transition may require.

YAML names a rule (``agency_licence_valid``) and its parameters; the name resolves only
through ``RULES`` below, never through an import path. A rule sees the request as it
would be after the step (data, documents), the requesting organisation's facts, facts the
services computed (``prior_renewals``) and today's date; it answers ok, or not with a
reason, and may raise a flag that is recorded with the event even when it passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from states.licence_rules import agency_licence_valid, licence_renewal_window
from states.rule_types import Rule, RuleContext, RuleResult
from states.scopes import holder_fact

__all__ = [
    "FLAGS",
    "FLAG_RENEWAL_EXEMPT",
    "FLAG_WORKER_FEE",
    "RULES",
    "RULE_NAMES",
    "Rule",
    "RuleContext",
    "RuleResult",
]

# The flags a rule may raise, as English sentences: a flag is recorded with its event as
# the sentence filled in (the record's language, under the event's hash); a notice reads it
# back against its sentence to say it in the recipient's language (notifications/flags.py).
FLAG_WORKER_FEE = "worker fee charged: {fee}"
FLAG_RENEWAL_EXEMPT = "renewal under the approved-project exemption"
FLAGS = (FLAG_WORKER_FEE, FLAG_RENEWAL_EXEMPT)


def _money(ctx: RuleContext, name: str) -> tuple[Decimal, str] | None:
    value = ctx.state.data.get(name)
    if not isinstance(value, Mapping):
        return None
    return Decimal(str(value["amount"])), str(value["currency"])


def worker_fee_within_cap(ctx: RuleContext) -> RuleResult:
    """Egypt: fee at most cap% of the first-year wage; any fee is flagged. Only the channel
    ``fee_channel`` (a licensed agency) may take a fee at all; the first-year wage is
    the monthly wage times the months of the first year of the contract (at most 12)."""
    p = ctx.params
    fee = _money(ctx, str(p["fee_field"]))
    wage = _money(ctx, str(p["wage_field"]))
    if fee is None or fee[0] == 0:
        return RuleResult(True)
    channel_field, allowed = p.get("channel_field"), p.get("fee_channel")
    if channel_field and allowed is not None:
        channel = ctx.state.data.get(str(channel_field))
        if channel != str(allowed):
            return RuleResult(
                False,
                f"no fee may be taken from the worker when the placement channel is "
                f"'{channel}' ({fee[0]} {fee[1]} declared); only a licensed agency may "
                "take a fee",
                why="fee-charged",
                params={"fee": f"{fee[0]} {fee[1]}"},
            )
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
    # Law 12/2003 art. 21 and Law 14/2025 art. 43 cap the fee at a share of the wage of
    # the first year: a contract shorter than a year earns less than 12 months' wage in it
    months = Decimal(12)
    months_field = p.get("months_field")
    if months_field:
        raw = ctx.state.data.get(str(months_field))
        if isinstance(raw, int | Decimal) and not isinstance(raw, bool) and 0 < raw < 12:
            months = Decimal(raw)
    cap = wage[0] * months * cap_percent / 100
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
    """Art. 258-2 (Tunisia): one contract of at most a year, renewable once. The services
    count, for the worker named by ``worker_field`` (all enterprises), the contracts already
    granted (``prior_contracts``) and the renewals among them (``prior_renewals``), and say
    whether ``previous_field`` names a contract granted to that worker (``previous_found``)."""
    p = ctx.params
    exempt = (
        bool(p.get("exemption_field")) and ctx.state.data.get(str(p["exemption_field"])) is True
    )
    if ctx.state.data.get(str(p["type_field"])) != p.get("renewal_value", "renewal"):
        prior = int(ctx.facts.get("prior_contracts", 0))
        if prior >= 1 and not exempt:
            # a second "initial" contract for a worker who already had one would restart
            # the count: it is a renewal (or an approved-project exemption)
            return RuleResult(
                False,
                f"this worker already holds {prior} granted contract(s); a further contract "
                "is a renewal",
                why="earlier-contract",
                params={"count": prior},
            )
        return RuleResult(True, flags=(FLAG_RENEWAL_EXEMPT,) if prior and exempt else (),
                          grounds=_counted(ctx))  # fmt: skip
    previous_field = p.get("previous_field")
    if previous_field and "previous_found" in ctx.facts and not ctx.facts["previous_found"]:
        previous = ctx.state.data.get(str(previous_field))
        return RuleResult(
            False,
            f"'{previous}' is not the reference of a contract granted to this worker",
            why="previous-visa-unknown",
            params={"reference": str(previous)},
        )
    if exempt:
        return RuleResult(True, flags=(FLAG_RENEWAL_EXEMPT,), grounds=_counted(ctx))
    prior = int(ctx.facts.get("prior_renewals", 0))
    if prior >= 1:
        return RuleResult(
            False,
            f"the contract was already renewed {prior} time(s); it may be renewed once",
            why="renewed-already",
            params={"count": prior},
        )
    return RuleResult(True, grounds=_counted(ctx))


def _counted(ctx: RuleContext) -> dict[str, int]:
    """The worker's earlier contracts the services counted in the register when the rule
    passed (other requests, so not rebuilt by this request's replay)."""
    return {"prior_contracts": int(ctx.facts.get("prior_contracts", 0)),
            "prior_renewals": int(ctx.facts.get("prior_renewals", 0))}  # fmt: skip


def unique_value(ctx: RuleContext) -> RuleResult:
    """The value of ``field`` is held by no other request of the SOP that ``among`` counts
    (states/scopes.py): the services look up one holding it, or None (``holder_fact``)."""
    field_name = str(ctx.params["field"])
    value, other = ctx.state.data.get(field_name), ctx.facts.get(holder_fact(ctx.params))
    if value in (None, "") or not other:
        return RuleResult(True)
    reference, state = str(other["reference"]), str(other["state"])
    return RuleResult(False, f"'{value}' is already used by request {reference} ({field_name}), "
                      f"in state '{state}'", why="value-taken",
                      params={"field": field_name, "value": str(value), "reference": reference,
                              "state": state})  # fmt: skip


RULES: dict[str, Rule] = {
    "agency_licence_valid": Rule(
        agency_licence_valid,
        "the filing agency's licence is valid (and the channel says an agency only if one files)",
        optional=frozenset({"channel_field", "agency_value"}),
    ),
    "licence_renewal_window": Rule(
        licence_renewal_window,
        "the filing agency's licence on record is renewed at least `months` months before it "
        "expires (and is the one the file names)",
        optional=frozenset({"months", "number_field"}),
        whole={"months": (1, 120, "months")},
    ),
    "worker_fee_within_cap": Rule(
        worker_fee_within_cap,
        "the fee charged to the worker is within cap_percent of the first-year wage",
        required=frozenset({"fee_field", "wage_field", "cap_percent"}),
        optional=frozenset(
            {
                "regime_field",
                "legacy_value",
                "legacy_cap_percent",
                "channel_field",
                "fee_channel",
                "months_field",
            }
        ),
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
        # count that worker's granted contracts and renewals with every employer, and look
        # up previous_field (the previous contract's reference) among that worker's
        # granted contracts' visa_field
        optional=frozenset(
            {"exemption_field", "worker_field", "renewal_value", "previous_field", "visa_field"}
        ),
    ),
    "unique_value": Rule(
        unique_value,
        "no other request of the same SOP (those `among` counts) holds the same value in a field",
        required=frozenset({"field"}),
        optional=frozenset({"among"}),
        states=frozenset({"among"}),
    ),
}

RULE_NAMES = frozenset(RULES)
