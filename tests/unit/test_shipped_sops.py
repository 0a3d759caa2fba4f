"""The shipped SOPs can be walked end to end: every transition fires, every final is reached.

For each transition (and each of its source states) the walker takes the shortest path
from the initial state to the source, fires the transition, then follows the shortest path
to a final state. Every step brings valid data for the fields it sets, the documents it
needs, a comment, the first allowed reason, a licensed agency and an actor with a fresh
id holding the first role allowed (so separation of duties is always satisfied).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from sopflow.errors import RequirementNotMet
from sopflow.sop_files import shipped_sop_dir
from sopflow.spec.loader import content_hash
from states import Actor, CompiledSop, Outcome, Payload, attach, create, fire, replay
from tests.factories import (
    EG,
    MONDAY,
    SHIPPED,
    Edge,
    actor,
    agency,
    compiled,
    document_ref,
    documents_for,
    edges,
    official_fields,
    provider_uploads,
    sample_data,
    satisfying_overrides,
    shortest_path,
    step_payload,
)

SOPS = {path: compiled(path) for path in SHIPPED}


class Walk:
    """One request taken step by step through an SOP, keeping every event."""

    def __init__(self, sop: CompiledSop) -> None:
        self.sop = sop
        self.overrides = satisfying_overrides(sop)
        self.now = MONDAY
        filler = actor(*sop.spec.submission.roles)
        fields = sorted(set(sop.fields) - official_fields(sop))
        data = sample_data(sop, fields, self.overrides)
        outcome = create(sop, filler, Payload(data=data), self.now)
        self.state = outcome.state
        self.events = [outcome.event]

    def step(self, edge: Edge) -> Outcome:
        source, trigger, target = edge
        assert self.state.state == source
        tr = self.sop.by_state[source][trigger]
        self.now += timedelta(hours=1)
        # the documents the step's role may not provide come first from their providers
        for provider, files in provider_uploads(self.sop, source, tr,
                                                self.state.latest_documents()):  # fmt: skip
            added = attach(self.sop, self.state, provider, files, self.now)
            self.state = added.state
            self.events.append(added.event)
        outcome = fire(
            self.sop,
            self.state,
            trigger,
            actor(tr.roles[0]),
            step_payload(self.sop, tr, self.overrides),
            self.now,
            organisation=agency(),
            facts={"prior_renewals": 0},
        )
        assert outcome.state.state == target
        self.state = outcome.state
        self.events.append(outcome.event)
        return outcome

    def follow(self, path: list[Edge]) -> None:
        for edge in path:
            self.step(edge)

    def finish(self) -> None:
        self.follow(shortest_path(self.sop, self.state.state, self.sop.is_final))
        assert self.sop.is_final(self.state.state)
        replayed = replay(self.events, self.sop)
        assert replayed.consistent, replayed.anomalies
        assert replayed.state == self.state


def transition_cases() -> list[pytest.param]:  # type: ignore[valid-type]
    cases = []
    for path, sop in SOPS.items():
        short = path.name.split("-")[0]
        for edge in edges(sop):
            source, trigger, target = edge
            cases.append(pytest.param(path, edge, id=f"{short}:{trigger}:{source}->{target}"))
    return cases


@pytest.mark.parametrize(("path", "edge"), transition_cases())
def test_every_transition_fires_on_a_walk_to_a_final_state(path: Path, edge: Edge):
    sop = SOPS[path]
    walk = Walk(sop)
    walk.follow(shortest_path(sop, sop.initial, lambda s: s == edge[0]))

    outcome = walk.step(edge)

    tr = sop.by_state[edge[0]][edge[1]]
    assert outcome.event.legal_clause == tr.legal_clause
    assert len(outcome.notices) == len(tr.notify)
    walk.finish()


def final_cases() -> list[pytest.param]:  # type: ignore[valid-type]
    return [
        pytest.param(path, state.id, id=f"{path.name.split('-')[0]}:{state.id}")
        for path, sop in SOPS.items()
        for state in sop.spec.states
        if state.final
    ]


@pytest.mark.parametrize(("path", "final"), final_cases())
def test_every_final_state_is_reached(path: Path, final: str):
    sop = SOPS[path]
    walk = Walk(sop)

    walk.follow(shortest_path(sop, sop.initial, lambda s: s == final))

    assert walk.state.state == final
    assert sop.states[final].final is not None


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name.split("-")[0])
def test_shipped_sops_compile_without_warnings(path: Path):
    assert SOPS[path].warnings == ()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name.split("-")[0])
def test_every_state_is_entered_by_some_transition(path: Path):
    sop = SOPS[path]
    entered = {target for _, _, target in edges(sop)} | {sop.initial}

    assert entered == set(sop.states)


def test_contract_substitution_blocks_the_egyptian_work_permit():
    sop = SOPS[EG]
    walk = Walk(sop)
    walk.follow(shortest_path(sop, sop.initial, lambda s: s == "work_permit_review"))
    kind = next(d for d in sop.spec.documents if d.id == "employment_contract")
    employer = Actor("employer-x", frozenset(sop.requester_roles))
    substitute = Payload(documents=(document_ref(kind, content="substituted"),))
    walk.state = attach(sop, walk.state, employer, substitute, walk.now).state

    with pytest.raises(RequirementNotMet) as caught:
        # the officer brings the permits; the substitute is the newest contract on file
        fire(
            sop,
            walk.state,
            "issue_work_permit",
            actor("work_permit_officer"),
            Payload(
                data={"work_permit_number": "WP-1"},
                documents=documents_for(sop, ["work_permits"]),
            ),
            walk.now,
            organisation=agency(),
        )

    assert [(u.code, u.subject) for u in caught.value.unmet] == [
        ("rule-failed", "document_unchanged_since")
    ]
    assert "contract substitution" in caught.value.message


# ---------------------------------------------------------------- what the domain review asked


def _transition(sop: CompiledSop, source: str, trigger: str):  # type: ignore[no-untyped-def]
    return sop.by_state[source][trigger]


def test_each_refusal_cites_the_text_that_governs_it():
    sop = SOPS[EG]
    # the registry clerk also returns at attestation: not the labour offices' text alone
    assert _transition(sop, "attestation_review", "return_for_correction").legal_clause == (
        "eg-mol-external-employment-sops-2023"
    )
    # refusing to document a contract is not the fee cap, whatever the reason
    assert _transition(sop, "contract_documentation", "reject").legal_clause == (
        "eg-mol-contract-documentation"
    )


def test_every_egyptian_stage_that_advances_checks_the_agency_s_licence():
    sop = SOPS[EG]
    advancing = [tr for tr in sop.spec.transitions
                 if tr.roles != ["system"] and not sop.is_final(tr.to)
                 and tr.trigger not in ("return_for_correction", "escalate")]  # fmt: skip
    advancing += [tr for tr in sop.spec.transitions if tr.to == "placed"]
    missing = {tr.trigger for tr in advancing
               if "agency_licence_valid" not in {r.rule for r in tr.requires.rules}}  # fmt: skip
    assert missing == set()


def test_no_state_waiting_on_the_requester_is_without_a_deadline():
    sop = SOPS[EG]
    drafting = sop.states["advertisement_drafting"]
    assert drafting.sla is not None and drafting.on_breach is not None
    assert drafting.on_breach.trigger == "expire"
    assert _transition(sop, "advertisement_drafting", "expire").to == "expired"


def test_tunisian_duration_is_checked_on_the_dates_wherever_the_months_are():
    sop = SOPS[next(p for p in SOPS if p.name.startswith("tn-"))]
    for tr in sop.spec.transitions:
        exprs = [c.expr for c in tr.requires.conditions]
        if any("contract_months <= 12" in e for e in exprs):
            assert any("months_between(contract_start, contract_end)" in e for e in exprs), tr
            assert any("years_between(contract_start, contract_end) < 1" in e for e in exprs), tr


SOP_DIR = shipped_sop_dir()
LOCK = SOP_DIR / "shipped.lock.json"


def test_a_shipped_version_is_never_changed_in_place() -> None:
    """A database may hold requests pinned to a shipped version (by its content hash): the
    same version number must always mean the same text. A change is a new version."""
    locked = json.loads(LOCK.read_text("utf-8"))["versions"]
    shipped = {p.name: content_hash(p.read_text("utf-8")) for p in SOP_DIR.glob("*.v*.yaml")}

    changed = sorted(name for name in locked if shipped.get(name, locked[name]) != locked[name])
    why = "publish the change as the next version (name.vN+1.yaml), in shipped.lock.json"
    assert not changed, f"{', '.join(changed)} changed in place: {why}"
    gone = sorted(set(locked) - set(shipped))
    assert not gone, f"{', '.join(gone)} removed: a shipped version stays loadable"
    new = sorted(set(shipped) - set(locked))
    assert not new, f"{', '.join(new)}: add its content hash to shipped.lock.json"
