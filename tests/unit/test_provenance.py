"""Document provenance (``documents[].provided_by``) and frozen terms (``states[].editable``):
the core refuses a document from a role that may not provide its kind, at filing, with a
step and when adding documents, and a requester's correction of a field its state freezes;
the linter checks both keys."""

from __future__ import annotations

from typing import Any

import pytest

from sopflow.errors import FieldError, InvalidData, RequirementNotMet
from sopflow.spec.yamlsource import parse_yaml
from states import Payload, attach, create, fire, replay
from states.corrections import correctable
from states.provenance import providable
from tests.factories import (
    EG,
    MONDAY,
    TN,
    actor,
    agency,
    codes,
    compile_text,
    compiled,
    documents_for,
    issues_of,
    official_fields,
    position,
    read,
    sample_data,
    satisfying_overrides,
    shortest_path,
    to_yaml,
)
from tests.unit.test_shipped_sops import Walk

EG_SOP, TN_SOP = compiled(EG), compiled(TN)


def walk_to(sop: Any, target: str) -> Walk:
    walk = Walk(sop)
    walk.follow(shortest_path(sop, sop.initial, lambda s: s == target))
    return walk


def only(exc: InvalidData, code: str) -> list[FieldError]:
    found = [e for e in exc.errors if e.code == code]
    assert found, exc.errors
    return found


# ---------------------------------------------------------------- provenance at filing


def filing_data(sop: Any) -> dict[str, Any]:
    fields = sorted(set(sop.fields) - official_fields(sop))
    return sample_data(sop, fields, satisfying_overrides(sop))


@pytest.mark.parametrize(
    ("sop", "kind", "providers"),
    [(EG_SOP, "attestation", ["labour_attache", "registry_clerk"]),
     (EG_SOP, "work_permits", ["work_permit_officer"]),
     (EG_SOP, "pdo_attendance", ["pdo_officer"]),
     (TN_SOP, "visaed_contract", ["minister_signatory"])],
)  # fmt: skip
def test_a_requester_cannot_file_an_officials_document(sop: Any, kind: str, providers: list[str]):
    filer = actor(*sop.spec.submission.roles)
    payload = Payload(data=filing_data(sop), documents=documents_for(sop, [kind]))

    with pytest.raises(InvalidData) as caught:
        create(sop, filer, payload, MONDAY)

    [error] = only(caught.value, "document-not-providable")
    assert error.field == f"document:{kind}"
    assert error.params == {"file": f"{kind}.pdf", "document": kind, "providers": providers,
                            "roles": list(sop.spec.submission.roles)}  # fmt: skip
    assert f"{kind}.pdf" in error.message and providers[0] in error.message


def test_the_requesters_own_documents_are_filed():
    filer = actor(*TN_SOP.spec.submission.roles)
    kinds = [k for k in TN_SOP.spec.documents if k.id != "visaed_contract"]
    payload = Payload(
        data=filing_data(TN_SOP), documents=documents_for(TN_SOP, [k.id for k in kinds])
    )

    outcome = create(TN_SOP, filer, payload, MONDAY)

    assert len(outcome.state.documents) == 14


# ---------------------------------------------------------------- provenance at attach and steps


def test_an_employer_cannot_attach_the_attaches_attestation_and_the_attestation_step_then_fails():
    walk = walk_to(EG_SOP, "attestation_review")
    employer = actor("employer_agent")

    with pytest.raises(InvalidData) as caught:
        attach(EG_SOP, walk.state, employer,
               Payload(documents=documents_for(EG_SOP, ["attestation"])), walk.now)  # fmt: skip
    assert only(caught.value, "document-not-providable")[0].params["providers"] == [
        "labour_attache", "registry_clerk"]  # fmt: skip

    # nothing was recorded: the attaché's step finds no attestation of its own
    with pytest.raises(RequirementNotMet) as unmet:
        fire(EG_SOP, walk.state, "attest_demand", actor("labour_attache"), Payload(), walk.now)
    assert [(u.code, u.subject) for u in unmet.value.unmet] == [("missing-document", "attestation")]

    # the attaché's own attestation passes
    done = fire(EG_SOP, walk.state, "attest_demand", actor("labour_attache"),
                Payload(documents=documents_for(EG_SOP, ["attestation"])), walk.now)  # fmt: skip
    assert done.state.state == "demand_intake"


def test_an_official_cannot_bring_the_employers_documents_with_a_step():
    walk = walk_to(EG_SOP, "attestation_review")

    with pytest.raises(InvalidData) as caught:
        fire(EG_SOP, walk.state, "attest_demand", actor("labour_attache"),
             Payload(documents=documents_for(EG_SOP, ["attestation", "demand_letter"])),
             walk.now)  # fmt: skip

    [error] = only(caught.value, "document-not-providable")
    assert error.field == "document:demand_letter"
    assert error.params["roles"] == ["labour_attache"]


def test_the_employer_cannot_file_the_work_permits_with_its_visas():
    walk = walk_to(EG_SOP, "medical_and_visa")
    kinds = ["medical_certificates", "visas", "worker_clearances", "work_permits"]

    with pytest.raises(InvalidData) as caught:
        fire(EG_SOP, walk.state, "submit_visas", actor("employer_agent"),
             Payload(documents=documents_for(EG_SOP, kinds)), walk.now)  # fmt: skip

    assert [e.field for e in caught.value.errors] == ["document:work_permits"]


def test_the_tunisian_visa_needs_the_signatorys_own_visaed_contract():
    walk = walk_to(TN_SOP, "awaiting_signature")
    enterprise, signatory = actor("enterprise"), actor("minister_signatory")
    visa = Payload(data={"visa_number": "V-1", "visa_date": "2026-03-01"})

    with pytest.raises(InvalidData):  # the enterprise's own "visa'd contract"
        attach(TN_SOP, walk.state, enterprise,
               Payload(documents=documents_for(TN_SOP, ["visaed_contract"])), walk.now)  # fmt: skip
    with pytest.raises(RequirementNotMet):
        fire(TN_SOP, walk.state, "grant_visa", signatory, visa, walk.now,
             facts={"prior_renewals": 0})  # fmt: skip

    done = fire(TN_SOP, walk.state, "grant_visa", signatory,
                Payload(data=visa.data, documents=documents_for(TN_SOP, ["visaed_contract"])),
                walk.now, facts={"prior_renewals": 0})  # fmt: skip
    assert done.state.state == "visa_granted"
    walk.state, walk.events = done.state, [*walk.events, done.event]
    assert replay(walk.events, TN_SOP).state == walk.state


def test_an_actor_with_a_providing_role_among_others_may_provide():
    walk = walk_to(EG_SOP, "attestation_review")
    both = actor("labour_attache", "registry_clerk")

    done = attach(EG_SOP, walk.state, both,
                  Payload(documents=documents_for(EG_SOP, ["attestation"])), walk.now)  # fmt: skip

    assert "attestation" in done.state.latest_documents()


def test_providable_lists_the_kinds_a_role_may_upload():
    assert [k.id for k in providable(TN_SOP, {"minister_signatory"})] == ["visaed_contract"]
    assert "visaed_contract" not in [k.id for k in providable(TN_SOP, {"enterprise"})]
    assert len(providable(TN_SOP, {"enterprise"})) == 14


# ---------------------------------------------------------------- frozen terms


def test_the_approved_demand_is_frozen_while_the_advertisement_is_drafted():
    walk = walk_to(EG_SOP, "advertisement_drafting")
    employer = actor("employer_agent")
    terms = {"workers_requested": 500, "destination_country": "QA",
             "placement_channel": "public_office"}  # fmt: skip

    with pytest.raises(InvalidData) as caught:
        fire(EG_SOP, walk.state, "submit_advertisement", employer,
             Payload(data=terms, documents=documents_for(EG_SOP, ["job_advertisement"])),
             walk.now, organisation=agency())  # fmt: skip

    frozen = only(caught.value, "field-frozen")
    assert sorted(e.field for e in frozen) == sorted(terms)
    assert frozen[0].params is not None and frozen[0].params["state"] == "advertisement_drafting"
    assert "advertisement_drafting" in frozen[0].message
    assert correctable(EG_SOP, "advertisement_drafting") == frozenset()


def test_the_contract_file_correction_cannot_change_the_approved_terms():
    walk = walk_to(EG_SOP, "contract_returned")

    with pytest.raises(InvalidData) as caught:
        fire(EG_SOP, walk.state, "resubmit", actor("employer_agent"),
             Payload(data={"monthly_wage": {"amount": "1", "currency": "USD"}}), walk.now,
             organisation=agency())  # fmt: skip

    assert [e.code for e in caught.value.errors] == ["field-frozen"]


def test_a_demand_returned_before_approval_may_still_be_corrected():
    walk = walk_to(EG_SOP, "returned_for_correction")

    done = fire(EG_SOP, walk.state, "resubmit", actor("employer_agent"),
                Payload(data={"workers_requested": 12}), walk.now,
                organisation=agency())  # fmt: skip

    assert done.state.data["workers_requested"] == 12
    assert correctable(EG_SOP, "returned_for_correction") == EG_SOP.requester_fields


def test_an_official_still_sets_the_steps_own_fields_in_a_frozen_state():
    walk = walk_to(EG_SOP, "advertisement_drafting")
    with pytest.raises(InvalidData) as caught:  # an official is told the usual reason
        fire(EG_SOP, walk.state, "reject", actor("director"),
             Payload(data={"workers_requested": 3}, comment="x", reason="misrepresentation"),
             walk.now)  # fmt: skip
    assert [e.code for e in caught.value.errors] == ["field-not-settable"]


# ---------------------------------------------------------------- the linter


def eg_variant(change: Any) -> str:
    data, _, issues = parse_yaml(read(EG), str(EG))
    assert not issues
    change(data)
    return to_yaml(data)


def kind(data: dict[str, Any], kind_id: str) -> dict[str, Any]:
    return next(d for d in data["documents"] if d["id"] == kind_id)


def state(data: dict[str, Any], state_id: str) -> dict[str, Any]:
    return next(s for s in data["states"] if s["id"] == state_id)


def test_the_shipped_sops_lint_clean():
    for path in (EG, TN):
        assert issues_of(read(path), str(path)) == []


def test_an_unknown_provider_is_located():
    text = eg_variant(lambda d: kind(d, "work_permits").update(provided_by=["work_permit_oficer"]))
    issues = issues_of(text)

    [issue] = [i for i in issues if i.code == "unknown-role"]
    assert (issue.line, issue.column) == position(text, "work_permit_oficer")
    assert issue.hint == "did you mean 'work_permit_officer'?"


def test_an_auditor_provider_cannot_act():
    text = eg_variant(lambda d: kind(d, "pdo_attendance").update(provided_by=["auditor"]))
    assert "provider-cannot-act" in codes(issues_of(text))


def test_a_required_document_nobody_can_provide_in_time():
    # the PDO record from the selection committee, which acts only long before orientation?
    # it acts in selection_in_progress, upstream: fine. From the work permit officer only
    # would also be upstream. From the labour attaché: never after attestation.
    fine = eg_variant(
        lambda d: kind(d, "pdo_attendance").update(provided_by=["selection_committee"])
    )
    assert "unprovidable-document" not in codes(issues_of(fine))

    def from_tn(d: dict[str, Any]) -> None:
        d["roles"].append({"id": "inspector", "title": {"en": "I", "fr": "I", "ar": "I"},
                           "kind": "official", "scope": "all"})  # fmt: skip
        kind(d, "work_permits")["provided_by"] = ["inspector"]

    text = eg_variant(from_tn)
    found = [i for i in issues_of(text) if i.code == "unprovidable-document"]
    assert len(found) == 1
    assert "issue_work_permit" in found[0].message and "inspector" in found[0].message


def test_editable_is_checked():
    def change(d: dict[str, Any]) -> None:
        state(d, "advertisement_drafting")["editable"] = ["contact_emial", "work_permit_number"]
        state(d, "demand_intake")["editable"] = []

    text = eg_variant(change)
    issues = issues_of(text)
    found = {i.code: i for i in issues}

    assert found["unknown-field"].hint == "did you mean 'contact_email'?"
    assert (found["unknown-field"].line, found["unknown-field"].column) == position(
        text, "contact_emial"
    )
    assert "officials-field-editable" in found
    assert found["editable-not-waiting"].severity == "warning"


# ---------------------------------------------------------------- replay of older histories


def test_a_history_recorded_before_provenance_still_replays_under_its_own_text():
    """A request pinned to the text without ``provided_by`` (the employer attached the
    attestation itself) replays as recorded; the new text refuses the same upload."""

    def before(d: dict[str, Any]) -> None:
        for doc in d["documents"]:
            doc.pop("provided_by", None)
        for st in d["states"]:
            st.pop("editable", None)

    old = compile_text(eg_variant(before))
    walk = walk_to(old, "attestation_review")
    upload = Payload(documents=documents_for(old, ["attestation"]))
    added = attach(old, walk.state, actor("employer_agent"), upload, walk.now)
    walk.state, walk.events = added.state, [*walk.events, added.event]
    walk.follow(shortest_path(old, "attestation_review", lambda s: s == "advertisement_drafting"))
    changed = fire(old, walk.state, "submit_advertisement", actor("employer_agent"),
                   Payload(data={"workers_requested": 99},
                           documents=documents_for(old, ["job_advertisement"])),
                   walk.now, organisation=agency())  # fmt: skip
    walk.events.append(changed.event)

    replayed = replay(walk.events, old)
    assert replayed.consistent, replayed.anomalies
    assert replayed.state == changed.state
    with pytest.raises(InvalidData):  # the same upload under the new text
        attach(EG_SOP, walk_to(EG_SOP, "attestation_review").state, actor("employer_agent"),
               upload, walk.now)  # fmt: skip
