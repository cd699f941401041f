"""The engine: reproducible from one seed, independent of chunking across workers, and the same on Dask."""

import numpy as np
import pytest

from equipoise.errors import UserError
from equipoise.simulate.endpoints import BinaryEndpoint, SurvivalEndpoint
from equipoise.simulate.engine import chunk_sizes, run_chunks
from equipoise.simulate.generators import PiecewiseExponential, exponential, piecewise_exponential
from equipoise.simulate.group_sequential import SequentialPlan, _GsTask, simulate_group_sequential
from equipoise.simulate.platform import simulate_platform

from .test_platform import ADAPTR


def test_chunk_sizes():
    assert chunk_sizes(10, 4) == [4, 4, 2]
    assert chunk_sizes(8, 4) == [4, 4]
    with pytest.raises(UserError):
        chunk_sizes(0)


def test_same_seed_same_records_and_progress_reported():
    task = _GsTask(BinaryEndpoint(0.3, 0.2, (100.0, 200.0), higher_is_better=False), SequentialPlan((2.8, 1.98)))
    seen = []
    a = run_chunks(task, 2500, 42, chunk_size=1000, progress=lambda done, total: seen.append((done, total)))
    b = run_chunks(task, 2500, 42, chunk_size=1000)
    assert seen == [(1000, 2500), (2000, 2500), (2500, 2500)]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c = run_chunks(task, 2500, 43, chunk_size=1000)
    assert not np.array_equal(a["z"], c["z"])


@pytest.mark.slow
def test_dask_cluster_gives_bit_identical_results():
    distributed = pytest.importorskip("distributed")
    plan = SequentialPlan((2.96, 1.97))
    survival = SurvivalEndpoint(exponential(0.06), 0.8, (60, 120), 240, 12.0)
    local_gs = simulate_group_sequential(survival, plan, n_trials=600, seed=5, chunk_size=200)
    local_platform = simulate_platform(ADAPTR, n_trials=60, seed=5, chunk_size=20)
    cluster_args = {"n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
    with distributed.LocalCluster(**cluster_args) as cluster, distributed.Client(cluster) as client:
        remote_gs = simulate_group_sequential(survival, plan, n_trials=600, seed=5, chunk_size=200, scheduler=client)
        address = cluster.scheduler_address
        remote_platform = simulate_platform(ADAPTR, n_trials=60, seed=5, chunk_size=20, scheduler=address)
    assert remote_gs.to_dict() == local_gs.to_dict()
    assert remote_platform.to_dict() == local_platform.to_dict()


def test_unreachable_scheduler_is_a_user_error():
    task = _GsTask(BinaryEndpoint(0.3, 0.3, (50.0,)), SequentialPlan((1.96,)))
    with pytest.raises(UserError, match="cannot connect"):
        run_chunks(task, 10, 1, scheduler="tcp://127.0.0.1:9")


def test_piecewise_exponential_generator():
    gen = piecewise_exponential([0.1, 0.3], [0.0, 2.0])
    t = gen.draw(np.random.default_rng(1), 200_000)
    # survival at 2: exp(-0.2); at 4: exp(-0.2 - 0.6)
    assert np.mean(t > 2) == pytest.approx(np.exp(-0.2), abs=0.004)
    assert np.mean(t > 4) == pytest.approx(np.exp(-0.8), abs=0.004)
    assert PiecewiseExponential.from_median(12).rates[0] == pytest.approx(np.log(2) / 12)
    with pytest.raises(UserError):
        piecewise_exponential([0.1], [1.0])
