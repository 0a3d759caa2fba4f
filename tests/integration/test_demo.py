"""The demo ``make serve`` seeds: once, with requests in several states of both SOPs."""

from __future__ import annotations

from sopflow import demo
from sopflow.services import ListFilter, Services


def test_the_demo_is_seeded_once_with_requests_in_several_states(services: Services) -> None:
    made = demo.seed(services)
    again = demo.seed(services)

    rows = services.queries.search("auditor@mom.demo", ListFilter())
    states = {r["state"] for r in rows}
    assert len(made) == 9 and again == []
    assert {"attestation_review", "advertisement_drafting", "returned_for_correction",
            "placed"} <= states  # fmt: skip
    assert services.directory.check_password("agent@nile.demo", demo.PASSWORD)
    assert services.audit.verify().intact


def test_every_demo_request_replays_to_what_is_stored(services: Services) -> None:
    demo.seed(services)

    with services.ctx.store.read() as r:
        references = [row["reference"] for row in r.all("SELECT reference FROM requests")]
    replays = {ref: services.audit.replay(ref, None) for ref in references}

    assert len(replays) == 9
    assert {ref: rep["differences"] for ref, rep in replays.items() if not rep["consistent"]} == {}
