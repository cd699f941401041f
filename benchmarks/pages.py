"""Web pages: server-side render time of every page route (issue 16: p95 under 100 ms at 10,000 patients).

Each page is requested ``REPEATS`` times in process through the real app (``create_app`` over a copy of the
1,000-patient demo database, FastAPI's TestClient, no network), signed in through the page sign-in (its CSRF
token and session cookie), as the demo's PUMCH coordinator, its investigator (the unblinding form) and the
all-sites monitor. Two anchors measured in the same run: ``GET /health`` (what the app, its middleware and the
TestClient cost for a request that does nothing) and, per page, the JSON API route that reads the same data for
the same user (a patient's schedule, a form, the site's tracking): the page's ratio to it is what rendering HTML
adds.

The database is the cached demo of ``benchmarks/scale.py`` (``EQUIPOISE_PAGES_DB``, default
``/tmp/h-scale-cache/msc-1000-20200316.sqlite3``, else ``.bench-scale/msc-1000-20200316.sqlite3``); without one,
a 200-patient demo is built (``equipoise demo --no-serve``, about 30 CPU-s) and cached in ``.bench-scale/``.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from equipoise.server.app import create_app
from equipoise.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"
TRIAL = "MSC-COVID-RCT"
SEED = 20200316
PASSWORD = "equipoise-demo"
REPEATS = 30
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML = {"Accept": "text/html"}
# how each page's work grows with the trial (read from the handlers and the services they call)
GROWTH = {
    "sign-in": "O(1)",
    "trial list": "O(trials)",
    "trial home (monitor)": "O(1)",
    "site dashboard (coordinator, 1 site)": "O(site's patients): FormService.tracking runs every patient's "
                                            "schedule, and the page lists the site's patients (up to 1,000)",
    "site dashboard (monitor, all sites)": "O(trial's patients): the same, for every site",
    "enrol form": "O(1)",
    "patient page": "O(the patient's forms)",
    "CRF page": "O(the form's values and history)",
    "unblinding form (investigator)": "O(1)",
    "change password": "O(1)",
}


def _database() -> Path:
    chosen = os.environ.get("EQUIPOISE_PAGES_DB")
    for candidate in ([Path(chosen)] if chosen else []) + [Path("/tmp/h-scale-cache/msc-1000-20200316.sqlite3"),
                                                           ROOT / ".bench-scale" / f"msc-1000-{SEED}.sqlite3"]:
        if candidate.exists():
            return candidate
    built = ROOT / ".bench-scale" / f"msc-200-{SEED}.sqlite3"
    if not built.exists():
        built.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "equipoise", "demo", "--no-serve", "--db", f"sqlite:///{built}",
                        "--protocol", str(PROTOCOL), "--patients", "200", "--seed", str(SEED)], check=True,
                       capture_output=True)
    return built


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def sign_in(client: TestClient, user: str) -> None:
    """Signs ``client`` in through the sign-in page (its CSRF token, then the session cookie)."""
    page = client.get("/", headers=HTML)
    token = CSRF.search(page.text)
    if token is None:
        raise RuntimeError(f"no CSRF token on the sign-in page ({page.status_code})")
    done = client.post("/sign-in", data={"csrf_token": token.group(1), "username": user, "password": PASSWORD,
                                         "next": "/trials"}, follow_redirects=False)
    if done.status_code != 303:
        raise RuntimeError(f"sign-in as {user}: {done.status_code} {done.text[:300]}")


def _time(client: TestClient, path: str, headers: dict[str, str]) -> tuple[float, float]:
    client.get(path, headers=headers)  # a first request fills the caches (templates, protocol, ...)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        response = client.get(path, headers=headers, follow_redirects=False)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return _percentile(times, 50), _percentile(times, 95)


Row = tuple[str, str, float, float, str, float]  # page, path, p50, p95, API anchor, its p50


def measure(source: Path) -> tuple[int, int, float, float, list[Row]]:
    """Patients in the trial and at PUMCH, /health's p50 and p95, and one row per page."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as scratch:
        copy = Path(scratch) / "trial.sqlite3"
        shutil.copyfile(source, copy)
        database = Database(f"sqlite:///{copy}")
        app = create_app(database)
        with TestClient(app) as anonymous, TestClient(app) as coordinator, TestClient(app) as monitor, \
                TestClient(app) as investigator:
            health = _time(anonymous, "/health", {})
            sign_in_page = _time(anonymous, "/", HTML)
            for client, user in ((coordinator, "coordinator"), (monitor, "monitor"), (investigator, "investigator")):
                sign_in(client, user)
            token = anonymous.post("/api/auth/login", json={"username": "coordinator", "password": PASSWORD})
            token.raise_for_status()
            api = {"Authorization": f"Bearer {token.json()['token']}"}
            base = f"/api/trials/{TRIAL}"
            patients = anonymous.get(f"{base}/patients", params={"site_id": "pumch", "limit": 1000}, headers=api)
            patients.raise_for_status()
            with sqlite3.connect(copy) as counting:
                total = int(counting.execute("SELECT count(*) FROM patients").fetchone()[0])
                site_total = int(counting.execute("SELECT count(*) FROM patients WHERE site_id = 'pumch'")
                                 .fetchone()[0])
            pid = patients.json()[0]["id"]
            code = f"P-{pid:06d}"
            schedule = anonymous.get(f"{base}/patients/{pid}/schedule", headers=api).json()
            done = [f for f in _forms(schedule) if f.get("status") in ("complete", "completed", "saved", "signed")]
            form = (done or _forms(schedule))[0]
            form_id, visit_id = form["form_id"], form["visit_id"]
            pages: list[tuple[str, TestClient, str, str]] = [
                ("trial list", coordinator, "/trials", f"{base}"),
                ("trial home (monitor)", monitor, f"/trials/{TRIAL}", f"{base}"),
                ("site dashboard (coordinator, 1 site)", coordinator, f"/trials/{TRIAL}/site",
                 f"{base}/tracking?site_id=pumch"),
                ("site dashboard (monitor, all sites)", monitor, f"/trials/{TRIAL}/site", f"{base}/tracking"),
                ("enrol form", coordinator, f"/trials/{TRIAL}/enrol", f"{base}/protocol"),
                ("patient page", coordinator, f"/trials/{TRIAL}/patients/{code}", f"{base}/patients/{pid}/schedule"),
                ("CRF page", coordinator, f"/trials/{TRIAL}/patients/{code}/forms/{form_id}/{visit_id}",
                 f"{base}/patients/{pid}/forms/{form_id}/{visit_id}"),
                ("unblinding form (investigator)", investigator, f"/trials/{TRIAL}/patients/{code}/unblind",
                 f"{base}/patients/{pid}"),
                ("change password", coordinator, "/account/password", "/api/auth/me"),
            ]
            rows.append(("sign-in", "/", *sign_in_page, "GET /health", health[0]))
            monitor_api = _monitor_api(anonymous)
            for name, client, path, anchor in pages:
                p50, p95 = _time(client, path, HTML)
                headers = monitor_api if client is monitor else api
                anchor_p50, _p95 = _time(anonymous, anchor, headers)
                rows.append((name, path, p50, p95, f"GET {anchor}", anchor_p50))
        database.dispose()
    return total, site_total, health[0], health[1], rows


def _monitor_api(client: TestClient) -> dict[str, str]:
    token = client.post("/api/auth/login", json={"username": "monitor", "password": PASSWORD})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['token']}"}


def _forms(schedule: object) -> list[dict[str, str]]:
    """The schedule's forms, whatever its nesting (a list of visits with forms, or of forms)."""
    found: list[dict[str, str]] = []
    if isinstance(schedule, dict):
        if "form_id" in schedule and "visit_id" in schedule:
            found.append(schedule)
        for value in schedule.values():
            found += _forms(value)
    elif isinstance(schedule, list):
        for value in schedule:
            found += _forms(value)
    return found


def run() -> str:
    source = _database()
    total, site_total, health50, health95, rows = measure(source)
    lines = [
        "## Web pages: server-side render time",
        "",
        f"Every page route, {REPEATS} requests each, in process through the real app (TestClient, no network), "
        f"signed in through the sign-in page, over a copy of the {total:,}-patient demo trial ({source.name}; "
        f"{site_total:,} of them at PUMCH, the coordinator's site). "
        f"Anchors in the same run: `GET /health` (p50 {health50:.2f} ms, p95 {health95:.2f} ms) and the JSON "
        "API route reading the same data for the same user. Issue 16's goal: every page's p95 under 100 ms at "
        "10,000 patients (not built here: see the growth column).",
        "",
        "| page | p50 ms | p95 ms | p50 / `/health` | API anchor | anchor p50 ms | page / anchor | grows with |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for name, _path, p50, p95, anchor, anchor50 in rows:
        lines.append(f"| {name} | {p50:.1f} | {p95:.1f} | {p50 / health50:.1f} | `{anchor}` | {anchor50:.1f} | "
                     f"{p50 / anchor50:.2f} | {GROWTH.get(name, '')} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
