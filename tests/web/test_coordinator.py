"""The site coordinator in Chromium: the dashboard shows only their site, an ineligible patient is refused with
the failed criteria in plain words, a bad value is told next to its field, and an eligible patient is randomized
after a confirmation step, by keyboard alone, with a kit code and no arm (the demo trial is blinded)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.web.conftest import TRIAL, sign_in, visit

pytestmark = pytest.mark.chromium
ENROL = f"/trials/{TRIAL}/enrol"


def coordinator(page: Any) -> None:
    sign_in(page, "coordinator")  # Li Wei, site coordinator at pumch
    page.wait_for_url("**/trials")


def fill_patient(page: Any, **changes: str) -> None:
    onset = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)).isoformat()
    values = {"age": "54", "severity": "severe", "who_baseline": "5", "symptom_onset": onset, **changes}
    page.get_by_label("Age", exact=True).fill(values["age"])
    page.get_by_role("group", name="Sex").get_by_label("female").check()
    page.get_by_role("group", name="Severity at enrolment").get_by_label(values["severity"]).check()
    page.get_by_label("WHO clinical progression scale at enrolment").fill(values["who_baseline"])
    page.get_by_label("Date of symptom onset").fill(values["symptom_onset"])
    for group, answer in (("SARS-CoV-2 RT-PCR positive", "yes"), ("Pregnant or breastfeeding", "no"),
                          ("Active malignancy", "no"), ("Written informed consent obtained", "yes")):
        page.get_by_role("group", name=group).get_by_label(changes.get(group, answer), exact=True).check()


def test_the_dashboard_shows_only_the_coordinators_site(page: Any) -> None:
    sign_in(page, "coordinator")
    page.goto("/trials")
    page.get_by_role("link", name=TRIAL).click()
    page.wait_for_url(f"**/trials/{TRIAL}/site")
    assert page.get_by_role("heading", name="Site pumch").is_visible()
    main = page.locator("main").inner_text()
    for other in ("milan-sacco", "wuhan-jinyintan", "nyc-presbyterian"):
        assert other not in main
    assert "(Asia/Shanghai)" in main  # times in the site's time zone
    visit(page, "coordinator-dashboard")


def test_an_ineligible_patient_is_refused_with_the_criterion_in_plain_words(page: Any) -> None:
    coordinator(page)
    page.goto(ENROL)
    visit(page, "enrol-form")
    fill_patient(page, age="15")
    page.get_by_role("button", name="Check eligibility").click()
    assert "Not eligible: the patient was neither enrolled nor randomized." in page.get_by_role("alert").inner_text()
    assert "Aged 18 years or older: not met (age = 15)" in page.locator("main").inner_text()
    visit(page, "enrol-ineligible")


def test_a_bad_value_is_told_next_to_its_field(page: Any) -> None:
    coordinator(page)
    page.goto(ENROL)
    fill_patient(page, age="fifty")
    page.get_by_role("button", name="Check eligibility").click()
    age = page.get_by_label("Age", exact=True)
    assert age.get_attribute("aria-invalid") == "true"
    assert "must be a whole number" in page.locator("#error-age").inner_text()
    assert age.input_value() == "fifty"  # kept, to be corrected
    visit(page, "enrol-bad-value")


def test_enrol_and_randomize_by_keyboard_gives_a_kit_code_and_no_arm(page: Any) -> None:
    coordinator(page)
    page.goto(ENROL)
    fill_patient(page)
    page.get_by_role("button", name="Check eligibility").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Check before randomizing").wait_for()
    visit(page, "enrol-confirm")
    page.get_by_role("button", name="Randomize").focus()
    page.keyboard.press("Enter")
    result = page.get_by_role("status")
    result.wait_for()
    assert "is enrolled and randomized" in result.inner_text()
    assert page.locator(".kit").inner_text().startswith("MSC-")
    main = page.locator("main").inner_text()
    assert "Arm" not in main
    for arm in ("placebo", "Placebo", "MSC ", "mesenchymal"):
        assert arm not in main
    visit(page, "enrol-randomized")


def test_the_dashboard_in_chinese(page: Any) -> None:
    coordinator(page)
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Switch").click()
    page.goto(f"/trials/{TRIAL}/site")
    assert page.get_by_role("heading", name="中心概览").is_visible()
    assert "年" in page.locator("main").inner_text()  # dates in the Chinese format
    visit(page, "coordinator-dashboard-zh")
    page.goto(ENROL)
    assert page.get_by_role("heading", name="入组患者").is_visible()
    visit(page, "enrol-form-zh")
