"""Reading requests: one request, lists with filters, a user's inbox. Visibility applies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sopflow.domain.access import Member, actor_for, can_view, effective_roles
from sopflow.errors import NotFound
from sopflow.services.context import Context
from sopflow.services.directory import Directory
from sopflow.store.tables import Organisation, RequestRow
from states import next_steps
from states.machine import CompiledSop
from states.model import RequestState as CoreState

LIST_LIMIT = 500
requests = RequestRow.__table__  # type: ignore[attr-defined]
organisations = Organisation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ListFilter:
    state: str | None = None
    sop_id: str | None = None
    organisation_id: str | None = None
    overdue: bool = False
    text: str | None = None
    limit: int = LIST_LIMIT
    offset: int = 0


class Queries:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _sop(self, row: dict[str, Any]) -> CompiledSop:
        return self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])

    def visible_row(self, reference: str, member: Member) -> tuple[dict[str, Any], CompiledSop]:
        with self.ctx.store.read() as r:
            row = r.request(reference)
        if row is None:
            raise NotFound.request(reference)
        sop = self._sop(row)
        if not can_view(member, sop.spec, row["organisation_id"]):
            raise NotFound.request(reference)
        return row, sop

    def show(self, reference: str, email: str) -> dict[str, Any]:
        member = Directory(self.ctx).member(email)
        row, sop = self.visible_row(reference, member)
        return self.describe(row, sop, member)

    def describe(self, row: dict[str, Any], sop: CompiledSop, member: Member) -> dict[str, Any]:
        state = CoreState.from_json(row["snapshot"])
        actor = actor_for(member, sop.spec, row["organisation_id"])
        by_role = next_steps.triggers_by_role(sop, state.state)
        now = self.ctx.clock()
        return {
            "reference": row["reference"],
            "sop_id": row["sop_id"],
            "sop_version": row["sop_version"],
            "sop_hash": row["sop_hash"],
            "organisation_id": row["organisation_id"],
            "created_by": row["created_by"],
            "state": row["state"],
            "state_label": sop.states[row["state"]].label.model_dump(exclude_none=True),
            "outcome": row["outcome"],
            "version": row["version"],
            "seq": row["seq"],
            "data": dict(state.data),
            "documents": [d.to_json() for d in state.documents],
            "deadline": state.deadline.isoformat() if state.deadline else None,
            "overdue": bool(state.deadline and state.deadline < now and not row["outcome"]),
            "breached": row["breached"],
            "entered_state_at": state.entered_at.isoformat() if state.entered_at else None,
            "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat(),
            "allowed_triggers": [a.trigger for a in next_steps.allowed_triggers(sop, state, actor)],
            "next_steps_by_role": by_role,
            "your_roles": sorted(actor.roles),
        }

    def search(self, email: str, flt: ListFilter) -> list[dict[str, Any]]:
        member = Directory(self.ctx).member(email)
        stmt = sa.select(requests).order_by(requests.c.created_at.desc(), requests.c.id.desc())
        if flt.state:
            stmt = stmt.where(requests.c.state == flt.state)
        if flt.sop_id:
            stmt = stmt.where(requests.c.sop_id == flt.sop_id)
        if flt.organisation_id:
            stmt = stmt.where(requests.c.organisation_id == flt.organisation_id)
        if flt.overdue:
            stmt = stmt.where(requests.c.deadline < self.ctx.clock(), requests.c.outcome.is_(None))
        if flt.text:
            escaped = flt.text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            pattern = f"%{escaped}%"
            stmt = stmt.where(
                sa.or_(
                    requests.c.reference.ilike(pattern, escape="\\"),
                    requests.c.organisation_id.ilike(pattern, escape="\\"),
                    requests.c.organisation_id.in_(  # the employer's or agency's name
                        sa.select(organisations.c.id).where(
                            organisations.c.name.ilike(pattern, escape="\\")
                        )
                    ),
                )
            )
        if member.organisation_kind != "authority":
            # employers and agencies see their own organisation's requests only
            stmt = stmt.where(requests.c.organisation_id == member.organisation_id)
        rows = self._visible(member, stmt)[flt.offset : flt.offset + flt.limit]
        return [{**_summary(r, s), "your_triggers": _your_triggers(member, s, r)} for r, s in rows]

    def _visible(
        self, member: Member, stmt: sa.Select[Any]
    ) -> list[tuple[dict[str, Any], CompiledSop]]:
        rows = self.ctx.store.select(stmt)
        result = []
        for row in rows:
            sop = self._sop(row)
            if can_view(member, sop.spec, row["organisation_id"]):
                result.append((row, sop))
        return result

    def inbox(self, email: str) -> list[dict[str, Any]]:
        """Open requests this user may act on now, oldest deadline first."""
        member = Directory(self.ctx).member(email)
        stmt = sa.select(requests).where(requests.c.outcome.is_(None))
        if member.organisation_kind != "authority":
            stmt = stmt.where(requests.c.organisation_id == member.organisation_id)
        items: list[tuple[datetime, dict[str, Any]]] = []
        now = self.ctx.clock()
        far = datetime.max.replace(tzinfo=now.tzinfo)
        for row, sop in self._visible(member, stmt):
            triggers = _your_triggers(member, sop, row)
            if triggers:
                items.append(
                    (
                        row["deadline"] or far,
                        {
                            **_summary(row, sop),
                            "allowed_triggers": triggers,
                            "overdue": bool(row["deadline"] and row["deadline"] < now),
                        },
                    )
                )
        items.sort(key=lambda pair: (pair[0], pair[1]["reference"]))
        return [item for _, item in items]


def _your_triggers(member: Member, sop: CompiledSop, row: dict[str, Any]) -> list[str]:
    """The triggers the member's roles allow from the request's state (requirements aside)."""
    roles = effective_roles(member, sop.spec, row["organisation_id"])
    by_role = next_steps.triggers_by_role(sop, row["state"])
    return sorted({t for role, ts in by_role.items() if role in roles for t in ts})


def _summary(row: dict[str, Any], sop: CompiledSop) -> dict[str, Any]:
    return {
        "reference": row["reference"], "sop_id": row["sop_id"], "sop_version": row["sop_version"],
        "organisation_id": row["organisation_id"], "state": row["state"],
        "state_label": sop.states[row["state"]].label.en, "outcome": row["outcome"],
        "deadline": row["deadline"].isoformat() if row["deadline"] else None,
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }  # fmt: skip
