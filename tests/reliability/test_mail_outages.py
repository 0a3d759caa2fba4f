"""SendGrid outages during a run (a local fake SendGrid): storms of 5xx, 429 with
Retry-After, stalls past the client's timeout, dropped connections, while requests keep
being filed and moved. Every notice ends delivered or dead-lettered, none is accepted twice,
Retry-After is honoured, and once the provider is back every dead letter goes out once."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from notifications.channels import SendGridChannel
from notifications.render import TemplateRenderer
from sopflow.services import Command, Notices, Services
from sopflow.services.notices import MAX_ATTEMPTS
from tests.fakes.sendgrid import FakeSendGrid
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.integration.world import email
from tests.reliability.scale import record, scaled

STORM = {"s503": 0.3, "s500": 0.1, "s429": 0.2, "stall_fail": 0.04, "drop": 0.06}


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        server.stall_seconds = 0.6
        yield server


@pytest.fixture
def mail(seeded: Services, fake: FakeSendGrid) -> Notices:
    notices = Notices(
        seeded.ctx,
        TemplateRenderer(),
        SendGridChannel("SG.test-key", fake.url, timeout=0.3),
        "no-reply@sopflow.test",
        "https://sopflow.test",
    )
    seeded.configure_notices(lambda: notices)
    return notices


def outbox(services: Services) -> list[dict]:
    return services.notices.listing(limit=100_000)


def busy_day(services: Services, clock: Clock, fake: FakeSendGrid, requests: int) -> int:
    """File and move ``requests`` demands, draining the outbox between commands while the
    provider storms; then drain until nothing is pending. The delivery rounds run."""
    rounds = 0
    for n in range(requests):
        ref = w.submit_eg(services, workers_requested=n + 1).reference
        if n % 2:
            services.commands.act(
                ref,
                "return_for_correction",
                email("labour_attache"),
                Command(comment="Unsigned", reason="incomplete_documents"),
            )
        services.notices.deliver()
        clock.advance(minutes=20)
        rounds += 1
    while any(r["status"] == "pending" for r in outbox(services)):
        services.notices.deliver()
        clock.advance(minutes=45)  # beyond the lease and most backoffs, under Retry-After
        rounds += 1
        assert rounds < 200, "the outbox never drained"
    return rounds


def check_storm(services: Services, fake: FakeSendGrid, retry_after: float) -> dict[str, int]:
    rows = outbox(services)
    statuses = Counter(r["status"] for r in rows)
    assert set(statuses) <= {"sent", "dead", "unroutable"}, statuses
    accepted = Counter(fake.message_ids())
    assert max(accepted.values(), default=1) == 1, "a notice was accepted twice"
    sent = {r["message_id"] for r in rows if r["status"] == "sent"}
    dead = {r["message_id"] for r in rows if r["status"] == "dead"}
    assert set(accepted) == sent and not dead & set(accepted)
    # an outage is never taken for a permanent failure: dead only after the last attempt
    assert all(r["attempts"] == MAX_ATTEMPTS for r in rows if r["status"] == "dead")
    for row in rows:  # a 429 is never followed by an attempt sooner than Retry-After
        log = row["attempt_log"] or []
        for before, after in itertools.pairwise(log):
            if before.get("status") == 429:
                gap = datetime.fromisoformat(after["at"]) - datetime.fromisoformat(before["at"])
                assert gap >= timedelta(seconds=retry_after), (row["id"], log)
    answers = Counter(r["answer"] for r in fake.received)
    return {
        "notices": len(rows),
        "sent": len(sent),
        "dead": len(dead),
        "attempts": len(fake.received),
        **{f"answered_{k}": v for k, v in answers.items()},
    }


def recover(services: Services, fake: FakeSendGrid, clock: Clock) -> None:
    """The provider is back: the dead letters are retried by hand and go out once each."""
    fake.storm()
    services.notices.retry(all_dead=True)
    for _ in range(5):
        services.notices.deliver(limit=10_000)
        clock.advance(minutes=5)
    rows = outbox(services)
    deliverable = {r["message_id"] for r in rows if r["status"] != "unroutable"}
    assert {r["status"] for r in rows} <= {"sent", "unroutable"}
    assert Counter(fake.message_ids()) == Counter(deliverable)  # every one, exactly once


def test_a_storm_during_a_busy_run_loses_no_notice_and_sends_none_twice(
    seeded: Services, mail: Notices, fake: FakeSendGrid, clock: Clock
) -> None:
    fake.retry_after = "3600"
    fake.storm(**STORM)
    rounds = busy_day(seeded, clock, fake, requests=6)
    figures = check_storm(seeded, fake, retry_after=3600)
    assert figures["dead"] + figures["sent"] > 0 and figures["answered_202"] > 0
    recover(seeded, fake, clock)
    record("mail-outage", rounds=rounds, **figures)


def test_a_total_outage_dead_letters_everything_then_all_goes_out_once(
    seeded: Services, mail: Notices, fake: FakeSendGrid, clock: Clock
) -> None:
    fake.storm(s503=0.7, s429=0.2, stall_fail=0.05, drop=0.05)
    busy_day(seeded, clock, fake, requests=2)
    figures = check_storm(seeded, fake, retry_after=1)
    assert figures["sent"] == 0 and figures["dead"] > 0
    recover(seeded, fake, clock)


@pytest.mark.soak
def test_soak_long_storms_during_a_long_run(
    seeded: Services, mail: Notices, fake: FakeSendGrid, clock: Clock
) -> None:
    fake.retry_after = "1800"
    fake.storm(**STORM)
    rounds = busy_day(seeded, clock, fake, requests=scaled(60, 4))
    figures = check_storm(seeded, fake, retry_after=1800)
    recover(seeded, fake, clock)
    record("mail-outage-soak", rounds=rounds, **figures)
