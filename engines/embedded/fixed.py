"""A fixed-token engine: the embedded Triton server, both dialects, streaming a set text as N
tokens with a set time to first token (TTFT) and inter-token interval (ITL), doing no model
work, so it takes (almost) no CPU.

What it is for: measuring everything of the stack but generation (rails, retrieval, sessions,
SSE, HTTP) against an engine whose timing is known and which leaves the cores to the rest
(``bench/chat.py --engine fixed``), and load-testing an API on a machine without a model.

Why it lives in ``engines/embedded`` and not in ``bench/``: Triton's Python-backend stub
imports the model from the installed ``engines`` package (``bench`` is not installed), and it
is an option of the embedded engine, not a copy of it. The server, its model repository, the
request parsing and validation, the decoupled response senders and cancellation are the
embedded engine's own (``server``, ``repository``, ``backend``); this module only supplies
what generates the text (``FixedTokens``, named by the models' ``generator`` parameter) and
the repository that names it (``EmbeddedTriton(models=...)``).

Tokens are the text's words (each with the white space before it), the text starting over
when N exceeds them. A request gets ``min(N, max_tokens)`` of them, cut before the first stop
string, token ``i`` (from 1) sent ``ttft + (i - 1) * itl`` after the engine took the request;
a non-streamed request gets the whole text when its last token is due.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.errors import BadRequestError, EngineError
from engines.sampling import GenerationParams, Step

if TYPE_CHECKING:
    from engines.embedded.server import EmbeddedTriton

DEFAULT_TEXT = (
    "This answer comes from the fixed-token engine of the benchmarks. It streams the same "
    "words at a set rate in place of a language model, so that what the rest of the pipeline "
    "costs can be measured on its own."
)
CANCEL_POLL_S = 0.05
"""A long wait for the next token checks this often whether the client cancelled."""

_WORD = re.compile(r"\s*\S+")


@dataclass(frozen=True)
class FixedTokens:
    """The fixed-token generator (the interface of ``engines.lm.CausalLM`` that the backend
    uses), and the repository and server that serve it."""

    tokens: int = 32
    ttft_ms: float = 50.0
    itl_ms: float = 10.0
    text: str = DEFAULT_TEXT
    max_batch: int = 64
    """The backend keeps twice as many sender threads: the streams it serves at once."""

    def __post_init__(self) -> None:
        if self.tokens < 1:
            raise EngineError(f"tokens must be >= 1, got {self.tokens}")
        if self.ttft_ms < 0 or self.itl_ms < 0:
            raise EngineError("ttft_ms and itl_ms must be >= 0")
        if not self.text.strip():
            raise EngineError("the fixed text is empty")
        if self.max_batch < 1:
            raise EngineError(f"max_batch must be >= 1, got {self.max_batch}")

    # ------------------------------------------------------------------ the plan (pure)

    def pieces(self) -> list[str]:
        """The N tokens: the text's words in order, starting over after the last."""
        words = _WORD.findall(self.text.strip())
        out: list[str] = []
        for i in range(self.tokens):
            word = words[i % len(words)]
            out.append(" " + word.lstrip() if i and i % len(words) == 0 else word)
        return out

    def plan(self, params: GenerationParams) -> list[Step]:
        """One step per token the request consumes; the last carries the finish reason. Steps
        of tokens inside a stop string carry no text (the text ends where the stop begins)."""
        pieces = self.pieces()[: params.max_tokens]
        joined = "".join(pieces)
        hits = [(i, s) for s in params.stop if (i := joined.find(s)) >= 0]
        if not hits:
            finish = "length" if params.max_tokens < self.tokens else "stop"
            steps = [Step(p) for p in pieces]
            steps[-1].finish_reason = finish
            return steps
        cut, stop = min(hits)
        steps, end = [], 0
        for piece in pieces:
            start, end = end, end + len(piece)
            steps.append(Step(joined[start : min(end, cut)] if start < cut else ""))
            if end >= cut + len(stop):  # the token that completes the stop string
                break
        steps[-1].finish_reason = "stop"
        return steps

    def seconds(self, token: int) -> float:
        """When token ``token`` (from 1) is due, after the engine took the request."""
        return (self.ttft_ms + (token - 1) * self.itl_ms) / 1000

    # ------------------------------------------------------------------ the generator

    def check_prompt(self, prompt: str) -> None:
        if not prompt.strip():
            raise BadRequestError("the prompt is empty")

    def generate(
        self, prompt: str, params: GenerationParams, cancelled: Callable[[], bool] = lambda: False
    ) -> Iterator[Step]:
        """The plan's steps, each when its token is due (against the clock from the start,
        so late wake-ups do not add up); ``cancelled`` is checked before each step."""
        start = time.monotonic()
        self.check_prompt(prompt)
        for token, step in enumerate(self.plan(params.validate()), start=1):
            if self._wait(start + self.seconds(token), cancelled):
                yield Step("", "cancelled")
                return
            if step.text or step.finish_reason:
                yield step

    @staticmethod
    def _wait(deadline: float, cancelled: Callable[[], bool]) -> bool:
        """Sleep until ``deadline``; True if the request was cancelled meanwhile."""
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, CANCEL_POLL_S))
            if left > CANCEL_POLL_S and cancelled():
                return True
        return cancelled()

    def close(self) -> None:
        return None

    # ------------------------------------------------------------------ serving it

    def parameters(self) -> dict[str, str]:
        """The models' config parameters (``load_generator`` in the backend reads them)."""
        return {
            "generator": "fixed",
            "tokens": str(self.tokens),
            "ttft_ms": repr(self.ttft_ms),
            "itl_ms": repr(self.itl_ms),
            "text": self.text,
            "max_batch": str(self.max_batch),
        }

    @classmethod
    def from_parameters(cls, parameters: dict[str, str]) -> FixedTokens:
        return cls(
            tokens=int(parameters["tokens"]),
            ttft_ms=float(parameters["ttft_ms"]),
            itl_ms=float(parameters["itl_ms"]),
            text=parameters["text"],
            max_batch=int(parameters["max_batch"]),
        )

    def write_repository(self, root: Path) -> Path:
        """Both dialects' models (the embedded engine's signatures) serving this generator."""
        from engines.embedded.repository import write_models

        return write_models(root, self.parameters())

    def server(self, **options: Any) -> EmbeddedTriton:
        """The embedded Triton server (not started) serving this generator; ``options``:
        ``EmbeddedTriton``'s keyword arguments (ports, ``log_file``, ``supervise``...)."""
        from engines.embedded.server import EmbeddedTriton

        return EmbeddedTriton(models=self.write_repository, **options)
