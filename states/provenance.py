"""Who may provide which document: a kind's ``provided_by`` roles (an attaché's
attestation, a permit, a minister's visa), or, without it, anyone acting on the request.

Pure. The engine asks it at every upload (filing, a step, adding documents); the pages ask
it which kinds to offer, so that a form never offers a file the core would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sopflow.errors import FieldError
from sopflow.spec.models import DocumentKind, Transition
from states.machine import CompiledSop
from states.model import DocumentRef


def filing_roles(sop: CompiledSop, roles: Iterable[str]) -> frozenset[str]:
    """The roles of ``roles`` with which one files a request under ``sop``."""
    return frozenset(roles) & frozenset(sop.spec.submission.roles)


def step_roles(tr: Transition, roles: Iterable[str]) -> frozenset[str]:
    """The roles of ``roles`` with which one fires ``tr``."""
    return frozenset(roles) & frozenset(tr.roles)


def attach_roles(sop: CompiledSop, state: str, roles: Iterable[str]) -> frozenset[str]:
    """The roles of ``roles`` with which one adds documents in ``state``: those of the
    steps leaving it (none in a final state)."""
    acting = {r for tr in sop.by_state.get(state, {}).values() for r in tr.roles}
    return frozenset(roles) & acting


def may_provide(kind: DocumentKind, roles: Iterable[str]) -> bool:
    """Whether someone acting with ``roles`` may upload a document of ``kind``."""
    return kind.provided_by is None or not set(kind.provided_by).isdisjoint(roles)


def providable(sop: CompiledSop, roles: Iterable[str]) -> list[DocumentKind]:
    """The kinds of ``sop``, in its order, that ``roles`` may provide."""
    held = frozenset(roles)
    return [k for k in sop.spec.documents if may_provide(k, held)]


def errors(sop: CompiledSop, documents: Sequence[DocumentRef],
           roles: frozenset[str]) -> list[FieldError]:  # fmt: skip
    """A ``document-not-providable`` error for every document of a kind none of ``roles``
    may provide, naming the kind, the file and who may provide it (unknown kinds are
    reported elsewhere, as ``unknown-document``)."""
    kinds = {k.id: k for k in sop.spec.documents}
    found: list[FieldError] = []
    for doc in documents:
        kind = kinds.get(doc.kind)
        if kind is None or kind.provided_by is None or may_provide(kind, roles):
            continue
        providers = list(kind.provided_by)
        found.append(
            FieldError(
                f"document:{doc.kind}",
                "document-not-providable",
                f"{doc.file_name}: a document of kind '{doc.kind}' may be provided only by "
                f"{', '.join(providers)}; you act here as {', '.join(sorted(roles)) or 'none'}",
                {"file": doc.file_name, "document": doc.kind, "providers": providers,
                 "roles": sorted(roles)},
            )
        )  # fmt: skip
    return found
