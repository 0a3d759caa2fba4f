"""Who took a step, as a given reader is shown it. Pure.

A ministry's portal tells the public which office decided, not which civil servant. Who
acted for the authority, by e-mail and name, is for those who hold the civil service to
account: the officials and auditors of the SOP's authority (roles of kind ``official`` or
``auditor`` that apply to them on the request), and the operator, who holds the database.
Anyone else who may see a request, that is its requester (the employer's or agency's
users), sees an official's step as taken by the office: the role's title in the reader's
language and the authority's name ("Labour attaché, Ministry of Labour"), never the
official's e-mail or name. The steps of the requester's own organisation (roles of scope
``own_organisation``: only its members hold them on its requests) and the system's own
(deadline sweeps) are shown as they are, to everyone.

The one decision, used by the history (request page, API, downloads, CLI with ``--as``)
and by the notices a step sends (``sopflow.services.notices``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sopflow.domain.access import SYSTEM_ACTOR_ID, Member, effective_roles
from sopflow.spec.models import Role, SopSpec

ACCOUNTABLE_KINDS = frozenset({"official", "auditor"})  # the role kinds that see who acted
_COMMA = {"ar": "، "}  # between the role's title and the authority's name


@dataclass(frozen=True, slots=True)
class ShownActor:
    """``text``: what the reader is shown in place of the actor; ``office``: True when it
    is the office (role and authority) standing for an official the reader may not name."""

    text: str
    office: bool


def sees_who_acted(member: Member | None, sop: SopSpec, request_org: str) -> bool:
    """Whether ``member`` (None: the operator) may see who acted for the authority on a
    request of ``sop`` filed by ``request_org``: an official or auditor of the authority."""
    if member is None:
        return True
    granted = effective_roles(member, sop, request_org)
    return any(r.kind in ACCOUNTABLE_KINDS for r in sop.roles if r.id in granted)


def role_sees_who_acted(role_id: str, sop: SopSpec) -> bool:
    """Whether the holders of ``role_id`` told of a step (a notice to ``role:<id>``) may see
    who took it: an official's or auditor's role, held by members of the authority."""
    role = _role(sop, role_id)
    return role is not None and role.kind in ACCOUNTABLE_KINDS and role.scope == "all"


def shown_actor(actor_id: str, role_id: str, sop: SopSpec, lang: str, *, sees: bool,
                identity: str | None = None) -> ShownActor:  # fmt: skip
    """How the actor of a step (``actor_id``, acting as ``role_id``) is shown to a reader
    (``sees``: ``sees_who_acted``): as ``identity`` (the caller's way of naming people;
    by default the actor's id, their e-mail) when the reader may see who acted, or the step
    is the request's own organisation's or the system's; otherwise as the office, in
    ``lang`` (a role this SOP version does not declare: the authority alone)."""
    role = _role(sop, role_id)
    own = role is not None and (role.kind == "system" or role.scope == "own_organisation")
    if sees or own or actor_id == SYSTEM_ACTOR_ID:
        return ShownActor(actor_id if identity is None else identity, office=False)
    authority = sop.authority.name.get(lang)
    if role is None:
        return ShownActor(authority, office=True)
    return ShownActor(f"{role.title.get(lang)}{_COMMA.get(lang, ', ')}{authority}", office=True)


def _role(sop: SopSpec, role_id: str) -> Role | None:
    return next((r for r in sop.roles if r.id == role_id), None)
