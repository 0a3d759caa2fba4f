"""Reading requests: one request, lists with filters, a user's inbox. Visibility applies.

A reader is a user (``email``) or, where the caller passes ``None``, the operator at the
command line: they hold the database itself, so they see every request (as ``sopflow
stats`` and ``sopflow audit verify`` do) and act on none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sopflow.domain.access import Member, actor_for, can_view
from sopflow.errors import FieldError, InvalidData, NotFound
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

    def reader(self, email: str | None) -> Member | None:
        """The user reading (an unknown one is not found), or None for the operator."""
        return None if email is None else Directory(self.ctx).member(email)

    def visible_row(self, reference: str,
                    member: Member | None) -> tuple[dict[str, Any], CompiledSop]:  # fmt: skip
        with self.ctx.store.read() as r:
            row = r.request(reference)
        return self.visible(reference, row, member)

    def visible(self, reference: str, row: dict[str, Any] | None,
                member: Member | None) -> tuple[dict[str, Any], CompiledSop]:  # fmt: skip
        """``row`` (the request ``reference``, as read) and its SOP, if ``member`` may see
        it; not found otherwise, as if it did not exist."""
        if row is None:
            raise NotFound.request(reference)
        sop = self._sop(row)
        if member is not None and not can_view(member, sop.spec, row["organisation_id"]):
            raise NotFound.request(reference)
        return row, sop

    def show(self, reference: str, email: str | None) -> dict[str, Any]:
        """One request as ``email`` sees it, or (None) as the operator does."""
        member = self.reader(email)
        row, sop = self.visible_row(reference, member)
        return self.describe(row, sop, member)

    def describe(self, row: dict[str, Any], sop: CompiledSop,
                 member: Member | None) -> dict[str, Any]:  # fmt: skip
        """``allowed_triggers``: what the member may try now; for the operator, what anyone
        may (every trigger leaving the state), with ``next_steps_by_role`` saying who."""
        state = CoreState.from_json(row["snapshot"])
        by_role = next_steps.triggers_by_role(sop, state.state)
        if member is not None:  # the system's timer steps are the operator's to see only
            by_role = {role: triggers for role, triggers in by_role.items()
                       if sop.roles[role].kind != "system"}  # fmt: skip
        if member is None:
            roles: list[str] = []
            allowed = sorted({t for triggers in by_role.values() for t in triggers})
        else:
            actor = actor_for(member, sop.spec, row["organisation_id"])
            roles = sorted(actor.roles)
            allowed = [a.trigger for a in next_steps.allowed_triggers(sop, state, actor)]
        now = self.ctx.clock()
        return {
            "reference": row["reference"],
            "sop_id": row["sop_id"],
            "sop_version": row["sop_version"],
            "sop_hash": row["sop_hash"],
            "organisation_id": row["organisation_id"],
            "created_by": row["created_by"],
            "state": row["state"],
            # as the lists give it: in English, and in every language
            "state_label": sop.states[row["state"]].label.en,
            "state_labels": sop.states[row["state"]].label.model_dump(exclude_none=True),
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
            "allowed_triggers": allowed,
            "next_steps_by_role": by_role,
            "your_roles": roles,
        }

    def check_filter(self, flt: ListFilter) -> None:
        """A filter naming an SOP or a state that does not exist is a mistake to point out
        (both at once), not an empty list. (An organisation is not checked: an unknown one
        and one whose requests the reader may not see both give an empty list, so that the
        answer does not tell which organisations exist.)"""
        catalogue, errors = self.ctx.sops.catalogue, []
        known = catalogue.ids()
        if flt.sop_id and flt.sop_id not in known:
            why = f"no SOP '{flt.sop_id}'; SOPs: {', '.join(known)}"
            params = {"value": flt.sop_id, "allowed": known}
            errors.append(FieldError("sop", "not-in-enum", why, params))
        if flt.state:
            one = flt.sop_id in known
            ids = [str(flt.sop_id)] if one else known
            states = sorted({s for i in ids for v in catalogue.all_versions(i) for s in v.states})
            if flt.state not in states:
                where = f"SOP '{flt.sop_id}' has no state" if one else "no SOP has a state"
                why = f"{where} '{flt.state}'; states: {', '.join(states)}"
                params = {"value": flt.state, "allowed": states}
                errors.append(FieldError("state", "not-in-enum", why, params))
        if errors:
            raise InvalidData(errors, context="filter")

    def search(self, email: str | None, flt: ListFilter) -> list[dict[str, Any]]:
        """Requests matching ``flt`` that ``email`` may see (None: the operator, all)."""
        member = self.reader(email)
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
            if "\x00" in flt.text:  # SQLite's LIKE stops at it (matching all); PostgreSQL fails
                why = "a text holds a NUL character (0x00), which cannot be searched for"
                raise InvalidData([FieldError("text", "nul-character", why)])
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
        if member is not None and member.organisation_kind != "authority":
            # employers and agencies see their own organisation's requests only
            stmt = stmt.where(requests.c.organisation_id == member.organisation_id)
        rows = self._visible(member, stmt)[flt.offset : flt.offset + flt.limit]
        result = []
        for r, s in rows:
            triggers = _your_triggers(member, s, r) if member else []
            # one name for it everywhere (allowed_triggers); your_triggers: the older name
            result.append({**_summary(r, s), "allowed_triggers": triggers,
                           "your_triggers": triggers})  # fmt: skip
        return result

    def _visible(
        self, member: Member | None, stmt: sa.Select[Any]
    ) -> list[tuple[dict[str, Any], CompiledSop]]:
        rows = self.ctx.store.select(stmt)
        result = []
        for row in rows:
            sop = self._sop(row)
            if member is None or can_view(member, sop.spec, row["organisation_id"]):
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
    """The triggers the member may try now (requirements aside): those its roles allow from
    the request's state, less those separation of duties bars to this person, the same as a
    request's own view (``describe``) gives."""
    actor = actor_for(member, sop.spec, row["organisation_id"])
    if not any(set(tr.roles) & actor.roles for tr in sop.by_state[row["state"]].values()):
        return []  # most open requests, for most readers: no need to read the snapshot
    state = CoreState.from_json(row["snapshot"])
    return sorted(a.trigger for a in next_steps.allowed_triggers(sop, state, actor))


def _summary(row: dict[str, Any], sop: CompiledSop) -> dict[str, Any]:
    return {
        "reference": row["reference"], "sop_id": row["sop_id"], "sop_version": row["sop_version"],
        "organisation_id": row["organisation_id"], "state": row["state"],
        "state_label": sop.states[row["state"]].label.en,
        # every language, as a request's own view gives it too (state_label is English)
        "state_labels": sop.states[row["state"]].label.model_dump(exclude_none=True),
        "outcome": row["outcome"],
        "deadline": row["deadline"].isoformat() if row["deadline"] else None,
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }  # fmt: skip
