"""Organisations and users: employers, licensed agencies, authorities and their people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from slugify import slugify

from sopflow.domain.access import Member, declared_roles, role_holder_problem
from sopflow.domain.directory_log import (
    LICENCE_CHANGED,
    ORG_ADDED,
    USER_ADDED,
    licence_change,
    org_record,
    user_record,
)
from sopflow.errors import CommandRejected, FieldError, InvalidData, NotFound
from sopflow.services.commands import member_of
from sopflow.services.context import Context
from sopflow.spec.values import EMAIL, is_country
from sopflow.store import directory_log

ORG_KINDS = ("employer", "agency", "authority")
LOCALES = ("ar", "fr", "en")
LICENCE_STATUSES = ("active", "suspended", "cancelled")
# who a change is recorded as made by when the caller names no one (scripts, the tests);
# the CLI names its operator (--by, SOPFLOW_OPERATOR, the login name), the demo "demo"
SYSTEM = "system"
_hasher = PasswordHasher()


@dataclass(frozen=True)
class OrgInput:
    name: str
    kind: str
    country: str | None = None
    licence_number: str | None = None
    licence_expires: date | None = None
    licence_status: str | None = None
    id: str | None = None


class Directory:
    """The directory. Every change is recorded in the directory log (who, when, what:
    ``sopflow.domain.directory_log``) in the change's own transaction; ``by`` names who
    makes it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def add_org(self, org: OrgInput, *, by: str = SYSTEM) -> str:
        errors = _by_problems(by)
        org_id = org.id or slugify(org.name, max_length=80)
        if not org.name.strip():
            errors.append(FieldError("name", "missing-field", "is required"))
        errors += _too_long(name=(org.name, 200), id=(org.id, 80),
                            licence=(org.licence_number, 80))  # fmt: skip
        if not org_id:
            errors.append(FieldError("id", "invalid-value", "cannot make an id from this name"))
        if org.kind not in ORG_KINDS:
            errors.append(FieldError("kind", "not-in-enum", f"use one of {', '.join(ORG_KINDS)}"))
        if org.country and not is_country(org.country):
            errors.append(FieldError("country", "invalid-country", f"'{org.country}' is not "
                                     "an ISO 3166-1 alpha-2 country code"))  # fmt: skip
        if org.kind == "agency" and not org.licence_number:
            errors.append(
                FieldError(
                    "licence",
                    "missing-field",
                    "a recruitment agency needs --licence and --licence-expires",
                )
            )
        if org.licence_number and org.licence_expires is None:
            errors.append(
                FieldError("licence_expires", "missing-field", "is required with a licence")
            )
        status = org.licence_status or ("active" if org.licence_number else None)
        if status is not None and status not in LICENCE_STATUSES:
            errors.append(
                FieldError(
                    "licence_status", "not-in-enum", f"use one of {', '.join(LICENCE_STATUSES)}"
                )
            )
        if errors:
            raise InvalidData(errors, context="organisation")
        with self.ctx.store.write() as w:
            head = directory_log.lock_head(w)
            if w.organisation(org_id) is not None:
                raise CommandRejected(
                    f"organisation '{org_id}' already exists", code="already-exists"
                )
            now = self.ctx.clock()
            row = {
                "id": org_id, "name": org.name.strip(), "kind": org.kind,
                "country": org.country.strip().upper() if org.country else None,
                "licence_number": org.licence_number, "licence_status": status,
                "licence_expires": org.licence_expires,
                "created_at": now}  # fmt: skip
            w.insert("organisations", row)
            directory_log.append(w, head, now, by.strip(), ORG_ADDED, org_id,
                                 org_record(row))  # fmt: skip
        return org_id

    def organisation(self, org_id: str) -> dict[str, Any] | None:
        with self.ctx.store.read() as r:
            return r.organisation(org_id)

    def organisations(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The directory's organisations (of one ``kind``), by id, with their licences."""
        with self.ctx.store.read() as r:
            return [org for org in r.organisations() if kind is None or org["kind"] == kind]

    def set_licence(self, org_id: str, status: str, expires: date | None = None, *,
                    by: str = SYSTEM) -> None:  # fmt: skip
        """Change a licence's status (and expiry); the log records both before and after."""
        errors = _by_problems(by)
        if status not in LICENCE_STATUSES:
            errors.append(
                FieldError("status", "not-in-enum", f"use one of {', '.join(LICENCE_STATUSES)}")
            )
        if errors:
            raise InvalidData(errors, context="licence")
        values: dict[str, Any] = {"licence_status": status}
        if expires is not None:
            values["licence_expires"] = expires
        with self.ctx.store.write() as w:
            head = directory_log.lock_head(w)  # the licence read next is the one replaced
            before = w.organisation(org_id)
            if before is None:
                raise NotFound(f"no organisation '{org_id}'")
            w.update_by_id("organisations", org_id, values)
            directory_log.append(w, head, self.ctx.clock(), by.strip(), LICENCE_CHANGED, org_id,
                                 licence_change(before, values))  # fmt: skip

    def add_user(self, email: str, name: str, org_id: str, roles: list[str],
                 locale: str = "en", password: str | None = None, *,
                 by: str = SYSTEM) -> int:  # fmt: skip
        email = email.strip().lower()
        errors = _by_problems(by)
        if not EMAIL.match(email):
            errors.append(FieldError("email", "invalid-email", f"'{email}' is not an e-mail"))
        if not name.strip():
            errors.append(FieldError("name", "missing-field", "is required"))
        errors += _too_long(email=(email, 254), name=(name, 200))
        if locale not in LOCALES:
            errors.append(FieldError("locale", "not-in-enum", f"use one of {', '.join(LOCALES)}"))
        if not roles:
            errors.append(FieldError("role", "missing-field", "give at least one --role"))
        known = declared_roles(s.spec for s in self.ctx.sops.catalogue.versions.values())
        for role in roles:
            if role not in known:
                errors.append(
                    FieldError(
                        "role",
                        "unknown-role",
                        f"'{role}' is not a role of any SOP (known: {', '.join(sorted(known))})",
                    )
                )
        if password is not None and len(password) < 8:
            errors.append(FieldError("password", "too-short", "at least 8 characters"))
        if errors:
            raise InvalidData(errors, context="user")
        with self.ctx.store.write() as w:
            head = directory_log.lock_head(w)
            org = w.organisation(org_id)
            if org is None:
                raise NotFound(f"no organisation '{org_id}'")
            if w.user(email) is not None:
                raise CommandRejected(f"user '{email}' already exists", code="already-exists")
            specs = [sop.spec for sop in self.ctx.sops.catalogue.versions.values()]
            misplaced = [
                FieldError("role", "role-not-for-organisation", why)
                for why in (role_holder_problem(role, org_id, specs) for role in sorted(set(roles)))
                if why
            ]
            if misplaced:
                raise InvalidData(misplaced, context="user")
            now = self.ctx.clock()
            row = {
                "email": email, "name": name.strip(), "organisation_id": org_id,
                "roles": sorted(set(roles)), "locale": locale,
                "password_hash": _hasher.hash(password) if password else None,
                "active": True, "created_at": now}  # fmt: skip
            user_id = w.insert("users", row, returning=True)
            directory_log.append(
                w, head, now, by.strip(), USER_ADDED, email, user_record(row)
            )  # never the password hash
        return int(user_id)

    def member(self, email: str) -> Member:
        """The acting user; an unknown or inactive user is not found."""
        with self.ctx.store.read() as r:
            return member_of(r.member(email), email)

    def check_password(self, email: str, password: str) -> bool:
        with self.ctx.store.read() as r:
            user = r.user(email)
        if user is None or not user["password_hash"] or not user["active"]:
            _hasher.hash(password)  # same work either way: no timing hint of who exists
            return False
        try:
            return _hasher.verify(user["password_hash"], password)
        except (VerificationError, InvalidHashError):
            return False


def _by_problems(by: str) -> list[FieldError]:
    """Who makes a change must be named (the directory log records it)."""
    if not by.strip():
        return [FieldError("by", "missing-field", "name who makes the change")]
    return _too_long(by=(by.strip(), 254))


def _too_long(**values: tuple[str | None, int]) -> list[FieldError]:
    """The texts over the length their column holds (PostgreSQL would refuse them with a
    database error; SQLite would keep them)."""
    return [FieldError(name, "too-long", f"at most {limit} characters ({len(text)} given)",
                       {"limit": limit})
            for name, (text, limit) in values.items() if text and len(text) > limit]  # fmt: skip
