"""What a form offers its user: only the document kinds they may provide and the fields
they may write (the core refuses the others), and which of them the step requires."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sopflow.spec.models import DocumentKind, FieldSpec, Transition
from states import corrections, provenance
from states.machine import CompiledSop


@dataclass(frozen=True)
class Offer:
    """One form: its fields, the kinds of document it takes, and what it requires."""

    fields: list[FieldSpec] = field(default_factory=list)
    documents: list[DocumentKind] = field(default_factory=list)
    required_fields: frozenset[str] = frozenset()
    required_documents: frozenset[str] = frozenset()


def filing(sop: CompiledSop, roles: Iterable[str]) -> Offer:
    """The new-request form for a user holding ``roles``: the requester's fields, the kinds
    their filing roles may provide; required, what the submission step needs."""
    first = sop.by_state[sop.initial].get(sop.spec.submission.trigger or "")
    needs = set(first.requires.fields) if first else set()
    return Offer(
        [f for f in sop.spec.fields if f.id in sop.requester_fields],
        provenance.providable(sop, provenance.filing_roles(sop, roles)),
        frozenset(n for n, f in sop.fields.items() if f.required or n in needs),
        frozenset(first.requires.documents) if first else frozenset(),
    )


def step(sop: CompiledSop, state: str, tr: Transition, roles: Iterable[str],
         data: Mapping[str, Any], on_file: Iterable[str]) -> Offer:  # fmt: skip
    """A step's form on a request's page: the fields this user may write with it, the
    documents it requires that they may provide; required, what is still missing."""
    acting = provenance.step_roles(tr, roles)
    requester = bool(acting & sop.requester_roles)
    open_ = corrections.correctable(sop, state) if requester else frozenset()
    writable = open_ | frozenset(tr.sets) if not sop.is_final(tr.to) else frozenset(tr.sets)
    hands_over = sop.states[state].waiting_on == "requester" and not sop.is_final(tr.to)
    needs = set(tr.requires.fields)
    if hands_over:  # handing the file back to the officials needs every required field
        needs |= {n for n, f in sop.fields.items() if f.required}
    present = set(on_file)
    kinds = [k for k in provenance.providable(sop, acting) if k.id in tr.requires.every_document]
    return Offer(
        [sop.fields[n] for n in sop.fields if n in writable],
        kinds,
        frozenset(n for n in needs if data.get(n) in (None, "")),
        # a kind on file is not asked for again, unless the step must bring its own
        frozenset(k.id for k in kinds if k.id not in present or k.id in tr.requires.new_documents),
    )


def attaching(sop: CompiledSop, state: str, roles: Iterable[str]) -> list[DocumentKind]:
    """The kinds this user may add without a step in ``state``."""
    return provenance.providable(sop, provenance.attach_roles(sop, state, roles))
