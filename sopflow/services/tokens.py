"""API tokens for programs: random, shown once, stored as SHA-256 (a token has ~256 bits of
entropy, so a fast hash is the right one; passwords get argon2 in ``directory``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sopflow.domain.access import Member
from sopflow.errors import AdapterError, FieldError, InvalidData, NotFound
from sopflow.services.commands import member_of
from sopflow.services.context import Context

PREFIX = "sfp_"
DEFAULT_DAYS = 90  # a token forgotten in a script stops working by itself
MAX_DAYS = 3650
USE_RECORDED_EVERY = timedelta(minutes=1)  # last use is kept to the minute, not per call


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # the only time the plain token exists outside its holder
    expires_at: datetime | None


def token_digest(token: str) -> str:
    """What the database keeps of a random token (API tokens, page sessions)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Tokens:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create(self, email: str, name: str = "api",
               days: int | None = DEFAULT_DAYS) -> IssuedToken:  # fmt: skip
        """A new token for ``email``, valid ``days`` days (None: until revoked)."""
        if days is not None and not 1 <= days <= MAX_DAYS:
            why = f"a token lives 1 to {MAX_DAYS} days ({days} given)"
            limits = {"min": 1, "max": MAX_DAYS}
            raise InvalidData([FieldError("days", "out-of-range", why, limits)], context="token")
        with self.ctx.store.read() as r:
            member_of(r.member(email), email)  # an unknown or inactive user gets no token
        token = PREFIX + secrets.token_urlsafe(32)
        now = self.ctx.clock()
        expires = now + timedelta(days=days) if days is not None else None
        with self.ctx.store.write() as w:
            token_id = w.insert("api_tokens", {
                "user_email": email.strip().lower(), "name": name[:100], "prefix": token[:12],
                "token_hash": token_digest(token), "created_at": now, "expires_at": expires},
                returning=True)  # fmt: skip
        return IssuedToken(int(token_id), token, expires)

    def authenticate(self, token: str) -> Member | None:
        """The member a live token belongs to; None for an unknown, revoked or expired one."""
        if not token.startswith(PREFIX):
            return None
        digest = token_digest(token)
        now = self.ctx.clock()
        with self.ctx.store.read() as r:
            row = r.one("SELECT * FROM api_tokens WHERE token_hash = :h", {"h": digest})
            if row is None or row["revoked_at"] is not None:
                return None
            if not hmac.compare_digest(row["token_hash"], digest):
                return None
            if row["expires_at"] is not None and row["expires_at"] <= now:
                return None
            user = r.member(row["user_email"])
        if user is None or not user["active"]:
            return None
        used = row["last_used_at"]
        if used is None or now - used >= USE_RECORDED_EVERY:
            try:
                with self.ctx.store.write() as w:
                    w.execute("UPDATE api_tokens SET last_used_at = :now WHERE id = :id",
                              {"now": now, "id": row["id"]})  # fmt: skip
            except AdapterError:
                pass  # a read-only or busy database still serves reads: last use is a courtesy
        return member_of(user, row["user_email"])

    def list(self, email: str | None = None) -> list[dict[str, Any]]:
        """Every token (or ``email``'s), newest first, with its state; never the token."""
        sql = (
            "SELECT id, user_email, name, prefix, created_at, last_used_at, expires_at, "
            "revoked_at FROM api_tokens"
        )
        with self.ctx.store.read() as r:
            rows = (r.all(sql + " WHERE user_email = :e ORDER BY id DESC",
                          {"e": email.strip().lower()}) if email
                    else r.all(sql + " ORDER BY id DESC"))  # fmt: skip
        now = self.ctx.clock()
        for row in rows:
            row["status"] = ("revoked" if row["revoked_at"] is not None else "expired"
                             if row["expires_at"] is not None and row["expires_at"] <= now
                             else "live")  # fmt: skip
        return rows

    def revoke(self, token_id: int) -> None:
        with self.ctx.store.write() as w:
            done = w.execute(
                "UPDATE api_tokens SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL",
                {"now": self.ctx.clock(), "id": token_id},
            )
        if not done:
            raise NotFound(f"no live token {token_id}")
