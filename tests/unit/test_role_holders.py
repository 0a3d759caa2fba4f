"""Which organisations a role can be given to: those whose members it would reach."""

from __future__ import annotations

from sopflow.domain.access import role_holder_problem
from tests.factories import EG, TN, compiled

SOPS = [compiled(EG).spec, compiled(TN).spec]


def test_an_officials_role_belongs_to_the_authority_that_issued_its_sop() -> None:
    assert role_holder_problem("labour_attache", "eg-mom", SOPS) is None
    assert role_holder_problem("labour_attache", "nile-recruitment", SOPS) == (
        "'labour_attache' is a role of the authority eg-mom (eg-mom-international-placement): "
        "a member of 'nile-recruitment' would hold it on no request"
    )


def test_an_auditor_role_declared_by_two_authorities_belongs_to_either() -> None:
    assert role_holder_problem("auditor", "eg-mom", SOPS) is None
    assert role_holder_problem("auditor", "tn-dgpemoe", SOPS) is None
    refused = role_holder_problem("auditor", "carthage-tech", SOPS)
    assert refused is not None and "authority eg-mom or tn-dgpemoe" in refused


def test_a_requesters_own_organisation_role_goes_to_any_organisation() -> None:
    assert role_holder_problem("employer_agent", "nile-recruitment", SOPS) is None
    assert role_holder_problem("enterprise", "carthage-tech", SOPS) is None


def test_the_systems_role_is_no_ones() -> None:
    refused = role_holder_problem("system", "eg-mom", SOPS)
    assert refused == "'system' is the role of the system's own steps (timers), not of a person"
