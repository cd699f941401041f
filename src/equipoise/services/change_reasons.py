"""The reasons for changing data after its first save: a pick list plus free text (AUD-4).

ICH E6(R3) §4.2.2 asks that every change to data keep its reason; a free text alone makes the audit trail hard
to review (REDCap and OpenClinica users' complaint: "see notes", "typo", "correction"). A client picks one of
these codes and may add text; the trail keeps "<label>: <text>", so a reviewer can count changes by kind and
still read why. A reason with no code stays accepted, as free text.
"""

from __future__ import annotations

from typing import Literal

from equipoise.errors import InvalidError
from equipoise.services.free_text import optional_text

ChangeReason = Literal["data-entry-error", "transcription-error", "source-corrected", "query-response",
                       "late-information", "other"]
LABELS: dict[str, str] = {
    "data-entry-error": "Data entry error",
    "transcription-error": "Transcription error from the source document",
    "source-corrected": "Source document corrected or updated",
    "query-response": "Answer to a query",
    "late-information": "Information received late",
    "other": "Other",
}


def change_reason(code: str | None, text: str | None) -> str | None:
    """The reason the audit trail keeps: the code's label and the text, the text alone, or None if neither."""
    words = optional_text(text, "reason")
    if code is None:
        return words
    label = LABELS.get(code)
    if label is None:
        raise InvalidError(f"reason_code must be one of: {', '.join(LABELS)}")
    if code == "other" and words is None:
        raise InvalidError("reason_code 'other' needs the reason in words (reason)")
    return f"{label}: {words}" if words else label
