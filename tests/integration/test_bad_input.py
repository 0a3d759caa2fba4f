"""Bad input gets a precise error and leaves the database exactly as it was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from sopflow.errors import (
    CommandRejected,
    InvalidData,
    NotFound,
    RequirementNotMet,
    RoleForbidden,
    SeparationOfDuties,
    TriggerNotAllowed,
    UnknownTrigger,
)
from sopflow.services import Command, CommandResult, Services
from sopflow.store.blobs import Upload
from tests.integration import world as w
from tests.integration.world import email


@dataclass
class Desk:
    """A request waiting in ``demand_intake`` (attested), and a way to try commands on it
    that must be refused without changing anything."""

    services: Services
    ref: str

    def act(self, trigger: str, who: str, command: Command | None = None) -> CommandResult:
        return self.services.commands.act(self.ref, trigger, email(who), command or Command())

    def refused(
        self, error: type[CommandRejected], attempt: Callable[[], object]
    ) -> CommandRejected:
        before = w.footprint(self.services)
        with pytest.raises(error) as caught:
            attempt()
        assert w.footprint(self.services) == before, "a refused command changed the database"
        return caught.value


@pytest.fixture
def desk(seeded: Services) -> Iterator[Desk]:
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("register_demand"))
    yield Desk(seeded, ref)


def _submit(services: Services, data: dict[str, object], documents: list[Upload]) -> CommandResult:
    return services.commands.submit(w.EG, email("agent"), Command(data=data, documents=documents))


# -- who and what ------------------------------------------------------------------------
def test_an_unknown_reference_is_not_found(desk: Desk) -> None:
    error = desk.refused(
        NotFound,
        lambda: desk.services.commands.act(
            "EG-2026-000999", "register_demand", email("registry_clerk"), Command()
        ),
    )
    assert str(error) == "no request 'EG-2026-000999'"


def test_an_unknown_user_is_not_found(desk: Desk) -> None:
    error = desk.refused(
        NotFound,
        lambda: desk.services.commands.act(
            desk.ref, "register_demand", "ghost@mom.example", Command()
        ),
    )
    assert str(error) == "no user 'ghost@mom.example'"


def test_an_unknown_sop_is_not_found(desk: Desk) -> None:
    error = desk.refused(
        NotFound,
        lambda: desk.services.commands.submit(
            "eg-mom-nothing", email("agent"), Command(data=w.eg_data())
        ),
    )
    assert "eg-mom-nothing" in str(error)


def test_a_role_the_step_does_not_allow_is_forbidden(desk: Desk) -> None:
    error = desk.refused(
        RoleForbidden,
        lambda: desk.act(
            "register_demand",
            "employment_officer",
            Command(data={"demand_register_number": "DR-1"}),
        ),
    )
    assert error.code == "role-forbidden"
    assert error.details["roles"] == ["registry_clerk"]


def test_an_auditor_may_not_act(desk: Desk) -> None:
    desk.refused(
        RoleForbidden,
        lambda: desk.act(
            "register_demand", "eg_auditor", Command(data={"demand_register_number": "DR-1"})
        ),
    )


def test_an_unknown_trigger_is_refused(desk: Desk) -> None:
    error = desk.refused(UnknownTrigger, lambda: desk.act("stamp", "registry_clerk"))
    assert "stamp" in str(error)


def test_a_trigger_not_allowed_now_is_refused_with_the_allowed_ones(desk: Desk) -> None:
    error = desk.refused(TriggerNotAllowed, lambda: desk.act("approve_demand", "director"))
    assert error.details == {
        "state": "demand_intake",
        "allowed": ["reject"],  # the director's step there; not the clerk's nor the agency's
        "trigger": "approve_demand",
    }


def test_a_closed_request_accepts_nothing_more(desk: Desk) -> None:
    desk.act("withdraw", "agent")

    error = desk.refused(TriggerNotAllowed, lambda: desk.act("register_demand", "registry_clerk"))
    assert "closed" in str(error)
    desk.refused(
        TriggerNotAllowed,
        lambda: desk.services.commands.attach(
            desk.ref, email("agent"), Command(documents=w.docs("attestation"))
        ),
    )


def test_the_same_official_may_not_do_two_steps_that_must_be_distinct(desk: Desk) -> None:
    svc = desk.services
    svc.directory.add_user(
        "both@mom.example", "Both", w.EG_AUTHORITY, ["registry_clerk", "employment_officer"]
    )
    svc.commands.act(
        desk.ref,
        "register_demand",
        "both@mom.example",
        Command(data={"demand_register_number": "DR-1"}),
    )

    error = desk.refused(
        SeparationOfDuties,
        lambda: svc.commands.act(desk.ref, "approve_demand", "both@mom.example", Command()),
    )
    assert error.details == {"trigger": "approve_demand", "conflicts_with": "register_demand"}
    assert (
        "approve_demand" not in svc.queries.show(desk.ref, "both@mom.example")["allowed_triggers"]
    )


# -- data --------------------------------------------------------------------------------
def test_invalid_data_lists_every_field_error(desk: Desk) -> None:
    bad = w.eg_data(
        employer_country="XX",
        occupation="99999",
        industry="Z9",
        workers_requested="twenty",
        monthly_wage=w.money("1500", "ZZZ"),
        worker_fee={"amount": "-5", "currency": "USD"},
        legal_regime="law_1_1900",
        contract_months=61,
        contact_email="demands at redsea",
        employer_name="",
        colour="blue",
    )
    error = desk.refused(
        InvalidData, lambda: _submit(desk.services, bad, w.docs(*w.EG_SUBMIT_DOCS))
    )

    assert sorted((e.field, e.code) for e in error.errors) == [
        ("colour", "unknown-field"),
        ("contact_email", "invalid-email"),
        ("contract_months", "out-of-range"),
        ("employer_country", "invalid-country"),
        ("employer_name", "missing-field"),
        ("industry", "invalid-isic"),
        ("legal_regime", "not-in-enum"),
        ("monthly_wage", "invalid-currency"),
        ("occupation", "invalid-isco08"),
        ("worker_fee", "out-of-range"),
        ("workers_requested", "wrong-type"),
    ]
    assert error.details["errors"] == [e.to_dict() for e in error.errors]


def test_an_official_may_not_set_fields_its_step_does_not_set(desk: Desk) -> None:
    error = desk.refused(
        InvalidData,
        lambda: desk.act(
            "register_demand",
            "registry_clerk",
            Command(data={"demand_register_number": "DR-1", "worker_fee": w.money("0", "USD")}),
        ),
    )
    assert [(e.field, e.code) for e in error.errors] == [("worker_fee", "field-not-settable")]


def test_a_reason_the_step_does_not_list_is_refused(desk: Desk) -> None:
    error = desk.refused(
        InvalidData,
        lambda: desk.act(
            "reject", "director", Command(comment="No", reason="no_candidate_selected")
        ),
    )
    assert [(e.field, e.code) for e in error.errors] == [("reason", "unknown-reason")]


def test_every_unmet_requirement_is_listed(desk: Desk) -> None:
    error = desk.refused(RequirementNotMet, lambda: desk.act("reject", "director"))
    assert [u["code"] for u in error.details["unmet"]] == ["comment-required", "reason-required"]

    error = desk.refused(RequirementNotMet, lambda: desk.act("register_demand", "registry_clerk"))
    assert [(u["code"], u["subject"]) for u in error.details["unmet"]] == [
        ("missing-field", "demand_register_number")
    ]


def test_a_failed_condition_is_reported_with_its_message(desk: Desk) -> None:
    error = desk.refused(
        RequirementNotMet,
        lambda: _submit(
            desk.services, w.eg_data(monthly_wage=w.money("0", "USD")), w.docs(*w.EG_SUBMIT_DOCS)
        ),
    )
    assert [(u["code"], u["message"]) for u in error.details["unmet"]] == [
        ("condition-failed", "The monthly wage must be greater than zero.")
    ]


# -- documents ---------------------------------------------------------------------------
def test_missing_documents_are_named(desk: Desk) -> None:
    error = desk.refused(
        RequirementNotMet, lambda: _submit(desk.services, w.eg_data(), w.docs("demand_letter"))
    )
    assert [(u["code"], u["subject"]) for u in error.details["unmet"]] == [
        ("missing-document", "power_of_attorney")
    ]


def test_a_step_needing_a_document_names_it(desk: Desk) -> None:
    filed = w.submit_eg(desk.services).reference
    error = desk.refused(
        RequirementNotMet,
        lambda: desk.services.commands.act(
            filed, "attest_demand", email("labour_attache"), Command()
        ),
    )
    assert [(u["code"], u["subject"]) for u in error.details["unmet"]] == [
        ("missing-document", "attestation")
    ]


def _document_refused(desk: Desk, upload: Upload) -> InvalidData:
    documents = [upload, *w.docs("power_of_attorney")]
    error = desk.refused(InvalidData, lambda: _submit(desk.services, w.eg_data(), documents))
    assert isinstance(error, InvalidData)
    return error


def test_an_empty_document_is_refused(desk: Desk) -> None:
    error = _document_refused(desk, w.doc("demand_letter", b""))
    assert [(e.field, e.code) for e in error.errors] == [
        ("document:demand_letter", "document-empty")
    ]


def test_every_bad_document_is_named_in_one_refusal(desk: Desk) -> None:
    desk.services.ctx.max_document_bytes = 2_000
    documents = [w.doc("demand_letter", b""), w.doc("power_of_attorney", w.pdf() + b" " * 2_000),
                 w.doc("attestation", w.png(), "attestation.pdf")]  # fmt: skip
    error = desk.refused(InvalidData, lambda: _submit(desk.services, w.eg_data(), documents))

    assert isinstance(error, InvalidData)
    assert [(e.field, e.code) for e in error.errors] == [
        ("document:demand_letter", "document-empty"),
        ("document:power_of_attorney", "document-too-large"),
        ("document:attestation", "document-mislabelled"),
    ]


def test_a_document_above_the_configured_limit_is_refused(desk: Desk) -> None:
    desk.services.ctx.max_document_bytes = 2_000
    error = _document_refused(desk, w.doc("demand_letter", w.pdf() + b" " * 2_000))
    assert [(e.field, e.code) for e in error.errors] == [
        ("document:demand_letter", "document-too-large")
    ]


def test_a_document_above_its_kind_s_limit_is_refused(desk: Desk) -> None:
    # demand letters may be 10 MB at most (the SOP's default)
    error = _document_refused(desk, w.doc("demand_letter", w.pdf() + b" " * 10_000_000))
    assert [(e.field, e.code) for e in error.errors] == [
        ("document:demand_letter", "document-too-large")
    ]


def test_a_mislabelled_document_is_refused(desk: Desk) -> None:
    error = _document_refused(desk, w.doc("demand_letter", w.png(), "demand_letter.pdf"))
    assert [(e.field, e.code) for e in error.errors] == [
        ("document:demand_letter", "document-mislabelled")
    ]
    assert "image/png" in error.errors[0].message


def test_a_document_of_a_type_its_kind_does_not_take_is_refused(desk: Desk) -> None:
    # selection results are PDF, CSV or spreadsheets, not pictures (and the selection
    # committee's own: every error of the file is listed)
    error = desk.refused(
        InvalidData,
        lambda: desk.services.commands.attach(
            desk.ref,
            email("agent"),
            Command(documents=[w.doc("selection_results", w.png(), "results.png")]),
        ),
    )
    assert [(e.field, e.code) for e in error.errors] == [
        ("document:selection_results", "document-type"),
        ("document:selection_results", "document-not-providable"),
    ]


def test_an_unknown_document_kind_is_refused(desk: Desk) -> None:
    error = desk.refused(
        InvalidData,
        lambda: desk.services.commands.attach(
            desk.ref, email("agent"), Command(documents=[w.doc("birth_certificate")])
        ),
    )
    assert [(e.field, e.code) for e in error.errors] == [
        ("document:birth_certificate", "unknown-document")
    ]


def test_a_png_named_png_is_accepted(desk: Desk) -> None:
    done = desk.services.commands.attach(
        desk.ref, email("agent"), Command(documents=[w.doc("demand_letter", w.png(), "scan.png")])
    )
    documents = desk.services.queries.show(desk.ref, email("agent"))["documents"]
    assert done.trigger == "attach"
    assert (documents[-1]["kind"], documents[-1]["media_type"]) == ("demand_letter", "image/png")
