"""The monitoring committee's pages in Chromium: the committee member reads the closed report (arms named) with
the interim decision and its boundary plot; the blinded statistician is refused it (the export service decides)
but reads the open report, which names no arm; a site coordinator cannot reach the closed report."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import TRIAL, sign_in, visit

pytestmark = pytest.mark.chromium
CLOSED = f"/trials/{TRIAL}/reports/closed"
OPEN = f"/trials/{TRIAL}/reports/open"


def report_text(page: Any) -> str:
    return str(page.frame_locator("iframe.report-frame").locator("body").inner_text())


def test_the_committee_reads_its_closed_report(page: Any) -> None:
    sign_in(page, "dmc")
    page.wait_for_url("**/trials")
    page.goto(f"/trials/{TRIAL}")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Closed report").click()
    page.wait_for_url(f"**{CLOSED}")
    assert page.get_by_role("heading", level=1).inner_text() == "Closed report for the data monitoring committee"
    assert page.get_by_role("heading", name="Interim decision").is_visible()
    text = report_text(page)
    assert "CLOSED REPORT" in text
    assert re.search(r"\bmsc\b", text), text[:500]  # the experimental arm, named
    visit(page, "dmc-closed-report")
    response = page.goto(CLOSED)
    print(f"\n{CLOSED}: Server-Timing {response.headers.get('server-timing')}")


def test_the_blinded_statistician_is_refused_the_closed_report_but_reads_the_open_one(page: Any) -> None:
    sign_in(page, "statistician")
    page.wait_for_url("**/trials")
    response = page.goto(CLOSED)
    assert response.status == 403
    assert "only for the unblinded statistician and the data monitoring committee" in page.locator("main").inner_text()
    assert page.locator("iframe").count() == 0
    visit(page, "dmc-closed-refused")
    response = page.goto(OPEN)
    assert response.status == 200
    print(f"\n{OPEN}: Server-Timing {response.headers.get('server-timing')}")
    text = report_text(page)
    assert "open report" in page.get_by_role("heading", level=1).inner_text().lower()
    assert "CLOSED REPORT" not in text
    assert "arms masked" in text
    assert not re.search(r"\bmsc\b", text)  # no arm named in the open report
    assert page.get_by_role("link", name="Closed report").count() == 0
    visit(page, "dmc-open-report")


def test_a_coordinator_cannot_reach_the_closed_report(page: Any) -> None:
    sign_in(page, "coordinator")
    page.wait_for_url("**/trials")
    response = page.goto(CLOSED)
    assert response.status == 403
    main = page.locator("main").inner_text()
    assert "Closed report for the data monitoring committee" not in main
    assert page.locator("iframe").count() == 0
