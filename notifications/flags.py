"""A rule's flag said in a notice's language.

Flags are recorded in English with their event (states/rules.py: the record's language,
covered by the event's hash). A notice reads each one back against the sentence it was
made from and says it in the recipient's language with the same values; one that matches
no sentence (recorded by an older rule) is given as recorded: a flag is never dropped.
"""

from __future__ import annotations

import re

from states.rules import FLAG_RENEWAL_EXEMPT, FLAG_WORKER_FEE, FLAGS

SAID: dict[str, dict[str, str]] = {
    FLAG_WORKER_FEE: {
        "fr": "frais à la charge du travailleur : {fee}",
        "ar": "رسوم مفروضة على العامل: {fee}",
    },
    FLAG_RENEWAL_EXEMPT: {
        "fr": "renouvellement au titre de l'exemption des projets agréés",
        "ar": "تجديد في إطار إعفاء المشاريع المعتمدة",
    },
}


def _pattern(sentence: str) -> re.Pattern[str]:
    """The sentence with each ``{name}`` as a group that takes any text."""
    parts = re.split(r"\{(\w+)\}", sentence)
    body = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+)" for i, p in enumerate(parts))
    return re.compile(body)


_READ = [(sentence, _pattern(sentence)) for sentence in FLAGS]


def say(flag: str, locale: str) -> str:
    """``flag`` (as recorded) in ``locale``."""
    for sentence, pattern in _READ:
        found = pattern.fullmatch(flag)
        if found:
            return SAID.get(sentence, {}).get(locale, sentence).format(**found.groupdict())
    return flag
