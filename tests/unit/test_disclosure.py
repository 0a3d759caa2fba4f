"""Who took a step, as each reader is shown it: an official by e-mail to the authority's
officials and auditors, by their office to the requester; colleagues and the system as
they are."""

from __future__ import annotations

from sopflow.domain.access import Member
from sopflow.domain.disclosure import (
    ShownActor,
    role_sees_who_acted,
    sees_who_acted,
    shown_actor,
)
from tests.factories import EG, compiled

SOP = compiled(EG).spec
AGENT = Member("agent@nile.example", "nile-agency", "agency", frozenset({"employer_agent"}))
CLERK = Member("clerk@mom.example", "eg-mom", "authority", frozenset({"registry_clerk"}))
AUDITOR = Member("audit@mom.example", "eg-mom", "authority", frozenset({"auditor"}))
ATTACHE = "attache@mom.example"


def test_the_authoritys_officials_and_auditors_and_the_operator_see_who_acted() -> None:
    assert sees_who_acted(CLERK, SOP, "nile-agency")
    assert sees_who_acted(AUDITOR, SOP, "nile-agency")
    assert sees_who_acted(None, SOP, "nile-agency")  # the operator, at the command line
    assert not sees_who_acted(AGENT, SOP, "nile-agency")


def test_an_official_of_another_authority_holding_the_role_does_not() -> None:
    foreign = Member("clerk@dgpemoe.example", "tn-dgpemoe", "authority",
                     frozenset({"registry_clerk"}))  # fmt: skip
    assert not sees_who_acted(foreign, SOP, "nile-agency")


def test_an_official_is_named_to_those_who_see_who_acted() -> None:
    shown = shown_actor(ATTACHE, "labour_attache", SOP, "en", sees=True)
    assert shown == ShownActor(ATTACHE, office=False)
    named = shown_actor(ATTACHE, "labour_attache", SOP, "en", sees=True, identity="Karim Adel")
    assert named.text == "Karim Adel"


def test_to_anyone_else_an_official_is_their_office_in_the_readers_language() -> None:
    english = shown_actor(ATTACHE, "labour_attache", SOP, "en", sees=False, identity="Karim")
    arabic = shown_actor(ATTACHE, "labour_attache", SOP, "ar", sees=False)

    assert english == ShownActor(
        "Labour attaché (labour representation office), Ministry of Labour (formerly Ministry "
        "of Manpower, MoM), Arab Republic of Egypt",
        office=True,
    )
    assert arabic.office and arabic.text.startswith("الملحق العمالي (مكتب التمثيل العمالي)، ")
    assert arabic.text.endswith(SOP.authority.name.get("ar"))
    assert "Karim" not in english.text and ATTACHE not in arabic.text


def test_a_role_the_sop_no_longer_declares_is_shown_as_the_authority() -> None:
    shown = shown_actor(ATTACHE, "retired_role", SOP, "fr", sees=False)
    assert shown == ShownActor(SOP.authority.name.get("fr"), office=True)


def test_colleagues_and_the_system_are_shown_as_they_are() -> None:
    colleague = shown_actor("other@nile.example", "employer_agent", SOP, "ar", sees=False)
    assert colleague == ShownActor("other@nile.example", office=False)
    assert shown_actor("system", "system", SOP, "en", sees=False) == ShownActor("system", False)


def test_a_notice_to_an_officials_role_names_who_acted_one_to_the_requester_does_not() -> None:
    assert role_sees_who_acted("registry_clerk", SOP)
    assert not role_sees_who_acted("employer_agent", SOP)
    assert not role_sees_who_acted("no_such_role", SOP)
