"""API tokens for programs: random, shown once, stored as SHA-256 (a token has ~256 bits of
entropy, so a fast hash is the right one; passwords get argon2 in ``directory``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sopflow.domain.access import Member
from sopflow.errors import NotFound
from sopflow.services.commands import member_of
from sopflow.services.context import Context

PREFIX = "sfp_"


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # the only time the plain token exists outside its holder


def token_digest(token: str) -> str:
    """What the database keeps of a random token (API tokens, page sessions)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Tokens:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create(self, email: str, name: str = "api") -> IssuedToken:
        with self.ctx.store.read() as r:
            member_of(r.member(email), email)  # an unknown or inactive user gets no token
        token = PREFIX + secrets.token_urlsafe(32)
        with self.ctx.store.write() as w:
            token_id = w.insert("api_tokens", {
                "user_email": email.strip().lower(), "name": name[:100], "prefix": token[:12],
                "token_hash": token_digest(token), "created_at": self.ctx.clock()},
                returning=True)  # fmt: skip
        return IssuedToken(int(token_id), token)

    def authenticate(self, token: str) -> Member | None:
        """The member a live token belongs to; None for an unknown or revoked token."""
        if not token.startswith(PREFIX):
            return None
        digest = token_digest(token)
        with self.ctx.store.read() as r:
            row = r.one("SELECT * FROM api_tokens WHERE token_hash = :h", {"h": digest})
            if row is None or row["revoked_at"] is not None:
                return None
            if not hmac.compare_digest(row["token_hash"], digest):
                return None
            user = r.member(row["user_email"])
        if user is None or not user["active"]:
            return None
        return member_of(user, row["user_email"])

    def revoke(self, token_id: int) -> None:
        with self.ctx.store.write() as w:
            done = w.execute(
                "UPDATE api_tokens SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL",
                {"now": self.ctx.clock(), "id": token_id},
            )
        if not done:
            raise NotFound(f"no live token {token_id}")
