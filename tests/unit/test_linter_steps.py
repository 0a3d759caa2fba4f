"""The linter's checks of who does what and of conditions that can never be true
(sopflow/spec/lint_steps.py): each starts from the clean bench SOP and changes one thing."""

from __future__ import annotations

import pytest

from tests.factories import label, position
from tests.unit.test_linter import at, lint, single, state, transition

SYSTEM = {"id": "system", "kind": "system", "scope": "all", "title": label("System")}
AUDITOR = {"id": "inspector", "kind": "auditor", "scope": "all", "title": label("Inspector")}


def test_a_system_role_cannot_file_requests():
    def change(d):
        d["roles"].append(SYSTEM)
        d["submission"]["roles"] = ["employer_agent", "system"]

    text, issues = lint(change)

    issue = single(issues, "system-role-files")
    assert issue.message == (
        "role 'system' is of kind 'system', which no user holds: nobody could file a request "
        "with it"
    )
    line, column = position(text, "- system")  # the submission's list item
    assert at(issue) == (line, column + 2)


def test_an_auditor_cannot_file_requests():
    def change(d):
        d["roles"].append(AUDITOR)
        d["submission"]["roles"] = ["inspector"]

    _, issues = lint(change)

    issue = single(issues, "auditor-acts")
    assert issue.message == "auditor role 'inspector' may not file a request"
    assert issue.severity == "error"


def test_a_step_only_the_system_may_fire_needs_a_breach_that_fires_it():
    def change(d):
        d["roles"].append(SYSTEM)
        d["transitions"].append({"trigger": "expire", "from": "intake_review", "to": "rejected",
                                 "roles": ["system"], "label": label("Expire")})  # fmt: skip

    _, issues = lint(change)

    issue = single(issues, "system-step-never-fired")
    assert issue.severity == "warning"
    assert issue.message.startswith("'expire' from 'intake_review' may be fired only by the")
    assert issue.hint == (
        "give 'intake_review' an sla with on_breach: {trigger: expire}, or allow a user role"
    )


def test_a_step_the_system_fires_on_a_breach_is_fine():
    def change(d):
        d["roles"].append(SYSTEM)
        d["transitions"].append({"trigger": "expire", "from": "intake_review", "to": "rejected",
                                 "roles": ["system"], "label": label("Expire")})  # fmt: skip
        state(d, "intake_review")["sla"] = {"hours": 48}
        state(d, "intake_review")["on_breach"] = {"trigger": "expire"}

    _, issues = lint(change)

    assert issues == []


def test_a_notice_to_the_system_role_reaches_nobody():
    def change(d):
        d["roles"].append(SYSTEM)
        d["transitions"].append({"trigger": "expire", "from": "intake_review", "to": "rejected",
                                 "roles": ["system", "intake_officer"],
                                 "label": label("Expire")})  # fmt: skip
        transition(d, "submit")["notify"] = [
            {"to": {"role": "system"}, "template": "request_submitted"}
        ]

    _, issues = lint(change)

    issue = single(issues, "notice-to-system")
    assert "a notice to role 'system', of kind 'system', reaches nobody" in issue.message


def test_an_enum_value_declared_twice():
    def change(d):
        values = [{"id": "new", "label": label("New")}, {"id": "new", "label": label("Again")}]
        d["fields"].append({"id": "regime", "type": "enum", "label": label("R"), "values": values})

    _, issues = lint(change)

    assert single(issues, "duplicate-id").message == "field 'regime': value 'new' declared twice"


@pytest.mark.parametrize(
    ("sla", "flagged"),
    [
        ({"hours": 24, "warn_before_hours": 48}, True),
        ({"hours": 24, "warn_before_hours": 24}, True),
        ({"hours": 24, "warn_before_hours": 12}, False),
        ({"working_days": 2, "warn_before_hours": 72}, True),
        ({"working_days": 5, "warn_before_hours": 48}, False),
    ],
)
def test_a_warning_as_long_as_the_deadline(sla, flagged):
    def change(d):
        state(d, "intake_review")["sla"] = sla
        state(d, "intake_review")["on_breach"] = {
            "notify": [{"to": "requester", "template": "request_submitted"}]
        }

    _, issues = lint(change)

    found = [i for i in issues if i.code == "warning-longer-than-sla"]
    assert bool(found) == flagged
    if flagged:
        assert found[0].severity == "warning"
        assert "would be sent as soon as a request enters it" in found[0].message


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            'workers_requested == "fifty"',
            "compares the number field 'workers_requested' with the text 'fifty': values of "
            "two kinds are never equal, so it is always false",
        ),
        (
            "employer_name != 5",
            "compares the text field 'employer_name' with the number 5: values of two kinds "
            "are never equal, so it is always true",
        ),
    ],
)
def test_equality_of_a_number_and_a_text_is_a_condition_type_error(expr, message):
    """BUG: `==` never raises, so `workers_requested == "fifty"` passed the sample check."""

    def change(d):
        transition(d, "submit")["requires"] = {
            "conditions": [{"expr": expr, "message": label("m")}]
        }

    _, issues = lint(change)

    assert single(issues, "condition-type").message == f"condition '{expr}': {message}"


@pytest.mark.parametrize(
    "expr",
    ["workers_requested == 5", "destination_country == 'EG'", "workers_requested == None"],
)
def test_equality_of_one_kind_is_fine(expr):
    def change(d):
        transition(d, "submit")["requires"] = {
            "conditions": [{"expr": expr, "message": label("m")}]
        }

    _, issues = lint(change)

    assert issues == []


FLAG = {"id": "inspection_compliant", "type": "boolean", "label": label("Compliant")}
WAGE = {"id": "wage", "type": "money", "label": label("Wage")}
EXPIRY = {"id": "licence_expiry", "type": "date", "label": label("Licence expiry")}


def lint_condition(expr: str):
    def change(d):
        d["fields"] += [FLAG, WAGE, EXPIRY]
        transition(d, "submit")["sets"] = ["inspection_compliant", "wage", "licence_expiry"]
        transition(d, "submit")["requires"] = {
            "conditions": [{"expr": expr, "message": label("m")}]
        }

    return lint(change)


@pytest.mark.parametrize(
    ("expr", "message", "hint"),
    [
        (
            'inspection_compliant == "yes"',
            "compares the boolean field 'inspection_compliant' with the text 'yes': values of "
            "two kinds are never equal, so it is always false",
            "a boolean is itself a condition: write 'inspection_compliant', "
            "or 'not inspection_compliant'",
        ),
        (
            "inspection_compliant != 1",
            "compares the boolean field 'inspection_compliant' with the number 1: values of "
            "two kinds are never equal, so it is always true",
            "a boolean is itself a condition: write 'inspection_compliant', "
            "or 'not inspection_compliant'",
        ),
        (
            "today == inspection_compliant",
            "compares today (a date) with the boolean field 'inspection_compliant': values of two "
            "kinds are never equal, so it is always false",
            "a boolean is itself a condition: write 'inspection_compliant', "
            "or 'not inspection_compliant'",
        ),
        (
            "workers_requested == true",
            "compares the number field 'workers_requested' with the boolean true: values of "
            "two kinds are never equal, so it is always false",
            None,
        ),
        (
            "wage == 0",
            "compares the money field 'wage' with the number 0: values of two kinds are "
            "never equal, so it is always false",
            "compare the money field's .amount (a number) or .currency (a text)",
        ),
        (
            'licence_expiry != "2026-01-01"',
            "compares the date field 'licence_expiry' with the text '2026-01-01': values of "
            "two kinds are never equal, so it is always true",
            'write a fixed day as date("YYYY-MM-DD")',
        ),
        (
            "present(employer_name) == 1",
            "compares the boolean present(employer_name) with the number 1: values of two "
            "kinds are never equal, so it is always false",
            None,
        ),
        (
            "destination_country in [1, 2]",
            "looks for the text field 'destination_country' in a list of number values: "
            "values of two kinds are never equal, so it is always false",
            None,
        ),
    ],
)
def test_equality_across_booleans_money_and_dates_is_a_condition_type_error(expr, message, hint):
    """BUG: a boolean compared with a text (`inspection_compliant == "yes"`) passed: the
    step it guards could never be taken."""
    text, issues = lint_condition(expr)

    issue = single(issues, "condition-type")
    assert issue.message == f"condition '{expr}': {message}"
    assert issue.hint == hint
    assert f"expr: {expr.split()[0]}" in text.splitlines()[issue.line - 1].replace('"', "")


def test_ordering_a_boolean_against_a_number_is_a_condition_type_error():
    """Python reads true as 1, so `inspection_compliant < 1` computed; the language does not."""
    _, issues = lint_condition("inspection_compliant < 1")

    assert (
        "'<' cannot order true/false against another kind"
        in single(issues, "condition-type").message
    )


@pytest.mark.parametrize(
    "expr",
    [
        "inspection_compliant",
        "inspection_compliant == true",
        "not inspection_compliant or inspection_compliant != False",
        "wage.amount == 0 and wage.currency == 'EGP'",
        "licence_expiry != date('2026-01-01')",
        "destination_country in ['EG', 'SA']",
    ],
)
def test_comparisons_of_one_kind_with_booleans_money_and_dates_are_fine(expr):
    _, issues = lint_condition(expr)

    assert issues == []


def test_a_date_minus_a_date_points_at_days_between():
    """BUG: 'licence_expiry - today >= 120' said "'-' needs numbers, not date" and no more;
    the language had no way to count days."""
    _, issues = lint_condition("licence_expiry - today >= 120")

    issue = single(issues, "condition-type")
    assert issue.message == (
        "condition 'licence_expiry - today >= 120' combines values of kinds that do not go "
        "together ('-' needs numbers, not date)"
    )
    assert issue.hint == (
        "count the time between two dates with days_between(start, end), months_between(start, "
        "end) or years_between(start, end), e.g. days_between(today, expiry) >= 120"
    )


def test_days_between_is_a_number_to_the_linter():
    _, issues = lint_condition("days_between(today, licence_expiry) >= 120")
    assert issues == []

    _, issues = lint_condition("days_between(today, licence_expiry) == 'soon'")
    assert single(issues, "condition-type").message.endswith(
        "compares the number days_between(today, licence_expiry) with the text 'soon': values "
        "of two kinds are never equal, so it is always false"
    )


@pytest.mark.parametrize("zero", ["0", "0.0", "-0"])
def test_a_division_by_a_literal_zero(zero):
    expr = f"workers_requested / {zero} < 3"

    def change(d):
        transition(d, "submit")["requires"] = {
            "conditions": [{"expr": expr, "message": label("m")}]
        }

    _, issues = lint(change)

    assert single(issues, "division-by-zero").message == f"condition '{expr}' divides by zero"


def test_distinct_from_its_own_trigger_is_a_different_person_each_time():
    """Not flagged: the engine refuses a step to whoever did any listed step before, so a
    step naming itself is done by a different person in each round."""

    def change(d):
        transition(d, "submit")["distinct_from"] = ["submit"]

    _, issues = lint(change)

    assert issues == []
