"""Everyone's pages in Chromium: sign in and out, a wrong password, the lockout, the language switch, the trial
list; every page screenshotted at laptop and tablet widths and checked with axe-core."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import MAX_FAILED_LOGINS, TRIAL, Server, sign_in, visit

pytestmark = pytest.mark.chromium


def test_sign_in_page_links_the_story_and_says_the_rules(page: Any) -> None:
    page.goto("/")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert page.get_by_role("link", name="Why randomize? The story behind Equipoise").get_attribute("href") == "/story"
    assert f"After {MAX_FAILED_LOGINS} wrong passwords in a row" in page.content()
    visit(page, "sign-in")


def test_a_wrong_password_is_told_next_to_the_field_and_in_the_summary(page: Any) -> None:
    sign_in(page, "monitor", "not the password")
    message = "wrong username or password, or the account is locked after repeated failed logins"
    summary = page.get_by_role("alert")
    assert message in summary.inner_text()
    password = page.get_by_label("Password", exact=True)
    assert password.get_attribute("aria-invalid") == "true"
    described = password.get_attribute("aria-describedby")
    assert described is not None
    assert message in page.locator(f"#{described}").inner_text()
    assert password.input_value() == ""  # a refused password is never sent back to the page
    visit(page, "sign-in-wrong-password")


def test_empty_fields_are_named(page: Any) -> None:
    page.goto("/")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator("#error-username").inner_text() == "Enter your username."
    assert page.locator("#error-password").inner_text() == "Enter your password."


def test_the_lockout_gives_the_same_message_and_the_right_password_then_fails(page: Any) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        sign_in(page, "wuhan", "not the password")
    sign_in(page, "wuhan")  # the right password, but the account is locked now
    assert page.url.endswith("/sign-in")
    assert "the account is locked after repeated failed logins" in page.get_by_role("alert").inner_text()
    visit(page, "sign-in-locked")


def test_sign_in_shows_the_trial_list_and_sign_out_ends_the_session(page: Any, server: Server) -> None:
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    assert page.get_by_role("heading", name="Your trials").is_visible()
    assert page.get_by_role("link", name=TRIAL).is_visible()
    header = page.locator("header").inner_text()
    assert "Demo monitor" in header
    assert "Monitor" in header
    cookie = next(c for c in page.context.cookies() if c["name"] == "equipoise_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    visit(page, "trial-list")
    page.get_by_role("link", name=TRIAL).click()
    assert page.get_by_role("heading", level=1).inner_text().strip() != ""
    visit(page, "trial-home-monitor")
    page.get_by_role("button", name="Sign out").click()
    assert "You have signed out." in page.content()
    page.goto("/trials")  # the old session no longer opens a page
    assert page.get_by_role("heading", name="Sign in").is_visible()


def test_a_page_asked_for_before_signing_in_opens_after_it(page: Any) -> None:
    page.goto(f"/trials/{TRIAL}")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    sign_in_here(page, "statistician")
    page.wait_for_url(f"**/trials/{TRIAL}")


def sign_in_here(page: Any, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill("equipoise-demo")
    page.get_by_role("button", name="Sign in").click()


def test_the_language_switch_shows_chinese(page: Any) -> None:
    sign_in(page, "monitor")
    page.wait_for_url("**/trials")
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Switch").click()
    assert page.get_by_role("heading", name="您的试验").is_visible()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_role("button", name="退出登录").is_visible()
    visit(page, "trial-list-zh")
    page.get_by_role("button", name="退出登录").click()
    assert page.get_by_role("heading", name="登录").is_visible()
    visit(page, "sign-in-zh")


def test_a_chinese_browser_gets_chinese_pages(browser: Any, server: Server) -> None:
    context = browser.new_context(locale="zh-CN", base_url=server.base)
    try:
        page = context.new_page()
        page.goto("/")
        assert page.get_by_role("heading", name="登录").is_visible()
    finally:
        context.close()


def test_a_form_without_its_csrf_token_is_refused(page: Any, server: Server) -> None:
    response = page.request.post(server.url("/sign-in"), form={"username": "monitor", "password": "equipoise-demo"})
    assert response.status == 403
    assert "did not come from this site" in response.text()


def test_an_unknown_page_is_a_page_and_the_api_stays_json(page: Any, server: Server) -> None:
    page.goto("/no-such-page")
    assert "there is no such page" in page.content()
    api = page.request.get(server.url("/api/no-such-endpoint"))
    assert api.status == 404
    assert api.json()["detail"].startswith("no such endpoint")
