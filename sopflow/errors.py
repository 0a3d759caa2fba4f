"""The one error tree of sopflow.

    SopflowError                      base; every error has a stable kebab-case ``code``
    ├── SopDefinitionError            an SOP author's mistakes: ``issues`` (code, message,
    │                                 file, line, column, hint), collected, never the first only
    ├── CommandRejected               a command that may not be applied (nothing was changed)
    │   ├── UnknownTrigger            the SOP has no such trigger
    │   ├── TriggerNotAllowed         not allowed from the current state (lists allowed ones)
    │   ├── RoleForbidden             the actor holds none of the roles the transition allows
    │   ├── RequirementNotMet         fields, documents, comment, reason, rules, conditions
    │   ├── SeparationOfDuties        the actor already acted on a step that must be distinct
    │   ├── InvalidData               payload values that break the SOP's field types
    │   ├── Conflict                  stale version: someone else moved the request first
    │   └── NotFound                  unknown request/user/SOP, or not visible to the actor
    └── AdapterError(retryable)       a database, mail provider or orchestrator failed

The codes are documented in docs/errors.md; the API maps them to problem+json and the
CLI prints them. This module is pure: it is imported by every layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


class SopflowError(Exception):
    """Base of every error sopflow raises on purpose."""

    code: str = "sopflow-error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class SopIssue:
    """One problem in an SOP file, located precisely (line and column are 1-based)."""

    code: str
    message: str
    file: str
    line: int = 1
    column: int = 1
    hint: str | None = None
    severity: Severity = "error"

    def format(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.severity}[{self.code}] {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "hint": self.hint,
            "severity": self.severity,
        }


class SopDefinitionError(SopflowError):
    """An SOP file that cannot be used; carries every issue found, sorted by place."""

    code = "sop-invalid"

    def __init__(self, issues: Iterable[SopIssue]) -> None:
        self.issues: list[SopIssue] = sorted(
            issues, key=lambda i: (i.file, i.line, i.column, i.code)
        )
        errors = [i for i in self.issues if i.severity == "error"]
        first = errors[0].format() if errors else "no errors"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first}{more}")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "issues": [i.to_dict() for i in self.issues]}


class CommandRejected(SopflowError):
    """A command that may not be applied. Nothing has been changed."""

    code = "command-rejected"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **self.details}


class UnknownTrigger(CommandRejected):
    code = "unknown-trigger"


class TriggerNotAllowed(CommandRejected):
    code = "trigger-not-allowed"


class RoleForbidden(CommandRejected):
    code = "role-forbidden"


@dataclass(frozen=True, slots=True)
class Unmet:
    """One requirement of a transition that the request or the command does not meet."""

    code: str
    message: str
    subject: str | None = None  # the field, document, rule or condition concerned
    # what the message says, as JSON values, so that a page (sopflow/web/refusals.py) or an
    # API client can say it in its reader's language; ``message`` says it in English
    params: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        item = {"code": self.code, "message": self.message, "subject": self.subject}
        return {**item, "params": dict(self.params)} if self.params else item


class RequirementNotMet(CommandRejected):
    code = "requirement-not-met"

    def __init__(self, trigger: str, unmet: Sequence[Unmet]) -> None:
        self.unmet = list(unmet)
        reasons = "; ".join(u.message for u in self.unmet)
        super().__init__(
            f"'{trigger}' cannot be applied: {reasons}",
            details={"trigger": trigger, "unmet": [u.to_dict() for u in self.unmet]},
        )


class SeparationOfDuties(CommandRejected):
    code = "separation-of-duties"


@dataclass(frozen=True, slots=True)
class FieldError:
    """A value that breaks its field's declared type, bounds or enumeration."""

    field: str
    code: str
    message: str
    # as for ``Unmet``
    params: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        item = {"field": self.field, "code": self.code, "message": self.message}
        return {**item, "params": dict(self.params)} if self.params else item


class InvalidData(CommandRejected):
    """Invalid input: every error listed; ``unmet``: the step's requirements also found
    unmet (a form refused for its files also says what else it lacks, in one refusal)."""

    code = "invalid-data"

    def __init__(self, errors: Sequence[FieldError], *, context: str = "request data",
                 unmet: Sequence[Unmet] = ()) -> None:  # fmt: skip
        self.errors, self.unmet = list(errors), list(unmet)
        listed = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        also = "; ".join(u.message for u in self.unmet)
        details: dict[str, Any] = {"errors": [e.to_dict() for e in self.errors]}
        if self.unmet:
            details["unmet"] = [u.to_dict() for u in self.unmet]
        super().__init__(f"invalid {context}: {listed}" + (f"; and: {also}" if also else ""),
                         details=details)  # fmt: skip


class Conflict(CommandRejected):
    code = "conflict"


class NotFound(CommandRejected):
    code = "not-found"

    @classmethod
    def request(cls, reference: str) -> NotFound:
        """A request that does not exist or that the actor may not see (the same answer,
        so that nothing leaks); ``reference`` in the details for a page to say it."""
        return cls(f"no request '{reference}'", details={"reference": reference})


class AdapterError(SopflowError):
    """An outside system failed. ``retryable`` tells whether trying again may help."""

    code = "adapter-error"

    def __init__(self, message: str, *, retryable: bool = False, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retryable": self.retryable}
