"""Trial-server load: randomizations per second and randomize latency at 1, 16 and 64 concurrent clients.

Each client enrols a patient (server-side eligibility) and then randomizes it (stratified permuted blocks,
20 strata, blinded kit codes, audit chain) against ``equipoise serve --workers 4`` on 127.0.0.1, on SQLite and
on PostgreSQL: with two requests (``POST /patients``, then ``.../randomize``) and with one
(``POST /enrol-and-randomize``). The anchor is the same machine's PostgreSQL measured in the same run with ``pgbench``'s
built-in simple-update script: issue 5 asks for p99 < 50 ms at 64 clients and a randomization rate of at
least 30% of pgbench's TPS.

Two more measurements say what those numbers mean. The floor: a request that does nothing (``GET /health``, a
route run in the same thread pool) under the same clients and server, i.e. what uvicorn, FastAPI and the load
generator alone allow on this machine. And a steady load: patients arriving at a fixed rate (an open loop),
which is how sites use the server, rather than clients that never pause.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

PG = "postgresql://postgres@127.0.0.1:5432"
LOAD_TRIAL = ROOT / "tests" / "server" / "data" / "load-trial.yaml"
PASSWORD = "benchmark password"
CLIENTS = {1: 150, 16: 800, 64: 1600}  # clients -> patients
NOOP_REQUESTS = {1: 2000, 16: 8000, 64: 16000}  # clients -> requests of the floor
STEADY_RATE, STEADY_PATIENTS = 100.0, 1500  # patients per second arriving at 64 clients, 15 s
# per-run database names: two runs sharing one PostgreSQL must not drop each other's database
BENCH_DB, PGBENCH_DB = f"equipoise_bench_{os.getpid()}", f"equipoise_pgbench_{os.getpid()}"


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{PG}/test", connect_timeout=2):
            return True
    except Exception:
        return False


def _prepare(url: str) -> None:
    from equipoise.identity.principal import system_principal
    from equipoise.identity.roles import Role
    from equipoise.services.trials import create_trial_from_file
    from equipoise.services.users import add_user
    from equipoise.store.db import Database
    from equipoise.store.migrate import upgrade

    db = Database(url)
    upgrade(db)
    operator = system_principal("benchmark")
    create_trial_from_file(db, operator, LOAD_TRIAL)
    add_user(db, operator, "loader", "Load coordinator", PASSWORD,
             roles=[(Role.COORDINATOR, "LOAD-TRIAL", f"s{i}") for i in range(1, 6)])
    db.dispose()


FLOWS = {"two requests": False, "one request": True}
# flow, clients, rate, p50, p99, errors, CPU ms per patient of the server, the load generator and PostgreSQL
Row = tuple[str, int, float, float, float, int, float, float, float]
# clients, requests/s, p50, p99, CPU ms per request of the server and of the load generator
NoopRow = tuple[int, float, float, float, float, float]


def _cpu_seconds(match: Callable[[int, str, int], bool]) -> float:
    """User + system CPU of the processes (pid, command name, process group) that ``match`` selects, including
    their children that have ended (a PostgreSQL backend's CPU goes to the postmaster when it exits)."""
    stats: dict[int, tuple[str, list[str]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        stats[int(entry)] = (text[text.index("(") + 1: text.rindex(")")], text[text.rindex(")") + 2:].split())
    total = 0
    for pid, (name, fields) in stats.items():
        if not match(pid, name, int(fields[2])):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        parent = stats.get(int(fields[1]))
        if parent is None or not match(int(fields[1]), parent[0], int(parent[1][2])):
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: its ended children, counted once
    return total / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], q: int) -> float:
    import statistics

    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _noop_latencies(base: str, clients: int, n: int) -> tuple[float, list[float]]:
    """``n`` requests of ``GET /health`` from ``clients`` clients that never pause: seconds, latencies (ms)."""
    import threading
    import time

    from benchmarks.load_generator import _Client

    left, latencies, lock = [n], [], threading.Lock()

    def worker() -> None:
        with _Client(base, {}, 30) as client:
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                sent = time.perf_counter()
                client.connection.request("GET", "/health")
                client.connection.getresponse().read()
                with lock:
                    latencies.append((time.perf_counter() - sent) * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def _noop_floor(base: str, group: int) -> list[NoopRow]:
    """``GET /health`` in a closed loop: the rate and latency a route that does nothing gets from this stack."""
    rows = []
    for clients, n in NOOP_REQUESTS.items():
        before = (_cpu_seconds(lambda _pid, _name, pgrp: pgrp == group), _own_cpu())
        seconds, latencies = _noop_latencies(base, clients, n)
        after = (_cpu_seconds(lambda _pid, _name, pgrp: pgrp == group), _own_cpu())
        server_ms, load_ms = (1000 * (b - a) / n for a, b in zip(before, after, strict=True))
        rows.append((clients, n / seconds, _percentile(latencies, 50), _percentile(latencies, 99), server_ms,
                     load_ms))
    return rows


def _measure(url: str, floor: list[NoopRow] | None = None) -> tuple[list[Row], Row]:
    """The closed-loop rows, the steady-load row and, into ``floor`` if given, the no-op floor's rows."""
    from benchmarks.load_generator import ServerProcess, api_token, run_load

    _prepare(url)
    server = ServerProcess(url, workers=4).start()
    assert server.process is not None
    group = server.process.pid
    rows = []
    try:
        token = api_token(server.base, "loader", PASSWORD)
        offset = 0
        for flow, one_request in FLOWS.items():
            for clients, n in CLIENTS.items():
                patients = [(f"s{(offset + i) % 5 + 1}", {"group": f"g{((offset + i) // 5) % 4 + 1}",
                                                          "consent": True}) for i in range(n)]
                offset += n
                # Where the CPU goes (Linux /proc): the server's process group, this process (the load
                # generator's threads), PostgreSQL's backends (none on SQLite).
                before = (_cpu_seconds(lambda _pid, _name, pgrp: pgrp == group), _own_cpu(),
                          _cpu_seconds(lambda _pid, name, _pgrp: name.startswith("postgres")))
                result = run_load(server.base, token, "LOAD-TRIAL", patients, clients, one_request=one_request)
                after = (_cpu_seconds(lambda _pid, _name, pgrp: pgrp == group), _own_cpu(),
                         _cpu_seconds(lambda _pid, name, _pgrp: name.startswith("postgres")))
                done = max(1, len(result.acknowledged))
                server_ms, load_ms, pg_ms = (1000 * (b - a) / done for a, b in zip(before, after, strict=True))
                rows.append((flow, clients, result.per_second, result.percentile(50), result.percentile(99),
                             len(result.errors), server_ms, load_ms, pg_ms))
        patients = [(f"s{(offset + i) % 5 + 1}", {"group": f"g{((offset + i) // 5) % 4 + 1}", "consent": True})
                    for i in range(STEADY_PATIENTS)]
        result = run_load(server.base, token, "LOAD-TRIAL", patients, max(CLIENTS), one_request=True,
                          rate=STEADY_RATE)
        steady = ("one request, steady load", max(CLIENTS), result.per_second, result.percentile(50),
                  result.percentile(99), len(result.errors), 0.0, 0.0, 0.0)
        if floor is not None:
            floor.extend(_noop_floor(server.base, group))
    finally:
        server.stop()
    return rows, steady


def _pgbench_tps() -> float | None:
    if shutil.which("pgbench") is None:
        return None
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
        conn.execute(f"CREATE DATABASE {PGBENCH_DB}")
    try:
        base = ["-h", "127.0.0.1", "-U", "postgres"]
        subprocess.run(["pgbench", *base, "-i", "-q", "-s", "4", PGBENCH_DB], check=True,
                       capture_output=True)
        out = subprocess.run(["pgbench", *base, "-b", "simple-update", "-c", "64", "-j", "2", "-T", "20",
                              PGBENCH_DB], check=True, capture_output=True, text=True).stdout
        match = re.search(r"tps = ([0-9.]+)", out)
        return float(match.group(1)) if match else None
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")


def run() -> str:
    lines = ["## Trial server: randomizations under concurrent load", "",
             "Each patient is enrolled (server-side eligibility) and randomized by one client, either with two "
             "requests (`POST /patients`, then `.../randomize`; latency is the randomize request's) or with one "
             "(`POST /enrol-and-randomize`, one transaction; latency is that request's, enrolment included). "
             "Server: `equipoise serve --workers 4`, stratified permuted blocks over 20 strata, blinded kit "
             "codes, audit chain written in the same transaction. Clients never pause between patients (a "
             "closed loop), so at 64 clients a patient's latency is about 64 / rate.", "",
             "| database | flow | clients | randomizations/s | p50 (ms) | p99 (ms) | errors | vs pgbench TPS "
             "| CPU ms/patient: server | load generator | PostgreSQL |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    tps = _pgbench_tps() if _pg_available() else None
    results: dict[str, list[Row]] = {}
    steady: dict[str, Row] = {}
    floor: list[NoopRow] = []
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"], steady["SQLite"] = _measure(f"sqlite:///{tmp}/bench.sqlite3", floor)
    if _pg_available():
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
        try:
            results["PostgreSQL"], steady["PostgreSQL"] = _measure(
                f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}")
        finally:
            with contextlib.suppress(Exception), psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    for database, rows in results.items():
        for flow, clients, rate, p50, p99, errors, server_ms, load_ms, pg_ms in rows:
            ratio = f"{rate / tps:.2f}" if tps else "n/a"
            lines.append(f"| {database} | {flow} | {clients} | {rate:.1f} | {p50:.1f} | {p99:.1f} | {errors} | "
                         f"{ratio} | {server_ms:.1f} | {load_ms:.1f} | {pg_ms:.1f} |")
    cores = os.cpu_count() or 1
    lines += ["", f"CPU-bound ceiling on this machine ({cores} cores shared by the server, the load generator and "
              "PostgreSQL): at most cores x 1000 / (CPU ms per patient, all three) randomizations per second. "
              "At 64 clients: " + "; ".join(
                  f"{database}, {flow}: {cores * 1000 / (server_ms + load_ms + pg_ms):.0f}/s"
                  for database, rows in results.items()
                  for flow, clients, _rate, _p50, _p99, _errors, server_ms, load_ms, pg_ms in rows
                  if clients == max(CLIENTS) and server_ms + load_ms + pg_ms > 0) + "."]
    lines += ["", f"pgbench simple-update on the same PostgreSQL (64 clients, 20 s, scale 4): "
              f"{f'{tps:.0f} TPS' if tps else 'not available'}.",
              "Goals (issue 5): p99 < 50 ms at 64 clients; randomizations/s >= 0.30 x pgbench TPS."
              + (f" Here: {0.30 * tps:.0f} randomizations/s." if tps else ""), ""]
    lines += ["### The floor: a request that does nothing", "",
              "`GET /health` (no database, no authentication; a route run in the server's thread pool like every "
              "API route) against the same server, `--workers 4`, and the same load generator in a closed loop. "
              "No route can be faster or, at 64 clients, have a lower p99 than this on this machine.", "",
              "| clients | requests/s | p50 (ms) | p99 (ms) | CPU ms/request: server | load generator |",
              "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {clients} | {rate:.0f} | {p50:.1f} | {p99:.1f} | {server_ms:.2f} | {load_ms:.2f} |"
              for clients, rate, p50, p99, server_ms, load_ms in floor]
    lines += ["", "### A steady load: patients arriving at a fixed rate", "",
              f"{STEADY_PATIENTS} patients arriving at {STEADY_RATE:.0f} per second (evenly spaced) across "
              f"{max(CLIENTS)} clients, each enrolled and randomized by one request; a latency runs from the "
              "patient's arrival to the answer, so waiting for a free client counts too. For scale: RECOVERY "
              "randomized about 10,000 patients in its first two months, 0.002 per second.", "",
              "| database | patients/s | p50 (ms) | p99 (ms) | errors |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {database} | {row[2]:.1f} | {row[3]:.1f} | {row[4]:.1f} | {row[5]} |"
              for database, row in steady.items()]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
