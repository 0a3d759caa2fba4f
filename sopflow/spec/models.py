"""The SOP language: pydantic models of one SOP version.

An SOP file (YAML) is validated into an ``SopSpec``. Every model forbids unknown keys
and is frozen; cross-references (states, roles, fields, ...) are checked by the linter,
which runs after these models accept the structure. docs/sop-language.md documents it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

ID_PATTERN = r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$"
SOP_ID_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"

Identifier = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=64)]

# the largest version number: the database stores it as a signed 32-bit-safe integer
MAX_VERSION = 2**31 - 1
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _sop_date(value: Any) -> Any:
    """A date is written YYYY-MM-DD (a YAML date or a text): never a number (pydantic would
    read ``0`` as 1970-01-01 and ``1767225600`` as a Unix time) nor a date and time."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise PydanticCustomError(
                "wrong-type",
                "'{value}' is not a date: {error}",
                {"value": value, "error": str(exc)},
            ) from exc
    shown = value.isoformat() if isinstance(value, datetime) else value
    raise PydanticCustomError(
        "wrong-type", "expected a date YYYY-MM-DD, not '{value}'", {"value": shown}
    )


SopDate = Annotated[date, BeforeValidator(_sop_date)]


# Counts (a version, days, lengths, sizes) are StrictInt, as flags are StrictBool: YAML
# reads "true" as a boolean, which pydantic would otherwise take as the number 1.


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Localized(Model):
    """Text in the three working languages; English is required, the others are linted."""

    en: Annotated[str, Field(min_length=1)]
    fr: Annotated[str, Field(min_length=1)] | None = None
    ar: Annotated[str, Field(min_length=1)] | None = None

    def get(self, locale: str) -> str:
        value = getattr(self, locale, None) if locale in ("en", "fr", "ar") else None
        return value if isinstance(value, str) else self.en


class Authority(Model):
    id: Annotated[str, Field(pattern=SOP_ID_PATTERN)]
    name: Localized


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Calendar(Model):
    """The working week and public holidays that deadlines count in."""

    timezone: str
    weekend: Annotated[list[Weekday], Field(min_length=0, max_length=6)]
    holidays: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    extra_holidays: list[SopDate] = Field(default_factory=list)
    working_days_off: list[SopDate] = Field(default_factory=list)
    # days the holiday package lists that the country no longer observes (a holiday moved
    # or abolished): working days unless the weekend or the lists above say otherwise
    not_holidays: list[SopDate] = Field(default_factory=list)


class LegalBasis(Model):
    """A legal clause the SOP's steps apply. ``citation`` and ``summary`` are one text (the
    law's own words, the same in every language: a citation is often best left in the
    language the law is authentic in) or a text per language like a label."""

    id: Identifier
    citation: str | Localized
    summary: str | Localized
    url: str | None = None

    def cited(self, locale: str) -> str:
        """The citation in ``locale`` (English where it has none in it)."""
        return self.citation if isinstance(self.citation, str) else self.citation.get(locale)

    def summarised(self, locale: str) -> str:
        return self.summary if isinstance(self.summary, str) else self.summary.get(locale)


class ReasonCode(Model):
    id: Identifier
    label: Localized


RoleScope = Literal["own_organisation", "all"]
RoleKind = Literal["requester", "official", "auditor", "system"]


class Role(Model):
    id: Identifier
    title: Localized
    kind: RoleKind
    scope: RoleScope


class EnumValue(Model):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    label: Localized


class _FieldBase(Model):
    id: Identifier
    label: Localized
    required: StrictBool = False
    help: Localized | None = None


class StringField(_FieldBase):
    type: Literal["string", "text", "email"]
    min_length: Annotated[StrictInt, Field(ge=0)] | None = None
    max_length: Annotated[StrictInt, Field(ge=1)] | None = None
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise PydanticCustomError(
                    "bad-pattern", "pattern does not compile: {error}", {"error": str(exc)}
                ) from exc
        return value


class NumberField(_FieldBase):
    type: Literal["integer", "decimal"]
    min: Decimal | None = None
    max: Decimal | None = None


class MoneyField(_FieldBase):
    type: Literal["money"]
    currencies: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] | None = None
    min: Decimal | None = None
    max: Decimal | None = None


class DateField(_FieldBase):
    type: Literal["date"]
    min: SopDate | None = None
    max: SopDate | None = None


class SimpleField(_FieldBase):
    type: Literal["boolean", "country", "isco08", "isic"]


class EnumField(_FieldBase):
    type: Literal["enum"]
    values: Annotated[list[EnumValue], Field(min_length=1)]


FieldSpec = Annotated[
    StringField | NumberField | MoneyField | DateField | SimpleField | EnumField,
    Field(discriminator="type"),
]


class DocumentKind(Model):
    """A kind of document. ``provided_by``: the roles whose holders may upload it (an
    official's attestation, permit or visa); none given, anyone acting on the request."""

    id: Identifier
    label: Localized
    media_types: list[str] = Field(
        default_factory=lambda: ["application/pdf", "image/jpeg", "image/png"]
    )
    max_size_mb: Annotated[StrictInt, Field(ge=1, le=100)] = 10
    provided_by: Annotated[list[Identifier], Field(min_length=1)] | None = None


class Sla(Model):
    """A deadline for leaving a state: N working days (SOP calendar) or N elapsed hours."""

    working_days: Annotated[StrictInt, Field(ge=1, le=365)] | None = None
    hours: Annotated[StrictInt, Field(ge=1, le=24 * 365)] | None = None
    warn_before_hours: Annotated[StrictInt, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _exactly_one_length(self) -> Sla:
        if (self.working_days is None) == (self.hours is None):
            raise PydanticCustomError(
                "sla-length", "an sla needs exactly one of working_days or hours"
            )
        return self


class Recipient(Model):
    """Who receives a notice: the requester, every user holding a role, or an address field."""

    requester: StrictBool | None = None
    role: Identifier | None = None
    field: Identifier | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value == "requester":
            return {"requester": True}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Recipient:
        chosen = [x for x in (self.requester, self.role, self.field) if x]
        if len(chosen) != 1:
            raise PydanticCustomError(
                "recipient-shape",
                "a recipient is 'requester', a mapping 'role: ROLE' or a mapping 'field: FIELD'",
            )
        return self

    def describe(self) -> str:
        if self.requester:
            return "requester"
        return f"role:{self.role}" if self.role else f"field:{self.field}"


class Notice(Model):
    to: Recipient
    template: Identifier


class BreachAction(Model):
    notify: list[Notice] = Field(default_factory=list)
    trigger: Identifier | None = None


class State(Model):
    """A stage of a request. ``editable``: in a state waiting on the requester, the fields
    the requester may still correct there; none given, all of theirs; ``[]``, none."""

    id: Identifier
    label: Localized
    description: Localized | None = None
    initial: StrictBool = False
    final: Literal["approved", "rejected", "withdrawn", "expired"] | None = None
    waiting_on: Literal["requester", "authority", "third_party"] = "authority"
    editable: list[Identifier] | None = None
    sla: Sla | None = None
    on_breach: BreachAction | None = None
    legal_clause: Identifier | None = None


def _rule_param(value: Any) -> str | int | float | bool | list[str]:
    # a list of texts only where the rule takes one (``Rule.states``: the linter checks)
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise PydanticCustomError(
        "wrong-type", "a rule parameter is a number, a text, true/false or a list of texts"
    )


# one check, one message (a plain union would report one error per member type)
RuleParam = Annotated[Any, BeforeValidator(_rule_param)]


class RuleRef(Model):
    """A named rule from the registry, with optional parameters."""

    rule: Identifier
    params: dict[str, RuleParam] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"rule": value} if isinstance(value, str) else value


class Condition(Model):
    """A boolean expression over the request's fields, in the safe expression language."""

    expr: Annotated[str, Field(min_length=1, max_length=500)]
    message: Localized


class Requirements(Model):
    fields: list[Identifier] = Field(default_factory=list)
    documents: list[Identifier] = Field(default_factory=list)
    # documents that must come with the step itself: one of that kind already on file does
    # not count (a decision's own document, not the one an earlier decision left)
    new_documents: list[Identifier] = Field(default_factory=list)
    comment: StrictBool = False
    reason: StrictBool = False
    rules: list[RuleRef] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)

    @property
    def every_document(self) -> list[str]:
        """The kinds the step needs, on file or brought with it."""
        return [*self.documents, *(d for d in self.new_documents if d not in self.documents)]


class Transition(Model):
    trigger: Identifier
    label: Localized
    source: Annotated[list[Identifier], Field(alias="from", min_length=1)]
    to: Identifier
    roles: Annotated[list[Identifier], Field(min_length=1)]
    requires: Requirements = Field(default_factory=Requirements)
    sets: list[Identifier] = Field(default_factory=list)
    reasons: list[Identifier] = Field(default_factory=list)
    distinct_from: list[Identifier] = Field(default_factory=list)
    notify: list[Notice] = Field(default_factory=list)
    legal_clause: Identifier | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _from_scalar(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("from"), str):
            return {**value, "from": [value["from"]]}
        return value


class Submission(Model):
    """How a request enters the SOP: the roles that may file it and the first trigger."""

    roles: Annotated[list[Identifier], Field(min_length=1)]
    trigger: Identifier | None = None


class SopSpec(Model):
    id: Annotated[str, Field(pattern=SOP_ID_PATTERN, max_length=80)]
    version: Annotated[StrictInt, Field(ge=1, le=MAX_VERSION)]
    effective_from: SopDate
    title: Localized
    description: Localized | None = None
    default_locale: Literal["en", "fr", "ar"] = "en"
    reference_prefix: Annotated[str, Field(pattern=r"^[A-Z]{2,6}$")]
    authority: Authority
    jurisdiction: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    calendar: Calendar
    legal_basis: list[LegalBasis] = Field(default_factory=list)
    reason_codes: list[ReasonCode] = Field(default_factory=list)
    roles: Annotated[list[Role], Field(min_length=1)]
    fields: list[FieldSpec] = Field(default_factory=list)
    documents: list[DocumentKind] = Field(default_factory=list)
    submission: Submission
    states: Annotated[list[State], Field(min_length=2)]
    transitions: Annotated[list[Transition], Field(min_length=1)]
    statistics: dict[str, Identifier] = Field(default_factory=dict)

    def officials_fields(self) -> frozenset[str]:
        """The fields only officials' steps set (a register number, an opinion, a visa): in
        the ``sets`` of steps no requester role fires, and of none that one fires. They are
        not the requester's to fill in, neither when filing nor when correcting."""
        requesters = {r.id for r in self.roles if r.kind == "requester"}
        theirs: set[str] = set()
        ours: set[str] = set()
        for tr in self.transitions:
            (ours if set(tr.roles) & requesters else theirs).update(tr.sets)
        return frozenset(theirs - ours)
