"""The administrator in Chromium: creates a user with a role at a site and gives them another; amends the protocol
(uploads the file, sees what changes and from when, activates it with the password again); verifies the audit
trail (intact). Exports in every format with their manifest, downloaded by a role that may export (the
administrator may not: the export service's rule). A blinded reader never sees an arm."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.web.conftest import PASSWORD, TRIAL, sign_in, visit

pytestmark = pytest.mark.chromium
ADMIN = f"/trials/{TRIAL}/admin"


def admin(page: Any) -> None:
    sign_in(page, "admin")
    page.wait_for_url("**/trials")


def test_the_admin_creates_a_user_and_gives_a_role(page: Any) -> None:
    admin(page)
    page.goto(f"/trials/{TRIAL}")
    page.get_by_role("link", name="Users and roles").first.click()
    visit(page, "admin-users")
    page.get_by_label("Username").fill("zhou")
    page.get_by_label("Full name").fill("Zhou Yan")
    page.get_by_label("First password").fill("short")
    page.get_by_label("Role in this trial").select_option("site-coordinator")
    page.locator("#field-site_id").select_option("pumch")
    page.get_by_role("button", name="Create the user").click()
    assert page.get_by_label("First password").get_attribute("aria-invalid") == "true"  # the service's rule
    visit(page, "admin-users-refused")
    page.get_by_label("First password").fill("a long enough first password")
    page.get_by_role("button", name="Create the user").click()
    row = page.locator("#user-zhou")
    assert "Site coordinator · pumch" in row.inner_text()
    row.get_by_label("Role for zhou").select_option("investigator")
    row.get_by_label("Site for zhou").select_option("pumch")
    row.get_by_role("button", name="Give the role").click()
    assert "Investigator · pumch" in page.locator("#user-zhou").inner_text()
    visit(page, "admin-users-granted")


def test_the_admin_amends_the_protocol(page: Any, tmp_path: Path) -> None:
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    amended = tmp_path / "covid19-msc-rct.yaml"
    amended.write_text((ROOT / "examples" / "covid19-msc-rct.yaml").read_text() + (
        f'\namendments:\n  - version: "1.1"\n    effective_date: {tomorrow}\n    summary: Lyon joins.\n'
        "    changes:\n      - change: add-site\n        site: {id: lyon, name: Croix-Rousse, country: FR, "
        "timezone: Europe/Paris}\n"))
    admin(page)
    page.goto(f"{ADMIN}/amend")
    visit(page, "admin-amend")
    page.get_by_role("button", name="Check the file").click()  # no file: told next to the field
    assert page.get_by_label("Protocol file (YAML)").get_attribute("aria-invalid") == "true"
    page.get_by_label("Protocol file (YAML)").set_input_files(str(amended))
    page.get_by_role("button", name="Check the file").click()
    assert page.get_by_role("heading", name="What changes, and from when").is_visible()
    assert "Version 1.1, in force from" in page.locator("main").inner_text()
    assert "Croix-Rousse" in page.locator("main").inner_text()
    visit(page, "admin-amend-check")
    page.get_by_label("Reason for the amendment").fill("Ethics committee approval EC-2026-17")
    page.get_by_label("Your password again").fill("not my password")
    page.get_by_role("button", name="Activate the amendment").click()
    assert page.get_by_label("Your password again").get_attribute("aria-invalid") == "true"
    page.get_by_label("Your password again").fill(PASSWORD)
    page.get_by_role("button", name="Activate the amendment").click()
    assert "The amendment is activated." in page.get_by_role("status").inner_text()
    assert "1.1" in page.locator(".facts").inner_text()
    visit(page, "admin-amend-done")


def test_the_admin_verifies_the_audit_trail(page: Any) -> None:
    admin(page)
    page.goto(f"{ADMIN}/audit-verify")
    page.get_by_role("button", name="Verify now").click()
    assert "The audit trail is intact." in page.locator("#verify-result").inner_text()
    visit(page, "admin-audit-verify")


def test_a_monitor_downloads_an_export_with_its_manifest_and_no_arm(page: Any, tmp_path: Path) -> None:
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    page.goto(f"/trials/{TRIAL}/exports")
    assert page.get_by_label("With the arms (unblinded)").count() == 0  # blinded: arms never offered
    visit(page, "exports")
    for fmt in ("csv", "parquet", "dataset-json", "odm", "all"):
        page.get_by_label(fmt, exact=True).check()
        page.get_by_role("button", name="Make the export").click()
        assert page.get_by_role("heading", name="Manifest").is_visible()
        assert page.locator("main tbody tr").count() > 0  # every file with its rows and SHA-256
    main = page.locator("main").inner_text()
    for arm in ("placebo", "Placebo", "mesenchymal"):
        assert arm not in main
    visit(page, "exports-manifest")
    with page.expect_download() as download:
        page.locator("#download").click()
    path = tmp_path / "export.zip"
    download.value.save_as(path)
    with zipfile.ZipFile(path) as archive:
        assert "manifest.json" in archive.namelist()


def test_the_admin_pages_in_chinese(page: Any) -> None:
    admin(page)
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Switch").click()
    page.goto(f"{ADMIN}/users")
    assert page.get_by_role("heading", name="用户与角色").is_visible()
    visit(page, "admin-users-zh")
    page.goto(f"{ADMIN}/audit-verify")
    page.get_by_role("button", name="立即核验").click()
    assert "稽查轨迹完整" in page.locator("#verify-result").inner_text()
    visit(page, "admin-audit-verify-zh")


def test_the_unblinded_statistician_sees_the_randomization_lists_and_a_monitor_may_not(page: Any) -> None:
    sign_in(page, "unblinded")
    page.wait_for_url("**/trials")
    page.goto(f"/trials/{TRIAL}/lists")
    assert "This is a production trial: it takes production lists only" in page.locator("main").inner_text()
    visit(page, "randomization-lists")
    page.context.clear_cookies()
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    assert page.goto(f"/trials/{TRIAL}/lists").status == 403
