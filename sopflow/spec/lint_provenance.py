"""The linter's checks of who provides which document and what a requester may correct:
``documents[].provided_by`` (unknown roles, roles that never act, a step requiring a kind
that nobody who may provide it can upload by then) and ``states[].editable`` (unknown
fields, the officials' own fields, a list on a state that does not wait on the requester).

Pure. Each check reports through ``add``, the linter's own locating reporter.
"""

from __future__ import annotations

from collections import defaultdict, deque

from sopflow.spec.lint_data import Report, hint
from sopflow.spec.models import SopSpec
from sopflow.spec.yamlsource import Path


def check_provenance(spec: SopSpec, add: Report) -> None:
    providers(spec, add)
    providable_in_time(spec, add)
    editable(spec, add)


def providers(spec: SopSpec, add: Report) -> None:
    kinds = {r.id: r.kind for r in spec.roles}
    for i, doc in enumerate(spec.documents):
        for j, role in enumerate(doc.provided_by or ()):
            here: Path = ("documents", i, "provided_by", j)
            if role not in kinds:
                add(here, "unknown-role", f"unknown role '{role}'", hint(role, kinds))
            elif kinds[role] in ("auditor", "system"):
                add(here, "provider-cannot-act",
                    f"role '{role}' is of kind '{kinds[role]}', which never uploads a document: "
                    f"'{doc.id}' could not be provided by it",
                    "name the roles whose holders upload this kind")  # fmt: skip


def _upstream(spec: SopSpec) -> dict[str, set[str]]:
    """For each state, the states a request may have passed through to reach it (itself
    included), on paths from the initial state."""
    edges: dict[str, set[str]] = defaultdict(set)
    back: dict[str, set[str]] = defaultdict(set)
    for tr in spec.transitions:
        for src in tr.source:
            edges[src].add(tr.to)
            back[tr.to].add(src)
    initial = next((s.id for s in spec.states if s.initial), None)
    reachable = closure({initial} if initial else set(), edges)
    return {s: closure({s}, back) & reachable for s in reachable}


def closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    """The states reachable from ``start`` along ``edges`` (``start`` included)."""
    seen, queue = set(start), deque(start)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def providable_in_time(spec: SopSpec, add: Report) -> None:
    """A step requiring a kind that only some roles provide needs one of them to be able to
    upload it before or with the step: when filing, or in a state the request passed
    through (by a step or by adding documents, both open to the roles of its steps)."""
    acting: dict[str, set[str]] = defaultdict(set)
    for tr in spec.transitions:
        for src in tr.source:
            acting[src].update(tr.roles)
    kinds = {d.id: d for d in spec.documents}
    upstream = _upstream(spec)
    filers = set(spec.submission.roles)
    for i, tr in enumerate(spec.transitions):
        for j, name in enumerate(tr.requires.documents):
            kind = kinds.get(name)
            if kind is None or kind.provided_by is None or filers & set(kind.provided_by):
                continue
            who = set(kind.provided_by)
            for src in tr.source:
                if src in upstream and not any(who & acting[s] for s in upstream[src]):
                    add(("transitions", i, "requires", "documents", j), "unprovidable-document",
                        f"'{tr.trigger}' from '{src}' requires '{name}', which only "
                        f"{', '.join(kind.provided_by)} may provide, and none of them acts "
                        f"on a request in '{src}' or before it",
                        f"add a role of '{tr.trigger}' to the provided_by of '{name}', or let "
                        "a provider act in an earlier state")  # fmt: skip
        for j, name in enumerate(tr.requires.new_documents):
            kind = kinds.get(name)
            if kind is None or kind.provided_by is None or set(kind.provided_by) & set(tr.roles):
                continue
            add(("transitions", i, "requires", "new_documents", j), "unprovidable-document",
                f"'{tr.trigger}' needs a new '{name}' brought with it, which only "
                f"{', '.join(kind.provided_by)} may provide, and none of them does "
                f"'{tr.trigger}'", f"add a role of '{tr.trigger}' to the provided_by of "
                f"'{name}'")  # fmt: skip


def editable(spec: SopSpec, add: Report) -> None:
    fields = {f.id for f in spec.fields}
    officials = spec.officials_fields()
    for i, state in enumerate(spec.states):
        if state.editable is None:
            continue
        if state.waiting_on != "requester":
            add(("states", i, "editable"), "editable-not-waiting",
                f"state '{state.id}' does not wait on the requester: its 'editable' has no "
                "effect", "remove it, or set waiting_on: requester",
                severity="warning")  # fmt: skip
        for j, name in enumerate(state.editable):
            here: Path = ("states", i, "editable", j)
            if name not in fields:
                add(here, "unknown-field", f"unknown field '{name}'", hint(name, fields))
            elif name in officials:
                add(here, "officials-field-editable",
                    f"field '{name}' is set only by officials' steps; the requester may not "
                    f"correct it in '{state.id}'",
                    "remove it from editable; an official's step sets it")  # fmt: skip
