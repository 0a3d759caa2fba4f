"""Random commands by random actors against the bench SOP and both shipped SOPs.

Whatever is tried, the request stays in a declared state, a final state absorbs, the
sequence has no gaps, only CommandRejected subclasses are raised, and replaying the
accepted events gives the live state.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sopflow.errors import CommandRejected, TriggerNotAllowed
from sopflow.services.snapshots import Snapshots
from states import (
    Actor,
    CompiledSop,
    EventRecord,
    Payload,
    RequestState,
    attach,
    create,
    fire,
    replay,
)
from tests.factories import (
    BENCH,
    EG,
    MONDAY,
    TN,
    agency,
    compiled,
    document_ref,
    official_fields,
    sample_data,
    satisfying_overrides,
    step_payload,
)

ACTOR_IDS = ("ana", "bilal", "chen", "dora")
PICK = st.integers(0, 1023)
WHO = st.integers(0, 2**14)
WRONG_ROLES = 0b1000100  # the bits of ``who`` that add further roles (see make_actor)
CHAOS = st.integers(0, 2**20)
ORGANISATIONS = (None, agency(), agency(licence_status="suspended"))
ODD_TRIGGERS = ("create", "attach", "breach", "no_such_step")
SETTINGS = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class SopRequest(RuleBasedStateMachine):
    sop: CompiledSop
    overrides: dict[str, Any]  # values that meet the SOP's rules and conditions

    def __init__(self) -> None:
        super().__init__()
        self.request: RequestState | None = None
        self.events: list[EventRecord] = []
        self.now = MONDAY

    # ---------------------------------------------------------------- commands
    # Choices that depend on the SOP or on the current state are drawn as plain integers
    # and taken modulo the number of options; few, fixed strategies keep the machine fast.

    @initialize(form=st.integers(0, 2**16), actor_id=st.sampled_from(ACTOR_IDS))
    def file_request(self, form: int, actor_id: str) -> None:
        """The requester files the form, complete four times in five, else partly filled."""
        sop = self.sop
        chosen = sorted(set(sop.fields) - official_fields(sop))
        if form % 5 == 0:
            chosen = [name for i, name in enumerate(chosen) if form >> (i % 16) & 1]
        filler = Actor(actor_id, frozenset(sop.spec.submission.roles))
        data = sample_data(sop, chosen, self.overrides)
        outcome = create(sop, filler, Payload(data=data), self.now)
        self.accept(outcome.state, outcome.event)

    @precondition(lambda self: self.request is not None)
    @rule(well_formed=st.integers(0, 9).map(lambda n: n < 7), pick=PICK, who=WHO, chaos=CHAOS)
    def fire_a_trigger(self, well_formed: bool, pick: int, who: int, chaos: int) -> None:
        """Mostly what an honest user interface would send (a trigger allowed here, by a
        holder of a right role, with a complete payload), else anything at all."""
        assert self.request is not None
        sop, state = self.sop, self.request
        here = sorted(sop.by_state[state.state])
        forward = [t for t in here if not sop.is_final(sop.by_state[state.state][t].to)]
        if well_formed:
            options = forward if chaos & 1 and forward else here
            who &= ~WRONG_ROLES  # no extra roles: only the right one
        else:
            options = here if chaos & 2 else [*sorted(sop.triggers), *ODD_TRIGGERS]
        if not options:
            return
        trigger = options[pick % len(options)]
        tr = sop.by_state[state.state].get(trigger)
        payload = Payload()
        if tr is not None and (well_formed or chaos & 4):
            full = step_payload(sop, tr, self.overrides)
            reasons = [full.reason, *tr.reasons, None, "not_a_reason"]
            payload = Payload(
                data=full.data,
                documents=full.documents,
                comment=full.comment if well_formed or chaos & 8 else None,
                reason=full.reason if well_formed else reasons[(chaos >> 4) % len(reasons)],
            )
        organisation = agency() if well_formed else ORGANISATIONS[(chaos >> 8) % 3]
        self.now += timedelta(hours=(chaos >> 10) % 73)
        try:
            outcome = fire(
                sop,
                state,
                trigger,
                self.make_actor(who, tr, well_formed),
                payload,
                self.now,
                organisation=organisation,
                facts={"prior_renewals": (chaos >> 17) % 3},
            )
        except CommandRejected:
            return
        assert outcome.event.trigger == trigger
        assert outcome.event.from_state == state.state
        self.accept(outcome.state, outcome.event)

    @precondition(lambda self: self.request is not None)
    @rule(pick=PICK, who=WHO)
    def attach_a_document(self, pick: int, who: int) -> None:
        assert self.request is not None
        kinds = [d.id for d in self.sop.spec.documents] + ["no_such_kind"]
        content = "v2" if pick & 1 else "v1"
        document = document_ref(kinds[(pick >> 1) % len(kinds)], content=content)
        here = list(self.sop.by_state[self.request.state].values())
        actor = self.make_actor(who, here[0] if here else None, bool(pick & 2))
        try:
            outcome = attach(
                self.sop, self.request, actor, Payload(documents=(document,)), self.now
            )
        except CommandRejected:
            return
        assert outcome.state.state == self.request.state
        self.accept(outcome.state, outcome.event)

    # ---------------------------------------------------------------- helpers

    def accept(self, state: RequestState, event: EventRecord) -> None:
        self.request = state
        self.events.append(event)

    def make_actor(self, who: int, transition: Any, right_role: bool) -> Actor:
        """Bits 0-1 pick the id; with ``right_role`` the actor holds a role of the
        transition; bits 2-9 may add two more roles of the SOP, right or wrong."""
        roles = [r.id for r in self.sop.spec.roles]
        chosen = set()
        if right_role and transition is not None:
            chosen.add(transition.roles[(who >> 10) % len(transition.roles)])
        for shift in (2, 6):
            if who >> shift & 1:
                chosen.add(roles[(who >> (shift + 1)) % len(roles)])
        return Actor(ACTOR_IDS[who % len(ACTOR_IDS)], frozenset(chosen))

    # ---------------------------------------------------------------- invariants

    @invariant()
    def state_is_declared(self) -> None:
        if self.request is not None:
            assert self.request.state in self.sop.states

    @invariant()
    def sequence_has_no_gaps(self) -> None:
        assert [e.seq for e in self.events] == list(range(1, len(self.events) + 1))
        if self.request is not None:
            assert self.request.seq == len(self.events)

    @invariant()
    def final_state_absorbs(self) -> None:
        if self.request is None or not self.sop.is_final(self.request.state):
            return
        everyone = Actor("root", frozenset(r.id for r in self.sop.spec.roles))
        for trigger in sorted(self.sop.triggers):
            try:
                fire(
                    self.sop,
                    self.request,
                    trigger,
                    everyone,
                    Payload(comment="x"),
                    self.now,
                    organisation=agency(),
                    facts={"prior_renewals": 0},
                )
            except TriggerNotAllowed:
                continue
            raise AssertionError(f"'{trigger}' left the final state '{self.request.state}'")
        documents = tuple(document_ref(d) for d in self.sop.spec.documents[:1])
        try:
            attach(self.sop, self.request, everyone, Payload(documents=documents), self.now)
        except TriggerNotAllowed:
            return
        raise AssertionError(f"a document was added to a request in '{self.request.state}'")

    @invariant()
    def snapshot_text_decodes_to_the_same_state(self) -> None:
        """What ``services.snapshots`` relies on: the state it remembers with the text it
        wrote is the state that text decodes to."""
        if self.request is None:
            return
        memo = Snapshots()
        text = memo.text(self.request)
        fresh = Snapshots().state(text)
        assert fresh == self.request
        if memo.state(text) is self.request:  # remembered when written
            for mine, decoded in ((self.request.entered_at, fresh.entered_at),
                                  (self.request.deadline, fresh.deadline)):  # fmt: skip
                assert (mine and mine.tzinfo) is (decoded and decoded.tzinfo)

    def teardown(self) -> None:
        if not self.events:
            return
        result = replay(self.events, self.sop)
        assert result.consistent, result.anomalies
        assert result.state == self.request
        for seq in sorted({1, max(1, len(self.events) // 2)}):
            partial = replay(self.events, self.sop, until_seq=seq)
            assert partial.consistent
            assert partial.state is not None
            assert partial.state.seq == seq


def machine_for(path: Any) -> type[SopRequest]:
    sop = compiled(path)
    name = "Request_" + sop.spec.id.replace("-", "_")
    return type(name, (SopRequest,), {"sop": sop, "overrides": satisfying_overrides(sop)})


BenchRequest = machine_for(BENCH)
EgyptRequest = machine_for(EG)
TunisiaRequest = machine_for(TN)

TestBenchSop = BenchRequest.TestCase
TestEgyptSop = EgyptRequest.TestCase
TestTunisiaSop = TunisiaRequest.TestCase
TestBenchSop.settings = TestEgyptSop.settings = TestTunisiaSop.settings = SETTINGS
