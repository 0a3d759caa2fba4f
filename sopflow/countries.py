"""Country names in the reader's language: ISO 3166-1 alpha-2 codes named by pycountry, in
French and Arabic from its translations. One place for the request pages and the statistics."""

from __future__ import annotations

import gettext
from functools import cache

import pycountry


@cache
def _names(lang: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang],
                               fallback=True)  # fmt: skip


def country_name(code: str, lang: str) -> str | None:
    """The name of the country ``code`` (alpha-2, any case) in ``lang``, or None if it is
    not one."""
    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    return _names(lang).gettext(country.name) if country else None
