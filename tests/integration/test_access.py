"""Who may see and move which request: organisations, roles, the SOP's authority.

A request the user may not see is reported exactly as a request that does not exist.
"""

from __future__ import annotations

from datetime import date

import pytest

from sopflow.errors import CommandRejected, InvalidData, NotFound, RoleForbidden
from sopflow.services import Command, ListFilter, OrgInput, Services
from tests.integration import world as w
from tests.integration.world import email


def _not_found_message(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound) as caught:
        call()
    return str(caught.value)


def test_another_agency_is_told_the_request_does_not_exist(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    stranger = email("other_agent")
    before = w.footprint(seeded)

    attempts = {
        "show": lambda: seeded.queries.show(ref, stranger),
        "act": lambda: seeded.commands.act(ref, "withdraw", stranger, Command()),
        "attach": lambda: seeded.commands.attach(
            ref, stranger, Command(documents=w.docs("demand_letter"))
        ),
        "history": lambda: seeded.audit.history(ref, stranger),
        "replay": lambda: seeded.audit.replay(ref, stranger),
    }
    for name, call in attempts.items():
        assert _not_found_message(call) == f"no request '{ref}'", name

    # exactly what a reference that was never issued gives
    assert (
        _not_found_message(lambda: seeded.queries.show("EG-2026-999999", stranger))
        == "no request 'EG-2026-999999'"
    )
    assert w.footprint(seeded) == before


def test_another_agency_lists_none_of_the_requests(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    stranger = email("other_agent")

    assert seeded.queries.search(stranger, ListFilter()) == []
    assert seeded.queries.search(stranger, ListFilter(text=ref)) == []
    assert seeded.queries.search(stranger, ListFilter(organisation_id=w.AGENCY)) == []
    assert seeded.queries.inbox(stranger) == []


def test_the_requester_lists_its_own_requests_and_sees_them_in_its_inbox(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    other = w.submit_eg(seeded, who="other_agent").reference
    agent = email("agent")

    assert [r["reference"] for r in seeded.queries.search(agent, ListFilter())] == [ref]
    assert seeded.queries.inbox(agent)[0]["reference"] == ref  # it may withdraw
    assert seeded.queries.inbox(agent)[0]["allowed_triggers"] == ["withdraw"]
    # the ministry sees both agencies' demands
    listed = {r["reference"] for r in seeded.queries.search(email("director"), ListFilter())}
    assert listed == {ref, other}


def test_officials_find_in_their_inbox_what_their_role_may_do_now(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference

    clerk = seeded.queries.inbox(email("registry_clerk"))
    assert [(i["reference"], i["allowed_triggers"]) for i in clerk] == [
        (ref, ["attest_demand", "return_for_correction"])
    ]
    attache = seeded.queries.inbox(email("labour_attache"))
    assert attache[0]["allowed_triggers"] == ["attest_demand", "reject", "return_for_correction"]
    # not their stage yet
    assert seeded.queries.inbox(email("employment_officer")) == []
    assert seeded.queries.inbox(email("examiner")) == []


def test_an_official_acts_only_on_requests_of_the_sops_its_authority_issued(
    seeded: Services,
) -> None:
    tn_ref = w.submit_tn(seeded).reference
    eg_ref = w.submit_eg(seeded).reference
    before = w.footprint(seeded)

    # an Egyptian official given the Tunisian 'examiner' role is still not of the DGPEMOE
    foreign = email("foreign_examiner")
    with pytest.raises(NotFound):
        seeded.commands.act(tn_ref, "accept_filing", foreign, Command())
    with pytest.raises(NotFound):
        seeded.queries.show(tn_ref, foreign)
    assert seeded.queries.inbox(foreign) == []
    assert seeded.queries.search(foreign, ListFilter(sop_id=w.TN)) == []
    # and a Tunisian official has nothing to do with an Egyptian demand
    with pytest.raises(NotFound):
        seeded.commands.act(eg_ref, "attest_demand", email("examiner"), Command())
    assert w.footprint(seeded) == before

    moved = seeded.commands.act(tn_ref, "accept_filing", email("examiner"), Command())
    assert moved.state == "examination"


def test_an_official_without_the_step_role_is_forbidden(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    before = w.footprint(seeded)

    with pytest.raises(RoleForbidden) as caught:
        seeded.commands.act(
            ref,
            "attest_demand",
            email("employment_officer"),
            Command(documents=w.docs("attestation")),
        )
    assert caught.value.details["roles"] == ["labour_attache", "registry_clerk"]
    assert w.footprint(seeded) == before


def test_an_auditor_reads_everything_and_changes_nothing(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    auditor = email("eg_auditor")
    before = w.footprint(seeded)

    view = seeded.queries.show(ref, auditor)
    assert view["state"] == "attestation_review"
    assert view["allowed_triggers"] == []
    assert [e["trigger"] for e in seeded.audit.history(ref, auditor)["events"]] == [
        "create",
        "submit",
    ]
    with pytest.raises(RoleForbidden):
        seeded.commands.act(ref, "withdraw", auditor, Command())
    with pytest.raises(RoleForbidden):
        seeded.commands.act(ref, "attest_demand", auditor, Command(documents=w.docs("attestation")))
    with pytest.raises(RoleForbidden):
        seeded.commands.attach(ref, auditor, Command(documents=w.docs("attestation")))
    with pytest.raises(RoleForbidden):
        seeded.commands.submit(w.EG, auditor, Command(data=w.eg_data()))
    assert seeded.queries.inbox(auditor) == []
    assert w.footprint(seeded) == before


def test_a_request_is_listed_to_exactly_those_who_may_read_it(seeded: Services) -> None:
    # docs/sop-language.md: an auditor role reads every request of the SOP "from any
    # organisation"; whatever the policy, 'show' and 'list' must agree on it
    ref = w.submit_eg(seeded).reference
    # (the directory refuses an auditor outside the authority; access control must hold anyway)
    w.add_user_directly(seeded, "compliance@delta.example", "Compliance", w.OTHER_AGENCY,
                        ["auditor"])  # fmt: skip
    readers = {}
    for user in (
        "compliance@delta.example",
        email("eg_auditor"),
        email("agent"),
        email("other_agent"),
        email("director"),
        email("examiner"),
    ):
        try:
            seeded.queries.show(ref, user)
            readable = True
        except NotFound:
            readable = False
        listed = ref in {r["reference"] for r in seeded.queries.search(user, ListFilter())}
        readers[user] = (readable, listed)

    assert {user: listed for user, (_, listed) in readers.items()} == {
        user: readable for user, (readable, _) in readers.items()
    }
    assert readers[email("agent")] == readers[email("eg_auditor")] == (True, True)
    assert readers[email("other_agent")] == readers[email("examiner")] == (False, False)


def test_an_unknown_or_misspelt_user_is_not_found(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    before = w.footprint(seeded)

    for call in (
        lambda: seeded.commands.act(ref, "withdraw", "nobody@nile.example", Command()),
        lambda: seeded.commands.submit(w.EG, "nobody@nile.example", Command(data=w.eg_data())),
        lambda: seeded.queries.show(ref, "nobody@nile.example"),
        lambda: seeded.queries.inbox("nobody@nile.example"),
    ):
        assert _not_found_message(call) == "no user 'nobody@nile.example'"
    assert w.footprint(seeded) == before


def test_user_e_mails_are_matched_whatever_their_case(seeded: Services) -> None:
    ref = w.submit_eg(seeded, who="agent").reference
    view = seeded.queries.show(ref, "  AGENT@Nile.Example ")
    assert view["created_by"] == email("agent")


def test_notices_go_out_in_each_recipient_s_locale(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference

    notices = seeded.audit.history(ref, email("eg_auditor"))["events"][1]["notices"]
    by_recipient = {n["recipient"]: (n["recipient_kind"], n["locale"]) for n in notices}
    assert by_recipient == {
        email("agent"): ("requester", "ar"),  # the agent chose Arabic
        "demands@redsea.example": ("field:contact_email", "ar"),  # the SOP's default locale
        email("labour_attache"): ("role:labour_attache", "en"),
        email("registry_clerk"): ("role:registry_clerk", "ar"),
    }


class TestDirectory:
    def test_an_agency_needs_a_licence(self, services: Services) -> None:
        with pytest.raises(InvalidData) as caught:
            services.directory.add_org(OrgInput("No Licence Ltd", "agency", "EG"))
        assert {e.field for e in caught.value.errors} == {"licence"}

    def test_every_mistake_in_an_organisation_is_listed(self, services: Services) -> None:
        with pytest.raises(InvalidData) as caught:
            services.directory.add_org(OrgInput("Bad", "ministry", "EGY", "L-1", None, "frozen"))
        assert {e.field for e in caught.value.errors} == {
            "kind",
            "country",
            "licence_expires",
            "licence_status",
        }

    def test_an_organisation_id_is_unique(self, seeded: Services) -> None:
        with pytest.raises(CommandRejected) as caught:
            seeded.directory.add_org(
                OrgInput("Nile again", "agency", "EG", "L-2", date(2028, 1, 1), id=w.AGENCY)
            )
        assert caught.value.code == "already-exists"

    def test_a_user_needs_roles_some_sop_declares_and_a_known_locale(
        self, seeded: Services
    ) -> None:
        with pytest.raises(InvalidData) as caught:
            seeded.directory.add_user("x@nile.example", "X", w.AGENCY, ["emperor"], locale="de")
        assert {(e.field, e.code) for e in caught.value.errors} == {
            ("role", "unknown-role"),
            ("locale", "not-in-enum"),
        }

    def test_a_user_belongs_to_an_existing_organisation_and_is_added_once(
        self, seeded: Services
    ) -> None:
        with pytest.raises(NotFound):
            seeded.directory.add_user("x@nowhere.example", "X", "nowhere", ["employer_agent"])
        with pytest.raises(CommandRejected) as caught:
            seeded.directory.add_user(email("agent"), "Again", w.AGENCY, ["employer_agent"])
        assert caught.value.code == "already-exists"


def test_an_inbox_leaves_out_a_step_separation_of_duties_bars_to_that_person(
    seeded: Services,
) -> None:
    """One person holding two roles registers a demand; the approval that must come from
    someone else is not offered to them, in the inbox as in the request's own view."""
    head = "head@mom.example"
    seeded.directory.add_user(head, "Head", w.EG_AUTHORITY,
                              ["registry_clerk", "employment_officer"], "en")  # fmt: skip
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("register_demand"))
    seeded.commands.act(ref, "register_demand", head, w.eg_step("register_demand").command())

    view = seeded.queries.show(ref, head)
    assert view["allowed_triggers"] == ["reject", "return_for_correction"]
    inbox = seeded.queries.inbox(head)
    assert [(i["reference"], i["allowed_triggers"]) for i in inbox] == [
        (ref, view["allowed_triggers"])
    ]
    listed = seeded.queries.search(head, ListFilter())
    assert [r["your_triggers"] for r in listed] == [view["allowed_triggers"]]
    # another officer may still approve it
    officer = seeded.queries.inbox(email("employment_officer"))
    assert officer[0]["allowed_triggers"] == ["approve_demand", "reject", "return_for_correction"]
