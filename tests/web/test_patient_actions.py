"""Off-study records and emergency unblinding in Chromium: the coordinator records that a patient left the study
(a date in the future is refused next to its field) and cancels it with a reason; the investigator unblinds a
patient in an emergency with a reason and the password, and sees the arm once; the coordinator never does."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.web.conftest import PASSWORD, TRIAL, Server, visit
from tests.web.test_patient_pages import ARMS, as_user, enrolled_patient, site_today

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def patient(browser: Any, server: Server) -> str:
    return enrolled_patient(browser, server)


def test_the_coordinator_records_and_cancels_an_off_study_record(page: Any, patient: str) -> None:
    as_user(page, "coordinator")
    page.goto(f"/trials/{TRIAL}/patients/{patient}")
    page.get_by_role("group", name="Why the patient left").get_by_label("lost to follow-up").check()
    tomorrow = (dt.date.fromisoformat(site_today()) + dt.timedelta(days=1)).isoformat()
    page.get_by_label("From (the site's date").fill(tomorrow)
    page.locator("#field-off_study_reason").fill("Moved away, no answer to three calls")
    page.get_by_role("button", name="Record that the patient is off study").click()
    when = page.locator("#field-effective_date")
    assert when.get_attribute("aria-invalid") == "true"
    assert "is in the future" in page.locator("#error-effective_date").inner_text()
    visit(page, "off-study-refused")
    when.fill(site_today())
    page.get_by_role("button", name="Record that the patient is off study").click()
    section = page.locator("main").inner_text()
    assert "lost to follow-up" in section
    assert "Moved away, no answer to three calls" in section
    assert "off study" in page.locator("table.schedule").inner_text()  # later visits are no longer expected
    visit(page, "off-study-recorded")
    page.get_by_role("button", name="Cancel the off-study record").click()
    assert page.get_by_label("Why the record is cancelled").get_attribute("aria-invalid") == "true"
    page.get_by_label("Why the record is cancelled").fill("The patient came back for the day-3 visit")
    page.get_by_role("button", name="Cancel the off-study record").click()
    assert page.get_by_role("button", name="Record that the patient is off study").is_visible()
    assert page.get_by_role("link", name="Unblind this patient in a medical emergency").count() == 0
    for arm in ARMS:
        assert arm not in page.locator("main").inner_text()


def test_the_investigator_unblinds_in_an_emergency_with_a_reason_and_the_password(page: Any, patient: str) -> None:
    as_user(page, "investigator")
    page.goto(f"/trials/{TRIAL}/patients/{patient}")
    page.get_by_role("link", name="Unblind this patient in a medical emergency").click()
    page.wait_for_url(f"**/patients/{patient}/unblind")
    visit(page, "unblind-form")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Unblind this patient").click()
    assert page.locator("#field-reason").get_attribute("aria-invalid") == "true"
    page.get_by_label("The medical emergency (reason)").fill("Anaphylaxis during the infusion: the ICU needs the arm")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Unblind this patient").click()
    result = page.get_by_role("status").inner_text()
    assert f"Patient {patient} is unblinded." in result
    arm = page.locator("dd.kit").inner_text()
    assert arm.startswith(("UC-MSC infusion", "Placebo"))
    visit(page, "unblind-result")


def test_the_coordinator_cannot_unblind(page: Any, patient: str) -> None:
    as_user(page, "coordinator")
    response = page.goto(f"/trials/{TRIAL}/patients/{patient}/unblind")
    assert response.status == 403
    assert "your role does not allow emergency-unblind" in page.locator("main").inner_text()
    for arm in ARMS:
        assert arm not in page.locator("main").inner_text()
