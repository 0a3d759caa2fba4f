"""Who may see a request and with which roles they act on it. Pure.

Employers and agencies (roles of scope ``own_organisation``) act only on their own
organisation's requests. Officials (scope ``all``) act on every request of the SOPs their
authority issued: their organisation must be the SOP's ``authority``. Auditors (kind
``auditor``) likewise belong to the authority (an external inspector is given a user in
it); they read every request of the SOP and change nothing. A request the user may not
see is reported as not found, so that its existence leaks nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sopflow.spec.models import SopSpec
from states.model import Actor

SYSTEM_ACTOR_ID = "system"


@dataclass(frozen=True, slots=True)
class Member:
    """A user as access control sees them."""

    email: str
    organisation_id: str
    organisation_kind: str
    roles: frozenset[str]


def effective_roles(member: Member, sop: SopSpec, request_org: str | None) -> frozenset[str]:
    """The roles of ``member`` that apply to a request of ``sop`` filed by ``request_org``."""
    granted = set()
    for role in sop.roles:
        if role.id not in member.roles or role.kind == "system":
            continue
        if role.scope == "own_organisation":
            if request_org is None or request_org == member.organisation_id:
                granted.add(role.id)
        elif member.organisation_id == sop.authority.id:
            granted.add(role.id)  # officials and auditors: members of the issuing authority
    return frozenset(granted)


def actor_for(member: Member, sop: SopSpec, request_org: str | None) -> Actor:
    return Actor(member.email, effective_roles(member, sop, request_org), member.organisation_id)


def system_actor(sop: SopSpec) -> Actor:
    roles = frozenset(r.id for r in sop.roles if r.kind == "system")
    return Actor(SYSTEM_ACTOR_ID, roles, sop.authority.id)


def can_view(member: Member, sop: SopSpec, request_org: str) -> bool:
    return bool(effective_roles(member, sop, request_org))


def is_reader_only(member: Member, sop: SopSpec, request_org: str) -> bool:
    kinds = {r.kind for r in sop.roles if r.id in effective_roles(member, sop, request_org)}
    return kinds == {"auditor"}


def declared_roles(sops: Iterable[SopSpec]) -> dict[str, set[str]]:
    """role id -> the SOP ids that declare it."""
    table: dict[str, set[str]] = {}
    for sop in sops:
        for role in sop.roles:
            table.setdefault(role.id, set()).add(sop.id)
    return table


def role_holder_problem(role_id: str, organisation_id: str,
                        sops: Iterable[SopSpec]) -> str | None:  # fmt: skip
    """Why a member of ``organisation_id`` could never act with ``role_id`` (None: they
    could): the system's own role, or an official's or auditor's role of SOPs issued by
    other authorities (``effective_roles`` grants those to the issuing authority only)."""
    declared = [(sop, role) for sop in sops for role in sop.roles if role.id == role_id]
    if any(role.kind == "system" for _, role in declared):
        return f"'{role_id}' is the role of the system's own steps (timers), not of a person"
    if any(role.scope == "own_organisation" for _, role in declared):
        return None
    issuers = sorted({sop.authority.id for sop, _ in declared})
    if declared and organisation_id not in issuers:
        sop_ids = ", ".join(sorted({sop.id for sop, _ in declared}))
        return (
            f"'{role_id}' is a role of the authority {' or '.join(issuers)} ({sop_ids}): "
            f"a member of '{organisation_id}' would hold it on no request"
        )
    return None
