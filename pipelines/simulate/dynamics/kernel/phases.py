"""Wall and CPU seconds per named phase of a piece of work (model preparation records its
phases in `prep.json` so that a slow preparation says where its time went)."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager


def cpu_seconds() -> float:
    """CPU seconds of this process (all its threads) and of its finished children: on a
    shared machine wall seconds measure the load, CPU seconds the work."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class PhaseClock:
    """Accumulates wall and CPU seconds per phase name, in the order phases first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, dict[str, float]] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            entry = self.seconds.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0})
            entry["wall_s"] += time.perf_counter() - wall
            entry["cpu_s"] += cpu_seconds() - cpu

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in self.seconds.items()}
