"""The free text people type besides form values (reasons, notes, query messages), checked by the text policy.

Every service takes its reasons and notes through ``clean_text`` (required) or ``optional_text``, so the command
line and the API refuse the same text (``equipoise.protocol.text_policy``: no control characters but tab and new
line, line ends normalised, at most ``MAX_NOTE_LENGTH`` characters).
"""

from __future__ import annotations

from equipoise.errors import InvalidError
from equipoise.protocol.text_policy import MAX_NOTE_LENGTH, normalised_text, text_problem


def optional_text(text: str | None, what: str) -> str | None:
    """The text, line ends normalised and stripped, or None when it is empty; InvalidError naming ``what``."""
    if text is None or not text.strip():
        return None
    problem = text_problem(text, MAX_NOTE_LENGTH)
    if problem is not None:
        raise InvalidError(f"{what} {problem}", {"errors": {what: problem}})
    return normalised_text(text).strip()


def clean_text(text: str | None, what: str) -> str:
    """Required text: as ``optional_text``, and InvalidError when it is empty."""
    cleaned = optional_text(text, what)
    if cleaned is None:
        raise InvalidError(f"{what} is required")
    return cleaned
