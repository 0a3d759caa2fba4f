"""A field's value as a person reads it: an enum's label rather than its id, yes/no, a
country's name in the reader's language, an occupation's ISCO-08 title, a date as the
reader's language writes it."""

from __future__ import annotations

import gettext
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import pycountry
from babel.numbers import format_currency

from sopflow.spec.classifications import isco08_title, isic4_title
from sopflow.web.i18n import day, t


@cache
def _countries(lang: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang],
                               fallback=True)  # fmt: skip


def country_name(code: str, lang: str) -> str:
    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    return _countries(lang).gettext(country.name) if country else code


def money(value: dict[str, Any], lang: str) -> str:
    """An amount as the reader's language writes it (1 234,50 €, US$1,234.50, ١٬٢٣٤٫٥٠ US$),
    with its currency's own decimals; as stored when it is not a number or no currency."""
    currency = str(value.get("currency") or "").strip().upper()
    try:
        amount = Decimal(str(value["amount"]))
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or len(currency) != 3:
        return f"{value['amount']} {currency}".strip()
    return str(format_currency(amount, currency, locale=lang))


def display(value: Any, spec: Any, lang: str) -> str:
    """``spec`` is the SOP's field (None for data the SOP no longer declares)."""
    if value is None or value == "":
        return ""
    kind = getattr(spec, "type", None)
    if isinstance(value, dict) and "amount" in value:
        return money(value, lang)
    if kind == "boolean" or isinstance(value, bool):
        return t("yes" if value else "no", lang)
    if kind == "enum":
        labels = {v.id: v.label.get(lang) for v in spec.values}
        return str(labels.get(str(value), value))
    if kind == "country":
        return country_name(str(value), lang)
    if kind == "isco08":
        title = isco08_title(str(value))
        return f"{value} {title}" if title else str(value)
    if kind == "isic":
        title = isic4_title(str(value))
        return f"{value} {title}" if title else str(value)
    if kind == "date":
        return day(str(value), lang)
    return str(value)


def grounds(entry: dict[str, Any], lang: str) -> str:
    """What a rule relied on from outside the request when a step passed it, as recorded
    with the event (``states.rules.RuleResult.grounds``), in words; the rule and its values
    as they stand when the rule is one these words do not know."""
    if "licence" in entry:
        status = str(entry.get("status") or "")
        return t("grounds_licence", lang).format(
            licence=entry["licence"], agency=entry.get("agency", ""),
            status=t(f"licence_{status}", lang) if status in _LICENCE_STATUSES else status,
            expires=day(str(entry["expires"]), lang) if entry.get("expires") else "-",
        )  # fmt: skip
    if "prior_contracts" in entry:
        return t("grounds_counted", lang).format(**entry)
    values = ", ".join(f"{k} {v}" for k, v in entry.items() if k != "rule")
    return f"{entry.get('rule', '')}: {values}"


_LICENCE_STATUSES = frozenset({"active", "suspended", "cancelled"})
