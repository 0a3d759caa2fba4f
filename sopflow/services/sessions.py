"""Signed-in sessions of the pages, kept on the server so that they can be ended there.

The browser's signed cookie carries only a random session token; the database keeps its
SHA-256 (like an API token: ~256 bits of entropy, so a fast hash is the right one), whose
user it is and until when it lives. Signing out ends it on the server: a copy of the cookie
taken before is refused from then on, and so is every session of a user who is
deactivated, whose sessions an administrator ended, or whose session has expired.

Failed sign-ins are counted here too, in the database, so that every server process (and
a restarted one) sees the same count: at most ``MAX_FAILURES`` per address and user and
``MAX_ADDRESS_FAILURES`` per address in ``FAILURE_WINDOW``, whatever the spelling of the
e-mail. An attempt is counted before its password is checked (``reserve``), so that
attempts sent all at once cannot each be checked before any is counted.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sopflow.errors import NotFound
from sopflow.services.commands import member_of
from sopflow.services.context import Context
from sopflow.services.tokens import token_digest

LIFETIME = timedelta(hours=8)  # the cookie's own max_age (sopflow.web.app)
FORGOTTEN_AFTER = timedelta(days=30)
MAX_FAILURES, FAILURE_WINDOW = 5, timedelta(minutes=15)  # failed sign-ins per address and user
MAX_ADDRESS_FAILURES = 20  # failed sign-ins per address, whatever the e-mails tried


class Sessions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def open(self, email: str) -> str:
        """A new session for ``email`` (a signed-in user); the token goes in their cookie."""
        with self.ctx.store.read() as r:
            member = member_of(r.member(email), email)  # an unknown or inactive user: none
        token = secrets.token_urlsafe(32)
        now = self.ctx.clock()
        with self.ctx.store.write() as w:
            # sessions long over are of no use to anyone: forgotten as new ones begin
            w.execute("DELETE FROM web_sessions WHERE expires_at < :long_ago",
                      {"long_ago": now - FORGOTTEN_AFTER})  # fmt: skip
            w.insert("web_sessions", {
                "token_hash": token_digest(token), "user_email": member.email, "created_at": now,
                "expires_at": now + LIFETIME})  # fmt: skip
        return token

    def holder(self, token: str | None) -> str | None:
        """The e-mail of the user of a live session; None when it ended, expired, was never
        opened, or its user is no longer active."""
        if not token:
            return None
        with self.ctx.store.read() as r:
            row = r.one(
                "SELECT s.user_email, s.expires_at, s.ended_at, u.active FROM web_sessions s "
                "JOIN users u ON u.email = s.user_email WHERE s.token_hash = :h",
                {"h": token_digest(token)},
            )
        if row is None or row["ended_at"] is not None or not row["active"]:
            return None
        if row["expires_at"] <= self.ctx.clock():
            return None
        return str(row["user_email"])

    def close(self, token: str | None) -> None:
        """End one session (signing out)."""
        if token:
            with self.ctx.store.write() as w:
                w.execute(
                    "UPDATE web_sessions SET ended_at = :now WHERE token_hash = :h AND "
                    "ended_at IS NULL",
                    {"now": self.ctx.clock(), "h": token_digest(token)},
                )

    def close_all(self, email: str) -> int:
        """End every live session of a user (a lost laptop, a departure); how many ended."""
        with self.ctx.store.write() as w:
            if w.user(email) is None:  # a typo must not look like "nothing to end"
                raise NotFound(f"no user '{email.strip().lower()}'")
            return w.execute(
                "UPDATE web_sessions SET ended_at = :now WHERE user_email = :email AND "
                "ended_at IS NULL AND expires_at > :now",
                {"now": self.ctx.clock(), "email": email.strip().lower()},
            )

    # -- failed sign-ins -------------------------------------------------------------------
    def reserve(self, email: str, address: str) -> int | None:
        """Count a sign-in attempt *before* its password is checked, or refuse it (None).

        The attempt is written as a failure and the recent ones counted in the same
        transaction, under a lock on the address (SQLite's BEGIN IMMEDIATE; a transaction
        advisory lock on PostgreSQL): of any number of attempts sent at once, at most
        ``MAX_FAILURES`` per user and ``MAX_ADDRESS_FAILURES`` per address across e-mails
        get their password checked in a window. The id returned is the attempt's row: the
        sign-in that succeeds removes it (``succeeded``); one that fails leaves it counted.
        """
        key, now = _key(email, address), self.ctx.clock()
        since = now - FAILURE_WINDOW
        with self.ctx.store.write() as w:
            w.lock("sign-in:" + key["address"])
            w.execute("DELETE FROM sign_in_failures WHERE at < :old", {"old": since})
            row = w.one(
                "SELECT count(*) AS n, sum(CASE WHEN email = :email THEN 1 ELSE 0 END) AS mine "
                "FROM sign_in_failures WHERE address = :address AND at > :since",
                {**key, "since": since},
            )
            total, mine = (int(row["n"] or 0), int(row["mine"] or 0)) if row else (0, 0)
            if mine >= MAX_FAILURES or total >= MAX_ADDRESS_FAILURES:
                return None
            return int(w.insert("sign_in_failures", {**key, "at": now}, returning=True))

    def release(self, attempt: int) -> None:
        """An attempt whose password was never checked (the server too busy): not counted."""
        with self.ctx.store.write() as w:
            w.execute("DELETE FROM sign_in_failures WHERE id = :id", {"id": attempt})

    def succeeded(self, email: str, address: str) -> None:
        """A successful sign-in starts the count again (its own attempt included)."""
        with self.ctx.store.write() as w:
            w.execute("DELETE FROM sign_in_failures WHERE email = :email AND "
                      "address = :address", _key(email, address))  # fmt: skip


def _key(email: str, address: str) -> dict[str, str]:
    return {"email": email.strip().lower()[:254], "address": address[:64]}
