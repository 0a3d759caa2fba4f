"""The SLA sweep's dry run: what a sweep at a given moment would warn, breach and escalate,
recording nothing; the real sweep at that moment then does exactly that."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sopflow.domain.access import system_actor
from sopflow.services import Command, Services
from states import timers
from states.model import RequestState
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.integration.world import email

SAID = ("checked", "breached", "warned", "escalated", "failed")


def deadline(services: Services, reference: str) -> datetime:
    return datetime.fromisoformat(services.queries.show(reference, None)["deadline"])


def returned_eg(services: Services) -> str:
    """An Egyptian demand returned for correction: when its deadline passes, it expires."""
    ref = w.submit_eg(services).reference
    w.run(services, ref, w.eg_path_to("register_demand"))
    back = Command(comment="Complete the file.", reason="incomplete_documents")
    services.commands.act(ref, "return_for_correction", email("registry_clerk"), back)
    return ref


def said(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in SAID}


def test_the_preview_at_a_later_moment_lists_what_is_due_by_then_and_records_nothing(
    seeded: Services, clock: Clock
) -> None:
    near, later = w.submit_eg(seeded).reference, w.submit_tn(seeded).reference
    expiring = returned_eg(seeded)
    at = deadline(seeded, expiring) + timedelta(minutes=1)  # the last of the three deadlines
    assert deadline(seeded, near) < at and deadline(seeded, later) < at
    before = w.footprint(seeded)

    now = seeded.deadlines.preview().to_dict()
    then = seeded.deadlines.preview(at).to_dict()

    assert (now["dry_run"], now["breached"], now["warned"], now["escalated"]) == (True, [], [], [])
    assert then["at"] == at.isoformat()
    assert sorted(then["breached"]) == sorted([near, later, expiring]) and then["checked"] == 3
    assert then["escalated"] == [{"reference": expiring, "trigger": "expire", "state": "expired"}]
    assert then["requests"][expiring]["state"] == "returned_for_correction"
    assert datetime.fromisoformat(then["requests"][near]["deadline"]) == deadline(seeded, near)
    # nothing recorded, nothing to send: every row count (events, outbox...), every request
    assert w.footprint(seeded) == before

    clock.now = at  # a real sweep at that moment does what the preview said
    assert said(seeded.deadlines.sweep().to_dict()) == said(then)
    assert seeded.deadlines.preview(at).to_dict()["breached"] == []  # once each


def test_the_preview_and_the_sweep_share_the_decision_on_each_request(
    seeded: Services, clock: Clock
) -> None:
    ref = returned_eg(seeded)
    at = deadline(seeded, ref) + timedelta(hours=2)
    with seeded.ctx.store.read() as r:
        row = r.request(ref)
    assert row is not None
    sop = seeded.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
    step = timers.sweep_step(sop, RequestState.from_json(row["snapshot"]),
                             system_actor(sop.spec), at)  # fmt: skip
    assert step is not None

    clock.now = at
    seeded.deadlines.sweep()

    recorded = seeded.audit.history(ref, email("eg_auditor"))["events"][-2:]
    assert [(e["trigger"], e["from_state"], e["to_state"], datetime.fromisoformat(e["at"]))
            for e in recorded] == [(o.event.trigger, o.event.from_state, o.event.to_state,
                                    o.event.at) for o in step.outcomes]  # fmt: skip


def test_a_near_deadline_previewed_is_warned_by_the_sweep_at_that_moment(
    seeded: Services, clock: Clock
) -> None:
    ref = w.submit_eg(seeded).reference  # attestation_review: warned 48 hours before
    at = deadline(seeded, ref) - timedelta(hours=24)

    preview = seeded.deadlines.preview(at).to_dict()
    clock.now = at
    swept = seeded.deadlines.sweep().to_dict()

    assert preview["warned"] == swept["warned"] == [ref]
    assert preview["breached"] == swept["breached"] == []


def test_a_moment_without_a_time_zone_is_read_on_each_sops_calendar(
    seeded: Services, clock: Clock
) -> None:
    ref = w.submit_eg(seeded).reference  # its deadline: the end of a day in Cairo
    local = deadline(seeded, ref).astimezone(seeded.ctx.sops.current(w.EG, clock()).calendar.zone)
    evening = datetime.combine(local.date(), datetime.min.time()).replace(hour=23, minute=30)
    next_day = datetime.combine(local.date() + timedelta(days=1), datetime.min.time())

    # 23:30 in Cairo is before the deadline (23:30 UTC would be after it): warned, not breached
    at_evening = seeded.deadlines.preview(evening).to_dict()
    at_midnight = seeded.deadlines.preview(next_day).to_dict()

    assert (at_evening["warned"], at_evening["breached"]) == ([ref], [])
    cairo_evening = local.replace(hour=23, minute=30, second=0, microsecond=0)
    assert at_evening["requests"][ref]["at"] == cairo_evening.isoformat()
    assert (at_midnight["warned"], at_midnight["breached"]) == ([], [ref])
