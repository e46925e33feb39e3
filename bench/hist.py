"""A log-bucket latency histogram in the spirit of HdrHistogram, mergeable across processes.

Values are integers (the bench records microseconds). Values below 2**BITS are counted
exactly; above, each power of two is split into 2**(BITS-1) equal buckets, so every recorded
value is known to within 1/64 (~1.6 %) with BITS=7. Recording is a bit_length, a shift and a
list increment: cheap enough for every delivered frame (~0.15 us). Two histograms merge by
adding counts, so client processes each keep their own and the parent adds them up.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

BITS = 7
_HALF = 1 << (BITS - 1)
_EXACT = 1 << BITS

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)


class HistData(msgspec.Struct, frozen=True):
    """The wire/JSON form of a histogram (sent from client processes to the parent)."""

    counts: list[int]
    total: int
    min: int
    max: int
    sum: int


def bucket_of(value: int) -> int:
    if value < _EXACT:
        return value if value > 0 else 0
    shift = value.bit_length() - BITS
    return (shift << (BITS - 1)) + (value >> shift)


def bucket_high(index: int) -> int:
    """The highest value that falls in bucket `index` (what percentiles report, as HDR does)."""
    if index < _EXACT:
        return index
    shift = index // _HALF - 1
    mantissa = index - shift * _HALF
    return ((mantissa + 1) << shift) - 1


class Histogram:
    __slots__ = ("counts", "max", "min", "sum", "total")

    def __init__(self) -> None:
        self.counts: list[int] = [0] * (_EXACT + 8 * _HALF)
        self.total = 0
        self.min = 0
        self.max = 0
        self.sum = 0

    def record(self, value: int) -> None:
        if value < 0:
            value = 0
        if value < _EXACT:
            index = value
        else:
            shift = value.bit_length() - BITS
            index = (shift << (BITS - 1)) + (value >> shift)
        counts = self.counts
        if index >= len(counts):
            counts.extend([0] * (index + 1 - len(counts)))
        counts[index] += 1
        if self.total == 0 or value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.total += 1
        self.sum += value

    def merge(self, other: Histogram | HistData) -> None:
        if other.total == 0:
            return
        counts = self.counts
        if len(other.counts) > len(counts):
            counts.extend([0] * (len(other.counts) - len(counts)))
        for i, c in enumerate(other.counts):
            if c:
                counts[i] += c
        self.min = other.min if self.total == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.total += other.total
        self.sum += other.sum

    def percentile(self, pct: float) -> int:
        """The value at or below which `pct` percent of the recorded values lie."""
        if self.total == 0:
            return 0
        if pct >= 100.0:
            return self.max
        rank = max(1, int(self.total * pct / 100.0 + 0.999999))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                return min(bucket_high(i), self.max)
        return self.max

    def mean(self) -> float:
        return self.sum / self.total if self.total else 0.0

    def data(self) -> HistData:
        last = len(self.counts)
        while last and not self.counts[last - 1]:
            last -= 1
        return HistData(self.counts[:last], self.total, self.min, self.max, self.sum)

    @classmethod
    def from_data(cls, data: HistData) -> Histogram:
        h = cls()
        h.merge(data)
        return h

    @classmethod
    def merged(cls, parts: Iterable[Histogram | HistData]) -> Histogram:
        h = cls()
        for part in parts:
            h.merge(part)
        return h

    def summary_ms(self) -> dict[str, float]:
        """p50/p90/p99/p99.9/max/mean in milliseconds (values are recorded in microseconds)."""
        out = {f"p{pct:g}": self.percentile(pct) / 1000.0 for pct in PERCENTILES}
        out["max"] = self.max / 1000.0
        out["mean"] = round(self.mean() / 1000.0, 3)
        out["count"] = float(self.total)
        return out
