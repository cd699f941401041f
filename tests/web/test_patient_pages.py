"""The patient's pages in Chromium: the patient page reached from the dashboard (schedule, kit code and no arm in
the blinded demo trial), a visit's form filled with a bad then a good value (the API's message next to the field),
a value corrected with a reason (its history shows old → new, why), skip logic, "not done", a monitor's query
answered next to its field, the investigator's signatures with their Part 11 meaning, and the walls (another
site's patient is a 404)."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.web.conftest import PASSWORD, TRIAL, Server, sign_in, visit
from tests.web.test_coordinator import fill_patient

pytestmark = pytest.mark.chromium
ARMS = ("placebo", "Placebo", "MSC infusion", "mesenchymal", "Arm")


def site_today() -> str:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the pumch site's calendar


def api(server: Server, method: str, path: str, body: dict[str, Any] | None = None, user: str | None = None
        ) -> tuple[int, Any]:
    """The JSON API, as a client would call it (to compare its messages with the pages')."""
    headers = {"Content-Type": "application/json"}
    if user is not None:
        _status, login = api(server, "POST", "/api/auth/login", {"username": user, "password": PASSWORD})
        headers["Authorization"] = f"Bearer {login['token']}"
    request = urllib.request.Request(server.url(path), data=json.dumps(body).encode() if body is not None else None,
                                     headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def enrolled_patient(browser: Any, server: Server) -> str:
    """A patient of site pumch enrolled and randomized today by the coordinator, through the pages."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB", base_url=server.base)
    page = context.new_page()
    sign_in(page, "coordinator")
    page.wait_for_url("**/trials")
    page.goto(f"/trials/{TRIAL}/enrol")
    fill_patient(page)
    page.get_by_role("button", name="Check eligibility").click()
    page.get_by_role("button", name="Randomize").click()
    found = re.search(r"P-\d{6}", page.get_by_role("status").inner_text())
    assert found is not None
    context.close()
    return found.group(0)


@pytest.fixture(scope="module")
def patient(browser: Any, server: Server) -> str:
    return enrolled_patient(browser, server)


def as_user(page: Any, username: str) -> None:
    sign_in(page, username)
    page.wait_for_url("**/trials")


def form_url(code: str, form: str, visit_id: str) -> str:
    return f"/trials/{TRIAL}/patients/{code}/forms/{form}/{visit_id}"


def test_the_patient_page_from_the_dashboard_shows_the_schedule_and_a_kit_code_but_no_arm(page: Any, patient: str
                                                                                         ) -> None:
    as_user(page, "coordinator")
    page.goto(f"/trials/{TRIAL}/site")
    page.get_by_role("link", name=patient).first.click()
    page.wait_for_url(f"**/trials/{TRIAL}/patients/{patient}")
    assert page.get_by_role("heading", name=f"Patient {patient}").is_visible()
    main = page.locator("main").inner_text()
    assert page.locator(".kit").inner_text().startswith("MSC-")
    for arm in ARMS:
        assert arm not in main
    schedule = page.locator("table.schedule").inner_text()
    assert "Clinical status" in schedule
    assert "due" in schedule
    assert "upcoming" in schedule
    assert "(Asia/Shanghai)" in main  # the randomization time in the site's time zone
    visit(page, "patient-page")


def test_a_visit_filled_with_a_bad_then_a_good_value_then_corrected_with_a_reason(page: Any, patient: str,
                                                                                 server: Server) -> None:
    as_user(page, "coordinator")
    page.goto(f"/trials/{TRIAL}/patients/{patient}")
    page.get_by_role("link", name="Clinical status").first.click()
    page.wait_for_url("**/forms/clinical_status/baseline")
    visit(page, "crf-empty")
    page.get_by_label("Date of assessment").fill(site_today())
    page.get_by_label("WHO clinical progression scale").select_option("4")
    page.get_by_label("Oxygen saturation").fill("120")
    page.get_by_role("button", name="Save the form").click()
    spo2 = page.get_by_label("Oxygen saturation")
    assert spo2.get_attribute("aria-invalid") == "true"
    shown = page.locator("#error-spo2").inner_text()
    status, refused = api(server, "PUT", f"/api/trials/{TRIAL}/patients/{patient}/forms/clinical_status/baseline",
                          {"values": {"assessment_date": site_today(), "who_score": 4, "spo2": 120}}, "coordinator")
    assert status == 422
    assert shown == refused["errors"]["spo2"]  # the API's message, next to its field
    assert spo2.input_value() == "120"  # kept, to be corrected
    visit(page, "crf-bad-value")

    spo2.fill("96")
    page.get_by_role("button", name="Save the form").click()
    assert page.get_by_role("status").inner_text() == "The form is saved."
    assert page.get_by_label("Oxygen saturation").input_value() == "96"

    page.get_by_label("Oxygen saturation").fill("95")
    page.get_by_role("button", name="Save the form").click()
    assert "a reason for the change is required" in page.locator("#error-reason").inner_text()
    visit(page, "crf-reason-needed")
    page.get_by_label("Kind of change").select_option("data-entry-error")
    page.get_by_label("Reason in words").fill("96 was the previous day's reading")
    page.get_by_role("button", name="Save the form").click()
    assert page.get_by_role("status").inner_text() == "The form is saved."
    history = page.locator(".crf-item", has=page.get_by_label("Oxygen saturation")).locator("details.history")
    history.locator("summary").click()
    text = history.inner_text()
    assert "96 → 95" in text
    assert "— → 96" in text
    assert "Data entry error: 96 was the previous day's reading" in text
    assert "coordinator" in text
    assert "(Asia/Shanghai)" in text
    visit(page, "crf-history")


def test_skip_logic_asks_the_date_of_death_only_after_a_death(page: Any, patient: str) -> None:
    as_user(page, "coordinator")
    page.goto(form_url(patient, "outcome", "day28"))
    death = page.get_by_label("Date of death")
    assert death.is_disabled()
    page.get_by_role("group", name="Died by day 28").get_by_label("yes").check()
    assert death.is_enabled()
    visit(page, "crf-skip-logic")
    page.get_by_role("button", name="Save the form").click()  # the server's rule: asked after a death, required
    assert "Date of death: a value is required" in page.locator("#error-death_date").inner_text()
    assert page.get_by_label("Date of death").is_enabled()  # drawn by the server as asked, with the answer kept
    page.get_by_role("group", name="Died by day 28").get_by_label("no").check()
    assert death.is_disabled()


def test_a_form_not_done_needs_its_reason(page: Any, patient: str) -> None:
    as_user(page, "coordinator")
    page.goto(form_url(patient, "imaging", "baseline"))
    page.get_by_role("button", name="Mark the form not done").click()
    assert page.get_by_label("Why this form will not be collected").get_attribute("aria-invalid") == "true"
    page.get_by_label("Why this form will not be collected").fill("CT scanner out of service")
    page.get_by_role("button", name="Mark the form not done").click()
    assert page.get_by_role("status").inner_text() == "The form is marked not done."
    assert "CT scanner out of service" in page.locator("dl.facts").inner_text()
    visit(page, "crf-not-done")


def test_a_monitors_query_is_answered_next_to_its_field(page: Any, patient: str, server: Server) -> None:
    status, query = api(server, "POST", f"/api/trials/{TRIAL}/queries",
                        {"patient_id": patient, "form_id": "clinical_status", "visit_id": "baseline",
                         "field_id": "spo2", "text": "Please confirm the saturation against the chart."}, "monitor")
    assert status == 201, query
    as_user(page, "coordinator")
    page.goto(form_url(patient, "clinical_status", "baseline"))
    item = page.locator(".crf-item", has=page.get_by_label("Oxygen saturation"))
    assert "Please confirm the saturation against the chart." in item.inner_text()
    visit(page, "crf-open-query")
    answer = page.get_by_label(f"Your answer to query {query['id']}")
    page.get_by_role("button", name="Send the answer").click()  # empty: refused next to the box
    assert answer.get_attribute("aria-invalid") == "true"
    answer.fill("Confirmed: 95% on room air in the nursing chart.")
    page.get_by_role("button", name="Send the answer").click()
    assert page.get_by_role("status").inner_text() == "Your answer is sent."
    item = page.locator(".crf-item", has=page.get_by_label("Oxygen saturation"))
    assert "answered" in item.inner_text()
    assert "Confirmed: 95% on room air" in item.inner_text()
    status, seen = api(server, "GET", f"/api/trials/{TRIAL}/queries/{query['id']}", None, "monitor")
    assert seen["status"] == "answered"


def test_the_investigator_signs_the_form_and_the_casebook(page: Any, patient: str) -> None:
    as_user(page, "investigator")
    page.goto(form_url(patient, "clinical_status", "baseline"))
    assert page.get_by_text("I have reviewed the data in this record.").is_visible()  # the Part 11 meaning
    visit(page, "crf-sign")
    page.get_by_label("Username").fill("investigator")
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Sign", exact=True).click()
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"
    page.get_by_label("Username").fill("investigator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign", exact=True).click()
    assert page.get_by_role("status").inner_text() == "The form is signed."
    signature = page.locator(".signature").first.inner_text()
    assert "Dr Zhang Min" in signature
    assert "I have reviewed the data in this record." in signature
    assert "(Asia/Shanghai)" in signature
    visit(page, "crf-signed")

    page.goto(f"/trials/{TRIAL}/patients/{patient}")
    page.get_by_label("I approve the data in this record.").check()
    page.get_by_label("Username").fill("investigator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_url(f"**/patients/{patient}#signatures")
    assert "I approve the data in this record." in page.locator(".signatures").inner_text()
    visit(page, "patient-signed")


def test_another_sites_patient_is_not_found(page: Any, patient: str) -> None:
    as_user(page, "milan")
    for path in (f"/trials/{TRIAL}/patients/{patient}", form_url(patient, "clinical_status", "baseline")):
        response = page.goto(path)
        assert response.status == 404
        assert patient not in page.locator("main").inner_text()
    visit(page, "patient-other-site")
    assert page.goto(f"/trials/{TRIAL}/patients/not-a-code").status == 404


def test_the_patient_pages_in_chinese(page: Any, patient: str) -> None:
    as_user(page, "coordinator")
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Switch").click()
    page.goto(f"/trials/{TRIAL}/patients/{patient}")
    assert page.get_by_role("heading", name=f"患者 {patient}").is_visible()
    visit(page, "patient-page-zh")
    page.goto(form_url(patient, "clinical_status", "baseline"))
    assert "修改原因" in page.locator("main").inner_text()
    visit(page, "crf-zh")
