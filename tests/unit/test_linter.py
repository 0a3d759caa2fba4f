"""The linter: semantic checks of a structurally valid SOP, each with its code and place.

Every case starts from the bench SOP (which is clean), changes one thing, and checks the
issue it causes: code, message, hint and line:column in the changed text.
"""

from __future__ import annotations

from typing import Any

import pytest

from sopflow.errors import SopIssue
from tests.factories import (
    BENCH,
    bench_variant,
    codes,
    compile_text,
    issues_of,
    label,
    position,
    read,
)

State = dict[str, Any]


def transition(data: dict[str, Any], trigger: str, source: str | None = None) -> dict[str, Any]:
    return next(
        t
        for t in data["transitions"]
        if t["trigger"] == trigger and (source is None or t["from"] == source)
    )


def state(data: dict[str, Any], state_id: str) -> State:
    return next(s for s in data["states"] if s["id"] == state_id)


def lint(change) -> tuple[str, list[SopIssue]]:
    text = bench_variant(change)
    return text, issues_of(text)


def single(issues: list[SopIssue], code: str) -> SopIssue:
    found = [i for i in issues if i.code == code]
    assert len(found) == 1, [i.format() for i in issues]
    return found[0]


def at(issue: SopIssue) -> tuple[int, int]:
    return (issue.line, issue.column)


def test_the_unchanged_bench_sop_is_clean():
    _, issues = lint(lambda d: None)

    assert issues == []


def test_unknown_target_state_with_hint():
    def change(d):
        transition(d, "submit")["to"] = "submited"

    text, issues = lint(change)

    issue = single(issues, "unknown-state")
    assert issue.message == "unknown state 'submited'"
    assert issue.hint == "did you mean 'submitted'?"
    assert at(issue) == position(text, "submited")


def test_unknown_source_state():
    def change(d):
        transition(d, "approve", "submitted")["from"] = ["submited"]

    _, issues = lint(change)

    assert single(issues, "unknown-state").hint == "did you mean 'submitted'?"


def test_unknown_role_with_hint():
    def change(d):
        transition(d, "submit")["roles"] = ["employer_agnt"]

    text, issues = lint(change)

    issue = single(issues, "unknown-role")
    assert issue.hint == "did you mean 'employer_agent'?"
    assert at(issue) == position(text, "employer_agnt")


def test_unknown_role_in_submission():
    def change(d):
        d["submission"]["roles"] = ["employer"]

    _, issues = lint(change)

    assert "unknown-role" in codes(issues)


@pytest.mark.parametrize(
    ("requires", "code", "wrong", "hint"),
    [
        ({"fields": ["employer_nam"]}, "unknown-field", "employer_nam", "employer_name"),
        ({"documents": ["passprt"]}, "unknown-document", "passprt", None),
        (
            {"rules": ["agency_licence_vaild"]},
            "unknown-rule",
            "agency_licence_vaild",
            "agency_licence_valid",
        ),
    ],
)
def test_unknown_references_in_requirements(requires, code, wrong, hint):
    def change(d):
        transition(d, "submit")["requires"] = requires

    text, issues = lint(change)

    issue = single(issues, code)
    assert f"'{wrong}'" in issue.message
    assert issue.hint == (f"did you mean '{hint}'?" if hint else None)
    assert at(issue) == position(text, f"{wrong}\n")


def test_unknown_field_in_sets_has_a_hint():
    def change(d):
        transition(d, "approve", "submitted")["sets"] = ["isco_cod"]

    _, issues = lint(change)

    assert single(issues, "unknown-field").hint == "did you mean 'isco_code'?"


def test_unknown_template_with_hint():
    def change(d):
        transition(d, "submit")["notify"] = [{"to": "requester", "template": "request_submited"}]

    text, issues = lint(change)

    issue = single(issues, "unknown-template")
    assert issue.hint == "did you mean 'request_submitted'?"
    assert at(issue) == position(text, "request_submited")


def test_unknown_reason_with_hint():
    def change(d):
        d["reason_codes"] = [{"id": "incomplete_file", "label": label("Incomplete")}]
        tr = transition(d, "reject")
        tr["requires"] = {"reason": True}
        tr["reasons"] = ["incomplete_fil"]

    text, issues = lint(change)

    issue = single(issues, "unknown-reason")
    assert issue.hint == "did you mean 'incomplete_file'?"
    assert at(issue) == position(text, "incomplete_fil\n")


def test_unknown_trigger_in_distinct_from_with_hint():
    def change(d):
        transition(d, "reject")["distinct_from"] = ["aprove"]

    text, issues = lint(change)

    issue = single(issues, "unknown-trigger")
    assert issue.hint == "did you mean 'approve'?"
    assert at(issue) == position(text, "aprove")


def test_unknown_submission_trigger_with_hint():
    def change(d):
        d["submission"]["trigger"] = "submt"

    _, issues = lint(change)

    issue = single(issues, "unknown-trigger")
    assert issue.message == "submission trigger 'submt' is not a transition from 'draft'"
    assert issue.hint == "did you mean 'submit'?"


def test_unknown_legal_basis_with_hint():
    def change(d):
        transition(d, "submit")["legal_clause"] = "workloa"
        state(d, "submitted")["legal_clause"] = "workloads"

    _, issues = lint(change)

    found = [i for i in issues if i.code == "unknown-legal-basis"]
    assert len(found) == 2
    assert {i.hint for i in found} == {"did you mean 'workload'?"}


def test_unreachable_state():
    def change(d):
        d["states"].append({"id": "limbo", "label": label("Limbo")})
        d["transitions"].append(
            {
                "trigger": "leave",
                "from": "limbo",
                "to": "rejected",
                "roles": ["director"],
                "label": label("Leave"),
            }
        )

    text, issues = lint(change)

    issue = single(issues, "unreachable-state")
    assert issue.message == "state 'limbo' cannot be reached from 'draft'"
    assert at(issue) == position(text, "limbo")
    assert "no-path-to-final" not in codes(issues)


def test_no_path_to_final():
    def change(d):
        d["states"].append({"id": "trap", "label": label("Trap")})
        d["transitions"].append(
            {
                "trigger": "fall",
                "from": "submitted",
                "to": "trap",
                "roles": ["registry_clerk"],
                "label": label("Fall"),
            }
        )

    _, issues = lint(change)

    issue = single(issues, "no-path-to-final")
    assert issue.message == "no path leads from state 'trap' to a final state"
    assert "unreachable-state" not in codes(issues)


def test_final_state_with_an_outgoing_transition():
    def change(d):
        d["transitions"].append(
            {
                "trigger": "reopen",
                "from": "approved",
                "to": "draft",
                "roles": ["director"],
                "label": label("Reopen"),
            }
        )

    _, issues = lint(change)

    issue = single(issues, "final-has-transitions")
    assert issue.message == "final state 'approved' has an outgoing transition 'reopen'"


def test_ambiguous_trigger():
    def change(d):
        d["transitions"].append(
            {
                "trigger": "submit",
                "from": "draft",
                "to": "rejected",
                "roles": ["employer_agent"],
                "label": label("Submit again"),
            }
        )

    _, issues = lint(change)

    assert single(issues, "ambiguous-trigger").message == (
        "two transitions 'submit' leave state 'draft'"
    )


def test_sla_without_breach_action():
    def change(d):
        state(d, "submitted")["sla"] = {"working_days": 3}

    _, issues = lint(change)

    issue = single(issues, "sla-without-breach-action")
    assert issue.hint == "add on_breach with notify and/or trigger"


def test_empty_breach_action():
    def change(d):
        state(d, "submitted")["sla"] = {"working_days": 3}
        state(d, "submitted")["on_breach"] = {"notify": []}

    _, issues = lint(change)

    assert single(issues, "sla-without-breach-action").message == (
        "on_breach names neither a notice nor a trigger"
    )


def test_breach_trigger_not_from_the_state():
    def change(d):
        state(d, "submitted")["sla"] = {"hours": 24}
        state(d, "submitted")["on_breach"] = {"trigger": "rejct"}

    text, issues = lint(change)

    issue = single(issues, "breach-trigger-not-from-state")
    assert issue.message == "on_breach trigger 'rejct' is not a transition from 'submitted'"
    assert issue.hint == "did you mean 'reject'?"
    assert at(issue) == position(text, "rejct")


def test_breach_trigger_hint_never_suggests_the_name_written():
    """BUG: when the trigger exists but does not leave the state, the hint is
    "did you mean 'reject'?" for 'reject' itself (the name is among the choices)."""

    def change(d):
        state(d, "submitted")["sla"] = {"hours": 24}
        state(d, "submitted")["on_breach"] = {"trigger": "reject"}

    _, issues = lint(change)

    issue = single(issues, "breach-trigger-not-from-state")
    assert issue.hint != "did you mean 'reject'?"


def test_breach_trigger_must_be_allowed_to_the_system():
    def change(d):
        state(d, "directorate_approval")["sla"] = {"working_days": 5}
        state(d, "directorate_approval")["on_breach"] = {"trigger": "reject"}

    _, issues = lint(change)

    assert single(issues, "breach-trigger-not-system").message == (
        "on_breach trigger 'reject' must allow a role of kind 'system'"
    )


def test_breach_trigger_fired_by_a_system_role_is_accepted():
    def change(d):
        d["roles"].append(
            {"id": "system", "kind": "system", "scope": "all", "title": label("System")}
        )
        state(d, "directorate_approval")["sla"] = {"working_days": 5}
        state(d, "directorate_approval")["on_breach"] = {"trigger": "reject"}
        transition(d, "reject")["roles"] = ["director", "system"]

    _, issues = lint(change)

    assert issues == []


def _slow_calendar(d, days):
    d["calendar"]["weekend"] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday"]
    state(d, "directorate_approval")["sla"] = {"working_days": days}
    state(d, "directorate_approval")["on_breach"] = {
        "notify": [{"to": "requester", "template": "request_submitted"}]
    }


def test_a_deadline_the_calendar_cannot_count_is_an_error():
    """BUG: six weekend days and 365 working days validated, then every request entering
    the state crashed (no 365 working days within 1830 days)."""
    text, issues = lint(lambda d: _slow_calendar(d, 365))

    issue = single(issues, "sla-not-computable")
    assert issue.message.startswith(
        "state 'directorate_approval': a deadline of 365 working days cannot be counted on "
        "this SOP's calendar: from 2026-01-01 it has only "
    )
    line, column = position(text, "working_days: 365")
    assert at(issue) == (line, column + len("working_days: "))


def test_a_long_deadline_the_calendar_can_count_is_accepted():
    _, issues = lint(lambda d: _slow_calendar(d, 200))

    assert "sla-not-computable" not in codes(issues)


def test_idle_role_is_a_warning():
    def change(d):
        d["roles"].append(
            {"id": "archivist", "kind": "official", "scope": "all", "title": label("Archivist")}
        )

    text, issues = lint(change)

    issue = single(issues, "idle-role")
    assert issue.severity == "warning"
    assert at(issue) == position(text, "archivist")


def test_a_required_field_that_only_officials_set_is_an_error():
    def change(d):
        d["fields"].append({"id": "register_number", "type": "string", "required": True,
                            "label": label("Register number")})  # fmt: skip
        transition(d, "approve", "submitted")["sets"] = ["register_number"]

    text, issues = lint(change)

    issue = single(issues, "officials-field-required")
    assert "field 'register_number' is set only by officials' steps" in issue.message
    assert issue.line == position(text, "register_number")[0] + 2  # its 'required' line


def test_a_field_the_requester_also_sets_is_theirs_to_require():
    def change(d):
        d["fields"].append({"id": "register_number", "type": "string", "required": True,
                            "label": label("Register number")})  # fmt: skip
        transition(d, "approve", "submitted")["sets"] = ["register_number"]
        transition(d, "submit")["sets"] = ["register_number"]

    _, issues = lint(change)

    assert issues == []


def test_bounds_no_value_can_meet_and_unknown_currencies_are_errors():
    def change(d):
        d["fields"].append({"id": "hours", "type": "integer", "min": 60, "max": 1,
                            "label": label("Hours")})  # fmt: skip
        d["fields"].append({"id": "pay", "type": "money", "currencies": ["USD", "ZZZ"],
                            "label": label("Pay")})  # fmt: skip

    _, issues = lint(change)

    assert sorted(i.code for i in issues) == ["empty-range", "unknown-currency"]
    assert single(issues, "empty-range").message == (
        "field 'hours': min 60 is above max 1, so no value can be valid"
    )
    assert "'ZZZ' is not an ISO 4217 currency" in single(issues, "unknown-currency").message


@pytest.mark.parametrize("expr", ["employer_name > 5", "destination_country + 1"])
def test_a_condition_on_values_of_kinds_that_never_go_together_is_an_error(expr):
    def change(d):
        transition(d, "submit")["requires"] = {"conditions": [{"expr": expr, "message": label(
            "A broken condition")}]}  # fmt: skip

    _, issues = lint(change)

    issue = single(issues, "condition-type")
    assert issue.message.startswith(f"condition '{expr}' combines values of kinds that do not")


def test_a_condition_of_sound_kinds_is_not_flagged():
    def change(d):
        transition(d, "submit")["requires"] = {"conditions": [{"expr": (
            "workers_requested <= 40 and destination_country != 'EG'"),
            "message": label("Sound")}]}  # fmt: skip

    _, issues = lint(change)

    assert issues == []


def test_an_auditor_without_transitions_is_not_idle():
    def change(d):
        d["roles"].append(
            {"id": "auditor", "kind": "auditor", "scope": "all", "title": label("Auditor")}
        )

    _, issues = lint(change)

    assert issues == []


def test_auditor_may_not_act():
    def change(d):
        d["roles"].append(
            {"id": "auditor", "kind": "auditor", "scope": "all", "title": label("Auditor")}
        )
        transition(d, "reject")["roles"] = ["director", "auditor"]

    _, issues = lint(change)

    assert single(issues, "auditor-acts").message == (
        "auditor role 'auditor' may not change a request"
    )


def test_reason_required_but_no_list():
    def change(d):
        transition(d, "reject")["requires"] = {"reason": True}

    _, issues = lint(change)

    assert single(issues, "reason-list-missing").message == (
        "'reject' requires a reason but lists no 'reasons'"
    )


def test_several_initial_states():
    def change(d):
        state(d, "submitted")["initial"] = True

    _, issues = lint(change)

    assert single(issues, "several-initial-states").message == (
        "state 'submitted' is a second initial state"
    )


def test_no_initial_state():
    def change(d):
        del state(d, "draft")["initial"]

    _, issues = lint(change)

    assert single(issues, "no-initial-state").message == "no state is marked 'initial: true'"


def test_no_final_state():
    def change(d):
        del state(d, "approved")["final"]
        del state(d, "rejected")["final"]

    _, issues = lint(change)

    assert "no-final-state" in codes(issues)


def test_recipient_field_must_be_an_email():
    def change(d):
        transition(d, "submit")["notify"] = [
            {"to": {"field": "employer_name"}, "template": "request_submitted"}
        ]

    _, issues = lint(change)

    assert single(issues, "recipient-not-email").message == (
        "field 'employer_name' is a string, not an email"
    )


def test_bad_condition_points_at_the_offending_name():
    expr = "workers_requested > 1 and employer_nme == 1"

    def change(d):
        transition(d, "submit")["requires"] = {
            "conditions": [{"expr": expr, "message": label("Needs more")}]
        }

    text, issues = lint(change)

    issue = single(issues, "bad-condition")
    assert issue.message == (
        f"condition '{expr}': unknown name 'employer_nme': not a field of this SOP"
    )
    assert issue.hint == "did you mean 'employer_name'?"
    assert at(issue) == position(text, "employer_nme")


def test_bad_condition_hints_at_the_operator_meant():
    expr = "workers_requested =< 40"

    def change(d):
        transition(d, "submit")["requires"] = {
            "conditions": [{"expr": expr, "message": label("At most 40")}]
        }

    text, issues = lint(change)

    issue = single(issues, "bad-condition")
    assert issue.message == f"condition '{expr}': syntax error: '=<' is not an operator"
    assert issue.hint == "did you mean '<='?"
    assert at(issue) == position(text, "=< 40")


def test_bad_condition_column_in_a_quoted_scalar():
    """BUG: the column is computed from the start of the YAML scalar, which for a quoted
    scalar is the quote: the issue points one column before the offending name."""
    text = read(BENCH).replace(
        "{trigger: submit, from: draft,",
        "{trigger: submit, requires: {conditions: [{expr: 'workers_requested > 1 and "
        "employer_nme == 1', message: {en: m, fr: m, ar: m}}]}, from: draft,",
    )

    issue = single(issues_of(text), "bad-condition")

    assert at(issue) == position(text, "employer_nme")


SUBMIT = (
    "  - {trigger: submit, from: draft, to: submitted, roles: [employer_agent], "
    "legal_clause: workload, label: {en: Submit, fr: Déposer, ar: تقديم}}"
)


@pytest.mark.parametrize(
    "written",
    [
        ">-\n          workers_requested > 1 and\n          employer_nme == 1",
        ">\n          workers_requested > 1 and\n          employer_nme == 1\n",
        "|-\n          (workers_requested > 1\n            and employer_nme == 1)",
        '"workers_requested > \\"x\\" and\n          employer_nme == 1"',
        "workers_requested > 1 and\n          employer_nme == 1",
    ],
    ids=["folded", "folded-clip", "literal", "double-quoted", "plain"],
)
def test_bad_condition_in_a_multi_line_scalar_points_at_the_name(written):
    """BUG: the column in the expression was added to the column where the value starts,
    ignoring line breaks: 179:44 was reported for a name at 181:13."""
    assert SUBMIT in read(BENCH)
    text = read(BENCH).replace(
        SUBMIT,
        "  - trigger: submit\n"
        "    from: draft\n"
        "    to: submitted\n"
        "    roles: [employer_agent]\n"
        "    legal_clause: workload\n"
        "    label: {en: Submit, fr: Déposer, ar: تقديم}\n"
        "    requires:\n"
        "      conditions:\n"
        "      - message: {en: m, fr: m, ar: m}\n"
        f"        expr: {written}",
    )

    issue = single(issues_of(text), "bad-condition")

    assert at(issue) == position(text, "employer_nme")
    assert "\n" not in issue.message


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "rule 'step_done' needs params: trigger"),
        ({"trigger": "submit", "step": "x"}, "rule 'step_done' has no params step"),
    ],
)
def test_bad_rule_params(params, message):
    def change(d):
        transition(d, "reject")["requires"] = {"rules": [{"rule": "step_done", "params": params}]}

    _, issues = lint(change)

    assert single(issues, "bad-rule-params").message == message


@pytest.mark.parametrize("months", ["four", 0, 1.5, True])
def test_a_renewal_window_is_a_whole_number_of_months(months):
    def change(d):
        transition(d, "reject")["requires"] = {
            "rules": [{"rule": "licence_renewal_window", "params": {"months": months}}]
        }

    _, issues = lint(change)

    assert single(issues, "bad-rule-params").message == (
        f"rule parameter months: {months!r} is not a whole number of months from 1 to 120"
    )


def unique_among(among: Any):
    def change(d):
        params = {"field": "employer_name", "among": among}
        transition(d, "reject")["requires"] = {"rules": [{"rule": "unique_value",
                                                          "params": params}]}  # fmt: skip

    return change


@pytest.mark.parametrize("among", ["all", "open", ["approved"], ["submitted", "approved"]])
def test_unique_value_counts_all_open_or_listed_states(among):
    _, issues = lint(unique_among(among))

    assert issues == []


@pytest.mark.parametrize(
    ("among", "message", "hint"),
    [
        ("opne", "rule parameter among: 'opne' is not 'all', 'open' or a list of states",
         "did you mean 'open'?"),
        ("approved", "rule parameter among: 'approved' is not 'all', 'open' or a list of "
         "states", "a single state is written as a list: [approved]"),
        (True, "rule parameter among: True is not 'all', 'open' or a list of states", None),
        ([], "rule parameter among: an empty list counts no request, so the rule would never "
         "refuse", "write 'all', 'open' or the states whose requests count"),
        (["approved", "approved"], "rule parameter among: state 'approved' is listed twice",
         None),
    ],
)  # fmt: skip
def test_a_bad_scope_of_unique_value_is_refused(among, message, hint):
    _, issues = lint(unique_among(among))

    issue = single(issues, "bad-rule-params")
    assert (issue.message, issue.hint) == (message, hint)
    assert codes(issues) == ["bad-rule-params"]


def test_a_scope_naming_unknown_states_lists_them_where_the_first_is():
    text, issues = lint(unique_among(["submited", "approved", "aproved"]))

    issue = single(issues, "unknown-state")
    assert issue.message == "rule parameter among: no state 'submited', 'aproved'"
    assert issue.hint == "did you mean 'submitted', 'approved'?"
    assert at(issue) == position(text, "submited")


def test_a_scope_naming_a_state_unlike_any_lists_the_states():
    _, issues = lint(unique_among(["approved", "closed_file"]))

    assert single(issues, "unknown-state").hint == (
        "the states: draft, submitted, intake_review, documents_verification, "
        "labour_market_check, directorate_approval, contract_attestation, approved, rejected"
    )


def test_a_list_is_refused_where_a_rule_takes_one_value():
    def change(d):
        transition(d, "reject")["requires"] = {
            "rules": [{"rule": "step_done", "params": {"trigger": ["submit"]}}]
        }

    _, issues = lint(change)

    issue = single(issues, "wrong-type")
    assert issue.message == "rule parameter trigger: a list, where the rule takes one value"
    assert codes(issues) == ["wrong-type"]


def test_a_scope_is_a_parameter_of_unique_value_only():
    def change(d):
        transition(d, "reject")["requires"] = {
            "rules": [{"rule": "step_done", "params": {"trigger": "submit", "among": "open"}}]
        }

    _, issues = lint(change)

    assert single(issues, "bad-rule-params").message == "rule 'step_done' has no params among"


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("decison", "unknown-document", "unknown document 'decison'"),
        (
            "decision",
            "unprovidable-document",
            "'reject' needs a new 'decision' brought with "
            "it, which only employer_agent may provide, and none of them does 'reject'",
        ),
    ],
)
def test_a_new_document_of_a_step_is_one_its_roles_may_bring(kind, code, message):
    def change(d):
        d["documents"] = [
            {
                "id": "decision",
                "provided_by": ["employer_agent"],
                "label": {"en": "Decision", "fr": "Décision", "ar": "قرار"},
            }
        ]
        transition(d, "reject")["requires"] = {"new_documents": [kind]}

    _, issues = lint(change)

    assert single(issues, code).message.startswith(message)


@pytest.mark.parametrize("trigger", ["create", "attach", "breach"])
def test_reserved_trigger(trigger):
    def change(d):
        transition(d, "reject")["trigger"] = trigger

    _, issues = lint(change)

    assert single(issues, "reserved-trigger").message == f"'{trigger}' is reserved by sopflow"


def test_missing_translation_is_a_warning_at_the_text():
    """BUG: the message said only 'no fr text', without naming the text."""

    def change(d):
        del d["title"]["fr"]
        del state(d, "submitted")["label"]["ar"]

    text, issues = lint(change)

    found = [i for i in issues if i.code == "missing-translation"]
    assert [(i.message, i.severity) for i in found] == [
        ("title: no fr text", "warning"),
        ("states[1].label: no ar text", "warning"),
    ]
    assert at(found[0]) == position(text, "en: Recruitment request approval")


def test_unknown_timezone():
    def change(d):
        d["calendar"]["timezone"] = "Africa/Kairo"

    text, issues = lint(change)

    issue = single(issues, "unknown-timezone")
    assert issue.message == "'Africa/Kairo' is not an IANA time zone"
    assert at(issue) == position(text, "Africa/Kairo")


def test_unknown_holiday_calendar():
    def change(d):
        d["calendar"]["holidays"] = "ZZ"

    _, issues = lint(change)

    assert single(issues, "unknown-holiday-calendar").message == (
        "no public-holiday calendar for country 'ZZ'"
    )


def test_duplicate_ids():
    def change(d):
        d["states"].append({"id": "submitted", "label": label("Again")})

    _, issues = lint(change)

    assert single(issues, "duplicate-id").message == "states: 'submitted' declared twice"


def test_statistics_dimension_and_field_are_checked():
    def change(d):
        d["statistics"] = {"occupations": "isco_code", "occupation": "isco"}

    _, issues = lint(change)

    assert single(issues, "unknown-statistics-dimension").hint == "did you mean 'occupation'?"
    assert single(issues, "unknown-field").hint == "did you mean 'isco_code'?"


def test_every_issue_is_reported_not_only_the_first():
    def change(d):
        transition(d, "submit")["roles"] = ["nobody"]
        transition(d, "reject")["requires"] = {"reason": True}
        d["calendar"]["timezone"] = "Mars/Olympus"

    _, issues = lint(change)

    assert {"unknown-role", "reason-list-missing", "unknown-timezone"} <= set(codes(issues))
    assert issues == sorted(issues, key=lambda i: (i.line, i.column, i.code))


def test_a_legal_basis_is_one_text_or_a_text_per_language():
    """A citation is often best left in the language the law is authentic in (one text);
    where it is translated, each language is linted like a label."""

    def change(d):
        basis = d["legal_basis"][0]
        basis["citation"] = {"en": "Labour Law No. 14 of 2025, art. 43",
                             "ar": "قانون العمل رقم 14 لسنة 2025، المادة 43"}  # fmt: skip
        basis["summary"] = {"en": "No fee from the worker", "fr": "Aucun frais", "ar": "لا رسوم"}

    text, issues = lint(change)
    sop = compile_text(text)
    basis = sop.spec.legal_basis[0]

    assert [(i.code, i.message) for i in issues] == [
        ("missing-translation", "legal_basis[0].citation: no fr text")
    ]
    assert basis.cited("ar") == "قانون العمل رقم 14 لسنة 2025، المادة 43"
    assert basis.cited("fr") == "Labour Law No. 14 of 2025, art. 43"  # English where none
    assert basis.summarised("fr") == "Aucun frais"
    plain = compile_text(read(BENCH)).spec.legal_basis[0]  # one text: in every language
    assert plain.cited("ar") == plain.cited("en") == "shared/peers/workload.md"
