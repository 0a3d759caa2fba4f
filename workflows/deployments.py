"""The flows as Prefect deployments on a process work pool, for the distributed setup: a
Prefect server (PostgreSQL behind it), N workers (``sopflow worker``) and M web processes
with ``SOPFLOW_PREFECT_MODE=deployments``. Entry points are module paths, so any machine
with sopflow installed runs them: no image to build, no code to pull (docs/deploy.md)."""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import RunnerDeployment, deploy
from prefect.exceptions import ObjectAlreadyExists
from prefect.types.entrypoint import EntrypointType

from workflows.flows import (
    advance_request,
    audit_replay,
    audit_verify,
    deliver_notifications,
    process_commands,
    sla_sweep,
)

POOL = "sopflow"
NAME = "sopflow"


def ensure_pool(pool: str = POOL) -> bool:
    """Create the process work pool if it is missing; True when it was created."""
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except ObjectAlreadyExists:
            return False
    return True


def register(pool: str = POOL, sweep_every: int = 300) -> list[str]:
    """Create or update every deployment; the SLA sweep gets its interval schedule."""
    flows: tuple[Any, ...] = (advance_request, process_commands, sla_sweep,
                              deliver_notifications, audit_verify, audit_replay)  # fmt: skip
    every = {sla_sweep: sweep_every, deliver_notifications: 60}
    deployments: list[RunnerDeployment] = []
    for each in flows:
        made = each.to_deployment(
            name=NAME, entrypoint_type=EntrypointType.MODULE_PATH, work_pool_name=pool,
            interval=every.get(each))  # fmt: skip
        assert isinstance(made, RunnerDeployment)  # a sync call returns the deployment
        deployments.append(made)
    deploy(*deployments, work_pool_name=pool, build=False, push=False,
           print_next_steps_message=False, ignore_warnings=True)  # fmt: skip
    return [f"{d.flow_name}/{d.name}" for d in deployments]
