"""Run the analysis on Dask distributed.

The client (``briefs process``) reads and decodes the inputs, sends each chunk of briefs as text
to a worker, and writes the part files and final tables itself, so workers need neither the input
files nor the output folder: only this package and the model directory at the same path (shared
storage, or the same checkout on every machine). Each worker builds the spaCy pipeline, actor index
and classifier once and keeps them for every later chunk.
"""

from __future__ import annotations

from typing import Callable, Iterable

_ANALYZERS: dict = {}


def _analyse_on_worker(settings, briefs):
    """Runs on a Dask worker: one Analyzer per worker process and settings."""
    from ..run import Analyzer

    analyzer = _ANALYZERS.get(settings)
    if analyzer is None:
        analyzer = _ANALYZERS[settings] = Analyzer(settings)
    return analyzer.analyse(briefs)


def run_dask(chunks: Iterable[list], settings, collect: Callable, *, scheduler: str | None = None,
             workers: int = 2, max_in_flight: int | None = None) -> dict:
    """Submit chunks as tasks (bounded in flight, so memory stays flat) and hand each result to
    ``collect(result, chunk)`` in completion order. Without ``scheduler`` a LocalCluster of
    ``workers`` single-threaded processes is started and closed."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
        limit = max_in_flight or 2 * n_workers
        pending = as_completed()
        by_future = {}
        for chunk in chunks:
            fut = client.submit(_analyse_on_worker, settings, chunk, pure=False)
            by_future[fut] = chunk
            pending.add(fut)
            while pending.count() >= limit:
                done = next(pending)
                collect(done.result(), by_future.pop(done))
        for done in pending:
            collect(done.result(), by_future.pop(done))
        return {"workers": n_workers, "scheduler": scheduler or "local"}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
