"""What the rails benchmarks share: the labelled data, confusion counts, latencies, tables."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "rails"
TURN = "**rails per answered turn (input + output call)**"


def read(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, truth: bool, predicted: bool) -> None:
        if truth and predicted:
            self.tp += 1
        elif truth:
            self.fn += 1
        elif predicted:
            self.fp += 1
        else:
            self.tn += 1

    def row(self, name: str) -> str:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        frr = self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0
        n = self.tp + self.fn
        return (
            f"| {name} | {n} | {self.fp + self.tn} | {precision:.3f} | {recall:.3f} | {frr:.3f} |"
        )


@dataclass
class Latency:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        self.samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return result

    async def timed_async(self, name: str, coro: Any) -> Any:
        start = time.perf_counter()
        result = await coro
        self.samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return result

    def rows(self) -> list[str]:
        out = []
        for name, values in self.samples.items():
            ordered = sorted(values)
            p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
            out.append(f"| {name} | {len(values)} | {statistics.median(values):.2f} | {p99:.2f} |")
        return out


def table(title: str, header: Sequence[str], rows: Sequence[str]) -> None:
    print(f"\n{title}\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print(row)
