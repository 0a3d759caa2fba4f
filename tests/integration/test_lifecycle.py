"""Every shipped SOP, walked to every final state through the services."""

from __future__ import annotations

from datetime import datetime

import pytest

from sopflow.errors import RoleForbidden, TriggerNotAllowed
from sopflow.services import Command, Services
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.integration.world import Step, email, step

OUTCOMES = {
    "placed": "approved",
    "visa_granted": "approved",
    "rejected": "rejected",
    "refused": "rejected",
    "withdrawn": "withdrawn",
    "expired": "expired",
}


def assert_closed(services: Services, ref: str, state: str, auditor: str) -> None:
    """``ref`` rests in the final ``state``: nobody may do anything more, and its log
    replays to what is stored and verifies."""
    view = services.queries.show(ref, auditor)
    assert (view["state"], view["outcome"]) == (state, OUTCOMES[state])
    assert view["deadline"] is None and not view["overdue"]
    assert all(not triggers for triggers in view["next_steps_by_role"].values())
    for person in w.PEOPLE.values():
        assert ref not in {i["reference"] for i in services.queries.inbox(person.email)}
    with pytest.raises(TriggerNotAllowed):
        services.commands.act(ref, "withdraw", view["created_by"], Command())
    replayed = services.audit.replay(ref, auditor)
    assert replayed["consistent"] and replayed["state"] == state
    assert services.audit.verify(ref).intact


def test_an_egyptian_demand_is_placed(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    states = [w.run(seeded, ref, [s]).state for s in w.EG_PATH]  # type: ignore[union-attr]

    assert states == [
        "demand_intake",
        "demand_under_review",
        "advertisement_drafting",
        "advertisement_review",
        "selection_in_progress",
        "contract_documentation",
        "contract_documentation",
        "medical_and_visa",
        "work_permit_review",
        "predeparture_orientation",
        "placed",
    ]
    data = seeded.queries.show(ref, email("agent"))["data"]
    assert (data["workers_selected"], data["work_permit_number"]) == (18, "WP-2026-9001")
    assert_closed(seeded, ref, "placed", email("eg_auditor"))
    assert seeded.audit.verify().intact


EG_REJECTIONS = {
    "attestation_review": step("labour_attache", "reject", reason="employer_not_verified"),
    "demand_under_review": step("employment_officer", "reject", reason="terms_below_standard"),
    "advertisement_review": step("director", "reject", reason="misrepresentation"),
    "selection_in_progress": step("selection_committee", "reject", reason="no_candidate_selected"),
    "contract_documentation": step("contract_officer", "reject", reason="contract_not_compliant"),
    "work_permit_review": step(
        "work_permit_officer", "reject", reason="permit_requirements_not_met"
    ),
    "predeparture_orientation": step("director", "reject", reason="agency_licence_invalid"),
}


def _walk_eg_to(services: Services, state: str) -> str:
    """A new Egyptian demand moved along the happy path until it rests in ``state``."""
    ref = w.submit_eg(services).reference
    for s in w.EG_PATH:
        if services.queries.show(ref, email("director"))["state"] == state:
            break
        w.run(services, ref, [s])
    assert services.queries.show(ref, email("director"))["state"] == state
    return ref


@pytest.mark.parametrize("stage", list(EG_REJECTIONS))
def test_an_egyptian_demand_is_rejected(seeded: Services, stage: str) -> None:
    ref = _walk_eg_to(seeded, stage)
    refusal = EG_REJECTIONS[stage]

    done = w.run(
        seeded,
        ref,
        [Step(refusal.who, "reject", {}, comment="See the file.", reason=refusal.reason)],
    )

    assert done is not None and done.state == "rejected"
    last = seeded.audit.history(ref, email("eg_auditor"))["events"][-1]
    assert (last["actor"], last["reason"], last["from_state"]) == (
        email(refusal.who),
        refusal.reason,
        stage,
    )
    assert_closed(seeded, ref, "rejected", email("eg_auditor"))


@pytest.mark.parametrize(
    "stage",
    [
        "attestation_review",
        "advertisement_drafting",
        "work_permit_review",
        "predeparture_orientation",
    ],
)
def test_an_egyptian_demand_is_withdrawn(seeded: Services, stage: str) -> None:
    ref = _walk_eg_to(seeded, stage)

    seeded.commands.act(ref, "withdraw", email("agent"), Command(comment="Employer cancelled"))

    assert_closed(seeded, ref, "withdrawn", email("eg_auditor"))


@pytest.mark.parametrize(
    ("stage", "returner", "reason"),
    [
        ("demand_intake", "registry_clerk", "incomplete_documents"),
        ("contract_documentation", "contract_officer", "passport_not_machine_readable"),
    ],
)
def test_an_egyptian_demand_not_corrected_in_time_expires(
    seeded: Services, stage: str, returner: str, reason: str
) -> None:
    ref = _walk_eg_to(seeded, stage)
    seeded.commands.act(
        ref,
        "return_for_correction",
        email(returner),
        Command(comment="Please correct.", reason=reason),
    )

    expired = seeded.commands.fire_as_system(ref, "expire", Command())

    assert expired.state == "expired"
    last = seeded.audit.history(ref, email("eg_auditor"))["events"][-1]
    assert (last["actor"], last["role"]) == ("system", "system")
    assert_closed(seeded, ref, "expired", email("eg_auditor"))


def test_an_egyptian_demand_returned_twice_is_placed_after_its_corrections(
    seeded: Services,
) -> None:
    ref = w.submit_eg(seeded).reference
    act = seeded.commands.act
    act(
        ref,
        "return_for_correction",
        email("labour_attache"),
        Command(comment="Attestation stamp unreadable", reason="attestation_invalid"),
    )
    act(ref, "resubmit", email("agent"), Command(data={"workers_requested": 25}))
    w.run(seeded, ref, w.eg_path_to("attest_contract"))
    act(
        ref,
        "return_for_correction",
        email("contract_officer"),
        Command(comment="Two passports expire", reason="passport_not_machine_readable"),
    )
    act(
        ref,
        "resubmit",
        email("agent"),
        Command(documents=w.docs("employment_contract", "passport_copies")),
    )
    w.run(seeded, ref, w.eg_path_from("attest_contract"))

    assert seeded.queries.show(ref, email("agent"))["data"]["workers_requested"] == 25
    assert_closed(seeded, ref, "placed", email("eg_auditor"))


def test_a_tunisian_contract_is_visaed(seeded: Services) -> None:
    ref = w.submit_tn(seeded).reference
    states = [w.run(seeded, ref, [s]).state for s in w.TN_PATH]  # type: ignore[union-attr]

    assert states == ["examination", "service_review", "awaiting_signature", "visa_granted"]
    data = seeded.queries.show(ref, email("enterprise"))["data"]
    assert (data["examiner_opinion"], data["visa_number"]) == ("favourable", "V-2026-0310")
    assert_closed(seeded, ref, "visa_granted", email("tn_auditor"))


def test_a_tunisian_contract_is_refused(seeded: Services) -> None:
    ref = w.submit_tn(seeded).reference
    w.run(seeded, ref, w.tn_path_to("grant_visa"))

    seeded.commands.act(
        ref,
        "refuse_visa",
        email("signatory"),
        Command(comment="A Tunisian candidate applied", reason="tunisian_candidates_available"),
    )

    assert_closed(seeded, ref, "refused", email("tn_auditor"))


@pytest.mark.parametrize("before", ["accept_filing", "endorse_opinion", "grant_visa"])
def test_a_tunisian_contract_is_withdrawn(seeded: Services, before: str) -> None:
    ref = w.submit_tn(seeded).reference
    w.run(seeded, ref, w.tn_path_to(before))

    seeded.commands.act(ref, "withdraw", email("enterprise"), Command())

    assert_closed(seeded, ref, "withdrawn", email("tn_auditor"))


def test_a_tunisian_contract_not_corrected_in_time_expires(seeded: Services) -> None:
    ref = w.submit_tn(seeded).reference
    seeded.commands.act(
        ref,
        "return_for_correction",
        email("examiner"),
        Command(comment="CNSS receipt missing", reason="cnss_not_up_to_date"),
    )

    seeded.commands.fire_as_system(ref, "expire", Command())

    assert_closed(seeded, ref, "expired", email("tn_auditor"))


def test_a_tunisian_contract_goes_round_the_corrections_and_is_visaed(seeded: Services) -> None:
    ref = w.submit_tn(seeded).reference
    act = seeded.commands.act
    w.run(seeded, ref, w.tn_path_to("endorse_opinion"))
    act(
        ref,
        "request_reexamination",
        email("head_of_service"),
        Command(comment="Check the diplomas"),
    )
    act(
        ref,
        "return_for_correction",
        email("examiner"),
        Command(comment="Diploma not legalised", reason="qualifications_not_proven"),
    )
    act(ref, "resubmit", email("enterprise"), Command(documents=w.docs("diplomas")))
    w.run(seeded, ref, w.TN_PATH)

    history = seeded.audit.history(ref, email("tn_auditor"))["events"]
    assert [e["trigger"] for e in history] == [
        "create",
        "submit",
        "accept_filing",
        "submit_opinion",
        "request_reexamination",
        "return_for_correction",
        "resubmit",
        "accept_filing",
        "submit_opinion",
        "endorse_opinion",
        "grant_visa",
    ]
    assert_closed(seeded, ref, "visa_granted", email("tn_auditor"))


def test_the_system_may_only_fire_timer_transitions(seeded: Services) -> None:
    ref = w.submit_tn(seeded).reference
    before = w.footprint(seeded)

    with pytest.raises(TriggerNotAllowed):
        seeded.commands.fire_as_system(ref, "expire", Command())  # not returned: nothing expires
    with pytest.raises(RoleForbidden):
        seeded.commands.fire_as_system(ref, "accept_filing", Command())
    assert w.footprint(seeded) == before


@pytest.mark.parametrize(
    ("sop", "returner", "reason", "auditor"),
    [
        (w.EG, "registry_clerk", "incomplete_documents", "eg_auditor"),
        (w.TN, "examiner", "incomplete_file", "tn_auditor"),
    ],
)
def test_the_sla_sweep_expires_a_file_left_uncorrected(
    seeded: Services, clock: Clock, sop: str, returner: str, reason: str, auditor: str
) -> None:
    ref = (w.submit_eg(seeded) if sop == w.EG else w.submit_tn(seeded)).reference
    if sop == w.EG:
        w.run(seeded, ref, w.eg_path_to("register_demand"))
    seeded.commands.act(
        ref,
        "return_for_correction",
        email(returner),
        Command(comment="Please complete the file.", reason=reason),
    )
    deadline = seeded.queries.show(ref, email(auditor))["deadline"]

    clock.advance(days=29)  # 30 working days are more than 29 calendar days
    assert seeded.deadlines.sweep().breached == []
    clock.advance(days=31)
    swept = seeded.deadlines.sweep()

    assert swept.escalated == [{"reference": ref, "trigger": "expire", "state": "expired"}]
    assert clock.now > datetime.fromisoformat(deadline)
    history = seeded.audit.history(ref, email(auditor))["events"]
    assert [(e["trigger"], e["actor"]) for e in history[-2:]] == [
        ("breach", "system"),
        ("expire", "system"),
    ]
    assert_closed(seeded, ref, "expired", email(auditor))
    assert seeded.deadlines.sweep().breached == []  # once only
