"""The monitor in Chromium: raises a query on a field of a patient's form, the coordinator sees it open on the
query list, the site answers it (through the API: answering is the coordinator's page, built elsewhere), the
monitor sees it answered and closes it, and reads the query's audit trail: who, when, old → new, why. The demo
trial is blinded: no arm is shown to the monitor anywhere."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.web.conftest import PASSWORD, TRIAL, Server, sign_in, visit

pytestmark = pytest.mark.chromium
QUERIES = f"/trials/{TRIAL}/queries"
ARMS = ("placebo", "Placebo", "mesenchymal", "arm_name")


def api(server: Server, method: str, path: str, body: dict[str, Any] | None = None,
        token: str | None = None) -> Any:
    request = urllib.request.Request(server.url(path), method=method, data=json.dumps(body).encode() if body
                                     else None, headers={"Content-Type": "application/json",
                                                         **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def token(server: Server, username: str) -> str:
    answer: str = api(server, "POST", "/api/auth/login", {"username": username, "password": PASSWORD})["token"]
    return answer


def a_pumch_patient(server: Server) -> str:
    patients = api(server, "GET", f"/api/trials/{TRIAL}/patients", token=token(server, "coordinator"))
    code: str = next(p["code"] for p in patients if p["site_id"] == "pumch")
    return code


def no_arm(page: Any) -> None:
    main = page.locator("main").inner_text()
    for arm in ARMS:
        assert arm not in main


def test_a_query_raised_on_a_field_is_answered_by_the_site_and_closed_by_the_monitor(page: Any, browser: Any,
                                                                                      server: Server) -> None:
    code = a_pumch_patient(server)
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    page.goto(QUERIES)
    visit(page, "monitor-queries")
    no_arm(page)
    page.get_by_role("link", name="Raise a query").click()
    page.get_by_label("Patient code").fill(code)
    page.get_by_label("Form").select_option("clinical_status")
    page.get_by_role("button", name="Choose the field").click()
    page.get_by_label("Visit").select_option("day7")
    page.get_by_label("Field").select_option("spo2")
    visit(page, "monitor-raise-query")
    page.get_by_role("button", name="Raise the query").click()  # no text: refused next to the field
    assert page.get_by_label("Question to the site").get_attribute("aria-invalid") == "true"
    visit(page, "monitor-raise-query-refused")
    page.get_by_label("Question to the site").fill("SpO2 of 99% on 15 L oxygen: please check the source.")
    page.get_by_role("button", name="Raise the query").click()
    page.wait_for_url("**/queries/*")
    assert page.locator("#query-status").inner_text() == "open"
    query_id = int(page.url.rsplit("/", 1)[1])
    visit(page, "monitor-query-open")

    coordinator = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB", base_url=server.base)
    tab = coordinator.new_page()
    sign_in(tab, "coordinator")
    tab.wait_for_url("**/trials")
    tab.goto(f"{QUERIES}?status=open")
    row = tab.get_by_role("row").filter(has_text=f"Query {query_id}")
    for shown in ("open", code, "spo2"):
        assert shown in row.inner_text()
    visit(tab, "coordinator-queries-open")
    coordinator.close()

    api(server, "POST", f"/api/trials/{TRIAL}/queries/{query_id}/answer",
        {"text": "Transcription error: 91% in the source; corrected."}, token=token(server, "coordinator"))
    page.goto(f"{QUERIES}?status=answered")
    assert page.get_by_role("link", name=f"Query {query_id}").is_visible()
    page.get_by_role("link", name=f"Query {query_id}").click()
    assert page.locator("#query-status").inner_text() == "answered"
    assert "Transcription error" in page.locator("main").inner_text()
    visit(page, "monitor-query-answered")
    page.get_by_role("button", name="Close the query").click()
    assert page.locator("#query-status").inner_text() == "closed"
    no_arm(page)

    page.get_by_role("link", name="Audit trail of this query").click()
    main = page.locator("main").inner_text()
    for shown in ("Demo monitor", "query closed", "answered → closed"):  # who, why, old → new
        assert shown in main
    no_arm(page)
    visit(page, "monitor-audit-trail")


def test_the_query_list_filters_by_site_and_the_monitor_reads_in_chinese(page: Any) -> None:
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    page.goto(f"{QUERIES}?site=milan-sacco&status=closed")
    assert all("pumch" not in row for row in page.locator("tbody tr").all_inner_texts())
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Switch").click()
    page.goto(QUERIES)
    assert page.get_by_role("heading", name="质疑").is_visible()
    visit(page, "monitor-queries-zh")
    page.goto(f"/trials/{TRIAL}/audit?table=form_queries")
    assert page.get_by_role("heading", name="稽查轨迹").is_visible()
    no_arm(page)
    visit(page, "monitor-audit-trail-zh")


def test_the_database_lock_is_refused_while_a_query_is_open(page: Any, server: Server) -> None:
    monitor = token(server, "monitor")
    patient_id = int(a_pumch_patient(server).removeprefix("P-"))
    api(server, "POST", f"/api/trials/{TRIAL}/queries", {"patient_id": patient_id, "form_id": "imaging",
                                                         "visit_id": "day14", "text": "CT report missing?"},
        token=monitor)
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    page.goto(f"/trials/{TRIAL}")
    page.get_by_role("link", name="Database lock").first.click()
    visit(page, "monitor-database-lock")
    page.get_by_label("Reason").fill("Last patient's last visit done; final analysis")
    page.get_by_label("Your password again").fill(PASSWORD)
    page.get_by_role("button", name="Lock the database").click()
    assert "are not closed" in page.locator("#error-reason").inner_text()  # the service's rule, next to its field
    assert page.locator("#trial-status").inner_text() == "active"
    visit(page, "monitor-database-lock-refused")


def test_a_blinded_monitor_reads_the_allocations_audit_trail_with_arms_masked(page: Any) -> None:
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    page.goto(f"/trials/{TRIAL}/audit?table=allocations")
    main = page.locator("main").inner_text()
    assert "(blinded)" in main  # the audit view's mask for a blinded reader
    no_arm(page)
    visit(page, "monitor-audit-allocations")


def test_the_monitor_locks_and_unlocks_a_casebook(page: Any, server: Server) -> None:
    monitor = token(server, "monitor")
    queried = {q["patient_code"] for q in api(server, "GET", f"/api/trials/{TRIAL}/queries", token=monitor)
               if q["status"] != "closed"}
    code = next(p["code"] for p in api(server, "GET", f"/api/trials/{TRIAL}/patients", token=monitor)
                if p["code"] not in queried)
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    page.goto(f"/trials/{TRIAL}/monitor/locks")
    visit(page, "monitor-casebook-lock")
    page.get_by_label("Patient code").fill(code)
    page.get_by_role("button", name="Lock the casebook", exact=True).click()
    assert f"Patient {code}'s casebook is locked." in page.get_by_role("status").inner_text()
    page.get_by_role("button", name="Unlock the casebook").click()  # no reason: refused next to the field
    assert page.get_by_label("Reason (needed to unlock)").get_attribute("aria-invalid") == "true"
    visit(page, "monitor-casebook-unlock-refused")
    page.get_by_label("Reason (needed to unlock)").fill("Late laboratory value to enter")
    page.get_by_role("button", name="Unlock the casebook").click()
    assert f"Patient {code}'s casebook is unlocked." in page.get_by_role("status").inner_text()
    no_arm(page)
