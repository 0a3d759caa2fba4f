"""What the statistics say beyond the pages' words (``stats_words.yaml``), in the reader's
language: the measures' definitions (``stats_definitions.yaml``) and the tables' notes
(``stats_notes.yaml``), each with the language it is in: English, from ``sopflow/analytics``,
where a translation is missing (a page marks it ``lang="en"``). The API's answer is the
table in the same words (``table_json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from sopflow.analytics.model import Column, Labeller, Table
from sopflow.analytics.notes import Note
from sopflow.web import i18n

_HERE = Path(__file__).parent
# table -> measure -> {fr, ar}: the measures' definitions translated (their English is the
# Column's description, in sopflow/analytics)
DEFINITIONS: dict[str, dict[str, dict[str, str]]] = YAML(typ="safe").load(
    (_HERE / "stats_definitions.yaml").read_text("utf-8"))  # fmt: skip
# note code -> {fr, ar}: the notes translated (their English is sopflow.analytics.notes)
NOTES: dict[str, dict[str, str]] = YAML(typ="safe").load(
    (_HERE / "stats_notes.yaml").read_text("utf-8"))  # fmt: skip


def heading(kind: str, name: str, lang: str) -> str:
    """The words for a dimension (``d``), measure (``m``) or headline figure (``s``)."""
    key = f"st_{kind}_{name}"
    return i18n.t(key, lang) if key in i18n.WORDS else name


def definition(table: str, measure: Column, lang: str) -> tuple[str, str]:
    """A measure's definition in ``lang`` from stats_definitions.yaml, and the language it
    is in: the English of the measure's Column where ``lang`` is English or the translation
    is missing (the page then marks it ``lang="en"``)."""
    said = DEFINITIONS.get(table, {}).get(measure.name, {}).get(lang)
    return (said, lang) if said else (measure.description, "en")


def note(said: Note, labels: Labeller, lang: str) -> tuple[str, str]:
    """A note in ``lang`` from stats_notes.yaml, its dimension named by its heading and its
    SOP by its title, and the language it is in: English (``str(note)``, codes as they
    are) where ``lang`` is English or the translation is missing."""
    text = NOTES.get(said.code, {}).get(lang)
    if not text:
        return str(said), "en"
    words = {name: heading("d", str(value), lang) if name == "dimension"
             else labels("sop", str(value), lang) if name == "sop" else str(value)
             for name, value in said.params.items()}  # fmt: skip
    return text.format(**words), lang


def table_json(table: Table, labels: Labeller, lang: str) -> dict[str, Any]:
    """The table for programs in ``lang``: labels, the measures' descriptions, the notes and,
    in French or Arabic, the title and definition the page shows; codes stay codes."""
    said = table.to_json(labels, lang, describe=lambda m: definition(table.name, m, lang)[0],
                         say=lambda n: note(n, labels, lang)[0])  # fmt: skip
    if lang != "en":
        said["title"] = i18n.t(f"st_t_{table.name}", lang)
        said["definition"] = i18n.t(f"st_def_{table.name}", lang)
    return said
