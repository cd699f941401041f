"""Reliability under load with real server processes (issue 5): many clients, several processes, kill -9.

64 concurrent clients randomize 5,000 patients across 20 strata through 4 ``equipoise serve`` processes
sharing one database (SQLite and PostgreSQL): no duplicate or skipped allocation, every complete block
exactly balanced, replay identical, audit chain intact. Then the server is killed with SIGKILL in the middle
of the load and restarted: every acknowledged allocation is there exactly once and the chain verifies.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from benchmarks.load_generator import Acknowledged, LoadResult, ServerProcess, api_token, run_load
from sqlalchemy import func, select

from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.integrity.audit_verify import verify
from equipoise.services.replay import replay_trial
from equipoise.services.trials import create_trial_from_file
from equipoise.services.users import add_user
from equipoise.store.db import Database
from equipoise.store.models import Allocation, AllocationState, Patient
from tests.store.support import PASSWORD

LOAD_TRIAL = Path(__file__).resolve().parent / "data" / "load-trial.yaml"
TRIAL = "LOAD-TRIAL"
SITES = [f"s{i}" for i in range(1, 6)]
PATIENTS = int(os.environ.get("EQUIPOISE_LOAD_PATIENTS", "5000"))

pytestmark = pytest.mark.slow


def patients(n: int) -> list[tuple[str, dict[str, object]]]:
    """n patients spread over the 5 sites x 4 groups = 20 strata."""
    return [(SITES[i % 5], {"group": f"g{(i // 5) % 4 + 1}", "consent": True}) for i in range(n)]


def prepare(db_url: str) -> None:
    db = Database(db_url)
    operator = system_principal("test")
    create_trial_from_file(db, operator, LOAD_TRIAL)
    add_user(db, operator, "loader", "Load coordinator", PASSWORD,
             roles=[(Role.COORDINATOR, TRIAL, site) for site in SITES])
    db.dispose()


def check_integrity(db_url: str, acknowledged: list[Acknowledged], expected: int) -> None:
    """RND-2/RND-7/AUD: exactly-once allocations, contiguous sequences, balanced blocks, replay, audit chain."""
    db = Database(db_url)
    try:
        with db.read() as s:
            rows = s.scalars(select(Allocation).where(Allocation.trial_id == TRIAL)).all()
            assert len(rows) == expected
            assert len({r.patient_id for r in rows}) == expected  # no patient twice
            assert len({r.kit_code for r in rows}) == expected  # kit codes unique
            assert s.scalar(select(func.count()).select_from(Patient).where(Patient.status == "randomized")) == expected
            by_id = {r.id: r for r in rows}
            for ack in acknowledged:  # every acknowledged allocation is there, unchanged
                row = by_id[ack.allocation_id]
                assert (row.patient_id, row.kit_code, row.idempotency_key) == (ack.patient_id, ack.kit_code,
                                                                               ack.idempotency_key)
            states = s.scalars(select(AllocationState).where(AllocationState.trial_id == TRIAL)).all()
            assert len(states) == 20
            for state in states:
                mine = sorted(r.sequence for r in rows if r.state_id == state.id)
                assert mine == list(range(1, state.count + 1))  # no skipped, no duplicate sequence number
                arms = Counter(r.arm for r in rows if r.state_id == state.id)
                in_progress = Counter(state.state["block"][: state.state["position"]])
                completed = arms - in_progress
                assert completed["active"] == completed["placebo"]  # every complete block exactly 1:1
        report = replay_trial(db, TRIAL)
        assert report.identical, str(report)
        assert report.allocations == expected
        audit = verify(db)
        assert audit.ok, str(audit)
    finally:
        db.dispose()


def load_through_4_processes(db_url: str, total: int, one_request: bool = False) -> None:
    """64 clients, 4 server processes on one database; then every integrity check."""
    prepare(db_url)
    server = ServerProcess(db_url, workers=4).start()
    try:
        token = api_token(server.base, "loader", PASSWORD)
        result = run_load(server.base, token, TRIAL, patients(total), clients=64, one_request=one_request)
        log = server.stderr()
    finally:
        server.stop()
    assert result.errors == [], (result.errors[:5], log[-3000:])
    assert len(result.acknowledged) == total
    check_integrity(db_url, result.acknowledged, total)


def test_rel_64_clients_randomize_5000_patients_in_20_strata_through_4_processes(db_url: str):
    load_through_4_processes(db_url, PATIENTS)


def test_rel_64_clients_enrol_and_randomize_in_one_request_through_4_processes(db_url: str):
    # The one-transaction path under the same concurrency: the same exactly-once, balance and audit checks.
    total = min(PATIENTS, 1000)
    load_through_4_processes(db_url, total, one_request=True)
    db = Database(db_url)
    try:
        with db.read() as s:  # one-request patients carry the request's key on both rows
            keys = s.execute(select(Patient.idempotency_key, Allocation.idempotency_key)
                             .join(Allocation, Allocation.patient_id == Patient.id)).all()
        assert len(keys) == total
        assert all(enrolment == allocation for enrolment, allocation in keys)
    finally:
        db.dispose()


def test_rel_kill_9_during_load_then_restart_keeps_every_acknowledged_allocation(db_url: str):
    prepare(db_url)
    total = 1200
    server = ServerProcess(db_url, workers=2).start()
    token = api_token(server.base, "loader", PASSWORD)
    stop = threading.Event()
    outcome: dict[str, object] = {}

    def load() -> None:
        outcome["result"] = run_load(server.base, token, TRIAL, patients(total), clients=16, stop=stop, timeout=10)

    thread = threading.Thread(target=load)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and thread.is_alive():
        done = _randomized(db_url)
        if done >= total // 3:
            break
        time.sleep(0.05)
    server.kill()  # SIGKILL to the supervisor and every worker, mid-load
    server.stop()
    stop.set()
    thread.join()
    first = outcome["result"]
    assert isinstance(first, LoadResult)
    assert first.acknowledged, "the kill came before any allocation was acknowledged"
    assert len(first.acknowledged) < total
    # Restart: the acknowledged allocations are all there exactly once, and the chain verifies.
    check_integrity(db_url, first.acknowledged, _randomized(db_url))
    server = ServerProcess(db_url, workers=2).start()
    try:
        # Clients retry what was in flight with the same idempotency key: never a second allocation.
        headers = {"Authorization": f"Bearer {token}"}
        for pid, key in first.pending:
            response = httpx.post(f"{server.base}/api/trials/{TRIAL}/patients/{pid}/randomize",
                                  headers={**headers, "Idempotency-Key": key}, timeout=30)
            assert response.status_code in (200, 201), response.text
    finally:
        server.stop()
    check_integrity(db_url, first.acknowledged, _randomized(db_url))


def _randomized(db_url: str) -> int:
    db = Database(db_url)
    try:
        with db.read() as s:
            return int(s.scalar(select(func.count()).select_from(Allocation)) or 0)
    finally:
        db.dispose()
