"""How an off-study record reads in the API: the kind, the date, the reason, and whether later data are taken."""

from __future__ import annotations

from dataclasses import dataclass

from equipoise.store.crf_models import OffStudy
from equipoise.store.models import Patient
from equipoise.store.types import iso

KINDS = {
    "withdrew-consent": "withdrew consent",
    "lost-to-follow-up": "lost to follow-up",
    "investigator-decision": "taken off study by the investigator",
    "died": "died",  # the outcome forms at the outcome's visit are still expected (schedule.DIED)
}


@dataclass(frozen=True)
class OffStudyView:
    patient_id: int
    patient_code: str
    site_id: str
    kind: str
    effective_date: str
    reason: str
    recorded_by: int | None
    recorded_at: str
    data_after_date: str  # "refused" after a withdrawal of consent, else "accepted"

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def off_study_view(row: OffStudy, patient: Patient) -> OffStudyView:
    return OffStudyView(patient.id, patient.code, patient.site_id, row.kind, row.effective_date.isoformat(),
                        row.reason, row.recorded_by, iso(row.recorded_at),
                        "refused" if row.kind == "withdrew-consent" else "accepted")
