"""Scale: what a trial's size costs each operation (issue 18: RECOVERY randomized about 40,000 patients).

For each size (``EQUIPOISE_SCALE_SIZES``, default ``1000,10000``; 40,000 where time allows) the demo trial
(MSC-COVID-RCT) is built through the server's own services by ``equipoise demo --no-serve`` (cached in
``EQUIPOISE_SCALE_DIR``, default ``.bench-scale/``, keyed by size and seed: a rerun reuses it), then each
operation runs as the real command in a child process, timed by the wall clock and measured by the children's
rusage (``os.wait4``: CPU seconds and peak resident memory). Each operation runs on a fresh copy of the
built database, so no run sees another's audit entries. The GET routes a page uses are timed in process
through the real app (FastAPI's TestClient, no network), as the coordinator of one site and as the monitor,
``ROUTE_REPEATS`` times each.

The growth exponent between the two largest sizes is ``log(t2 / t1) / log(n2 / n1)``: 1 is linear in the trial,
0 flat. There is no R anchor for a trial server: the goals are the issue's (at 40,000 patients: ``audit verify``
under 20 s, every export under 60 s, ``analyze``/``report dmc`` under 10 s, ``backup check`` under 60 s, each
under 1 GB; every GET route p95 under 100 ms).
"""

from __future__ import annotations

import math
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from equipoise.server.app import create_app
from equipoise.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"
TRIAL = "MSC-COVID-RCT"
SEED = 20200316
AS_OF = "2020-08-31"
PASSWORD = "equipoise-demo"
ROUTE_REPEATS = 20


@dataclass(frozen=True)
class Cost:
    wall: float  # s
    cpu: float  # user + system s of the child
    peak_mb: float  # peak resident memory of the child


def _sizes() -> list[int]:
    return [int(s) for s in os.environ.get("EQUIPOISE_SCALE_SIZES", "1000,10000").split(",") if s.strip()]


def _cache() -> Path:
    return Path(os.environ.get("EQUIPOISE_SCALE_DIR", ROOT / ".bench-scale"))


def _equipoise() -> list[str]:
    return [sys.executable, "-m", "equipoise"]


def _child(args: list[str], env: dict[str, str] | None = None) -> Cost:
    """Run one command in a child process: its wall time, and its own CPU time and peak memory (``os.wait4``
    reads that child's rusage alone; ``RUSAGE_CHILDREN`` would keep the largest peak of every child so far)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(args, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in (0, 1):  # 1: a check that found something (reported, not a crash)
            err.seek(0)
            raise RuntimeError(f"{' '.join(args)} failed ({process.returncode}): {err.read()[-500:].decode()}")
    return Cost(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def build(n: int) -> tuple[Path, Cost | None]:
    """The demo trial with ``n`` virtual patients (built once, then reused)."""
    target = _cache() / f"msc-{n}-{SEED}.sqlite3"
    if target.exists():
        return target, None
    work = Path(tempfile.mkdtemp(prefix=f"scale-{n}-"))
    cost = _child([*_equipoise(), "demo", "--no-serve", "--data-dir", str(work), "--protocol", str(PROTOCOL),
                   "--patients", str(n), "--seed", str(SEED), "--as-of", AS_OF],
                  env={"EQUIPOISE_DATABASE_URL": ""})
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(work / "equipoise.sqlite3", target)
    shutil.rmtree(work, ignore_errors=True)
    return target, cost


def _measured(source: Path, command: Callable[[str, Path], list[str]]) -> Cost:
    """One command on a fresh copy of the built database (in a scratch directory, removed after)."""
    with tempfile.TemporaryDirectory(prefix="scale-op-") as scratch:
        copy = Path(scratch) / "trial.sqlite3"
        shutil.copyfile(source, copy)
        return _child(command(f"sqlite:///{copy}", Path(scratch)))


def _backup_check(url: str, scratch: Path) -> list[str]:
    """The measured command is the check; the backup it checks is made first (its cost is the row above)."""
    subprocess.run([*_equipoise(), "backup", "create", str(scratch / "b.eqbk"), "--db", url], check=True,
                   capture_output=True)
    return [*_equipoise(), "backup", "check", str(scratch / "b.eqbk")]


OPERATIONS: dict[str, Callable[[str, Path], list[str]]] = {
    "export all (unblinded)": lambda url, d: [*_equipoise(), "export", "all", TRIAL, "--db", url, "--unblinded",
                                              "-o", str(d / "export")],
    "analyze protocol --trial": lambda url, d: [*_equipoise(), "analyze", "protocol", "--trial", TRIAL, "--db", url,
                                                "--json"],
    "report dmc --trial": lambda url, d: [*_equipoise(), "report", "dmc", "--trial", TRIAL, "--db", url,
                                          "-o", str(d / "dmc.html")],
    "audit verify": lambda url, d: [*_equipoise(), "audit", "verify", "--db", url],
    "backup create": lambda url, d: [*_equipoise(), "backup", "create", str(d / "a.eqbk"), "--db", url],
    "backup check": _backup_check,
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def routes(source: Path) -> dict[str, tuple[float, float]]:
    """p50 and p95 (ms) of the GET routes of the coordinator's and the monitor's pages, through the real app."""
    out: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="scale-routes-") as scratch:
        copy = Path(scratch) / "trial.sqlite3"
        shutil.copyfile(source, copy)
        database = Database(f"sqlite:///{copy}")
        with TestClient(create_app(database)) as client:
            def token(user: str) -> dict[str, str]:
                response = client.post("/api/auth/login", json={"username": user, "password": PASSWORD})
                response.raise_for_status()
                return {"Authorization": f"Bearer {response.json()['token']}"}

            coordinator, monitor = token("coordinator"), token("monitor")
            base = f"/api/trials/{TRIAL}"
            first = client.get(f"{base}/patients", params={"site_id": "pumch", "limit": 1}, headers=coordinator)
            pid = first.json()[0]["id"]
            pages = {
                ("coordinator", "GET /api/trials/{id}"): (base, {}, coordinator),
                ("coordinator", "GET .../patients?site_id (page of 100)"): (f"{base}/patients", {"site_id": "pumch"},
                                                                           coordinator),
                ("coordinator", "GET .../patients/{pid}"): (f"{base}/patients/{pid}", {}, coordinator),
                ("coordinator", "GET .../patients/{pid}/forms"): (f"{base}/patients/{pid}/forms", {}, coordinator),
                ("coordinator", "GET .../patients/{pid}/schedule"): (f"{base}/patients/{pid}/schedule", {},
                                                                     coordinator),
                ("coordinator", "GET .../tracking?site_id"): (f"{base}/tracking", {"site_id": "pumch"}, coordinator),
                ("monitor", "GET .../tracking"): (f"{base}/tracking", {}, monitor),
                ("monitor", "GET .../queries"): (f"{base}/queries", {}, monitor),
                ("monitor", "GET /api/audit?patient_id"): ("/api/audit", {"trial_id": TRIAL, "patient_id": pid},
                                                            monitor),
                ("monitor", "GET .../patients (page of 100)"): (f"{base}/patients", {}, monitor),
            }
            for (who, name), (path, params, headers) in pages.items():
                times = []
                for _ in range(ROUTE_REPEATS):
                    start = time.perf_counter()
                    response = client.get(path, params=params, headers=headers)
                    times.append((time.perf_counter() - start) * 1000)
                    if response.status_code != 200:
                        raise RuntimeError(f"{name} as {who}: {response.status_code} {response.text[:200]}")
                out[f"{name} ({who})"] = (_percentile(times, 50), _percentile(times, 95))
        database.dispose()
    return out


# (label, file suffix, function) of the build's profile: where a virtual patient's cost goes
PROFILED = (
    ("whole population (populate)", "cli/demo_population.py", "populate"),
    ("form saves (FormService.save)", "services/forms.py", "save"),
    ("forms marked not done", "services/forms.py", "mark_not_done"),
    ("  of which: the saved record read back (record_view)", "services/forms.py", "record_view"),
    ("  of which: the patient and permission look-up (patient_for)", "services/crf_access.py", "patient_for"),
    ("  of which: validation (check_values)", "services/crf_values.py", "check_values"),
    ("audit entries sealed (hash chain, with their site look-ups)", "store/audit.py", "_seal"),
    ("  of which: the entries' sites (_patient_sites)", "store/audit.py", "_patient_sites"),
    ("enrolments (PatientService.enrol)", "services/patients.py", "enrol"),
    ("randomizations (RandomizationService.randomize)", "services/randomization.py", "randomize"),
    ("SQLite commits (sqlite3 commit: fsync)", "~", "<method 'commit' of 'sqlite3.Connection' objects>"),
)


def build_profile(n: int = 100) -> str:
    """Where building the demo trial spends its time: a profiled ``demo --patients n`` (cProfile's cumulative
    times, which include the profiler's own overhead: read them as shares)."""
    with tempfile.TemporaryDirectory(prefix="scale-profile-") as scratch:
        out = Path(scratch) / "demo.prof"
        _child([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "equipoise", "demo", "--no-serve",
                "--data-dir", scratch, "--protocol", str(PROTOCOL), "--patients", str(n), "--seed", str(SEED),
                "--as-of", AS_OF], env={"EQUIPOISE_DATABASE_URL": ""})
        stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    found: dict[str, tuple[int, float]] = {}
    executes = 0
    for (file, _line, function), (_cc, calls, _tt, cumulative, _callers) in stats.items():
        for label, suffix, name in PROFILED:
            if function == name and file.endswith(suffix):
                count, seconds = found.get(label, (0, 0.0))
                found[label] = (count + calls, seconds + cumulative)
        if function == "_execute_context" and file.endswith("sqlalchemy/engine/base.py"):
            executes += calls
    total = found.get(PROFILED[0][0], (1, 1.0))[1]
    forms = found.get(PROFILED[1][0], (0, 0.0))[0] + found.get(PROFILED[2][0], (0, 0.0))[0]
    lines = [f"Building the demo trial, profiled ({n} patients, {forms} form saves or not-dones, "
             f"{executes} SQL statements: about {executes / max(forms, 1):.0f} per form operation, all operations "
             "counted):", "", "| where | calls | profiled s | share of the population |", "|---|---|---|---|"]
    for label, _suffix, _name in PROFILED:
        calls, seconds = found.get(label, (0, 0.0))
        lines.append(f"| {label} | {calls} | {seconds:.1f} | {seconds / total:.0%} |")
    return "\n".join(lines) + "\n"


def _exponent(small: tuple[int, float], large: tuple[int, float]) -> str:
    (n1, t1), (n2, t2) = small, large
    if n1 == n2 or t1 <= 0 or t2 <= 0:
        return "–"
    return f"{math.log(t2 / t1) / math.log(n2 / n1):.2f}"


def run() -> str:
    sizes = sorted(_sizes())
    built: dict[int, tuple[Path, Cost | None]] = {n: build(n) for n in sizes}
    costs = {n: {name: _measured(built[n][0], command) for name, command in OPERATIONS.items()} for n in sizes}
    latencies = {n: routes(built[n][0]) for n in sizes}
    head = " | ".join(f"{n:,} patients: wall s / CPU s / peak MB" for n in sizes)
    lines = [
        "## Scale: the demo trial at " + ", ".join(f"{n:,}" for n in sizes) + " patients (SQLite)",
        "",
        "Each operation is the real command in a child process on a fresh copy of the trial "
        "(`benchmarks/scale.py`); CPU and peak memory from that child's own rusage (`os.wait4`). Growth exponent "
        "between the two largest sizes (1: linear in the trial; 0: flat).",
        "",
        f"| operation | {head} | growth (CPU) | growth (memory) |",
        "|---|" + "---|" * len(sizes) + "---|---|",
    ]
    for name in OPERATIONS:
        cells = " | ".join(f"{costs[n][name].wall:.1f} / {costs[n][name].cpu:.1f} / {costs[n][name].peak_mb:.0f}"
                           for n in sizes)
        lo, hi = sizes[0] if len(sizes) == 1 else sizes[-2], sizes[-1]
        lines.append(f"| `{name}` | {cells} | {_exponent((lo, costs[lo][name].cpu), (hi, costs[hi][name].cpu))} | "
                     f"{_exponent((lo, costs[lo][name].peak_mb), (hi, costs[hi][name].peak_mb))} |")
    build_cells = " | ".join(
        (f"{c.wall:.0f} / {c.cpu:.0f} / {c.peak_mb:.0f} ({c.cpu / n * 1000:.0f} CPU-ms per patient)"
         if (c := built[n][1]) is not None else "cached") for n in sizes)
    lines.append(f"| build through the services (`demo --patients N`) | {build_cells} | | |")
    lines += ["", "GET routes of a page (in process, " f"{ROUTE_REPEATS} requests each): p50 / p95 ms", "",
              "| route (as) | " + " | ".join(f"{n:,} patients" for n in sizes) + " | growth (p50) |",
              "|---|" + "---|" * len(sizes) + "---|"]
    for route in latencies[sizes[0]]:
        cells = " | ".join(f"{latencies[n][route][0]:.1f} / {latencies[n][route][1]:.1f}" for n in sizes)
        lo, hi = sizes[0] if len(sizes) == 1 else sizes[-2], sizes[-1]
        lines.append(f"| {route} | {cells} | "
                     f"{_exponent((lo, latencies[lo][route][0]), (hi, latencies[hi][route][0]))} |")
    return "\n".join(lines) + "\n\n" + build_profile()


if __name__ == "__main__":
    print(run())
