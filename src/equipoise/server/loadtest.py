"""Drive a running trial server the way many sites at once would: enrol and randomize patients concurrently.

Used by the reliability tests (64 clients, several server processes, kill -9) and by
``benchmarks/server_load.py``. It only talks HTTP to a server it is given (normally one it started on
127.0.0.1), and every loop is bounded by the number of patients.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """``equipoise serve`` in its own process group, so that it and its workers can be stopped together."""

    url: str
    workers: int
    port: int = field(default_factory=free_port)
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ServerProcess:
        environment = {**os.environ, **(self.env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "equipoise", "serve", "--db", self.url, "--workers", str(self.workers),
             "--port", str(self.port)],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"the server exited with code {self.process.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not answer on {self.base} within {timeout} s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the server's whole process group (the uvicorn supervisor and its workers)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()


@dataclass(frozen=True)
class Acknowledged:
    """A randomization whose response reached the client (so it must survive anything after)."""

    patient_id: int
    allocation_id: int
    kit_code: str | None
    idempotency_key: str
    site_id: str


@dataclass
class LoadResult:
    patients: int
    clients: int
    seconds: float
    latencies_ms: list[float]
    acknowledged: list[Acknowledged]
    errors: list[str]
    pending: list[tuple[int, str]] = field(default_factory=list)  # (patient id, key) sent but not answered

    @property
    def per_second(self) -> float:
        return len(self.acknowledged) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(q) - 1]


Patient = tuple[str, dict[str, Any]]  # (site id, enrolment values)


def run_load(base: str, token: str, trial_id: str, patients: list[Patient], clients: int,
             stop: threading.Event | None = None, timeout: float = 120, tag: str | None = None) -> LoadResult:
    """Each client takes the next patient, enrols it, then randomizes it with a fresh idempotency key.

    The randomize latency (the request a coordinator waits for) is recorded per call. Idempotency keys are
    ``enrol-<tag>-<n>`` and ``rand-<tag>-<n>``; the tag (random by default) keeps runs on one trial apart.
    """
    run_tag = tag or secrets.token_hex(4)
    lock = threading.Lock()  # guards the client-side work list only; the server sees independent requests
    queue = list(enumerate(patients))
    latencies: list[float] = []
    acknowledged: list[Acknowledged] = []
    errors: list[str] = []
    pending: list[tuple[int, str]] = []
    headers = {"Authorization": f"Bearer {token}"}

    def worker() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=timeout) as client:
            while not (stop is not None and stop.is_set()):
                with lock:
                    if not queue:
                        return
                    number, (site, values) = queue.pop()
                try:
                    enrol = client.post(f"/api/trials/{trial_id}/patients", json={"site_id": site, "values": values},
                                        headers={"Idempotency-Key": f"enrol-{run_tag}-{number}"})
                    if enrol.status_code != 201:
                        with lock:
                            errors.append(f"enrol {number}: {enrol.status_code} {enrol.text[:200]}")
                        continue
                    pid = int(enrol.json()["id"])
                    key = f"rand-{run_tag}-{number}"
                    with lock:
                        pending.append((pid, key))
                    started = time.perf_counter()
                    response = client.post(f"/api/trials/{trial_id}/patients/{pid}/randomize",
                                           headers={"Idempotency-Key": key})
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 201:
                        with lock:
                            errors.append(f"randomize {pid}: {response.status_code} {response.text[:200]}")
                        continue
                    body = response.json()
                    with lock:
                        pending.remove((pid, key))
                        latencies.append(elapsed)
                        acknowledged.append(Acknowledged(pid, int(body["allocation_id"]), body.get("kit_code"),
                                                         key, site))
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(f"patient {number}: {type(exc).__name__}")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(len(patients), clients, time.perf_counter() - started, latencies, acknowledged, errors,
                      pending)


def login(base: str, username: str, password: str) -> str:
    response = httpx.post(f"{base}/api/auth/login", json={"username": username, "password": password}, timeout=30)
    response.raise_for_status()
    return str(response.json()["token"])


def api_token(base: str, username: str, password: str) -> str:
    """A long-lived API token (no idle time-out): what a site's integration would use."""
    session = login(base, username, password)
    response = httpx.post(f"{base}/api/auth/tokens", json={"name": "load", "password": password},
                          headers={"Authorization": f"Bearer {session}"}, timeout=30)
    response.raise_for_status()
    return str(response.json()["token"])


def spread(patients: int, make: Callable[[int], Patient]) -> list[Patient]:
    return [make(i) for i in range(patients)]
