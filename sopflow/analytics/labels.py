"""Labels for the keys of a table, in English, French or Arabic: the SOPs' own labels
(states, roles, reasons, steps, enumerations), the classifications' titles (ISCO-08,
ISIC Rev.4: French and Arabic for the upper levels, English below them) and country names
in the reader's language; the keys themselves otherwise. ``Labels.said`` also tells the
language a label is in, so that a page can mark an English one."""

from __future__ import annotations

from collections.abc import Iterable

from sopflow.analytics.dimensions import FROM_SOP_FIELD, NOT_UNIT_GROUP
from sopflow.analytics.flows import FLOW, INFLOW, OUTFLOW, flow_of, undetermined
from sopflow.analytics.grouping import OPEN_ROLE
from sopflow.analytics.model import NOT_IN_SOP, NOT_RECORDED
from sopflow.countries import country_name
from sopflow.spec.classifications import Classification, title
from sopflow.spec.models import EnumField, Localized
from states.machine import CompiledSop

WORDS: dict[str, dict[str, str]] = {
    NOT_RECORDED: {"en": "not recorded", "fr": "non renseigné", "ar": "غير مسجل"},
    NOT_IN_SOP: {"en": "not recorded by this SOP", "fr": "non relevé par cette procédure",
                 "ar": "لا يسجله هذا الإجراء"},
    NOT_UNIT_GROUP: {"en": "not coded to unit group", "fr": "non codé au niveau du groupe de base",
                     "ar": "غير مرمّز على مستوى المجموعة الأولية"},
    OPEN_ROLE: {"en": "not yet acted", "fr": "pas encore traité", "ar": "لم يُتخذ إجراء بعد"},
    "approved": {"en": "approved", "fr": "approuvée", "ar": "موافق عليه"},
    "rejected": {"en": "rejected", "fr": "refusée", "ar": "مرفوض"},
    "withdrawn": {"en": "withdrawn", "fr": "retirée", "ar": "مسحوب"},
    "expired": {"en": "expired", "fr": "expirée", "ar": "منتهي الصلاحية"},
    "open": {"en": "open", "fr": "en cours", "ar": "قيد المعالجة"},
    OUTFLOW: {"en": "outflow: workers placed abroad (country of origin)",
              "fr": "flux sortant : travailleurs placés à l'étranger (pays d'origine)",
              "ar": "التدفق إلى الخارج: عمال أُلحقوا بالعمل في الخارج (بلد المنشأ)"},
    INFLOW: {"en": "inflow: foreign workers admitted (country of destination)",
             "fr": "flux entrant : travailleurs étrangers admis (pays de destination)",
             "ar": "التدفق إلى الداخل: عمال أجانب مرخَّص لهم بالعمل (بلد المقصد)"},
    "authority": {"en": "the authority", "fr": "l'administration", "ar": "الجهة المختصة"},
    "requester": {"en": "the requester", "fr": "le demandeur", "ar": "مقدم الطلب"},
    "third_party": {"en": "a third party", "fr": "un tiers", "ar": "طرف ثالث"},
}  # fmt: skip
GENERIC = frozenset({NOT_RECORDED, NOT_IN_SOP, NOT_UNIT_GROUP, OPEN_ROLE})  # any dimension
# an SOP whose mapping does not tell its flow: its own flow, named after it (flows.py)
OWN_FLOW = {"en": "flow not determined: {sop}", "fr": "flux non déterminé : {sop}",
            "ar": "تدفق غير محدد: {sop}"}  # fmt: skip
VOCABULARY = {"outcome": ("approved", "rejected", "withdrawn", "expired", "open"),
              FLOW: (OUTFLOW, INFLOW),
              "waiting_on": ("authority", "requester", "third_party")}  # fmt: skip
CLASSIFIED: dict[str, Classification] = {"occupation_major": "isco08",
                                          "occupation_unit": "isco08",
                                          "industry_section": "isic4"}  # fmt: skip


class Labels:
    """``labels(dimension, key, lang)``: what people read for a key of a table."""

    def __init__(self, sops: Iterable[CompiledSop]) -> None:
        self.text: dict[tuple[str, str], Localized] = {}
        for sop in sorted(sops, key=lambda s: s.key, reverse=True):  # newest version wins
            spec = sop.spec
            self._put("sop", spec.id, spec.title)
            if undetermined(flow := flow_of(spec)):
                named = {lang: text.format(sop=spec.title.get(lang))
                         for lang, text in OWN_FLOW.items()}  # fmt: skip
                self._put(FLOW, flow, Localized(**named))
            for state in spec.states:
                self._put("stage", state.id, state.label)
            for role in spec.roles:
                self._put("role", role.id, role.title)
            for reason in spec.reason_codes:
                self._put("reason", reason.id, reason.label)
            for tr in spec.transitions:
                self._put("trigger", tr.trigger, tr.label)
            for dim, key in FROM_SOP_FIELD.items():
                field = sop.fields.get(spec.statistics.get(key, ""))
                if isinstance(field, EnumField):
                    for value in field.values:
                        self._put(dim, value.id, value.label)

    def _put(self, dimension: str, key: str, text: Localized) -> None:
        self.text[(dimension, key)] = text

    def __call__(self, dimension: str, key: str, lang: str) -> str:
        return self.said(dimension, key, lang)[0]

    def said(self, dimension: str, key: str, lang: str) -> tuple[str, str]:
        """The label of ``key`` and the language it is in (``lang``, or ``"en"`` where a
        translation is missing); a key without a label is itself, said to be in ``lang``."""
        found = self.text.get((dimension, key))
        if found is not None:
            return found.get(lang), lang if getattr(found, lang, None) else "en"
        if key in GENERIC or key in VOCABULARY.get(dimension, ()):
            return (WORDS[key][lang], lang) if WORDS[key].get(lang) else (WORDS[key]["en"], "en")
        classification = CLASSIFIED.get(dimension)
        if classification is not None:
            return title(classification, key, lang) or (key, lang)
        if dimension in ("destination_country", "origin_country", "citizenship"):
            return country_name(key, lang) or key, lang
        return key, lang
