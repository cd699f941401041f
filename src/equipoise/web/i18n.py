"""Languages of the web pages: gettext catalogues compiled from their .po files at import, the user's choice of
language (a cookie, else the browser's Accept-Language), and dates and numbers in that language.

The .po files are the source (``locale/<language>/LC_MESSAGES/messages.po``); they are compiled in memory when
this module is imported, so a fresh clone needs no build step and no .mo file is ever out of date.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from markupsafe import Markup, escape

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = {"en": "English", "zh_Hans": "中文（简体）"}  # shown in the language switch, each in its own language
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "equipoise_lang"


def _compile(language: str) -> NullTranslations:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


CATALOGUES: dict[str, NullTranslations] = {language: _compile(language) for language in LANGUAGES}


def _babel_locale(language: str) -> Locale:
    return Locale.parse("zh_Hans_CN" if language == "zh_Hans" else "en_GB")


def language_from(cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: the switch's cookie, else the first language of Accept-Language we have."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower().replace("_", "-")
        if tag.startswith("zh"):
            # Traditional Chinese readers get Simplified rather than English: it is closer
            return "zh_Hans"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Language:
    """One request's language: ``_`` for templates and page handlers, and Babel's formats of dates and numbers."""

    code: str

    @property
    def html_lang(self) -> str:
        return "zh-Hans" if self.code == "zh_Hans" else "en"

    def gettext(self, message: str, **values: Any) -> str:
        """The translation of ``message`` (the English when there is none), with %(name)s filled from ``values``
        (escaped: a value never becomes markup)."""
        text = CATALOGUES[self.code].gettext(message)
        if not values:
            return text
        return text % {k: escape(v) if isinstance(v, Markup | str) else v for k, v in values.items()}

    def number(self, value: float | int) -> str:
        return format_decimal(value, locale=_babel_locale(self.code))

    def date(self, value: dt.date | str | None) -> str:
        if value is None:
            return ""
        day = dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value
        return format_date(day, format="medium", locale=_babel_locale(self.code))

    def datetime(self, value: dt.datetime | str | None, timezone: str = "UTC") -> str:
        """A moment stored in UTC, shown in ``timezone`` (the site's) with the zone's name."""
        if value is None:
            return ""
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        shown = format_datetime(moment, format="medium", tzinfo=ZoneInfo(timezone), locale=_babel_locale(self.code))
        return f"{shown} ({timezone})"
