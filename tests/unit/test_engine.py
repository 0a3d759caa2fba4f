"""create / fire / attach / allowed_triggers: every refusal is precise, nothing half-applied."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sopflow.errors import (
    CommandRejected,
    InvalidData,
    RequirementNotMet,
    RoleForbidden,
    SeparationOfDuties,
    TriggerNotAllowed,
    UnknownTrigger,
)
from states import Actor, Payload, RequestState, allowed_triggers, attach, create, fire
from tests.factories import (
    BENCH,
    EG,
    LAB_SOP,
    actor,
    agency,
    compile_text,
    compiled,
    document_ref,
    lab_data,
    lab_sop,
    sample_data,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday in Cairo (UTC+2)
LAB = lab_sop()
CONTRACT = document_ref("contract")


def applicant():
    return actor("applicant", id="applicant-1")


def new_request(**data) -> RequestState:
    return create(LAB, applicant(), Payload(data=lab_data(**data)), NOW).state


def submitted(**data) -> RequestState:
    outcome = fire(
        LAB,
        new_request(**data),
        "submit",
        applicant(),
        Payload(documents=(CONTRACT,)),
        NOW,
        organisation=agency(),
    )
    return outcome.state


def registered(clerk_id: str = "clerk-1") -> RequestState:
    return fire(
        LAB,
        submitted(),
        "register",
        actor("clerk", id=clerk_id),
        Payload(data={"ref_no": "R-1"}),
        NOW,
    ).state


def rejection(call) -> CommandRejected:
    with pytest.raises(CommandRejected) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------- create


def test_create_puts_the_request_in_the_initial_state_with_event_one():
    outcome = create(LAB, applicant(), Payload(data=lab_data(), comment="first"), NOW)

    assert outcome.state.state == "draft"
    assert outcome.state.seq == 1
    assert outcome.state.data["email"] == "hr@nile.example"
    assert outcome.state.entered_at == NOW
    assert outcome.state.deadline is None
    event = outcome.event
    assert (event.seq, event.trigger, event.from_state, event.to_state) == (
        1,
        "create",
        None,
        "draft",
    )
    assert (event.actor_id, event.role, event.comment) == ("applicant-1", "applicant", "first")
    assert event.payload["data"] == outcome.state.data


def test_create_needs_a_submission_role():
    error = rejection(lambda: create(LAB, actor("clerk"), Payload(), NOW))

    assert isinstance(error, RoleForbidden)
    assert error.details == {"roles": ["applicant"], "filing": True}


def test_create_reports_every_invalid_field():
    payload = Payload(
        data={
            "name": 42,
            "email": "not-an-address",
            "count": 11,
            "wage": {"amount": "10", "currency": "EUR"},
            "regime": "ancient",
            "bogus": True,
        }
    )

    error = rejection(lambda: create(LAB, applicant(), payload, NOW))

    assert isinstance(error, InvalidData)
    assert [(e.field, e.code) for e in error.errors] == [
        ("name", "wrong-type"),
        ("email", "invalid-email"),
        ("count", "out-of-range"),
        ("wage", "invalid-currency"),
        ("regime", "not-in-enum"),
        ("bogus", "unknown-field"),
        # and, in the same refusal, what filing it (the submission step) will also need
        ("fee", "missing-field"),
        ("document:contract", "missing-document"),
    ]


def test_a_refused_filing_lists_what_is_missing_once_beside_what_is_wrong():
    data = lab_data(count=11)
    del data["fee"]

    error = rejection(lambda: create(LAB, applicant(), Payload(data=data), NOW))

    assert isinstance(error, InvalidData)
    # count is out of range, not also "missing"; fee and the contract are missing
    assert [(e.field, e.code) for e in error.errors] == [
        ("count", "out-of-range"),
        ("fee", "missing-field"),
        ("document:contract", "missing-document"),
    ]
    assert error.errors[-1].params == {"document": "contract"}


def test_a_filing_with_valid_data_leaves_what_is_missing_to_the_submission_step():
    data = lab_data()
    del data["fee"]

    outcome = create(LAB, applicant(), Payload(data=data), NOW)
    error = rejection(lambda: fire(LAB, outcome.state, "submit", applicant(), Payload(), NOW,
                                   organisation=agency()))  # fmt: skip

    assert isinstance(error, RequirementNotMet)
    assert [(u.code, u.subject) for u in error.unmet] == [
        ("missing-field", "fee"),
        ("missing-document", "contract"),
    ]


# ---------------------------------------------------------------- refusals of fire


def test_unknown_trigger():
    error = rejection(lambda: fire(LAB, new_request(), "sumbit", applicant(), Payload(), NOW))

    assert isinstance(error, UnknownTrigger)
    assert error.code == "unknown-trigger"
    assert error.details["allowed"] == ["submit"]


def test_trigger_not_allowed_from_this_state_lists_the_ones_allowed_to_the_actor():
    error = rejection(lambda: fire(LAB, submitted(), "approve", actor("chief"), Payload(), NOW))

    assert isinstance(error, TriggerNotAllowed)
    # 'register' leaves the state too, but is the clerk's
    assert error.details == {"state": "review", "allowed": ["return"], "trigger": "approve"}
    assert error.message == "'approve' is not allowed from state 'review'; allowed to you: return"


def test_trigger_not_allowed_never_offers_the_systems_triggers_to_a_person():
    returned = fire(LAB, submitted(), "return", actor("clerk"),
                    Payload(comment="fix", reason="incomplete"), NOW).state  # fmt: skip

    by_applicant = rejection(lambda: fire(LAB, returned, "approve", applicant(), Payload(), NOW))
    by_clerk = rejection(lambda: fire(LAB, returned, "approve", actor("clerk"), Payload(), NOW))

    assert by_applicant.details["allowed"] == ["resubmit"]  # not the timer's 'expire'
    assert by_clerk.details["allowed"] == []
    assert by_clerk.message.endswith("from state 'returned'; allowed to you: none")
    unknown = rejection(lambda: fire(LAB, returned, "sumbit", applicant(), Payload(), NOW))
    assert unknown.details["allowed"] == ["resubmit"]


def test_closed_request_refuses_every_trigger():
    closed = RequestState(state="approved", data=lab_data(), seq=5)

    for trigger in sorted(LAB.triggers):
        error = rejection(lambda t=trigger: fire(LAB, closed, t, actor("chief"), Payload(), NOW))
        assert isinstance(error, TriggerNotAllowed)
        assert "the request is closed" in error.message
        assert error.details["allowed"] == []


def test_role_forbidden_names_the_roles_needed():
    error = rejection(lambda: fire(LAB, submitted(), "register", applicant(), Payload(), NOW))

    assert isinstance(error, RoleForbidden)
    assert error.details == {"trigger": "register", "roles": ["clerk"]}
    assert "applicant-1 holds applicant" in error.message


def test_requirement_not_met_lists_every_unmet_requirement():
    state = registered()

    error = rejection(lambda: fire(LAB, state, "close", actor("chief"), Payload(), NOW))

    assert isinstance(error, RequirementNotMet)
    assert [(u.code, u.subject) for u in error.unmet] == [
        ("missing-field", "note"),
        ("missing-document", "passport"),
        ("comment-required", "comment"),
        ("reason-required", "reason"),
        ("rule-failed", "step_done"),
        ("condition-failed", "count <= 2"),
        ("condition-error", "years_between(start, end) >= 1"),
    ]
    assert error.details["trigger"] == "close"
    assert "a comment is required" in error.message


def test_a_condition_that_cannot_be_computed_names_its_expression_and_empty_fields():
    error = rejection(lambda: fire(LAB, registered(), "close", actor("chief"), Payload(), NOW))

    assert isinstance(error, RequirementNotMet)
    unmet = next(u for u in error.unmet if u.code == "condition-error")
    assert unmet.message == (
        "At least one year. (condition 'years_between(start, end) >= 1' cannot be computed: "
        "years_between() needs two dates; end, start have no value)"
    )
    assert unmet.params == {
        "message": {"en": "At least one year.", "fr": "Un an au moins.", "ar": "سنة على الأقل"},
        "expression": "years_between(start, end) >= 1",
        "error": "years_between() needs two dates",
        "empty": ["end", "start"],
    }
    assert unmet.message in error.message


def test_a_condition_on_a_missing_value_waits_for_it():
    data = {k: v for k, v in lab_data().items() if k != "count"}
    draft = create(LAB, applicant(), Payload(data=data), NOW).state

    payload = Payload(documents=(CONTRACT,))
    error = rejection(
        lambda: fire(LAB, draft, "submit", applicant(), payload, NOW, organisation=agency())
    )

    assert isinstance(error, RequirementNotMet)
    assert [(u.code, u.subject) for u in error.unmet] == [("missing-field", "count")]


def test_a_blank_comment_does_not_count():
    state = registered()

    error = rejection(
        lambda: fire(
            LAB, state, "return", actor("chief"), Payload(comment="  ", reason="incomplete"), NOW
        )
    )

    assert [u.code for u in error.unmet] == ["comment-required"]  # type: ignore[attr-defined]


def test_leaving_a_requester_state_needs_every_required_field():
    state = create(LAB, applicant(), Payload(data={"name": "Nile"}), NOW).state

    error = rejection(
        lambda: fire(LAB, state, "submit", applicant(), Payload(documents=(CONTRACT,)), NOW)
    )

    assert {u.subject for u in error.unmet if u.code == "missing-field"} == {  # type: ignore[attr-defined]
        "email",
        "count",
        "wage",
        "fee",
        "regime",
    }


def test_each_missing_field_is_listed_once():
    """BUG: when a transition out of a requester state also lists a required field in
    requires.fields, the field is reported twice ('is required' and 'must be filled in');
    the shipped Egyptian SOP's submit lists all 12 missing fields twice."""
    sop = compiled(EG)
    employer = actor("employer_agent")
    state = create(sop, employer, Payload(data={"employer_name": "Nile"}), NOW).state

    error = rejection(lambda: fire(sop, state, "submit", employer, Payload(), NOW))

    subjects = [u.subject for u in error.unmet if u.code == "missing-field"]  # type: ignore[attr-defined]
    assert len(subjects) == len(set(subjects))


def test_an_incomplete_draft_can_be_withdrawn():
    """BUG: engine._requirements demands every required field whenever a transition
    leaves a waiting_on: requester state, even towards a final state: an employer cannot
    withdraw an incomplete draft of the Egyptian SOP (RequirementNotMet listing 12 fields)."""
    sop = compiled(EG)
    employer = actor("employer_agent")
    state = create(sop, employer, Payload(data={"employer_name": "Nile"}), NOW).state

    outcome = fire(sop, state, "withdraw", employer, Payload(), NOW)

    assert outcome.state.state == "withdrawn"


def test_invalid_reason_lists_the_reasons_of_the_transition():
    state = submitted()

    error = rejection(
        lambda: fire(
            LAB, state, "return", actor("clerk"), Payload(comment="x", reason="fraud"), NOW
        )
    )

    assert isinstance(error, InvalidData)
    assert [(e.field, e.code) for e in error.errors] == [("reason", "unknown-reason")]
    assert "use one of: incomplete" in error.message


def test_separation_of_duties():
    state = registered(clerk_id="clerk-7")

    error = rejection(
        lambda: fire(LAB, state, "approve", actor("clerk", id="clerk-7"), Payload(), NOW)
    )

    assert isinstance(error, SeparationOfDuties)
    assert error.details == {"trigger": "approve", "conflicts_with": "register"}
    assert fire(
        LAB, state, "approve", actor("clerk", id="clerk-8"), Payload(), NOW
    ).state.state == ("approved")


def test_invalid_data_in_fire_lists_every_field_error():
    state = submitted()
    payload = Payload(data={"ref_no": "R" * 21, "note": "n" * 21, "name": "Other"})

    error = rejection(lambda: fire(LAB, state, "register", actor("clerk"), payload, NOW))

    assert isinstance(error, InvalidData)
    assert [(e.field, e.code) for e in error.errors] == [
        ("ref_no", "too-long"),
        ("note", "too-long"),
        ("name", "field-not-settable"),
    ]


def test_document_problems_are_all_reported():
    payload = Payload(
        documents=(
            document_ref("contract", size=1_000_001),
            document_ref("passport", media_type="text/html"),
            document_ref("visa"),
        )
    )

    error = rejection(lambda: fire(LAB, new_request(), "submit", applicant(), payload, NOW))

    assert isinstance(error, InvalidData)
    assert [(e.field, e.code) for e in error.errors] == [
        ("document:contract", "document-too-large"),
        ("document:passport", "document-type"),
        ("document:visa", "unknown-document"),
    ]


def test_a_refused_command_changes_nothing():
    state = new_request()
    before = state.to_json()

    rejection(lambda: fire(LAB, state, "submit", applicant(), Payload(data={"count": 9}), NOW))

    assert state.to_json() == before


# ---------------------------------------------------------------- who may write which field


def test_requester_may_correct_any_field_while_the_file_is_with_them():
    returned = fire(
        LAB, submitted(), "return", actor("clerk"), Payload(comment="fix", reason="incomplete"), NOW
    ).state
    assert returned.state == "returned"

    outcome = fire(
        LAB,
        returned,
        "resubmit",
        applicant(),
        Payload(data={"name": "Nile Builders SAE", "count": 4}, documents=(CONTRACT,)),
        NOW,
    )

    assert outcome.state.data["name"] == "Nile Builders SAE"
    assert outcome.event.payload["data"] == {"name": "Nile Builders SAE", "count": 4}


def test_the_requester_may_not_fill_in_the_officials_own_fields():
    """``ref_no`` is set only by the clerk's 'register' step: an applicant who filed it
    would hand the clerk a register number of their own choosing."""
    filing = rejection(lambda: create(
        LAB, applicant(), Payload(data=lab_data(ref_no="R-0", note="mine")), NOW))  # fmt: skip
    returned = fire(
        LAB, submitted(), "return", actor("clerk"), Payload(comment="fix", reason="incomplete"), NOW
    ).state
    correcting = rejection(lambda: fire(LAB, returned, "resubmit", applicant(), Payload(
        data={"ref_no": "R-0", "count": 4}, documents=(CONTRACT,)), NOW))  # fmt: skip

    for error in (filing, correcting):
        assert isinstance(error, InvalidData)
        assert ("ref_no", "field-not-settable") in [(e.field, e.code) for e in error.errors]
    assert LAB.requester_fields == frozenset(LAB.fields) - {"ref_no", "note"}


def test_officials_may_only_write_the_fields_their_step_sets():
    outcome = fire(
        LAB,
        submitted(),
        "register",
        actor("clerk"),
        Payload(data={"ref_no": "R-1", "note": "ok"}),
        NOW,
    )
    assert outcome.state.data["ref_no"] == "R-1"

    error = rejection(
        lambda: fire(
            LAB,
            submitted(),
            "return",
            actor("clerk"),
            Payload(data={"count": 1}, comment="x", reason="incomplete"),
            NOW,
        )
    )
    assert [(e.field, e.code) for e in error.errors] == [("count", "field-not-settable")]  # type: ignore[attr-defined]


def test_officials_may_clear_an_optional_field_they_set():
    state = fire(
        LAB,
        submitted(),
        "register",
        actor("clerk"),
        Payload(data={"ref_no": "R-1", "note": None}),
        NOW,
    ).state

    assert "note" not in state.data


# ---------------------------------------------------------------- what a step produces


def test_entering_a_working_day_sla_state_sets_the_deadline():
    state = submitted()

    assert state.state == "review"
    assert state.entered_at == NOW
    # two working days in Cairo: Tue 6, (Wed 7 Coptic Christmas), Thu 8, end of day UTC+2
    assert state.deadline == datetime(2026, 1, 8, 21, 59, 59, 999_999, tzinfo=UTC)


def test_entering_an_hours_sla_state_sets_an_elapsed_deadline():
    later = NOW + timedelta(hours=3)
    state = fire(
        LAB, submitted(), "register", actor("clerk"), Payload(data={"ref_no": "R-1"}), later
    ).state

    assert state.deadline == later + timedelta(hours=48)


def test_leaving_for_a_state_without_sla_clears_the_deadline():
    state = fire(LAB, registered(), "approve", actor("chief"), Payload(), NOW).state

    assert state.deadline is None
    assert state.breached is False


def test_a_step_records_its_event_and_notices():
    outcome = fire(
        LAB,
        new_request(),
        "submit",
        actor("applicant", id="a-9"),
        Payload(documents=(CONTRACT,), comment="here it is"),
        NOW,
        organisation=agency(),
    )

    event = outcome.event
    assert (event.seq, event.trigger, event.from_state, event.to_state) == (
        2,
        "submit",
        "draft",
        "review",
    )
    assert (event.actor_id, event.role, event.legal_clause) == ("a-9", "applicant", "lab-law")
    assert event.payload["documents"] == [CONTRACT.to_json()]
    assert [(n.template, n.recipient, n.address) for n in outcome.notices] == [
        ("request_submitted", "requester", None),
        ("request_submitted", "field:email", "hr@nile.example"),
        ("action_required", "role:clerk", None),
    ]
    assert {n.trigger for n in outcome.notices} == {"submit"}
    assert outcome.state.acted == {"submit": ("a-9",)}


def test_acting_for_is_recorded():
    deputy = Actor("deputy", frozenset({"applicant"}), "org-1", acting_for="boss")

    outcome = create(LAB, deputy, Payload(data=lab_data()), NOW)

    assert outcome.event.acting_for == "boss"


def test_a_worker_fee_within_the_cap_is_flagged_on_the_event():
    outcome = fire(
        LAB,
        new_request(fee={"amount": "100", "currency": "USD"}),
        "submit",
        applicant(),
        Payload(documents=(CONTRACT,)),
        NOW,
        organisation=agency(),
    )

    assert outcome.flags == ("worker fee charged: 100 USD",)
    assert outcome.event.payload["flags"] == ["worker fee charged: 100 USD"]


def test_no_flag_without_a_fee():
    outcome = fire(
        LAB,
        new_request(),
        "submit",
        applicant(),
        Payload(documents=(CONTRACT,)),
        NOW,
        organisation=agency(),
    )

    assert outcome.flags == ()
    assert "flags" not in outcome.event.payload


# ---------------------------------------------------------------- rules through the engine


def submit_with(organisation=None, facts=None, **data):
    return fire(
        LAB,
        new_request(**data),
        "submit",
        applicant(),
        Payload(documents=(CONTRACT,)),
        NOW,
        organisation=organisation,
        facts=facts,
    )


def rule_failures(call) -> list[tuple[str | None, str]]:
    error = rejection(call)
    assert isinstance(error, RequirementNotMet)
    return [(u.subject, u.message) for u in error.unmet]


@pytest.mark.parametrize(
    ("organisation", "fragment"),
    [
        (agency(licence_expires=date(2026, 1, 4)), "expired on 2026-01-04"),
        (agency(licence_status="suspended"), "is suspended"),
        (agency(licence_number=None), "has no recruitment licence"),
    ],
)
def test_agency_licence_must_be_valid(organisation, fragment):
    failures = rule_failures(lambda: submit_with(organisation))

    assert [s for s, _ in failures] == ["agency_licence_valid"]
    assert fragment in failures[0][1]


def test_a_licence_expiring_today_is_still_valid():
    assert submit_with(agency(licence_expires=date(2026, 1, 5))).state.state == "review"


def test_worker_fee_over_the_cap_is_refused():
    failures = rule_failures(
        lambda: submit_with(agency(), fee={"amount": "121", "currency": "USD"})
    )

    assert failures == [
        (
            "worker_fee_within_cap",
            "worker fee 121 USD exceeds 1% of the first-year wage (120.00 USD)",
        ),
    ]


def test_legacy_regime_allows_two_percent():
    outcome = submit_with(agency(), fee={"amount": "200", "currency": "USD"}, regime="old")

    assert outcome.flags == ("worker fee charged: 200 USD",)


def test_renewal_allowed_once_uses_the_prior_renewals_fact():
    failures = rule_failures(
        lambda: submit_with(agency(), facts={"prior_renewals": 1}, application="renewal")
    )
    assert [s for s, _ in failures] == ["renewal_allowed_once"]

    assert submit_with(agency(), facts={"prior_renewals": 0}, application="renewal").flags == ()
    exempt = submit_with(agency(), facts={"prior_renewals": 3}, application="renewal", exempt=True)
    assert exempt.flags == ("renewal under the approved-project exemption",)


# the lab's registration, its number unique among open requests and the name among all
UNIQUE_LAB = compile_text(LAB_SOP.replace(
    "    requires: {fields: [ref_no]}\n",
    "    requires:\n"
    "      fields: [ref_no]\n"
    "      rules:\n"
    "        - {rule: unique_value, params: {field: ref_no, among: open}}\n"
    "        - {rule: unique_value, params: {field: name}}\n",
), "lab-unique.yaml")  # fmt: skip


def register_with(facts):
    return fire(UNIQUE_LAB, submitted(), "register", actor("clerk"),
                Payload(data={"ref_no": "R-1"}), NOW, facts=facts)  # fmt: skip


def test_unique_value_refuses_on_the_holder_found_in_its_scope_only():
    open_holder = {"reference": "LAB-2026-000002", "state": "decision"}
    closed_holder = {"reference": "LAB-2026-000001", "state": "rejected"}

    # the services found no open request with R-1 (a closed one holds it): registered
    assert register_with({"holder:ref_no:open": None, "holder:name:all": None}).state.state == (
        "decision"
    )
    failures = rule_failures(lambda: register_with({"holder:ref_no:open": open_holder,
                                                    "holder:name:all": closed_holder}))  # fmt: skip
    assert failures == [
        ("unique_value", "'R-1' is already used by request LAB-2026-000002 (ref_no), "
         "in state 'decision'"),
        ("unique_value", "'Nile Builders' is already used by request LAB-2026-000001 (name), "
         "in state 'rejected'"),
    ]  # fmt: skip


def test_contract_substitution_is_detected():
    state = registered()
    substituted = attach(
        LAB,
        state,
        actor("clerk"),
        Payload(documents=(document_ref("contract", content="v2"),)),
        NOW,
    ).state

    failures = rule_failures(
        lambda: fire(LAB, substituted, "approve", actor("chief"), Payload(), NOW)
    )

    assert failures == [
        (
            "document_unchanged_since",
            "the 'contract' differs from the one on file at 'submit' (contract substitution)",
        ),
    ]


def test_adding_no_document_is_refused_rather_than_recorded():
    error = rejection(lambda: attach(LAB, registered(), actor("clerk"), Payload(), NOW))

    assert isinstance(error, InvalidData)
    assert [(e.field, e.code) for e in error.errors] == [("documents", "no-documents")]


def test_a_document_of_a_type_the_kind_refuses_says_which_it_accepts():
    payload = Payload(documents=(document_ref("passport", media_type="text/html"),))

    error = rejection(lambda: fire(LAB, new_request(), "submit", applicant(), payload, NOW))

    assert isinstance(error, InvalidData)
    assert error.errors[0].params["media"] == "text/html"  # type: ignore[index]
    assert "application/pdf" in error.errors[0].params["allowed"]  # type: ignore[index]


def test_the_same_contract_attached_again_is_not_a_substitution():
    state = attach(LAB, registered(), actor("clerk"), Payload(documents=(CONTRACT,)), NOW).state

    assert fire(LAB, state, "approve", actor("chief"), Payload(), NOW).state.state == "approved"


# ---------------------------------------------------------------- attach


def test_attach_adds_documents_without_changing_the_state():
    state = new_request()

    outcome = attach(LAB, state, applicant(), Payload(documents=(CONTRACT,), comment="scan"), NOW)

    assert outcome.state.state == "draft"
    assert outcome.state.seq == 2
    assert outcome.state.latest_documents() == {"contract": CONTRACT}
    event = outcome.event
    assert (event.trigger, event.from_state, event.to_state, event.role) == (
        "attach",
        "draft",
        "draft",
        "applicant",
    )
    assert event.comment == "scan"


def test_attach_needs_a_role_that_may_act_now():
    error = rejection(
        lambda: attach(LAB, new_request(), actor("clerk"), Payload(documents=(CONTRACT,)), NOW)
    )

    assert isinstance(error, RoleForbidden)
    assert error.details == {"roles": ["applicant"], "attach": True, "state": "draft"}


def test_attach_checks_the_documents():
    error = rejection(
        lambda: attach(
            LAB,
            new_request(),
            applicant(),
            Payload(documents=(document_ref("contract", media_type="image/png"),)),
            NOW,
        )
    )

    assert isinstance(error, InvalidData)
    assert error.errors[0].code == "document-type"


def test_attach_to_a_closed_request_is_refused():
    closed = RequestState(state="rejected", data={}, seq=4)

    error = rejection(
        lambda: attach(LAB, closed, actor("chief"), Payload(documents=(CONTRACT,)), NOW)
    )

    assert isinstance(error, TriggerNotAllowed)


# ---------------------------------------------------------------- allowed_triggers


def test_allowed_triggers_for_an_actor():
    allowed = allowed_triggers(LAB, registered(clerk_id="clerk-3"), actor("chief", "clerk"))

    assert [(a.trigger, a.to, a.roles) for a in allowed] == [
        ("approve", "approved", ("chief", "clerk")),
        ("close", "rejected", ("chief",)),
        ("return", "returned", ("clerk", "chief")),
    ]
    close = allowed[1]
    assert close.requires_comment is True
    assert close.reasons == ("incomplete", "fraud")
    assert close.documents == ("passport",)
    assert close.label["en"] == "Close"


def test_allowed_triggers_leave_out_steps_barred_by_separation_of_duties():
    allowed = allowed_triggers(LAB, registered(clerk_id="clerk-4"), actor("clerk", id="clerk-4"))

    assert [a.trigger for a in allowed] == ["return"]


def test_nothing_is_allowed_to_an_auditor_or_in_a_final_state():
    assert allowed_triggers(LAB, registered(), actor("auditor")) == []
    closed = RequestState(state="approved", data={}, seq=9)
    assert allowed_triggers(LAB, closed, actor("chief", "clerk", "applicant")) == []


# ---------------------------------------------------------------- the bench SOP


def test_bench_request_runs_to_approval():
    sop = compiled(BENCH)
    state = create(sop, actor("employer_agent"), Payload(data=sample_data(sop)), NOW).state
    steps = [
        ("submit", "employer_agent"),
        ("approve", "registry_clerk"),
        ("approve", "intake_officer"),
        ("approve", "documents_officer"),
        ("approve", "labour_market_analyst"),
        ("approve", "director"),
        ("approve", "attestation_officer"),
    ]
    for trigger, role in steps:
        state = fire(sop, state, trigger, actor(role), Payload(), NOW).state

    assert state.state == "approved"
    assert state.seq == 8


def test_bench_return_for_correction_goes_back_to_the_requester():
    sop = compiled(BENCH)
    state = create(sop, actor("employer_agent"), Payload(data=sample_data(sop)), NOW).state
    for trigger, role in [("submit", "employer_agent"), ("approve", "registry_clerk")]:
        state = fire(sop, state, trigger, actor(role), Payload(), NOW).state

    state = fire(sop, state, "return_for_correction", actor("intake_officer"), Payload(), NOW).state

    assert state.state == "draft"
    assert [a.trigger for a in allowed_triggers(sop, state, actor("employer_agent"))] == ["submit"]


def test_a_new_document_must_come_with_the_step_whatever_is_on_file():
    # "close" must bring its own contract: the one filed with the request does not count
    text = LAB_SOP.replace(
        "      documents: [passport]\n",
        "      documents: [passport]\n      new_documents: [contract]\n",
    )
    sop = compile_text(text, "lab.yaml")
    state = fire(sop, submitted(), "register", actor("clerk", id="clerk-1"),
                 Payload(data={"ref_no": "R-1"}), NOW).state  # fmt: skip

    error = rejection(lambda: fire(sop, state, "close", actor("chief"), Payload(), NOW))
    brought = rejection(lambda: fire(sop, state, "close", actor("chief"),
                                     Payload(documents=(document_ref("contract", content="v2"),)),
                                     NOW))  # fmt: skip

    assert isinstance(error, RequirementNotMet)
    new = [u for u in error.unmet if u.subject == "contract"]
    assert [(u.code, u.params) for u in new] == [
        ("missing-document", {"document": "contract", "new": True})]  # fmt: skip
    assert "one already on file does not count" in new[0].message
    assert isinstance(brought, RequirementNotMet)
    assert "contract" not in {u.subject for u in brought.unmet}
