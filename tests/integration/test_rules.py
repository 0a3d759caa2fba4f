"""The legal rules the SOPs name: the agency's licence, the worker-fee cap, no contract
substitution, and the Tunisian single renewal."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sopflow.errors import CommandRejected, RequirementNotMet
from sopflow.services import Command, OrgInput, Services
from sopflow.sop_files import shipped_sop_dir
from tests.integration import world as w
from tests.integration.world import email


def unmet(error: CommandRejected) -> list[tuple[str, str]]:
    return [(u["code"], u["subject"]) for u in error.details["unmet"]]


def refused(services: Services, attempt: Any) -> RequirementNotMet:
    before = w.footprint(services)
    with pytest.raises(RequirementNotMet) as caught:
        attempt()
    assert w.footprint(services) == before
    return caught.value


# -- the agency's licence ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "expires", "said"),
    [
        ("suspended", None, "is suspended"),
        ("cancelled", None, "is cancelled"),
        ("active", date(2026, 11, 29), "expired on 2026-11-29"),
    ],
)
def test_an_agency_without_a_valid_licence_cannot_file(
    seeded: Services, status: str, expires: date | None, said: str
) -> None:
    seeded.directory.set_licence(w.AGENCY, status, expires)

    error = refused(seeded, lambda: w.submit_eg(seeded))

    assert unmet(error) == [("rule-failed", "agency_licence_valid")]
    assert said in error.details["unmet"][0]["message"]


# every step that advances the file: a suspended licence blocks every later stage
LICENCE_STEPS = [s.trigger for s in w.EG_PATH if s.trigger != "attach"]


def test_a_suspended_agency_s_demand_is_held_at_every_step_that_needs_the_licence(
    seeded: Services,
) -> None:
    ref = w.submit_eg(seeded).reference
    held_at = []
    for s in w.EG_PATH:
        seeded.directory.set_licence(w.AGENCY, "suspended")
        try:
            w.run(seeded, ref, [s])
        except RequirementNotMet as exc:
            assert unmet(exc) == [("rule-failed", "agency_licence_valid")]
            held_at.append(s.trigger)
            seeded.directory.set_licence(w.AGENCY, "active")  # reinstated
            w.run(seeded, ref, [s])

    assert held_at == LICENCE_STEPS
    assert seeded.queries.show(ref, email("agent"))["state"] == "placed"


def test_a_step_keeps_the_licence_on_record_that_it_relied_on(seeded: Services) -> None:
    seeded.directory.set_licence(w.AGENCY, "active", date(2027, 6, 30))
    ref = w.submit_eg(seeded).reference
    # the directory changes afterwards (the licence suspended, its expiry re-keyed)
    seeded.directory.set_licence(w.AGENCY, "suspended", date(2026, 12, 31))

    history = seeded.audit.history(ref, None)
    filed = next(e for e in history["events"] if e["trigger"] == "submit")["payload"]["grounds"]

    assert filed == [{"rule": "agency_licence_valid", "agency": w.AGENCY, "licence": "EG-LIC-0042",
                      "status": "active", "expires": "2027-06-30"}]  # fmt: skip
    assert seeded.audit.replay(ref, None)["consistent"]
    assert seeded.audit.verify(ref).intact


def test_the_director_closes_the_file_of_a_suspended_agency(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("register_demand"))
    seeded.directory.set_licence(w.AGENCY, "suspended")

    done = seeded.commands.act(
        ref,
        "reject",
        email("director"),
        Command(comment="Licence suspended by decree", reason="agency_licence_invalid"),
    )
    assert done.state == "rejected"


def test_a_foreign_employer_filing_itself_needs_no_licence(seeded: Services) -> None:
    seeded.directory.add_org(OrgInput("Red Sea Construction", "employer", "SA", id="red-sea"))
    seeded.directory.add_user("hr@redsea.example", "HR", "red-sea", ["employer_agent"])

    data = w.eg_data(placement_channel="employer_direct")
    filed = seeded.commands.submit(
        w.EG, "hr@redsea.example", Command(data=data, documents=w.docs(*w.EG_SUBMIT_DOCS))
    )
    assert filed.state == "attestation_review"


# -- the worker-fee cap ------------------------------------------------------------------
def test_a_worker_fee_above_one_percent_of_the_first_year_wage_is_refused(
    seeded: Services,
) -> None:
    # 1 % of 12 x 1,500 USD = 180 USD
    error = refused(seeded, lambda: w.submit_eg(seeded, worker_fee=w.money("180.01", "USD")))

    assert unmet(error) == [("rule-failed", "worker_fee_within_cap")]
    assert "exceeds 1% of the first-year wage (180.00 USD)" in str(error)


def test_a_worker_fee_within_the_cap_is_accepted_and_flagged(seeded: Services) -> None:
    filed = w.submit_eg(seeded, worker_fee=w.money("180", "USD"))

    assert filed.flags == ("worker fee charged: 180 USD",)
    submit = seeded.audit.history(filed.reference, email("eg_auditor"))["events"][1]
    assert (submit["trigger"], submit["payload"]["flags"]) == (
        "submit",
        ["worker fee charged: 180 USD"],
    )
    # flagged again at each step that checks the cap
    approved = w.run(seeded, filed.reference, w.eg_path_to("submit_advertisement"))
    assert approved is not None and approved.flags == ("worker fee charged: 180 USD",)


def test_no_fee_raises_no_flag(seeded: Services) -> None:
    filed = w.submit_eg(seeded)

    assert filed.flags == ()
    submit = seeded.audit.history(filed.reference, email("eg_auditor"))["events"][1]
    assert "flags" not in submit["payload"]


def test_files_under_the_old_law_keep_the_two_percent_cap(seeded: Services) -> None:
    old_law: dict[str, Any] = {"legal_regime": "law_12_2003", "file_opened_date": "2025-06-10"}
    assert w.submit_eg(seeded, worker_fee=w.money("360", "USD"), **old_law).flags
    error = refused(
        seeded, lambda: w.submit_eg(seeded, worker_fee=w.money("360.01", "USD"), **old_law)
    )
    assert "exceeds 2%" in str(error)


def test_a_fee_in_another_currency_than_the_wage_is_refused(seeded: Services) -> None:
    error = refused(seeded, lambda: w.submit_eg(seeded, worker_fee=w.money("50", "EGP")))
    assert unmet(error) == [("rule-failed", "worker_fee_within_cap")]


def test_a_fee_raised_above_the_cap_in_a_correction_is_refused(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    seeded.commands.act(
        ref,
        "return_for_correction",
        email("registry_clerk"),
        Command(comment="Fee?", reason="data_inconsistent"),
    )

    error = refused(
        seeded,
        lambda: seeded.commands.act(
            ref, "resubmit", email("agent"), Command(data={"worker_fee": w.money("500", "USD")})
        ),
    )
    assert unmet(error) == [("rule-failed", "worker_fee_within_cap")]


# -- no contract substitution ------------------------------------------------------------
@pytest.fixture
def awaiting_permit(seeded: Services) -> str:
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("issue_work_permit"))
    return ref


def test_a_contract_swapped_after_attestation_blocks_the_work_permit(
    seeded: Services, awaiting_permit: str
) -> None:
    ref = awaiting_permit
    seeded.commands.attach(
        ref,
        email("agent"),
        Command(documents=[w.doc("employment_contract", w.pdf("a lower wage"))]),
    )
    permit = w.eg_step("issue_work_permit")

    error = refused(seeded, lambda: w.run(seeded, ref, [permit]))

    assert unmet(error) == [("rule-failed", "document_unchanged_since")]
    assert "contract substitution" in str(error)


def test_a_contract_swapped_with_the_visas_is_refused_with_them(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("submit_visas"))

    error = refused(seeded, lambda: seeded.commands.act(
        ref, "submit_visas", email("agent"), Command(documents=w.docs(
            "medical_certificates", "visas", "worker_clearances", "employment_contract")),
    ))  # fmt: skip
    assert unmet(error) == [("rule-failed", "document_unchanged_since")]


def test_the_attested_contract_filed_again_unchanged_is_no_substitution(
    seeded: Services, awaiting_permit: str
) -> None:
    ref = awaiting_permit
    attested = next(
        d
        for d in reversed(seeded.queries.show(ref, email("agent"))["documents"])
        if d["kind"] == "employment_contract"
    )
    content = seeded.ctx.blobs.read(attested["sha256"])
    seeded.commands.attach(
        ref,
        email("agent"),
        Command(documents=[w.doc("employment_contract", content, "contract-copy.pdf")]),
    )

    assert w.run(seeded, ref, [w.eg_step("issue_work_permit")]).state == "predeparture_orientation"  # type: ignore[union-attr]


def test_a_new_contract_attested_again_clears_the_permit(
    seeded: Services, awaiting_permit: str
) -> None:
    ref = awaiting_permit
    act = seeded.commands.act
    act(
        ref,
        "return_for_correction",
        email("work_permit_officer"),
        Command(comment="Clearances missing", reason="worker_documents_missing"),
    )
    act(
        ref,
        "resubmit",
        email("agent"),
        Command(documents=w.docs("employment_contract", "passport_copies")),
    )

    assert w.run(seeded, ref, w.eg_path_from("attest_contract")).state == "placed"  # type: ignore[union-attr]


def test_the_contract_attester_may_not_issue_the_permit(seeded: Services) -> None:
    seeded.directory.add_user(
        "both@mom.example", "Both", w.EG_AUTHORITY, ["contract_officer", "work_permit_officer"]
    )
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("attest_contract"))
    seeded.commands.act(
        ref, "attest_contract", "both@mom.example", w.eg_step("attest_contract").command()
    )
    w.run(seeded, ref, [w.eg_step("submit_visas")])
    before = w.footprint(seeded)

    with pytest.raises(CommandRejected) as caught:
        seeded.commands.act(
            ref, "issue_work_permit", "both@mom.example", w.eg_step("issue_work_permit").command()
        )
    assert caught.value.code == "separation-of-duties"
    assert w.footprint(seeded) == before


# -- Tunisia: one renewal, no fee, twelve months -----------------------------------------
PASSPORT = "A1234567"


EXEMPT = {"approved_project_exemption": True, "project_approval_reference": "APII-2026-118"}


def renewal(**changes: Any) -> dict[str, Any]:
    return {
        "application_type": "renewal",
        "previous_visa_reference": w.tn_step("grant_visa").data["visa_number"],
        "passport_number": PASSPORT,
        **changes,
    }


@pytest.fixture
def granted(seeded: Services) -> str:
    """A first contract visa'd for the worker with passport ``PASSPORT``."""
    ref = w.submit_tn(seeded, passport_number=PASSPORT).reference
    assert w.run(seeded, ref, w.TN_PATH).state == "visa_granted"  # type: ignore[union-attr]
    return ref


@pytest.fixture
def renewed_once(seeded: Services, granted: str) -> str:
    """An approved renewal for the worker with passport ``PASSPORT``."""
    ref = w.submit_tn(seeded, **renewal()).reference
    w.run(seeded, ref, w.TN_PATH)
    assert seeded.queries.show(ref, email("enterprise"))["state"] == "visa_granted"
    return ref


def test_a_second_renewal_for_the_same_passport_is_refused_at_filing(
    seeded: Services, renewed_once: str
) -> None:
    error = refused(seeded, lambda: w.submit_tn(seeded, **renewal()))

    assert unmet(error) == [("rule-failed", "renewal_allowed_once")]
    assert "renewed 1 time(s)" in str(error)


def test_a_second_renewal_filed_meanwhile_is_stopped_at_the_examination(
    seeded: Services, granted: str
) -> None:
    first = w.submit_tn(seeded, **renewal()).reference
    second = w.submit_tn(seeded, **renewal()).reference  # filed before the first is decided
    w.run(seeded, first, w.TN_PATH)
    w.run(seeded, second, w.tn_path_to("submit_opinion"))

    error = refused(seeded, lambda: w.run(seeded, second, [w.tn_step("submit_opinion")]))
    assert unmet(error) == [("rule-failed", "renewal_allowed_once")]


def test_a_second_renewal_already_endorsed_cannot_be_visaed(seeded: Services, granted: str) -> None:
    first = w.submit_tn(seeded, **renewal()).reference
    second = w.submit_tn(seeded, **renewal()).reference
    w.run(seeded, second, w.tn_path_to("grant_visa"))
    w.run(seeded, first, w.TN_PATH)

    error = refused(seeded, lambda: w.run(seeded, second, [w.tn_step("grant_visa")]))
    assert unmet(error) == [("rule-failed", "renewal_allowed_once")]


def test_another_worker_gets_a_first_contract_and_one_renewal(
    seeded: Services, renewed_once: str
) -> None:
    other = "B7654321"
    first = w.submit_tn(seeded, passport_number=other).reference
    assert w.run(seeded, first, w.TN_PATH).state == "visa_granted"  # type: ignore[union-attr]
    again = w.submit_tn(seeded, **renewal(passport_number=other, previous_visa_reference=first))

    assert w.run(seeded, again.reference, w.TN_PATH).state == "visa_granted"  # type: ignore[union-attr]


def test_the_four_visas_of_one_worker(seeded: Services, renewed_once: str) -> None:
    """The tester's case: an initial and a renewal granted, then a second 'initial' by the
    same enterprise, a renewal by another enterprise and one quoting no real visa."""
    again = refused(seeded, lambda: w.submit_tn(seeded, passport_number=PASSPORT))
    assert unmet(again) == [("rule-failed", "renewal_allowed_once")]
    assert "a further contract is a renewal" in str(again)

    elsewhere = refused(seeded, lambda: w.submit_tn(seeded, "other_enterprise", **renewal()))
    assert "renewed 1 time(s)" in str(elsewhere)
    elsewhere_initial = refused(
        seeded, lambda: w.submit_tn(seeded, "other_enterprise", passport_number=PASSPORT)
    )
    assert unmet(elsewhere_initial) == [("rule-failed", "renewal_allowed_once")]


@pytest.mark.parametrize("previous", ["V-2025-0001", None])
def test_a_renewal_must_quote_a_visa_granted_to_that_worker(
    seeded: Services, granted: str, previous: str | None
) -> None:
    # V-2025-0001 does not exist; a visa of another worker is no proof either
    other = w.submit_tn(seeded, passport_number="B7654321").reference
    w.run(seeded, other, w.TN_PATH)
    quoted = previous or other

    error = refused(
        seeded,
        lambda: w.submit_tn(seeded, **renewal(passport_number="C1112223",
                                              previous_visa_reference=quoted)),
    )  # fmt: skip
    assert unmet(error) == [("rule-failed", "renewal_allowed_once")]
    assert "is not the reference of a contract granted to this worker" in str(error)


def test_an_approved_project_may_renew_again_and_is_flagged(
    seeded: Services, renewed_once: str
) -> None:
    filed = w.submit_tn(seeded, **renewal(**EXEMPT))

    assert filed.flags == ("renewal under the approved-project exemption",)
    assert w.run(seeded, filed.reference, w.TN_PATH).state == "visa_granted"  # type: ignore[union-attr]


def test_no_fee_may_be_charged_to_a_worker_in_tunisia(seeded: Services) -> None:
    error = refused(seeded, lambda: w.submit_tn(seeded, worker_fee=w.money("10", "TND")))
    assert unmet(error) == [("rule-failed", "no_fee_to_worker")]


def test_a_tunisian_contract_lasts_twelve_months_unless_for_an_approved_project(
    seeded: Services,
) -> None:
    long = {"contract_months": 18, "contract_end": "2028-06-30"}
    error = refused(seeded, lambda: w.submit_tn(seeded, **long))
    assert unmet(error) == [
        ("condition-failed", "contract_months <= 12 or approved_project_exemption"),
        (
            "condition-failed",
            "years_between(contract_start, contract_end) < 1 or approved_project_exemption",
        ),
    ]

    assert w.submit_tn(seeded, **EXEMPT, **long).state == "filing_check"


# -- Tunisia: dates, attestation age ------------------------------------------------------
DATES_AGREE = (
    "contract_months - 1 <= months_between(contract_start, contract_end) <= contract_months"
)
ONE_YEAR = "years_between(contract_start, contract_end) < 1 or approved_project_exemption"


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        # the tester's case: 12 months declared, three years by the dates
        ({"contract_start": "2027-01-04", "contract_end": "2029-12-31"}, [DATES_AGREE, ONE_YEAR]),
        ({"contract_start": "2027-01-01", "contract_end": "2027-06-30"}, [DATES_AGREE]),
        # an attestation of 2019 and a contract that ended in 2020
        (
            {"aneti_attestation_date": "2019-05-02"},
            ["months_between(aneti_attestation_date, today) < 6"],
        ),
        (
            {"contract_start": "2020-01-01", "contract_end": "2020-12-31"},
            ["contract_start >= today"],
        ),
    ],
)
def test_tunisian_dates_must_hold_together(
    seeded: Services, changes: dict[str, Any], failed: list[str]
) -> None:
    error = refused(seeded, lambda: w.submit_tn(seeded, **changes))

    assert unmet(error) == [("condition-failed", expr) for expr in failed]


def test_an_exempt_long_contract_still_has_dates_that_match_its_months(seeded: Services) -> None:
    long = {
        **EXEMPT,
        "contract_months": 36,
        "contract_start": "2027-01-01",
        "contract_end": "2029-12-31",
    }
    assert w.submit_tn(seeded, **long).state == "filing_check"

    error = refused(seeded, lambda: w.submit_tn(seeded, **{**long, "contract_months": 12}))
    assert [u[1] for u in unmet(error)] == [DATES_AGREE]


# -- Egypt: the licence at every stage, the channel, the fee, the register -----------------
def test_the_director_closes_a_suspended_agency_s_file_waiting_for_correction(
    seeded: Services,
) -> None:
    ref = w.submit_eg(seeded).reference
    seeded.commands.act(
        ref,
        "return_for_correction",
        email("registry_clerk"),
        Command(comment="Letter?", reason="incomplete_documents"),
    )
    seeded.directory.set_licence(w.AGENCY, "cancelled")

    done = seeded.commands.act(
        ref,
        "reject",
        email("director"),
        Command(comment="Licence cancelled", reason="agency_licence_invalid"),
    )
    assert done.state == "rejected"


def test_the_director_closes_a_suspended_agency_s_file_at_attestation(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    done = seeded.commands.act(
        ref,
        "reject",
        email("director"),
        Command(comment="Licence suspended", reason="agency_licence_invalid"),
    )
    assert done.state == "rejected"


def test_a_contract_swapped_after_the_work_permit_blocks_the_orientation(
    seeded: Services,
) -> None:
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("record_pdo_attendance"))
    seeded.commands.attach(
        ref,
        email("agent"),
        Command(documents=[w.doc("employment_contract", w.pdf("a lower wage"))]),
    )

    error = refused(seeded, lambda: w.run(seeded, ref, [w.eg_step("record_pdo_attendance")]))
    assert unmet(error) == [("rule-failed", "document_unchanged_since")]


def test_an_advertisement_replaced_after_approval_blocks_the_selection(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("record_selection"))
    seeded.commands.attach(
        ref, email("agent"), Command(documents=[w.doc("job_advertisement", w.pdf("other terms"))])
    )

    error = refused(seeded, lambda: w.run(seeded, ref, [w.eg_step("record_selection")]))
    assert unmet(error) == [("rule-failed", "document_unchanged_since")]
    assert "job_advertisement" in str(error)


def test_no_fee_when_no_licensed_agency_places_the_workers(seeded: Services) -> None:
    seeded.directory.add_org(OrgInput("Red Sea Construction", "employer", "SA", id="red-sea"))
    seeded.directory.add_user("hr@redsea.example", "HR", "red-sea", ["employer_agent"])
    fee = w.eg_data(placement_channel="employer_direct", worker_fee=w.money("10", "USD"))

    error = refused(
        seeded,
        lambda: seeded.commands.submit(
            w.EG, "hr@redsea.example", Command(data=fee, documents=w.docs(*w.EG_SUBMIT_DOCS))
        ),
    )

    assert unmet(error) == [("rule-failed", "worker_fee_within_cap")]
    assert "only a licensed agency may take a fee" in str(error)


def test_an_agency_filing_under_another_channel_may_take_no_fee(seeded: Services) -> None:
    error = refused(
        seeded,
        lambda: w.submit_eg(
            seeded, placement_channel="public_office", worker_fee=w.money("10", "USD")
        ),
    )
    assert unmet(error) == [("rule-failed", "worker_fee_within_cap")]


def test_the_licensed_agency_channel_needs_a_licensed_agency_filing(seeded: Services) -> None:
    seeded.directory.add_org(OrgInput("Red Sea Construction", "employer", "SA", id="red-sea"))
    seeded.directory.add_user("hr@redsea.example", "HR", "red-sea", ["employer_agent"])

    error = refused(
        seeded,
        lambda: seeded.commands.submit(
            w.EG,
            "hr@redsea.example",
            Command(
                data=w.eg_data(
                    placement_channel="licensed_agency", worker_fee=w.money("100", "USD")
                ),
                documents=w.docs(*w.EG_SUBMIT_DOCS),
            ),
        ),
    )

    assert ("rule-failed", "agency_licence_valid") in unmet(error)


@pytest.mark.parametrize("opened", [None, "2025-09-01", "2026-02-01"])
def test_the_old_law_is_only_for_files_opened_before_the_new_one(
    seeded: Services, opened: str | None
) -> None:
    old_law: dict[str, Any] = {"legal_regime": "law_12_2003", "worker_fee": w.money("300", "USD")}
    if opened:
        old_law["file_opened_date"] = opened

    error = refused(seeded, lambda: w.submit_eg(seeded, **old_law))

    regime = 'legal_regime == "law_14_2025" or file_opened_date < date("2025-09-01")'
    assert ("condition-failed", regime) in unmet(error)


def test_a_short_contract_caps_the_fee_on_its_months(seeded: Services) -> None:
    # 6 months at 1,500 USD: 1 % of 9,000 USD = 90 USD
    error = refused(
        seeded, lambda: w.submit_eg(seeded, contract_months=6, worker_fee=w.money("90.01", "USD"))
    )
    assert "(90.00 USD)" in str(error)
    assert w.submit_eg(seeded, contract_months=6, worker_fee=w.money("90", "USD")).flags


def test_a_register_number_is_used_once(seeded: Services) -> None:
    first, second = (w.submit_eg(seeded).reference for _ in range(2))
    for ref in (first, second):
        w.run(seeded, ref, w.eg_path_to("register_demand"))
    number = Command(data={"demand_register_number": "DR-2026-0042"})
    seeded.commands.act(first, "register_demand", email("registry_clerk"), number)

    error = refused(
        seeded,
        lambda: seeded.commands.act(second, "register_demand", email("registry_clerk"), number),
    )

    assert unmet(error) == [("rule-failed", "unique_value")]
    assert first in str(error)


SHIPPED_UNIQUE = "          params: {field: demand_register_number}\n"


def eg_scoped(folder: Path, among: str) -> Path:
    """The shipped Egyptian SOP as version 2, its register number unique ``among``."""
    text = (shipped_sop_dir() / f"{w.EG}.v1.yaml").read_text(encoding="utf-8")
    assert text.count("\nversion: 1\n") == 1 and text.count(SHIPPED_UNIQUE) == 1
    text = text.replace("\nversion: 1\n", "\nversion: 2\n").replace(
        SHIPPED_UNIQUE, f"          params: {{field: demand_register_number, among: {among}}}\n"
    )
    path = folder / f"{w.EG}.v2.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("among", "closed_counts"), [(None, True), ("all", True),
                                                      ("open", False)])  # fmt: skip
def test_a_register_number_held_by_a_closed_request_counts_unless_only_open_ones_do(
    seeded: Services, clock: Any, tmp_path: Path, among: str | None, closed_counts: bool
) -> None:
    if among is not None:
        seeded.sops.publish(eg_scoped(tmp_path, among), clock())
    first, second, third = (w.submit_eg(seeded).reference for _ in range(3))
    for ref in (first, second, third):
        w.run(seeded, ref, w.eg_path_to("register_demand"))
    number = Command(data={"demand_register_number": "DR-2026-0042"})

    def register(ref: str) -> Any:
        return seeded.commands.act(ref, "register_demand", email("registry_clerk"), number)

    register(first)

    # an open request holds the number: refused whatever the scope, naming it and its stage
    error = refused(seeded, lambda: register(second))
    assert unmet(error) == [("rule-failed", "unique_value")]
    said = error.details["unmet"][0]["params"]
    assert (said["reference"], said["state"]) == (first, "demand_under_review")

    seeded.commands.act(
        first,
        "reject",
        email("employment_officer"),
        Command(comment="Misrepresented terms", reason="misrepresentation"),
    )
    if closed_counts:  # a refused demand still holds its number
        error = refused(seeded, lambda: register(second))
        assert error.details["unmet"][0]["params"]["state"] == "rejected"
        return
    assert register(second).state == "demand_under_review"
    # the second now holds it, open: the third is refused, naming the second
    error = refused(seeded, lambda: register(third))
    assert error.details["unmet"][0]["params"]["reference"] == second
    assert {seeded.queries.show(r, None)["sop_version"] for r in (first, second)} == {2}


def test_the_approved_project_exemption_needs_the_approval(seeded: Services) -> None:
    error = refused(seeded, lambda: w.submit_tn(seeded, approved_project_exemption=True))

    assert unmet(error) == [
        (
            "condition-failed",
            "not approved_project_exemption or present(project_approval_reference)",
        )
    ]
