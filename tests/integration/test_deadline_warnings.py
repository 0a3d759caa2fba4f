"""Near deadlines: one warning per stay, to whoever must act, replayed like any event."""

from __future__ import annotations

from datetime import datetime, timedelta

from sopflow.services import Services
from tests.integration import world


def events_of(services: Services, reference: str) -> list[str]:
    history = services.audit.history(reference, world.email("eg_auditor"))
    return [e["trigger"] for e in history["events"]]


def test_a_near_deadline_is_warned_once_then_breached_once(seeded: Services, clock) -> None:
    reference = world.submit_eg(seeded).reference  # attestation_review: 10 working days
    view = seeded.queries.show(reference, world.email("agent"))
    deadline = datetime.fromisoformat(view["deadline"])

    early = seeded.deadlines.sweep()
    clock.now = deadline - timedelta(hours=24)  # inside the 48-hour warning window
    first = seeded.deadlines.sweep()
    second = seeded.deadlines.sweep()
    clock.now = deadline + timedelta(minutes=1)
    breach = seeded.deadlines.sweep()

    assert early.warned == [] and first.warned == [reference] and second.warned == []
    assert breach.breached == [reference]
    assert events_of(seeded, reference).count("deadline_warning") == 1
    notices = [n for n in seeded.notices.listing() if n["template"] == "deadline_approaching"]
    # the officials who may move it on now (not the requester, who may only withdraw): the
    # director too, who may close the file of an agency whose licence was withdrawn
    assert {n["recipient_kind"] for n in notices} == {
        "role:labour_attache", "role:registry_clerk", "role:director"}  # fmt: skip
    replay = seeded.audit.replay(reference, world.email("eg_auditor"))
    assert replay["consistent"], replay["differences"]


def test_a_person_holding_two_of_the_roles_told_gets_one_notice(seeded: Services,
                                                                clock) -> None:  # fmt: skip
    both = "both@mom.example"
    seeded.directory.add_user(both, "Both", world.EG_AUTHORITY,
                              ["labour_attache", "registry_clerk"], "en")  # fmt: skip
    reference = world.submit_eg(seeded).reference  # action required of attaché and clerk
    deadline = datetime.fromisoformat(seeded.queries.show(reference, None)["deadline"])
    clock.now = deadline - timedelta(hours=24)
    assert seeded.deadlines.sweep().warned == [reference]

    mine = [(n["event_seq"], n["template"]) for n in seeded.notices.listing()
            if n["recipient"] == both]  # fmt: skip
    assert sorted(mine) == [(2, "action_required"), (3, "deadline_approaching")]
    # the others who hold one of the roles are still told
    told = {n["recipient"] for n in seeded.notices.listing() if n["event_seq"] == 3}
    assert told == {both, world.email("labour_attache"), world.email("registry_clerk"),
                    world.email("director")}  # fmt: skip
