"""The messages of the pages' templates and modules, and the catalogues that translate them.

``python -m equipoise.web.catalogues`` adds every new message to each ``messages.po`` (with an empty
translation to fill in); tests/web/test_catalogues.py fails while any message has no Chinese translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract, extract_from_dir
from babel.messages.pofile import read_po, write_po

from equipoise.web.i18n import LANGUAGES, LOCALE_DIR

WEB = Path(__file__).resolve().parent
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.do", "trim_blocks": "true", "lstrip_blocks": "true"}}
KEYWORDS = {"_": None, "N_": None, "gettext": None}
# figures drawn in the reader's language (their texts go through the gettext the page hands them)
TRANSLATED_FIGURES = [WEB.parent / "figures" / "seed_story.py"]


def extracted() -> dict[str, str]:
    """msgid -> where it was first found (file:line)."""
    found: dict[str, str] = {}
    for filename, line, message, _comments, _context in extract_from_dir(WEB, METHODS, OPTIONS, KEYWORDS):
        if isinstance(message, str) and message:
            found.setdefault(message, f"{filename}:{line}")
    for path in TRANSLATED_FIGURES:
        with path.open("rb") as source:
            for line, message, _comments, _context in extract("python", source, KEYWORDS):
                if isinstance(message, str) and message:
                    found.setdefault(message, f"../figures/{path.name}:{line}")
    return found


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def read_catalogue(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, project="Equipoise", charset="utf-8")
    with path.open("rb") as po:
        return read_po(po, locale=language)


def update() -> list[str]:
    """Add new messages to every catalogue (English: translated as themselves); the ones added."""
    messages = extracted()
    added: list[str] = []
    for language in LANGUAGES:
        catalogue = read_catalogue(language)
        for message, where in messages.items():
            if message not in catalogue:
                catalogue.add(message, message if language == "en" else "", locations=[(where.split(":")[0], 0)])
                added.append(f"{language}: {message}")
        po_path(language).parent.mkdir(parents=True, exist_ok=True)
        with po_path(language).open("wb") as po:
            write_po(po, catalogue, width=120, omit_header=False, sort_output=False, include_lineno=False)
    return added


if __name__ == "__main__":
    for line in update():
        sys.stdout.write(line + "\n")
