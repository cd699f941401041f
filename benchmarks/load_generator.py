"""Drive a running trial server the way many sites at once would: enrol and randomize patients concurrently.

Used by the reliability tests (64 clients, several server processes, kill -9) and by
``benchmarks/server_load.py``. It only talks HTTP to a server it is given (normally one it started on
127.0.0.1), and every loop is bounded by the number of patients.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
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
    log: Any = None  # the server's stderr goes to a file: a pipe nobody reads would fill and block it

    @property
    def https(self) -> bool:
        return bool((self.env or {}).get("EQUIPOISE_TLS_CERT"))

    @property
    def base(self) -> str:
        return f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ServerProcess:
        environment = {**os.environ, **(self.env or {})}
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - open for the server's lifetime, closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "equipoise", "serve", "--db", self.url, "--workers", str(self.workers),
             "--port", str(self.port)],
            env=environment, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.process.returncode}: {self.stderr()[-2000:]}")
            try:
                # a self-signed test certificate is its own authority
                verify = ssl.create_default_context(cafile=(self.env or {})["EQUIPOISE_TLS_CERT"]) if self.https \
                    else True
                if httpx.get(f"{self.base}/health", timeout=1, verify=verify).status_code == 200:
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

    def stderr(self) -> str:
        """What the server wrote to stderr so far."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return bytes(self.log.read()).decode(errors="replace")

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        if self.log is not None:
            self.log.close()
            self.log = None


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
    # (patient id, key) sent but not answered; the id is -1 for an enrol-and-randomize request (not known yet)
    pending: list[tuple[int, str]] = field(default_factory=list)

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
             stop: threading.Event | None = None, timeout: float = 120, tag: str | None = None,
             one_request: bool = False, rate: float | None = None) -> LoadResult:
    """Each client takes the next patient, enrols it, then randomizes it with a fresh idempotency key.

    The randomize latency (the request a coordinator waits for) is recorded per call. Idempotency keys are
    ``enrol-<tag>-<n>`` and ``rand-<tag>-<n>``; the tag (random by default) keeps runs on one trial apart.
    With ``one_request`` each patient is enrolled and randomized by one ``enrol-and-randomize`` request (key
    ``rand-<tag>-<n>``), whose latency is recorded.

    By default the clients never pause (a closed loop: the server's pace sets the load). With ``rate``, patients
    arrive on a fixed schedule, ``rate`` per second (an open loop), and each latency runs from the patient's
    arrival to the randomization's answer, so time spent waiting for a free client counts too (no coordinated
    omission: Tene, "How NOT to measure latency", 2015); with two requests it includes the enrolment's.
    """
    run_tag = tag or secrets.token_hex(4)
    lock = threading.Lock()  # guards the client-side work list only; the server sees independent requests
    queue = list(enumerate(patients))
    arrivals = iter(range(len(patients)))  # the n-th patient taken arrives at n / rate seconds
    latencies: list[float] = []
    acknowledged: list[Acknowledged] = []
    errors: list[str] = []
    pending: list[tuple[int, str]] = []
    headers = {"Authorization": f"Bearer {token}"}

    def worker() -> None:
        with _Client(base, headers, timeout) as client:
            while not (stop is not None and stop.is_set()):
                with lock:
                    if not queue:
                        return
                    number, (site, values) = queue.pop()
                    due = None if rate is None else started + next(arrivals) / rate
                if due is not None:
                    time.sleep(max(0.0, due - time.perf_counter()))
                try:
                    key = f"rand-{run_tag}-{number}"
                    if one_request:
                        randomize(client, f"/api/trials/{trial_id}/enrol-and-randomize",
                                  {"site_id": site, "values": values}, key, site, None, due)
                        continue
                    status, body = client.post(f"/api/trials/{trial_id}/patients",
                                               {"site_id": site, "values": values}, f"enrol-{run_tag}-{number}")
                    if status != 201:
                        with lock:
                            errors.append(f"enrol {number}: {status} {body[:200]!r}")
                        continue
                    pid = int(json.loads(body)["id"])
                    randomize(client, f"/api/trials/{trial_id}/patients/{pid}/randomize", None, key, site, pid, due)
                except (OSError, http.client.HTTPException) as exc:
                    client.close()  # the next request opens a fresh connection
                    with lock:
                        errors.append(f"patient {number}: {type(exc).__name__}")

    def randomize(client: _Client, path: str, payload: object, key: str, site: str, pid: int | None,
                  due: float | None) -> None:
        """The timed request that randomizes (``pid`` None: one that enrols too, and answers with the id), timed
        from its patient's arrival (``due``) in an open loop."""
        with lock:
            pending.append((-1 if pid is None else pid, key))
        sent = time.perf_counter() if due is None else due
        status, body = client.post(path, payload, key)
        elapsed = (time.perf_counter() - sent) * 1000
        if status != 201:
            with lock:
                errors.append(f"{path}: {status} {body[:200]!r}")
            return
        answer = json.loads(body)
        allocation = answer["allocation"] if pid is None else answer
        patient_id = int(answer["patient"]["id"]) if pid is None else pid
        with lock:
            pending.remove((-1 if pid is None else pid, key))
            latencies.append(elapsed)
            acknowledged.append(Acknowledged(patient_id, int(allocation["allocation_id"]), allocation.get("kit_code"),
                                             key, site))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.perf_counter() + (0.05 if rate else 0.0)  # an open loop's first arrival: once all have started
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(len(patients), clients, time.perf_counter() - started, latencies, acknowledged, errors,
                      pending)


class _Client:
    """A keep-alive HTTP/1.1 connection from the standard library.

    The load generator shares the machine's cores with the server it measures; httpx costs several times more
    CPU per request than ``http.client``, and that CPU would be taken from the server under test.
    """

    def __init__(self, base: str, headers: Mapping[str, str], timeout: float) -> None:
        parsed = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=timeout)
        self.headers = dict(headers)

    def post(self, path: str, payload: object, idempotency_key: str) -> tuple[int, bytes]:
        headers = {**self.headers, "Idempotency-Key": idempotency_key}
        body = b""
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


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
