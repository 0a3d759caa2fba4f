"""The words of the pages in the three working languages (the SOPs bring their own labels)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.units import format_unit
from ruamel.yaml import YAML

LANGS = ("en", "fr", "ar")
RTL = frozenset({"ar"})

WORDS: dict[str, dict[str, str]] = {
    "sign_in": {"en": "Sign in", "fr": "Se connecter", "ar": "تسجيل الدخول"},
    "sign_out": {"en": "Sign out", "fr": "Se déconnecter", "ar": "تسجيل الخروج"},
    "email": {"en": "E-mail", "fr": "Courriel", "ar": "البريد الإلكتروني"},
    "password": {"en": "Password", "fr": "Mot de passe", "ar": "كلمة المرور"},
    "bad_login": {"en": "Unknown e-mail or wrong password.",
                  "fr": "Courriel inconnu ou mot de passe erroné.",
                  "ar": "البريد الإلكتروني غير معروف أو كلمة المرور غير صحيحة."},
    "too_many": {"en": "Too many failed attempts: try again in a few minutes.",
                 "fr": "Trop de tentatives échouées : réessayez dans quelques minutes.",
                 "ar": "محاولات فاشلة كثيرة: أعد المحاولة بعد بضع دقائق."},
    "requests": {"en": "Requests", "fr": "Demandes", "ar": "الطلبات"},
    "reference": {"en": "Reference", "fr": "Référence", "ar": "الرقم المرجعي"},
    "procedure": {"en": "Procedure", "fr": "Procédure", "ar": "الإجراء"},
    "state": {"en": "State", "fr": "État", "ar": "الحالة"},
    "deadline": {"en": "Deadline", "fr": "Échéance", "ar": "الموعد النهائي"},
    "overdue": {"en": "overdue", "fr": "en retard", "ar": "متأخر"},
    "none": {"en": "No request.", "fr": "Aucune demande.", "ar": "لا توجد طلبات."},
    "data": {"en": "Request data", "fr": "Données de la demande", "ar": "بيانات الطلب"},
    "documents": {"en": "Documents", "fr": "Pièces", "ar": "المستندات"},
    "history": {"en": "History", "fr": "Historique", "ar": "السجل"},
    "actions": {"en": "What you may do now", "fr": "Ce que vous pouvez faire",
                "ar": "الإجراءات المتاحة لك الآن"},
    "no_action": {"en": "Nothing is expected from you at this stage.",
                  "fr": "Rien n'est attendu de vous à cette étape.",
                  "ar": "لا يُنتظر منك أي إجراء في هذه المرحلة."},
    "comment": {"en": "Comment", "fr": "Commentaire", "ar": "تعليق"},
    "reason": {"en": "Reason", "fr": "Motif", "ar": "السبب"},
    "refused_because": {"en": "Refused:", "fr": "Refusé :", "ar": "مرفوض:"},
    "language": {"en": "Language", "fr": "Langue", "ar": "اللغة"},
    "submit": {"en": "Submit the request", "fr": "Déposer la demande", "ar": "تقديم الطلب"},
    "new_request": {"en": "New request", "fr": "Nouvelle demande", "ar": "طلب جديد"},
    "inbox": {"en": "My inbox", "fr": "À traiter", "ar": "الطلبات المعروضة عليّ"},
    "due_soon": {"en": "due soon", "fr": "échéance proche", "ar": "الموعد قريب"},
    "as_of": {"en": "As it was after step", "fr": "Tel qu'après l'étape",
              "ar": "كما كان بعد الخطوة"},
    "chain_ok": {"en": "Hash chain verified: intact.",
                 "fr": "Chaîne d'empreintes vérifiée : intacte.",
                 "ar": "تم التحقق من سلسلة البصمات: سليمة."},
    "chain_broken": {"en": "Hash chain NOT intact", "fr": "Chaîne d'empreintes NON intacte",
                     "ar": "سلسلة البصمات غير سليمة"},
    "notified": {"en": "notified", "fr": "notifié", "ar": "أُبلغ"},
}  # fmt: skip
WORDS.update(YAML(typ="safe").load((Path(__file__).parent / "words.yaml").read_text("utf-8")))
WORDS.update(YAML(typ="safe").load((Path(__file__).parent / "stats_words.yaml").read_text("utf-8")))


def pick(lang: str | None) -> str:
    return lang if lang in LANGS else "en"


def accepted(header: str) -> str:
    """The first of our languages a browser's Accept-Language names (by weight), else en."""
    ranked = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, position, tag.strip().lower()[:2]))
    for weight, _, lang in sorted(ranked):
        if lang in LANGS and weight < 0:
            return lang
    return "en"


def t(key: str, lang: str) -> str:
    return WORDS[key].get(lang) or WORDS[key]["en"]


def localized(value: Any, lang: str) -> str:
    """An SOP's multilingual text in ``lang`` (its own fallback rules)."""
    return str(value.get(lang))


def day(value: date | str | None, lang: str) -> str:
    """A date as people of ``lang`` write it (29 novembre 2026, ٢٩ نوفمبر ٢٠٢٦)."""
    if not value:
        return ""
    when = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return format_date(when, "long", locale=lang)


def moment(value: datetime | str | None, lang: str, tz: str = "UTC") -> str:
    """A stored (UTC) time as local time of ``tz`` (the SOP's authority), in ``lang``'s
    way of writing it, with the zone named so nobody misreads it."""
    if not value:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    zone = ZoneInfo(tz)
    local = when.astimezone(zone)
    clock = format_time(local, "short", locale=lang)
    return f"{format_date(local, 'medium', locale=lang)} {clock} ({local.tzname()})"


def megabytes(size: int, lang: str) -> str:
    """A size in megabytes, in the reader's units (24 MB, 24 Mo, 24 م.ب)."""
    return str(format_unit(round(size / 1_000_000, 1), "digital-megabyte", length="short",
                           locale=lang))  # fmt: skip


def file_size(size: int, lang: str) -> str:
    """109 B, 12,5 ko, 1.2 م.ب: a document's size in the reader's units."""
    for unit, scale in (("digital-megabyte", 1_000_000), ("digital-kilobyte", 1_000)):
        if size >= scale:
            return str(format_unit(round(size / scale, 1), unit, length="short", locale=lang))
    return str(format_unit(size, "digital-byte", length="short", locale=lang))


# Punctuation between a label and what it labels, and between the items of a list of
# clauses: French puts a (narrow) space before the colon and the semicolon; Arabic has its
# own semicolon.
_COLON = {"fr": "\u00a0:"}
_CLAUSES = {"fr": "\u00a0; ", "ar": "؛ "}


def colon(lang: str) -> str:
    return _COLON.get(lang, ":")


def clauses(items: list[str], lang: str) -> str:
    return _CLAUSES.get(lang, "; ").join(items)
