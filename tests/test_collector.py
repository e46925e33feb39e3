"""The garbage collector's serving policy and its figures (messenger/collector.py)."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator

import httpx
import pytest

from messenger import collector
from messenger.collector import Figures


class _Node:
    """A reference cycle: two of these pointing at each other."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycles(n: int) -> None:
    for _ in range(n):
        a, b = _Node(), _Node()
        a.other, b.other = b, a


@pytest.fixture
def figures() -> Iterator[Figures]:
    figures = Figures()
    gc.callbacks.append(figures.hook)
    try:
        yield figures
    finally:
        gc.callbacks.remove(figures.hook)


def _samples(figures: Figures) -> dict[str, float]:
    return {
        f"{s.name}{{{','.join(f'{k}={v}' for k, v in sorted(s.labels.items()))}}}": s.value
        for metric in figures.collect()
        for s in metric.samples
    }


def test_a_full_collection_is_counted_with_its_pause_and_the_cycles_it_freed(figures: Figures) -> None:
    gc.collect()
    before = _samples(figures)
    _cycles(100)
    gc.collect()
    after = _samples(figures)
    key = "{generation=2}"
    assert after[f"messenger_gc_pause_seconds_count{key}"] == before[f"messenger_gc_pause_seconds_count{key}"] + 1
    assert after[f"messenger_gc_pause_seconds_sum{key}"] > before[f"messenger_gc_pause_seconds_sum{key}"]
    assert after[f"messenger_gc_pause_max_seconds{key}"] > 0
    # Each _Node and its __dict__: 200 nodes.
    freed = after[f"messenger_gc_collected_objects_total{key}"] - before[f"messenger_gc_collected_objects_total{key}"]
    assert freed >= 200


def test_pause_buckets_are_cumulative_and_end_with_the_count(figures: Figures) -> None:
    gc.collect(0)
    gc.collect()
    (histogram,) = [m for m in figures.collect() if m.name == "messenger_gc_pause_seconds"]
    for generation in ("0", "2"):
        samples = [s for s in histogram.samples if s.labels["generation"] == generation]
        buckets = [(float(s.labels["le"]), s.value) for s in samples if s.name.endswith("_bucket")]
        (count,) = [s.value for s in samples if s.name.endswith("_count")]
        values = [v for _, v in sorted(buckets)]
        assert values == sorted(values)
        assert values[-1] == count >= 1


def test_serving_freezes_what_startup_built_and_undo_restores_the_collector() -> None:
    thresholds = gc.get_threshold()
    undo = collector.serve()
    try:
        assert gc.get_threshold() == collector.THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        undo()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


async def test_the_server_publishes_its_collector_figures(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    frozen = re.search(r"^messenger_gc_frozen_objects (\S+)$", text, re.M)
    assert frozen is not None and float(frozen[1]) > 0
    for generation in "012":
        assert f'messenger_gc_pause_seconds_count{{generation="{generation}"}}' in text
        assert f'messenger_gc_collected_objects_total{{generation="{generation}"}}' in text
