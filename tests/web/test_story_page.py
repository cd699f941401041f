"""The seed story at /story in Chromium, without signing in: its numbers (the same as `equipoise demo story`),
its picture, in English and in Chinese; the page's server-side time is printed (Server-Timing), not asserted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Server, visit

pytestmark = pytest.mark.chromium


def timing(response: Any) -> str:
    return str(response.headers.get("server-timing", ""))


def test_the_story_tells_its_numbers_and_draws_its_picture(page: Any) -> None:
    page.goto("/")
    with page.expect_response("**/story") as first:
        page.get_by_role("link", name="Why randomize? The story behind Equipoise").click()
    page.wait_for_url("**/story")
    print(f"\n/story (English, first request of this server): Server-Timing {timing(first.value)}")
    assert page.get_by_role("heading", level=1).inner_text().startswith("The seed story")
    main = page.locator("main").inner_text()
    for heading in ("1. What the single-arm studies would show", "2. The randomized trial that should have been run",
                    "3. The simulated trial at its first interim look", "4. The pooled evidence, trial by trial"):
        assert page.get_by_role("heading", name=heading).is_visible()
    assert "Then a case series: 31 patients" in main
    assert "The first report: 7 patients" in main
    assert "MSC-COVID-RCT" in main
    assert "Decision: " in main
    assert "Shu 2020" in main  # the first randomized trial of the pooled evidence
    svg = page.locator("main figure svg")
    assert svg.count() == 1
    assert "1. A single-arm study of 31 patients" in svg.text_content()
    visit(page, "story")
    again = page.goto("/story")
    print(f"\n/story (English, cached): Server-Timing {timing(again)}")


def test_the_story_in_chinese(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=server.base)
    page = context.new_page()
    try:
        response = page.goto("/story")
        print(f"\n/story (Chinese, first time in this language): Server-Timing {timing(response)}")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        main = page.locator("main").inner_text()
        assert "种子故事" in page.get_by_role("heading", level=1).inner_text()
        assert "31" in main
        assert "MSC-COVID-RCT" in main
        assert "单臂研究" in page.locator("main figure svg").text_content()  # the picture speaks Chinese too
        assert "The randomized trial that should have been run" not in main
        visit(page, "story-zh")
    finally:
        context.close()
