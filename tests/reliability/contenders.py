"""Clients that fire conflicting commands at the same requests, from threads or processes.

Each client is one person of the test world. It reads a request (its version and what the
person may do now), picks one of those triggers and, a few milliseconds later, fires it
pinned to the version it read (``expected_version``), as a person acting from a page does.
Every command it may pick is valid on the version it read, so a refusal can only mean that
someone else moved the request first: a ``conflict``, never anything else.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sopflow import bootstrap
from sopflow.errors import CommandRejected
from sopflow.services import Command, Services
from sopflow.settings import Settings
from tests.integration import world as w

# trigger -> the command on a request (by reference) that makes it valid whenever the SOP
# allows it for the person (a register number is a request's own: the SOP refuses one that
# another request holds)
COMMANDS: dict[str, Callable[[str], Command]] = {
    "attest_demand": lambda ref: Command(documents=w.docs("attestation")),
    "register_demand": lambda ref: Command(data={"demand_register_number": f"DR-{ref}"}),
    "return_for_correction": lambda ref: Command(comment="Unsigned", reason="incomplete_documents"),
    "resubmit": lambda ref: Command(),
    "withdraw": lambda ref: Command(),
}
# who contends: everyone who may fire one of the commands above on an Egyptian demand (the
# demand goes round: attested, registered, returned, resubmitted; rarely withdrawn)
PEOPLE = ("labour_attache", "registry_clerk", "employment_officer", "director", "agent")


@dataclass(frozen=True)
class Shot:
    """One command fired: on which request, what, by whom, on which version; and how it
    ended: ``won`` (with the event's seq) or the refusal's code."""

    reference: str
    trigger: str
    who: str
    read_version: int
    ended: str
    seq: int | None = None


def contend(
    services: Services, who: str, references: list[str], shots: int, seed: int
) -> list[Shot]:
    rng = random.Random(seed)
    fired: list[Shot] = []
    email = w.email(who)
    for _ in range(shots):
        reference = rng.choice(references)
        view = services.queries.show(reference, email)
        choices = [t for t in view["allowed_triggers"] if t in COMMANDS]
        if "withdraw" in choices and rng.random() > 0.01:  # rarely: it ends the request
            choices.remove("withdraw")
        if not choices:
            time.sleep(0.001)
            continue
        trigger = rng.choice(choices)
        time.sleep(rng.uniform(0, 0.004))  # a person reads the page, then acts
        command = replace(COMMANDS[trigger](reference), expected_version=view["version"])
        try:
            result = services.commands.act(reference, trigger, email, command)
        except CommandRejected as exc:
            fired.append(Shot(reference, trigger, who, view["version"], exc.code))
        else:
            fired.append(Shot(reference, trigger, who, view["version"], "won", result.seq))
    return fired


def contend_in_process(
    database_url: str, data_dir: str, who: str, references: list[str], shots: int, seed: int
) -> list[Shot]:
    """``contend`` in a process of its own (its own services and connections)."""
    services = bootstrap.build(Settings(database_url=database_url, data_dir=Path(data_dir)))
    try:
        return contend(services, who, references, shots, seed)
    finally:
        services.ctx.store.engine.dispose()
