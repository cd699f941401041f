"""What free text the trial accepts: a length limit and a character policy, the same for every way text comes in.

A form's text field, a reason for a change, a query's text, an off-study note: each is checked here, by the
form checks (``DataField.check``), the request bodies of the API and the services the command line calls, so a
value that one path refuses no other path stores.

- Line ends are normalised: ``\\r\\n`` and a bare ``\\r`` become ``\\n`` (a value pasted from a Windows or old
  Mac program reads the same everywhere, and a bare ``\\r`` broke CSV readers downstream).
- Control characters are refused, except tab and new line: C0 (U+0000-U+001F but U+0009 and U+000A), DEL and the
  C1 block (U+007F-U+009F), the unpaired surrogates (U+D800-U+DFFF, which no UTF-8 file can hold) and the
  non-characters U+FFFE and U+FFFF. What is left is exactly what XML 1.0 allows (its ``Char`` production,
  W3C XML 1.0 §2.2) minus the C1 controls, so an accepted value is also a well-formed ODM attribute.
- Length: at most ``MAX_TEXT_LENGTH`` characters in a form's text field, ``MAX_NOTE_LENGTH`` in a reason, note
  or message. A 1 MB value in one form made every whole-trial export unreadable for the committee.

References: W3C, Extensible Markup Language (XML) 1.0, 5th ed., §2.2 Characters and §2.11 End-of-Line Handling;
Unicode 15.0 §23.1 (control codes) and §23.7 (noncharacters).
"""

from __future__ import annotations

import re

MAX_TEXT_LENGTH = 10_000  # characters in a form's or the enrolment's text field
MAX_NOTE_LENGTH = 4_000  # characters in a reason, note or query message

# Everything the policy refuses (after line ends are normalised, so \r is not among what remains to refuse).
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def normalised_text(text: str) -> str:
    """``text`` with Windows (``\\r\\n``) and old Mac (``\\r``) line ends as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_problem(text: str, limit: int = MAX_TEXT_LENGTH) -> str | None:
    """Why ``text`` (after its line ends are normalised) is not acceptable, for the person typing it; or None."""
    text = normalised_text(text)
    if len(text) > limit:
        return f"is {len(text):,} characters long: at most {limit:,} are allowed"
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        return (f"contains the control character U+{ord(bad.group()):04X} at character {bad.start() + 1}: "
                "only printable text, tabs and new lines are allowed")
    return None


def checked_text(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """``text`` with its line ends normalised; ValueError (with the reason) if the policy refuses it.

    The request bodies use this as a validator, so the API's 422 names the field."""
    problem = text_problem(text, limit)
    if problem is not None:
        raise ValueError(f"the text {problem}")
    return normalised_text(text)
