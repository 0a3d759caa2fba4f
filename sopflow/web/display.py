"""A field's value as a person reads it: an enum's label rather than its id, yes/no, a
country's name in the reader's language, an occupation's ISCO-08 or an industry's ISIC
Rev.4 code with its title (in the reader's language where it is translated), a date as the
reader's language writes it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency
from markupsafe import Markup

from sopflow import countries
from sopflow.spec.classifications import Classification, title
from sopflow.web.i18n import WORDS, day, t

CLASSIFIED: dict[str, Classification] = {"isco08": "isco08", "isic": "isic4"}  # field type


def country_name(code: str, lang: str) -> str:
    return countries.country_name(code, lang) or code


def coded(value: str, classification: Classification, lang: str) -> str:
    """A classification's code with its title in ``lang``; a title that is only in English
    (the lower levels) is marked ``lang="en"``, as the pages mark any English fallback."""
    said = title(classification, value, lang)
    if said is None:
        return value
    text, text_lang = said
    if text_lang == lang:
        return f"{value} {text}"
    return Markup('{} <span lang="en" dir="ltr">{}</span>').format(value, text)


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
    if kind in CLASSIFIED:
        return coded(str(value), CLASSIFIED[kind], lang)
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
            status=t(f"licence_{status}", lang) if f"licence_{status}" in WORDS else status,
            expires=day(str(entry["expires"]), lang) if entry.get("expires") else "-",
        )  # fmt: skip
    if "prior_contracts" in entry:
        return t("grounds_counted", lang).format(**entry)
    values = ", ".join(f"{k} {v}" for k, v in entry.items() if k != "rule")
    return f"{entry.get('rule', '')}: {values}"
