"""Walls in the browser: every page a site coordinator can reach from their dashboard (followed link by link, the
patient and form pages included) shows no arm of the blinded demo trial and no patient or site but their own;
every other site's patient's page is a 404 for them."""

from __future__ import annotations

import re
from collections import deque
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from tests.web.conftest import TRIAL, Server
from tests.web.test_patient_pages import ARMS, api, as_user

pytestmark = pytest.mark.chromium
MAX_PAGES = 80  # enough for the dashboard, every patient of the site and their forms' first pages
HREF = re.compile(r'href="([^"#]+)')
OTHER_SITES = ("milan-sacco", "wuhan-jinyintan", "nyc-presbyterian")


def test_no_page_reachable_from_the_coordinators_dashboard_shows_an_arm_or_another_site(page: Any,
                                                                                        server: Server) -> None:
    status, patients = api(server, "GET", f"/api/trials/{TRIAL}/patients?limit=1000", None, "monitor")
    assert status == 200
    theirs = [p["code"] for p in patients if p["site_id"] != "pumch"]
    assert theirs, "the demo has patients at other sites"
    as_user(page, "coordinator")
    start = f"/trials/{TRIAL}/site"
    seen, queue = {start}, deque([start])
    visited = 0
    while queue and visited < MAX_PAGES:
        path = queue.popleft()
        response = page.request.get(server.url(path), headers={"Accept": "text/html"})
        assert response.status == 200, path
        html = response.text()
        main = html[html.index("<main"):html.index("</main>")]
        visited += 1
        for arm in ARMS:
            assert arm not in main, (path, arm)
        for site in OTHER_SITES:
            assert site not in main, (path, site)
        for code in theirs:
            assert code not in main, (path, code)
        for href in HREF.findall(main):
            target = urlsplit(urljoin(server.url(path), href.replace("&amp;", "&")))
            link = target.path + (f"?{target.query}" if target.query else "")
            if target.netloc == urlsplit(server.base).netloc and target.path.startswith(f"/trials/{TRIAL}/") \
                    and not target.path.endswith("/unblind") and link not in seen:
                seen.add(link)
                queue.append(link)
    assert visited >= 10  # the dashboard, patients and their forms were walked
    for code in theirs:
        assert page.request.get(server.url(f"/trials/{TRIAL}/patients/{code}"),
                                headers={"Accept": "text/html"}).status == 404
