"""The garbage collector while serving: how often it runs, and its pauses on /metrics.

Layer: infrastructure.

A collection pauses the event loop, so every socket of the node, for as long as it walks its
generation's tracked objects. CPython's defaults (700, 10, 10) collect the youngest generation
every 700 net allocations; every send allocates frames, Structs and records that die within its
loop turn, so these thresholds collect it every 7,000, the middle generation every 20 of those,
the oldest every 100 of those. What startup built (modules, routes, SQL, the hub's structures) is
frozen out of the collector's sight: it lives as long as the process.

Figures on /metrics (`messenger_gc_*`): the pause of each collection by generation (a histogram,
and the longest since start), the objects each generation freed (reference cycles: a rising
count means some path forms them), and the frozen objects.

The figures are kept in plain attributes by a `gc.callbacks` hook and read at scrape time. The
hook runs inside whichever allocation set off the collection, possibly while that thread holds
one of prometheus_client's locks, so it must take none.
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from .observability import REGISTRY

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

THRESHOLDS = (7000, 20, 100)
GENERATIONS = 3
# From a young collection's fraction of a millisecond to a full one's seconds (1.2-1.5 s were
# measured with 19,000 sockets: bench/README.md).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Figures(Collector):
    """Every collection's pause and yield, kept by `hook` and read by `collect` at scrape."""

    def __init__(self) -> None:
        self.started = 0.0
        # Per generation: collections per bucket (the last one: over the highest bound), the
        # sum and the longest of their pauses in seconds, and the objects they freed.
        self.counts = [[0] * (len(BUCKETS) + 1) for _ in range(GENERATIONS)]
        self.sums = [0.0] * GENERATIONS
        self.longest = [0.0] * GENERATIONS
        self.collected = [0] * GENERATIONS

    def hook(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        pause = time.perf_counter() - self.started
        generation: int = info["generation"]
        self.counts[generation][bisect_left(BUCKETS, pause)] += 1
        self.sums[generation] += pause
        if pause > self.longest[generation]:
            self.longest[generation] = pause
        self.collected[generation] += info["collected"]

    def collect(self) -> Iterable[Metric]:
        pauses = HistogramMetricFamily(
            "messenger_gc_pause_seconds", "Event-loop pause of each garbage collection", labels=["generation"]
        )
        longest = GaugeMetricFamily(
            "messenger_gc_pause_max_seconds", "Longest garbage collection pause since start", labels=["generation"]
        )
        collected = CounterMetricFamily(
            "messenger_gc_collected_objects",
            "Objects freed by the garbage collector (in reference cycles)",
            labels=["generation"],
        )
        for generation in range(GENERATIONS):
            label = [str(generation)]
            cumulative, buckets = 0, []
            for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.counts[generation], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            pauses.add_metric(label, buckets, self.sums[generation])
            longest.add_metric(label, self.longest[generation])
            collected.add_metric(label, self.collected[generation])
        yield pauses
        yield longest
        yield collected
        yield GaugeMetricFamily(
            "messenger_gc_frozen_objects", "Objects frozen out of the collector's sight", gc.get_freeze_count()
        )


def serve() -> Callable[[], None]:
    """Settle the collector for serving (after startup has built what lives as long as the
    process); returns what undoes it, for the end of the lifespan."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    figures = Figures()
    gc.callbacks.append(figures.hook)
    REGISTRY.register(figures)

    def undo() -> None:
        REGISTRY.unregister(figures)
        gc.callbacks.remove(figures.hook)
        gc.set_threshold(*thresholds)
        gc.unfreeze()

    return undo
