"""Delivering the outbox, with proof: render, send, record every attempt; retry with backoff
on retryable failures; dead-letter after the last attempt or at once on a permanent one.

Outbox rows are written with the event that caused them (``recording``). Delivery happens
after commit, at least once, each notice under its stable message id. A row is claimed
(its next attempt pushed back by a lease) before it is sent, so two deliverers never send
the same row at once; a deliverer that dies after sending leaves the row to be retried
under the same message id once the lease ends.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sopflow.domain.disclosure import role_sees_who_acted, shown_actor
from sopflow.domain.ports import Channel, DeliveryFailed, Message, Rendered, Renderer
from sopflow.errors import CommandRejected, NotFound, UnknownTrigger
from sopflow.services.context import Context
from sopflow.spec.models import Recipient
from states.machine import CompiledSop
from states.model import EventRecord
from states.replay import replay

MAX_ATTEMPTS = 8
BASE_DELAY = 30.0  # seconds; doubled after each failed attempt
MAX_DELAY = 6 * 3600.0
LEASE = 120.0  # seconds a claimed row is left alone


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    # why the batch stopped before its end (the channel refused its credentials, asked us
    # to slow down, or cannot work as configured); the rest stay pending, untouched
    stopped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "retrying": self.retrying, "dead": self.dead,
                "errors": self.errors, "stopped": self.stopped}  # fmt: skip


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: exponential, capped, never sooner than asked."""
    delay = min(BASE_DELAY * 2.0 ** max(attempts - 1, 0), MAX_DELAY)
    return float(max(delay, retry_after or 0.0))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _when(moment: datetime | None, sop: CompiledSop) -> str | None:
    if moment is None:
        return None
    local = moment.astimezone(sop.calendar.zone)
    return f"{local:%Y-%m-%d %H:%M} ({sop.spec.calendar.timezone})"


class Notices:
    """``channel``: the channel, or a function that builds it: built when first needed, by
    delivery, so that listing and re-queueing notices never need the channel's credentials
    (a SendGrid key); a misconfigured channel refuses delivery then, not them."""

    def __init__(self, ctx: Context, renderer: Renderer, channel: Channel | Callable[[], Channel],
                 sender: str, public_url: str) -> None:  # fmt: skip
        self.ctx = ctx
        self.renderer = renderer
        self._channel: Channel | None = None
        self._make_channel: Callable[[], Channel] | None = None
        if callable(channel) and not hasattr(channel, "send"):
            self._make_channel = channel
        else:
            self._channel = channel  # type: ignore[assignment]
        self.sender = sender
        self.public_url = public_url.rstrip("/")

    @property
    def channel(self) -> Channel:
        if self._channel is None:
            assert self._make_channel is not None
            self._channel = self._make_channel()
        return self._channel

    # -- context ------------------------------------------------------------------------
    def context(self, sop: CompiledSop, request: dict[str, Any], event: dict[str, Any],
                recipient: dict[str, Any], locale: str, deadline: datetime | None,
                sees: bool) -> dict[str, Any]:  # fmt: skip
        """Everything a template may use (the keys of ``notifications.render.SAMPLE_CONTEXT``).

        A notice describes its event: the stage is the event's ``to_state`` and the deadline
        the one the request had right after it (``deadline``), never the request as it is
        when the notice is sent, which may be steps later. Who took the step is named to a
        recipient who ``sees`` who acted (``sopflow.domain.disclosure``); to the requester,
        an official is their office (``step.actor``; ``step.role_title`` then None, the
        office saying it already)."""
        spec = sop.spec
        tr = next((t for t in spec.transitions if t.trigger == event["trigger"]
                   and (event["from_state"] in t.source)), None)  # fmt: skip
        reasons = {r.id: r.label.get(locale) for r in spec.reason_codes}
        citations = {b.id: b.cited(locale) for b in spec.legal_basis}
        actor_role = sop.roles.get(event["role"])
        with self.ctx.store.read() as r:
            actor = r.user(event["actor_id"])
            org = r.organisation(request["organisation_id"])
        who = shown_actor(event["actor_id"], event["role"], spec, locale, sees=sees,
                          identity=actor["name"] if actor else "sopflow")  # fmt: skip
        return {
            "sop": {"id": spec.id, "version": spec.version, "title": spec.title.get(locale)},
            "authority": {"name": spec.authority.name.get(locale)},
            "request": {
                "reference": request["reference"],
                "state_label": sop.states[event["to_state"]].label.get(locale),
                "organisation": org["name"] if org else request["organisation_id"],
                # a link only for those who can sign in: an address taken from a field
                # (an employer's contact who is no user) would meet a sign-in page
                "url": None if recipient["kind"] == "address"
                else f"{self.public_url}/requests/{request['reference']}",
                "deadline": _when(deadline, sop),
            },
            "step": {
                "trigger": event["trigger"],
                "trigger_label": tr.label.get(locale) if tr else event["trigger"],
                "from_state_label": sop.states[event["from_state"]].label.get(locale)
                if event["from_state"] in sop.states else None,
                "to_state_label": sop.states[event["to_state"]].label.get(locale),
                "actor": who.text,
                "role_title": None if who.office
                else actor_role.title.get(locale) if actor_role else event["role"],
                "comment": event["comment"],
                "reason": event["reason"],
                "reason_label": reasons.get(event["reason"] or ""),
                "legal_clause": event["legal_clause"],
                "legal_citation": citations.get(event["legal_clause"] or ""),
                "at": _when(event["at"], sop),
            },
            "recipient": recipient,
            "flags": list((event["payload"] or {}).get("flags") or []),
        }  # fmt: skip

    # -- delivery -----------------------------------------------------------------------
    def due(self, limit: int) -> list[dict[str, Any]]:
        with self.ctx.store.read() as r:
            return r.all("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at "
                         "<= :now ORDER BY next_attempt_at, id LIMIT :limit",
                         {"now": self.ctx.clock(), "limit": limit})  # fmt: skip

    def deliver(self, limit: int = 200) -> DeliveryReport:
        """Send what is due. The batch stops at a failure that is the channel's, not the
        notice's: an authentication failure (401/403: every other notice would fail alike and
        be dead-lettered for nothing), a channel that cannot work as configured, or a 429
        (the provider asked us to wait: the other due notices wait as long)."""
        report = DeliveryReport()
        channel = self.channel  # a misconfigured channel refuses here, before any claim
        for row in self.due(limit):
            if not self._claim(row):
                continue
            failure = self._deliver_one(row, report, channel)
            if failure is not None and failure.stops_batch:
                report.stopped = failure.message
                if failure.status == 429:
                    self._hold_due(backoff(1, failure.retry_after))
                break
        return report

    def _hold_due(self, seconds: float) -> None:
        """Push back every pending notice due sooner than ``seconds`` from now (Retry-After)."""
        until = self.ctx.clock() + timedelta(seconds=seconds)
        with self.ctx.store.write() as w:
            w.execute("UPDATE outbox SET next_attempt_at = :until WHERE status = 'pending' AND "
                      "next_attempt_at < :until", {"until": until})  # fmt: skip

    def _claim(self, row: dict[str, Any]) -> bool:
        lease = self.ctx.clock() + timedelta(seconds=LEASE)
        with self.ctx.store.write() as w:
            return w.execute("UPDATE outbox SET next_attempt_at = :lease WHERE id = :id AND "
                             "status = 'pending' AND next_attempt_at = :seen",
                             {"lease": lease, "id": row["id"],
                              "seen": row["next_attempt_at"]}) == 1  # fmt: skip

    def _message(self, row: dict[str, Any]) -> tuple[Message, str, str]:
        with self.ctx.store.read() as r:
            request = r.one("SELECT * FROM requests WHERE id = :id", {"id": row["request_id"]})
            event = r.one("SELECT * FROM events WHERE id = :id", {"id": row["event_id"]})
            user = r.user(row["recipient"])
        if request is None or event is None:
            raise NotFound(f"outbox {row['id']}: its request or event is gone")
        sop = self.ctx.sops.pinned(request["sop_id"], request["sop_version"], request["sop_hash"])
        told = row["recipient_kind"]  # requester, role:<id> or field:<id> (an address)
        kind = "requester" if told == "requester" else (
            "address" if told.startswith("field:") else "official")  # fmt: skip
        recipient = {"name": user["name"] if user else row["recipient"],
                     "email": row["recipient"], "kind": kind}  # fmt: skip
        deadline = row.get("deadline")
        if deadline is None and sop.states[event["to_state"]].sla is not None:
            deadline = self._deadline_at(sop, request["id"], event["seq"])
        sees = told.startswith("role:") and role_sees_who_acted(told[5:], sop.spec)
        context = self.context(sop, request, event, recipient, row["locale"], deadline, sees)
        rendered = self.renderer.render(row["template"], row["locale"], context)
        message = Message(row["message_id"], row["recipient"], rendered.subject, rendered.text,
                          rendered.html, self.sender,
                          # RFC 3834: an automatic message (no out-of-office replies to it)
                          {"X-Sopflow-Reference": request["reference"],
                           "Auto-Submitted": "auto-generated",
                           "Content-Language": rendered.locale})  # fmt: skip
        return message, rendered.template_version, rendered.locale

    def _deadline_at(self, sop: CompiledSop, request_id: int, seq: int) -> datetime | None:
        """The request's deadline right after its event ``seq``, rebuilt from its events (for
        an outbox row written before the row kept it: migration 0004)."""
        with self.ctx.store.read() as r:
            events = [EventRecord.from_json(e) for e in r.events_of(request_id)]
        state = replay(events, sop, until_seq=seq).state
        return state.deadline if state else None

    def _deliver_one(self, row: dict[str, Any], report: DeliveryReport,
                     channel: Channel) -> DeliveryFailed | None:  # fmt: skip
        """Deliver one claimed row and record the attempt; the channel's failure, if any."""
        failure: DeliveryFailed | None = None
        now = self.ctx.clock()
        attempts = int(row["attempts"]) + 1
        log = list(row["attempt_log"] or [])
        values: dict[str, Any] = {"attempts": attempts}
        try:
            message, version, locale = self._message(row)
            values.update(template_version=version, locale=locale,
                          subject_hash=_digest(message.subject),
                          body_hash=_digest(message.text + "\0" + message.html))  # fmt: skip
            provider_id = channel.send(message)
        except DeliveryFailed as exc:
            failure = exc
            if exc.stops_batch:
                # a failure of the channel (its key, its host, its rate limit) is not this
                # notice's: logged, but not counted towards its dead-lettering; it stays
                # pending, as the rest of the batch does, until the operator mends it
                attempts = values["attempts"] = int(row["attempts"])
            dead = not exc.stops_batch and (not exc.retryable or attempts >= MAX_ATTEMPTS)
            log.append({"at": now.isoformat(), "ok": False, "error": exc.message,
                        "status": exc.status, "channel": channel.name})  # fmt: skip
            values.update(status="dead" if dead else "pending", last_error=exc.message,
                          next_attempt_at=None if dead else now + timedelta(
                              seconds=backoff(max(attempts, 1), exc.retry_after)))  # fmt: skip
            report.dead += dead
            report.retrying += not dead
            report.errors.append({"id": row["id"], "error": exc.message, "dead": dead})
        except Exception as exc:  # a template or data problem: never retried blindly
            log.append({"at": now.isoformat(), "ok": False, "error": str(exc)})
            values.update(status="dead", last_error=f"{type(exc).__name__}: {exc}",
                          next_attempt_at=None)  # fmt: skip
            report.dead += 1
            report.errors.append({"id": row["id"], "error": str(exc), "dead": True})
        else:
            log.append({"at": now.isoformat(), "ok": True, "provider_message_id": provider_id,
                        "channel": channel.name})  # fmt: skip
            values.update(status="sent", sent_at=now, provider_message_id=provider_id,
                          last_error=None, next_attempt_at=None)  # fmt: skip
            report.sent += 1
        values["attempt_log"] = log
        with self.ctx.store.write() as w:
            w.update_by_id("outbox", row["id"], values)
        return failure

    def preview(self, sop: CompiledSop, trigger: str,
                locale: str) -> list[tuple[str, Rendered]]:  # fmt: skip
        """The notices a transition sends, rendered with sample data in the SOP's words."""
        from notifications.render import SAMPLE_CONTEXT  # sample data for previews only

        spec = sop.spec
        triggers = sorted({t.trigger for t in spec.transitions})
        if trigger not in triggers:
            close = difflib.get_close_matches(trigger, triggers, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UnknownTrigger(f"SOP '{spec.id}' v{spec.version} has no trigger '{trigger}'"
                                 f"{hint}; its triggers: {', '.join(triggers)}",
                                 details={"trigger": trigger, "allowed": triggers})  # fmt: skip
        rendered = []
        seen: set[tuple[str, str]] = set()
        reasons = {r.id: r.label.get(locale) for r in spec.reason_codes}
        # the sample step happens at 10:00 on 1 December 2026, in the SOP's time zone; the
        # deadline shown is the one its target stage would then have (none: none shown)
        at = datetime(2026, 12, 1, 10, 0, tzinfo=sop.calendar.zone)
        for tr in (t for t in spec.transitions if t.trigger == trigger):
            sla = sop.states[tr.to].sla
            context = {
                **SAMPLE_CONTEXT,
                "sop": {"id": spec.id, "version": spec.version, "title": spec.title.get(locale)},
                "authority": {"name": spec.authority.name.get(locale)},
                "request": {**SAMPLE_CONTEXT["request"],
                            "organisation": SAMPLE_ORGANISATION[locale],
                            "reference": f"{spec.reference_prefix}-2026-000123",
                            "state_label": sop.states[tr.to].label.get(locale),
                            "deadline": _when(sop.calendar.deadline(at, sla), sop)
                            if sla else None},
                "step": {**SAMPLE_CONTEXT["step"], "trigger": trigger,
                         "comment": SAMPLE_COMMENT[locale],
                         "trigger_label": tr.label.get(locale),
                         "from_state_label": sop.states[tr.source[0]].label.get(locale),
                         "to_state_label": sop.states[tr.to].label.get(locale),
                         "role_title": sop.roles[tr.roles[0]].title.get(locale),
                         "reason": tr.reasons[0] if tr.reasons else None,
                         "reason_label": reasons.get(tr.reasons[0]) if tr.reasons else None,
                         "legal_clause": tr.legal_clause, "at": _when(at, sop),
                         "legal_citation": next((b.cited(locale) for b in spec.legal_basis
                                                 if b.id == tr.legal_clause), None)},
            }  # fmt: skip
            for notice in tr.notify:
                key = (notice.template, notice.to.describe())
                if key not in seen:  # the same notice on several transitions of one trigger
                    seen.add(key)
                    context["recipient"] = _sample_recipient(sop, notice.to, locale)
                    # the sample official named, or shown as their office, as to the real one
                    role = notice.to.role
                    sees = role is not None and role_sees_who_acted(role, spec)
                    who = shown_actor("sample", tr.roles[0], spec, locale, sees=sees,
                                      identity=SAMPLE_CONTEXT["step"]["actor"])  # fmt: skip
                    context["step"] = {**context["step"], "actor": who.text, "role_title":
                                       None if who.office
                                       else sop.roles[tr.roles[0]].title.get(locale)}  # fmt: skip
                    rendered.append((key[1], self.renderer.render(key[0], locale, context)))
        return rendered

    # -- operations ---------------------------------------------------------------------
    def listing(self, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        select = "SELECT o.*, r.reference FROM outbox o JOIN requests r ON r.id = o.request_id "
        with self.ctx.store.read() as r:
            if status is None:
                return r.all(select + "ORDER BY o.id DESC LIMIT :limit", {"limit": limit})
            return r.all(select + "WHERE o.status = :status ORDER BY o.id DESC LIMIT :limit",
                         {"status": status, "limit": limit})  # fmt: skip

    def retry(self, ids: list[int] | None = None, *, all_dead: bool = False) -> int:
        """Put dead notices back in the queue (attempts start again; the log is kept)."""
        now = self.ctx.clock()
        with self.ctx.store.write() as w:
            if all_dead:
                return w.execute(
                    "UPDATE outbox SET status = 'pending', attempts = 0, "
                    "next_attempt_at = :now WHERE status = 'dead'",
                    {"now": now},
                )
            found = {row["id"]: row["status"] for notice_id in ids or [] for row in w.all(
                "SELECT id, status FROM outbox WHERE id = :id", {"id": notice_id})}  # fmt: skip
            unknown = [str(i) for i in ids or [] if i not in found]
            if unknown:
                raise NotFound(f"no notice {', '.join(unknown)}")
            alive = [f"{i} is {status}" for i, status in found.items() if status != "dead"]
            if alive:
                raise CommandRejected(f"only dead notices are queued again: {'; '.join(alive)}",
                                      code="not-dead")  # fmt: skip
            done = 0
            for notice_id in ids or []:
                done += w.execute("UPDATE outbox SET status = 'pending', attempts = 0, "
                                  "next_attempt_at = :now WHERE id = :id AND status = 'dead'",
                                  {"now": now, "id": notice_id})  # fmt: skip
            return done


# Sample words of a preview in the reader's language (the templates' own words are theirs)
SAMPLE_COMMENT = {"en": "Please attach the attested contract.",
                  "fr": "Veuillez joindre le contrat visé.",
                  "ar": "يُرجى إرفاق العقد المصدَّق."}  # fmt: skip
SAMPLE_ORGANISATION = {"en": "Sample Employer", "fr": "Employeur exemple",
                       "ar": "صاحب عمل نموذجي"}  # fmt: skip


def _sample_recipient(sop: CompiledSop, to: Recipient, locale: str) -> dict[str, str]:
    """Who a previewed notice goes to, as the real one would say it: an official of the
    role (by the role's title), the requester, or an address given in a field."""
    if to.role:
        return {"name": sop.roles[to.role].title.get(locale), "email": "official@example.org",
                "kind": "official"}  # fmt: skip
    return {
        "name": SAMPLE_ORGANISATION[locale],
        "email": "contact@example.org",
        "kind": "requester" if to.requester else "address",
    }
