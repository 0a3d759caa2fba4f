"""Request data against an SOP's typed fields: validate, normalise, and type for conditions.

Stored data is plain JSON: decimals and money amounts as strings (no float rounding),
dates as ISO text, money as ``{"amount": "1200.00", "currency": "USD"}``. ``typed_env``
turns stored data back into Python values (Decimal, date) for the condition language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry

from sopflow.errors import FieldError
from sopflow.spec import classifications
from sopflow.spec.models import (
    DateField,
    EnumField,
    FieldSpec,
    MoneyField,
    NumberField,
    SimpleField,
    StringField,
)

# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is the mail
# provider's business; this catches typos such as a missing '@' or a trailing comma.
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
MAX_TEXT = 20_000


class _Bad(ValueError):
    """A value refused: its code, the English message, and what the message says as
    values (``FieldError.params``: a page says it in its reader's language)."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params


def is_country(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code of a country (any case)."""
    code = code.strip().upper()
    return len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None


def _holds_nul(raw: Any) -> bool:
    if isinstance(raw, str):
        return "\x00" in raw
    if isinstance(raw, Mapping):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in raw.items())
    if isinstance(raw, list | tuple):
        return any(_holds_nul(v) for v in raw)
    return False


# a number as people write it: digits, an optional sign and decimal point; not 1e400
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise _Bad("wrong-type", "expected a number", expected="number")
    text = str(raw).strip()
    if not _PLAIN_NUMBER.match(text):
        raise _Bad("wrong-type", f"'{raw}' is not a number written in digits (like 1500.50)",
                   expected="number")  # fmt: skip
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise _Bad("wrong-type", f"'{raw}' is not a number", expected="number") from exc
    if not value.is_finite():
        raise _Bad("wrong-type", "expected a finite number", expected="number")
    return value


def _bounds(value: Any, low: Any, high: Any, unit: str = "") -> None:
    if low is not None and value < low:
        raise _Bad(
            "out-of-range", f"must be at least {low}{unit}", bound="min", limit=f"{low}{unit}"
        )
    if high is not None and value > high:
        raise _Bad(
            "out-of-range", f"must be at most {high}{unit}", bound="max", limit=f"{high}{unit}"
        )


def _string(spec: StringField, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Bad("wrong-type", "expected a text", expected="text")
    value = raw.strip()
    if len(value) > (spec.max_length or MAX_TEXT):
        limit = spec.max_length or MAX_TEXT
        raise _Bad("too-long", f"at most {limit} characters", limit=limit)
    if spec.min_length is not None and len(value) < spec.min_length:
        raise _Bad("too-short", f"at least {spec.min_length} characters", limit=spec.min_length)
    if spec.type == "email" and not EMAIL.match(value):
        raise _Bad("invalid-email", f"'{value}' is not an e-mail address", value=value)
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        # the SOP's own words for the format when it gives some, else the pattern itself
        shown = f": {spec.help.en}" if spec.help else f" {spec.pattern}"
        raise _Bad(
            "pattern-mismatch",
            f"'{value}' does not match the expected format{shown}",
            value=value,
            pattern=spec.pattern,
        )
    return value


def _number(spec: NumberField, raw: Any) -> int | str:
    value = _decimal(raw)
    if spec.type == "integer":
        if value != value.to_integral_value():
            raise _Bad("wrong-type", "expected a whole number", expected="integer")
        _bounds(value, spec.min, spec.max)
        return int(value)
    _bounds(value, spec.min, spec.max)
    return str(value)


def _money(spec: MoneyField, raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping) or set(raw) != {"amount", "currency"}:
        raise _Bad("wrong-type", 'expected {"amount": "...", "currency": "XXX"}', expected="money")
    currency = raw["currency"].strip().upper() if isinstance(raw["currency"], str) else None
    if currency is None or pycountry.currencies.get(alpha_3=currency) is None:
        raise _Bad(
            "invalid-currency",
            f"'{raw['currency']}' is not an ISO 4217 currency code",
            value=raw["currency"],
        )
    if spec.currencies and currency not in spec.currencies:
        raise _Bad(
            "invalid-currency",
            f"currency must be one of {', '.join(spec.currencies)}",
            value=currency,
            allowed=list(spec.currencies),
        )
    amount = _decimal(raw["amount"])
    _bounds(amount, spec.min, spec.max, f" {currency}")
    return {"amount": str(amount), "currency": currency}


def _date(spec: DateField, raw: Any) -> str:
    if isinstance(raw, datetime):
        raise _Bad(
            "wrong-type", "expected a date (YYYY-MM-DD), not a date and time", expected="date"
        )
    if isinstance(raw, date):
        value = raw
    elif isinstance(raw, str):
        try:
            if not _ISO_DATE.match(raw.strip()):  # fromisoformat also reads 20261206
                raise ValueError(raw)
            value = date.fromisoformat(raw.strip())
        except ValueError as exc:
            raise _Bad(
                "wrong-type", f"'{raw}' is not a date (YYYY-MM-DD)", expected="date"
            ) from exc
    else:
        raise _Bad("wrong-type", "expected a date (YYYY-MM-DD)", expected="date")
    _bounds(value, spec.min, spec.max)
    return value.isoformat()


def _simple(spec: SimpleField, raw: Any) -> bool | str:
    if spec.type == "boolean":
        if not isinstance(raw, bool):
            raise _Bad("wrong-type", "expected true or false", expected="boolean")
        return raw
    if not isinstance(raw, str):
        raise _Bad("wrong-type", "expected a code (text)", expected="code")
    code = raw.strip().upper() if spec.type in ("country", "isic") else raw.strip()
    if spec.type == "country":
        if not is_country(code):
            raise _Bad(
                "invalid-country", f"'{raw}' is not an ISO 3166-1 alpha-2 country code", value=raw
            )
    elif spec.type == "isco08":
        if not classifications.is_isco08(code):
            raise _Bad("invalid-isco08", f"'{raw}' is not an ISCO-08 occupation code", value=raw)
    elif not classifications.is_isic4(code):
        raise _Bad("invalid-isic", f"'{raw}' is not an ISIC Rev.4 code", value=raw)
    return code


def _enum(spec: EnumField, raw: Any) -> str:
    allowed = [v.id for v in spec.values]
    if raw not in allowed:
        raise _Bad(
            "not-in-enum",
            f"'{raw}' is not one of: {', '.join(allowed)}",
            value=raw,
            allowed=allowed,
        )
    return str(raw)


def normalise_value(spec: FieldSpec, raw: Any) -> Any:
    """The stored (JSON) form of ``raw``, or raise ``ValueError`` with ``code``/``message``."""
    if isinstance(spec, StringField):
        return _string(spec, raw)
    if isinstance(spec, NumberField):
        return _number(spec, raw)
    if isinstance(spec, MoneyField):
        return _money(spec, raw)
    if isinstance(spec, DateField):
        return _date(spec, raw)
    if isinstance(spec, EnumField):
        return _enum(spec, raw)
    return _simple(spec, raw)


def validate_data(
    fields: Mapping[str, FieldSpec],
    data: Mapping[str, Any],
    *,
    allowed: frozenset[str] | None = None,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Normalise every value of ``data``; collect every error (unknown or bad fields).

    ``allowed`` restricts which fields may be written (a transition's ``sets``);
    ``None`` allows every declared field. A null value removes an optional field.
    """
    clean: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, raw in data.items():
        spec = fields.get(name)
        if spec is None:
            errors.append(FieldError(name, "unknown-field", "no such field in this SOP"))
            continue
        if allowed is not None and name not in allowed:
            errors.append(FieldError(name, "field-not-settable", "may not be set by this step"))
            continue
        if _holds_nul(raw):  # PostgreSQL cannot store it: refused on every database alike
            errors.append(
                FieldError(
                    name, "nul-character", "holds a NUL character (0x00), which cannot be stored"
                )
            )
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):  # blank is empty
            if spec.required:
                errors.append(FieldError(name, "missing-field", "is required"))
            else:
                clean[name] = None
            continue
        try:
            clean[name] = normalise_value(spec, raw)
        except _Bad as exc:
            errors.append(FieldError(name, exc.code, exc.message, exc.params))
    return clean, errors


def missing_required(fields: Mapping[str, FieldSpec], data: Mapping[str, Any]) -> list[FieldError]:
    return [
        FieldError(name, "missing-field", "is required")
        for name, spec in fields.items()
        if spec.required and data.get(name) in (None, "")
    ]


def typed_value(spec: FieldSpec, stored: Any) -> Any:
    """The Python value a condition sees for a stored value."""
    if stored is None:
        return None
    if isinstance(spec, MoneyField):
        return {"amount": Decimal(stored["amount"]), "currency": stored["currency"]}
    if isinstance(spec, NumberField) and spec.type == "decimal":
        return Decimal(stored)
    if isinstance(spec, DateField):
        return date.fromisoformat(stored)
    return stored


# A value of each kind, as a condition sees it: what the linter evaluates conditions on
# to find one that compares a text with a number (it could never be computed).
_SAMPLES: dict[str, Any] = {
    "string": "x", "text": "x", "email": "someone@example.org", "integer": 1,
    "decimal": Decimal(1), "date": date(2026, 1, 1), "boolean": True, "country": "EG",
    "isco08": "7112", "isic": "4100",
}  # fmt: skip


def sample_env(fields: Mapping[str, FieldSpec], today: date) -> dict[str, Any]:
    """Every field set to a value of its type (``today`` too), as ``typed_env`` gives them."""
    env: dict[str, Any] = {}
    for name, spec in fields.items():
        if isinstance(spec, MoneyField):
            env[name] = {"amount": Decimal(1), "currency": (spec.currencies or ["USD"])[0]}
        elif isinstance(spec, EnumField):
            env[name] = spec.values[0].id
        else:
            env[name] = _SAMPLES[spec.type]
    env["today"] = today
    return env


def typed_env(
    fields: Mapping[str, FieldSpec], data: Mapping[str, Any], today: date
) -> dict[str, Any]:
    env: dict[str, Any] = {name: typed_value(spec, data.get(name)) for name, spec in fields.items()}
    env["today"] = today
    return env
