"""What the patient and case report form pages share: the form services (built once, as the API's), a patient
found by its code, the site's time zone, and a form's posted text typed as the JSON API would carry it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from equipoise.errors import NotFoundError, ServiceError
from equipoise.protocol.fields import Choice, DataField, FieldType
from equipoise.services.forms import FormService
from equipoise.services.off_study import OffStudyService
from equipoise.services.queries import QueryService
from equipoise.services.signatures import SignatureService
from equipoise.services.trials import TrialView
from equipoise.services.unblinding import UnblindingService
from equipoise.store.models import patient_number
from equipoise.web.core import built_once
from equipoise.web.forms import FormState


@dataclass
class CrfPageServices:
    forms: FormService
    queries: QueryService
    signatures: SignatureService
    off_study: OffStudyService
    unblinding: UnblindingService


def crf(request: Request) -> CrfPageServices:
    """The services of the form pages (the same classes the API's form routes call)."""
    return built_once(request, "web_crf", CrfPageServices, lambda c: CrfPageServices(
        FormService(c.db), QueryService(c.db), SignatureService(c.db, c.auth), OffStudyService(c.db),
        UnblindingService(c.db, c.auth)))


def patient_id(trial_id: str, code: str) -> int:
    """The patient's number from the code in the URL (P-000121); a code that names no patient is a 404."""
    try:
        return patient_number(code)
    except ValueError as bad:
        raise NotFoundError(f"no patient {code} in trial {trial_id}") from bad


def site_zone(trial: TrialView, site_id: str) -> str:
    """The time zone of the patient's site (times are stored in UTC and shown in it)."""
    return next((s["timezone"] for s in trial.sites if s["id"] == site_id), "UTC")


def choices(field: DataField) -> list[tuple[str, str]]:
    """(value, label) of a choice field's options."""
    return [(c.value, c.label) if isinstance(c, Choice) else (c, c) for c in field.choices or []]


def shown(value: Any) -> str:
    """A stored value as the form's text shows it (yes/no for booleans, blank for none)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number field keeps 96 as 96.0: shown as typed
    return str(value)


def typed(fields: list[DataField], text: dict[str, str]) -> dict[str, Any]:
    """The form's text as the JSON API would carry it (numbers as numbers, yes/no as true/false, blanks left out);
    the service checks every value, so text that is no number stays text and is refused with its reason."""
    values: dict[str, Any] = {}
    for field in fields:
        raw = text.get(field.id, "").strip()
        if raw == "":
            continue
        if field.type in (FieldType.INTEGER, FieldType.ORDINAL):
            values[field.id] = int(raw) if raw.lstrip("-").isdigit() else raw
        elif field.type is FieldType.NUMBER:
            try:  # "120" is 120 as in JSON (the service's messages then read as the API's)
                values[field.id] = int(raw) if raw.lstrip("-").isdigit() else float(raw)
            except ValueError:
                values[field.id] = raw
        elif field.type is FieldType.BOOLEAN:
            values[field.id] = {"yes": True, "no": False}.get(raw, raw)
        else:
            values[field.id] = raw
    return values


def put_errors(form: FormState, refused: ServiceError, gettext: Any, fallback: str = "form") -> None:
    """A service's refusal next to its fields (``details["errors"]``), else next to ``fallback``."""
    errors = refused.details.get("errors")
    if isinstance(errors, dict) and errors:
        for name, message in errors.items():
            form.error(str(name), gettext(str(message)))
    else:
        form.error(fallback, gettext(refused.message))
