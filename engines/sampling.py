"""Generation parameters, streamed steps, stop strings and token sampling (no model here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engines.errors import BadRequestError

MAX_NEW_TOKENS = 4096
MAX_STOP_STRINGS = 16


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def validate(self) -> GenerationParams:
        if not 1 <= self.max_tokens <= MAX_NEW_TOKENS:
            raise BadRequestError(
                f"max_tokens must be between 1 and {MAX_NEW_TOKENS}, got {self.max_tokens}"
            )
        if not 0.0 <= self.temperature <= 2.0:
            raise BadRequestError(f"temperature must be between 0 and 2, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise BadRequestError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise BadRequestError(f"top_k must be 0 (off) or positive, got {self.top_k}")
        if len(self.stop) > MAX_STOP_STRINGS or any(not s for s in self.stop):
            raise BadRequestError(f"at most {MAX_STOP_STRINGS} non-empty stop strings")
        if self.seed is not None and not 0 <= self.seed < 2**64:
            raise BadRequestError("seed must fit in an unsigned 64-bit integer")
        return self


@dataclass
class Step:
    """One streamed piece: new text, and the finish reason on the last step."""

    text: str
    finish_reason: str | None = None


@dataclass
class Stops:
    """Finds stop strings in the decoded text and tells how much is safe to emit."""

    stops: tuple[str, ...]
    longest: int = field(init=False)

    def __post_init__(self) -> None:
        self.longest = max((len(s) for s in self.stops), default=0)

    def find(self, text: str, start: int) -> int | None:
        hits = [i for s in self.stops if (i := text.find(s, max(0, start - self.longest))) >= 0]
        return min(hits) if hits else None

    def safe_end(self, text: str) -> int:
        """Length of the prefix that cannot turn into a stop string with more text."""
        for cut in range(min(self.longest - 1, len(text)), 0, -1):
            tail = text[-cut:]
            if any(s.startswith(tail) for s in self.stops):
                return len(text) - cut
        return len(text)


def sample(logits: Any, params: GenerationParams, generator: Any) -> int:
    import torch

    if params.temperature == 0.0:
        return int(torch.argmax(logits).item())
    logits = logits.float() / params.temperature
    if params.top_k > 0:
        kth = torch.topk(logits, min(params.top_k, logits.shape[-1])).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        drop = cumulative - torch.softmax(sorted_logits, dim=-1) > params.top_p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator).item())
