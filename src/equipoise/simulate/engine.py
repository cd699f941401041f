"""Run a simulation in chunks, locally or on a Dask cluster, with results that do not depend on either.

The trials are split into chunks of a fixed size (not one per worker), and chunk ``i`` draws its random
numbers from ``SeedSequence(seed).spawn(n_chunks)[i]`` (numpy's recommended way to give parallel streams
independent seeds; O'Neill 2014, PCG). Chunks are combined in chunk order, so the result is bit-identical
whether one process or a cluster of N workers computed them.

References
----------
O'Neill ME (2014). PCG: a family of simple fast space-efficient statistically good algorithms for random number
generation. Harvey Mudd College technical report HMC-CS-2014-0905.
NumPy documentation, "Parallel random number generation" (``SeedSequence.spawn``).
Rocklin M (2015). Dask: parallel computation with blocked algorithms and task scheduling. Proc. 14th Python in
Science Conference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from equipoise.errors import UserError

Records = dict[str, np.ndarray]
DEFAULT_CHUNK = 5000


class ChunkTask(Protocol):
    def __call__(self, n: int, seed: np.random.SeedSequence) -> Records: ...


class ProgressHook(Protocol):
    def __call__(self, done: int, total: int) -> None: ...


def chunk_sizes(n_trials: int, chunk_size: int = DEFAULT_CHUNK) -> list[int]:
    if n_trials < 1:
        raise UserError(f"the number of simulated trials must be at least 1, not {n_trials}")
    if chunk_size < 1:
        raise UserError(f"the chunk size must be at least 1, not {chunk_size}")
    full, rest = divmod(n_trials, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def concatenate(parts: list[Records]) -> Records:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _run_one(task: ChunkTask, n: int, seed: np.random.SeedSequence) -> Records:
    return task(n, seed)


def run_chunks(task: ChunkTask, n_trials: int, seed: int | None, *, chunk_size: int = DEFAULT_CHUNK,
               scheduler: str | Any | None = None, progress: ProgressHook | None = None) -> Records:
    """Per-trial records of ``n_trials`` trials, from ``task(n, seed_sequence)`` called once per chunk.

    ``scheduler`` is a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``; ``None``
    runs in this process. ``seed`` None draws fresh entropy (not reproducible).
    """
    sizes = chunk_sizes(n_trials, chunk_size)
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    if scheduler is None:
        parts = []
        done = 0
        for n, s in zip(sizes, seeds, strict=True):
            parts.append(task(n, s))
            done += n
            if progress is not None:
                progress(done, n_trials)
        return concatenate(parts)
    return _run_dask(task, sizes, seeds, scheduler, progress, n_trials)


def _run_dask(task: ChunkTask, sizes: list[int], seeds: list[np.random.SeedSequence], scheduler: str | Any,
              progress: ProgressHook | None, n_trials: int) -> Records:
    from distributed import Client, as_completed

    own_client = isinstance(scheduler, str)
    if own_client:
        try:
            client: Any = Client(scheduler, timeout="5s")  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise UserError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({exc})") from None
    else:
        client = scheduler
    try:
        futures = [client.submit(_run_one, task, n, s, pure=False) for n, s in zip(sizes, seeds, strict=True)]
        index = {f.key: i for i, f in enumerate(futures)}
        parts: list[Records | None] = [None] * len(futures)
        done = 0
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            i = index[future.key]
            parts[i] = future.result()
            done += sizes[i]
            if progress is not None:
                progress(done, n_trials)
        return concatenate([p for p in parts if p is not None])
    finally:
        if own_client:
            client.close()


def rng_for(seed: np.random.SeedSequence) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


Summariser = Callable[[Records], Any]
